//! The scenarios, and what they share: the server under test, the logged-in
//! sessions, and opening many connections with a bounded number in flight.

pub mod broadcast;
pub mod connect;
pub mod echo;
pub mod idle;
pub mod soak;

use std::cell::{Cell, RefCell};
use std::net::IpAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use smol::LocalExecutor;

use crate::client::Client;
use crate::latency::Latencies;
use crate::proc_stats::CpuUse;

pub type Executor = Rc<LocalExecutor<'static>>;

/// A running server and the session cookies to connect with.
pub struct Target {
    pub addr: String,
    pub pid: u32,
    /// One cookie per logged-in session; connection i uses `cookies[i % len]`
    /// (none for the floor).
    pub cookies: Vec<String>,
    /// A plain WebSocket server (the floor): no Engine.IO, no Socket.IO.
    pub bare: bool,
    /// How long one handshake may take.
    pub connect_timeout: Duration,
    /// When not empty, connection i comes from `sources[i % len]`, the
    /// address its session logged in from (a balancer that hashes the
    /// client's address then keeps a session's sockets on its node).
    pub sources: Vec<IpAddr>,
}

impl Target {
    pub fn cookie(&self, i: usize) -> &str {
        match self.cookies.len() {
            0 => "",
            len => &self.cookies[i % len],
        }
    }

    pub fn source(&self, i: usize) -> Option<IpAddr> {
        match self.sources.len() {
            0 => None,
            len => Some(self.sources[i % len]),
        }
    }
}

/// What a scenario measured: named figures, the CPU window they come from,
/// failed connections and lost messages.
#[derive(Default)]
pub struct Outcome {
    pub figures: Vec<(&'static str, f64)>,
    pub cpu: CpuUse,
    pub failed: u64,
    pub lost: u64,
    pub notes: Vec<String>,
}

impl Outcome {
    pub fn set(&mut self, key: &'static str, value: f64) {
        self.figures.push((key, value));
    }
    pub fn set_opt(&mut self, key: &'static str, value: Option<f64>) {
        if let Some(v) = value {
            self.set(key, v);
        }
    }
}

/// The result of opening many connections.
#[derive(Default)]
pub struct Opened {
    pub ok: u64,
    pub failed: u64,
    pub first_error: Option<String>,
    pub latencies: Latencies,
    pub elapsed: Duration,
}

/// Opens `n` connections with at most `k` handshakes in flight; each one that
/// reaches `connected` is handed to `on_open` with its index.
pub async fn connect_many(
    ex: &Executor,
    target: &Rc<Target>,
    n: usize,
    k: usize,
    on_open: Rc<dyn Fn(usize, Client)>,
) -> Opened {
    let start = Instant::now();
    let next = Rc::new(Cell::new(0usize));
    let opened = Rc::new(RefCell::new(Opened::default()));
    let workers: Vec<_> = (0..k.clamp(1, n.max(1)))
        .map(|_| {
            let (next, opened, target, on_open) = (
                next.clone(),
                opened.clone(),
                target.clone(),
                on_open.clone(),
            );
            ex.spawn(async move {
                loop {
                    let i = next.get();
                    if i >= n {
                        break;
                    }
                    next.set(i + 1);
                    let t0 = Instant::now();
                    let result = Client::connect(
                        &target.addr,
                        target.cookie(i),
                        target.bare,
                        target.connect_timeout,
                        target.source(i),
                    )
                    .await;
                    let mut o = opened.borrow_mut();
                    match result {
                        Ok(client) => {
                            o.ok += 1;
                            o.latencies.push_micros(t0.elapsed().as_micros() as u64);
                            drop(o);
                            on_open(i, client);
                        }
                        Err(e) => {
                            o.failed += 1;
                            o.first_error.get_or_insert_with(|| e.to_string());
                        }
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.await;
    }
    let mut result = std::mem::take(&mut *opened.borrow_mut());
    result.elapsed = start.elapsed();
    result
}

/// Opens `n` connections and returns them in index order (failed ones left out).
pub async fn open_clients(
    ex: &Executor,
    target: &Rc<Target>,
    n: usize,
    k: usize,
) -> (Vec<Client>, Opened) {
    let slots: Rc<RefCell<Vec<Option<Client>>>> =
        Rc::new(RefCell::new((0..n).map(|_| None).collect()));
    let sink = slots.clone();
    let opened = connect_many(
        ex,
        target,
        n,
        k,
        Rc::new(move |i, c| sink.borrow_mut()[i] = Some(c)),
    )
    .await;
    let clients = slots.borrow_mut().drain(..).flatten().collect();
    (clients, opened)
}

/// Records failed connections of an `Opened` in an outcome.
pub fn note_failures(out: &mut Outcome, what: &str, opened: &Opened) {
    out.failed += opened.failed;
    if let Some(e) = &opened.first_error {
        out.notes.push(format!(
            "{what}: {} connections failed, first: {e}",
            opened.failed
        ));
    }
}

/// Runs a scenario on a fresh single-threaded executor (the load generator
/// is one thread pinned to one core).
pub fn run_local<T: 'static>(
    f: impl FnOnce(Executor) -> std::pin::Pin<Box<dyn std::future::Future<Output = T>>>,
) -> T {
    let ex: Executor = Rc::new(LocalExecutor::new());
    smol::block_on(ex.run(f(ex.clone())))
}

/// Microseconds since `epoch`.
pub fn micros_since(epoch: Instant) -> u64 {
    epoch.elapsed().as_micros() as u64
}
