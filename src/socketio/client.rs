//! One Engine.IO session seen from Socket.IO: the runtime around its
//! [`Machine`] (which decodes packets, checks the client's caps and puts
//! binary attachments back together), routing the packets it gives to the
//! namespaces the client connected to.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use super::extensions::Extensions;
use serde_json::{json, Value};

#[cfg(feature = "cluster")]
use super::adapter::{owner_digest, RecoveredSocket};
use super::event::{Ack, Event};
use super::handler;
use super::handshake::Handshake;
use super::limits::Limits;
use super::machine::{self, Admission, Inbound, Known, Machine, Received};
use super::namespace::{ConnectError, NamespaceInner};
use super::packet::{self, PacketKind};
use super::payload::Payload;
#[cfg(feature = "cluster")]
use super::recovery::Parked;
use super::recovery::{
    Claim, Membership, NotRecovered, Owner, Recovery, Restored, State as RecoveryState,
};
use super::socket::{Conn, DisconnectReason, Resumable, Socket};
use crate::clock::Clock;
use crate::engineio::contain::contain;
use crate::engineio::{
    random_id, Cap, CloseReason, Connection, EngineSocket, Frame, HandshakeRequest, Message,
    Protocol,
};
use crate::metrics::{Metrics, Refusal};

/// A server's namespaces by name, and the counters they share.
pub(crate) struct Namespaces {
    by_name: HashMap<String, Arc<NamespaceInner>>,
    pub(crate) metrics: Arc<Metrics>,
    /// The server's clock.
    pub(crate) clock: Clock,
}

