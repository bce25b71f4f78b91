//! The server side of the official Socket.IO Admin UI (`@socket.io/admin-ui`),
//! as Node's `instrument(io, opts)`: an authenticated admin namespace that
//! lists every namespace's sockets and rooms as they change, sends server
//! statistics every two seconds, and lets the UI make sockets emit, join,
//! leave and disconnect. Opt-in:
//!
//! ```no_run
//! use sessio::socketio::admin::{self, AdminAuth, AdminOptions};
//! use sessio::socketio::{Handshake, Io};
//!
//! struct OnePassword;
//! impl AdminAuth for OnePassword {
//!     fn login(&self, username: &str, password: &str, _: &Handshake) -> bool {
//!         username == "admin" && password == "a long passphrase"
//!     }
//! }
//! let (builder, admin) = admin::instrument(Io::builder(), AdminOptions::new(OnePassword));
//! let io = builder.build();
//! smol::spawn(admin.run(io.clone())).detach();
//! ```
//!
//! As the official server in its development mode, sockets connected before
//! the UI opened are sent to it (`all_sockets`), then every change
//! (`socket_connected`, `socket_disconnected`, `room_joined`, `room_left`).
//!
//! In a cluster the UI sees every server, as the official one does through
//! its adapter: each server sends its `server_stats` and its changes to the
//! admin namespace, which the cluster carries to the UIs on every server
//! (so a server tells them whether or not a UI is connected to it), and
//! `all_sockets` holds the other servers' sockets too (`fetchSockets`). The
//! UI's commands reach the sockets of every server. Its servers are told
//! apart by `serverId`: in a cluster it defaults to `<hostname>#<pid>`, as
//! the official server names a cluster worker, since two nodes may share a
//! host.
//! Not sent: events themselves (`event_received`/`event_sent`) and the
//! aggregated packet counts; the `config` event says so, and the UI hides
//! those views. Handshake headers are shown without `Cookie` and
//! `Authorization`; a socket's `data` is empty (sessio's extensions are typed).

mod logins;
mod serialize;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use smol::channel::{self, Receiver, Sender};
use smol::future::FutureExt;

use super::namespace::{ConnectError, Namespace};
use super::observer::Observer;
use super::payload::Payload;
use super::server::{Io, IoBuilder};
use super::socket::{DisconnectReason, Socket};
use super::{ClusterError, Event, Handshake, SocketInfo};
use logins::Logins;

/// How the UI's login is checked. Both run off the executor (in connect
/// middleware), so they may hash a password or read a store.
pub trait AdminAuth: Send + Sync + 'static {
    /// Whether `username` and `password` may administer the server.
    fn login(&self, username: &str, password: &str, handshake: &Handshake) -> bool;
    /// What a login of `username` stays valid with: a value that changes
    /// when its password does, `None` once it may no longer log in. A UI
    /// that comes back with the id it was given instead of the password is
    /// let in while this is what it was at the login.
    fn credentials_version(&self, _username: &str) -> Option<String> {
        Some(String::new())
    }
}

/// What [`instrument`] is told.
pub struct AdminOptions {
    /// The admin namespace, [`NAMESPACE`] unless changed.
    pub namespace: String,
    /// Only watch: the UI may not make sockets emit, join, leave or disconnect.
    pub readonly: bool,
    /// The server's name in the UI; the host name when `None`.
    pub server_id: Option<String>,
    /// How logins are checked.
    pub auth: Arc<dyn AdminAuth>,
}

impl AdminOptions {
    /// On [`NAMESPACE`], not read-only, named after the host, logins checked by `auth`.
    pub fn new(auth: impl AdminAuth) -> AdminOptions {
        AdminOptions {
            namespace: NAMESPACE.to_owned(),
            readonly: false,
            server_id: None,
            auth: Arc::new(auth),
        }
    }
}

/// The admin namespace the UI connects to by default.
pub const NAMESPACE: &str = "/admin";

/// The refusal of a bad login, worded as the official server words it.
pub const REFUSAL: &str = "invalid credentials";

/// How often the UI gets `server_stats`, as the official server.
const STATS_EVERY: Duration = Duration::from_secs(2);

