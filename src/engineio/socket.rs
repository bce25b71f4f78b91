//! One Engine.IO session: its outgoing queue, its transport and its heartbeat
//! state. Frames sent over polling wait in the queue for the next GET; over a
//! WebSocket they go straight to its writer.

use std::collections::VecDeque;
use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use event_listener::{Event, EventListener};

use super::cap::Cap;
use super::packet::Frame;
use super::server::EngineShared;
use super::websocket::{Sent, WsWriter, CHUNK_COST};
use super::Protocol;

/// Why a session ended. The text is what Socket.IO reports to disconnect
/// handlers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The client closed the connection or sent a close packet.
    TransportClose,
    /// The transport failed: a protocol violation, an over-limit message, or a
    /// client too slow to take what was sent to it.
    TransportError,
    /// The client did not answer a ping in time.
    PingTimeout,
    /// The client sent something that could not be decoded.
    ParseError,
    /// The server closed the session.
    ForcedClose,
    /// The server is shutting down.
    ServerShutdown,
}

impl CloseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::TransportClose => "transport close",
            CloseReason::TransportError => "transport error",
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::ParseError => "parse error",
            CloseReason::ForcedClose => "forced close",
            CloseReason::ServerShutdown => "server shutting down",
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which transport currently carries the session's outgoing packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Polling,
    /// A WebSocket is probing; polling still carries packets.
    Upgrading,
    WebSocket,
}

impl Transport {
    pub fn name(self) -> &'static str {
        match self {
            Transport::Polling | Transport::Upgrading => "polling",
            Transport::WebSocket => "websocket",
        }
    }
}

/// An Engine.IO session, shared by its transports and by the layer above.
pub struct EngineSocket {
    sid: Arc<str>,
    state: Mutex<State>,
    /// Woken when frames are queued or the session closes.
    wake: Event,
    /// The most memory queued before the client is cut off as too slow.
    max_queued: usize,
    /// The client's address, for what is logged about it.
    peer: Option<IpAddr>,
    /// Milliseconds (engine clock) at which the next ping is due.
    next_ping_at: AtomicU64,
    /// Milliseconds (engine clock) by which a pong must arrive; 0 when none is awaited.
    pong_deadline: AtomicU64,
    engine: Weak<EngineShared>,
    /// The Engine.IO revision the client speaks.
    protocol: Protocol,
    /// An Engine.IO 3 polling client takes binary payloads (it did not ask
    /// for `b64=1` at its handshake).
    binary_polling: bool,
}

struct State {
    outbox: VecDeque<Frame>,
    /// What the outbox costs in memory (see [`State::push`]).
    queued_bytes: usize,
    /// The address this session counts against while it has not joined a
    /// namespace ([`EngineSocket::established`]).
    pending_from: Option<IpAddr>,
    transport: Transport,
    /// Set once the session must end; the reason it ends with.
    closing: Option<CloseReason>,
    /// Set once the session has been removed from the engine.
    closed: bool,
    /// A polling GET is waiting for frames.
    polling: bool,
    /// The WebSocket that carries frames once the session is on it.
    websocket: Option<Arc<WsWriter>>,
}

/// What became of frames handed to a session.
enum Pushed {
    /// Written to the WebSocket: nobody needs waking.
    Written,
    /// Waiting for the transport's task.
    Waiting,
    /// Too much waits: the session must close.
    OverCap,
    /// The socket failed: the session must close.
    Failed,
}

impl State {
    /// Marks the session for closing with `reason` and frees its queue.
    fn drop_queue(&mut self, reason: CloseReason) {
        self.closing = Some(reason);
        self.outbox = VecDeque::new();
        self.queued_bytes = 0;
    }

    /// Hands frames to the WebSocket, or queues them for polling; either
    /// counts what waits at its cost in memory, a queued frame's handle
    /// included.
    fn push<'a>(
        &mut self,
        frames: impl IntoIterator<Item = &'a Frame>,
        max_queued: usize,
    ) -> Pushed {
        if let Some(writer) = &self.websocket {
            return match writer.send(frames) {
                Sent::Written => Pushed::Written,
                Sent::Queued => Pushed::Waiting,
                Sent::OverCap => Pushed::OverCap,
                Sent::Failed => Pushed::Failed,
            };
        }
        for frame in frames {
            self.queued_bytes += frame.len() + CHUNK_COST;
            self.outbox.push_back(frame.clone());
        }
        if self.queued_bytes > max_queued {
            Pushed::OverCap
        } else {
            Pushed::Waiting
        }
    }
}

