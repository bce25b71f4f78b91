//! An in-memory client for a whole [`Io`], for unit tests: it speaks
//! Engine.IO 4 long-polling through [`Io::handle`] (no TCP, no mocks of the
//! server), and encodes the Socket.IO packets a client sends.
//!
//! Time is a [`ManualClock`]'s: heartbeats, join deadlines, ack timeouts and
//! recovery windows come when a test moves it ([`Harness::advance`]), and
//! only then. (The waits of [`WAIT`] and [`QUIET`] are real: they bound how
//! long a test waits for the server's tasks.)
//!
//! Packets go and come as Engine.IO packets written as on the wire: `40`
//! (message + CONNECT), `42["ev",1]`, `1` (close), `b<base64>` (a binary
//! attachment). A waiting GET outlives a [`Client::recv`] that timed out,
//! as a real client's request does, so "nothing arrived" never breaks the
//! session.

use std::future::Future;
use std::time::Duration;

use base64::Engine as _;
use http_types::{Method, Request, StatusCode, Url};
use serde_json::Value;
use smol::Task;

use super::{Io, IoBuilder, Socket};
use crate::clock::ManualClock;

/// How long [`Client::recv`] waits before it says nothing came.
pub(crate) const WAIT: Duration = Duration::from_secs(5);

/// How long a test waits to be sure that nothing comes.
pub(crate) const QUIET: Duration = Duration::from_millis(200);

/// An [`Io`] builder with the default settings on a clock of its own that
/// stands still until the test moves it.
pub(crate) fn builder() -> IoBuilder {
    Io::builder().clock(ManualClock::new().clock())
}

/// `fut`'s output, or `None` when `limit` passes first.
pub(crate) async fn within<T>(limit: Duration, fut: impl Future<Output = T>) -> Option<T> {
    let timeout = async {
        smol::Timer::after(limit).await;
        None
    };
    smol::future::or(async { Some(fut.await) }, timeout).await
}

/// The server under test, and its heartbeat's task when it runs one.
pub(crate) struct Harness {
    io: Io,
    _heartbeat: Option<Task<()>>,
}

/// A GET's answer: its status and body.
type Answer = (StatusCode, String);

/// What a long-polling GET brought.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Polled {
    /// The packets of a 200 answer, as on the wire.
    Packets(Vec<String>),
    /// Any other answer (an unknown or closed session: 400).
    Refused(StatusCode, String),
    /// No answer within the time given; the GET still waits.
    Nothing,
}

/// One fake client: an open Engine.IO session.
pub(crate) struct Client {
    io: Io,
    sid: String,
    /// The GET that waits for the server's packets, if one does.
    poll: Option<Task<Answer>>,
}

fn request(method: Method, query: &str) -> Request {
    let url = format!("http://localhost/socket.io/?EIO=4&transport=polling{query}");
    match Url::parse(&url) {
        Ok(url) => Request::new(method, url),
        Err(err) => panic!("{url}: {err}"),
    }
}

async fn answer(io: &Io, req: Request) -> Answer {
    let mut res = io.handle(req).await;
    let body = res.body_string().await.unwrap_or_default();
    (res.status(), body)
}

/// A payload's packets (`\x1e` between them).
fn split(body: &str) -> Vec<String> {
    body.split('\x1e').map(str::to_owned).collect()
}

impl Harness {
    /// Serves `io` without its heartbeat's task: no session is stepped by
    /// time, so one aborted (over a cap) waits for its next GET to be told.
    pub(crate) fn new(io: Io) -> Harness {
        Harness {
            io,
            _heartbeat: None,
        }
    }

    /// Serves `io` with its heartbeat's task ([`Io::run_heartbeat`]), as a
    /// server does, until the harness is dropped: pings, ping timeouts, join
    /// deadlines and the recovery sweep come as the clock moves.
    pub(crate) fn with_heartbeat(io: Io) -> Harness {
        let server = io.clone();
        let heartbeat = smol::spawn(async move { server.run_heartbeat().await });
        Harness {
            io,
            _heartbeat: Some(heartbeat),
        }
    }

    pub(crate) fn io(&self) -> &Io {
        &self.io
    }

    /// Moves the server's clock on by `by` (its timers due by then fire);
    /// panics unless it was built on a manual clock ([`builder`]).
    pub(crate) fn advance(&self, by: Duration) {
        match self.io.clock().manual() {
            Some(manual) => manual.advance(by),
            None => panic!("the server runs on the system clock"),
        }
    }

    /// The server's socket `id` in `namespace`; panics if there is none.
    pub(crate) fn socket(&self, namespace: &str, id: &str) -> Socket {
        match self.io.of(namespace).and_then(|nsp| nsp.socket(id)) {
            Some(socket) => socket,
            None => panic!("no socket {id} in {namespace}"),
        }
    }

    /// Opens a session; panics unless the server answers an open packet.
    pub(crate) async fn open(&self) -> Client {
        let (status, body) = answer(&self.io, request(Method::Get, "")).await;
        assert_eq!(status, StatusCode::Ok, "handshake refused: {body}");
        let open: Value = match body.strip_prefix('0').map(serde_json::from_str) {
            Some(Ok(open)) => open,
            _ => panic!("not an open packet: {body}"),
        };
        let Some(sid) = open["sid"].as_str() else {
            panic!("an open packet without a sid: {body}");
        };
        Client {
            io: self.io.clone(),
            sid: sid.to_owned(),
            poll: None,
        }
    }

    /// Opens a session and joins `namespace` with `auth`; answers the
    /// client and the CONNECT packet's JSON (`{"sid":..}`).
    pub(crate) async fn connect(&self, namespace: &str, auth: Option<Value>) -> (Client, Value) {
        let mut client = self.open().await;
        client.send(&[connect(namespace, auth)]).await;
        let reply = client.recv_one().await;
        let json = packet_json(&reply, &format!("40{}", prefix(namespace)));
        (client, json)
    }
}

