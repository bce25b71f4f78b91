//! Rooms: `Socket::join` and `leave`, and broadcasts that reach only their
//! members.

use serde_json::json;

use crate::socketio::harness::{self, builder, Harness};
use crate::socketio::Namespace;

/// An Io whose `join` and `leave` events move the socket in and out of
/// the room their argument names.
fn with_rooms() -> Harness {
    let io = builder()
        .namespace(
            Namespace::new("/")
                .on("join", |socket, event| {
                    if let Some(room) = event.arg(0).and_then(|r| r.as_str()) {
                        socket.join(room);
                    }
                })
                .on("leave", |socket, event| {
                    if let Some(room) = event.arg(0).and_then(|r| r.as_str()) {
                        socket.leave(room);
                    }
                }),
        )
        .build();
    Harness::new(io)
}

#[test]
fn a_broadcast_to_a_room_reaches_its_members_only() {
    let harness = with_rooms();
    smol::block_on(async {
        let (mut member, reply) = harness.connect("/", None).await;
        let (mut other, _) = harness.connect("/", None).await;
        member
            .send(&[harness::event("/", None, json!(["join", "r"]))])
            .await;
        let id = reply["sid"].as_str().unwrap_or_default();
        let socket = harness.io().of("/").and_then(|n| n.socket(id));
        let mut rooms = socket.map(|s| s.rooms()).unwrap_or_default();
        rooms.sort();
        let mut expected = vec![id.to_owned(), "r".to_owned()];
        expected.sort();
        assert_eq!(rooms, expected, "its own room and r");

        harness.io().to("r").emit("news", json!(1));
        assert_eq!(member.recv().await, vec![r#"42["news",1]"#]);
        other.recv_nothing().await;

        harness.io().emit("all", json!(2));
        assert_eq!(member.recv().await, vec![r#"42["all",2]"#]);
        assert_eq!(other.recv().await, vec![r#"42["all",2]"#]);
    });
}

#[test]
fn a_socket_that_left_a_room_no_longer_gets_its_broadcasts() {
    let harness = with_rooms();
    smol::block_on(async {
        let (mut client, _) = harness.connect("/", None).await;
        let join = harness::event("/", None, json!(["join", "r"]));
        let leave = harness::event("/", None, json!(["leave", "r"]));
        client.send(&[join, leave]).await;
        harness.io().to("r").emit("news", json!(1));
        client.recv_nothing().await;
    });
}

#[test]
fn a_broadcast_from_a_socket_leaves_it_out() {
    let harness = with_rooms();
    smol::block_on(async {
        let (mut one, reply) = harness.connect("/", None).await;
        let (mut two, _) = harness.connect("/", None).await;
        for client in [&one, &two] {
            client
                .send(&[harness::event("/", None, json!(["join", "r"]))])
                .await;
        }
        let id = reply["sid"].as_str().unwrap_or_default();
        let socket = harness.socket("/", id);
        socket.to("r").emit("hi", json!("from one"));
        assert_eq!(two.recv().await, vec![r#"42["hi","from one"]"#]);
        one.recv_nothing().await;
    });
}
