//! Namespaces: the handlers an application registers for one, the sockets
//! connected to it, and broadcasts to its rooms.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
#[cfg(feature = "cluster")]
use std::sync::OnceLock;
use std::sync::{Arc, RwLock, RwLockReadGuard, Weak};
use std::time::Duration;

use super::extensions::Extensions;
use serde_json::{json, Value};

use super::adapter::{
    Adapter, Cluster, ClusterError, ClusterRecovery, Emitter, LocalAdapter, SocketInfo, Target,
};
use super::event::Event;
use super::handshake::Handshake;
use super::observer::Observer;
use super::payload::Payload;
use super::recovery::{Audience, Recovery};
use super::socket::{DisconnectReason, Home, Socket};
use crate::clock::Clock;
use crate::engineio::contain::contain;
use crate::engineio::Frame;
use crate::metrics::Metrics;

type Middleware = dyn Fn(&Handshake, &mut Extensions) -> Result<(), ConnectError> + Send + Sync;
type ConnectHandler = dyn Fn(&Socket) + Send + Sync;
type SyncHandler = dyn Fn(&Socket, Event) + Send + Sync;
type AsyncHandler = dyn Fn(Socket, Event) -> HandlerFuture + Send + Sync;
/// What an async handler returns, boxed to be stored.
type HandlerFuture = Pin<Box<dyn Future<Output = ()> + Send>>;
type DisconnectHandler = dyn Fn(&Socket, DisconnectReason) + Send + Sync;
type ServerEventHandler = dyn Fn(&Nsp, &[Value]) -> Value + Send + Sync;

/// A namespace's handler of one event (see `handler.rs` for how they run).
pub(crate) enum Handler {
    Sync(Box<SyncHandler>),
    Async(Box<AsyncHandler>),
}

/// A refusal from a middleware; the client gets it as `connect_error`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectError {
    /// The error's `message`, as the client sees it.
    pub message: String,
    /// Extra data sent with it (`err.data` in the client).
    pub data: Option<Value>,
}

