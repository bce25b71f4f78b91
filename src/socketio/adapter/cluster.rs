//! The other servers of a cluster, as a namespace sees them: what it tells
//! them (broadcasts, room changes, disconnects, server-side events) and what
//! it asks them (their sockets, answers to a server-side event). A
//! [`Cluster`] works on socket ids, rooms and payloads, never on sockets:
//! local sockets stay with the [`super::LocalAdapter`], and what the other
//! servers send comes back in through a [`LocalSide`], which the namespace
//! layer implements (socketioxide's `SocketEmitter`): nothing here imports
//! from above.
//!
//! A namespace without a cluster (the default) pays one branch per
//! broadcast for this boundary, nothing else.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::Target;
use crate::socketio::payload::Payload;

/// A future the cluster answers with.
pub type ClusterFuture<T> = Pin<Box<dyn Future<Output = Result<T, ClusterError>> + Send>>;

/// What a namespace sends to and asks of the other servers. Methods that
/// tell return at once (they queue); those that ask return a future.
pub trait Cluster: Send + Sync + 'static {
    /// The other servers deliver `event` to their sockets of `target` (this
    /// server has delivered it to its own).
    fn broadcast(&self, event: &str, payload: &Payload, target: &Target);
    /// The other servers' sockets of `target` join (or leave) `rooms`.
    fn change_rooms(&self, target: &Target, rooms: &[String], join: bool);
    /// The other servers disconnect their sockets of `target`.
    fn disconnect(&self, target: &Target, close: bool);
    /// The other servers' sockets of `target`.
    fn fetch_sockets(&self, target: &Target) -> ClusterFuture<Vec<SocketInfo>>;
    /// The other servers' handlers of `event` get `args` (see
    /// [`crate::socketio::Namespace::on_server_event`]); with `ack`, the
    /// future gives each server's answer, once every server answered or
    /// when `ack` has passed (then an error with those that came). Without
    /// `ack` the event is on its way when this returns, and the future,
    /// which may be dropped, gives nothing.
    fn server_side_emit(
        &self,
        event: &str,
        args: Vec<Value>,
        ack: Option<Duration>,
    ) -> ClusterFuture<Vec<Value>>;
    /// Connection state recovery kept by the cluster for every server, when
    /// it keeps it (the streams adapter); `None`: each server keeps its own.
    fn recovery(&self) -> Option<Arc<dyn ClusterRecovery>> {
        None
    }
}

/// Connection state recovery that the servers of a cluster share: the
/// offsets are the cluster's, and a dropped socket's session is kept where
/// any server finds it, so that it recovers on any of them.
pub trait ClusterRecovery: Send + Sync + 'static {
    /// Emits `event` to the sockets of `target` on every server, this one
    /// included, kept for recovery: the cluster delivers it here (through
    /// [`LocalSide::emit`], its offset last), in the order of offsets.
    fn emit(&self, event: &str, payload: Payload, target: &Target);
    /// Keeps a dropped socket's session for the recovery window.
    fn persist(&self, dropped: DroppedSocket);
    /// Takes back the session `pid` names with every event it missed after
    /// `offset`, and calls `join` with it (`None`: it cannot recover) while
    /// this server's delivery waits, so that no event goes between the
    /// replay and the socket joining. `join` is called once, whatever
    /// happens, unless the future is dropped first.
    fn restore(
        &self,
        pid: String,
        offset: String,
        join: Box<dyn FnOnce(Option<RecoveredSocket>) + Send>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// A socket that dropped and may come back, as a cluster keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct DroppedSocket {
    /// Its id.
    pub id: String,
    /// Its private id, which its client claims it back with.
    pub pid: String,
    /// Its rooms, its own included.
    pub rooms: Vec<String>,
    /// A digest of its [`crate::socketio::Owner`], when it has one.
    pub owner: Option<String>,
}

/// A dropped socket taken back, and what it missed, in order (each
/// payload with its offset last).
#[derive(Debug, Clone, PartialEq)]
pub struct RecoveredSocket {
    /// Its id.
    pub id: String,
    /// Its rooms, without its own.
    pub rooms: Vec<String>,
    /// The digest of its owner, when the server it dropped from kept one.
    pub owner: Option<String>,
    /// The events it missed: name and payload.
    pub missed: Vec<(String, Payload)>,
}

/// What a socket's [`crate::socketio::Owner`] is known by in a cluster: a
/// digest, so that the store does not learn the owner itself.
#[cfg(feature = "cluster")]
pub fn owner_digest(owner: &str) -> String {
    blake3::hash(owner.as_bytes()).to_hex().to_string()
}

