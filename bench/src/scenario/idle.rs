//! `idle N`: N logged-in connections held open while answering pings; what
//! they cost the server in memory (and in CPU while nothing happens).

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use crate::error::BenchError;
use crate::proc_stats::{self, Window};

use super::{connect_many, note_failures, run_local, Outcome, Target};

pub struct Params {
    pub n: usize,
    /// Handshakes in flight while opening.
    pub in_flight: usize,
    /// How long to wait after the last connection before holding.
    pub settle: Duration,
    /// How long the connections are held while measured.
    pub hold: Duration,
}

/// Keys: `rss_before_kib`, `rss_held_kib`, `hwm_kib`, `kib_per_conn`,
/// `idle_server_cores` (server CPU while held, fraction of a core).
pub fn run(target: Rc<Target>, p: &Params) -> Result<(Outcome, String), BenchError> {
    let (n, k, settle, hold) = (p.n, p.in_flight, p.settle, p.hold);
    run_local(move |ex| {
        Box::pin(async move {
            let before = proc_stats::memory(target.pid)?;
            let (stop_tx, stop_rx) = smol::channel::bounded::<()>(1);
            let dropped = Rc::new(Cell::new(0u64));
            let pongs = Rc::new(Cell::new(0u64));
            let holders = Rc::new(std::cell::RefCell::new(Vec::new()));
            let spawner = ex.clone();
            let (d, po, h) = (dropped.clone(), pongs.clone(), holders.clone());
            let hold_one = Rc::new(move |_i: usize, mut client: crate::client::Client| {
                let (stop, d, po) = (stop_rx.clone(), d.clone(), po.clone());
                h.borrow_mut().push(spawner.spawn(async move {
                    let held = async {
                        loop {
                            if client.recv().await.is_err() {
                                d.set(d.get() + 1);
                                return;
                            }
                        }
                    };
                    smol::future::or(held, async {
                        let _ = stop.recv().await;
                    })
                    .await;
                    po.set(po.get() + client.pongs);
                }));
            });
            let opened = connect_many(&ex, &target, n, k, hold_one).await;
            smol::Timer::after(settle).await;
            let window = Window::start(&[target.pid])?;
            smol::Timer::after(hold).await;
            let held = proc_stats::memory(target.pid)?;
            let cpu = window.finish()?;
            let smaps = std::fs::read_to_string(format!("/proc/{}/smaps_rollup", target.pid))
                .unwrap_or_default();
            drop(stop_tx);
            let tasks: Vec<_> = holders.borrow_mut().drain(..).collect();
            for t in tasks {
                t.await;
            }

            let mut out = Outcome {
                cpu,
                ..Outcome::default()
            };
            note_failures(&mut out, &format!("idle {n}"), &opened);
            out.failed += dropped.get();
            if dropped.get() > 0 {
                out.notes.push(format!(
                    "idle {n}: {} connections dropped while held",
                    dropped.get()
                ));
            }
            out.set("rss_before_kib", before.rss_kib as f64);
            out.set("rss_held_kib", held.rss_kib as f64);
            out.set("hwm_kib", held.hwm_kib as f64);
            let per = (held.rss_kib as f64 - before.rss_kib as f64) / opened.ok.max(1) as f64;
            out.set("kib_per_conn", per);
            out.set("idle_server_cores", cpu.server_cores());
            out.set("open_rate", opened.ok as f64 / opened.elapsed.as_secs_f64());
            out.set("pongs", pongs.get() as f64);
            Ok((out, smaps))
        })
    })
}
