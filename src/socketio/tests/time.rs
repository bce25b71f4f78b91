//! What happens when time passes, on the harness's manual clock: the
//! heartbeat's ping and ping timeout, the deadline to join a namespace, a
//! server's ack timing out, and recovery's window. Each deadline is checked
//! both ways: nothing a moment before it, the outcome at it.

use std::time::Duration;

use serde_json::json;

use super::recovery::{joined, recovering};
use crate::engineio::CloseReason;
use crate::socketio::harness::{self, builder, next, Harness, QUIET, WAIT};
use crate::socketio::server::RECOVERY_SWEEP;
use crate::socketio::{AckError, DisconnectReason, Namespace, Payload};

const MS: Duration = Duration::from_millis(1);

/// The engine's defaults: a ping every 25 s, 20 s to answer it.
const INTERVAL: Duration = Duration::from_secs(25);
const TIMEOUT: Duration = Duration::from_secs(20);

/// An Io on the default heartbeat, with its heartbeat's task, that sends
/// every disconnect's reason to `tx`.
fn beating(tx: smol::channel::Sender<DisconnectReason>) -> Harness {
    let io = builder()
        .namespace(Namespace::new("/").on_disconnect(move |_, reason| {
            let _ = tx.try_send(reason);
        }))
        .build();
    Harness::with_heartbeat(io)
}

/// Panics if a disconnect comes within [`QUIET`].
async fn no_disconnect(rx: &smol::channel::Receiver<DisconnectReason>) {
    let came = harness::within(QUIET, rx.recv()).await;
    assert_eq!(came, None, "a disconnect came early");
}

#[test]
fn a_client_that_does_not_answer_a_ping_is_closed_after_the_ping_timeout() {
    let (tx, rx) = smol::channel::unbounded();
    let harness = beating(tx);
    smol::block_on(async {
        let (mut client, _) = harness.connect("/", None).await;
        harness.advance(INTERVAL - MS);
        client.recv_nothing().await;
        harness.advance(MS);
        assert_eq!(client.recv().await, vec!["2"], "pinged at the interval");
        harness.advance(TIMEOUT - MS);
        no_disconnect(&rx).await;
        assert_eq!(harness.io().connection_count(), 1);
        harness.advance(MS);
        let reason = DisconnectReason::Transport(CloseReason::PingTimeout);
        assert_eq!(next(&rx).await, reason);
        assert_eq!(reason.as_str(), "ping timeout");
        assert_eq!(harness.io().connection_count(), 0);
        assert_eq!(client.recv_within(WAIT).await, harness::gone());
    });
}

#[test]
fn a_client_that_answers_pings_stays_and_is_pinged_again_an_interval_later() {
    let (tx, rx) = smol::channel::unbounded();
    let harness = beating(tx);
    smol::block_on(async {
        let (mut client, _) = harness.connect("/", None).await;
        harness.advance(INTERVAL);
        assert_eq!(client.recv().await, vec!["2"]);
        client.send(&["3"]).await;
        // Past the first ping's timeout: the pong counted.
        harness.advance(TIMEOUT);
        no_disconnect(&rx).await;
        client.recv_nothing().await;
        harness.advance(INTERVAL - TIMEOUT);
        assert_eq!(client.recv().await, vec!["2"], "an interval after the pong");
        assert_eq!(harness.io().connection_count(), 1);
    });
}

#[test]
fn a_client_that_joins_no_namespace_is_closed_at_the_connect_timeout() {
    let limit = Duration::from_secs(10);
    let harness = Harness::with_heartbeat(builder().connect_timeout(limit).build());
    smol::block_on(async {
        let mut client = harness.open().await;
        harness.advance(limit);
        client.recv_nothing().await;
        assert_eq!(harness.io().connection_count(), 1);
        // The engine's clock counts whole milliseconds, and a tick is never
        // early: the next one ends it.
        harness.advance(MS);
        assert_eq!(client.recv().await, vec!["1"]);
        assert_eq!(harness.io().connection_count(), 0);
        assert_eq!(client.recv_within(WAIT).await, harness::gone());
    });
}

#[test]
fn a_client_that_joined_is_not_closed_at_the_connect_timeout() {
    let limit = Duration::from_secs(10);
    let harness = Harness::with_heartbeat(builder().connect_timeout(limit).build());
    smol::block_on(async {
        let (mut client, _) = harness.connect("/", None).await;
        harness.advance(limit + MS);
        client.recv_nothing().await;
        assert_eq!(harness.io().connection_count(), 1);
    });
}

#[test]
fn a_server_ack_times_out_at_its_deadline_and_not_before() {
    let harness = Harness::new(builder().build());
    smol::block_on(async {
        let (mut client, reply) = harness.connect("/", None).await;
        let id = reply["sid"].as_str().unwrap_or_default();
        let socket = harness.socket("/", id);
        let limit = Duration::from_secs(5);
        let mut answer = smol::spawn(socket.emit_with_ack("q", Payload::new(), limit));
        assert_eq!(client.recv_one().await, r#"420["q"]"#);
        harness.advance(limit - MS);
        assert!(harness::within(QUIET, &mut answer).await.is_none(), "early");
        harness.advance(MS);
        let answer = harness::within(WAIT, answer).await;
        let answer = answer.map(|a| a.map(|p| p.args().to_vec()));
        assert_eq!(answer, Some(Err(AckError::Timeout)));
        assert_eq!(harness.io().metrics().acks_timed_out.get(), 1);
        // The late answer finds nobody waiting, and the session carries on.
        client.send(&[harness::ack("/", 0, json!(["late"]))]).await;
        client.recv_nothing().await;
        assert_eq!(harness.io().connection_count(), 1);
    });
}

#[test]
fn a_dropped_socket_recovers_until_the_end_of_its_window() {
    let (harness, window) = recovering();
    smol::block_on(async {
        let (client, id, pid, offset) = joined(&harness).await;
        client.send(&["1"]).await;
        harness.advance(window);
        let auth = json!({"pid": pid, "offset": offset});
        let (_back, reply) = harness.connect("/", Some(auth)).await;
        assert_eq!(reply, json!({"sid": id, "pid": pid}), "the same socket");
    });
}

#[test]
fn a_dropped_socket_past_its_window_is_let_go_by_the_sweep() {
    let (harness, window) = recovering();
    smol::block_on(async {
        let (client, id, pid, offset) = joined(&harness).await;
        client.send(&["1"]).await;
        let nsp = harness.io().of("/");
        let parked = || nsp.as_ref().map_or(0, |n| n.parked_count());
        assert_eq!(parked(), 1);
        harness.advance(window + MS);
        // No emit or reconnect came: only the sweep, within one of its
        // periods, lets it go.
        harness.advance(RECOVERY_SWEEP);
        let gone = harness::within(WAIT, async {
            while parked() > 0 {
                smol::Timer::after(MS).await;
            }
        });
        assert!(gone.await.is_some(), "still parked");
        let auth = json!({"pid": pid, "offset": offset});
        let (_back, reply) = harness.connect("/", Some(auth)).await;
        assert_ne!(reply["sid"], json!(id), "a new socket");
    });
}