/// A socket's answer to an event sent with [`LocalSide::emit_with_ack`]
/// (`None`: it did not answer in time, or left).
pub type AckFuture = Pin<Box<dyn Future<Output = Option<Payload>> + Send>>;

/// This server's side of one namespace, as a cluster reaches it with what
/// the other servers ask: its sockets by id and room. The namespace layer
/// implements it (for a handle that does not keep the namespace alive);
/// once the namespace is gone, it does nothing and has no sockets.
pub trait LocalSide: Send + Sync + 'static {
    /// The namespace's name; `None` once it is gone.
    fn name(&self) -> Option<String>;
    /// Whether the namespace is still there.
    fn alive(&self) -> bool;
    /// Delivers `event` to this server's sockets of `target`.
    fn emit(&self, event: &str, payload: Payload, target: &Target);
    /// The ids of this server's sockets of `target`.
    fn socket_ids(&self, target: &Target) -> Vec<Arc<str>>;
    /// Every room of this server's sockets, sorted, each once.
    fn rooms(&self) -> Vec<String>;
    /// This server's sockets of `target` join (or leave) `rooms`.
    fn change_rooms(&self, target: &Target, rooms: &[&str], join: bool);
    /// The socket `id` joins (or leaves) `room`; false when it is not here.
    fn change_room(&self, id: &str, room: &str, join: bool) -> bool;
    /// Disconnects this server's sockets of `target` (with `close`, their
    /// connections too).
    fn disconnect(&self, target: &Target, close: bool);
    /// Disconnects the socket `id`; false when it is not here.
    fn disconnect_one(&self, id: &str, close: bool) -> bool;
    /// This server's sockets of `target`.
    fn fetch_sockets(&self, target: &Target) -> Vec<SocketInfo>;
    /// Runs the namespace's handler of a server-side event; its answer
    /// (`None`: no handler).
    fn server_event(&self, event: &str, args: &[Value]) -> Option<Value>;
    /// Emits `event` to each of this server's sockets of `target`, waiting
    /// up to `timeout` for each one's acknowledgement.
    fn emit_with_ack(
        &self,
        event: &str,
        payload: Payload,
        target: &Target,
        timeout: Duration,
    ) -> Vec<AckFuture>;
}

/// Why a question to the cluster has no (complete) answer.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ClusterError {
    /// Not every server answered in time; what those that did said.
    Timeout {
        /// The answers that came.
        answers: Vec<Value>,
        /// How many servers were asked.
        expected: usize,
    },
    /// The broker cannot be reached.
    Unavailable,
}

impl fmt::Display for ClusterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClusterError::Timeout { answers, expected } => write!(
                f,
                "timeout reached: only {} responses received out of {expected}",
                answers.len()
            ),
            ClusterError::Unavailable => f.write_str("the cluster's broker is unreachable"),
        }
    }
}

impl std::error::Error for ClusterError {}

/// A socket as the servers of a cluster tell each other of it (the shape of
/// `fetchSockets()`'s remote sockets in Node): its id, handshake, rooms and
/// data. The handshake leaves out the cookie, credentials and `auth`.
#[derive(Debug, Clone, PartialEq)]
pub struct SocketInfo {
    /// The socket's id.
    pub id: String,
    /// Its handshake (headers, address, time, query), without secrets.
    pub handshake: Value,
    /// The rooms it is in, its own included.
    pub rooms: Vec<String>,
    /// What the server stored in its `data`.
    pub data: Value,
}

/// Handshake headers never told: the session cookie and any credentials.
pub(crate) const SECRET_HEADERS: [&str; 3] = ["cookie", "authorization", "proxy-authorization"];

/// Headers by their lower-case names, without the secret ones.
pub(crate) fn shown_headers<'a>(
    headers: impl Iterator<Item = (&'a str, &'a str)>,
) -> Map<String, Value> {
    headers
        .filter(|(name, _)| !SECRET_HEADERS.iter().any(|s| s.eq_ignore_ascii_case(name)))
        .map(|(name, value)| (name.to_ascii_lowercase(), json!(value)))
        .collect()
}

impl SocketInfo {
    /// As JSON, the shape `fetchSockets` replies carry.
    pub fn to_json(&self) -> Value {
        json!({"id": self.id, "handshake": self.handshake, "rooms": self.rooms, "data": self.data})
    }

