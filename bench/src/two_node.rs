//! `twonode` (issue 12): the broadcast scenario (`--receivers` sockets, one of
//! them sending at `--rate-low`) on one node holding every socket, then with
//! the sockets split across two nodes that pass each broadcast to the other
//! through one redis-server; for sessio (a build with the redis feature, given
//! `--redis`) and for the Node reference (@socket.io/redis-adapter, started by
//! bench/node-redis.js). The nodes and redis-server share the server core, and
//! the CPU per delivery is theirs summed. Before the clients connect, it waits
//! (5 s at most) until both nodes subscribed to the request channel, and says
//! so when they did not.

use std::path::Path;
use std::process::Command;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::error::BenchError;
use crate::options::Options;
use crate::report::{Goal, Row};
use crate::scenario::{broadcast, Outcome, Target};
use crate::server::{Kind, NodeRedis, Server};
use crate::suite::{log_in, record, record_failed, Results, CONNECT_TIMEOUT, START_SETTLE};

/// A node of `server` ("sessio" or "node"), on the Redis at the URL if given;
/// Err says why this server cannot run the scenario.
pub fn node_kind(o: &Options, server: &str, redis: Option<String>) -> Result<Kind, String> {
    match server {
        "sessio" => {
            let bin = o
                .sessio_redis
                .clone()
                .ok_or("no --sessio-redis (a build with --features redis): sessio not measured")?;
            Ok(Kind::Sessio {
                bin,
                threads: 1,
                wrap: Vec::new(),
                redis,
                args: Vec::new(),
                env: Vec::new(),
            })
        }
        _ => {
            let dir = o.node_dir.clone().ok_or("no --node-dir")?;
            let redis = match redis {
                None => None,
                Some(url) => Some(NodeRedis {
                    url,
                    modules: o.node_redis_modules.clone().ok_or(
                        "no --node-redis-modules (tests/node_modules, with @socket.io/redis-adapter): Node's two nodes not measured",
                    )?,
                }),
            };
            Ok(Kind::Node { dir, redis })
        }
    }
}

/// The channel every server of the cluster subscribes to for the main
/// namespace's requests (both adapters; Node counts servers with NUMSUB on it).
const REQUEST_CHANNEL: &str = "socket.io-request#/#";
/// How long the nodes may take to subscribe to it.
const CLUSTER_TIMEOUT: Duration = Duration::from_secs(5);

/// Subscribers of the request channel, asked with redis-cli.
fn subscribers(redis: &Server) -> Result<u64, String> {
    let (host, port) = redis.addr.rsplit_once(':').ok_or("bad address")?;
    let out = Command::new("redis-cli")
        .args(["-h", host, "-p", port, "PUBSUB", "NUMSUB", REQUEST_CHANNEL])
        .output()
        .map_err(|e| format!("redis-cli: {e}"))?;
    // Non-interactive output: the channel, then its count, one a line.
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .last()
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| format!("redis-cli: unexpected answer {text:?}"))
}

