//! Command-line options of the suite, with full and `--quick` defaults.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::BenchError;

pub const USAGE: &str = "\
sessio-bench: load generator for sessio, the floor and the Node reference (Engine.IO 4 /
Socket.IO 5 over WebSocket; a plain WebSocket for the floor)

usage: sessio-bench --sessio PATH [--floor PATH] [--node-dir DIR] [options]

  --sessio PATH        the sessio binary to start (bench/run: the static musl build);
                       it runs twice: as it is (`sessio`) and with --recovery-window 0 (`rw0`)
  --sessio-alt PATH    another sessio build (another allocator, main's, a change's) run
                       on every scenario beside it (`alt`)
  --alt-label TEXT     the alt build's column header [sessio alt]
  --alt-env \"K=V ...\"  environment variables for the alt build (an allocator's options)
  --floor PATH         the floor: bench/floor's bare WebSocket echo and broadcast server
  --node-dir DIR       a folder with the Node reference's server.js and node_modules
  --sessio-redis PATH  a sessio build with the redis feature, for twonode and forward
  --node-redis-modules DIR  a node_modules folder with @socket.io/redis-adapter and
                       redis (tests/node_modules), for Node's twonode; --node-dir
                       must also hold bench/node-redis.js
  --redis-server PATH  the redis-server twonode, nginx3 and forward start [redis-server]
  --nginx PATH         the nginx nginx3 starts in front of three nodes [nginx, else /usr/sbin/nginx]
  --servers LIST       which columns to run: sessio,rw0,alt,floor,node [all that are given]
  --only LIST          scenarios: idle,connect,echo,count,broadcast,twonode,nginx3,forward,
                       threads [all]; soak
                       (minutes long) runs only when named here
  --quick              a smoke run of one to two minutes (smaller N, shorter windows)
  --out DIR            where logs, results.json and table.md go [bench/results/<time>]
  --idle N,M           idle connection counts [2000,10000]
  --hold SECS          how long idle connections are held while measured [5]
  --connect N          connections in the connect scenario [20000]
  --rounds R           connect and echo run R times, each server in turn in each
                       round; their figures are the median round's (one window of
                       this machine's loopback can cost twice another's) [3]
  --in-flight K        handshakes in flight in connect and idle [50]
  --echo-clients C     clients in the echo and count loops [50]
  --echo-secs SECS     echo and count window [10]
  --receivers N        sockets in the broadcast scenarios [1000]
  --rate-low R         broadcast messages/s below capacity [25]
  --rate-high R        broadcast messages/s above capacity [100]
  --broadcast-secs S   broadcast send window [10]
  --forward-rounds N   polling round trips of forward, on each path [2000]
  --drain SECS         how long to wait for late deliveries [10]
  --soak-clients N     clients per soak wave [1000]
  --soak-waves W       soak waves [6]
  --soak-chat-secs S   how long each soak wave chats once connected [20]
  --sessions S         distinct logged-in sessions the connections share [8]
  --server-core C      CPU the server is pinned to [0]
  --loadgen-core C     CPU the load generator is pinned to [1]
  --wrap \"CMD ARGS\"   run sessio and the floor under this command, e.g. \"valgrind --tool=massif\"
  --window-cmd \"CMD ARGS\"  run `CMD ARGS start PID` as the connect and echo windows open
                       and `CMD ARGS stop PID SCENARIO COUNT` as they close (COUNT:
                       connections or acks); bench/callgrind counts instructions with it
  --noisy CORES        flag a window where everything else used more than this [0.15]
";

/// The servers a run can compare, in the table's order: sessio, sessio with
/// `--recovery-window 0`, another sessio build, the floor, Node.
pub const SERVERS: [&str; 5] = ["sessio", "rw0", "alt", "floor", "node"];

#[derive(Clone)]
pub struct Options {
    pub sessio: Option<PathBuf>,
    /// Another sessio build, run on every scenario beside `sessio`.
    pub sessio_alt: Option<PathBuf>,
    pub alt_label: String,
    pub alt_env: Vec<(String, String)>,
    /// The floor (bench/floor).
    pub floor: Option<PathBuf>,
    pub node_dir: Option<PathBuf>,
    /// A sessio build with the redis feature (the two-node scenario).
    pub sessio_redis: Option<PathBuf>,
    /// node_modules with @socket.io/redis-adapter and redis (Node's two nodes).
    pub node_redis_modules: Option<PathBuf>,
    pub redis_server: PathBuf,
    pub nginx: PathBuf,
    pub servers: Vec<String>,
    pub only: Vec<String>,
    pub quick: bool,
    pub out: Option<PathBuf>,
    pub idle: Vec<usize>,
    pub hold: Duration,
    pub connect: usize,
    /// Rounds of the connect and echo scenarios; their figures are the medians.
    pub rounds: usize,
    pub in_flight: usize,
    pub echo_clients: usize,
    pub echo_secs: Duration,
    pub receivers: usize,
    pub rate_low: f64,
    pub rate_high: f64,
    pub broadcast_secs: Duration,
    /// Polling round trips of the forward scenario, half direct, half forwarded.
    pub forward_rounds: usize,
    pub drain: Duration,
    pub soak_clients: usize,
    pub soak_waves: usize,
    pub soak_chat_secs: Duration,
    pub sessions: usize,
    pub server_core: usize,
    pub loadgen_core: usize,
    pub noisy: f64,
    /// A command (and its arguments) to run sessio and the floor under.
    pub wrap: Vec<String>,
    /// A command told when the connect and echo windows open and close.
    pub window_cmd: Vec<String>,
}

