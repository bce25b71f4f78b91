//! A client's connection to one namespace: what handlers use to emit, join
//! rooms, wait for acknowledgements and keep per-connection data.
//!
//! A socket reaches its namespace and its client through two narrow
//! handles, [`Home`] and [`Conn`], which `namespace.rs` and `client.rs`
//! implement: this file imports neither.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use super::extensions::Extensions;
use smol::channel::{self, Sender};
use smol::future::FutureExt;

use serde_json::{json, Map, Value};

use super::acks::{Acks, Asked};
use super::adapter::{shown_headers, Adapter, SocketInfo};
#[cfg(feature = "cluster")]
use super::adapter::{ClusterRecovery, DroppedSocket, Target};
use super::event::{Event, PendingAck, PendingCount};
use super::handshake::Handshake;
use super::limits::Limits;
use super::order::Order;
use super::packet::PacketKind;
use super::payload::Payload;
use super::recovery::{self, Audience, Membership, Parked, Recovery};
use crate::clock::Clock;
use crate::engineio::{derived_id, Cap, CloseReason, EngineSocket, Frame};
use crate::metrics::Metrics;

/// What a socket needs of its namespace (`NamespaceInner` is the one
/// implementation; `Any` lets `namespace.rs` find it again for
/// [`Socket::nsp`]).
pub(crate) trait Home: Any + Send + Sync {
    fn name(&self) -> &Arc<str>;
    fn adapter(&self) -> &dyn Adapter;
    /// Connection state recovery, when on.
    fn recovery(&self) -> Option<&Recovery>;
    /// Connection state recovery kept by the cluster, when it keeps it.
    #[cfg(feature = "cluster")]
    fn cluster_recovery(&self) -> Option<&Arc<dyn ClusterRecovery>>;
    fn metrics(&self) -> &Metrics;
    /// The server's clock.
    fn clock(&self) -> &Clock;
    /// `socket` joined (`joined`) or left `room` (for the observer).
    fn room_changed(&self, socket: &Socket, room: &str, joined: bool);
    /// Takes `socket` out of the namespace (with the recovery log locked,
    /// when on); the rooms it was in when an observer will want them.
    fn remove(&self, socket: &Socket) -> Option<Vec<String>>;
    /// `socket` has left (after [`Home::remove`], no lock held): tells the
    /// observer (`rooms`, from `remove`) and runs the disconnect handler.
    fn left(&self, socket: &Socket, reason: DisconnectReason, rooms: Option<Vec<String>>);
}

/// What a socket needs of its client's connection.
pub(crate) trait Conn: Send + Sync {
    /// The client's caps.
    fn limits(&self) -> Limits;
    /// The socket `id` left its namespace: the client forgets it.
    fn forget(&self, id: &str);
}

/// Why a socket left its namespace, as disconnect handlers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The Engine.IO session under it ended.
    Transport(CloseReason),
    /// The server disconnected the socket.
    ServerNamespaceDisconnect,
    /// The client disconnected from the namespace.
    ClientNamespaceDisconnect,
}

impl DisconnectReason {
    /// The reason as Node's server words it (`"transport close"`...).
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::Transport(reason) => reason.as_str(),
            DisconnectReason::ServerNamespaceDisconnect => "server namespace disconnect",
            DisconnectReason::ClientNamespaceDisconnect => "client namespace disconnect",
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an acknowledgement the server waited for did not come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckError {
    /// The time given passed first.
    Timeout,
    /// The socket disconnected first.
    Disconnected,
}

impl fmt::Display for AckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AckError::Timeout => "acknowledgement timed out",
            AckError::Disconnected => "socket disconnected before acknowledging",
        })
    }
}

impl std::error::Error for AckError {}

/// A connected socket. Cheap to clone; every clone is the same socket.
#[derive(Clone)]
pub struct Socket {
    inner: Arc<SocketInner>,
}

struct SocketInner {
    id: Arc<str>,
    home: Arc<dyn Home>,
    sink: Arc<EngineSocket>,
    client: Weak<dyn Conn>,
    handshake: Handshake,
    /// Shared with the socket's earlier and later lives (recovery).
    extensions: Arc<Mutex<Extensions>>,
    /// The server's events waiting for the client's acknowledgement.
    acks: Mutex<Acks<Sender<Payload>>>,
    /// The client's events not yet acknowledged.
    pending_acks: AtomicUsize,
    connected: AtomicBool,
    /// The client's events (name, event) waiting behind a running async
    /// handler (idle: no allocation).
    order: Order<(String, Event)>,
    /// With connection state recovery: the private id, the socket's place
    /// in the namespace's log, and whether it came back.
    resumable: Option<Resumable>,
}

