//! The Socket.IO server: its namespaces on top of one Engine.IO server.

use std::sync::Arc;
use std::time::Duration;

use http_types::{Request, Response};

#[cfg(feature = "cluster")]
use super::adapter::Cluster;
use super::client::{Client, Namespaces};
use super::limits::Limits;
#[cfg(feature = "cluster")]
use super::namespace::WeakNsp;
use super::namespace::{Broadcast, Namespace, Nsp};
use super::observer::Observer;
use super::payload::Payload;
use super::recovery::{Recovery, RecoveryConfig};
use crate::clock::Clock;
use crate::engineio::{
    CloseReason, Connection, Engine, EngineConfig, EngineSocket, Handler, HandshakeRequest,
};
use crate::metrics::Metrics;

/// How often recovery state past its window is let go of when no emit or
/// reconnect does it first.
pub(crate) const RECOVERY_SWEEP: Duration = Duration::from_secs(5);

type RequestCheck = dyn Fn(&Request) -> Result<(), String> + Send + Sync;
#[cfg(feature = "cluster")]
type AttachCluster = dyn FnMut(WeakNsp) -> Arc<dyn Cluster>;

/// Builds an [`Io`] server.
pub struct IoBuilder {
    config: EngineConfig,
    limits: Limits,
    connect_timeout: Duration,
    namespaces: Vec<Namespace>,
    check: Option<Box<RequestCheck>>,
    recovery: RecoveryConfig,
    observer: Option<Arc<dyn Observer>>,
    #[cfg(feature = "cluster")]
    cluster: Option<Box<AttachCluster>>,
    clock: Clock,
}

impl IoBuilder {
    /// Engine.IO settings (path, heartbeats, limits).
    pub fn config(mut self, config: EngineConfig) -> IoBuilder {
        self.config = config;
        self
    }

    /// Per-client caps (acknowledgements, attachments, rooms, JSON nesting).
    pub fn limits(mut self, limits: Limits) -> IoBuilder {
        self.limits = limits;
        self
    }

    /// How long a client may stay connected without joining a namespace
    /// (45 s by default, as Node's `connectTimeout`).
    pub fn connect_timeout(mut self, timeout: Duration) -> IoBuilder {
        self.connect_timeout = timeout;
        self
    }

    /// Connection state recovery (off unless set; a zero window turns it
    /// off): sockets that drop come back with their id, rooms, extensions
    /// and the events they missed. See [`RecoveryConfig`].
    pub fn recovery(mut self, config: RecoveryConfig) -> IoBuilder {
        self.recovery = config;
        self
    }

    /// The clock the server reads and sleeps on (heartbeats, the join
    /// deadline, ack timeouts, recovery windows): the system's unless set;
    /// a [`crate::clock::ManualClock`]'s in tests.
    pub fn clock(mut self, clock: Clock) -> IoBuilder {
        self.clock = clock;
        self
    }

    /// Adds a namespace; `/` exists even when not added.
    pub fn namespace(mut self, namespace: Namespace) -> IoBuilder {
        self.namespaces.retain(|n| n.name() != namespace.name());
        self.namespaces.push(namespace);
        self
    }

    /// Checks every transport request before anything else (an origin check,
    /// say); an `Err` refuses it with 403.
    pub fn check_request(
        mut self,
        check: impl Fn(&Request) -> Result<(), String> + Send + Sync + 'static,
    ) -> IoBuilder {
        self.check = Some(Box::new(check));
        self
    }

    /// Makes this server one of a cluster: `attach` gives each namespace
    /// its [`Cluster`] (see [`crate::socketio::Cluster`]). With the `cluster`
    /// feature only (the `redis` feature turns it on), so that a build without
    /// a cluster carries none of the code that talks to one.
    #[cfg(feature = "cluster")]
    pub fn cluster(
        mut self,
        attach: impl FnMut(WeakNsp) -> Arc<dyn Cluster> + 'static,
    ) -> IoBuilder {
        self.cluster = Some(Box::new(attach));
        self
    }

    /// Tells `observer` of every namespace's sockets and rooms.
    pub(crate) fn observer(mut self, observer: Arc<dyn Observer>) -> IoBuilder {
        self.observer = Some(observer);
        self
    }

    /// The server, with a `/` namespace added if none was given.
    pub fn build(mut self) -> Io {
        if !self.namespaces.iter().any(|n| n.name() == "/") {
            self.namespaces.push(Namespace::new("/"));
        }
        let metrics = Arc::new(Metrics::default());
        let max_queued = self.config.max_queued_bytes;
        let by_name = self
            .namespaces
            .into_iter()
            .map(|n| {
                let on = !self.recovery.window.is_zero();
                let recovery =
                    on.then(|| Recovery::new(self.recovery, max_queued, self.clock.clone()));
                (
                    n.name().to_owned(),
                    n.build(
                        recovery,
                        self.observer.clone(),
                        metrics.clone(),
                        &self.clock,
                    ),
                )
            })
            .collect();
        let namespaces = Namespaces::new(by_name, metrics.clone(), self.clock.clone());
        #[cfg(feature = "cluster")]
        if let Some(attach) = &mut self.cluster {
            for nsp in namespaces.values() {
                nsp.attach(attach(Nsp::new(nsp.clone()).downgrade()));
            }
        }
        let shared = Arc::new(Shared {
            namespaces: Arc::new(namespaces),
            check: self.check,
            limits: self.limits,
            connect_timeout: self.connect_timeout,
        });
        Io {
            engine: Engine::with_metrics(self.config, shared.clone(), metrics, self.clock),
            shared,
        }
    }
}

