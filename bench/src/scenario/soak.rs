//! `soak`: waves of N clients that connect, chat and leave, on one server; whether
//! its memory (VmRSS) and open descriptors come back to their level before the
//! first wave once the last one has left.
//!
//! In each wave every client loops `echo` with an ack and a pause; one in
//! `SENDER_EVERY` also sends a chat `sendMessage` every loop, which the server
//! broadcasts to every connected socket (read and dropped on the way). At the
//! wave's end even clients leave politely (DISCONNECT and a WebSocket close),
//! odd ones just close the TCP connection. RSS and descriptors are sampled
//! throughout for the peak, and read before the first wave, after each wave,
//! and `SETTLE` after the last.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::client::Client;
use crate::error::BenchError;
use crate::proc_stats::{self, Window};

use super::{connect_many, note_failures, run_local, Outcome, Target};

pub struct Params {
    pub clients: usize,
    pub waves: usize,
    /// How long the clients of one wave chat once they are all connected.
    pub chat: Duration,
    pub in_flight: usize,
}

/// One client in `SENDER_EVERY` sends chat messages.
const SENDER_EVERY: usize = 200;
/// The pause between a client's echoes.
const THINK: Duration = Duration::from_millis(250);
/// How long after the last wave left the final reading is taken.
const SETTLE: Duration = Duration::from_secs(5);
/// How often RSS and descriptors are sampled for the peak.
const SAMPLE: Duration = Duration::from_millis(250);

#[derive(Clone, Copy, Default)]
struct Reading {
    rss_kib: u64,
    /// RssAnon: what the server holds, without the binary's code pages (which
    /// a soak pages in as it runs code for the first time, and which stay).
    anon_kib: u64,
    fds: usize,
}

fn read(pid: u32) -> Result<Reading, BenchError> {
    let memory = proc_stats::memory(pid)?;
    Ok(Reading {
        rss_kib: memory.rss_kib,
        anon_kib: memory.anon_kib,
        fds: proc_stats::open_fds(pid)?,
    })
}

/// One client's wave: echo loops until `until`, then leave. Returns acks and
/// whether it broke.
async fn chat(mut client: Client, i: usize, until: Instant) -> (u64, Option<BenchError>) {
    let mut acks = 0;
    let mut id = 0u64;
    while Instant::now() < until {
        id += 1;
        let sent = if i.is_multiple_of(SENDER_EVERY) {
            client
                .send(format!(
                    "42[\"sendMessage\",{{\"message\":\"soak {i} {id}\"}}]"
                ))
                .await
        } else {
            Ok(())
        };
        let echo = client
            .send(format!("42{id}[\"echo\",{{\"i\":{i},\"n\":{id}}}]"))
            .await;
        if let Err(e) = sent.and(echo) {
            return (acks, Some(e));
        }
        let prefix = format!("43{id}[");
        loop {
            match client.recv_with(|p| p.starts_with(&prefix)).await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => return (acks, Some(e)),
            }
        }
        acks += 1;
        smol::Timer::after(THINK).await;
    }
    if i.is_multiple_of(2) {
        if let Err(e) = client.leave().await {
            return (acks, Some(e));
        }
    }
    (acks, None)
}

