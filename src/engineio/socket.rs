//! One Engine.IO session as its transports and the layer above share it: its
//! outgoing queue, its WebSocket writer, and its [`Machine`], which it feeds
//! events with the engine's clock and whose actions it carries out. Frames
//! sent over polling wait in the queue for the next GET; over a WebSocket
//! they go straight to its writer.

use std::collections::VecDeque;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use super::cap::Cap;
use super::host::Host;
use super::machine::{Actions, Control, Event, Machine};
pub use super::machine::{CloseReason, Transport};
use super::packet::Frame;
use super::waiters::{Listener, Waiter, Waiters};
use super::websocket::writer::{Sent, WsWriter, CHUNK_COST};
use super::Protocol;

/// An Engine.IO session, shared by its transports and by the layer above.
pub struct EngineSocket {
    sid: Arc<str>,
    state: Mutex<State>,
    /// The most memory queued before the client is cut off as too slow.
    max_queued: usize,
    /// The client's address, for what is logged about it.
    peer: Option<IpAddr>,
    engine: Weak<Host>,
    /// The Engine.IO revision the client speaks.
    protocol: Protocol,
    /// An Engine.IO 3 polling client takes binary payloads (it did not ask
    /// for `b64=1` at its handshake).
    binary_polling: bool,
}

struct State {
    machine: Machine,
    outbox: VecDeque<Frame>,
    /// What the outbox costs in memory (see [`State::push`]).
    queued_bytes: usize,
    /// Whether this session counts against its peer's pending sessions: it
    /// has not joined a namespace yet ([`EngineSocket::established`]).
    pending: bool,
    /// The WebSocket that carries frames once the session is on it.
    websocket: Option<Arc<WsWriter>>,
    /// The time of this session's live entry in the engine's timers.
    scheduled: Option<u64>,
    /// When the layer above asked to be ticked ([`EngineSocket::tick_after`]).
    tick_at: Option<u64>,
    /// Woken when frames are queued or the session's state changes.
    waiters: Waiters,
}

/// What [`EngineSocket::look`] saw.
pub(crate) enum Look {
    Closing(CloseReason),
    Changed,
    Unchanged,
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
    /// Frees the queue of a session that is being cut off.
    fn drop_queue(&mut self) {
        self.outbox = VecDeque::new();
        self.queued_bytes = 0;
    }