/// Notes queued for the admin task, at most; past it they are dropped
/// (with a warning) and the UI is behind until it reconnects.
const QUEUE: usize = 4096;

/// Adds the admin namespace to `builder` and has every namespace observed;
/// spawn the returned [`Admin`]'s [`run`](Admin::run) with the built [`Io`].
pub fn instrument(builder: IoBuilder, options: AdminOptions) -> (IoBuilder, Admin) {
    let (tx, rx) = channel::bounded(QUEUE);
    let state = Arc::new(State {
        tx,
        admins: AtomicUsize::new(0),
        clustered: AtomicBool::new(false),
        overflowed: AtomicBool::new(false),
        logins: Logins::default(),
    });
    let namespace = admin_namespace(&options, state.clone());
    let builder = builder.namespace(namespace).observer(state.clone());
    let admin = Admin {
        rx,
        state,
        namespace: options.namespace,
        server_id: options.server_id,
        readonly: options.readonly,
    };
    (builder, admin)
}

/// What the admin namespace's handlers and the observer share.
struct State {
    tx: Sender<Note>,
    /// Admin sockets connected: with none, and no cluster, nothing is queued.
    admins: AtomicUsize,
    /// In a cluster, where UIs on other servers may be watching.
    clustered: AtomicBool,
    overflowed: AtomicBool,
    logins: Logins,
}

/// What the admin task is asked to do.
enum Note {
    /// An admin socket connected: send it `config` and `all_sockets`.
    Opened(Socket),
    /// Emit this event to every admin socket.
    Tell(&'static str, Vec<Value>),
    Command(Command),
}

/// What the UI asks of other namespaces' sockets (`filter`: a room or a
/// socket id; none for all of the namespace's sockets).
enum Command {
    Emit {
        nsp: String,
        filter: Option<String>,
        payload: Payload,
    },
    Join {
        nsp: String,
        room: String,
        filter: Option<String>,
        join: bool,
    },
    Disconnect {
        nsp: String,
        close: bool,
        filter: Option<String>,
    },
}

impl State {
    fn queue(&self, note: Note) {
        if self.tx.try_send(note).is_err() && !self.overflowed.swap(true, Ordering::Relaxed) {
            log::warn!("admin UI: its queue is full (is Admin::run running?); changes are dropped");
        }
    }

    /// Whether a UI may be watching: one connected here, or in a cluster
    /// (on another server).
    fn watched(&self) -> bool {
        self.admins.load(Ordering::Acquire) > 0 || self.clustered.load(Ordering::Acquire)
    }

    fn tell(&self, event: &'static str, args: Vec<Value>) {
        if self.watched() {
            self.queue(Note::Tell(event, args));
        }
    }
}

fn now() -> Value {
    json!(crate::clock::now_iso())
}

impl Observer for State {
    fn connected(&self, socket: &Socket) {
        // Serialized only when someone may look.
        if self.watched() {
            let args = vec![serialize::socket(socket), now()];
            self.queue(Note::Tell("socket_connected", args));
        }
    }

    /// As the official server: the socket goes, then its rooms one by one
    /// (the UI's room list forgets it only so).
    fn disconnected(&self, socket: &Socket, reason: DisconnectReason, rooms: &[String]) {
        let (nsp, id) = (json!(socket.namespace()), json!(socket.id()));
        let args = vec![nsp.clone(), id.clone(), json!(reason.as_str()), now()];
        self.tell("socket_disconnected", args);
        for room in rooms {
            self.tell(
                "room_left",
                vec![nsp.clone(), json!(room), id.clone(), now()],
            );
        }
    }

    fn upgraded(&self, socket: &Socket) {
        let update =
            json!({"id": socket.id(), "nsp": socket.namespace(), "transport": "websocket"});
        self.tell("socket_updated", vec![update]);
    }