struct Shared {
    namespaces: Arc<Namespaces>,
    check: Option<Box<RequestCheck>>,
    limits: Limits,
    connect_timeout: Duration,
}

impl Handler for Shared {
    fn allow_request(&self, req: &Request) -> Result<(), String> {
        self.check.as_ref().map_or(Ok(()), |check| check(req))
    }

    fn open(&self, socket: Arc<EngineSocket>, request: HandshakeRequest) -> Arc<dyn Connection> {
        let client = Client::new(
            socket,
            request,
            self.namespaces.clone(),
            self.limits,
            self.connect_timeout,
        );
        client.open_v4_protocol();
        client
    }
}

/// A Socket.IO server. Cheap to clone.
#[derive(Clone)]
pub struct Io {
    engine: Engine,
    shared: Arc<Shared>,
}

impl Io {
    /// A builder with the default configuration and no namespaces.
    pub fn builder() -> IoBuilder {
        IoBuilder {
            config: EngineConfig::default(),
            limits: Limits::default(),
            connect_timeout: Duration::from_secs(45),
            namespaces: Vec::new(),
            check: None,
            observer: None,
            #[cfg(feature = "cluster")]
            cluster: None,
            clock: Clock::default(),
            recovery: RecoveryConfig {
                window: Duration::ZERO,
                ..RecoveryConfig::default()
            },
        }
    }

    /// Whether a request path is the Socket.IO endpoint.
    pub fn matches(&self, path: &str) -> bool {
        self.engine.matches(path)
    }

    /// Answers a request to the Socket.IO endpoint.
    pub async fn handle(&self, mut req: Request) -> Response {
        self.engine.handle(&mut req).await
    }

    /// Runs the heartbeat of every connection, and lets go of recovery state
    /// the window has passed in namespaces gone quiet; spawn it once.
    pub async fn run_heartbeat(&self) {
        let clock = &self.shared.namespaces.clock;
        let sweep = async {
            loop {
                clock.sleep_until(clock.now() + RECOVERY_SWEEP).await;
                for nsp in self.shared.namespaces.values() {
                    if let Some(recovery) = &nsp.recovery {
                        recovery.expire(recovery.now());
                    }
                }
            }
        };
        smol::future::or(self.engine.run_heartbeat(), sweep).await
    }

    /// Closes every connection (at shutdown).
    pub fn close_all(&self) {
        self.engine.close_all(CloseReason::ServerShutdown);
    }

    /// The number of open Engine.IO connections.
    pub fn connection_count(&self) -> usize {
        self.engine.session_count()
    }

    /// The open Engine.IO connections on polling and on WebSocket.
    pub fn transport_counts(&self) -> (usize, usize) {
        self.engine.transport_counts()
    }

    /// Every namespace.
    pub fn namespaces(&self) -> Vec<Nsp> {
        self.shared
            .namespaces
            .values()
            .cloned()
            .map(Nsp::new)
            .collect()
    }

    /// A namespace by name.
    pub fn of(&self, name: &str) -> Option<Nsp> {
        self.shared.namespaces.get(name).cloned().map(Nsp::new)
    }

    /// The clock this server reads.
    #[cfg(test)]
    pub(crate) fn clock(&self) -> &Clock {
        &self.shared.namespaces.clock
    }

    fn root(&self) -> Nsp {
        Nsp::new(self.shared.namespaces.root().clone())
    }

    /// This server's counters (what `/metrics` shows of its transports and
    /// namespaces).
    pub fn metrics(&self) -> &Metrics {
        &self.shared.namespaces.metrics
    }

    /// A broadcast to `room` of the `/` namespace.
    pub fn to(&self, room: &str) -> Broadcast {
        self.root().to(room)
    }

    /// Emits to every socket of the `/` namespace.
    pub fn emit(&self, event: &str, payload: impl Into<Payload>) {
        self.root().emit(event, payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str) -> Request {
        let url = format!("http://localhost{path}");
        match http_types::Url::parse(&url) {
            Ok(url) => Request::new(http_types::Method::Get, url),
            Err(err) => panic!("{url}: {err}"),
        }
    }

    #[test]
    fn two_servers_in_one_process_count_apart() {
        let (one, two) = (Io::builder().build(), Io::builder().build());
        smol::block_on(async {
            let open = one.handle(get("/socket.io/?EIO=4&transport=polling")).await;
            assert_eq!(open.status(), http_types::StatusCode::Ok);
            let refused = two.handle(get("/socket.io/?EIO=4&transport=pigeon")).await;
            assert_eq!(refused.status(), http_types::StatusCode::BadRequest);
        });
        assert_eq!(one.metrics().packets_out.get(), 1, "the open packet");
        assert_eq!(two.metrics().packets_out.get(), 0);
        let refusals = |io: &Io| {
            let families = io.metrics().families();
            let refused = families
                .iter()
                .find(|f| f.name == "sessio_handshakes_refused_total")
                .map_or(0.0, |f| f.samples.iter().map(|s| s.value).sum());
            refused
        };
        assert_eq!((refusals(&one), refusals(&two)), (0.0, 1.0));
    }
}
