//! `broadcast`: N connected sockets, one of which sends `sendMessage` at a
//! fixed rate (open loop); every socket should get every `message` event
//! exactly once. The sockets may be split across the nodes of a cluster
//! (two nodes on one Redis): then what reaches each node is counted apart.
//! On the floor (bare mode) the sender sends the `message` event as the
//! server would relay it, prefixed with `b`, and the floor relays it as it is.
//! The send time travels in the message text, and the arrival time is the
//! kernel's receive time of the data (when it gives one), so the delay is the
//! server's and the network's, not the load generator's while it reads 1,000
//! sockets on one core.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::client::Client;
use crate::error::BenchError;
use crate::latency::Latencies;
use crate::proc_stats::Window;

use super::{micros_since, note_failures, open_clients, run_local, Opened, Outcome, Target};

pub struct Params {
    pub receivers: usize,
    /// Messages per second from the sender.
    pub rate: f64,
    pub duration: Duration,
    /// How long after the last send to wait for stragglers.
    pub drain: Duration,
    /// The processes that carry broadcasts between nodes (redis-server), or
    /// connections to them (a balancer): their CPU counts as the server's,
    /// and is also given alone.
    pub broker_pids: Vec<u32>,
    /// The servers' processes, when they are not the targets' (a balancer in
    /// front of the nodes is the one target).
    pub server_pids: Option<Vec<u32>>,
}

/// The send time (µs since the epoch) from a `message` event, if it is one of ours.
fn sent_micros(packet: &str) -> Option<u64> {
    let rest = packet.strip_prefix("42[\"message\"")?;
    let at = rest.find("\"message\":\"m")? + "\"message\":\"m".len();
    let text = &rest[at..];
    let (_seq, rest) = text.split_once('.')?;
    let end = rest.find('"')?;
    rest[..end].parse().ok()
}

/// Microseconds since the scenario's start, from the monotonic clock or from a
/// kernel receive time (wall clock, read at the same start).
#[derive(Clone, Copy)]
struct Clock {
    epoch: Instant,
    epoch_wall_ns: u64,
}

impl Clock {
    fn start() -> Clock {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Clock {
            epoch: Instant::now(),
            epoch_wall_ns: wall.as_nanos() as u64,
        }
    }

    fn now_us(&self) -> u64 {
        micros_since(self.epoch)
    }

    /// When the packet `client` returned last reached this machine's socket,
    /// and whether the kernel said so (else: now, when it was read).
    fn arrival_us(&self, client: &Client) -> (u64, bool) {
        match client.received_ns() {
            Some(ns) => (ns.saturating_sub(self.epoch_wall_ns) / 1000, true),
            None => (self.now_us(), false),
        }
    }
}

/// Counts shared by every socket (one thread: cells, no locks).
#[derive(Default)]
struct Tally {
    delivered: Cell<u64>,
    /// Deliveries timed at the read, for want of a kernel receive time.
    read_timed: Cell<u64>,
    last_us: Cell<u64>,
    dropped: Cell<u64>,
    latencies: RefCell<Latencies>,
}

impl Tally {
    /// A delivery to the socket whose own count is `mine`.
    fn deliver(&self, sent_us: u64, client: &Client, clock: Clock, mine: &Cell<u64>) {
        let (arrived_us, by_kernel) = clock.arrival_us(client);
        if !by_kernel {
            self.read_timed.set(self.read_timed.get() + 1);
        }
        self.latencies
            .borrow_mut()
            .push_micros(arrived_us.saturating_sub(sent_us));
        self.delivered.set(self.delivered.get() + 1);
        mine.set(mine.get() + 1);
        self.last_us.set(clock.now_us());
    }
}

/// A receiving socket: counts every `message` event until the connection
/// breaks or the task is dropped (no per-packet race, to keep it cheap).
async fn receive(mut client: Client, clock: Clock, tally: Rc<Tally>, mine: Rc<Cell<u64>>) {
    loop {
        match client.recv_with(sent_micros).await {
            Ok(Some(sent_us)) => tally.deliver(sent_us, &client, clock, &mine),
            Ok(None) => {}
            Err(_) => {
                tally.dropped.set(tally.dropped.get() + 1);
                return;
            }
        }
    }
}

/// Messages missing and messages received twice or more, summed over sockets
/// that each got `counts` of `sent`.
fn missing_and_extra(counts: impl Iterator<Item = u64>, sent: u64) -> (u64, u64) {
    counts.fold((0, 0), |(missing, extra), got| {
        (
            missing + sent.saturating_sub(got),
            extra + got.saturating_sub(sent),
        )
    })
}

