//! The per-client caps ([`crate::socketio::Limits`]) and malformed packets.
//! A client over a cap is cut off: what was queued for it is dropped, its
//! next GET gets the close packet and the session is gone. A packet that
//! does not parse ends the session at once; only a GET already waiting is
//! told.

use std::time::Duration;

use serde_json::json;

use crate::engineio::CloseReason;
use crate::socketio::harness::{self, builder, gone, next, placeholder, Client, Harness, WAIT};
use crate::socketio::{AckError, DisconnectReason, Limits, Namespace, Payload};

const LIMITS: Limits = Limits {
    max_pending_acks: 2,
    max_attachments: 2,
    max_rooms: 256,
    max_json_depth: 4,
};

/// An Io with small [`LIMITS`]: its `hold` handler keeps every ack
/// unanswered (each counts as pending), and every disconnect's reason goes
/// to `tx`.
fn capped(tx: smol::channel::Sender<DisconnectReason>) -> Harness {
    let held = std::sync::Mutex::new(Vec::new());
    let io = builder()
        .limits(LIMITS)
        .namespace(
            Namespace::new("/")
                .on("hold", move |_, mut event| {
                    let mut held = held.lock().unwrap_or_else(|e| e.into_inner());
                    held.extend(event.take_ack());
                })
                .on_disconnect(move |_, reason| {
                    let _ = tx.try_send(reason);
                }),
        )
        .build();
    Harness::new(io)
}

/// The session is cut off: the next GET gets the close packet, then the
/// socket leaves, and the session is gone.
async fn cut_off(
    harness: &Harness,
    client: &mut Client,
    rx: &smol::channel::Receiver<DisconnectReason>,
) {
    assert_eq!(client.recv().await, vec!["1"]);
    let reason = DisconnectReason::Transport(CloseReason::TransportError);
    assert_eq!(next(rx).await, reason);
    assert_eq!(harness.io().connection_count(), 0);
    assert_eq!(client.recv_within(WAIT).await, gone());
}

#[test]
fn more_attachments_than_allowed_cut_the_client_off() {
    let (tx, rx) = smol::channel::unbounded();
    let harness = capped(tx);
    smol::block_on(async {
        let (mut client, _) = harness.connect("/", None).await;
        let args = json!(["up", placeholder(0), placeholder(1), placeholder(2)]);
        let packets = harness::binary(5, "/", None, args, &[b"a", b"b", b"c"]);
        client.send(&packets[..1]).await;
        cut_off(&harness, &mut client, &rx).await;
    });
}

#[test]
fn as_many_attachments_as_allowed_pass() {
    let (tx, rx) = smol::channel::unbounded();
    let harness = capped(tx);
    smol::block_on(async {
        let (mut client, _) = harness.connect("/", None).await;
        let args = json!(["up", placeholder(0), placeholder(1)]);
        client
            .send(&harness::binary(5, "/", None, args, &[b"a", b"b"]))
            .await;
        client.recv_nothing().await;
        assert_eq!(harness.io().connection_count(), 1);
        assert!(rx.try_recv().is_err());
    });
}

#[test]
fn json_nested_deeper_than_allowed_cuts_the_client_off() {
    let (tx, rx) = smol::channel::unbounded();
    let harness = capped(tx);
    smol::block_on(async {
        let (mut client, _) = harness.connect("/", None).await;
        // Depth 4 passes (the array of arguments counts)...
        client
            .send(&[harness::event("/", None, json!(["x", [[[1]]]]))])
            .await;
        client.recv_nothing().await;
        // ...depth 5 does not.
        client
            .send(&[harness::event("/", None, json!(["x", [[[[1]]]]]))])
            .await;
        cut_off(&harness, &mut client, &rx).await;
    });
}

#[test]
fn more_unanswered_client_acks_than_allowed_cut_the_client_off() {
    let (tx, rx) = smol::channel::unbounded();
    let harness = capped(tx);
    smol::block_on(async {
        let (mut client, _) = harness.connect("/", None).await;
        for id in 0..2 {
            client
                .send(&[harness::event("/", Some(id), json!(["hold"]))])
                .await;
        }
        client.recv_nothing().await;
        assert_eq!(harness.io().connection_count(), 1, "two may wait");
        client
            .send(&[harness::event("/", Some(2), json!(["hold"]))])
            .await;
        cut_off(&harness, &mut client, &rx).await;
    });
}

