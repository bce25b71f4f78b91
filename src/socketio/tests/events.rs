//! Events from the client reaching `Namespace::on`, and acks both ways.

use serde_json::{json, Value};

use crate::socketio::harness::{self, builder, next, Harness, WAIT};
use crate::socketio::{Event, Namespace, Payload, Socket};

/// An Io whose `/` and `/chat` send every `ev` event's arguments to `tx`.
fn recording(tx: smol::channel::Sender<Vec<Value>>) -> Harness {
    let on = |tx: smol::channel::Sender<Vec<Value>>| {
        move |_: &Socket, event: Event| {
            let _ = tx.try_send(event.payload.args().to_vec());
        }
    };
    let io = builder()
        .namespace(Namespace::new("/").on("ev", on(tx.clone())))
        .namespace(Namespace::new("/chat").on("ev", on(tx)))
        .build();
    Harness::new(io)
}

#[test]
fn an_event_reaches_its_handler_with_its_arguments() {
    let (tx, rx) = smol::channel::unbounded();
    let harness = recording(tx);
    smol::block_on(async {
        let (client, _) = harness.connect("/", None).await;
        let args = json!(["ev", 1, {"a": [true, null]}, "x"]);
        client.send(&[harness::event("/", None, args)]).await;
        assert_eq!(
            next(&rx).await,
            vec![json!(1), json!({"a": [true, null]}), json!("x")]
        );
    });
}

#[test]
fn an_event_goes_to_the_namespace_it_names_only_once_joined() {
    let (tx, rx) = smol::channel::unbounded();
    let harness = recording(tx);
    smol::block_on(async {
        let (mut client, _) = harness.connect("/", None).await;
        // Not joined to /chat: dropped.
        let early = harness::event("/chat", None, json!(["ev", "early"]));
        client.send(&[early]).await;
        client.send(&[harness::connect("/chat", None)]).await;
        client.recv_one().await;
        let late = harness::event("/chat", None, json!(["ev", "late"]));
        client.send(&[late]).await;
        assert_eq!(next(&rx).await, vec![json!("late")]);
        assert!(rx.try_recv().is_err());
    });
}

#[test]
fn an_event_with_an_ack_id_is_answered_by_event_ack() {
    let io = builder()
        .namespace(Namespace::new("/").on("double", |_, event| {
            let n = event.arg(0).and_then(Value::as_i64).unwrap_or(0);
            event.ack(Payload::new().with(n * 2).with("done"));
        }))
        .build();
    let harness = Harness::new(io);
    smol::block_on(async {
        let (mut client, _) = harness.connect("/", None).await;
        client
            .send(&[harness::event("/", Some(7), json!(["double", 21]))])
            .await;
        assert_eq!(client.recv_one().await, r#"437[42,"done"]"#);
    });
}

#[test]
fn emit_with_ack_is_resolved_by_the_clients_ack() {
    let harness = Harness::new(builder().build());
    smol::block_on(async {
        let (mut client, reply) = harness.connect("/", None).await;
        let id = reply["sid"].as_str().unwrap_or_default();
        let socket = harness.socket("/", id);
        let first = socket.emit_with_ack("q", Payload::new().with(1), WAIT);
        let second = socket.emit_with_ack("q", Payload::new().with(2), WAIT);
        let asked = client.recv().await;
        assert_eq!(asked, vec![r#"420["q",1]"#, r#"421["q",2]"#]);
        // Answered out of order, each to its own id.
        let answers = [
            harness::ack("/", 1, json!(["two"])),
            harness::ack("/", 0, json!(["one"])),
        ];
        client.send(&answers).await;
        let first = first.await.map(|p| p.args().to_vec());
        let second = second.await.map(|p| p.args().to_vec());
        assert_eq!(first, Ok(vec![json!("one")]));
        assert_eq!(second, Ok(vec![json!("two")]));
    });
}

#[test]
fn an_ack_nobody_waits_for_is_ignored() {
    let (tx, rx) = smol::channel::unbounded();
    let harness = recording(tx);
    smol::block_on(async {
        let (mut client, _) = harness.connect("/", None).await;
        let stray = harness::ack("/", 5, json!(["late"]));
        let then = harness::event("/", None, json!(["ev", "still here"]));
        client.send(&[stray, then]).await;
        assert_eq!(next(&rx).await, vec![json!("still here")]);
        client.recv_nothing().await;
    });
}
