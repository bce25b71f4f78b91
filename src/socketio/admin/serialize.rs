//! Sockets as the Admin UI lists them (the shape of `serialize()` in
//! `@socket.io/admin-ui`), without the credentials their handshake carried.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use crate::socketio::adapter::shown_headers;
use crate::socketio::Socket;

/// A socket with its handshake and rooms.
pub(crate) fn socket(socket: &Socket) -> Value {
    let handshake = socket.handshake();
    let headers = shown_headers(handshake.headers());
    let query: Map<String, Value> = handshake
        .query_pairs()
        .map(|(name, value)| (name.to_owned(), json!(value)))
        .collect();
    // The address without its port, as Node's `handshake.address`.
    let address = handshake.address().map(|a| {
        a.parse::<std::net::SocketAddr>()
            .map_or(a.to_owned(), |a| a.ip().to_string())
    });
    let issued = millis(handshake.issued());
    let sid = socket.sink().sid();
    json!({
        "id": socket.id(),
        "clientId": sid.get(..12).unwrap_or(sid),
        "transport": socket.transport(),
        "nsp": socket.namespace(),
        "data": {},
        "handshake": {
            "address": address,
            "headers": headers,
            "query": query,
            "issued": issued,
            "time": crate::clock::iso(issued),
            "xdomain": handshake.header("origin").is_some(),
        },
        "rooms": socket.rooms(),
    })
}

/// Milliseconds since the Unix epoch.
fn millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