    fn room(&self, socket: &Socket, room: &str, joined: bool) {
        let event = if joined { "room_joined" } else { "room_left" };
        let args = vec![
            json!(socket.namespace()),
            json!(room),
            json!(socket.id()),
            now(),
        ];
        self.tell(event, args);
    }
}

/// A login this admin socket was given, to send it as `session`.
#[derive(Clone)]
struct NewLogin(String);

fn admin_namespace(options: &AdminOptions, state: Arc<State>) -> Namespace {
    let auth = options.auth.clone();
    let logins = state.clone();
    let mut namespace = Namespace::new(&options.namespace)
        .middleware(move |handshake, extensions| {
            let field = |name: &str| handshake.auth().get(name).and_then(Value::as_str);
            if let Some(id) = field("sessionId") {
                if let Some((user, version)) = logins.logins.get(id) {
                    if auth.credentials_version(&user) == Some(version) {
                        return Ok(());
                    }
                    logins.logins.end(id);
                }
            }
            if let (Some(username), Some(password)) = (field("username"), field("password")) {
                if auth.login(username, password, handshake) {
                    if let Some(version) = auth.credentials_version(username) {
                        let id = logins.logins.start(username, version);
                        extensions.insert(NewLogin(id));
                        return Ok(());
                    }
                }
            }
            Err(ConnectError::new(REFUSAL))
        })
        .on_connect({
            let state = state.clone();
            move |socket| {
                state.admins.fetch_add(1, Ordering::AcqRel);
                if let Some(NewLogin(id)) = socket.get::<NewLogin>() {
                    socket.emit("session", json!(id));
                }
                state.queue(Note::Opened(socket.clone()));
            }
        })
        .on_disconnect({
            let state = state.clone();
            move |_, _| {
                state.admins.fetch_sub(1, Ordering::AcqRel);
            }
        });
    if options.readonly {
        return namespace;
    }
    let commands: [(&str, ParseCommand); 4] = [
        ("emit", emit_command),
        ("join", |e| room_command(e, true)),
        ("leave", |e| room_command(e, false)),
        ("_disconnect", disconnect_command),
    ];
    for (name, parse) in commands {
        let state = state.clone();
        namespace = namespace.on(name, move |_, event| {
            if let Some(command) = parse(&event) {
                state.queue(Note::Command(command));
            }
        });
    }
    namespace
}

/// Reads a UI command from its event's arguments.
type ParseCommand = fn(&Event) -> Option<Command>;

fn text(event: &Event, index: usize) -> Option<String> {
    event.arg(index).and_then(Value::as_str).map(str::to_owned)
}

/// A filter: a room or socket id; empty or absent for all.
fn filter(event: &Event, index: usize) -> Option<String> {
    text(event, index).filter(|f| !f.is_empty())
}

/// `emit(nsp, filter, event, ...args)`.
fn emit_command(event: &Event) -> Option<Command> {
    let args = event.payload.args();
    if args.len() < 3 {
        return None;
    }
    text(event, 2)?;
    let payload = Payload::from_parts(args[2..].to_vec(), event.payload.attachments().to_vec());
    Some(Command::Emit {
        nsp: text(event, 0)?,
        filter: filter(event, 1),
        payload,
    })
}

/// `join(nsp, room, filter)` and `leave(nsp, room, filter)`.
fn room_command(event: &Event, join: bool) -> Option<Command> {
    Some(Command::Join {
        nsp: text(event, 0)?,
        room: text(event, 1)?,
        filter: filter(event, 2),
        join,
    })
}

/// `_disconnect(nsp, close, filter)`.
fn disconnect_command(event: &Event) -> Option<Command> {
    Some(Command::Disconnect {
        nsp: text(event, 0)?,
        close: event.arg(1).and_then(Value::as_bool).unwrap_or(false),
        filter: filter(event, 2),
    })
}

/// The admin namespace's task: what the UI is sent, and what it asks done.
/// Clones are the same task: run one.
#[derive(Clone)]
pub struct Admin {
    rx: Receiver<Note>,
    state: Arc<State>,
    namespace: String,
    server_id: Option<String>,
    readonly: bool,
}

impl Admin {
    /// Serves the UI until `io` is dropped; spawn it once.
    pub async fn run(self, io: Io) {
        let Some(admins) = io.of(&self.namespace) else {
            log::error!(
                "admin UI: {} is not a namespace of this server",
                self.namespace
            );
            return;
        };
        let clustered = admins.clustered();
        self.state.clustered.store(clustered, Ordering::Release);
        let hostname = crate::blocking::unblock(hostname).await;
        let server = Server {
            id: server_id(self.server_id.as_deref(), &hostname, clustered),
            hostname,
            started: Instant::now(),
        };
        let mut next_stats = Instant::now();
        loop {
            let wait = next_stats.saturating_duration_since(Instant::now());
            let note = async { self.rx.recv().await.ok().map(Some) }
                .or(async {
                    smol::Timer::after(wait).await;
                    Some(None)
                })
                .await;
            match note {
                None => return,
                Some(None) => {
                    next_stats = Instant::now() + STATS_EVERY;
                    if self.state.watched() {
                        admins.emit("server_stats", server.stats(&io));
                    }
                }
                Some(Some(note)) => {
                    self.state.overflowed.store(false, Ordering::Relaxed);
                    self.handle(&io, &server, &admins, note);
                }
            }
        }
    }

