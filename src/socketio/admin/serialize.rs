//! Sockets as the Admin UI lists them (the shape of `serialize()` in
//! `@socket.io/admin-ui`), without the credentials their handshake carried.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use crate::socketio::Socket;

/// Handshake headers never shown: the session cookie and any credentials.
const SECRET_HEADERS: [&str; 3] = ["cookie", "authorization", "proxy-authorization"];

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

/// Headers by their lower-case names, without the secret ones.
fn shown_headers<'a>(headers: impl Iterator<Item = (&'a str, &'a str)>) -> Map<String, Value> {
    headers
        .filter(|(name, _)| !SECRET_HEADERS.iter().any(|s| s.eq_ignore_ascii_case(name)))
        .map(|(name, value)| (name.to_ascii_lowercase(), json!(value)))
        .collect()
}

/// Milliseconds since the Unix epoch.
fn millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn cookies_and_credentials_are_never_shown() {
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
}