/// `nginx` when it is on the PATH, else Debian's /usr/sbin/nginx (not on a
/// user's PATH).
fn default_nginx() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join("nginx").is_file()));
    if on_path {
        "nginx".into()
    } else {
        "/usr/sbin/nginx".into()
    }
}

impl Options {
    fn defaults(quick: bool) -> Self {
        let secs = Duration::from_secs;
        Options {
            sessio: None,
            sessio_alt: None,
            alt_label: "sessio alt".into(),
            alt_env: Vec::new(),
            floor: None,
            node_dir: None,
            sessio_redis: None,
            node_redis_modules: None,
            redis_server: "redis-server".into(),
            nginx: default_nginx(),
            servers: ["sessio", "rw0", "alt", "floor", "node"]
                .map(String::from)
                .to_vec(),
            only: [
                "idle",
                "connect",
                "echo",
                "count",
                "broadcast",
                "twonode",
                "nginx3",
                "forward",
                "threads",
            ]
            .map(String::from)
            .to_vec(),
            quick,
            out: None,
            idle: if quick {
                vec![500, 2000]
            } else {
                vec![2000, 10_000]
            },
            hold: secs(if quick { 2 } else { 5 }),
            connect: if quick { 500 } else { 20_000 },
            rounds: if quick { 1 } else { 3 },
            in_flight: 50,
            echo_clients: if quick { 20 } else { 50 },
            echo_secs: secs(if quick { 3 } else { 10 }),
            receivers: 1000,
            rate_low: 25.0,
            rate_high: 100.0,
            broadcast_secs: secs(if quick { 3 } else { 10 }),
            forward_rounds: if quick { 400 } else { 2000 },
            drain: secs(if quick { 5 } else { 10 }),
            soak_clients: 1000,
            soak_waves: 6,
            soak_chat_secs: secs(20),
            sessions: 8,
            server_core: 0,
            loadgen_core: 1,
            noisy: 0.15,
            wrap: Vec::new(),
            window_cmd: Vec::new(),
        }
    }

