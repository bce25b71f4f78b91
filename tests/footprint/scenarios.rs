//! What the test does to the server, and the figures it reads from the
//! counters: each scenario waits until the server is still, does only the
//! measured work (the test's thread plays every client, uncounted), waits
//! until the server is still again, and divides the counters' change by the
//! work done.

use std::io;
use std::net::SocketAddr;

use super::counting::{settled, Delta};
use super::http::{bad, Conn};
use super::polling::Polling;
use super::websocket::Ws;

/// One figure: its name (the key of its line in the budget table) and value.
pub struct Figure {
    pub name: &'static str,
    pub value: f64,
}

/// How much of each work a run does.
#[derive(Clone, Copy)]
pub struct Sizes {
    /// Connections held open at once, per transport.
    pub idle: usize,
    /// Connections made and closed one after another.
    pub cycles: usize,
    /// Echo acks, one after another on one socket.
    pub echoes: usize,
    /// `updateCount`s (an async handler), each with an echo right behind it.
    pub counts: usize,
    /// Sockets that receive each broadcast (the sender among them).
    pub receivers: usize,
    /// Broadcasts sent.
    pub broadcasts: usize,
}

/// Runs every scenario against the server at `addr`, its sockets logged in
/// with `cookies` in turn.
pub fn run(addr: SocketAddr, cookies: &[String], sizes: Sizes) -> io::Result<Vec<Figure>> {
    let mut figures = Vec::new();
    let client = Client { addr, cookies };
    figures.extend(client.idle_websocket(sizes.idle)?);
    figures.extend(client.idle_polling(sizes.idle)?);
    figures.extend(client.connection_cycles(sizes.cycles)?);
    figures.extend(client.echo_acks(sizes.echoes)?);
    figures.extend(client.broadcasts(sizes.receivers, sizes.broadcasts)?);
    // Last: what it leaves (parked sockets, with recovery) would weigh on the others.
    figures.extend(client.dropped_connections(sizes.cycles)?);
    // After them all, and not in the warm-up: the store's writes leave
    // state (sled's) that moves the lumps the idle figures see.
    if sizes.counts > 0 {
        figures.extend(client.counts_with_echo(sizes.counts)?);
    }
    Ok(figures)
}

struct Client<'a> {
    addr: SocketAddr,
    cookies: &'a [String],
}

fn per(value: f64, count: usize) -> f64 {
    value / count as f64
}

/// Work repeated in batches of this many, the server still between them.
const BATCH: usize = 50;

/// Runs `work(i)` for i in 0..n in batches; returns what all of them
/// changed, and the live bytes per unit of the median batch. What a unit of
/// work leaves behind is small beside the lumps that come now and then (a
/// table that doubles, sled's flusher taking or freeing a 2 KiB buffer), which
/// the median leaves out.
fn in_batches(n: usize, mut work: impl FnMut(usize) -> io::Result<()>) -> io::Result<(Delta, f64)> {
    let mut total = Delta::default();
    let mut lives = Vec::new();
    for start in (0..n).step_by(BATCH) {
        let end = n.min(start + BATCH);
        let before = settled();
        for i in start..end {
            work(i)?;
        }
        let delta = settled().since(before);
        total += delta;
        lives.push(per(delta.live as f64, end - start));
    }
    lives.sort_by(f64::total_cmp);
    let middle = lives.len() / 2;
    let median = match lives.len() % 2 {
        1 => lives[middle],
        _ => (lives[middle - 1] + lives[middle]) / 2.0,
    };
    Ok((total, median))
}

/// Allocations and bytes allocated per unit of work.
fn allocated(
    delta: Delta,
    count: usize,
    allocations: &'static str,
    bytes: &'static str,
) -> [Figure; 2] {
    [
        Figure {
            name: allocations,
            value: per(delta.allocations as f64, count),
        },
        Figure {
            name: bytes,
            value: per(delta.bytes as f64, count),
        },
    ]
}