enum Event {
    Due,
    Packet(Result<Option<u64>, BenchError>),
}

/// The sending socket: sends `total` messages at `rate` (catching up when
/// late), receiving the broadcasts like everyone else meanwhile.
async fn send_and_receive(
    mut client: Client,
    clock: Clock,
    tally: Rc<Tally>,
    mine: Rc<Cell<u64>>,
    rate: f64,
    total: u64,
    sent: Rc<Cell<u64>>,
) {
    let start = Instant::now();
    while sent.get() < total {
        let due_at = start + Duration::from_secs_f64(sent.get() as f64 / rate);
        let event = smol::future::or(
            async {
                smol::Timer::at(due_at).await;
                Event::Due
            },
            async { Event::Packet(client.recv_with(sent_micros).await) },
        )
        .await;
        match event {
            Event::Due => {
                let n = sent.get();
                let text = if client.is_bare() {
                    // The size of the event sessio relays for `sendMessage`.
                    format!(
                        "b42[\"message\",{{\"username\":\"bench0\",\"userId\":1,\"message\":\"m{n}.{}\",\"timestamp\":\"2026-01-01T00:00:00.000Z\"}}]",
                        clock.now_us()
                    )
                } else {
                    format!(
                        "42{}[\"sendMessage\",{{\"message\":\"m{n}.{}\"}}]",
                        n + 1,
                        clock.now_us()
                    )
                };
                if client.send(text).await.is_err() {
                    tally.dropped.set(tally.dropped.get() + 1);
                    return;
                }
                sent.set(n + 1);
            }
            Event::Packet(Ok(Some(sent_us))) => tally.deliver(sent_us, &client, clock, &mine),
            Event::Packet(Ok(None)) => {}
            Event::Packet(Err(_)) => {
                tally.dropped.set(tally.dropped.get() + 1);
                return;
            }
        }
    }
    receive(client, clock, tally, mine).await
}

