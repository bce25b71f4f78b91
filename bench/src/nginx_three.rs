//! `nginx3` (issue 22): three nodes on one redis-server behind nginx, the
//! broadcast scenario (`--receivers` sockets, one sending at `--rate-low`)
//! through the balancer. sessio's nodes keep sessions and accounts in Redis
//! and sit behind plain round robin (any node answers any request); the Node
//! reference's (its own in-memory sessions, @socket.io/redis-adapter) sit
//! behind `ip_hash`, the affinity it needs. The load generator's clients come
//! from `SESSIONS` source addresses, one /24 each (nginx's `ip_hash` key), so
//! that the hash spreads them; each session logs in, and its sockets connect,
//! from its own. The nodes, redis-server and nginx share the server core, and
//! the CPU per delivery is theirs summed; redis-server's and nginx's share is
//! given apart, and how many sockets each node held.

use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::BenchError;
use crate::net::client_source;
use crate::options::Options;
use crate::report::{Goal, Row};
use crate::scenario::{broadcast, Outcome, Target};
use crate::server::{Kind, Server};
use crate::suite::{log_in_from, record, record_failed, Results, CONNECT_TIMEOUT, START_SETTLE};
use crate::two_node::{node_kind, wait_for_cluster};

/// The nodes behind the balancer.
const NODES: usize = 3;
/// The figure of each node's sockets.
const NODE_KEYS: [&str; NODES] = ["node1_sockets", "node2_sockets", "node3_sockets"];
/// Logged-in sessions, each from a source address of its own.
const SESSIONS: usize = 30;
/// The cookie secret every sessio node shares.
const SECRET: &str = "bench-cluster-secret-0123456789";

/// Established TCP connections to each of `ports` on this machine (IPv4), from
/// /proc/net/tcp: the sockets each node holds.
fn established(ports: &[u16]) -> Vec<usize> {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let mut counts = vec![0; ports.len()];
    for line in table.lines().skip(1) {
        let mut fields = line.split_whitespace();
        let (Some(local), Some(_remote), Some(state)) =
            (fields.nth(1), fields.next(), fields.next())
        else {
            continue;
        };
        let port = local
            .rsplit_once(':')
            .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
        if state != "01" {
            continue;
        }
        if let Some(k) = ports.iter().position(|&p| Some(p) == port) {
            counts[k] += 1;
        }
    }
    counts
}

