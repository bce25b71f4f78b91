//! Joining namespaces: the CONNECT answer, unknown namespaces, middleware
//! refusals and the auth middleware sees.

use serde_json::{json, Value};

use crate::socketio::harness::{self, builder, packet_json, Harness};
use crate::socketio::{ConnectError, Namespace};

#[test]
fn a_connect_to_the_root_namespace_is_answered_with_the_sockets_id() {
    let harness = Harness::new(builder().build());
    smol::block_on(async {
        let mut client = harness.open().await;
        client.send(&[harness::connect("/", None)]).await;
        let reply = packet_json(&client.recv_one().await, "40");
        let Some(sid) = reply["sid"].as_str() else {
            panic!("no sid in {reply}");
        };
        assert_ne!(sid, client.sid(), "the socket's id is not the session's");
        let root = harness.io().of("/").map(|nsp| nsp.socket(sid).is_some());
        assert_eq!(root, Some(true));
    });
}

#[test]
fn a_connect_to_a_custom_namespace_names_it() {
    let io = builder().namespace(Namespace::new("/chat")).build();
    let harness = Harness::new(io);
    smol::block_on(async {
        let (_client, reply) = harness.connect("/chat", None).await;
        let sid = reply["sid"].as_str().unwrap_or_default().to_owned();
        let chat = harness.io().of("/chat");
        assert_eq!(chat.map(|nsp| nsp.socket(&sid).is_some()), Some(true));
        let root = harness.io().of("/").map(|nsp| nsp.socket_count());
        assert_eq!(root, Some(0), "joining /chat does not join /");
    });
}

#[test]
fn a_connect_to_an_unknown_namespace_is_refused() {
    let harness = Harness::new(builder().build());
    smol::block_on(async {
        let mut client = harness.open().await;
        client.send(&[harness::connect("/nope", None)]).await;
        let reply = client.recv_one().await;
        assert_eq!(reply, r#"44/nope,{"message":"Invalid namespace"}"#);
        // The session stays: the client may join another namespace.
        client.send(&[harness::connect("/", None)]).await;
        packet_json(&client.recv_one().await, "40");
    });
}

#[test]
fn a_middleware_refusal_carries_its_message_and_data() {
    let io = builder()
        .namespace(Namespace::new("/").middleware(|_, _| {
            Err(ConnectError {
                message: "not allowed".into(),
                data: Some(json!({"retry": false})),
            })
        }))
        .build();
    let harness = Harness::new(io);
    smol::block_on(async {
        let mut client = harness.open().await;
        client.send(&[harness::connect("/", None)]).await;
        let reply = packet_json(&client.recv_one().await, "44");
        assert_eq!(
            reply,
            json!({"message": "not allowed", "data": {"retry": false}})
        );
        assert_eq!(harness.io().of("/").map(|n| n.socket_count()), Some(0));
    });
}

#[test]
fn middleware_sees_the_auth_and_what_it_stores_reaches_the_socket() {
    #[derive(Clone)]
    struct Token(String);
    let io = builder()
        .namespace(Namespace::new("/").middleware(|handshake, extensions| {
            match handshake.auth()["token"].as_str() {
                Some(token) => {
                    extensions.insert(Token(token.to_owned()));
                    Ok(())
                }
                None => Err(ConnectError::new("no token")),
            }
        }))
        .build();
    let harness = Harness::new(io);
    smol::block_on(async {
        let (_client, reply) = harness.connect("/", Some(json!({"token": "t1"}))).await;
        let sid = reply["sid"].as_str().unwrap_or_default();
        let socket = harness.io().of("/").and_then(|nsp| nsp.socket(sid));
        let token = socket.and_then(|s| s.get::<Token>()).map(|t| t.0);
        assert_eq!(token.as_deref(), Some("t1"));

        let mut other = harness.open().await;
        other.send(&[harness::connect("/", None)]).await;
        let refusal: Value = packet_json(&other.recv_one().await, "44");
        assert_eq!(refusal, json!({"message": "no token"}));
    });
}

#[test]
fn a_panicking_middleware_refuses_with_a_server_error() {
    let io = builder()
        .namespace(Namespace::new("/").middleware(|_, _| panic!("middleware bug")))
        .build();
    let harness = Harness::new(io);
    smol::block_on(async {
        let mut client = harness.open().await;
        client.send(&[harness::connect("/", None)]).await;
        let reply = client.recv_one().await;
        assert_eq!(reply, r#"44{"message":"server error"}"#);
        assert_eq!(harness.io().connection_count(), 1, "the session stays");
    });
}

#[test]
fn a_second_connect_to_a_joined_namespace_is_ignored() {
    let harness = Harness::new(builder().build());
    smol::block_on(async {
        let (mut client, reply) = harness.connect("/", None).await;
        client.send(&[harness::connect("/", None)]).await;
        client.recv_nothing().await;
        let sockets = harness.io().of("/").map(|n| n.sockets());
        let ids: Option<Vec<String>> =
            sockets.map(|s| s.iter().map(|s| s.id().to_owned()).collect());
        assert_eq!(
            ids,
            Some(vec![reply["sid"].as_str().unwrap_or("?").to_owned()])
        );
    });
}

#[test]
fn on_connect_runs_after_the_connect_answer_and_may_emit() {
    let io = builder()
        .namespace(Namespace::new("/").on_connect(|socket| {
            socket.emit("hello", json!({"id": socket.id()}));
        }))
        .build();
    let harness = Harness::new(io);
    smol::block_on(async {
        let mut client = harness.open().await;
        client.send(&[harness::connect("/", None)]).await;
        let packets = client.recv().await;
        assert_eq!(packets.len(), 2, "{packets:?}");
        let reply = packet_json(&packets[0], "40");
        let hello = packet_json(&packets[1], "42");
        assert_eq!(hello, json!(["hello", {"id": reply["sid"]}]));
    });
}
