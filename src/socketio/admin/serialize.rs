//! Sockets as the Admin UI lists them (the shape of `serialize()` in
//! `@socket.io/admin-ui`), without the credentials their handshake carried:
//! this server's, and those another server of a cluster told of.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use crate::socketio::adapter::shown_headers;
use crate::socketio::{Socket, SocketInfo};

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

/// A socket of another server, in namespace `nsp`, as it told of it
/// (`fetchSockets`). A Node server with the Admin UI keeps the socket's
/// client id and transport in `data._admin`, as the official server reads
/// them; a sessio server tells neither (left out). Of the handshake, what
/// the official server shows, without credentials (a Node server tells the
/// cookie).
pub(crate) fn remote(info: &SocketInfo, nsp: &str) -> Value {
    let mut data = match &info.data {
        Value::Object(data) => data.clone(),
        _ => Map::new(),
    };
    let admin = data.remove("_admin");
    let admin = |field: &str| admin.as_ref().and_then(|a| a.get(field)).cloned();
    let told = &info.handshake;
    let field = |name: &str| told.get(name).cloned().unwrap_or(Value::Null);
    let headers = told.get("headers").and_then(Value::as_object);
    let headers = headers
        .into_iter()
        .flatten()
        .filter_map(|(name, value)| Some((name.as_str(), value.as_str()?)));
    json!({
        "id": info.id,
        "clientId": admin("clientId"),
        "transport": admin("transport"),
        "nsp": nsp,
        "data": data,
        "handshake": {
            "address": field("address"),
            "headers": shown_headers(headers),
            "query": field("query"),
            "issued": field("issued"),
            "secure": field("secure"),
            "time": field("time"),
            "url": field("url"),
            "xdomain": field("xdomain"),
        },
        "rooms": info.rooms,
    })
}

/// Milliseconds since the Unix epoch.
fn millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::remote;
    use crate::socketio::SocketInfo;

    #[test]
    fn a_node_servers_socket_shows_as_the_official_server_shows_it() {
        let told = json!({
            "id": "abc",
            "handshake": {
                "headers": {"cookie": "connect.sid=secret", "Authorization": "Basic x", "user-agent": "node"},
                "address": "::1", "query": {"EIO": "4"}, "issued": 17, "secure": false,
                "time": "then", "url": "/socket.io/?EIO=4", "xdomain": true,
                "auth": {"token": "secret"},
            },
            "rooms": ["abc", "lobby"],
            "data": {"_admin": {"clientId": "c1", "transport": "websocket"}, "name": "ann"},
        });
        let shown = remote(&SocketInfo::from_json(&told).unwrap(), "/chat");
        assert_eq!(
            shown,
            json!({
                "id": "abc", "clientId": "c1", "transport": "websocket", "nsp": "/chat",
                "data": {"name": "ann"},
                "handshake": {
                    "address": "::1", "headers": {"user-agent": "node"}, "query": {"EIO": "4"},
                    "issued": 17, "secure": false, "time": "then", "url": "/socket.io/?EIO=4",
                    "xdomain": true,
                },
                "rooms": ["abc", "lobby"],
            })
        );
    }

    #[test]
    fn a_socket_told_of_with_little_still_shows() {
        let shown = remote(&SocketInfo::from_json(&json!({"id": "x"})).unwrap(), "/");
        assert_eq!(shown["id"], "x");
        assert_eq!(shown["data"], json!({}));
        assert_eq!(shown["clientId"], json!(null));
        assert_eq!(shown["handshake"]["headers"], json!({}));
    }
}
