//! Async handlers: one that awaits an acknowledgement from the client holds
//! up the socket's later events, which then run in the order they came.

use std::time::Duration;

use serde_json::{json, Value};

use crate::socketio::harness::{self, builder, next, Harness, WAIT};
use crate::socketio::{Namespace, Payload};

#[test]
fn events_wait_behind_an_async_handler_and_keep_their_order() {
    let (tx, rx) = smol::channel::unbounded::<String>();
    let (on_ask, on_note) = (tx.clone(), tx);
    let io = builder()
        .namespace(
            Namespace::new("/")
                .on_async("ask", move |socket, _| {
                    let tx = on_ask.clone();
                    async move {
                        let asked = socket.emit_with_ack("question", Payload::new(), WAIT);
                        let answer = asked.await.ok().and_then(|p| p.arg(0).cloned());
                        let answer = answer.unwrap_or(Value::Null);
                        let _ = tx.try_send(format!("answer {answer}"));
                    }
                })
                .on("note", move |_, event| {
                    let n = event.arg(0).cloned().unwrap_or(Value::Null);
                    let _ = on_note.try_send(format!("note {n}"));
                }),
        )
        .build();
    let harness = Harness::new(io);
    smol::block_on(async {
        let (mut client, _) = harness.connect("/", None).await;
        let events = [
            harness::event("/", None, json!(["ask"])),
            harness::event("/", None, json!(["note", 1])),
            harness::event("/", None, json!(["note", 2])),
        ];
        client.send(&events).await;
        assert_eq!(client.recv_one().await, r#"420["question"]"#);
        let held = harness::within(Duration::from_millis(100), rx.recv()).await;
        assert_eq!(held, None, "the notes wait for the answer");
        client.send(&[harness::ack("/", 0, json!(["yes"]))]).await;
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(next(&rx).await);
        }
        assert_eq!(seen, ["answer \"yes\"", "note 1", "note 2"]);
    });
}
