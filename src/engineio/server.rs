//! The Engine.IO server: the session table, the handshake, request routing to
//! the polling and WebSocket transports, and the one task that runs every
//! session's heartbeat: it sleeps until the earliest deadline in its
//! [`Timers`] and steps the sessions due then.
//!
//! Sessions that have not joined a namespace yet are counted per client
//! address and capped, so one address cannot fill the session table before
//! anyone has authenticated.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use http_types::{Method, Request, Response, StatusCode};
use smol::future::FutureExt;

use super::cap::Cap;
use super::contain::contain;
use super::machine::{Event as SessionEvent, Heartbeat, Machine, Timing};
use super::packet::{Frame, Message, Packet};
use super::request::HandshakeRequest;
use super::socket::{CloseReason, EngineSocket, Transport};
use super::timers::Timers;
use super::{polling, sid, websocket, EngineConfig, Protocol};
use crate::metrics::{Metrics, Refusal};

/// The longest the heartbeat sleeps, in milliseconds.
const SWEEP_MS: u64 = 1000;

/// What the layer above Engine.IO provides.
pub trait Handler: Send + Sync + 'static {
    /// Decides whether a request may reach the transport at all (an origin
    /// check, say). An `Err` answers 403 with its text logged.
    fn allow_request(&self, _req: &Request) -> Result<(), String> {
        Ok(())
    }

    /// A session opened; returns what receives its messages.
    fn open(&self, socket: Arc<EngineSocket>, request: HandshakeRequest) -> Arc<dyn Connection>;
}

/// The receiving end of one session, owned by the layer above.
pub trait Connection: Send + Sync {
    fn on_message(&self, message: Message);
    fn on_close(&self, reason: CloseReason);
    /// Called at each of the session's heartbeat steps and at the times
    /// asked with [`EngineSocket::tick_after`], so the layer above can end a
    /// session it has no use for without a timer of its own.
    fn on_tick(&self) {}
    /// The session moved from polling to WebSocket.
    fn on_upgrade(&self) {}
}

/// An Engine.IO server. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    shared: Arc<EngineShared>,
}

pub(crate) struct EngineShared {
    pub(crate) config: EngineConfig,
    sessions: Mutex<HashMap<Arc<str>, Session>>,
    /// Per address: sessions not established yet, and whether a refusal
    /// was logged since it reached the cap.
    pending: Mutex<HashMap<IpAddr, (usize, bool)>>,
    handler: Arc<dyn Handler>,
    epoch: Instant,
    /// When each session next needs its heartbeat stepped.
    pub(crate) timers: Timers,
    /// The counters of the server this engine carries.
    pub(crate) metrics: Arc<Metrics>,
}

/// A session as the engine keeps it.
#[derive(Clone)]
pub(crate) struct Session {
    pub(crate) socket: Arc<EngineSocket>,
    pub(crate) conn: Arc<dyn Connection>,
}

/// The protocol's error codes, as the Node server sends them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EngineError {
    UnknownTransport,
    UnknownSid,
    BadHandshakeMethod,
    BadRequest,
    Forbidden,
    UnsupportedProtocolVersion,
    /// The session limit is reached.
    Full,
    /// The address holds as many sessions not yet established as it may.
    TooManyPending,
}

impl EngineError {
    /// The error as a refused handshake's reason (a session's own requests
    /// for an unknown one are not handshakes).
    pub(crate) fn refusal(self) -> Option<Refusal> {
        Some(match self {
            EngineError::UnknownTransport => Refusal::UnknownTransport,
            EngineError::UnknownSid => return None,
            EngineError::BadHandshakeMethod => Refusal::BadHandshakeMethod,
            EngineError::BadRequest => Refusal::BadRequest,
            EngineError::Forbidden => Refusal::Forbidden,
            EngineError::UnsupportedProtocolVersion => Refusal::UnsupportedProtocolVersion,
            EngineError::Full => Refusal::ServerFull,
            EngineError::TooManyPending => Refusal::TooManyPending,
        })
    }

