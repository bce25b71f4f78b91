//! Binary events and acks: placeholders and attachments (over polling v4,
//! each attachment is a `b<base64>` packet).

use serde_json::json;

use crate::socketio::harness::{self, builder, next, placeholder, Harness, WAIT};
use crate::socketio::{Namespace, Payload};

#[test]
fn a_binary_event_reaches_its_handler_as_bytes() {
    let (tx, rx) = smol::channel::unbounded();
    let io = builder()
        .namespace(Namespace::new("/").on("upload", move |_, event| {
            let payload = &event.payload;
            let file = payload.arg(0).map(|a| a["file"].clone());
            let bytes = file.and_then(|f| payload.binary(&f).map(|b| b.to_vec()));
            let second = payload
                .arg(1)
                .and_then(|p| payload.binary(p))
                .map(|b| b.to_vec());
            let _ = tx.try_send((bytes, second, payload.arg(2).cloned()));
        }))
        .build();
    let harness = Harness::new(io);
    smol::block_on(async {
        let (client, _) = harness.connect("/", None).await;
        let args = json!(["upload", {"file": placeholder(1)}, placeholder(0), "name"]);
        let one: &[u8] = &[0, 1, 2, 255];
        let two: &[u8] = b"second";
        let packets = harness::binary(5, "/", None, args, &[one, two]);
        assert_eq!(
            packets[0],
            r#"452-["upload",{"file":{"_placeholder":true,"num":1}},{"_placeholder":true,"num":0},"name"]"#
        );
        client.send(&packets).await;
        let (file, second, name) = next(&rx).await;
        assert_eq!(file.as_deref(), Some(two));
        assert_eq!(second.as_deref(), Some(one));
        assert_eq!(name, Some(json!("name")));
    });
}

#[test]
fn attachments_may_come_in_a_later_post() {
    let (tx, rx) = smol::channel::unbounded();
    let io = builder()
        .namespace(Namespace::new("/").on("up", move |_, event| {
            let _ = tx.try_send(event.payload.attachments().to_vec());
        }))
        .build();
    let harness = Harness::new(io);
    smol::block_on(async {
        let (client, _) = harness.connect("/", None).await;
        let args = json!(["up", placeholder(0), placeholder(1)]);
        let packets = harness::binary(5, "/", None, args, &[b"a", b"b"]);
        client.send(&packets[..2]).await;
        assert!(rx.try_recv().is_err(), "not before its last attachment");
        client.send(&packets[2..]).await;
        let got = next(&rx).await;
        let got: Vec<&[u8]> = got.iter().map(|b| &b[..]).collect();
        assert_eq!(got, vec![b"a" as &[u8], b"b"]);
    });
}

#[test]
fn a_binary_ack_from_the_server_carries_its_attachment() {
    let io = builder()
        .namespace(Namespace::new("/").on("get", |_, event| {
            let mut payload = Payload::new();
            let file = payload.push_binary(vec![9u8, 8, 7]);
            event.ack(payload.with(json!({"file": file})));
        }))
        .build();
    let harness = Harness::new(io);
    smol::block_on(async {
        let (mut client, _) = harness.connect("/", None).await;
        client
            .send(&[harness::event("/", Some(3), json!(["get"]))])
            .await;
        let packets = client.recv().await;
        let expected = [
            r#"461-3[{"file":{"_placeholder":true,"num":0}}]"#.to_owned(),
            format!("b{}", harness::base64(&[9, 8, 7])),
        ];
        assert_eq!(packets, expected);
    });
}

#[test]
fn a_binary_ack_from_the_client_resolves_emit_with_ack_with_bytes() {
    let harness = Harness::new(builder().build());
    smol::block_on(async {
        let (mut client, reply) = harness.connect("/", None).await;
        let id = reply["sid"].as_str().unwrap_or_default();
        let socket = harness.socket("/", id);
        let answer = socket.emit_with_ack("photo", Payload::new(), WAIT);
        assert_eq!(client.recv_one().await, r#"420["photo"]"#);
        let reply = harness::binary(6, "/", Some(0), json!([placeholder(0)]), &[b"jpeg"]);
        assert_eq!(reply[0], r#"461-0[{"_placeholder":true,"num":0}]"#);
        client.send(&reply).await;
        let answer = match answer.await {
            Ok(answer) => answer,
            Err(err) => panic!("{err}"),
        };
        let bytes = answer
            .arg(0)
            .and_then(|p| answer.binary(p))
            .map(|b| b.to_vec());
        assert_eq!(bytes.as_deref(), Some(&b"jpeg"[..]));
    });
}