impl EngineSocket {
    pub(crate) fn new(
        sid: Arc<str>,
        transport: Transport,
        next_ping_at: u64,
        max_queued: usize,
        peer: Option<IpAddr>,
        engine: Weak<EngineShared>,
        (protocol, binary_polling): (Protocol, bool),
    ) -> EngineSocket {
        EngineSocket {
            sid,
            state: Mutex::new(State {
                outbox: VecDeque::new(),
                queued_bytes: 0,
                pending_from: None,
                transport,
                closing: None,
                closed: false,
                polling: false,
                websocket: None,
            }),
            wake: Event::new(),
            max_queued,
            peer,
            next_ping_at: AtomicU64::new(next_ping_at),
            pong_deadline: AtomicU64::new(0),
            engine,
            protocol,
            binary_polling,
        }
    }

    /// The Engine.IO revision the client speaks.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Whether polling responses may be binary payloads (Engine.IO 3).
    pub(crate) fn binary_polling(&self) -> bool {
        self.binary_polling
    }

    /// The session id the client uses in its requests.
    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// The client's address, when known ([`super::HandshakeRequest::client_ip`]).
    pub fn peer(&self) -> Option<IpAddr> {
        self.peer
    }

    /// The transport that carries packets now.
    pub fn transport(&self) -> Transport {
        self.lock().transport
    }

    pub fn is_closed(&self) -> bool {
        let state = self.lock();
        state.closed || state.closing.is_some()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the queue inconsistent:
        // every critical section is a few field updates or one socket write.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends frames to the client. Returns false when the session is closing.
    /// A client whose queue exceeds the limit (or whose socket failed) is
    /// marked for closing; it is closed by its transport, never from inside
    /// this call (callers may be iterating over a room). Frames written to a
    /// WebSocket at once do not wake its task.
    pub fn send_frames<'a>(&self, frames: impl IntoIterator<Item = &'a Frame>) -> bool {
        let mut state = self.lock();
        if state.closing.is_some() || state.closed {
            return false;
        }
        match state.push(frames, self.max_queued) {
            Pushed::Written => return true,
            Pushed::Waiting => {}
            Pushed::OverCap => {
                drop(state);
                self.exceeded(Cap::QueuedBytes, self.max_queued);
                return true;
            }
            Pushed::Failed => state.drop_queue(CloseReason::TransportError),
        }
        drop(state);
        self.wake.notify(usize::MAX);
        true
    }

    /// Cuts off a client that went over `cap` (set to `limit`): logs one
    /// line saying who and which cap, drops what is queued for it and marks
    /// the session for closing (its transport or the heartbeat closes it;
    /// never from inside this call, whose caller may be iterating over a room).
    pub fn exceeded(&self, cap: Cap, limit: usize) {
        let mut state = self.lock();
        if state.closed || state.closing.is_some() {
            return;
        }
        state.drop_queue(CloseReason::TransportError);
        drop(state);
        log!(
            Warn,
            "disconnecting session {} from {}: over {cap} ({limit})",
            self.sid,
            self.peer
                .map_or_else(|| "an unknown address".to_owned(), |ip| ip.to_string()),
        );
        self.wake.notify(usize::MAX);
    }

    /// The session joined a namespace: it no longer counts against its
    /// address's pending sessions.
    pub fn established(&self) {
        let from = self.lock().pending_from.take();
        if let (Some(ip), Some(engine)) = (from, self.engine.upgrade()) {
            engine.release_pending(ip);
        }
    }

    /// Counts the session against `ip`'s pending sessions until it is
    /// established or closed.
    pub(crate) fn set_pending_from(&self, ip: IpAddr) {
        self.lock().pending_from = Some(ip);
    }

    pub fn send(&self, frame: Frame) -> bool {
        self.send_frames([&frame])
    }

    /// Takes every queued frame. `None` means the session is closing and its
    /// transport should stop once it has written what it took.
    pub(crate) fn take_frames(&self, into: &mut Vec<Frame>) -> Option<CloseReason> {
        let mut state = self.lock();
        into.extend(state.outbox.drain(..));
        state.queued_bytes = 0;
        if state.outbox.capacity() > 64 {
            state.outbox.shrink_to(16);
        }
        state.closing
    }

    /// Puts a taken frame back at the front of the queue, even while closing.
    pub(crate) fn put_back(&self, frame: Frame) {
        let mut state = self.lock();
        state.queued_bytes += frame.len() + CHUNK_COST;
        state.outbox.push_front(frame);
    }

    /// A listener to wait on before taking frames again.
    pub(crate) fn listen(&self) -> EventListener {
        self.wake.listen()
    }

    /// Marks a polling GET as pending; false when one already is.
    pub(crate) fn begin_poll(&self) -> bool {
        let mut state = self.lock();
        !std::mem::replace(&mut state.polling, true)
    }