/// Waits until `want` servers subscribe to the request channel; if they do
/// not in time, says how many did (the run goes on, and counts what is lost).
pub fn wait_for_cluster(redis: &Server, want: u64) -> Option<String> {
    let deadline = Instant::now() + CLUSTER_TIMEOUT;
    loop {
        match subscribers(redis) {
            Ok(n) if n >= want => return None,
            Ok(n) if Instant::now() >= deadline => {
                return Some(format!(
                    "only {n} of {want} nodes subscribed to {REQUEST_CHANNEL} after {} s: the cluster did not form",
                    CLUSTER_TIMEOUT.as_secs()
                ))
            }
            Err(e) => return Some(format!("cannot check that the cluster formed: {e}")),
            Ok(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Starts `nodes` (each logged in to with `--sessions` users) and runs the
/// broadcast across them, counting `broker`'s CPU too; stops them.
fn measure(
    o: &Options,
    nodes: &[Kind],
    broker: Option<&Server>,
    logs: &str,
    out: &Path,
) -> Result<Outcome, BenchError> {
    let mut started: Vec<Server> = Vec::new();
    let result = (|| {
        for (i, kind) in nodes.iter().enumerate() {
            let log = out.join(format!("{logs}-node{}.log", i + 1));
            started.push(Server::start(kind, Some(o.server_core), &log)?);
        }
        std::thread::sleep(START_SETTLE);
        let formed = broker.and_then(|redis| wait_for_cluster(redis, nodes.len() as u64));
        let targets = started
            .iter()
            .map(|s| {
                Ok(Rc::new(Target {
                    addr: s.addr.clone(),
                    pid: s.pid,
                    cookies: log_in(&s.addr, o.sessions)?,
                    bare: false,
                    connect_timeout: CONNECT_TIMEOUT,
                    sources: Vec::new(),
                }))
            })
            .collect::<Result<Vec<_>, BenchError>>()?;
        let mut outcome = broadcast::run(
            targets,
            &broadcast::Params {
                receivers: o.receivers,
                rate: o.rate_low,
                duration: o.broadcast_secs,
                drain: o.drain,
                broker_pids: broker.map(|b| b.pid).into_iter().collect(),
                server_pids: None,
            },
        )?;
        outcome.notes.extend(formed);
        Ok(outcome)
    })();
    started.into_iter().for_each(Server::stop);
    result
}

/// Two nodes of `server` on a fresh redis-server.
fn measure_two(o: &Options, server: &str, out: &Path) -> Result<Outcome, BenchError> {
    let redis = Server::start(
        &Kind::Redis {
            bin: o.redis_server.clone(),
        },
        Some(o.server_core),
        &out.join(format!("{server}-two_nodes-redis.log")),
    )
    .map_err(|e| BenchError::Server(format!("redis-server ({}): {e}", o.redis_server.display())))?;
    let result = node_kind(o, server, Some(redis.redis_url()))
        .map_err(BenchError::Server)
        .and_then(|kind| {
            let logs = format!("{server}-two_nodes");
            measure(o, &[kind.clone(), kind], Some(&redis), &logs, out)
        });
    redis.stop();
    result
}

/// One node, then two, of `server`; their figures under `one_node.*` and
/// `two_nodes.*`, and the two's ratios to the one.
pub fn run(o: &Options, server: &str, out: &Path, results: &mut Results) {
    let (n, rate) = (o.receivers, o.rate_low);
    let one = match node_kind(o, server, None) {
        Ok(kind) => kind,
        Err(why) => {
            results.notes.push(format!("twonode: {server}: {why}"));
            return;
        }
    };
    let runs: [(&str, String); 2] = [
        ("one_node", format!("broadcast {n} @ {rate}/s, one node")),
        (
            "two_nodes",
            format!("broadcast {n} @ {rate}/s, two nodes + redis-server"),
        ),
    ];
    for (id, label) in runs {
        eprintln!("[bench] {server}: {label}");
        let outcome = if id == "one_node" {
            let logs = format!("{server}-one_node");
            measure(o, std::slice::from_ref(&one), None, &logs, out)
        } else {
            measure_two(o, server, out)
        };
        match outcome {
            Ok(outcome) => record(results, server, id, label, outcome),
            Err(e) => record_failed(results, server, &label, &e),
        }
    }
    let f = results.figures_of(server);
    for (figure, ratio) in [
        ("cpu_per_delivery_us", "cpu_ratio"),
        ("bc_p99_ms", "p99_ratio"),
    ] {
        let one = f.get(&format!("one_node.{figure}")).copied();
        let two = f.get(&format!("two_nodes.{figure}")).copied();
        if let (Some(one), Some(two)) = (one, two) {
            if one > 0.0 {
                f.insert(format!("two_nodes.{ratio}"), two / one);
            }
        }
    }
}

/// The rows of the main table.
pub fn rows(o: &Options) -> Vec<Row> {
    let (n, rate) = (o.receivers, o.rate_low);
    let one = format!("one node, {n} @ {rate}/s");
    let two = format!("two nodes + Redis, {n} @ {rate}/s");
    vec![
        Row::new(
            format!("{one}: delivery p50 (ms)"),
            "one_node.bc_p50_ms",
            Goal::None,
        ),
        Row::new(
            format!("{one}: delivery p99 (ms)"),
            "one_node.bc_p99_ms",
            Goal::None,
        ),
        Row::new(format!("{one}: lost messages"), "one_node.lost", Goal::Zero),
        Row::new(
            format!("{one}: server CPU per delivery (µs)"),
            "one_node.cpu_per_delivery_us",
            Goal::None,
        ),
        Row::new(
            format!("{two}: delivery p50 (ms)"),
            "two_nodes.bc_p50_ms",
            Goal::None,
        ),
        Row::new(
            format!("{two}: delivery p99 (ms)"),
            "two_nodes.bc_p99_ms",
            Goal::None,
        ),
        Row::new(
            format!("{two}: lost messages"),
            "two_nodes.lost",
            Goal::Zero,
        ),
        Row::new(
            format!("{two}: of which on the node without the sender"),
            "two_nodes.lost_remote",
            Goal::Zero,
        ),
        Row::new(
            format!("{two}: deliveries duplicated"),
            "two_nodes.duplicates",
            Goal::Zero,
        ),
        Row::new(
            format!("{two}: CPU per delivery, both nodes + redis-server (µs)"),
            "two_nodes.cpu_per_delivery_us",
            Goal::None,
        ),
        Row::new(
            format!("{two}: of which redis-server (µs)"),
            "two_nodes.broker_cpu_per_delivery_us",
            Goal::None,
        ),
        Row::new(
            "two nodes ÷ one node: CPU per delivery",
            "two_nodes.cpu_ratio",
            Goal::None,
        ),
        Row::new(
            "two nodes ÷ one node: delivery p99",
            "two_nodes.p99_ratio",
            Goal::None,
        ),
    ]
}