    fn handle(&self, io: &Io, server: &Server, admins: &super::Nsp, note: Note) {
        match note {
            Note::Opened(socket) => {
                socket.emit("config", json!({"supportedFeatures": self.features()}));
                // The other servers may take a while to answer.
                smol::spawn(send_all_sockets(io.clone(), socket.clone())).detach();
                // Its dashboard need not wait for the next round.
                socket.emit("server_stats", server.stats(io));
            }
            Note::Tell(event, args) => admins.emit(event, Payload::from_args(args)),
            Note::Command(command) => run_command(io, command),
        }
    }

    /// The `config` event's features (Socket.IO 4's, as the official
    /// server detects them).
    fn features(&self) -> Vec<&'static str> {
        match self.readonly {
            true => Vec::new(),
            false => vec![
                "EMIT",
                "JOIN",
                "LEAVE",
                "DISCONNECT",
                "MJOIN",
                "MLEAVE",
                "MDISCONNECT",
            ],
        }
    }
}

/// Sends `socket` every socket of every namespace: this server's, then
/// those the other servers of a cluster tell of. When a server does not
/// answer in time, what the others told.
async fn send_all_sockets(io: Io, socket: Socket) {
    let mut all = Vec::new();
    for nsp in io.namespaces() {
        let here: Vec<Socket> = nsp.sockets();
        let ids: HashSet<&str> = here.iter().map(Socket::id).collect();
        let fetched = nsp.all().fetch_sockets();
        all.extend(here.iter().map(serialize::socket));
        let told = match fetched.await {
            Ok(sockets) => sockets,
            Err(err) => {
                log::warn!("admin UI: the sockets of {}: {err}", nsp.name());
                told_anyway(&err)
            }
        };
        let others = told.iter().filter(|s| !ids.contains(s.id.as_str()));
        all.extend(others.map(|s| serialize::remote(s, nsp.name())));
    }
    socket.emit("all_sockets", json!(all));
}

/// The sockets the servers that answered before `err` told of.
fn told_anyway(err: &ClusterError) -> Vec<SocketInfo> {
    match err {
        ClusterError::Timeout { answers, .. } => answers
            .iter()
            .filter_map(Value::as_array)
            .flatten()
            .filter_map(SocketInfo::from_json)
            .collect(),
        _ => Vec::new(),
    }
}

/// The server's name in the UI: as given, else the host's name, with the
/// process id in a cluster.
fn server_id(given: Option<&str>, hostname: &str, clustered: bool) -> String {
    match (given, clustered) {
        (Some(id), _) => id.to_owned(),
        (None, true) => format!("{hostname}#{}", std::process::id()),
        (None, false) => hostname.to_owned(),
    }
}

