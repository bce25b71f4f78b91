//! Leaving a namespace: from the client (DISCONNECT, or closing the
//! session), and from the server (`Socket::disconnect`).

use serde_json::json;

use crate::engineio::CloseReason;
use crate::socketio::harness::{self, builder, next, Harness};
use crate::socketio::{DisconnectReason, Namespace};

/// An Io that sends `(socket id, reason)` to `tx` on every disconnect.
fn recording(tx: smol::channel::Sender<(String, DisconnectReason)>) -> Harness {
    let io = builder()
        .namespace(Namespace::new("/").on_disconnect(move |socket, reason| {
            let _ = tx.try_send((socket.id().to_owned(), reason));
        }))
        .build();
    Harness::new(io)
}

#[test]
fn a_disconnect_from_the_client_runs_on_disconnect_with_its_reason() {
    let (tx, rx) = smol::channel::unbounded();
    let harness = recording(tx);
    smol::block_on(async {
        let (mut client, reply) = harness.connect("/", None).await;
        let id = reply["sid"].as_str().unwrap_or_default().to_owned();
        client.send(&[harness::disconnect("/")]).await;
        let expected = (id.clone(), DisconnectReason::ClientNamespaceDisconnect);
        assert_eq!(next(&rx).await, expected);
        assert!(harness.io().of("/").and_then(|n| n.socket(&id)).is_none());
        // The session stays open: the socket may join again.
        client.send(&[harness::connect("/", None)]).await;
        harness::packet_json(&client.recv_one().await, "40");
    });
}

#[test]
fn a_client_closing_its_session_disconnects_its_sockets() {
    let (tx, rx) = smol::channel::unbounded();
    let harness = recording(tx);
    smol::block_on(async {
        let (mut client, reply) = harness.connect("/", None).await;
        let id = reply["sid"].as_str().unwrap_or_default().to_owned();
        client.send(&["1"]).await;
        let reason = DisconnectReason::Transport(CloseReason::TransportClose);
        assert_eq!(next(&rx).await, (id, reason));
        assert_eq!(harness.io().connection_count(), 0);
        assert_eq!(client.recv_within(harness::WAIT).await, harness::gone());
    });
}

#[test]
fn a_server_disconnect_reaches_the_client() {
    let (tx, rx) = smol::channel::unbounded();
    let harness = recording(tx);
    smol::block_on(async {
        let (mut client, reply) = harness.connect("/", None).await;
        let id = reply["sid"].as_str().unwrap_or_default().to_owned();
        let socket = harness.socket("/", &id);
        socket.disconnect(false);
        assert_eq!(client.recv_one().await, "41");
        let expected = (id, DisconnectReason::ServerNamespaceDisconnect);
        assert_eq!(next(&rx).await, expected);
        assert_eq!(harness.io().connection_count(), 1, "the session stays");
        // Events to the socket that left go nowhere.
        assert!(!socket.emit("late", json!(1)));
        client.recv_nothing().await;
    });
}

#[test]
fn a_server_disconnect_with_close_ends_the_session() {
    let (tx, rx) = smol::channel::unbounded();
    let harness = recording(tx);
    smol::block_on(async {
        let (mut client, reply) = harness.connect("/", None).await;
        let id = reply["sid"].as_str().unwrap_or_default().to_owned();
        let socket = harness.socket("/", &id);
        socket.disconnect(true);
        let expected = (id, DisconnectReason::ServerNamespaceDisconnect);
        assert_eq!(next(&rx).await, expected);
        // The close packet comes in a GET of its own, after the DISCONNECT,
        // so that the client handles the DISCONNECT first.
        assert_eq!(client.recv().await, vec!["41"]);
        assert_eq!(
            harness.io().connection_count(),
            1,
            "until the client is told"
        );
        assert_eq!(client.recv().await, vec!["1"]);
        assert_eq!(harness.io().connection_count(), 0);
        assert_eq!(client.recv_within(harness::WAIT).await, harness::gone());
    });
}

#[test]
fn a_disconnect_for_a_namespace_not_joined_changes_nothing() {
    let (tx, rx) = smol::channel::unbounded();
    let harness = recording(tx);
    smol::block_on(async {
        let (mut client, reply) = harness.connect("/", None).await;
        let id = reply["sid"].as_str().unwrap_or_default().to_owned();
        client.send(&[harness::disconnect("/other")]).await;
        client.recv_nothing().await;
        assert!(rx.is_empty(), "no socket left");
        assert!(harness.io().of("/").and_then(|n| n.socket(&id)).is_some());
        // The socket in `/` still gets what is sent to it.
        harness.socket("/", &id).emit("still", json!(1));
        let event = harness::packet_json(&client.recv_one().await, "42");
        assert_eq!(event, json!(["still", 1]));
    });
}