    pub fn parse(args: &[String]) -> Result<Self, BenchError> {
        let mut o = Self::defaults(args.iter().any(|a| a == "--quick"));
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            if flag == "--quick" {
                continue;
            }
            if flag == "--help" || flag == "-h" {
                return Err(BenchError::Usage(USAGE.into()));
            }
            let value = it
                .next()
                .ok_or_else(|| BenchError::Usage(format!("{flag} needs a value")))?;
            let bad = || BenchError::Usage(format!("{flag}: bad value {value:?}"));
            let count = || value.parse::<usize>().map_err(|_| bad());
            let real = || {
                value
                    .parse::<f64>()
                    .ok()
                    .filter(|v| *v > 0.0)
                    .ok_or_else(bad)
            };
            let secs = || real().map(Duration::from_secs_f64);
            let list = || value.split(',').map(str::to_owned).collect::<Vec<_>>();
            match flag.as_str() {
                "--sessio" => o.sessio = Some(value.into()),
                "--sessio-alt" => o.sessio_alt = Some(value.into()),
                "--alt-label" => o.alt_label = value.clone(),
                "--alt-env" => {
                    o.alt_env = value
                        .split_whitespace()
                        .map(|kv| {
                            kv.split_once('=')
                                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        })
                        .collect::<Option<_>>()
                        .ok_or_else(bad)?
                }
                "--floor" => o.floor = Some(value.into()),
                "--node-dir" => o.node_dir = Some(value.into()),
                "--sessio-redis" => o.sessio_redis = Some(value.into()),
                "--node-redis-modules" => o.node_redis_modules = Some(value.into()),
                "--redis-server" => o.redis_server = value.into(),
                "--nginx" => o.nginx = value.into(),
                "--servers" => o.servers = list(),
                "--only" => o.only = list(),
                "--out" => o.out = Some(value.into()),
                "--idle" => {
                    o.idle = value
                        .split(',')
                        .map(|v| v.parse().map_err(|_| bad()))
                        .collect::<Result<_, _>>()?
                }
                "--hold" => o.hold = secs()?,
                "--connect" => o.connect = count()?,
                "--rounds" => o.rounds = count()?.max(1),
                "--in-flight" => o.in_flight = count()?.max(1),
                "--echo-clients" => o.echo_clients = count()?.max(1),
                "--echo-secs" => o.echo_secs = secs()?,
                "--receivers" => o.receivers = count()?.max(1),
                "--rate-low" => o.rate_low = real()?,
                "--rate-high" => o.rate_high = real()?,
                "--broadcast-secs" => o.broadcast_secs = secs()?,
                "--forward-rounds" => o.forward_rounds = count()?,
                "--drain" => o.drain = secs()?,
                "--soak-clients" => o.soak_clients = count()?.max(1),
                "--soak-waves" => o.soak_waves = count()?.max(1),
                "--soak-chat-secs" => o.soak_chat_secs = secs()?,
                "--sessions" => o.sessions = count()?.max(1),
                "--server-core" => o.server_core = count()?,
                "--loadgen-core" => o.loadgen_core = count()?,
                "--noisy" => o.noisy = real()?,
                "--wrap" => o.wrap = value.split_whitespace().map(str::to_owned).collect(),
                "--window-cmd" => {
                    o.window_cmd = value.split_whitespace().map(str::to_owned).collect()
                }
                _ => {
                    return Err(BenchError::Usage(format!(
                        "unknown option {flag}\n\n{USAGE}"
                    )))
                }
            }
        }
        if let Some(bad) = o.servers.iter().find(|s| !SERVERS.contains(&s.as_str())) {
            return Err(BenchError::Usage(format!(
                "--servers: unknown {bad:?} (known: {})",
                SERVERS.join(",")
            )));
        }
        let given = |s: &str| match s {
            // sessio's own column also stands for its redis build (twonode).
            "sessio" => o.sessio.is_some() || o.sessio_redis.is_some(),
            "rw0" => o.sessio.is_some(),
            "alt" => o.sessio_alt.is_some(),
            "floor" => o.floor.is_some(),
            _ => o.node_dir.is_some(),
        };
        let servers = std::mem::take(&mut o.servers);
        o.servers = servers.into_iter().filter(|s| given(s)).collect();
        if o.servers.is_empty() {
            return Err(BenchError::Usage(format!(
                "no server to run: give --sessio (or --sessio-redis), --floor and/or --node-dir\n\n{USAGE}"
            )));
        }
        Ok(o)
    }

    pub fn wants(&self, scenario: &str) -> bool {
        self.only.iter().any(|s| s == scenario)
    }

    pub fn runs(&self, server: &str) -> bool {
        self.servers.iter().any(|s| s == server)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn quick_changes_defaults_and_flags_win() {
        let o = Options::parse(&args(&["--sessio", "x", "--quick", "--idle", "10,20"])).unwrap();
        assert!(o.quick);
        assert_eq!(o.idle, [10, 20]);
        assert_eq!(o.servers, ["sessio", "rw0"]);
        assert_eq!(o.echo_secs, Duration::from_secs(3));
    }

    #[test]
    fn a_redis_build_alone_is_a_sessio_to_run() {
        let o = Options::parse(&args(&["--sessio-redis", "r", "--only", "twonode"])).unwrap();
        assert_eq!(o.servers, ["sessio"]);
        assert!(o.sessio.is_none());
        assert_eq!(o.redis_server, Path::new("redis-server"));
        assert!(Options::defaults(false).wants("twonode"));
    }

    #[test]
    fn bad_values_are_errors() {
        assert!(Options::parse(&args(&["--sessio", "x", "--rate-low", "-1"])).is_err());
        assert!(Options::parse(&args(&["--sessio", "x", "--bogus", "1"])).is_err());
        assert!(Options::parse(&args(&[])).is_err());
        assert!(Options::parse(&args(&["--sessio", "x", "--servers", "sessio,bogus"])).is_err());
    }

    #[test]
    fn columns_are_those_given() {
        let o = Options::parse(&args(&[
            "--sessio",
            "s",
            "--floor",
            "f",
            "--sessio-alt",
            "a",
        ]))
        .unwrap();
        assert_eq!(o.servers, ["sessio", "rw0", "alt", "floor"]);
        let o = Options::parse(&args(&[
            "--sessio",
            "s",
            "--floor",
            "f",
            "--servers",
            "floor",
        ]))
        .unwrap();
        assert_eq!(o.servers, ["floor"]);
        let o = Options::parse(&args(&["--sessio", "s", "--alt-env", "A=1 B=x=y"])).unwrap();
        assert_eq!(
            o.alt_env,
            [("A".into(), "1".into()), ("B".into(), "x=y".into())]
        );
        assert!(Options::parse(&args(&["--sessio", "s", "--alt-env", "A"])).is_err());
    }
}
