//! The engine's core: the session table (sessions not established yet are
//! counted per client address and capped, so one address cannot fill it before
//! anyone has authenticated), what the layer above provides
//! ([`Handler`], [`Connection`]), opening a session, the packets a client sends
//! on any transport, and the protocol's error codes. The transports
//! (`polling.rs`, `websocket/`) and the server that routes to them
//! (`server.rs`) are built on it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use http_types::{headers, Request, Response, StatusCode};

use super::contain::contain;
use super::host::Host;
use super::machine::{Event as SessionEvent, Heartbeat, Machine, Timing};
use super::packet::{Frame, Message, Packet};
use super::request::HandshakeRequest;
use super::socket::{CloseReason, EngineSocket, Transport};
use super::{sid, EngineConfig, Protocol};
use crate::clock::Clock;
use crate::metrics::{Metrics, Refusal};

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
    /// A message from the client.
    fn on_message(&self, message: Message);
    /// The session ended, for `reason`.
    fn on_close(&self, reason: CloseReason);
    /// Called at each of the session's heartbeat steps and at the times
    /// asked with [`EngineSocket::tick_after`], so the layer above can end a
    /// session it has no use for without a timer of its own.
    fn on_tick(&self) {}
    /// The session moved from polling to WebSocket.
    fn on_upgrade(&self) {}
}

pub(crate) struct EngineShared {
    pub(crate) config: EngineConfig,
    sessions: Mutex<HashMap<Arc<str>, Session>>,
    pub(crate) handler: Arc<dyn Handler>,
    /// The clock, timers and pending counts the sessions share.
    pub(crate) host: Arc<Host>,
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
        res.insert_header(headers::CONTENT_TYPE, "application/json");
        res.set_body(format!(r#"{{"code":{code},"message":"{message}"}}"#));
        res
    }
}

impl EngineShared {
    /// An engine's core; its sessions reach it through its [`Host`].
    pub(crate) fn new(
        config: EngineConfig,
        handler: Arc<dyn Handler>,
        metrics: Arc<Metrics>,
        clock: Clock,
    ) -> Arc<EngineShared> {
        let max_pending = config.max_pending_sessions;
        Arc::new_cyclic(|engine: &Weak<EngineShared>| {
            let engine = engine.clone();
            let remove = move |sid: &str, reason| {
                if let Some(engine) = engine.upgrade() {
                    engine.remove(sid, reason);
                }
            };
            EngineShared {
                config,
                sessions: Mutex::new(HashMap::new()),
                handler,
                host: Arc::new(Host::new(clock, max_pending, Box::new(remove))),
                metrics,
            }
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, HashMap<Arc<str>, Session>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
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
            if !self.host.take_pending(ip) {
                return Err(EngineError::TooManyPending);
            }
        }
        let sid = sid::new_sid(&self.config);
        let timing = Timing {
            ping_interval: self.config.ping_interval.as_millis() as u64,
            ping_timeout: self.config.ping_timeout.as_millis() as u64,
        };
        let protocol = request.protocol();
        let heartbeat = match protocol {
            Protocol::V3 => Heartbeat::ClientPings,
            Protocol::V4 => Heartbeat::ServerPings,
        };
        let machine = Machine::new(heartbeat, timing, transport, self.host.now());
        let socket = Arc::new(EngineSocket::new(
            sid.clone(),
            machine,
            self.config.max_queued_bytes,
            peer,
            Arc::downgrade(&self.host),
            (protocol, request.query("b64").is_none()),
        ));
        if transport == Transport::WebSocket {
            // Before the layer above can queue anything (Socket.IO 2 joins
            // `/` at once), so the open packet goes first.
            socket.send(self.frame_for_open(&socket, false));
        }
        if peer.is_some() {
            socket.set_pending();
        }
        let conn = match contain(|| self.handler.open(socket.clone(), request)) {
            Ok(conn) => conn,
            Err(panic) => {
                log::error!("opening session {sid} panicked: {panic}");
                if let Some(ip) = peer {
                    self.host.release_pending(ip);
                }
                return Err(EngineError::BadRequest);
            }
        };
        let session = Session { socket, conn };
        self.lock().insert(sid, session.clone());
        session.socket.arm();
        Ok(session)
    }

    /// A panic while running `what` for a session: it is logged and costs
    /// that session only.
    pub(crate) fn panicked(&self, session: &Session, what: &str, panic: &str) {
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

    /// The open packet: `0` and the handshake's JSON, written as it is (one
    /// string, no JSON value built): the sid is URL-safe base64, which needs no
    /// escaping, and the rest are numbers.
    pub(crate) fn frame_for_open(&self, socket: &EngineSocket, upgrades: bool) -> Frame {
        let config = &self.config;
        let upgrades = if upgrades { r#"["websocket"]"# } else { "[]" };
        Frame::Text(
            format!(
                r#"0{{"sid":"{}","upgrades":{upgrades},"pingInterval":{},"pingTimeout":{},"maxPayload":{}}}"#,
                socket.sid(),
                config.ping_interval.as_millis(),
                config.ping_timeout.as_millis(),
                config.max_payload,
            )
            .into(),
        )
    }
}
