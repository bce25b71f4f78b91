//! The Engine.IO server: the session table, the handshake, request routing to
//! the polling and WebSocket transports, and the heartbeat that pings every
//! session from one timer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use http_types::{Method, Request, Response, StatusCode};

use super::packet::{Frame, Message, Packet};
use super::request::HandshakeRequest;
use super::socket::{CloseReason, EngineSocket, Transport};
use super::{polling, sid, websocket, EngineConfig};

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
    /// Called on every heartbeat tick, so the layer above can end a session
    /// it has no use for without a timer of its own.
    fn on_tick(&self) {}
}

/// An Engine.IO server. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    shared: Arc<EngineShared>,
}

pub(crate) struct EngineShared {
    pub(crate) config: EngineConfig,
    sessions: Mutex<HashMap<Arc<str>, Session>>,
    handler: Arc<dyn Handler>,
    epoch: Instant,
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
}

impl EngineError {
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
        };
        let mut res = Response::new(status);
        res.insert_header("content-type", "application/json");
        res.set_body(format!(r#"{{"code":{code},"message":"{message}"}}"#));
        res
    }
}

impl Engine {
    pub fn new(config: EngineConfig, handler: Arc<dyn Handler>) -> Engine {
        Engine {
            shared: Arc::new(EngineShared {
                config,
                sessions: Mutex::new(HashMap::new()),
                handler,
                epoch: Instant::now(),
            }),
        }
    }

    pub fn config(&self) -> &EngineConfig {
        &self.shared.config
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

    /// Answers one request on the transport's path. A WebSocket upgrade
    /// needs the request to come from [`crate::http::serve`], which attaches
    /// the connection ([`crate::http::Upgrade`]); without it the
    /// upgrade is refused and clients stay on polling.
    pub async fn handle(&self, req: Request) -> Response {
        match self.route(req).await {
            Ok(res) => res,
            Err(err) => err.response(),
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
        if protocol.as_deref() != Some("4") {
            return Err(EngineError::UnsupportedProtocolVersion);
        }
        let transport = match transport.as_deref() {
            Some("polling") => Transport::Polling,
            Some("websocket") => Transport::WebSocket,
            _ => return Err(EngineError::UnknownTransport),
        };
        if let Err(why) = shared.handler.allow_request(&req) {
            log!(Warn, "refused a transport request: {why}");
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
                    Method::Get => polling::poll(&session).await,
                    Method::Post => polling::post(shared, &session, req).await,
                    _ => Err(EngineError::BadRequest),
                }
            }
        }
    }

    /// Pings every session when due and closes the silent ones; runs until
    /// the engine is dropped.
    pub async fn run_heartbeat(&self) {
        let config = &self.shared.config;
        let tick = (config.ping_interval.min(config.ping_timeout) / 4)
            .clamp(Duration::from_millis(10), Duration::from_secs(1));
        let interval = config.ping_interval.as_millis() as u64;
        let timeout = config.ping_timeout.as_millis() as u64;
        let mut sessions = Vec::new();
        loop {
            smol::Timer::after(tick).await;
            sessions.extend(self.shared.lock().values().cloned());
            let now = self.shared.now();
            for session in sessions.drain(..) {
                session.socket.heartbeat(now, interval, timeout);
                session.conn.on_tick();
            }
        }
    }

    /// Closes every session (at shutdown).
    pub fn close_all(&self, reason: CloseReason) {
        let sockets: Vec<_> = self
            .shared
            .lock()
            .values()
            .map(|s| s.socket.clone())
            .collect();
        for socket in sockets {
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
        let sid: Arc<str> = sid::random_id().into();
        let first_ping = self.now() + self.config.ping_interval.as_millis() as u64;
        let socket = Arc::new(EngineSocket::new(
            sid.clone(),
            transport,
            first_ping,
            self.config.max_queued_bytes,
            Arc::downgrade(self),
        ));
        let conn = self.handler.open(socket.clone(), request);
        let session = Session { socket, conn };
        self.lock().insert(sid, session.clone());
        Ok(session)
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
        match packet {
            Packet::Message(message) => session.conn.on_message(message),
            Packet::Pong(_) => session
                .socket
                .on_pong(self.now(), self.config.ping_interval.as_millis() as u64),
            Packet::Close => session.socket.close(CloseReason::TransportClose),
            Packet::Noop | Packet::Ping(_) | Packet::Upgrade | Packet::Open(_) => {}
        }
    }

    /// Forgets a closed session and tells the layer above.
    pub(crate) fn remove(&self, sid: &str, reason: CloseReason) {
        let removed = self.lock().remove(sid);
        if let Some(session) = removed {
            session.conn.on_close(reason);
        }
    }

    pub(crate) fn frame_for_open(&self, socket: &EngineSocket, upgrades: bool) -> Frame {
        Frame::open(&self.handshake_json(socket, upgrades))
    }
}