/// Keys: `rss_before_kib`, `rss_peak_kib`, `rss_after_kib`, the same for `anon_`
/// (RssAnon), `fds_before`, `fds_peak`, `fds_after`, `rss_after_ratio`,
/// `anon_after_ratio`, `fds_after_ratio` (after ÷ before), `acks`.
pub fn run(target: Rc<Target>, p: &Params) -> Result<Outcome, BenchError> {
    let (n, waves, chat_for, k) = (p.clients, p.waves, p.chat, p.in_flight);
    run_local(move |ex| {
        Box::pin(async move {
            let pid = target.pid;
            let before = read(pid)?;
            let peak = Rc::new(Cell::new(before));
            let sampling = Rc::new(Cell::new(true));
            let sampler = {
                let (peak, sampling) = (peak.clone(), sampling.clone());
                ex.spawn(async move {
                    while sampling.get() {
                        if let Ok(now) = read(pid) {
                            let max = peak.get();
                            peak.set(Reading {
                                rss_kib: max.rss_kib.max(now.rss_kib),
                                anon_kib: max.anon_kib.max(now.anon_kib),
                                fds: max.fds.max(now.fds),
                            });
                        }
                        smol::Timer::after(SAMPLE).await;
                    }
                })
            };
            let window = Window::start(&[pid])?;
            let mut out = Outcome::default();
            let mut acks = 0u64;
            for wave in 1..=waves {
                // Clients chat until `until`, set once all of them are connected.
                let until = Rc::new(Cell::new(None::<Instant>));
                let tasks = Rc::new(RefCell::new(Vec::new()));
                let (spawner, t, u) = (ex.clone(), tasks.clone(), until.clone());
                let on_open = Rc::new(move |i: usize, client: Client| {
                    let u = u.clone();
                    t.borrow_mut().push(spawner.spawn(async move {
                        while u.get().is_none() {
                            smol::Timer::after(Duration::from_millis(50)).await;
                        }
                        chat(client, i, u.get().unwrap_or_else(Instant::now)).await
                    }));
                });
                let opened = connect_many(&ex, &target, n, k, on_open).await;
                until.set(Some(Instant::now() + chat_for));
                note_failures(&mut out, &format!("soak wave {wave}"), &opened);
                let mut broken = 0u64;
                let mut first_error = None;
                let wave_tasks: Vec<_> = tasks.borrow_mut().drain(..).collect();
                for task in wave_tasks {
                    let (a, err) = task.await;
                    acks += a;
                    if let Some(e) = err {
                        broken += 1;
                        first_error.get_or_insert(e.to_string());
                    }
                }
                if let Some(e) = first_error {
                    out.failed += broken;
                    out.notes.push(format!(
                        "soak wave {wave}: {broken} clients broke, first: {e}"
                    ));
                }
                smol::Timer::after(Duration::from_secs(1)).await;
                let now = read(pid)?;
                let line = format!(
                    "soak wave {wave}/{waves}: {} connected; 1 s after they left: RSS {} KiB (anonymous {} KiB), {} fds",
                    opened.ok, now.rss_kib, now.anon_kib, now.fds
                );
                eprintln!("[bench] {line}");
                out.notes.push(line);
            }
            smol::Timer::after(SETTLE).await;
            let after = read(pid)?;
            sampling.set(false);
            sampler.await;
            out.cpu = window.finish()?;
            let peak = peak.get();
            out.set("rss_before_kib", before.rss_kib as f64);
            out.set("rss_peak_kib", peak.rss_kib as f64);
            out.set("rss_after_kib", after.rss_kib as f64);
            out.set("anon_before_kib", before.anon_kib as f64);
            out.set("anon_peak_kib", peak.anon_kib as f64);
            out.set("anon_after_kib", after.anon_kib as f64);
            out.set("fds_before", before.fds as f64);
            out.set("fds_peak", peak.fds as f64);
            out.set("fds_after", after.fds as f64);
            let ratio = |a: f64, b: f64| a / b.max(1.0);
            let rss_ratio = ratio(after.rss_kib as f64, before.rss_kib as f64);
            let anon_ratio = ratio(after.anon_kib as f64, before.anon_kib as f64);
            let fds_ratio = ratio(after.fds as f64, before.fds as f64);
            out.set("rss_after_ratio", rss_ratio);
            out.set("anon_after_ratio", anon_ratio);
            out.set("fds_after_ratio", fds_ratio);
            out.set("acks", acks as f64);
            let verdict = |r: f64| if r <= 1.10 { "yes" } else { "NO" };
            out.notes.push(format!(
                "soak: {waves} waves of {n}: RSS {} -> peak {} -> {} KiB {SETTLE:?} after (x{rss_ratio:.2}, within 10 %: {}); \
                 anonymous {} -> peak {} -> {} KiB (x{anon_ratio:.2}, within 10 %: {}); \
                 fds {} -> peak {} -> {} (x{fds_ratio:.2}, within 10 %: {})",
                before.rss_kib,
                peak.rss_kib,
                after.rss_kib,
                verdict(rss_ratio),
                before.anon_kib,
                peak.anon_kib,
                after.anon_kib,
                verdict(anon_ratio),
                before.fds,
                peak.fds,
                after.fds,
                verdict(fds_ratio),
            ));
            Ok(out)
        })
    })
}
