//! Command-line options of the suite, with full and `--quick` defaults.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::BenchError;

pub const USAGE: &str = "\
sessio-bench: load generator for sessio and the Node reference (Engine.IO 4 / Socket.IO 5 over WebSocket)

usage: sessio-bench --sessio PATH [--node-dir DIR] [options]

  --sessio PATH        the sessio binary to start (release build)
  --sessio-static PATH a static build of sessio (as on boards): its RSS at start gets a row
  --sessio-baseline PATH another sessio build (say main's): the count scenario runs on it too
  --node-dir DIR       a folder with the Node reference's server.js and node_modules
  --sessio-redis PATH  a sessio build with the redis feature, for twonode
  --node-redis-modules DIR  a node_modules folder with @socket.io/redis-adapter and
                       redis (tests/node_modules), for Node's twonode; --node-dir
                       must also hold bench/node-redis.js
  --redis-server PATH  the redis-server twonode starts [redis-server]
  --servers LIST       which servers to run: sessio,node [both that are given]
  --only LIST          scenarios: idle,connect,echo,count,broadcast,twonode,threads [all]; soak
                       (minutes long) runs only when named here
  --quick              a smoke run of one to two minutes (smaller N, shorter windows)
  --out DIR            where logs, results.json and table.md go [bench/results/<time>]
  --idle N,M           idle connection counts [2000,10000]
  --hold SECS          how long idle connections are held while measured [5]
  --connect N          connections in the connect scenario [3000]
  --in-flight K        handshakes in flight in connect and idle [50]
  --echo-clients C     clients in the echo and count loops [50]
  --echo-secs SECS     echo and count window [10]
  --receivers N        sockets in the broadcast scenarios [1000]
  --rate-low R         broadcast messages/s below capacity [25]
  --rate-high R        broadcast messages/s above capacity [100]
  --broadcast-secs S   broadcast send window [10]
  --drain SECS         how long to wait for late deliveries [10]
  --soak-clients N     clients per soak wave [1000]
  --soak-waves W       soak waves [6]
  --soak-chat-secs S   how long each soak wave chats once connected [20]
  --sessions S         distinct logged-in sessions the connections share [8]
  --server-core C      CPU the server is pinned to [0]
  --loadgen-core C     CPU the load generator is pinned to [1]
  --wrap \"CMD ARGS\"   run sessio under this command, e.g. \"valgrind --tool=massif\"
  --noisy CORES        flag a window where everything else used more than this [0.15]
";

#[derive(Clone)]
pub struct Options {
    pub sessio: Option<PathBuf>,
    /// A static build whose RSS at start is measured too.
    pub sessio_static: Option<PathBuf>,
    /// Another sessio build the count scenario also runs on.
    pub sessio_baseline: Option<PathBuf>,
    pub node_dir: Option<PathBuf>,
    /// A sessio build with the redis feature (the two-node scenario).
    pub sessio_redis: Option<PathBuf>,
    /// node_modules with @socket.io/redis-adapter and redis (Node's two nodes).
    pub node_redis_modules: Option<PathBuf>,
    pub redis_server: PathBuf,
    pub servers: Vec<String>,
    pub only: Vec<String>,
    pub quick: bool,
    pub out: Option<PathBuf>,
    pub idle: Vec<usize>,
    pub hold: Duration,
    pub connect: usize,
    pub in_flight: usize,
    pub echo_clients: usize,
    pub echo_secs: Duration,
    pub receivers: usize,
    pub rate_low: f64,
    pub rate_high: f64,
    pub broadcast_secs: Duration,
    pub drain: Duration,
    pub soak_clients: usize,
    pub soak_waves: usize,
    pub soak_chat_secs: Duration,
    pub sessions: usize,
    pub server_core: usize,
    pub loadgen_core: usize,
    pub noisy: f64,
    /// A command (and its arguments) to run sessio under.
    pub wrap: Vec<String>,
}

impl Options {
    fn defaults(quick: bool) -> Self {
        let secs = Duration::from_secs;
        Options {
            sessio: None,
            sessio_static: None,
            sessio_baseline: None,
            node_dir: None,
            sessio_redis: None,
            node_redis_modules: None,
            redis_server: "redis-server".into(),
            servers: vec!["sessio".into(), "node".into()],
            only: [
                "idle",
                "connect",
                "echo",
                "count",
                "broadcast",
                "twonode",
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
            connect: if quick { 500 } else { 3000 },
            in_flight: 50,
            echo_clients: if quick { 20 } else { 50 },
            echo_secs: secs(if quick { 3 } else { 10 }),
            receivers: 1000,
            rate_low: 25.0,
            rate_high: 100.0,
            broadcast_secs: secs(if quick { 3 } else { 10 }),
            drain: secs(if quick { 5 } else { 10 }),
            soak_clients: 1000,
            soak_waves: 6,
            soak_chat_secs: secs(20),
            sessions: 8,
            server_core: 0,
            loadgen_core: 1,
            noisy: 0.15,
            wrap: Vec::new(),
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
                "--sessio-static" => o.sessio_static = Some(value.into()),
                "--sessio-baseline" => o.sessio_baseline = Some(value.into()),
                "--node-dir" => o.node_dir = Some(value.into()),
                "--sessio-redis" => o.sessio_redis = Some(value.into()),
                "--node-redis-modules" => o.node_redis_modules = Some(value.into()),
                "--redis-server" => o.redis_server = value.into(),
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
                "--in-flight" => o.in_flight = count()?.max(1),
                "--echo-clients" => o.echo_clients = count()?.max(1),
                "--echo-secs" => o.echo_secs = secs()?,
                "--receivers" => o.receivers = count()?.max(1),
                "--rate-low" => o.rate_low = real()?,
                "--rate-high" => o.rate_high = real()?,
                "--broadcast-secs" => o.broadcast_secs = secs()?,
                "--drain" => o.drain = secs()?,
                "--soak-clients" => o.soak_clients = count()?.max(1),
                "--soak-waves" => o.soak_waves = count()?.max(1),
                "--soak-chat-secs" => o.soak_chat_secs = secs()?,
                "--sessions" => o.sessions = count()?.max(1),
                "--server-core" => o.server_core = count()?,
                "--loadgen-core" => o.loadgen_core = count()?,
                "--noisy" => o.noisy = real()?,
                "--wrap" => o.wrap = value.split_whitespace().map(str::to_owned).collect(),
                _ => {
                    return Err(BenchError::Usage(format!(
                        "unknown option {flag}\n\n{USAGE}"
                    )))
                }
            }
        }
        if o.servers.iter().any(|s| s == "sessio") && o.sessio.is_none() && o.sessio_redis.is_none()
        {
            o.servers.retain(|s| s != "sessio");
        }
        if o.servers.iter().any(|s| s == "node") && o.node_dir.is_none() {
            o.servers.retain(|s| s != "node");
        }
        if o.servers.is_empty() {
            return Err(BenchError::Usage(format!(
                "no server to run: give --sessio (or --sessio-redis) and/or --node-dir\n\n{USAGE}"
            )));
        }
        Ok(o)
    }

    pub fn wants(&self, scenario: &str) -> bool {
        self.only.iter().any(|s| s == scenario)
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
        assert_eq!(o.servers, ["sessio"]);
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
    }
}
