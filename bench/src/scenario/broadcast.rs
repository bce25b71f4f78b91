//! `broadcast`: N connected sockets, one of which sends `sendMessage` at a
//! fixed rate (open loop); every socket should get every `message` event.
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

use super::{micros_since, note_failures, open_clients, run_local, Outcome, Target};

pub struct Params {
    pub receivers: usize,
    /// Messages per second from the sender.
    pub rate: f64,
    pub duration: Duration,
    /// How long after the last send to wait for stragglers.
    pub drain: Duration,
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
    fn deliver(&self, sent_us: u64, client: &Client, clock: Clock) {
        let (arrived_us, by_kernel) = clock.arrival_us(client);
        if !by_kernel {
            self.read_timed.set(self.read_timed.get() + 1);
        }
        self.latencies
            .borrow_mut()
            .push_micros(arrived_us.saturating_sub(sent_us));
        self.delivered.set(self.delivered.get() + 1);
        self.last_us.set(clock.now_us());
    }
}

/// A receiving socket: counts every `message` event until the connection
/// breaks or the task is dropped (no per-packet race, to keep it cheap).
async fn receive(mut client: Client, clock: Clock, tally: Rc<Tally>) {
    loop {
        match client.recv_with(sent_micros).await {
            Ok(Some(sent_us)) => tally.deliver(sent_us, &client, clock),
            Ok(None) => {}
            Err(_) => {
                tally.dropped.set(tally.dropped.get() + 1);
                return;
            }
        }
    }
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
                let text = format!(
                    "42{}[\"sendMessage\",{{\"message\":\"m{n}.{}\"}}]",
                    n + 1,
                    clock.now_us()
                );
                if client.send(text).await.is_err() {
                    tally.dropped.set(tally.dropped.get() + 1);
                    return;
                }
                sent.set(n + 1);
            }
            Event::Packet(Ok(Some(sent_us))) => tally.deliver(sent_us, &client, clock),
            Event::Packet(Ok(None)) => {}
            Event::Packet(Err(_)) => {
                tally.dropped.set(tally.dropped.get() + 1);
                return;
            }
        }
    }
    receive(client, clock, tally).await
}

/// Keys: `deliveries_per_s`, `bc_p50_ms`, `bc_p99_ms`, `lost`, `cpu_per_delivery_us`, `sent`.
pub fn run(target: Rc<Target>, p: &Params) -> Result<Outcome, BenchError> {
    let (n, rate, duration, drain) = (p.receivers.max(1), p.rate, p.duration, p.drain);
    let total = (rate * duration.as_secs_f64()).round().max(1.0) as u64;
    run_local(move |ex| {
        Box::pin(async move {
            let (clients, opened) = open_clients(&ex, &target, n, 100).await;
            let connected = clients.len() as u64;
            let clock = Clock::start();
            let tally = Rc::new(Tally::default());
            let sent = Rc::new(Cell::new(0u64));
            let window = Window::start(target.pid)?;
            let first_send_us = clock.now_us();
            let tasks: Vec<_> = clients
                .into_iter()
                .enumerate()
                .map(|(i, client)| {
                    if i == 0 {
                        let sending = send_and_receive(
                            client,
                            clock,
                            tally.clone(),
                            rate,
                            total,
                            sent.clone(),
                        );
                        ex.spawn(sending)
                    } else {
                        ex.spawn(receive(client, clock, tally.clone()))
                    }
                })
                .collect();
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
            // Dropping the tasks cancels them and closes their connections.
            drop(tasks);
            let mut lat = std::mem::take(&mut *tally.latencies.borrow_mut());

            let delivered = tally.delivered.get();
            let expected = sent.get() * connected;
            let mut out = Outcome {
                cpu,
                ..Outcome::default()
            };
            note_failures(&mut out, &format!("broadcast {n}"), &opened);
            out.failed += tally.dropped.get();
            if tally.dropped.get() > 0 {
                out.notes.push(format!(
                    "broadcast {n} @ {rate}/s: {} connections dropped",
                    tally.dropped.get()
                ));
            }
            out.lost = expected.saturating_sub(delivered);
            if tally.read_timed.get() > 0 {
                out.notes.push(format!(
                    "broadcast {n} @ {rate}/s: {} of {delivered} deliveries timed when read (no kernel receive time)",
                    tally.read_timed.get()
                ));
            }
            if sent.get() < total {
                out.notes.push(format!(
                    "broadcast {n} @ {rate}/s: the sender got out only {} of {total}",
                    sent.get()
                ));
            }
            let span = tally.last_us.get().saturating_sub(first_send_us).max(1) as f64 / 1e6;
            out.set("deliveries_per_s", delivered as f64 / span);
            out.set_opt("bc_p50_ms", lat.percentile_ms(50.0));
            out.set_opt("bc_p99_ms", lat.percentile_ms(99.0));
            out.set("lost", out.lost as f64);
            out.set(
                "cpu_per_delivery_us",
                cpu.server * 1e6 / delivered.max(1) as f64,
            );
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
}