impl PendingCount for SocketInner {
    fn pending(&self) -> &AtomicUsize {
        &self.pending_acks
    }
}

/// What a socket needs to recover later.
pub(crate) struct Resumable {
    /// The private id a recovered socket came back with; `None` for a new
    /// socket, whose private id is derived from its id (see
    /// [`Resumable::with_pid`]).
    pub(crate) pid: Option<Arc<str>>,
    pub(crate) membership: Mutex<Membership>,
}

impl Resumable {
    /// Calls `f` with the private id the client recovers the socket `id` by.
    pub(crate) fn with_pid<R>(&self, id: &str, f: impl FnOnce(&str) -> R) -> R {
        match &self.pid {
            Some(pid) => f(pid),
            None => f(derived_id(id).as_str()),
        }
    }
}

impl Socket {
    /// A socket of the client (`client`, writing to `sink`) in `home`.
    pub(crate) fn new(
        id: Arc<str>,
        home: Arc<dyn Home>,
        (client, sink): (Weak<dyn Conn>, Arc<EngineSocket>),
        handshake: Handshake,
        extensions: Arc<Mutex<Extensions>>,
        resumable: Option<Resumable>,
    ) -> Socket {
        Socket {
            inner: Arc::new(SocketInner {
                id,
                home,
                sink,
                client,
                handshake,
                extensions,
                acks: Mutex::new(Acks::default()),
                pending_acks: AtomicUsize::new(0),
                connected: AtomicBool::new(true),
                order: Order::default(),
                resumable,
            }),
        }
    }

