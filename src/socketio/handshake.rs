//! What a namespace's middleware sees of a connecting client.

use std::sync::Arc;
use std::time::SystemTime;

use serde_json::Value;

use crate::engineio::HandshakeRequest;

/// The HTTP request that opened the connection and the `auth` payload the
/// client sent with its CONNECT.
#[derive(Debug, Clone)]
pub struct Handshake {
    request: Arc<HandshakeRequest>,
    auth: Value,
    issued: SystemTime,
}

impl Handshake {
    pub(crate) fn new(request: Arc<HandshakeRequest>, auth: Value) -> Handshake {
        Handshake {
            request,
            auth,
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

    /// The client's `auth` payload (`null` when it sent none).
    pub fn auth(&self) -> &Value {
        &self.auth
    }

    /// The client's address as the server's socket saw it.
    pub fn address(&self) -> Option<&str> {
        self.request.peer_addr()
    }
}
