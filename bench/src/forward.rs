//! `forward` (issue 22): what a forwarded request costs. Two sessio nodes (a
//! build with the redis feature, given `--sessio-redis`) on one redis-server,
//! with one secret; one polling session opened on node A; then polling round
//! trips (a POST of an event with an ack, and the GET that brings the ack
//! back), in blocks of `--forward-rounds / 10`, alternately sent to A itself
//! (direct) and to B (which forwards both requests to A, on a connection it
//! keeps open to A). Each request from the load generator is a connection of
//! its own (`Connection: close`), as a browser's polls through a balancer
//! often are. The figures: each path's p50 and p99, and what forwarding adds.

use std::path::Path;
use std::time::{Duration, Instant};

use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::TcpStream;

use crate::error::BenchError;
use crate::latency::Latencies;
use crate::options::Options;
use crate::report::{Goal, Row};
use crate::scenario::Outcome;
use crate::server::{Kind, Server};
use crate::suite::{log_in, record, record_failed, Results, START_SETTLE};

/// Shared by both nodes: the forwarding header is signed with it.
const SECRET: &str = "the bench cluster's shared secret";
const TIMEOUT: Duration = Duration::from_secs(30);
const MAX_REPLY: u64 = 1 << 20;

/// One HTTP/1.1 request on a connection of its own; the status and body.
async fn request(
    addr: &str,
    method: &str,
    path: &str,
    cookie: &str,
    body: &str,
) -> Result<(u16, String), BenchError> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\n\
             Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(head.as_bytes()).await?;
        let mut raw = Vec::new();
        (&mut stream).take(MAX_REPLY).read_to_end(&mut raw).await?;
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text
            .split_once("\r\n\r\n")
            .ok_or_else(|| BenchError::Protocol("HTTP reply without a blank line".into()))?;
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| BenchError::Protocol("bad HTTP status line".into()))?;
        Ok((status, body.to_owned()))
    };
    smol::future::or(exchange, async {
        smol::Timer::after(TIMEOUT).await;
        Err(BenchError::Timeout("polling request"))
    })
    .await
}

/// `request`, expecting 200.
async fn ok(
    addr: &str,
    method: &str,
    path: &str,
    cookie: &str,
    body: &str,
) -> Result<String, BenchError> {
    match request(addr, method, path, cookie, body).await? {
        (200, body) => Ok(body),
        (status, body) => Err(BenchError::Http {
            path: path.into(),
            status,
            body,
        }),
    }
}

