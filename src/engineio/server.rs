//! The Engine.IO server: request routing to the polling and WebSocket
//! transports over the engine's core (`engine.rs`), and the one task that runs
//! every session's heartbeat: it sleeps until the earliest deadline in the
//! engine's timers and steps the sessions due then.

use std::sync::Arc;

use http_types::{Method, Request, Response};
use smol::future::FutureExt;

use super::contain::contain;
use super::engine::{EngineError, EngineShared, Handler};
use super::request::HandshakeRequest;
use super::socket::{CloseReason, EngineSocket, Transport};
use super::{polling, websocket, EngineConfig, Protocol};
use crate::clock::Clock;
use crate::metrics::Metrics;

/// The longest the heartbeat sleeps, in milliseconds.
const SWEEP_MS: u64 = 1000;

/// An Engine.IO server. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    shared: Arc<EngineShared>,
}

impl Engine {
    /// An engine that hands its sessions to `handler`, with counters of its own.
    pub fn new(config: EngineConfig, handler: Arc<dyn Handler>) -> Engine {
        Engine::with_metrics(config, handler, Arc::default(), Clock::default())
    }

    /// An engine that counts what it does in `metrics` (which the layer above
    /// shares) and reads the time on `clock`.
    pub(crate) fn with_metrics(
        config: EngineConfig,
        handler: Arc<dyn Handler>,
        metrics: Arc<Metrics>,
        clock: Clock,
    ) -> Engine {
        Engine {
            shared: EngineShared::new(config, handler, metrics, clock),
        }
    }

    /// The configuration the engine was built with.
    pub fn config(&self) -> &EngineConfig {
        &self.shared.config
    }

    /// This engine's counters.
    pub fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }

    /// Whether a request path belongs to the transport.
    pub fn matches(&self, path: &str) -> bool {
        let base = &self.shared.config.path;
        path == base || path == base.trim_end_matches('/')
    }

    /// The number of open sessions.
    pub fn session_count(&self) -> usize {
        self.shared.lock().len()
    }

    /// Every open session, taken out of the table's lock.
    fn sockets(&self) -> Vec<Arc<EngineSocket>> {
        self.shared
            .lock()
            .values()
            .map(|s| s.socket.clone())
            .collect()
    }

    /// The open sessions on polling and on WebSocket, in that order.
    pub fn transport_counts(&self) -> (usize, usize) {
        let sockets = self.sockets();
        let websocket = sockets
            .iter()
            .filter(|s| s.transport() == Transport::WebSocket)
            .count();
        (sockets.len() - websocket, websocket)
    }

    /// Answers one request on the transport's path. A WebSocket upgrade
    /// needs the request to come from [`crate::http::serve`], which attaches
    /// the connection ([`crate::http::Upgrade`]); without it the
    /// upgrade is refused and clients stay on polling.
    ///
    /// The request is borrowed, not moved down the layers: each `async fn`
    /// holding it would keep its own copy (400 bytes) in the connection's task.
    pub async fn handle(&self, req: &mut Request) -> Response {
        let query = TransportQuery::of(req);
        let handshake = query.sid.is_none();
        match self.route(req, query).await {
            Ok(res) => res,
            Err(err) => {
                if let Some(why) = err.refusal().filter(|_| handshake) {
                    self.shared.metrics.refused(why);
                }
                err.response()
            }
        }
    }

    async fn route(
        &self,
        req: &mut Request,
        query: TransportQuery,
    ) -> Result<Response, EngineError> {
        let shared = &self.shared;
        if query.protocol == Protocol::V3 && !shared.config.allow_eio3 {
            return Err(EngineError::UnsupportedProtocolVersion);
        }
        let transport = query.transport.ok_or(EngineError::UnknownTransport)?;
        if let Err(why) = shared.handler.allow_request(req) {
            log::warn!("refused a transport request: {why}");
            return Err(EngineError::Forbidden);
        }
        match (transport, query.sid) {
            (Transport::WebSocket, sid) => websocket::accept(shared.clone(), req, sid).await,
            (_, None) if req.method() == Method::Get => {
                let session =
                    shared.open(Transport::Polling, HandshakeRequest::from_request(req))?;
                Ok(polling::handshake_response(shared, &session.socket))
            }
            (_, None) => Err(EngineError::BadHandshakeMethod),
            (_, Some(sid)) => {
                let session = shared.get(&sid).ok_or(EngineError::UnknownSid)?;
                match req.method() {
                    Method::Get => polling::poll(shared, &session).await,
                    Method::Post => polling::post(shared, &session, req).await,
                    _ => Err(EngineError::BadRequest),
                }
            }
        }
    }

    /// Steps every session's heartbeat when it is due: pings, closes the
    /// silent ones, ends the closing ones; runs until the engine is dropped.
    pub async fn run_heartbeat(&self) {
        let shared = &self.shared;
        let mut due = Vec::new();
        loop {
            let host = &shared.host;
            let earlier = host.timers.listen();
            let now = host.now();
            let next = host.timers.take_due(now, &mut due);
            for (at, sid) in due.drain(..) {
                let Some(session) = shared.get(&sid) else {
                    continue;
                };
                let step = contain(|| {
                    if session.socket.on_timer(at, now, host) {
                        session.conn.on_tick();
                    }
                });
                if let Err(panic) = step {
                    shared.panicked(&session, "its heartbeat", &panic);
                }
            }
            {
                let sessions = shared.lock();
                host.timers
                    .compact(sessions.len(), |sid| sessions.contains_key(sid));
            }
            // Awake at least once a second, so that the entries of closed
            // sessions are compacted even while none comes due.
            let wake = next.map_or(now + SWEEP_MS, |at| at.min(now + SWEEP_MS));
            if wake > host.now() {
                host.sleep_until(wake).or(earlier).await;
            }
        }
    }

    /// Closes every session (at shutdown).
    pub fn close_all(&self, reason: CloseReason) {
        for socket in self.sockets() {
            socket.close(reason);
        }
    }
}