    pub(crate) fn response(self) -> Response {
        let (code, message, status) = match self {
            EngineError::UnknownTransport => (0, "Transport unknown", StatusCode::BadRequest),
            EngineError::UnknownSid => (1, "Session ID unknown", StatusCode::BadRequest),
            EngineError::BadHandshakeMethod => (2, "Bad handshake method", StatusCode::BadRequest),
            EngineError::BadRequest => (3, "Bad request", StatusCode::BadRequest),
            EngineError::Forbidden => (4, "Forbidden", StatusCode::Forbidden),
            EngineError::UnsupportedProtocolVersion => {
                (5, "Unsupported protocol version", StatusCode::BadRequest)
            }
            EngineError::Full => (3, "Server full", StatusCode::ServiceUnavailable),
            EngineError::TooManyPending => {
                (3, "Too many pending sessions", StatusCode::TooManyRequests)
            }
        };
        let mut res = Response::new(status);
        res.insert_header("content-type", "application/json");
        res.set_body(format!(r#"{{"code":{code},"message":"{message}"}}"#));
        res
    }
}

impl Engine {
    /// An engine that hands its sessions to `handler`, with counters of its own.
    pub fn new(config: EngineConfig, handler: Arc<dyn Handler>) -> Engine {
        Engine::with_metrics(config, handler, Arc::default())
    }

    /// An engine that counts what it does in `metrics` (which the layer above
    /// shares).
    pub(crate) fn with_metrics(
        config: EngineConfig,
        handler: Arc<dyn Handler>,
        metrics: Arc<Metrics>,
    ) -> Engine {
        Engine {
            shared: Arc::new(EngineShared {
                config,
                sessions: Mutex::new(HashMap::new()),
                pending: Mutex::new(HashMap::new()),
                handler,
                epoch: Instant::now(),
                timers: Timers::default(),
                metrics,
            }),
        }
    }

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
    pub async fn handle(&self, req: Request) -> Response {
        let handshake = req.url().query_pairs().all(|(key, _)| key != "sid");
        match self.route(req).await {
            Ok(res) => res,
            Err(err) => {
                if let Some(why) = err.refusal().filter(|_| handshake) {
                    self.shared.metrics.refused(why);
                }
                err.response()
            }
        }
    }

    async fn route(&self, req: Request) -> Result<Response, EngineError> {
        let shared = &self.shared;
        let mut protocol = None;
        let mut transport = None;
        let mut sid = None;
        for (key, value) in req.url().query_pairs() {
            match &*key {
                "EIO" => protocol = Some(value),
                "transport" => transport = Some(value),
                "sid" => sid = Some(value.into_owned()),
                _ => {}
            }
        }
        if Protocol::from_eio(protocol.as_deref()) == Protocol::V3 && !shared.config.allow_eio3 {
            return Err(EngineError::UnsupportedProtocolVersion);
        }
        let transport = match transport.as_deref() {
            Some("polling") => Transport::Polling,
            Some("websocket") => Transport::WebSocket,
            _ => return Err(EngineError::UnknownTransport),
        };
        if let Err(why) = shared.handler.allow_request(&req) {
            log::warn!("refused a transport request: {why}");
            return Err(EngineError::Forbidden);
        }
        match (transport, sid) {
            (Transport::WebSocket, sid) => websocket::accept(shared.clone(), req, sid).await,
            (_, None) if req.method() == Method::Get => {
                let session =
                    shared.open(Transport::Polling, HandshakeRequest::from_request(&req))?;
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
            let earlier = shared.timers.listen();
            let now = shared.now();
            let next = shared.timers.take_due(now, &mut due);
            for (at, sid) in due.drain(..) {
                let Some(session) = shared.get(&sid) else {
                    continue;
                };
                let step = contain(|| {
                    if session.socket.on_timer(at, now, shared) {
                        session.conn.on_tick();
                    }
                });
                if let Err(panic) = step {
                    shared.panicked(&session, "its heartbeat", &panic);
                }
            }
            {
                let sessions = shared.lock();
                shared
                    .timers
                    .compact(sessions.len(), |sid| sessions.contains_key(sid));
            }
            // Awake at least once a second, so that the entries of closed
            // sessions are compacted even while none comes due.
            let wake = next.map_or(now + SWEEP_MS, |at| at.min(now + SWEEP_MS));
            if wake > shared.now() {
                let timer = async {
                    smol::Timer::at(shared.epoch + Duration::from_millis(wake)).await;
                };
                timer.or(earlier).await;
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

impl EngineShared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, HashMap<Arc<str>, Session>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Milliseconds since the engine started.
    pub(crate) fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    pub(crate) fn get(&self, sid: &str) -> Option<Session> {
        self.lock().get(sid).cloned()
    }

    /// Opens a new session and hands it to the layer above.
    pub(crate) fn open(
        self: &Arc<Self>,
        transport: Transport,
        request: HandshakeRequest,
    ) -> Result<Session, EngineError> {
        if self.lock().len() >= self.config.max_sessions {
            return Err(EngineError::Full);
        }
        let peer = request.client_ip(self.config.trust_proxy);
        if let Some(ip) = peer {
            self.take_pending(ip)?;
        }
        let sid: Arc<str> = sid::random_id().into();
        let timing = Timing {
            ping_interval: self.config.ping_interval.as_millis() as u64,
            ping_timeout: self.config.ping_timeout.as_millis() as u64,
        };
        let protocol = request.protocol();
        let heartbeat = match protocol {
            Protocol::V3 => Heartbeat::ClientPings,
            Protocol::V4 => Heartbeat::ServerPings,
        };
        let machine = Machine::new(heartbeat, timing, transport, self.now());
        let socket = Arc::new(EngineSocket::new(
            sid.clone(),
            machine,
            self.config.max_queued_bytes,
            peer,
            Arc::downgrade(self),
            (protocol, request.query("b64").is_none()),
        ));
        if transport == Transport::WebSocket {
            // Before the layer above can queue anything (Socket.IO 2 joins
            // `/` at once), so the open packet goes first.
            socket.send(self.frame_for_open(&socket, false));
        }
        if let Some(ip) = peer {
            socket.set_pending_from(ip);
        }
        let conn = match contain(|| self.handler.open(socket.clone(), request)) {
            Ok(conn) => conn,
            Err(panic) => {
                log::error!("opening session {sid} panicked: {panic}");
                if let Some(ip) = peer {
                    self.release_pending(ip);
                }
                return Err(EngineError::BadRequest);
            }
        };
        let session = Session { socket, conn };
        self.lock().insert(sid, session.clone());
        session.socket.arm();
        Ok(session)
    }

    fn pending(&self) -> MutexGuard<'_, HashMap<IpAddr, (usize, bool)>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts one more pending session for `ip`, unless it is at the cap.
    fn take_pending(&self, ip: IpAddr) -> Result<(), EngineError> {
        let max = self.config.max_pending_sessions;
        let mut pending = self.pending();
        let (count, logged) = pending.entry(ip).or_insert((0, false));
        if *count < max {
            *count += 1;
            return Ok(());
        }
        // One line while the address stays at the cap, not one per request.
        if !std::mem::replace(logged, true) {
            log::warn!(
                "refusing handshakes from {ip}: over {} ({max})",
                Cap::PendingSessions
            );
        }
        Err(EngineError::TooManyPending)
    }

    /// One of `ip`'s pending sessions was established or closed.
    pub(crate) fn release_pending(&self, ip: IpAddr) {
        let mut pending = self.pending();
        if let Some((count, logged)) = pending.get_mut(&ip) {
            *count = count.saturating_sub(1);
            *logged = false;
            if *count == 0 {
                pending.remove(&ip);
            }
        }
    }

    /// A panic while running `what` for a session: it is logged and costs
    /// that session only.
    fn panicked(&self, session: &Session, what: &str, panic: &str) {
        let socket = &session.socket;
        log::error!(
            "session {} from {}: {what} panicked ({panic}); closing it",
            socket.sid(),
            socket
                .peer()
                .map_or_else(|| "an unknown address".to_owned(), |ip| ip.to_string()),
        );
        socket.close(CloseReason::TransportError);
    }

    /// The open packet's JSON for a session.
    pub(crate) fn handshake_json(&self, socket: &EngineSocket, upgrades: bool) -> String {
        let config = &self.config;
        serde_json::json!({
            "sid": socket.sid(),
            "upgrades": if upgrades { vec!["websocket"] } else { vec![] },
            "pingInterval": config.ping_interval.as_millis() as u64,
            "pingTimeout": config.ping_timeout.as_millis() as u64,
            "maxPayload": config.max_payload,
        })
        .to_string()
    }

    /// Handles one packet a client sent on any transport.
    pub(crate) fn receive(&self, session: &Session, packet: Packet) {
        self.metrics.packets_in.inc();
        match packet {
            Packet::Message(message) => {
                if let Err(panic) = contain(|| session.conn.on_message(message)) {
                    self.panicked(session, "a message's handling", &panic);
                }
            }
            Packet::Pong(_) => {
                let _ = session.socket.apply(SessionEvent::Pong);
            }
            Packet::Ping(_) => {
                let _ = session.socket.apply(SessionEvent::Ping);
            }
            Packet::Close => {
                let _ = session.socket.apply(SessionEvent::ClientClosed);
            }
            Packet::Noop | Packet::Upgrade | Packet::Open(_) => {}
        }
    }

    /// Forgets a closed session and tells the layer above.
    pub(crate) fn remove(&self, sid: &str, reason: CloseReason) {
        let removed = self.lock().remove(sid);
        if let Some(session) = removed {
            if let Err(panic) = contain(|| session.conn.on_close(reason)) {
                log::error!("closing session {sid} panicked: {panic}");
            }
        }
    }

    pub(crate) fn frame_for_open(&self, socket: &EngineSocket, upgrades: bool) -> Frame {
        Frame::open(&self.handshake_json(socket, upgrades))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

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

    /// An engine (ping interval and timeout in ms) whose heartbeat runs.
    fn beating(interval: u64, timeout: u64, above: Ticking) -> (Engine, smol::Task<()>) {
        let config = EngineConfig {
            ping_interval: Duration::from_millis(interval),
            ping_timeout: Duration::from_millis(timeout),
            ..EngineConfig::default()
        };
        let engine = Engine::new(config, Arc::new(above));
        let heartbeat = smol::spawn({
            let engine = engine.clone();
            async move { engine.run_heartbeat().await }
        });
        (engine, heartbeat)
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
        let (engine, _heartbeat) = beating(60, 40, above);
        let start = Instant::now();
        let session = open(&engine.shared, "10.0.0.1:1").unwrap();
        let ping = wait_until(|| pinged(&session));
        assert!(ms(start, ping) >= 59, "pinged after {} ms", ms(start, ping));
        let closed = wait_until(|| log.lock().unwrap().iter().any(|(_, what)| *what != "tick"));
        let log = log.lock().unwrap();
        assert_eq!(log.last().map(|(_, what)| *what), Some("ping timeout"));
        assert!(
            ms(start, closed) >= 99,
            "closed after {} ms",
            ms(start, closed)
        );
        assert_eq!(engine.session_count(), 0);
    }

    #[test]
    fn a_pong_keeps_the_session_and_the_next_ping_comes_an_interval_later() {
        let (above, log) = ticking(None, Duration::ZERO);
        let (engine, _heartbeat) = beating(60, 40, above);
        let session = open(&engine.shared, "10.0.0.1:1").unwrap();
        for _ in 0..3 {
            wait_until(|| pinged(&session));
            let ponged = Instant::now();
            engine.shared.receive(&session, Packet::Pong(String::new()));
            let ping = wait_until(|| pinged(&session));
            assert!(
                ms(ponged, ping) >= 59,
                "pinged {} ms after the pong",
                ms(ponged, ping)
            );
            engine.shared.receive(&session, Packet::Pong(String::new()));
        }
        assert!(!session.socket.is_closed());
        assert!(log.lock().unwrap().iter().all(|(_, what)| *what == "tick"));
    }

    #[test]
    fn the_layer_above_is_ticked_when_it_asked() {
        let (above, log) = ticking(Some(Duration::from_millis(30)), Duration::ZERO);
        let (engine, _heartbeat) = beating(10_000, 10_000, above);
        let start = Instant::now();
        let _session = open(&engine.shared, "10.0.0.1:1").unwrap();
        let ticked = wait_until(|| !log.lock().unwrap().is_empty());
        assert!(
            ms(start, ticked) >= 30,
            "ticked after {} ms",
            ms(start, ticked)
        );
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
        wait_until(|| engine.shared.timers.len() <= 1024);
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
        assert_eq!(
            shared.pending()[&"10.0.0.1".parse::<IpAddr>().unwrap()].0,
            1
        );
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