    /// From a `fetchSockets` reply; `None` without an id.
    pub fn from_json(value: &Value) -> Option<SocketInfo> {
        let rooms = value.get("rooms").and_then(Value::as_array);
        Some(SocketInfo {
            id: value.get("id")?.as_str()?.to_owned(),
            handshake: value.get("handshake").cloned().unwrap_or(Value::Null),
            rooms: rooms
                .into_iter()
                .flatten()
                .filter_map(|r| match r {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect(),
            data: value.get("data").cloned().unwrap_or(Value::Null),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn cookies_and_credentials_are_never_told() {
        let headers = [
            ("Host", "pi.local:3000"),
            ("Cookie", "sessio.sid=secret"),
            ("AUTHORIZATION", "Bearer secret"),
            ("proxy-authorization", "Basic secret"),
            ("User-Agent", "node"),
        ];
        let shown = super::shown_headers(headers.into_iter());
        assert_eq!(
            serde_json::Value::Object(shown),
            json!({"host": "pi.local:3000", "user-agent": "node"})
        );
    }

    #[test]
    fn a_reply_from_node_reads_back() {
        let node = json!({"id": "abc", "handshake": {"headers": {}}, "rooms": ["abc", 7], "data": {"x": 1}});
        let info = super::SocketInfo::from_json(&node).unwrap();
        assert_eq!(info.rooms, vec!["abc".to_owned(), "7".to_owned()]);
        assert_eq!(info.to_json()["data"], json!({"x": 1}));
        assert!(super::SocketInfo::from_json(&json!({"rooms": []})).is_none());
    }

    /// Records what a namespace tells its cluster.
    #[cfg(feature = "cluster")]
    #[derive(Default)]
    struct Recorder(std::sync::Mutex<Vec<String>>);

    #[cfg(feature = "cluster")]
    impl super::Cluster for Recorder {
        fn broadcast(&self, event: &str, _: &crate::socketio::Payload, target: &super::Target) {
            self.note(format!(
                "broadcast {event} {:?} {:?}",
                target.rooms, target.except
            ));
        }
        fn change_rooms(&self, target: &super::Target, rooms: &[String], join: bool) {
            self.note(format!("rooms {join} {:?} {rooms:?}", target.rooms));
        }
        fn disconnect(&self, target: &super::Target, close: bool) {
            self.note(format!("disconnect {close} {:?}", target.rooms));
        }
        fn fetch_sockets(&self, _: &super::Target) -> super::ClusterFuture<Vec<super::SocketInfo>> {
            self.note("fetch".into());
            Box::pin(async { Err(super::ClusterError::Unavailable) })
        }
        fn server_side_emit(
            &self,
            event: &str,
            args: Vec<serde_json::Value>,
            ack: Option<std::time::Duration>,
        ) -> super::ClusterFuture<Vec<serde_json::Value>> {
            self.note(format!("server {event} {args:?} {}", ack.is_some()));
            Box::pin(async { Ok(vec![json!("pong")]) })
        }
    }

    #[cfg(feature = "cluster")]
    impl Recorder {
        fn note(&self, line: String) {
            self.0.lock().unwrap().push(line);
        }
    }

    #[test]
    #[cfg(feature = "cluster")]
    fn a_namespace_tells_its_cluster_unless_local() {
        use crate::socketio::Io;
        let recorder = std::sync::Arc::new(Recorder::default());
        let attached = recorder.clone();
        let io = Io::builder().cluster(move |_| attached.clone()).build();
        let nsp = io.of("/").unwrap();
        nsp.to("r").except("x").emit("a", json!(1));
        nsp.local().emit("b", json!(1));
        nsp.to("r").sockets_join(&["s"]);
        nsp.local().sockets_leave(&["s"]);
        io.to("r").disconnect_sockets(true);
        nsp.server_side_emit("ping", vec![json!(1)]);
        let fetched = smol::block_on(nsp.all().fetch_sockets());
        assert_eq!(fetched, Err(super::ClusterError::Unavailable));
        let local = smol::block_on(nsp.local().fetch_sockets());
        assert_eq!(local, Ok(Vec::new()));
        let answers =
            nsp.server_side_emit_with_ack("ping", vec![], std::time::Duration::from_secs(1));
        assert_eq!(smol::block_on(answers), Ok(vec![json!("pong")]));
        assert_eq!(
            *recorder.0.lock().unwrap(),
            vec![
                r#"broadcast a ["r"] ["x"]"#,
                r#"rooms true ["r"] ["s"]"#,
                r#"disconnect true ["r"]"#,
                "server ping [Number(1)] false",
                "fetch",
                "server ping [] true",
            ]
        );
    }

    #[test]
    fn without_a_cluster_nothing_waits() {
        let io = crate::socketio::Io::builder().build();
        let nsp = io.of("/").unwrap();
        let answers =
            nsp.server_side_emit_with_ack("ping", vec![], std::time::Duration::from_secs(1));
        assert_eq!(smol::block_on(answers), Ok(Vec::new()));
        assert_eq!(smol::block_on(nsp.all().fetch_sockets()), Ok(Vec::new()));
    }
}