/// What a transport request's query says, read in one pass (a parameter
/// given twice counts as given last).
struct TransportQuery {
    protocol: Protocol,
    transport: Option<Transport>,
    sid: Option<String>,
}

impl TransportQuery {
    fn of(req: &Request) -> TransportQuery {
        let (mut protocol, mut transport, mut sid) = (None, None, None);
        for (key, value) in req.url().query_pairs() {
            match &*key {
                "EIO" => protocol = Some(Protocol::from_eio(Some(&value))),
                "transport" => {
                    transport = Some(match &*value {
                        "polling" => Some(Transport::Polling),
                        "websocket" => Some(Transport::WebSocket),
                        _ => None,
                    })
                }
                "sid" => sid = Some(value.into_owned()),
                _ => {}
            }
        }
        TransportQuery {
            protocol: protocol.unwrap_or_else(|| Protocol::from_eio(None)),
            transport: transport.flatten(),
            sid,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    use std::sync::Mutex;

    use super::*;
    use crate::clock::ManualClock;
    use crate::engineio::engine::{Connection, Session};
    use crate::engineio::packet::{Frame, Message, Packet};

    /// The layer above: counts closes; a message `"panic"` panics.
    #[derive(Default)]
    struct Above {
        closed: Arc<AtomicUsize>,
    }

    struct Conn(Arc<AtomicUsize>);

    impl Handler for Above {
        fn open(&self, _: Arc<EngineSocket>, _: HandshakeRequest) -> Arc<dyn Connection> {
            Arc::new(Conn(self.closed.clone()))
        }
    }

    impl Connection for Conn {
        fn on_message(&self, message: Message) {
            if message == Message::Text("panic".into()) {
                panic!("a handler's bug");
            }
        }
        fn on_close(&self, _: CloseReason) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn engine(max_pending_sessions: usize) -> (Arc<EngineShared>, Arc<AtomicUsize>) {
        let above = Above::default();
        let closed = above.closed.clone();
        let config = EngineConfig {
            max_pending_sessions,
            ..EngineConfig::default()
        };
        (Engine::new(config, Arc::new(above)).shared, closed)
    }

    fn open(shared: &Arc<EngineShared>, peer: &str) -> Result<Session, EngineError> {
        shared.open(Transport::Polling, HandshakeRequest::from_peer(peer))
    }

    #[test]
    fn the_request_s_revision_picks_who_pings() {
        let (shared, _) = engine(10);
        let request = HandshakeRequest::from_peer("10.0.0.1:1").with_protocol(Protocol::V3);
        let v3 = shared.open(Transport::Polling, request).unwrap();
        shared.receive(&v3, Packet::Ping(String::new()));
        let mut frames = Vec::new();
        assert_eq!(v3.socket.take_frames(&mut frames), None);
        assert_eq!(frames, [Frame::pong()]);
        let v4 = open(&shared, "10.0.0.1:2").unwrap();
        shared.receive(&v4, Packet::Ping(String::new()));
        assert!(v4.socket.is_closed(), "a v4 client may not ping");
    }

    /// The layer above for the heartbeat's tests: records ticks and closes;
    /// when opened, may ask for a tick and then take its time.
    struct Ticking {
        log: Arc<Mutex<Vec<(Instant, &'static str)>>>,
        tick_after: Option<Duration>,
        slow_open: Duration,
    }

    struct Ticked(Arc<Mutex<Vec<(Instant, &'static str)>>>);

    impl Handler for Ticking {
        fn open(&self, socket: Arc<EngineSocket>, _: HandshakeRequest) -> Arc<dyn Connection> {
            if let Some(delay) = self.tick_after {
                socket.tick_after(delay);
            }
            std::thread::sleep(self.slow_open);
            Arc::new(Ticked(self.log.clone()))
        }
    }

    impl Connection for Ticked {
        fn on_message(&self, _: Message) {}
        fn on_close(&self, reason: CloseReason) {
            self.0
                .lock()
                .unwrap()
                .push((Instant::now(), reason.as_str()));
        }
        fn on_tick(&self) {
            self.0.lock().unwrap().push((Instant::now(), "tick"));
        }
    }

    type Log = Arc<Mutex<Vec<(Instant, &'static str)>>>;

    /// An engine (ping interval and timeout in ms) whose heartbeat runs on
    /// `clock`.
    fn beating_on(
        clock: Clock,
        interval: u64,
        timeout: u64,
        above: Ticking,
    ) -> (Engine, smol::Task<()>) {
        let config = EngineConfig {
            ping_interval: Duration::from_millis(interval),
            ping_timeout: Duration::from_millis(timeout),
            ..EngineConfig::default()
        };
        let engine = Engine::with_metrics(config, Arc::new(above), Arc::default(), clock);
        let heartbeat = smol::spawn({
            let engine = engine.clone();
            async move { engine.run_heartbeat().await }
        });
        (engine, heartbeat)
    }

    /// An engine whose heartbeat runs on the system clock.
    fn beating(interval: u64, timeout: u64, above: Ticking) -> (Engine, smol::Task<()>) {
        beating_on(Clock::system(), interval, timeout, above)
    }

    /// An engine whose heartbeat runs on a manual clock, and that clock.
    fn beating_manually(
        interval: u64,
        timeout: u64,
        above: Ticking,
    ) -> (Engine, smol::Task<()>, ManualClock) {
        let clock = ManualClock::new();
        let (engine, heartbeat) = beating_on(clock.clock(), interval, timeout, above);
        (engine, heartbeat, clock)
    }

    /// Moves `clock` on by `ms`, and gives the heartbeat's task a moment
    /// (real time) to act on it.
    fn advance(clock: &ManualClock, ms: u64) {
        clock.advance(Duration::from_millis(ms));
        std::thread::sleep(Duration::from_millis(50));
    }

    fn closed(log: &Log) -> Option<&'static str> {
        let log = log.lock().unwrap();
        log.iter()
            .map(|(_, what)| *what)
            .find(|what| *what != "tick")
    }

    fn ticking(tick_after: Option<Duration>, slow_open: Duration) -> (Ticking, Log) {
        let log = Log::default();
        let above = Ticking {
            log: log.clone(),
            tick_after,
            slow_open,
        };
        (above, log)
    }

    /// Waits (2 s at most) until `done` holds; returns when it first did.
    fn wait_until(mut done: impl FnMut() -> bool) -> Instant {
        let give_up = Instant::now() + Duration::from_secs(2);
        while !done() {
            assert!(Instant::now() < give_up, "timed out");
            std::thread::sleep(Duration::from_millis(1));
        }
        Instant::now()
    }

    /// Whether frames queued for `session` include a ping (taking them).
    fn pinged(session: &Session) -> bool {
        let mut frames = Vec::new();
        session.socket.take_frames(&mut frames);
        frames.contains(&Frame::ping())
    }

    fn ms(from: Instant, to: Instant) -> u128 {
        to.duration_since(from).as_millis()
    }

    #[test]
    fn the_heartbeat_pings_when_due_and_closes_a_silent_session() {
        let (above, log) = ticking(None, Duration::ZERO);
        let (engine, _heartbeat, clock) = beating_manually(60, 40, above);
        let session = open(&engine.shared, "10.0.0.1:1").unwrap();
        advance(&clock, 59);
        assert!(!pinged(&session), "pinged before the interval");
        advance(&clock, 1);
        wait_until(|| pinged(&session));
        advance(&clock, 39);
        assert_eq!(closed(&log), None, "closed before the timeout");
        advance(&clock, 1);
        wait_until(|| closed(&log).is_some());
        assert_eq!(closed(&log), Some("ping timeout"));
        assert_eq!(engine.session_count(), 0);
    }

    #[test]
    fn the_heartbeat_pings_on_the_system_clock_too() {
        let (above, _) = ticking(None, Duration::ZERO);
        let (engine, _heartbeat) = beating(60, 40, above);
        let start = Instant::now();
        let session = open(&engine.shared, "10.0.0.1:1").unwrap();
        let ping = wait_until(|| pinged(&session));
        assert!(ms(start, ping) >= 59, "pinged after {} ms", ms(start, ping));
    }

    #[test]
    fn a_pong_keeps_the_session_and_the_next_ping_comes_an_interval_later() {
        let (above, log) = ticking(None, Duration::ZERO);
        let (engine, _heartbeat, clock) = beating_manually(60, 40, above);
        let session = open(&engine.shared, "10.0.0.1:1").unwrap();
        advance(&clock, 60);
        for _ in 0..3 {
            wait_until(|| pinged(&session));
            advance(&clock, 10);
            engine.shared.receive(&session, Packet::Pong(String::new()));
            advance(&clock, 59);
            assert!(!pinged(&session), "pinged before an interval passed");
            advance(&clock, 1);
        }
        wait_until(|| pinged(&session));
        assert!(!session.socket.is_closed());
        assert_eq!(closed(&log), None);
    }

    #[test]
    fn the_layer_above_is_ticked_when_it_asked() {
        let (above, log) = ticking(Some(Duration::from_millis(30)), Duration::ZERO);
        let (engine, _heartbeat, clock) = beating_manually(10_000, 10_000, above);
        let _session = open(&engine.shared, "10.0.0.1:1").unwrap();
        // Rounded up to the next whole millisecond: never early.
        advance(&clock, 30);
        assert!(log.lock().unwrap().is_empty(), "ticked early");
        advance(&clock, 1);
        wait_until(|| !log.lock().unwrap().is_empty());
        assert_eq!(log.lock().unwrap()[0].1, "tick");
    }

    #[test]
    fn a_timer_due_while_the_session_opens_does_not_stop_its_heartbeat() {
        // The tick asked for comes due before the session is in the table.
        let (above, _) = ticking(Some(Duration::ZERO), Duration::from_millis(30));
        let (engine, _heartbeat) = beating(60, 1000, above);
        let session = open(&engine.shared, "10.0.0.1:1").unwrap();
        wait_until(|| pinged(&session));
    }

    #[test]
    fn the_timers_of_closed_sessions_do_not_pile_up() {
        let (above, _) = ticking(None, Duration::ZERO);
        let (engine, _heartbeat) = beating(10_000, 10_000, above);
        for _ in 0..3000 {
            let session = open(&engine.shared, "10.0.0.1:1").unwrap();
            session.socket.close(CloseReason::TransportClose);
        }
        // Within the heartbeat's second of sleep at most.
        wait_until(|| engine.shared.host.timers.len() <= 1024);
    }

    #[test]
    fn sessions_not_established_are_capped_per_address() {
        let (shared, _) = engine(2);
        let a1 = open(&shared, "10.0.0.1:1000").unwrap();
        let a2 = open(&shared, "10.0.0.1:1001").unwrap();
        assert_eq!(
            open(&shared, "10.0.0.1:1002").err(),
            Some(EngineError::TooManyPending)
        );
        // Another address is not affected.
        open(&shared, "10.0.0.2:1000").unwrap();
        // An established session no longer counts, nor does a closed one.
        a1.socket.established();
        let a3 = open(&shared, "10.0.0.1:1003").unwrap();
        assert!(open(&shared, "10.0.0.1:1004").is_err());
        a2.socket.close(CloseReason::TransportClose);
        open(&shared, "10.0.0.1:1005").unwrap();
        // Established twice, or closed after, gives back nothing more.
        a1.socket.established();
        a1.socket.close(CloseReason::TransportClose);
        assert!(open(&shared, "10.0.0.1:1006").is_err());
        a3.socket.close(CloseReason::TransportClose);
        // One of the two counts is left (1005's): room for one more.
        open(&shared, "10.0.0.1:1007").unwrap();
        assert!(open(&shared, "10.0.0.1:1008").is_err());
    }

    #[test]
    fn a_panicking_handler_closes_its_session_only() {
        let (shared, closed) = engine(10);
        let victim = open(&shared, "10.0.0.1:1").unwrap();
        let other = open(&shared, "10.0.0.1:2").unwrap();
        shared.receive(&victim, Packet::Message(Message::Text("panic".into())));
        assert!(victim.socket.is_closed());
        assert_eq!(closed.load(Ordering::Relaxed), 1);
        shared.receive(&other, Packet::Message(Message::Text("fine".into())));
        assert!(!other.socket.is_closed());
        assert_eq!(shared.lock().len(), 1);
    }
}