    pub(crate) fn end_poll(&self) {
        self.lock().polling = false;
    }

    pub(crate) fn set_transport(&self, transport: Transport) {
        self.lock().transport = transport;
        self.wake.notify(usize::MAX);
    }

    /// Moves the session onto a WebSocket: what waits for polling goes first.
    pub(crate) fn attach_websocket(&self, writer: Arc<WsWriter>) {
        let mut state = self.lock();
        state.transport = Transport::WebSocket;
        let waiting: Vec<Frame> = state.outbox.drain(..).collect();
        state.queued_bytes = 0;
        state.websocket = Some(writer);
        let pushed = state.push(&waiting, self.max_queued);
        drop(state);
        match pushed {
            Pushed::OverCap => self.exceeded(Cap::QueuedBytes, self.max_queued),
            Pushed::Failed => {
                self.lock()
                    .closing
                    .get_or_insert(CloseReason::TransportError);
            }
            Pushed::Written | Pushed::Waiting => {}
        }
        self.wake.notify(usize::MAX);
    }

    /// The WebSocket is gone: let go of its socket.
    pub(crate) fn detach_websocket(&self) {
        self.lock().websocket = None;
    }

    /// Closes the session: the client is told (where it still listens), the
    /// engine forgets it, and the layer above hears `reason`. A polling client
    /// closed by the server first gets its last packets with its next GET.
    pub fn close(&self, reason: CloseReason) {
        let finish_now = {
            let mut state = self.lock();
            if state.closed {
                return;
            }
            if state.closing.is_some() {
                true
            } else {
                state.closing = Some(reason);
                let by_server = matches!(
                    reason,
                    CloseReason::ForcedClose | CloseReason::ServerShutdown
                );
                if by_server {
                    state.push([&Frame::close()], usize::MAX);
                }
                !(by_server && state.transport != Transport::WebSocket)
            }
        };
        self.wake.notify(usize::MAX);
        if finish_now {
            self.finish();
        } else if let Some(engine) = self.engine.upgrade() {
            let grace = engine.config.ping_timeout.as_millis() as u64;
            self.pong_deadline
                .store(engine.now() + grace, Ordering::Relaxed);
        }
    }

    /// Removes the session from the engine, once.
    fn finish(&self) {
        let (reason, pending_from) = {
            let mut state = self.lock();
            if state.closed {
                return;
            }
            state.closed = true;
            let reason = state.closing.unwrap_or(CloseReason::ForcedClose);
            (reason, state.pending_from.take())
        };
        self.wake.notify(usize::MAX);
        if let Some(engine) = self.engine.upgrade() {
            if let Some(ip) = pending_from {
                engine.release_pending(ip);
            }
            engine.remove(&self.sid, reason);
        }
    }

    /// The reason the session is closing, if it is.
    pub(crate) fn closing(&self) -> Option<CloseReason> {
        self.lock().closing
    }

    /// An Engine.IO 3 client pinged: it has until `deadline` to ping again.
    pub(crate) fn on_client_ping(&self, deadline: u64) {
        self.pong_deadline.store(deadline, Ordering::Relaxed);
        self.send(Frame::pong());
    }

    /// Engine.IO 3: the server does not ping; the client must ping by
    /// `deadline`.
    pub(crate) fn expect_client_pings(&self, deadline: u64) {
        self.next_ping_at.store(u64::MAX, Ordering::Relaxed);
        self.pong_deadline.store(deadline, Ordering::Relaxed);
    }

    pub(crate) fn on_pong(&self, now: u64, ping_interval: u64) {
        self.pong_deadline.store(0, Ordering::Relaxed);
        self.next_ping_at
            .store(now + ping_interval, Ordering::Relaxed);
    }

    /// Runs one heartbeat step at `now`: pings when due, closes when a pong
    /// is overdue or the session was marked for closing.
    pub(crate) fn heartbeat(&self, now: u64, ping_interval: u64, ping_timeout: u64) {
        let deadline = self.pong_deadline.load(Ordering::Relaxed);
        if self.closing().is_some() {
            // Closing: finish once the client had its chance to read the rest.
            if now >= deadline {
                self.finish();
            }
            return;
        }
        if deadline != 0 {
            if now >= deadline {
                self.close(CloseReason::PingTimeout);
            }
            return;
        }
        if now >= self.next_ping_at.load(Ordering::Relaxed) {
            self.pong_deadline
                .store(now + ping_timeout, Ordering::Relaxed);
            self.next_ping_at
                .store(now + ping_interval + ping_timeout, Ordering::Relaxed);
            self.send(Frame::ping());
        }
    }
}

impl fmt::Debug for EngineSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineSocket")
            .field("sid", &self.sid)
            .finish_non_exhaustive()
    }
}