impl Client {
    /// The Engine.IO session id.
    pub(crate) fn sid(&self) -> &str {
        &self.sid
    }

    /// POSTs Engine.IO packets (as on the wire) in one payload; the status.
    pub(crate) async fn send(&self, packets: &[impl AsRef<str>]) -> StatusCode {
        let body: Vec<&str> = packets.iter().map(AsRef::as_ref).collect();
        self.post(&body.join("\x1e")).await
    }

    /// POSTs a raw payload; the status.
    pub(crate) async fn post(&self, body: &str) -> StatusCode {
        let mut req = request(Method::Post, &format!("&sid={}", self.sid));
        req.insert_header("content-type", "text/plain;charset=UTF-8");
        req.set_body(body);
        answer(&self.io, req).await.0
    }

    /// A GET that the HTTP server gives up on after `limit` (drops its
    /// future, as a server does when the client goes away); true when it was
    /// answered before that.
    pub(crate) async fn abandoned_get(&self, limit: Duration) -> bool {
        let req = request(Method::Get, &format!("&sid={}", self.sid));
        within(limit, self.io.handle(req)).await.is_some()
    }

    /// What the next GET brings, within `limit`. A GET that is not answered
    /// in time keeps waiting, for the next call.
    pub(crate) async fn recv_within(&mut self, limit: Duration) -> Polled {
        let task = self.poll.get_or_insert_with(|| {
            let (io, req) = (
                self.io.clone(),
                request(Method::Get, &format!("&sid={}", self.sid)),
            );
            smol::spawn(async move { answer(&io, req).await })
        });
        let Some((status, body)) = within(limit, task).await else {
            return Polled::Nothing;
        };
        self.poll = None;
        match status {
            StatusCode::Ok => Polled::Packets(split(&body)),
            status => Polled::Refused(status, body),
        }
    }

    /// What the next GET brings; panics unless packets come within [`WAIT`].
    pub(crate) async fn recv(&mut self) -> Vec<String> {
        match self.recv_within(WAIT).await {
            Polled::Packets(packets) => packets,
            other => panic!("session {}: expected packets, got {other:?}", self.sid),
        }
    }

    /// The one packet the next GET brings; panics if it brings more.
    pub(crate) async fn recv_one(&mut self) -> String {
        let mut packets = self.recv().await;
        assert_eq!(packets.len(), 1, "expected one packet: {packets:?}");
        packets.remove(0)
    }

    /// Panics if the server sends anything within [`QUIET`].
    pub(crate) async fn recv_nothing(&mut self) {
        let polled = self.recv_within(QUIET).await;
        assert_eq!(polled, Polled::Nothing, "session {}", self.sid);
    }
}

/// A namespace as packets name it: nothing for `/`, `/chat,` otherwise.
fn prefix(namespace: &str) -> String {
    match namespace {
        "/" => String::new(),
        name => format!("{name},"),
    }
}

/// CONNECT to `namespace`, with `auth` when given.
pub(crate) fn connect(namespace: &str, auth: Option<Value>) -> String {
    let auth = auth.map_or_else(String::new, |a| a.to_string());
    format!("40{}{auth}", prefix(namespace))
}

/// DISCONNECT from `namespace`.
pub(crate) fn disconnect(namespace: &str) -> String {
    format!("41{}", prefix(namespace))
}

/// EVENT with `args` (a JSON array, the event's name first), asking for an
/// ack when `id` is given.
pub(crate) fn event(namespace: &str, id: Option<u64>, args: Value) -> String {
    let id = id.map_or_else(String::new, |id| id.to_string());
    format!("42{}{id}{args}", prefix(namespace))
}

/// ACK `id` with `args` (a JSON array).
pub(crate) fn ack(namespace: &str, id: u64, args: Value) -> String {
    format!("43{}{id}{args}", prefix(namespace))
}

/// A binary packet (`kind` 5: BINARY_EVENT, 6: BINARY_ACK) whose `args`
/// hold placeholders for `attachments`, then the attachments.
pub(crate) fn binary(
    kind: u8,
    namespace: &str,
    id: Option<u64>,
    args: Value,
    attachments: &[&[u8]],
) -> Vec<String> {
    let id = id.map_or_else(String::new, |id| id.to_string());
    let count = attachments.len();
    let mut packets = vec![format!("4{kind}{count}-{}{id}{args}", prefix(namespace))];
    packets.extend(attachments.iter().map(|a| format!("b{}", base64(a))));
    packets
}

/// A placeholder for attachment `num`.
pub(crate) fn placeholder(num: usize) -> Value {
    serde_json::json!({"_placeholder": true, "num": num})
}

pub(crate) fn base64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// The JSON after `head` in `packet`; panics if `packet` is not that.
pub(crate) fn packet_json(packet: &str, head: &str) -> Value {
    match packet.strip_prefix(head).map(serde_json::from_str) {
        Some(Ok(json)) => json,
        _ => panic!("expected {head}<json>, got {packet}"),
    }
}

/// The next value a handler sent on `rx`; panics unless one comes within
/// [`WAIT`].
pub(crate) async fn next<T>(rx: &smol::channel::Receiver<T>) -> T {
    match within(WAIT, rx.recv()).await {
        Some(Ok(value)) => value,
        Some(Err(_)) => panic!("every sender is gone"),
        None => panic!("nothing came within {WAIT:?}"),
    }
}

/// What a GET to a session that is gone gets.
pub(crate) fn gone() -> Polled {
    let body = r#"{"code":1,"message":"Session ID unknown"}"#;
    Polled::Refused(StatusCode::BadRequest, body.to_owned())
}