/// Runs a UI command on the sockets of every server.
fn run_command(io: &Io, command: Command) {
    let selected = |nsp: &super::Nsp, filter: &Option<String>| match filter {
        Some(filter) => nsp.to(filter),
        None => nsp.all(),
    };
    match command {
        Command::Emit {
            nsp,
            filter,
            payload,
        } => {
            let Some(nsp) = io.of(&nsp) else { return };
            let Some(event) = payload.arg(0).and_then(Value::as_str).map(str::to_owned) else {
                return;
            };
            let args =
                Payload::from_parts(payload.args()[1..].to_vec(), payload.attachments().to_vec());
            match filter {
                Some(filter) => nsp.to(&filter).emit(&event, args),
                None => nsp.emit(&event, args),
            }
        }
        Command::Join {
            nsp,
            room,
            filter,
            join,
        } => {
            let Some(nsp) = io.of(&nsp) else { return };
            match join {
                true => selected(&nsp, &filter).sockets_join(&[&room]),
                false => selected(&nsp, &filter).sockets_leave(&[&room]),
            }
        }
        Command::Disconnect { nsp, close, filter } => {
            let Some(nsp) = io.of(&nsp) else { return };
            selected(&nsp, &filter).disconnect_sockets(close);
        }
    }
}

/// The server as `server_stats` names it.
struct Server {
    id: String,
    hostname: String,
    started: Instant,
}

impl Server {
    /// The `server_stats` event.
    fn stats(&self, io: &Io) -> Value {
        let namespaces = io.namespaces();
        let mut polling = HashSet::new();
        for socket in namespaces.iter().flat_map(|nsp| nsp.sockets()) {
            if socket.transport() == "polling" {
                polling.insert(socket.sink().sid().to_owned());
            }
        }
        let namespaces: Vec<Value> = namespaces
            .iter()
            .map(|nsp| json!({"name": nsp.name(), "socketsCount": nsp.socket_count()}))
            .collect();
        json!({
            "serverId": self.id,
            "hostname": self.hostname,
            "pid": std::process::id(),
            "uptime": self.started.elapsed().as_secs_f64(),
            "clientsCount": io.connection_count(),
            "pollingClientsCount": polling.len(),
            "aggregatedEvents": [],
            "namespaces": namespaces,
        })
    }
}

/// The machine's name, as Node's `os.hostname()`.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "sessio".to_owned())
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::{disconnect_command, emit_command, room_command, server_id, Command};
    use crate::socketio::{Event, Payload};

    fn event(args: Value) -> Event {
        let Value::Array(args) = args else {
            panic!("not an array")
        };
        Event::new(Payload::from_args(args), None)
    }

    #[test]
    fn the_ui_commands_are_read_from_their_arguments() {
        match emit_command(&event(json!(["/", "", "hello", 1, {"a": 2}]))) {
            Some(Command::Emit {
                nsp,
                filter,
                payload,
            }) => {
                assert_eq!((nsp.as_str(), filter), ("/", None));
                assert_eq!(payload.args(), &[json!("hello"), json!(1), json!({"a": 2})]);
            }
            _ => panic!("not an emit"),
        }
        match room_command(&event(json!(["/", "blue", "abc"])), false) {
            Some(Command::Join {
                nsp,
                room,
                filter,
                join,
            }) => {
                assert_eq!(
                    (nsp.as_str(), room.as_str(), filter.as_deref(), join),
                    ("/", "blue", Some("abc"), false)
                );
            }
            _ => panic!("not a leave"),
        }
        match disconnect_command(&event(json!(["/chat", true]))) {
            Some(Command::Disconnect { nsp, close, filter }) => {
                assert_eq!((nsp.as_str(), close, filter), ("/chat", true, None));
            }
            _ => panic!("not a disconnect"),
        }
    }

    #[test]
    fn in_a_cluster_servers_on_one_host_are_told_apart() {
        let pid = std::process::id();
        assert_eq!(server_id(None, "pi", false), "pi");
        assert_eq!(server_id(None, "pi", true), format!("pi#{pid}"));
        assert_eq!(server_id(Some("left"), "pi", true), "left");
    }

    #[test]
    fn malformed_commands_are_dropped() {
        assert!(emit_command(&event(json!(["/", "room"]))).is_none());
        assert!(emit_command(&event(json!(["/", "room", 3]))).is_none());
        assert!(room_command(&event(json!([1, "blue"])), true).is_none());
        assert!(room_command(&event(json!(["/"])), true).is_none());
        assert!(disconnect_command(&event(json!([]))).is_none());
    }
}