#[test]
fn more_unanswered_server_acks_than_allowed_cut_the_client_off() {
    let (tx, rx) = smol::channel::unbounded();
    let harness = capped(tx);
    smol::block_on(async {
        let (mut client, reply) = harness.connect("/", None).await;
        let id = reply["sid"].as_str().unwrap_or_default();
        let socket = harness.socket("/", id);
        let waiting: Vec<_> = (0..3)
            .map(|n| socket.emit_with_ack("q", Payload::new().with(n), WAIT))
            .collect();
        // The two asked before the cap were queued, and dropped with the
        // queue when the third went over it.
        cut_off(&harness, &mut client, &rx).await;
        for answer in waiting {
            let answer = harness::within(WAIT, answer).await;
            let answer = answer.map(|a| a.map(|p| p.args().to_vec()));
            assert_eq!(answer, Some(Err(AckError::Disconnected)));
        }
    });
}

#[test]
fn a_socket_io_packet_that_does_not_parse_ends_the_session() {
    let (tx, rx) = smol::channel::unbounded();
    let harness = capped(tx);
    smol::block_on(async {
        let (mut client, _) = harness.connect("/", None).await;
        // A GET waits, as a client's does: it is told.
        assert_eq!(
            client.recv_within(Duration::from_millis(50)).await,
            harness::Polled::Nothing
        );
        client.send(&["4zzz"]).await;
        let reason = DisconnectReason::Transport(CloseReason::ParseError);
        assert_eq!(next(&rx).await, reason);
        assert_eq!(client.recv().await, vec!["1"]);
        assert_eq!(client.recv_within(WAIT).await, gone());
    });
}

#[test]
fn an_attachment_without_its_packet_ends_the_session() {
    let (tx, rx) = smol::channel::unbounded();
    let harness = capped(tx);
    smol::block_on(async {
        let (mut client, _) = harness.connect("/", None).await;
        client
            .send(&[format!("b{}", harness::base64(b"stray"))])
            .await;
        let reason = DisconnectReason::Transport(CloseReason::ParseError);
        assert_eq!(next(&rx).await, reason);
        assert_eq!(
            client.recv_within(WAIT).await,
            gone(),
            "no GET waited: none is told"
        );
    });
}

#[test]
fn an_engine_io_payload_that_does_not_parse_is_refused_and_ends_the_session() {
    let (tx, rx) = smol::channel::unbounded();
    let harness = capped(tx);
    smol::block_on(async {
        let (mut client, _) = harness.connect("/", None).await;
        assert_eq!(client.post("9").await, http_types::StatusCode::BadRequest);
        let reason = DisconnectReason::Transport(CloseReason::ParseError);
        assert_eq!(next(&rx).await, reason);
        assert_eq!(client.recv_within(WAIT).await, gone());
    });
}

#[test]
fn a_binary_packet_for_a_namespace_not_joined_ends_the_session() {
    let (tx, _rx) = smol::channel::unbounded();
    let harness = capped(tx);
    smol::block_on(async {
        let (mut client, _) = harness.connect("/", None).await;
        let args = json!(["up", placeholder(0)]);
        client
            .send(&harness::binary(5, "/chat", None, args, &[b"a"]))
            .await;
        assert_eq!(harness.io().connection_count(), 0);
        assert_eq!(client.recv_within(WAIT).await, gone());
    });
}

#[test]
fn a_connect_error_from_the_client_ends_the_session() {
    let (tx, rx) = smol::channel::unbounded();
    let harness = capped(tx);
    smol::block_on(async {
        let (mut client, _) = harness.connect("/", None).await;
        // Well formed, but only a server sends it.
        client.send(&[r#"44{"message":"no"}"#]).await;
        let reason = DisconnectReason::Transport(CloseReason::ParseError);
        assert_eq!(next(&rx).await, reason);
        assert_eq!(client.recv_within(WAIT).await, gone());
    });
}
