//! `echo` and `count`: C clients, each in a closed loop of one event with an
//! ack: `echo` (answered at once) or `updateCount` (answered once the session's
//! new count is stored). On the floor (bare mode) the same text goes out and
//! comes back as it was: that is its `echo`.

use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::client::Client;
use crate::error::BenchError;
use crate::latency::Latencies;
use crate::proc_stats::Window;
use crate::window_cmd;

use super::{note_failures, open_clients, run_local, Outcome, Target};

pub struct Params {
    pub clients: usize,
    pub duration: Duration,
    /// The event each client emits: `echo` or `updateCount`.
    pub event: &'static str,
}

/// How long past the end a client may wait for its last ack.
const GRACE: Duration = Duration::from_secs(5);

/// One client's loop: acks received, their latencies, whether it broke.
async fn closed_loop(
    mut client: Client,
    event: &'static str,
    deadline: Instant,
) -> (u64, Latencies, Option<BenchError>) {
    let mut lat = Latencies::default();
    let mut acks = 0u64;
    let mut id = 0u64;
    while Instant::now() < deadline {
        id += 1;
        let t0 = Instant::now();
        // `updateCount` takes no argument but the ack (Node's handler
        // takes the ack first).
        let text = match event {
            "updateCount" => format!("42{id}[\"{event}\"]"),
            _ => format!("42{id}[\"{event}\",{{\"n\":{id}}}]"),
        };
        if let Err(e) = client.send(text).await {
            return (acks, lat, Some(e));
        }
        // The ack, or on the floor the message itself.
        let prefix = if client.is_bare() {
            format!("42{id}[")
        } else {
            format!("43{id}[")
        };
        loop {
            match client.recv_with(|p| p.starts_with(&prefix)).await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => return (acks, lat, Some(e)),
            }
        }
        acks += 1;
        lat.push_micros(t0.elapsed().as_micros() as u64);
    }
    (acks, lat, None)
}

/// Keys: `acks_per_s`, `echo_p50_ms`, `echo_p99_ms`, `cpu_per_ack_us`, `server_cores`.
pub fn run(target: Rc<Target>, p: &Params) -> Result<Outcome, BenchError> {
    let (c, duration, event) = (p.clients, p.duration, p.event);
    run_local(move |ex| {
        Box::pin(async move {
            let (clients, opened) = open_clients(&ex, &target, c, c.min(100)).await;
            window_cmd::start(target.pid)?;
            let window = Window::start(&[target.pid])?;
            let start = Instant::now();
            let deadline = start + duration;
            let tasks: Vec<_> = clients
                .into_iter()
                .map(|client| {
                    ex.spawn(smol::future::or(
                        closed_loop(client, event, deadline),
                        async move {
                            smol::Timer::at(deadline + GRACE).await;
                            (0, Latencies::default(), Some(BenchError::Timeout("ack")))
                        },
                    ))
                })
                .collect();
            let mut acks = 0;
            let mut lat = Latencies::default();
            let mut broken = 0u64;
            let mut first_error = None;
            for t in tasks {
                let (a, l, err) = t.await;
                acks += a;
                lat.extend(l);
                if let Some(e) = err {
                    broken += 1;
                    first_error.get_or_insert(e.to_string());
                }
            }
            let elapsed = start.elapsed();
            let cpu = window.finish()?;
            window_cmd::stop(target.pid, event, acks)?;
            let mut out = Outcome {
                cpu,
                ..Outcome::default()
            };
            note_failures(&mut out, &format!("{event} {c}"), &opened);
            if let Some(e) = first_error {
                out.failed += broken;
                out.notes
                    .push(format!("{event}: {broken} clients broke, first: {e}"));
            }
            out.set("acks_per_s", acks as f64 / elapsed.as_secs_f64());
            out.set_opt("echo_p50_ms", lat.percentile_ms(50.0));
            out.set_opt("echo_p99_ms", lat.percentile_ms(99.0));
            out.set("cpu_per_ack_us", cpu.server * 1e6 / acks.max(1) as f64);
            out.set("server_cores", cpu.server_cores());
            Ok(out)
        })
    })
}