    /// Hands frames to the WebSocket, or queues them for polling; either
    /// counts what waits at its cost in memory, a queued frame's handle
    /// included.
    fn push(&mut self, frames: &[Frame], max_queued: usize) -> Pushed {
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

    /// A time to add to the engine's timers, when the session needs waking
    /// before its live entry there (if any) comes due.
    fn reschedule(&mut self) -> Option<u64> {
        let due = match (self.machine.deadline(), self.tick_at) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        if self.scheduled.is_some_and(|at| at <= due) {
            return None;
        }
        self.scheduled = Some(due);
        Some(due)
    }
}

fn control_frame(control: Control) -> Frame {
    match control {
        Control::Ping => Frame::ping(),
        Control::Pong => Frame::pong(),
        Control::Noop => Frame::noop(),
        Control::Close => Frame::close(),
    }
}

impl EngineSocket {
    pub(crate) fn new(
        sid: Arc<str>,
        machine: Machine,
        max_queued: usize,
        peer: Option<IpAddr>,
        engine: Weak<Host>,
        (protocol, binary_polling): (Protocol, bool),
    ) -> EngineSocket {
        EngineSocket {
            sid,
            state: Mutex::new(State {
                machine,
                outbox: VecDeque::new(),
                queued_bytes: 0,
                pending: false,
                websocket: None,
                scheduled: None,
                tick_at: None,
                waiters: Waiters::default(),
            }),
            max_queued,
            peer,
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

    /// The most bytes that may wait for this client.
    #[cfg(feature = "cluster")]
    pub(crate) fn max_queued(&self) -> usize {
        self.max_queued
    }

    /// The session id the client uses in its requests.
    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// The session id, shared (a socket of the main namespace is named by it).
    pub(crate) fn sid_arc(&self) -> &Arc<str> {
        &self.sid
    }

    /// The client's address, when known ([`super::HandshakeRequest::client_ip`]).
    pub fn peer(&self) -> Option<IpAddr> {
        self.peer
    }

    /// The transport that carries packets now.
    pub fn transport(&self) -> Transport {
        self.lock().machine.transport()
    }

    /// Whether the session is closing or closed: nothing more goes out.
    pub fn is_closed(&self) -> bool {
        self.lock().machine.closing().is_some()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the queue inconsistent:
        // every critical section is a few field updates or one socket write.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Feeds the session's machine one event at the engine's time and does
    /// what it answers: sends its control packet, reschedules its timer,
    /// wakes its transport and, when it ends, removes it from the engine.
    pub(crate) fn apply(&self, event: Event) -> Actions {
        let engine = self.engine.upgrade();
        let now = engine.as_ref().map_or(0, |e| e.now());
        self.apply_at(event, now, engine.as_deref())
    }

    fn apply_at(&self, event: Event, now: u64, engine: Option<&Host>) -> Actions {
        let mut state = self.lock();
        let mut actions = state.machine.on(event, now);
        let mut over_cap = false;
        if let Some(control) = actions.send {
            match state.push(&[control_frame(control)], usize::MAX) {
                Pushed::Written | Pushed::Waiting => {}
                Pushed::OverCap => over_cap = true,
                Pushed::Failed => {
                    let abort = state
                        .machine
                        .on(Event::Abort(CloseReason::TransportError), now);
                    actions.finish = actions.finish.or(abort.finish);
                    state.drop_queue();
                }
            }
        }
        let due = state.reschedule();
        let pending_from = match actions.finish {
            Some(_) => self.peer.filter(|_| std::mem::take(&mut state.pending)),
            None => None,
        };
        let woken = state.waiters.changed();
        drop(state);
        woken.wake();
        if over_cap {
            self.exceeded(Cap::QueuedBytes, self.max_queued);
        }
        if let Some(engine) = engine {
            if let Some(due) = due {
                engine.timers.add(due, self.sid.clone());
            }
            if let Some(reason) = actions.finish {
                if let Some(ip) = pending_from {
                    engine.release_pending(ip);
                }
                engine.remove(&self.sid, reason);
            }
        }
        actions
    }

    /// Puts the session's next deadline in the engine's timers once it is in
    /// the engine's table, whatever entry it may have already: one that came
    /// due before the session was in the table found nobody to step.
    pub(crate) fn arm(&self) {
        let due = {
            let mut state = self.lock();
            state.scheduled = None;
            state.reschedule()
        };
        if let (Some(due), Some(engine)) = (due, self.engine.upgrade()) {
            engine.timers.add(due, self.sid.clone());
        }
    }

    /// The engine's timer for this session came due at `now`; `due` is the
    /// time it was set for. Runs the heartbeat; says whether to tick the
    /// layer above: not when the entry was stale (the session has another
    /// one), nor once the session has ended.
    pub(crate) fn on_timer(&self, due: u64, now: u64, engine: &Host) -> bool {
        {
            let mut state = self.lock();
            if state.scheduled != Some(due) {
                return false;
            }
            state.scheduled = None;
            if state.tick_at.is_some_and(|at| at <= now) {
                state.tick_at = None;
            }
        }
        self.apply_at(Event::Tick, now, Some(engine))
            .finish
            .is_none()
    }

    /// Asks for the layer above's [`super::Connection::on_tick`] to be called
    /// `delay` from now, never before (it is also called at each of the session's
    /// heartbeat steps), so it can end a session it has no use for without a
    /// timer of its own.
    pub fn tick_after(&self, delay: Duration) {
        let Some(engine) = self.engine.upgrade() else {
            return;
        };
        // Rounded up: the engine's clock counts whole milliseconds.
        let at = engine.now() + delay.as_millis() as u64 + 1;
        let due = {
            let mut state = self.lock();
            state.tick_at = Some(state.tick_at.map_or(at, |t| t.min(at)));
            state.reschedule()
        };
        if let Some(due) = due {
            engine.timers.add(due, self.sid.clone());
        }
    }

    /// Sends frames to the client. Returns false when the session is closing.
    /// A client whose queue exceeds the limit (or whose socket failed) is
    /// marked for closing; it is closed by its transport or its timer, never
    /// from inside this call (callers may be iterating over a room). Frames
    /// written to a WebSocket at once do not wake its task.
    pub fn send_frames(&self, frames: &[Frame]) -> bool {
        let mut state = self.lock();
        if state.machine.closing().is_some() {
            return false;
        }
        let woken = match state.push(frames, self.max_queued) {
            Pushed::Written => return true,
            Pushed::Waiting => state.waiters.changed(),
            Pushed::OverCap => {
                drop(state);
                self.exceeded(Cap::QueuedBytes, self.max_queued);
                return true;
            }
            Pushed::Failed => {
                drop(state);
                self.abort();
                return true;
            }
        };
        drop(state);
        woken.wake();
        true
    }

    /// Marks the session for closing as failed and frees its queue; its
    /// transport or its timer ends it.
    fn abort(&self) {
        let mut state = self.lock();
        state.drop_queue();
        drop(state);
        let _ = self.apply(Event::Abort(CloseReason::TransportError));
    }

    /// Cuts off a client that went over `cap` (set to `limit`): logs one
    /// line saying who and which cap, drops what is queued for it and marks
    /// the session for closing (its transport or its timer closes it; never
    /// from inside this call, whose caller may be iterating over a room).
    pub fn exceeded(&self, cap: Cap, limit: usize) {
        if self.is_closed() {
            return;
        }
        self.abort();
        log::warn!(
            "disconnecting session {} from {}: over {cap} ({limit})",
            self.sid,
            self.peer
                .map_or_else(|| "an unknown address".to_owned(), |ip| ip.to_string()),
        );
    }

    /// The session joined a namespace: it no longer counts against its
    /// address's pending sessions.
    pub fn established(&self) {
        let was_pending = std::mem::take(&mut self.lock().pending);
        if let (true, Some(ip), Some(engine)) = (was_pending, self.peer, self.engine.upgrade()) {
            engine.release_pending(ip);
        }
    }

    /// Counts the session against its peer's pending sessions until it is
    /// established or closed.
    pub(crate) fn set_pending(&self) {
        self.lock().pending = true;
    }

    /// Sends one frame, as [`EngineSocket::send_frames`] does.
    pub fn send(&self, frame: Frame) -> bool {
        self.send_frames(std::slice::from_ref(&frame))
    }

    /// Takes every queued frame. `Some` means the session is closing and its
    /// transport should stop once it has written what it took.
    pub(crate) fn take_frames(&self, into: &mut Vec<Frame>) -> Option<CloseReason> {
        let mut state = self.lock();
        into.extend(state.outbox.drain(..));
        state.queued_bytes = 0;
        if state.outbox.capacity() > 64 {
            state.outbox.shrink_to(16);
        }
        state.machine.closing()
    }

    /// Puts a taken frame back at the front of the queue, even while closing.
    pub(crate) fn put_back(&self, frame: Frame) {
        let mut state = self.lock();
        state.queued_bytes += frame.len() + CHUNK_COST;
        state.outbox.push_front(frame);
    }

    /// A wait for `waiter` to make before taking frames or looking at the
    /// state again ([`EngineSocket::poll_listener`]).
    pub(crate) fn listen(&self, waiter: Waiter) -> Listener {
        self.lock().waiters.listen(waiter)
    }

    /// Ready once the session changed after `listener` was made.
    pub(crate) fn poll_listener(&self, listener: &Listener, cx: &mut Context<'_>) -> Poll<()> {
        self.lock().waiters.poll(listener, cx)
    }

    /// What the WebSocket's task sees when it looks, under one lock: the
    /// session closing, a change since `listener` was made, or neither (its
    /// waker is kept for the next change).
    pub(crate) fn look(&self, listener: &Listener, cx: &mut Context<'_>) -> Look {
        let mut state = self.lock();
        if let Some(reason) = state.machine.closing() {
            return Look::Closing(reason);
        }
        match state.waiters.poll(listener, cx) {
            Poll::Ready(()) => Look::Changed,
            Poll::Pending => Look::Unchanged,
        }
    }

    /// `waiter` no longer waits (its GET was answered, its task ended).
    pub(crate) fn stop_listening(&self, waiter: Waiter) {
        self.lock().waiters.forget(waiter);
    }

    /// Moves the session onto a WebSocket: what waits for polling goes first.
    pub(crate) fn attach_websocket(&self, writer: Arc<WsWriter>) {
        let _ = self.apply(Event::Upgraded);
        let mut state = self.lock();
        let waiting: Vec<Frame> = state.outbox.drain(..).collect();
        // Its room goes too: a WebSocket session never queues.
        state.outbox = VecDeque::new();
        state.queued_bytes = 0;
        state.websocket = Some(writer);
        let pushed = state.push(&waiting, self.max_queued);
        let woken = state.waiters.changed();
        drop(state);
        match pushed {
            Pushed::OverCap => self.exceeded(Cap::QueuedBytes, self.max_queued),
            Pushed::Failed => self.abort(),
            Pushed::Written | Pushed::Waiting => {}
        }
        woken.wake();
    }

    /// The WebSocket is gone: let go of its socket.
    pub(crate) fn detach_websocket(&self) {
        self.lock().websocket = None;
    }

    /// Closes the session: the client is told (where it still listens), the
    /// engine forgets it, and the layer above hears `reason`. A polling client
    /// closed by the server first gets its last packets with its next GET.
    pub fn close(&self, reason: CloseReason) {
        let _ = self.apply(Event::Close(reason));
    }
}

impl fmt::Debug for EngineSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineSocket")
            .field("sid", &self.sid)
            .finish_non_exhaustive()
    }
}