/// Samples `established` every 200 ms until `done`, keeping the sample with
/// the most connections in all (the moment every socket was open).
fn sample_spread(ports: Vec<u16>, done: Arc<AtomicBool>) -> Arc<Mutex<Vec<usize>>> {
    let best = Arc::new(Mutex::new(vec![0; ports.len()]));
    let keep = best.clone();
    std::thread::spawn(move || {
        while !done.load(Ordering::Relaxed) {
            let now = established(&ports);
            if let Ok(mut best) = keep.lock() {
                if now.iter().sum::<usize>() > best.iter().sum::<usize>() {
                    *best = now;
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    best
}

fn port_of(addr: &str) -> u16 {
    addr.rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(0)
}

/// The three nodes, redis-server and nginx of `server`, started; the
/// broadcast through nginx; everything stopped.
fn measure(o: &Options, server: &str, out: &Path) -> Result<Outcome, BenchError> {
    let log = |what: &str| out.join(format!("{server}-nginx3-{what}.log"));
    let core = Some(o.server_core);
    let redis = Server::start(
        &Kind::Redis {
            bin: o.redis_server.clone(),
        },
        core,
        &log("redis"),
    )
    .map_err(|e| BenchError::Server(format!("redis-server ({}): {e}", o.redis_server.display())))?;
    let mut started: Vec<Server> = Vec::new();
    let mut balancer: Option<Server> = None;
    let result = (|| {
        let mut kind = node_kind(o, server, Some(redis.redis_url())).map_err(BenchError::Server)?;
        if let Kind::Sessio { args, .. } = &mut kind {
            args.extend(
                [
                    "--session-store",
                    "redis",
                    "--account-store",
                    "redis",
                    "--secret",
                    SECRET,
                    "--trust-proxy",
                    "true",
                ]
                .map(str::to_owned),
            );
        }
        for i in 0..NODES {
            started.push(Server::start(&kind, core, &log(&format!("node{}", i + 1)))?);
        }
        std::thread::sleep(START_SETTLE);
        let formed = wait_for_cluster(&redis, NODES as u64);
        let nginx = Server::start(
            &Kind::Nginx {
                bin: o.nginx.clone(),
                upstreams: started.iter().map(|s| s.addr.clone()).collect(),
                ip_hash: server != "sessio",
            },
            core,
            &log("nginx"),
        )
        .map_err(|e| BenchError::Server(format!("nginx ({}): {e}", o.nginx.display())))?;
        let sources: Vec<_> = (0..SESSIONS).map(client_source).collect();
        let target = Rc::new(Target {
            addr: nginx.addr.clone(),
            pid: nginx.pid,
            cookies: log_in_from(&nginx.addr, SESSIONS, &sources)?,
            bare: false,
            connect_timeout: CONNECT_TIMEOUT,
            sources,
        });
        let (nginx_pid, node_pids) = (nginx.pid, started.iter().map(|s| s.pid).collect());
        balancer = Some(nginx);
        let done = Arc::new(AtomicBool::new(false));
        let spread = sample_spread(
            started.iter().map(|s| port_of(&s.addr)).collect(),
            done.clone(),
        );
        let outcome = broadcast::run(
            vec![target],
            &broadcast::Params {
                receivers: o.receivers,
                rate: o.rate_low,
                duration: o.broadcast_secs,
                drain: o.drain,
                broker_pids: vec![redis.pid, nginx_pid],
                server_pids: Some(node_pids),
            },
        );
        done.store(true, Ordering::Relaxed);
        let mut outcome = outcome?;
        outcome.notes.extend(formed);
        let spread = spread.lock().map(|s| s.clone()).unwrap_or_default();
        for (key, n) in NODE_KEYS.iter().zip(&spread) {
            outcome.set(key, *n as f64);
        }
        let (most, fewest) = (spread.iter().max(), spread.iter().min());
        if let (Some(&most), Some(&fewest)) = (most, fewest) {
            outcome.set("spread_ratio", most as f64 / fewest.max(1) as f64);
        }
        Ok(outcome)
    })();
    balancer.into_iter().for_each(Server::stop);
    started.into_iter().for_each(Server::stop);
    redis.stop();
    result
}

/// Three nodes of `server` behind nginx; figures under `nginx3.*`.
pub fn run(o: &Options, server: &str, out: &Path, results: &mut Results) {
    let label = format!(
        "broadcast {} @ {}/s, three nodes + redis-server behind nginx",
        o.receivers, o.rate_low
    );
    eprintln!("[bench] {server}: {label}");
    match measure(o, server, out) {
        Ok(outcome) => record(results, server, "nginx3", label, outcome),
        Err(e) => record_failed(results, server, &label, &e),
    }
}

/// The rows of the main table.
pub fn rows(o: &Options) -> Vec<Row> {
    let what = format!(
        "three nodes behind nginx, {} @ {}/s",
        o.receivers, o.rate_low
    );
    let row = |label: &str, key: &str, goal| Row::new(format!("{what}: {label}"), key, goal);
    vec![
        row("delivery p50 (ms)", "nginx3.bc_p50_ms", Goal::None),
        row("delivery p99 (ms)", "nginx3.bc_p99_ms", Goal::None),
        row("lost messages", "nginx3.lost", Goal::Zero),
        row("deliveries duplicated", "nginx3.duplicates", Goal::Zero),
        row(
            "CPU per delivery, nodes + redis-server + nginx (µs)",
            "nginx3.cpu_per_delivery_us",
            Goal::None,
        ),
        row(
            "of which redis-server and nginx (µs)",
            "nginx3.broker_cpu_per_delivery_us",
            Goal::None,
        ),
        row("sockets on node 1", "nginx3.node1_sockets", Goal::None),
        row("sockets on node 2", "nginx3.node2_sockets", Goal::None),
        row("sockets on node 3", "nginx3.node3_sockets", Goal::None),
        row(
            "most ÷ fewest sockets on a node",
            "nginx3.spread_ratio",
            Goal::None,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_established_connections_per_port() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let before = established(&[port])[0];
        let _a = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let _b = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (_x, _) = listener.accept().unwrap();
        let (_y, _) = listener.accept().unwrap();
        assert_eq!(established(&[port])[0], before + 2);
    }
}