impl Namespaces {
    pub(crate) fn new(
        by_name: HashMap<String, Arc<NamespaceInner>>,
        metrics: Arc<Metrics>,
        clock: Clock,
    ) -> Self {
        Namespaces {
            by_name,
            metrics,
            clock,
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Arc<NamespaceInner>> {
        self.by_name.get(name)
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &Arc<NamespaceInner>> {
        self.by_name.values()
    }

    /// The `/` namespace, which [`super::IoBuilder::build`] always adds.
    pub(crate) fn root(&self) -> &Arc<NamespaceInner> {
        &self.by_name["/"]
    }
}

/// A socket about to join its namespace: the rooms it takes back and the
/// events it missed, when it recovers.
struct Joining {
    socket: Socket,
    rooms: Vec<Arc<str>>,
    missed: Vec<Frame>,
}

/// What the cluster's recovery found for a connection's claim (nothing
/// without the `cluster` feature).
#[cfg(feature = "cluster")]
type Found = Option<RecoveredSocket>;
#[cfg(not(feature = "cluster"))]
type Found = ();

/// Why connect middleware did not admit a client.
enum Refused {
    By(ConnectError),
    Panicked(String),
}

pub(crate) struct Client {
    sink: Arc<EngineSocket>,
    request: Arc<HandshakeRequest>,
    namespaces: Arc<Namespaces>,
    limits: Limits,
    this: Weak<Client>,
    state: Mutex<State>,
}

struct State {
    machine: Machine,
    sockets: Vec<Socket>,
}

impl Client {
    pub(crate) fn new(
        sink: Arc<EngineSocket>,
        request: HandshakeRequest,
        namespaces: Arc<Namespaces>,
        limits: Limits,
        connect_timeout: Duration,
    ) -> Arc<Client> {
        let v4_protocol = request.protocol() == Protocol::V3;
        let join_deadline = namespaces.clock.now() + connect_timeout;
        let client = Arc::new_cyclic(|this| Client {
            sink,
            request: Arc::new(request),
            namespaces,
            limits,
            this: this.clone(),
            state: Mutex::new(State {
                machine: Machine::new(v4_protocol, join_deadline),
                sockets: Vec::new(),
            }),
        });
        // Asked once the deadline is set, so the tick cannot come before it.
        client.sink.tick_after(connect_timeout);
        client
    }

    /// The client speaks Socket.IO protocol 4 (over Engine.IO 3): see
    /// [`Client::open_v4_protocol`]. (Read from the request, not kept: every
    /// client would pay for the field.)
    fn v4_protocol(&self) -> bool {
        self.request.protocol() == Protocol::V3
    }

    /// Socket.IO protocol 4 (`socket.io-client` 2.x) differs from 5 in what
    /// the server says, not in the packet format: the default namespace is
    /// joined without a CONNECT from the client, a CONNECT reply carries no
    /// data, a CONNECT names its auth as a query (`0/nsp?token=1,`), a
    /// refusal's data is a plain value, and a socket's id is derived from
    /// the Engine.IO session's (`sid`, `/nsp#sid`), as the client derives
    /// it too. (So whoever learns such a socket's id knows its session id,
    /// as with Socket.IO 2 servers.) This joins `/` for such a client.
    pub(crate) fn open_v4_protocol(&self) {
        if self.v4_protocol() {
            self.connect("/", json!({}));
        }
    }

    /// A refusal as the client's protocol carries it.
    fn refusal(&self, refusal: &ConnectError) -> Value {
        match (&refusal.data, self.v4_protocol()) {
            (_, false) => refusal.to_json(),
            (Some(data), true) => data.clone(),
            (None, true) => Value::String(refusal.message.clone()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn socket(&self, namespace: &str) -> Option<Socket> {
        self.lock()
            .sockets
            .iter()
            .find(|s| s.namespace() == namespace)
            .cloned()
    }

    /// A new socket of this client in `nsp`.
    fn socket_in(
        &self,
        nsp: &Arc<NamespaceInner>,
        id: Arc<str>,
        handshake: Handshake,
        extensions: Arc<Mutex<Extensions>>,
        resumable: Option<Resumable>,
    ) -> Socket {
        let client: Weak<dyn Conn> = self.this.clone();
        let handles = (client, self.sink.clone());
        Socket::new(id, nsp.clone(), handles, handshake, extensions, resumable)
    }

    fn send_packet(&self, kind: PacketKind, namespace: &str, data: &Value) {
        let text = packet::encode(kind, namespace, None, 0, &data.to_string());
        self.sink.send(Frame::message(&text));
    }

    fn protocol_error(&self) {
        self.sink.close(CloseReason::ParseError);
    }

    /// Carries out what a packet from the client asks.
    fn dispatch(&self, inbound: Inbound) {
        match inbound {
            Inbound::Connect { namespace, auth } => self.connect(&namespace, auth),
            Inbound::Leave(namespace) => {
                if let Some(socket) = self.socket(&namespace) {
                    socket.on_disconnect(DisconnectReason::ClientNamespaceDisconnect);
                }
            }
            Inbound::Event {
                namespace,
                name,
                args,
                attachments,
                ack,
            } => {
                if let Some(socket) = self.socket(&namespace) {
                    let payload = Payload::from_parts(args, attachments);
                    self.handle_event(&socket, name, payload, ack);
                }
            }
            Inbound::Answer {
                namespace,
                id,
                args,
                attachments,
            } => {
                if let Some(socket) = self.socket(&namespace) {
                    socket.resolve_ack(id, Payload::from_parts(args, attachments));
                }
            }
            Inbound::ProtocolError => self.protocol_error(),
            Inbound::Ignored => {}
        }
    }

    /// A `CONNECT` to `namespace` with `auth` (its query already made its
    /// auth by the machine, for a Socket.IO 2 client).
    fn connect(&self, namespace: &str, auth: Value) {
        let nsp = self.namespaces.get(namespace);
        // A claim that the cluster's recovery answers waits for Redis.
        #[cfg(feature = "cluster")]
        let cluster_claim = nsp
            .filter(|nsp| nsp.cluster_recovery().is_some() && !self.v4_protocol())
            .and_then(|_| Claim::of(&auth))
            .and_then(|claim| Some((claim.pid.to_owned(), claim.offset?.to_owned())));
        #[cfg(not(feature = "cluster"))]
        let cluster_claim: Option<std::convert::Infallible> = None;
        let known = match nsp {
            None => Known::No,
            Some(nsp) if nsp.middleware.is_empty() && cluster_claim.is_none() => Known::Open,
            Some(nsp) => Known::Guarded(&nsp.name),
        };
        let admission = {
            let mut state = self.lock();
            let State {
                machine, sockets, ..
            } = &mut *state;
            let joined = sockets.iter().any(|s| s.namespace() == namespace);
            machine.on_connect(known, joined)
        };
        let nsp = match (admission, nsp) {
            (Admission::Unknown, _) | (_, None) => {
                self.namespaces.metrics.refused(Refusal::UnknownNamespace);
                let error = json!({"message": "Invalid namespace"});
                self.send_packet(PacketKind::ConnectError, namespace, &error);
                return;
            }
            (Admission::Ignored, _) => return,
            (Admission::Join, Some(nsp)) => {
                let handshake = Handshake::new(self.request.clone(), auth);
                return self.join(nsp, handshake, Extensions::new());
            }
            (Admission::Decide, Some(nsp)) => nsp.clone(),
        };
        let handshake = Handshake::new(self.request.clone(), auth);
        let Some(client) = self.this.upgrade() else {
            self.lock().machine.on_decided(&nsp.name);
            return;
        };
        // Middleware may block (a session store read): it runs off the executor.
        smol::spawn(async move {
            let admitted = crate::blocking::unblock({
                let (nsp, handshake) = (nsp.clone(), handshake.clone());
                move || {
                    let mut extensions = Extensions::new();
                    for middleware in &nsp.middleware {
                        match contain(|| middleware(&handshake, &mut extensions)) {
                            Ok(Ok(())) => {}
                            Ok(Err(refusal)) => return Err(Refused::By(refusal)),
                            Err(panic) => return Err(Refused::Panicked(panic)),
                        }
                    }
                    Ok(extensions)
                }
            })
            .await;
            #[cfg(feature = "cluster")]
            if let (Ok(_), Some((pid, offset)), Some(recovery)) =
                (&admitted, cluster_claim, nsp.cluster_recovery().cloned())
            {
                let Ok(extensions) = admitted else { return };
                let (joiner, nsp) = (client.clone(), nsp.clone());
                let join = move |found: Option<RecoveredSocket>| {
                    joiner.lock().machine.on_decided(&nsp.name);
                    joiner.join_with(&nsp, handshake, extensions, found);
                };
                return recovery.restore(pid, offset, Box::new(join)).await;
            }
            client.lock().machine.on_decided(&nsp.name);
            let refusal = match admitted {
                Ok(extensions) => return client.join(&nsp, handshake, extensions),
                Err(Refused::By(refusal)) => client.refusal(&refusal),
                Err(Refused::Panicked(panic)) => {
                    let what = "a connect middleware";
                    client.log_panic(&nsp.name, what, &panic, "refusing the connection");
                    json!({"message": "server error"})
                }
            };
            nsp.metrics.refused(Refusal::NamespaceMiddleware);
            client.send_packet(PacketKind::ConnectError, &nsp.name, &refusal);
        })
        .detach();
    }

    /// Makes the socket of a client its namespace's middleware admitted: the
    /// one the `auth`'s `pid` and `offset` name when it can recover, a new
    /// one otherwise.
    fn join(&self, nsp: &Arc<NamespaceInner>, handshake: Handshake, extensions: Extensions) {
        #[cfg(feature = "cluster")]
        let nothing: Found = None;
        #[cfg(not(feature = "cluster"))]
        let nothing: Found = ();
        self.join_with(nsp, handshake, extensions, nothing)
    }

    /// [`Client::join`], with what the cluster's recovery found for the
    /// handshake's claim (when the cluster keeps recovery).
    fn join_with(
        &self,
        nsp: &Arc<NamespaceInner>,
        handshake: Handshake,
        extensions: Extensions,
        found: Found,
    ) {
        #[cfg(not(feature = "cluster"))]
        let () = found;
        // With recovery, the namespace's lock is held until the socket is in
        // its rooms and has been sent what it missed: no event goes between.
        // Clients of Socket.IO protocol 4 (Engine.IO 3) never recover: they
        // have no pid to send.
        let mut log = match self.v4_protocol() {
            true => None,
            false => nsp.recovery.as_ref().map(|r| (r, r.lock())),
        };
        let joining = {
            // The client may have left, or connected twice, while middleware
            // ran; `on_close` takes the sockets under this lock.
            let mut state = self.lock();
            let twice = state.sockets.iter().any(|s| s.namespace() == &*nsp.name);
            if self.sink.is_closed() || twice {
                return;
            }
            // Socket.IO 2 clients work their socket's id out themselves.
            let id: Arc<str> = match (self.v4_protocol(), &*nsp.name) {
                (false, _) => random_id().into(),
                (true, "/") => self.sink.sid_arc().clone(),
                (true, name) => format!("{name}#{}", self.sink.sid()).into(),
            };
            let joining = match &mut log {
                Some((recovery, log)) => {
                    let restored = self.restore(recovery, log, &nsp.name, &handshake, &extensions);
                    let since = log.last_offset();
                    self.resumable_socket(nsp, id, handshake, extensions, since, restored)
                }
                #[cfg(feature = "cluster")]
                None if nsp.cluster_recovery().is_some() && !self.v4_protocol() => {
                    let restored = found.and_then(|f| self.adopt(nsp, &handshake, &extensions, f));
                    self.resumable_socket(nsp, id, handshake, extensions, 0, restored)
                }
                None => Joining {
                    socket: self.socket_in(nsp, id, handshake, kept(extensions), None),
                    rooms: Vec::new(),
                    missed: Vec::new(),
                },
            };
            // Most clients join one namespace: room for one at first (a
            // later one grows the list as usual).
            if state.sockets.is_empty() {
                state.sockets.reserve_exact(1);
            }
            state.sockets.push(joining.socket.clone());
            joining
        };
        let socket = joining.socket;
        nsp.add(&socket);
        for room in &joining.rooms {
            nsp.adapter.join(socket.id(), room);
        }
        if let Some(observer) = &nsp.observer {
            observer.connected(&socket);
        }
        if self.lock().machine.on_joined() {
            self.sink.established();
        }
        if self.v4_protocol() {
            let text = packet::encode(PacketKind::Connect, &nsp.name, None, 0, "");
            self.sink.send(Frame::message(&text));
        } else {
            // `4` `40[/nsp,]{"sid":..[,"pid":..]}`, written in place.
            let mut text = String::with_capacity(nsp.name.len() + 80);
            text.push('4');
            packet::write_header(&mut text, PacketKind::Connect, &nsp.name, None, 0);
            text.push_str("{\"sid\":");
            packet::push_json_str(&mut text, socket.id());
            if let Some(resumable) = socket.resumable() {
                text.push_str(",\"pid\":");
                resumable.with_pid(socket.id(), |pid| packet::push_json_str(&mut text, pid));
            }
            text.push('}');
            self.sink.send(Frame::message_packet(text));
        }
        if !joining.missed.is_empty() {
            self.sink.send_frames(&joining.missed);
        }
        drop(log);
        if let Some(on_connect) = &nsp.on_connect {
            if let Err(panic) = contain(|| on_connect(&socket)) {
                self.log_panic(&nsp.name, "on_connect", &panic, "disconnecting the socket");
                socket.disconnect(false);
            }
        }
    }

    /// The parked socket the handshake's `auth` names, when it can recover
    /// exactly, with the pid it goes by.
    fn restore(
        &self,
        recovery: &Recovery,
        log: &mut RecoveryState,
        namespace: &str,
        handshake: &Handshake,
        extensions: &Extensions,
    ) -> Option<(Arc<str>, Restored)> {
        let claim = Claim::of(handshake.auth())?;
        let owner = extensions.get::<Owner>();
        let same_owner = |old: &Extensions| old.get::<Owner>() == owner;
        match recovery.restore(log, claim, recovery.now(), same_owner) {
            Ok(restored) => Some((claim.pid.into(), restored)),
            Err(why) => {
                let sid = self.sink.sid();
                let text = why.as_str();
                let line = format!(
                    "session {sid}: a new socket in {namespace}, not a recovered one: {text}"
                );
                // Past a bound (the buffer, the replay) the operator may want
                // to know; the rest is the ordinary course of things.
                match why {
                    NotRecovered::OffsetGone | NotRecovered::TooMuchMissed => log::info!("{line}"),
                    NotRecovered::UnknownPid | NotRecovered::OtherOwner => log::debug!("{line}"),
                }
                None
            }
        }
    }

    /// A socket the cluster's recovery found, when the connection has its
    /// owner (or it was kept without one), with the frames it missed.
    #[cfg(feature = "cluster")]
    fn adopt(
        &self,
        nsp: &NamespaceInner,
        handshake: &Handshake,
        extensions: &Extensions,
        found: RecoveredSocket,
    ) -> Option<(Arc<str>, Restored)> {
        let claim = Claim::of(handshake.auth())?;
        let owner = extensions.get::<Owner>().map(|o| owner_digest(&o.0));
        if found.owner.is_some() && found.owner != owner {
            let why = NotRecovered::OtherOwner.as_str();
            let sid = self.sink.sid();
            log::debug!(
                "session {sid}: a new socket in {}, not a recovered one: {why}",
                nsp.name
            );
            return None;
        }
        let missed: Vec<Frame> = found
            .missed
            .iter()
            .flat_map(|(event, payload)| payload.encode(&nsp.name, Some(event), None, None))
            .collect();
        // As the server's own recovery: at most half of what may wait for it.
        if missed.iter().map(|f| f.len()).sum::<usize>() > self.sink.max_queued() / 2 {
            let why = NotRecovered::TooMuchMissed.as_str();
            let sid = self.sink.sid();
            log::info!(
                "session {sid}: a new socket in {}, not a recovered one: {why}",
                nsp.name
            );
            return None;
        }
        let rooms = found.rooms.into_iter().map(Into::into).collect();
        let extensions = Arc::new(Mutex::new(Extensions::new()));
        let now = self.namespaces.clock.now();
        let parked = Parked::new(found.id.into(), rooms, Membership::new(0), extensions, now);
        Some((claim.pid.into(), Restored { parked, missed }))
    }

    /// A socket that can recover later: the restored one, or a new one
    /// (`id`) whose events start after offset `since`.
    fn resumable_socket(
        &self,
        nsp: &Arc<NamespaceInner>,
        id: Arc<str>,
        handshake: Handshake,
        extensions: Extensions,
        since: u64,
        restored: Option<(Arc<str>, Restored)>,
    ) -> Joining {
        let Some((pid, Restored { parked, missed })) = restored else {
            let resumable = Resumable {
                pid: None,
                membership: Mutex::new(Membership::new(since)),
            };
            let socket = self.socket_in(nsp, id, handshake, kept(extensions), Some(resumable));
            return Joining {
                socket,
                rooms: Vec::new(),
                missed: Vec::new(),
            };
        };
        // What the middleware found now wins over what was kept.
        parked
            .extensions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(extensions);
        let resumable = Resumable {
            pid: Some(pid),
            membership: Mutex::new(parked.membership),
        };
        let socket = self.socket_in(
            nsp,
            parked.id,
            handshake,
            parked.extensions,
            Some(resumable),
        );
        Joining {
            socket,
            rooms: parked.rooms,
            missed,
        }
    }

    /// Logs a panic in a user handler, with the client it cost and what
    /// became of it (where it happened, the panic hook has printed).
    fn log_panic(&self, namespace: &str, handler: &str, panic: &str, outcome: &str) {
        handler::log_panic(&self.sink, namespace, handler, panic, outcome);
    }

    /// The client's event `name` for `socket`; with `ack`, the id its
    /// answer goes out with.
    fn handle_event(&self, socket: &Socket, name: String, payload: Payload, ack: Option<u64>) {
        let Some(nsp) = self.namespaces.get(socket.namespace()) else {
            return;
        };
        let Some(handler) = nsp.handlers.get(&name) else {
            return;
        };
        let max = self.limits.max_pending_acks;
        let ack = match ack {
            Some(id) => match socket.pending_ack(max) {
                Some(pending) => Some(Ack {
                    sink: self.sink.clone(),
                    namespace: nsp.name.clone(),
                    id,
                    _pending: pending,
                }),
                None => return self.sink.exceeded(Cap::PendingAcks, max),
            },
            None => None,
        };
        let event = Event::new(payload, ack);
        if !handler::deliver(socket, nsp, handler, name, event, max) {
            self.sink.exceeded(Cap::PendingAcks, max);
        }
    }
}

impl Conn for Client {
    fn limits(&self) -> Limits {
        self.limits
    }

    /// Drops a socket that left its namespace.
    fn forget(&self, id: &str) {
        self.lock().sockets.retain(|s| s.id() != id);
    }
}

impl Connection for Client {
    fn on_message(&self, message: Message) {
        let received = {
            let mut state = self.lock();
            let State {
                machine, sockets, ..
            } = &mut *state;
            match message {
                Message::Text(text) => machine.on_text(&text, &self.limits, |namespace| {
                    sockets.iter().any(|s| s.namespace() == namespace)
                }),
                Message::Binary(data) => machine.on_binary(data),
            }
        };
        match received {
            Received::Packet(packet, attachments) => {
                self.dispatch(machine::route(packet, attachments))
            }
            Received::Waiting => {}
            Received::ProtocolError => self.protocol_error(),
            Received::Exceeded(cap, limit) => self.sink.exceeded(cap, limit),
        }
    }

    fn on_tick(&self) {
        if self.lock().machine.on_tick(self.namespaces.clock.now()) {
            self.sink.close(CloseReason::TransportClose);
        }
    }

    fn on_upgrade(&self) {
        let sockets = self.lock().sockets.clone();
        for socket in sockets {
            let nsp = self.namespaces.get(socket.namespace());
            if let Some(observer) = nsp.and_then(|nsp| nsp.observer.as_ref()) {
                observer.upgraded(&socket);
            }
        }
    }

    fn on_close(&self, reason: CloseReason) {
        let sockets = {
            let mut state = self.lock();
            state.machine.on_close();
            std::mem::take(&mut state.sockets)
        };
        for socket in sockets {
            socket.on_disconnect(DisconnectReason::Transport(reason));
        }
    }
}

/// A new socket's extensions, as it keeps them for its whole life.
fn kept(mut extensions: Extensions) -> Arc<Mutex<Extensions>> {
    extensions.shrink_to_fit();
    Arc::new(Mutex::new(extensions))
}