    /// The socket's id, also the name of its own room.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    pub(crate) fn id_arc(&self) -> &Arc<str> {
        &self.inner.id
    }

    pub(crate) fn sink(&self) -> &Arc<EngineSocket> {
        &self.inner.sink
    }

    /// The namespace's name.
    pub fn namespace(&self) -> &str {
        self.inner.home.name()
    }

    /// The socket's namespace (see `namespace.rs` for `nsp`, `to` and
    /// `broadcast`, which need more of it).
    pub(crate) fn home(&self) -> &Arc<dyn Home> {
        &self.inner.home
    }

    /// The client's caps; `None` once the client is gone.
    fn limits(&self) -> Option<Limits> {
        self.inner.client.upgrade().map(|client| client.limits())
    }

    /// What the client sent when it connected.
    pub fn handshake(&self) -> &Handshake {
        &self.inner.handshake
    }

    /// `"polling"` or `"websocket"`.
    pub fn transport(&self) -> &'static str {
        self.inner.sink.transport().name()
    }

    /// Whether the socket is still in its namespace.
    pub fn connected(&self) -> bool {
        self.inner.connected.load(Ordering::Acquire)
    }

    /// Whether this socket is one that dropped and came back with its
    /// state (connection state recovery): same id, rooms and extensions,
    /// and the events it missed were sent to it.
    pub fn recovered(&self) -> bool {
        self.inner
            .resumable
            .as_ref()
            .is_some_and(|r| r.pid.is_some())
    }

    pub(crate) fn resumable(&self) -> Option<&Resumable> {
        self.inner.resumable.as_ref()
    }

    pub(crate) fn order(&self) -> &Order<(String, Event)> {
        &self.inner.order
    }

    /// Emits an event to this socket. False when it is gone; with connection
    /// state recovery the event is kept even then, for the socket's id,
    /// should it come back.
    pub fn emit(&self, event: &str, payload: impl Into<Payload>) -> bool {
        let home = &self.inner.home;
        let Some(recovery) = home.recovery() else {
            #[cfg(feature = "cluster")]
            if let Some(recovery) = home.cluster_recovery() {
                let target = Target {
                    rooms: vec![self.id().to_owned()],
                    except: Vec::new(),
                };
                recovery.emit(event, payload.into(), &target);
                return self.connected();
            }
            return self.emit_transient(event, payload);
        };
        // Kept for its id even when it is gone: it may come back.
        let (name, audience) = (home.name(), Audience::Socket(self.inner.id.clone()));
        recovery.emit(name, event, payload.into(), audience, |frames| {
            if self.connected() {
                self.inner.sink.send_frames(frames);
            }
        });
        self.connected()
    }

    /// Emits an event that matters to this connection only: it is never
    /// kept for connection state recovery, so it costs no memory once
    /// written and a recovered socket does not get it replayed (as Node's
    /// `socket.volatile.emit` with recovery on; unlike it, the event still
    /// waits for a busy transport). For what is sent again on every
    /// connection anyway, such as a greeting from `on_connect`, which a
    /// recovered socket runs again. False when the socket is gone.
    pub fn emit_transient(&self, event: &str, payload: impl Into<Payload>) -> bool {
        let frames = payload
            .into()
            .encode(self.namespace(), Some(event), None, None);
        self.connected() && self.inner.sink.send_frames(&frames)
    }

    /// Emits an event and waits for the client's acknowledgement: await it
    /// in an async handler ([`super::Namespace::on_async`]), where the answer
    /// comes in while the socket's later events wait behind the handler.
    /// A client that leaves more than `max_pending_acks` unanswered is
    /// disconnected. With connection state recovery, such an event is not
    /// kept for replay (as in the reference): its answer could not come.
    pub fn emit_with_ack(
        &self,
        event: &str,
        payload: impl Into<Payload>,
        timeout: Duration,
    ) -> impl Future<Output = Result<Payload, AckError>> + Send + 'static {
        let (tx, rx) = channel::bounded(1);
        let mut asked = None;
        if let (true, Some(limits)) = (self.connected(), self.limits()) {
            // The table's lock is let go of before sending or closing.
            let max = limits.max_pending_acks;
            let now = self.inner.home.clock().now();
            let answer = self.acks().ask(tx, now, timeout, max);
            match answer {
                Ok(Asked { id, deadline }) => {
                    let payload = payload.into();
                    let frames = payload.encode(self.namespace(), Some(event), Some(id), None);
                    self.inner.sink.send_frames(&frames);
                    asked = Some((id, deadline));
                }
                Err(max) => self.inner.sink.exceeded(Cap::PendingAcks, max),
            }
        }
        // Not sent: its waiter is gone, and the answer is `Disconnected`.
        let socket = self.clone();
        let expiry = asked
            .and_then(|(_, deadline)| deadline)
            .map(|deadline| self.inner.home.clock().sleep_until(deadline));
        async move {
            let answer = async { rx.recv().await.map_err(|_| AckError::Disconnected) };
            let expire = async {
                match expiry {
                    Some(expiry) => expiry.await,
                    None => std::future::pending().await,
                }
                socket.inner.home.metrics().acks_timed_out.inc();
                Err(AckError::Timeout)
            };
            let result = answer.or(expire).await;
            if let Some((id, _)) = asked {
                socket.acks().forget(id);
            }
            result
        }
    }

    fn acks(&self) -> MutexGuard<'_, Acks<Sender<Payload>>> {
        self.inner.acks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A place for one more unacknowledged event from the client; `None`
    /// when it has as many (`max`) as it may.
    pub(crate) fn pending_ack(&self, max: usize) -> Option<PendingAck> {
        PendingAck::take(&self.inner, max)
    }

    pub(crate) fn resolve_ack(&self, id: u64, payload: Payload) {
        if let Some(tx) = self.acks().answered(id) {
            let _ = tx.try_send(payload);
        }
    }

    /// Joins a room. A socket in more than `max_rooms` rooms is disconnected.
    pub fn join(&self, room: &str) {
        self.change_room(room, true);
    }

    /// Leaves a room; leaving one it is not in does nothing.
    pub fn leave(&self, room: &str) {
        self.change_room(room, false);
    }

    /// Joins or leaves `room`; with recovery, records the change between
    /// two offsets of the namespace's log.
    fn change_room(&self, room: &str, join: bool) {
        let home = &self.inner.home;
        let mut log = home.recovery().map(|r| r.lock());
        let (true, Some(limits)) = (self.connected(), self.limits()) else {
            return;
        };
        let (adapter, id) = (home.adapter(), &self.inner.id);
        let (count, is_in) = adapter.membership(id, room);
        if is_in == join || **id == *room {
            return;
        }
        let max = limits.max_rooms;
        // Its own room is counted too.
        if join && count > max {
            drop(log);
            return self.inner.sink.exceeded(Cap::Rooms, max);
        }
        if join {
            adapter.join(id, room);
        } else {
            adapter.leave(id, room);
        }
        home.room_changed(self, room, join);
        if let (Some(log), Some(resumable)) = (&mut log, &self.inner.resumable) {
            let mut membership = resumable
                .membership
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            log.record_room_change(&mut membership, room, join);
        }
    }

    /// The rooms this socket is in, its own included.
    pub fn rooms(&self) -> Vec<String> {
        self.inner.home.adapter().rooms(&self.inner.id)
    }

    /// Stores a value of type `T` with this socket, replacing any other.
    pub fn insert<T: Send + Sync + 'static>(&self, value: T) {
        self.extensions().insert(value);
    }

    /// A copy of the stored value of type `T`.
    pub fn get<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.extensions().get::<T>().cloned()
    }

    fn extensions(&self) -> MutexGuard<'_, Extensions> {
        self.inner
            .extensions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Disconnects the socket from its namespace; with `close`, also closes
    /// the client's whole connection.
    pub fn disconnect(&self, close: bool) {
        if !self.connected() {
            return;
        }
        let text = super::packet::encode(PacketKind::Disconnect, self.namespace(), None, 0, "");
        self.inner.sink.send(Frame::message(&text));
        self.on_disconnect(DisconnectReason::ServerNamespaceDisconnect);
        if close {
            self.inner.sink.close(CloseReason::ForcedClose);
        }
    }

    /// Leaves the namespace and runs its disconnect handler, once. A
    /// socket whose transport dropped is kept for recovery.
    pub(crate) fn on_disconnect(&self, reason: DisconnectReason) {
        let home = &self.inner.home;
        let mut log = home.recovery().map(|r| r.lock());
        if !self.inner.connected.swap(false, Ordering::AcqRel) {
            return;
        }
        self.inner.order.drop_waiting();
        if let Some(client) = self.inner.client.upgrade() {
            client.forget(self.id());
        }
        let parkable = match reason {
            DisconnectReason::Transport(reason) => recovery::recoverable(reason),
            _ => false,
        };
        if let (Some(log), Some(resumable), true) = (&mut log, &self.inner.resumable, parkable) {
            let id = &self.inner.id;
            let rooms = home.adapter().rooms(id);
            let rooms = rooms
                .into_iter()
                .filter(|r| **r != **id)
                .map(Into::into)
                .collect();
            let membership = std::mem::take(
                &mut *resumable
                    .membership
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()),
            );
            let extensions = self.inner.extensions.clone();
            let now = home.clock().now();
            let parked = Parked::new(id.clone(), rooms, membership, extensions, now);
            log.park(
                home.name(),
                resumable.with_pid(id, |pid| Arc::from(pid)),
                parked,
            );
        }
        #[cfg(feature = "cluster")]
        if let (Some(recovery), Some(resumable), true) =
            (home.cluster_recovery(), &self.inner.resumable, parkable)
        {
            let owner = self
                .extensions()
                .get::<recovery::Owner>()
                .map(|o| o.0.clone());
            recovery.persist(DroppedSocket {
                id: self.id().to_owned(),
                pid: resumable.with_pid(self.id(), str::to_owned),
                rooms: home.adapter().rooms(&self.inner.id),
                owner: owner.map(|o| super::adapter::owner_digest(&o)),
            });
        }
        let rooms = home.remove(self);
        drop(log);
        self.acks().close();
        home.left(self, reason, rooms);
    }
}

impl SocketInfo {
    /// One of this server's sockets.
    pub fn of(socket: &Socket) -> SocketInfo {
        let handshake = socket.handshake();
        let query: Map<String, Value> = handshake
            .query_pairs()
            .map(|(name, value)| (name.to_owned(), json!(value)))
            .collect();
        let issued = handshake
            .issued()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let address = handshake.address().map(|a| {
            a.parse::<std::net::SocketAddr>()
                .map_or(a.to_owned(), |a| a.ip().to_string())
        });
        SocketInfo {
            id: socket.id().to_owned(),
            handshake: json!({
                "headers": shown_headers(handshake.headers()),
                "time": crate::clock::iso(issued),
                "address": address,
                "xdomain": handshake.header("origin").is_some(),
                "secure": false,
                "issued": issued,
                "query": query,
                "auth": {},
            }),
            rooms: socket.rooms(),
            data: json!({}),
        }
    }
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.inner.id)
            .field("namespace", self.inner.home.name())
            .finish()
    }
}
