//! The other servers of a cluster, as a namespace sees them: what it tells
//! them (broadcasts, room changes, disconnects, server-side events) and what
//! it asks them (their sockets, answers to a server-side event). A
//! [`Cluster`] works on socket ids, rooms and payloads, never on sockets:
//! local sockets stay with the [`super::LocalAdapter`], and what the other
//! servers send comes back in through [`crate::socketio::Nsp`]'s local
//! operations (`Nsp::local`).
//!
//! A namespace without a cluster (the default) pays one branch per
//! broadcast for this boundary, nothing else.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::Target;
use crate::socketio::{Payload, Socket};

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
}

/// Why a question to the cluster has no (complete) answer.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ClusterError {
    /// Not every server answered in time; what those that did said.
    Timeout {
        answers: Vec<Value>,
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
    pub id: String,
    pub handshake: Value,
    pub rooms: Vec<String>,
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
    #[derive(Default)]
    struct Recorder(std::sync::Mutex<Vec<String>>);

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

    impl Recorder {
        fn note(&self, line: String) {
            self.0.lock().unwrap().push(line);
        }
    }

    #[test]
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