impl ConnectError {
    /// A refusal with `message` and no data.
    pub fn new(message: impl Into<String>) -> ConnectError {
        ConnectError {
            message: message.into(),
            data: None,
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        match &self.data {
            Some(data) => json!({"message": self.message, "data": data}),
            None => json!({"message": self.message}),
        }
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConnectError {}

/// A namespace as an application defines it, before the server runs it.
///
/// A socket's events reach their handlers in the order they came. Handlers
/// registered with [`Namespace::on`] run on the client's connection and
/// must not block; one that waits (the store, an acknowledgement) is
/// registered with [`Namespace::on_async`], and the socket's later events
/// wait until it is done.
pub struct Namespace {
    name: String,
    middleware: Vec<Box<Middleware>>,
    on_connect: Option<Box<ConnectHandler>>,
    on_disconnect: Option<Box<DisconnectHandler>>,
    handlers: HashMap<String, Handler>,
    server_handlers: HashMap<String, Box<ServerEventHandler>>,
    adapter: Option<Arc<dyn Adapter>>,
}

impl Namespace {
    /// A namespace named `name` (`"/"`, `"/admin"`...) with no handlers.
    pub fn new(name: &str) -> Namespace {
        Namespace {
            name: name.to_owned(),
            middleware: Vec::new(),
            on_connect: None,
            on_disconnect: None,
            handlers: HashMap::new(),
            server_handlers: HashMap::new(),
            adapter: None,
        }
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Adds a connection middleware: it sees the handshake, may store values
    /// for the socket, and may refuse the connection. Middleware runs off the
    /// executor (in [`crate::blocking::unblock`]), so it may make a blocking call such as a
    /// session store read.
    pub fn middleware(
        mut self,
        f: impl Fn(&Handshake, &mut Extensions) -> Result<(), ConnectError> + Send + Sync + 'static,
    ) -> Namespace {
        self.middleware.push(Box::new(f));
        self
    }

    /// Runs when a socket has connected.
    pub fn on_connect(mut self, f: impl Fn(&Socket) + Send + Sync + 'static) -> Namespace {
        self.on_connect = Some(Box::new(f));
        self
    }

    /// Runs when a socket has left, with the reason.
    pub fn on_disconnect(
        mut self,
        f: impl Fn(&Socket, DisconnectReason) + Send + Sync + 'static,
    ) -> Namespace {
        self.on_disconnect = Some(Box::new(f));
        self
    }

    /// Handles the event `name` on the client's connection (or, when it
    /// came while an async handler of the socket ran, once that is done):
    /// `f` must not block or wait (see [`Namespace::on_async`]).
    pub fn on(
        mut self,
        name: &str,
        f: impl Fn(&Socket, Event) + Send + Sync + 'static,
    ) -> Namespace {
        self.handlers
            .insert(name.to_owned(), Handler::Sync(Box::new(f)));
        self
    }

    /// Handles the event `name` with a handler that waits: `f` (an `async
    /// fn(Socket, Event)` or a closure returning an `async move` block) may
    /// await the session store, an acknowledgement from the client
    /// ([`Socket::emit_with_ack`]) or anything else. It runs as a task of
    /// its own; until its future is done, the socket's later events (to
    /// sync handlers too) wait behind it, in the order they came, and no
    /// other socket is held up. At most `max_pending_acks` events may wait
    /// so; a client that sends more is disconnected. When the socket
    /// leaves, what waits is dropped and the running handler finishes.
    ///
    /// The handler gets its own [`Socket`] (a cheap clone) because its
    /// future outlives the call that started it.
    pub fn on_async<F, Fut>(mut self, name: &str, f: F) -> Namespace
    where
        F: Fn(Socket, Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let f = move |socket, event| -> HandlerFuture { Box::pin(f(socket, event)) };
        self.handlers
            .insert(name.to_owned(), Handler::Async(Box::new(f)));
        self
    }

    /// Handles the server-side event `name` from the other servers of a
    /// cluster (`serverSideEmit` in Node): `f` gets the arguments, and what
    /// it returns is the answer when the sender waits for one.
    pub fn on_server_event(
        mut self,
        name: &str,
        f: impl Fn(&Nsp, &[Value]) -> Value + Send + Sync + 'static,
    ) -> Namespace {
        self.server_handlers.insert(name.to_owned(), Box::new(f));
        self
    }

    /// Replaces the in-process room adapter.
    pub fn adapter(mut self, adapter: Arc<dyn Adapter>) -> Namespace {
        self.adapter = Some(adapter);
        self
    }

    pub(crate) fn build(
        self,
        recovery: Option<Recovery>,
        observer: Option<Arc<dyn Observer>>,
        metrics: Arc<Metrics>,
        clock: &Clock,
    ) -> Arc<NamespaceInner> {
        Arc::new(NamespaceInner {
            name: self.name.into(),
            middleware: self.middleware,
            on_connect: self.on_connect,
            on_disconnect: self.on_disconnect,
            handlers: self.handlers,
            server_handlers: self.server_handlers,
            #[cfg(feature = "cluster")]
            cluster: OnceLock::new(),
            #[cfg(feature = "cluster")]
            cluster_recovery: OnceLock::new(),
            adapter: self
                .adapter
                .unwrap_or_else(|| Arc::new(LocalAdapter::default())),
            sockets: RwLock::new(HashMap::new()),
            recovery,
            observer,
            metrics,
            clock: clock.clone(),
        })
    }
}

/// A running namespace.
pub(crate) struct NamespaceInner {
    pub(crate) name: Arc<str>,
    pub(crate) middleware: Vec<Box<Middleware>>,
    pub(crate) on_connect: Option<Box<ConnectHandler>>,
    pub(crate) on_disconnect: Option<Box<DisconnectHandler>>,
    pub(crate) handlers: HashMap<String, Handler>,
    server_handlers: HashMap<String, Box<ServerEventHandler>>,
    pub(crate) adapter: Arc<dyn Adapter>,
    /// The other servers, when this namespace is part of a cluster.
    #[cfg(feature = "cluster")]
    cluster: OnceLock<Arc<dyn Cluster>>,
    /// Connection state recovery the cluster keeps, when it does (then
    /// `recovery` is off).
    #[cfg(feature = "cluster")]
    cluster_recovery: OnceLock<Arc<dyn ClusterRecovery>>,
    sockets: RwLock<HashMap<Arc<str>, Socket>>,
    /// Connection state recovery, when on.
    pub(crate) recovery: Option<Recovery>,
    /// An instrument told of sockets and rooms (the Admin UI's).
    pub(crate) observer: Option<Arc<dyn Observer>>,
    /// The server's counters.
    pub(crate) metrics: Arc<Metrics>,
    /// The server's clock.
    clock: Clock,
}

impl NamespaceInner {
    /// Adds a socket: in the table first, so the adapter never names a
    /// socket the table has not.
    pub(crate) fn add(&self, socket: &Socket) {
        self.sockets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(socket.id_arc().clone(), socket.clone());
        self.adapter.add(socket.id_arc());
    }

    pub(crate) fn remove(&self, socket: &Socket) {
        self.adapter.remove(socket.id());
        self.sockets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(socket.id());
    }

    fn socket(&self, id: &str) -> Option<Socket> {
        self.sockets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    fn all(&self) -> Vec<Socket> {
        self.sockets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    fn len(&self) -> usize {
        self.sockets.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Writes `frames` to the sockets of `target`: the adapter picks them,
    /// the table (read-locked once) has their sinks.
    fn deliver(&self, frames: &[Frame], target: &Target) {
        let sinks = Sinks(self.sockets.read().unwrap_or_else(|e| e.into_inner()));
        self.adapter.broadcast(frames, target, &sinks);
    }

    /// Attaches the cluster; once.
    #[cfg(feature = "cluster")]
    /// A cluster that keeps recovery takes it over from a namespace without
    /// its own; one with its own (`IoBuilder::recovery`) keeps it, as two
    /// kinds of offsets cannot mix.
    pub(crate) fn attach(&self, cluster: Arc<dyn Cluster>) {
        match (cluster.recovery(), &self.recovery) {
            (Some(recovery), None) => {
                let _ = self.cluster_recovery.set(recovery);
            }
            (Some(_), Some(_)) => log::warn!(
                "namespace {}: the cluster keeps connection state recovery, but this server \
                 keeps its own too (IoBuilder::recovery): recovery stays on this server",
                self.name
            ),
            (None, _) => {}
        }
        let _ = self.cluster.set(cluster);
    }

    /// The other servers, when this namespace is part of a cluster.
    #[cfg(feature = "cluster")]
    fn cluster(&self) -> Option<&Arc<dyn Cluster>> {
        self.cluster.get()
    }

    /// Without the `cluster` feature there is none, and the code that would
    /// talk to one is left out of the build.
    #[cfg(not(feature = "cluster"))]
    fn cluster(&self) -> Option<&Arc<dyn Cluster>> {
        None
    }

    /// Connection state recovery kept by the cluster, when it keeps it.
    #[cfg(feature = "cluster")]
    pub(crate) fn cluster_recovery(&self) -> Option<&Arc<dyn ClusterRecovery>> {
        self.cluster_recovery.get()
    }

    #[cfg(not(feature = "cluster"))]
    pub(crate) fn cluster_recovery(&self) -> Option<&Arc<dyn ClusterRecovery>> {
        None
    }
}

impl Home for NamespaceInner {
    fn name(&self) -> &Arc<str> {
        &self.name
    }

    fn adapter(&self) -> &dyn Adapter {
        &*self.adapter
    }

    fn recovery(&self) -> Option<&Recovery> {
        self.recovery.as_ref()
    }

    #[cfg(feature = "cluster")]
    fn cluster_recovery(&self) -> Option<&Arc<dyn ClusterRecovery>> {
        NamespaceInner::cluster_recovery(self)
    }

    fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    fn clock(&self) -> &Clock {
        &self.clock
    }

    fn room_changed(&self, socket: &Socket, room: &str, joined: bool) {
        if let Some(observer) = &self.observer {
            observer.room(socket, room, joined);
        }
    }

    fn remove(&self, socket: &Socket) -> Option<Vec<String>> {
        let rooms = self.observer.as_ref().map(|_| socket.rooms());
        NamespaceInner::remove(self, socket);
        rooms
    }

    fn left(&self, socket: &Socket, reason: DisconnectReason, rooms: Option<Vec<String>>) {
        if let (Some(observer), Some(rooms)) = (&self.observer, rooms) {
            observer.disconnected(socket, reason, &rooms);
        }
        if let Some(handler) = &self.on_disconnect {
            if let Err(panic) = contain(|| handler(socket, reason)) {
                log::error!(
                    "session {}: on_disconnect of namespace {} panicked ({panic})",
                    socket.sink().sid(),
                    self.name
                );
            }
        }
    }
}

/// The namespace `socket` is in. Every socket is made by `client.rs` with
/// a [`NamespaceInner`] as its [`Home`], the one implementation there is.
fn home_of(socket: &Socket) -> Arc<NamespaceInner> {
    let home: Arc<dyn Any + Send + Sync> = socket.home().clone();
    match home.downcast() {
        Ok(nsp) => nsp,
        Err(_) => unreachable!("a socket's home is always a NamespaceInner"),
    }
}

/// What a socket offers that needs its whole namespace.
impl Socket {
    /// The namespace, to broadcast to it.
    pub fn nsp(&self) -> Nsp {
        Nsp::new(home_of(self))
    }

    /// A broadcast to `room` that leaves this socket out.
    pub fn to(&self, room: &str) -> Broadcast {
        self.broadcast().to(room)
    }

    /// A broadcast to every other socket of the namespace.
    pub fn broadcast(&self) -> Broadcast {
        let target = Target {
            rooms: Vec::new(),
            except: vec![self.id().to_owned()],
        };
        Broadcast::new(home_of(self), target)
    }
}

/// A namespace's sockets, as its adapter reaches them.
struct Sinks<'a>(RwLockReadGuard<'a, HashMap<Arc<str>, Socket>>);

impl Emitter for Sinks<'_> {
    fn emit(&self, id: &str, frames: &[Frame]) {
        if let Some(socket) = self.0.get(id) {
            socket.sink().send_frames(frames);
        }
    }
}

/// A handle on a running namespace.
#[derive(Clone)]
pub struct Nsp {
    inner: Arc<NamespaceInner>,
}

impl Nsp {
    pub(crate) fn new(inner: Arc<NamespaceInner>) -> Nsp {
        Nsp { inner }
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Whether this namespace is part of a cluster.
    pub(crate) fn clustered(&self) -> bool {
        self.inner.cluster().is_some()
    }

    /// Whether the cluster keeps this namespace's recovery.
    #[cfg(all(test, feature = "redis"))]
    pub(crate) fn cluster_keeps_recovery(&self) -> bool {
        self.inner.cluster_recovery().is_some()
    }

    /// How many dropped sockets recovery keeps (none when it is off).
    #[cfg(test)]
    pub(crate) fn parked_count(&self) -> usize {
        let recovery = self.inner.recovery.as_ref();
        recovery.map_or(0, |r| r.lock().parked_count())
    }

    /// How many sockets are connected here.
    pub fn socket_count(&self) -> usize {
        self.inner.len()
    }

    /// Every connected socket.
    pub fn sockets(&self) -> Vec<Socket> {
        self.inner.all()
    }

    /// A connected socket by id.
    pub fn socket(&self, id: &str) -> Option<Socket> {
        self.inner.socket(id)
    }

    /// A broadcast to every socket of the namespace.
    pub fn all(&self) -> Broadcast {
        Broadcast::new(self.inner.clone(), Target::default())
    }

    /// A broadcast to the sockets in `room`.
    pub fn to(&self, room: &str) -> Broadcast {
        self.all().to(room)
    }

    /// A broadcast to every socket except those in `room`.
    pub fn except(&self, room: &str) -> Broadcast {
        self.all().except(room)
    }

    /// A broadcast to this server's sockets only, in a cluster (`local` in
    /// Node): what another server of the cluster asks for comes in here.
    pub fn local(&self) -> Broadcast {
        self.all().local()
    }

    /// Emits to every socket of the namespace.
    pub fn emit(&self, event: &str, payload: impl Into<Payload>) {
        self.all().emit(event, payload)
    }

    /// Sends `event` to the other servers of the cluster (`serverSideEmit`
    /// in Node), where [`Namespace::on_server_event`] handles it. Without a
    /// cluster it goes nowhere.
    pub fn server_side_emit(&self, event: &str, args: Vec<Value>) {
        if let Some(cluster) = self.inner.cluster() {
            // Without an ack nothing waits on the future.
            drop(cluster.server_side_emit(event, args, None));
        }
    }

    /// [`Nsp::server_side_emit`], waiting for every other server's answer
    /// (`serverSideEmitWithAck`); no other server: no answers.
    pub fn server_side_emit_with_ack(
        &self,
        event: &str,
        args: Vec<Value>,
        timeout: Duration,
    ) -> impl std::future::Future<Output = Result<Vec<Value>, ClusterError>> + Send + 'static {
        let asked = self
            .inner
            .cluster()
            .map(|cluster| cluster.server_side_emit(event, args, Some(timeout)));
        async move {
            match asked {
                Some(answers) => answers.await,
                None => Ok(Vec::new()),
            }
        }
    }

    /// Runs this namespace's handler of a server-side event from another
    /// server; its answer (`None`: no handler).
    pub fn server_event(&self, event: &str, args: &[Value]) -> Option<Value> {
        let handler = self.inner.server_handlers.get(event)?;
        match contain(|| handler(self, args)) {
            Ok(answer) => Some(answer),
            Err(panic) => {
                log::error!(
                    "namespace {}: server event {event} handler panicked ({panic})",
                    self.inner.name
                );
                None
            }
        }
    }

    /// A handle that does not keep the namespace alive (for a cluster,
    /// which the namespace holds).
    pub fn downgrade(&self) -> WeakNsp {
        WeakNsp(Arc::downgrade(&self.inner))
    }
}

/// A namespace handle that does not keep it alive.
#[derive(Clone)]
pub struct WeakNsp(Weak<NamespaceInner>);

impl WeakNsp {
    /// The namespace, if the server still has it.
    pub fn upgrade(&self) -> Option<Nsp> {
        self.0.upgrade().map(Nsp::new)
    }
}

/// A selection of sockets to emit to or disconnect.
pub struct Broadcast {
    nsp: Arc<NamespaceInner>,
    target: Target,
    /// This server's sockets only (the cluster is not told).
    local: bool,
}

impl Broadcast {
    pub(crate) fn new(nsp: Arc<NamespaceInner>, target: Target) -> Broadcast {
        Broadcast {
            nsp,
            target,
            local: false,
        }
    }

    /// Selects this server's sockets only: the other servers of a cluster
    /// are not told.
    pub fn local(mut self) -> Broadcast {
        self.local = true;
        self
    }

    /// The cluster to tell, unless this is local.
    fn cluster(&self) -> Option<&Arc<dyn Cluster>> {
        match self.local {
            true => None,
            false => self.nsp.cluster(),
        }
    }

    /// Adds `room` to the rooms reached.
    pub fn to(mut self, room: &str) -> Broadcast {
        self.target.rooms.push(room.to_owned());
        self
    }

    /// Leaves out the sockets in `room`.
    pub fn except(mut self, room: &str) -> Broadcast {
        self.target.except.push(room.to_owned());
        self
    }

    /// Emits to every selected socket; the packet is encoded once. With
    /// connection state recovery it is also kept for the selected sockets
    /// that dropped and may come back.
    pub fn emit(&self, event: &str, payload: impl Into<Payload>) {
        self.nsp.metrics.broadcasts.inc();
        self.send(event, payload.into());
    }

    /// [`Broadcast::emit`], not counted as a broadcast (one socket's own
    /// event, kept for recovery).
    pub(crate) fn send(&self, event: &str, payload: Payload) {
        let (nsp, target) = (&self.nsp, &self.target);
        // The cluster's recovery delivers it here too, with its offset.
        if let (false, Some(recovery)) = (self.local, nsp.cluster_recovery()) {
            return recovery.emit(event, payload, target);
        }
        if let Some(cluster) = self.cluster() {
            cluster.broadcast(event, &payload, target);
        }
        match &nsp.recovery {
            Some(recovery) => {
                let audience = Audience::Rooms(target.clone());
                recovery.emit(&nsp.name, event, payload, audience, |f| {
                    nsp.deliver(f, target)
                })
            }
            None => {
                let frames = payload.encode(&nsp.name, Some(event), None, None);
                nsp.deliver(&frames, target);
            }
        }
    }

    /// The ids of the selected sockets of this server.
    pub fn socket_ids(&self) -> Vec<Arc<str>> {
        self.nsp.adapter.sockets(&self.target)
    }

    /// The selected sockets of this server.
    fn local_sockets(&self) -> Vec<Socket> {
        let ids = self.socket_ids();
        ids.iter().filter_map(|id| self.nsp.socket(id)).collect()
    }

    /// The selected sockets of every server of the cluster (`fetchSockets`
    /// in Node): this server's first, then what the others answered
    /// (an error when one did not answer in time).
    pub fn fetch_sockets(
        &self,
    ) -> impl std::future::Future<Output = Result<Vec<SocketInfo>, ClusterError>> + Send + 'static
    {
        let local: Vec<SocketInfo> = self.local_sockets().iter().map(SocketInfo::of).collect();
        let remote = self.cluster().map(|c| c.fetch_sockets(&self.target));
        async move {
            let mut all = local;
            if let Some(remote) = remote {
                all.extend(remote.await?);
            }
            Ok(all)
        }
    }

    /// The selected sockets join `rooms` (`socketsJoin` in Node), on every
    /// server of the cluster.
    pub fn sockets_join(&self, rooms: &[&str]) {
        self.change_rooms(rooms, true)
    }

    /// The selected sockets leave `rooms` (`socketsLeave`), on every server.
    pub fn sockets_leave(&self, rooms: &[&str]) {
        self.change_rooms(rooms, false)
    }

    fn change_rooms(&self, rooms: &[&str], join: bool) {
        if let Some(cluster) = self.cluster() {
            let names: Vec<String> = rooms.iter().map(|&r| r.to_owned()).collect();
            cluster.change_rooms(&self.target, &names, join);
        }
        for socket in self.local_sockets() {
            for room in rooms {
                match join {
                    true => socket.join(room),
                    false => socket.leave(room),
                }
            }
        }
    }

    /// Disconnects every selected socket, on every server of the cluster;
    /// with `close`, their whole connections too. Selected sockets kept for
    /// recovery are forgotten: they cannot come back.
    pub fn disconnect_sockets(&self, close: bool) {
        if let Some(cluster) = self.cluster() {
            cluster.disconnect(&self.target, close);
        }
        for id in self.socket_ids() {
            if let Some(socket) = self.nsp.socket(&id) {
                socket.disconnect(close);
            }
        }
        if let Some(recovery) = &self.nsp.recovery {
            recovery.lock().forget(&self.target);
        }
    }
}
