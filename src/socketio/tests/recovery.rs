//! Connection state recovery: a socket whose session drops comes back in a
//! new session, CONNECTing with its `pid` and the `offset` of the last
//! event it got, with the same id, its rooms and the events it missed.

use std::time::Duration;

use serde_json::{json, Value};

use crate::socketio::harness::{self, builder, Client, Harness};
use crate::socketio::{Namespace, RecoveryConfig};

/// An Io with recovery on, whose `join` event joins the room it names,
/// with its heartbeat's task (and recovery's sweep); and its window.
pub(super) fn recovering() -> (Harness, Duration) {
    let window = Duration::from_secs(60);
    let io = builder()
        .recovery(RecoveryConfig {
            window,
            ..RecoveryConfig::default()
        })
        .namespace(Namespace::new("/").on("join", |socket, event| {
            if let Some(room) = event.arg(0).and_then(|r| r.as_str()) {
                socket.join(room);
            }
        }))
        .build();
    (Harness::with_heartbeat(io), window)
}

/// An event packet's arguments (after its name).
fn args(packet: &str, event: &str) -> Vec<Value> {
    let Value::Array(mut args) = harness::packet_json(packet, "42") else {
        panic!("not an event: {packet}");
    };
    assert_eq!(args.first(), Some(&json!(event)), "{packet}");
    args.remove(0);
    args
}

/// A connected client, its socket's id and pid, and the offset of the
/// event it got after joining room `r`.
pub(super) async fn joined(harness: &Harness) -> (Client, String, String, String) {
    let (mut client, reply) = harness.connect("/", None).await;
    let (Some(id), Some(pid)) = (reply["sid"].as_str(), reply["pid"].as_str()) else {
        panic!("no sid and pid: {reply}");
    };
    client
        .send(&[harness::event("/", None, json!(["join", "r"]))])
        .await;
    harness.io().to("r").emit("before", json!(0));
    let got = args(&client.recv_one().await, "before");
    let [zero, Value::String(offset)] = &got[..] else {
        panic!("no offset last: {got:?}");
    };
    assert_eq!(zero, &json!(0));
    (client, id.to_owned(), pid.to_owned(), offset.clone())
}

#[test]
fn a_dropped_socket_comes_back_with_its_id_rooms_and_missed_events() {
    let (harness, _) = recovering();
    smol::block_on(async {
        let (client, id, pid, offset) = joined(&harness).await;
        client.send(&["1"]).await;
        let io = harness.io();
        assert_eq!(io.of("/").map(|n| n.socket_count()), Some(0));
        io.to("r").emit("missed", json!("to its room"));
        io.to("elsewhere").emit("missed", json!("not for it"));
        io.emit("missed", json!("to everyone"));

        let mut back = harness.open().await;
        let auth = json!({"pid": pid, "offset": offset});
        back.send(&[harness::connect("/", Some(auth))]).await;
        let mut packets = back.recv().await;
        while packets.len() < 3 {
            packets.extend(back.recv().await);
        }
        let reply = harness::packet_json(&packets[0], "40");
        assert_eq!(reply, json!({"sid": id, "pid": pid}), "the same socket");
        let missed: Vec<Value> = packets[1..]
            .iter()
            .map(|p| args(p, "missed")[0].clone())
            .collect();
        assert_eq!(missed, vec![json!("to its room"), json!("to everyone")]);
        back.recv_nothing().await;

        let socket = io.of("/").and_then(|n| n.socket(&id));
        assert_eq!(socket.as_ref().map(|s| s.recovered()), Some(true));
        assert!(socket.is_some_and(|s| s.rooms().contains(&"r".to_owned())));
    });
}

#[test]
fn an_unknown_pid_gives_a_new_socket() {
    let (harness, _) = recovering();
    smol::block_on(async {
        let (client, id, _pid, offset) = joined(&harness).await;
        client.send(&["1"]).await;
        let auth = json!({"pid": "nobody", "offset": offset});
        let (_other, reply) = harness.connect("/", Some(auth)).await;
        assert_ne!(reply["sid"], json!(id));
        assert_ne!(reply["pid"], json!("nobody"));
        let socket = harness
            .io()
            .of("/")
            .and_then(|n| reply["sid"].as_str().and_then(|s| n.socket(s)));
        assert_eq!(socket.map(|s| s.recovered()), Some(false));
    });
}

#[test]
fn a_socket_the_server_disconnected_does_not_recover() {
    let (harness, _) = recovering();
    smol::block_on(async {
        let (_client, id, pid, offset) = joined(&harness).await;
        if let Some(socket) = harness.io().of("/").and_then(|n| n.socket(&id)) {
            socket.disconnect(true);
        }
        let auth = json!({"pid": pid, "offset": offset});
        let (_back, reply) = harness.connect("/", Some(auth)).await;
        assert_ne!(reply["sid"], json!(id), "a new socket");
    });
}

#[test]
fn an_offset_never_given_out_gives_a_new_socket() {
    let (harness, _) = recovering();
    smol::block_on(async {
        let (client, id, pid, _offset) = joined(&harness).await;
        client.send(&["1"]).await;
        let auth = json!({"pid": pid, "offset": "99999999"});
        let (_back, reply) = harness.connect("/", Some(auth)).await;
        assert_ne!(reply["sid"], json!(id), "a new socket");
    });
}

#[test]
fn without_recovery_events_carry_no_offset_and_no_pid_is_given() {
    let harness = Harness::new(builder().build());
    smol::block_on(async {
        let (mut client, reply) = harness.connect("/", None).await;
        assert_eq!(reply.get("pid"), None);
        harness.io().emit("news", json!(1));
        assert_eq!(client.recv().await, vec![r#"42["news",1]"#]);
    });
}