/// Keys: `deliveries_per_s`, `bc_p50_ms`, `bc_p99_ms`, `lost`, `lost_remote`
/// (on the nodes other than the sender's), `duplicates`, `cpu_per_delivery_us`
/// (all of `nodes` and the broker), `broker_cpu_per_delivery_us` (with a
/// broker), `sent`. Socket 0, the sender, is on the first node; the `receivers`
/// are shared out evenly, in order.
pub fn run(nodes: Vec<Rc<Target>>, p: &Params) -> Result<Outcome, BenchError> {
    let (n, rate, duration, drain) = (p.receivers.max(1), p.rate, p.duration, p.drain);
    let total = (rate * duration.as_secs_f64()).round().max(1.0) as u64;
    let broker_pids = p.broker_pids.clone();
    let server_pids = p.server_pids.clone();
    let what = match nodes.len() {
        1 => format!("broadcast {n} @ {rate}/s"),
        k => format!("broadcast {n} @ {rate}/s on {k} nodes"),
    };
    run_local(move |ex| {
        Box::pin(async move {
            // Per node: its connected sockets and each one's delivery count.
            let mut groups: Vec<(Vec<Client>, Opened)> = Vec::new();
            for (k, node) in nodes.iter().enumerate() {
                let share = n / nodes.len() + usize::from(k < n % nodes.len());
                groups.push(open_clients(&ex, node, share, 100).await);
            }
            let counts: Vec<Vec<Rc<Cell<u64>>>> = groups
                .iter()
                .map(|(clients, _)| clients.iter().map(|_| Rc::default()).collect())
                .collect();
            let connected: u64 = groups.iter().map(|(c, _)| c.len() as u64).sum();
            let clock = Clock::start();
            let tally = Rc::new(Tally::default());
            let sent = Rc::new(Cell::new(0u64));
            let mut pids: Vec<u32> =
                server_pids.unwrap_or_else(|| nodes.iter().map(|t| t.pid).collect());
            pids.extend(&broker_pids);
            let window = Window::start(&pids)?;
            let broker_window = (!broker_pids.is_empty())
                .then(|| Window::start(&broker_pids))
                .transpose()?;
            let first_send_us = clock.now_us();
            let mut opened_all = Vec::new();
            let mut tasks = Vec::new();
            for (k, (clients, opened)) in groups.into_iter().enumerate() {
                opened_all.push(opened);
                for (i, client) in clients.into_iter().enumerate() {
                    let mine = counts[k][i].clone();
                    let task = if k == 0 && i == 0 {
                        ex.spawn(send_and_receive(
                            client,
                            clock,
                            tally.clone(),
                            mine,
                            rate,
                            total,
                            sent.clone(),
                        ))
                    } else {
                        ex.spawn(receive(client, clock, tally.clone(), mine))
                    };
                    tasks.push(task);
                }
            }
            // Sending, then draining: bounded by duration + drain.
            let send_end = Instant::now() + duration + Duration::from_secs(2);
            while sent.get() < total && Instant::now() < send_end {
                smol::Timer::after(Duration::from_millis(20)).await;
            }
            let drain_end = Instant::now() + drain;
            while tally.delivered.get() < sent.get() * connected && Instant::now() < drain_end {
                smol::Timer::after(Duration::from_millis(20)).await;
            }
            let cpu = window.finish()?;
            let broker_cpu = broker_window.map(|w| w.finish()).transpose()?;
            // Dropping the tasks cancels them and closes their connections.
            drop(tasks);
            let mut lat = std::mem::take(&mut *tally.latencies.borrow_mut());

            let delivered = tally.delivered.get();
            let mut out = Outcome {
                cpu,
                ..Outcome::default()
            };
            for opened in &opened_all {
                note_failures(&mut out, &format!("broadcast {n}"), opened);
            }
            out.failed += tally.dropped.get();
            if tally.dropped.get() > 0 {
                out.notes.push(format!(
                    "{what}: {} connections dropped",
                    tally.dropped.get()
                ));
            }
            let (mut lost, mut lost_remote, mut duplicates) = (0, 0, 0);
            for (k, node_counts) in counts.iter().enumerate() {
                let (missing, extra) =
                    missing_and_extra(node_counts.iter().map(|c| c.get()), sent.get());
                lost += missing;
                duplicates += extra;
                if k > 0 {
                    lost_remote += missing;
                }
                if nodes.len() > 1 && (missing > 0 || extra > 0) {
                    let got: u64 = node_counts.iter().map(|c| c.get()).sum();
                    let sender = if k == 0 { ", the sender's" } else { "" };
                    out.notes.push(format!(
                        "{what}: node {} of {}{sender}: {got} deliveries to its {} sockets of {} sent: {missing} missing, {extra} duplicated",
                        k + 1,
                        nodes.len(),
                        node_counts.len(),
                        sent.get()
                    ));
                }
            }
            if nodes.len() == 1 && duplicates > 0 {
                out.notes
                    .push(format!("{what}: {duplicates} deliveries duplicated"));
            }
            out.lost = lost;
            if tally.read_timed.get() > 0 {
                out.notes.push(format!(
                    "{what}: {} of {delivered} deliveries timed when read (no kernel receive time)",
                    tally.read_timed.get()
                ));
            }
            if sent.get() < total {
                out.notes.push(format!(
                    "{what}: the sender got out only {} of {total}",
                    sent.get()
                ));
            }
            let span = tally.last_us.get().saturating_sub(first_send_us).max(1) as f64 / 1e6;
            let per_delivery = |cpu_secs: f64| cpu_secs * 1e6 / delivered.max(1) as f64;
            out.set("deliveries_per_s", delivered as f64 / span);
            out.set_opt("bc_p50_ms", lat.percentile_ms(50.0));
            out.set_opt("bc_p99_ms", lat.percentile_ms(99.0));
            out.set("lost", lost as f64);
            out.set("lost_remote", lost_remote as f64);
            out.set("duplicates", duplicates as f64);
            out.set("cpu_per_delivery_us", per_delivery(cpu.server));
            if let Some(b) = broker_cpu {
                out.set("broker_cpu_per_delivery_us", per_delivery(b.server));
            }
            out.set("sent", sent.get() as f64);
            Ok(out)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_send_time_from_a_message_event() {
        let p =
            r#"42["message",{"username":"u1","userId":1,"message":"m7.123456","timestamp":"x"}]"#;
        assert_eq!(sent_micros(p), Some(123456));
        assert_eq!(sent_micros(r#"42["other",{"message":"m7.1"}]"#), None);
        assert_eq!(sent_micros(r#"431[{"success":true}]"#), None);
    }

    #[test]
    fn counts_missing_and_duplicated_messages_per_socket() {
        // Three sockets, 5 sent: one got all, one 3 (2 missing), one 7 (2 twice).
        assert_eq!(missing_and_extra([5, 3, 7].into_iter(), 5), (2, 2));
        // A duplicate on one socket does not hide a loss on another.
        assert_eq!(missing_and_extra([6, 4].into_iter(), 5), (1, 1));
        assert_eq!(missing_and_extra(std::iter::empty(), 5), (0, 0));
    }
}