impl Client<'_> {
    fn cookie(&self, i: usize) -> &str {
        &self.cookies[i % self.cookies.len()]
    }

    fn websocket(&self, i: usize) -> io::Result<Ws> {
        let mut ws = Ws::open(self.addr, self.cookie(i))?;
        ws.join()?;
        Ok(ws)
    }

    /// Live heap per WebSocket connection held open after `connected`.
    fn idle_websocket(&self, n: usize) -> io::Result<Vec<Figure>> {
        let before = settled();
        let held = (0..n)
            .map(|i| self.websocket(i))
            .collect::<io::Result<Vec<_>>>()?;
        let delta = settled().since(before);
        for ws in held {
            ws.leave()?;
        }
        Ok(vec![Figure {
            name: "idle websocket connection: live bytes",
            value: per(delta.live as f64, n),
        }])
    }

    /// Live heap per polling connection: handshake, CONNECT, `connected`,
    /// and a GET left pending.
    fn idle_polling(&self, n: usize) -> io::Result<Vec<Figure>> {
        let before = settled();
        let mut held = Vec::with_capacity(n);
        for i in 0..n {
            let mut polling = Polling::open(self.addr, self.cookie(i))?;
            polling.join()?;
            polling.hold()?;
            held.push(polling);
        }
        let delta = settled().since(before);
        let mut control = Conn::open(self.addr)?;
        for polling in held {
            polling.close(&mut control)?;
        }
        Ok(vec![Figure {
            name: "idle polling connection: live bytes",
            value: per(delta.live as f64, n),
        }])
    }

    /// A WebSocket connection made, joined and left, `n` times in a row.
    fn connection_cycles(&self, n: usize) -> io::Result<Vec<Figure>> {
        let (delta, left) = in_batches(n, |i| self.websocket(i)?.leave())?;
        let [allocations, bytes] = allocated(
            delta,
            n,
            "connection: allocations",
            "connection: bytes allocated",
        );
        Ok(vec![
            allocations,
            bytes,
            Figure {
                name: "connection: live bytes left after it closed",
                value: left,
            },
        ])
    }

    /// A WebSocket connection made and joined, then its TCP connection
    /// closed without a word (a dropped client), `n` times in a row.
    fn dropped_connections(&self, n: usize) -> io::Result<Vec<Figure>> {
        let (delta, kept) = in_batches(n, |i| self.websocket(i).map(drop))?;
        let [allocations, bytes] = allocated(
            delta,
            n,
            "dropped connection: allocations",
            "dropped connection: bytes allocated",
        );
        Ok(vec![
            allocations,
            bytes,
            Figure {
                name: "dropped connection: live bytes kept",
                value: kept,
            },
        ])
    }

    /// `echo` with an ack, `n` times in a row on one socket.
    fn echo_acks(&self, n: usize) -> io::Result<Vec<Figure>> {
        let mut ws = self.websocket(0)?;
        let before = settled();
        // Ids of one length, so every packet is the same size.
        for id in 10_000..10_000 + n {
            ws.send(&format!(r#"42{id}["echo",{{"n":1}}]"#))?;
            let ack = ws.receive()?;
            if ack != format!(r#"43{id}[{{"n":1}}]"#) {
                return Err(bad(format!("echo {id} acked with {ack:?}")));
            }
        }
        let delta = settled().since(before);
        ws.leave()?;
        Ok(allocated(
            delta,
            n,
            "echo ack: allocations",
            "echo ack: bytes allocated",
        )
        .into())
    }

    /// `updateCount` (an async handler: a task, and the store's write) and
    /// an `echo` sent right behind it, which waits in the socket's queue;
    /// `n` times in a row on one socket. The answers must come in order.
    fn counts_with_echo(&self, n: usize) -> io::Result<Vec<Figure>> {
        let mut ws = self.websocket(0)?;
        let before = settled();
        let mut last = None;
        for id in (10_000..10_000 + 2 * n).step_by(2) {
            ws.send(&format!(r#"42{id}["updateCount"]"#))?;
            ws.send(&format!(r#"42{}["echo",{{"n":1}}]"#, id + 1))?;
            ws.expect_event("countUpdated")?;
            let counted = ws.receive()?;
            let count = counted
                .strip_prefix(&format!(r#"43{id}[{{"count":"#))
                .and_then(|rest| rest.strip_suffix("}]"))
                .and_then(|count| count.parse::<u64>().ok())
                .ok_or_else(|| bad(format!("updateCount {id} acked with {counted:?}")))?;
            if last.is_some_and(|last| count != last + 1) {
                return Err(bad(format!("count {count} after {last:?}")));
            }
            last = Some(count);
            let echoed = ws.receive()?;
            if echoed != format!(r#"43{}[{{"n":1}}]"#, id + 1) {
                return Err(bad(format!("echo {} behind a count: {echoed:?}", id + 1)));
            }
        }
        let delta = settled().since(before);
        ws.leave()?;
        Ok(allocated(
            delta,
            n,
            "count with an echo behind it: allocations",
            "count with an echo behind it: bytes allocated",
        )
        .into())
    }

    /// `sendMessage` from one of `receivers` sockets, each broadcast read
    /// by all of them (the sender reads its ack too); per delivery.
    fn broadcasts(&self, receivers: usize, messages: usize) -> io::Result<Vec<Figure>> {
        let mut sockets = (0..receivers)
            .map(|i| self.websocket(i))
            .collect::<io::Result<Vec<_>>>()?;
        let before = settled();
        for id in 10_000..10_000 + messages {
            let sender = &mut sockets[0];
            sender.send(&format!(r#"42{id}["sendMessage",{{"message":"m{id}"}}]"#))?;
            // The sender gets the broadcast and its ack, in either order.
            let ack = format!(r#"43{id}[{{"success":true}}]"#);
            let first = sender.receive()?;
            let second = sender.receive()?;
            let (message, acked) = if first == ack {
                (second, first)
            } else {
                (first, second)
            };
            if acked != ack || !message.starts_with(r#"42["message""#) {
                return Err(bad(format!("sender got {message:?} and {acked:?}")));
            }
            for ws in &mut sockets[1..] {
                let message = ws.expect_event("message")?;
                if !message.contains(&format!(r#""message":"m{id}""#)) {
                    return Err(bad(format!("broadcast {id}: got {message:?}")));
                }
            }
        }
        let delta = settled().since(before);
        for ws in sockets {
            ws.leave()?;
        }
        Ok(allocated(
            delta,
            receivers * messages,
            "broadcast delivery: allocations",
            "broadcast delivery: bytes allocated",
        )
        .into())
    }
}
