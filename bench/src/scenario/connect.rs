//! `connect`: N connections, K handshakes in flight; each one is a WebSocket
//! handshake, CONNECT and the `connected` event, then closed.

use std::rc::Rc;
use std::time::Duration;

use crate::error::BenchError;
use crate::proc_stats::Window;
use crate::window_cmd;

use super::{connect_many, note_failures, run_local, Outcome, Target};

pub struct Params {
    pub n: usize,
    pub in_flight: usize,
}

/// How long the server gets to tear the last connections down inside the window.
const SETTLE: Duration = Duration::from_millis(300);

/// Keys: `conn_rate` (per second), `conn_p50_ms`, `conn_p99_ms`, `cpu_per_conn_ms`.
pub fn run(target: Rc<Target>, p: &Params) -> Result<Outcome, BenchError> {
    let (n, k) = (p.n, p.in_flight);
    run_local(move |ex| {
        Box::pin(async move {
            window_cmd::start(target.pid)?;
            let window = Window::start(&[target.pid])?;
            let mut opened =
                connect_many(&ex, &target, n, k, Rc::new(|_, client| drop(client))).await;
            smol::Timer::after(SETTLE).await;
            let cpu = window.finish()?;
            window_cmd::stop(target.pid, "connect", opened.ok)?;
            let mut out = Outcome {
                cpu,
                ..Outcome::default()
            };
            note_failures(&mut out, &format!("connect {n}"), &opened);
            out.set("conn_rate", opened.ok as f64 / opened.elapsed.as_secs_f64());
            out.set_opt("conn_p50_ms", opened.latencies.percentile_ms(50.0));
            out.set_opt("conn_p99_ms", opened.latencies.percentile_ms(99.0));
            out.set(
                "cpu_per_conn_ms",
                cpu.server * 1000.0 / opened.ok.max(1) as f64,
            );
            Ok(out)
        })
    })
}