/// A polling session on `addr`, joined to the main namespace: its query.
async fn open(addr: &str, cookie: &str) -> Result<String, BenchError> {
    let hello = ok(
        addr,
        "GET",
        "/socket.io/?EIO=4&transport=polling",
        cookie,
        "",
    )
    .await?;
    let sid = hello
        .split("\"sid\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .ok_or_else(|| BenchError::Protocol(format!("no sid in {hello:?}")))?;
    let query = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    ok(addr, "POST", &query, cookie, "40").await?;
    let joined = ok(addr, "GET", &query, cookie, "").await?;
    if !joined.contains("40{") {
        return Err(BenchError::Protocol(format!("not connected: {joined:?}")));
    }
    Ok(query)
}

/// One round trip through `addr`: an echo with ack `id`, and its answer.
async fn round_trip(addr: &str, query: &str, cookie: &str, id: u64) -> Result<u64, BenchError> {
    let start = Instant::now();
    ok(
        addr,
        "POST",
        query,
        cookie,
        &format!("42{id}[\"echo\",{id}]"),
    )
    .await?;
    let want = format!("43{id}[{id}]");
    // The ack may come with a ping, or after it.
    loop {
        let got = ok(addr, "GET", query, cookie, "").await?;
        if got.split('\x1e').any(|packet| packet == want) {
            return Ok(start.elapsed().as_micros() as u64);
        }
        if got.split('\x1e').any(|packet| packet == "2") {
            ok(addr, "POST", query, cookie, "3").await?;
        }
    }
}

fn measure(o: &Options, bin: &Path, out: &Path) -> Result<Outcome, BenchError> {
    let redis = Server::start(
        &Kind::Redis {
            bin: o.redis_server.clone(),
        },
        Some(o.server_core),
        &out.join("sessio-forward-redis.log"),
    )
    .map_err(|e| BenchError::Server(format!("redis-server ({}): {e}", o.redis_server.display())))?;
    let node = Kind::Sessio {
        bin: bin.to_owned(),
        threads: 1,
        wrap: Vec::new(),
        redis: Some(redis.redis_url()),
        args: vec!["--secret".into(), SECRET.into()],
        env: Vec::new(),
    };
    let mut nodes = Vec::new();
    let result = (|| {
        for name in ["a", "b"] {
            let log = out.join(format!("sessio-forward-node-{name}.log"));
            nodes.push(Server::start(&node, Some(o.server_core), &log)?);
        }
        std::thread::sleep(START_SETTLE);
        let (a, b) = (nodes[0].addr.clone(), nodes[1].addr.clone());
        let cookie = log_in(&a, 1)?.remove(0);
        smol::block_on(async {
            let query = open(&a, &cookie).await?;
            let (mut direct, mut forwarded) = (Latencies::default(), Latencies::default());
            let block = (o.forward_rounds / 10).max(1);
            let mut id = 0;
            // Warm-up: both paths once.
            for addr in [&a, &b] {
                round_trip(addr, &query, &cookie, id).await?;
                id += 1;
            }
            for _ in 0..10 {
                for (addr, samples) in [(&a, &mut direct), (&b, &mut forwarded)] {
                    for _ in 0..block {
                        samples.push_micros(round_trip(addr, &query, &cookie, id).await?);
                        id += 1;
                    }
                }
            }
            let mut outcome = Outcome::default();
            let d50 = direct.percentile_ms(50.0);
            let f50 = forwarded.percentile_ms(50.0);
            outcome.set_opt("direct_p50_ms", d50);
            outcome.set_opt("direct_p99_ms", direct.percentile_ms(99.0));
            outcome.set_opt("forwarded_p50_ms", f50);
            outcome.set_opt("forwarded_p99_ms", forwarded.percentile_ms(99.0));
            if let (Some(d), Some(f)) = (d50, f50) {
                outcome.set("added_p50_ms", f - d);
                if d > 0.0 {
                    outcome.set("p50_ratio", f / d);
                }
            }
            Ok(outcome)
        })
    })();
    nodes.into_iter().for_each(Server::stop);
    redis.stop();
    result
}

/// The forwarded and direct polling round trips of sessio, under `forward.*`.
pub fn run(o: &Options, out: &Path, results: &mut Results) {
    let Some(bin) = o.sessio_redis.clone() else {
        results.notes.push(
            "forward: no --sessio-redis (a build with --features redis): not measured".into(),
        );
        return;
    };
    let label = format!(
        "forward: {} polling round trips, direct and through another node",
        o.forward_rounds
    );
    eprintln!("[bench] sessio: {label}");
    match measure(o, &bin, out) {
        Ok(outcome) => record(results, "sessio", "forward", label, outcome),
        Err(e) => record_failed(results, "sessio", &label, &e),
    }
}

/// The rows of the main table.
pub fn rows() -> Vec<Row> {
    let trip = "polling round trip (POST + GET, a connection each)";
    vec![
        Row::new(
            format!("{trip}, direct: p50 (ms)"),
            "forward.direct_p50_ms",
            Goal::None,
        ),
        Row::new(
            format!("{trip}, direct: p99 (ms)"),
            "forward.direct_p99_ms",
            Goal::None,
        ),
        Row::new(
            format!("{trip}, forwarded: p50 (ms)"),
            "forward.forwarded_p50_ms",
            Goal::None,
        ),
        Row::new(
            format!("{trip}, forwarded: p99 (ms)"),
            "forward.forwarded_p99_ms",
            Goal::None,
        ),
        Row::new(
            "forwarding adds, p50 (ms)",
            "forward.added_p50_ms",
            Goal::None,
        ),
        Row::new("forwarded ÷ direct, p50", "forward.p50_ratio", Goal::None),
    ]
}
