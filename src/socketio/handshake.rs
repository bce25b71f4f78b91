//! What a namespace's middleware sees of a connecting client.

use std::sync::{Arc, LazyLock};
use std::time::SystemTime;

use serde_json::{Map, Value};

use crate::engineio::HandshakeRequest;

/// The HTTP request that opened the connection and the `auth` payload the
/// client sent with its CONNECT.
#[derive(Debug, Clone)]
pub struct Handshake {
    request: Arc<HandshakeRequest>,
    /// `None` for `{}`, the auth of a client that sent none: every socket
    /// keeps its handshake, and a `Value` is 72 bytes.
    auth: Option<Box<Value>>,
    issued: SystemTime,
}

/// The `auth` of a client that sent none.
static NO_AUTH: LazyLock<Value> = LazyLock::new(|| Value::Object(Map::new()));

impl Handshake {
    pub(crate) fn new(request: Arc<HandshakeRequest>, auth: Value) -> Handshake {
        Handshake {
            request,
            auth: match auth {
                Value::Object(map) if map.is_empty() => None,
                auth => Some(Box::new(auth)),
            },
            issued: SystemTime::now(),
        }
    }

    /// A request header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.request.header(name)
    }

    /// Every header of the handshake request, as `(name, value)`.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.request.headers()
    }

    /// Every query parameter of the handshake request, as `(name, value)`.
    pub fn query_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.request.query_pairs()
    }

    /// When the client asked to join the namespace.
    pub fn issued(&self) -> SystemTime {
        self.issued
    }

    /// A query parameter of the handshake request.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.request.query(name)
    }

    /// The client's `auth` payload (`{}` when it sent none).
    pub fn auth(&self) -> &Value {
        self.auth.as_deref().unwrap_or(&NO_AUTH)
    }

    /// The client's address as the server's socket saw it.
    pub fn address(&self) -> Option<&str> {
        self.request.peer_addr()
    }
}
