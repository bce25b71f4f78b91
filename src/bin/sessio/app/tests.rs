//! The app's real Socket.IO events behind the library's real `http::serve` on a
//! loopback port, and WebSocket clients speaking Engine.IO/Socket.IO on the wire:
//! a slow store stalls only the writers waiting for it (sessions in a store that
//! sleeps in every call, as an SD card stalls a sync); the operator ending
//! sessions by store key disconnects exactly their sockets, in either cookie
//! format.
//!
//! The store is the one thing replaced, because its slowness is the condition
//! under test; everything a client's bytes go through is the server's own code.
//! A stall cannot be made on demand in a real sled store, hence the wrapper.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_tungstenite::tungstenite::client::IntoClientRequest;
use async_tungstenite::tungstenite::Message;
use async_tungstenite::WebSocketStream;
use serde_json::json;
use sessio::http::{serve, Limits};
use sessio::session::{
    CookieKeys, MemoryStore, Record, Secret, SessionConfig, SessionId, Sessions, Store, StoreError,
    StoreKey,
};
use sessio::socketio::Io;
use smol::net::{TcpListener, TcpStream};
use smol::stream::StreamExt;

use super::events;

/// A [`MemoryStore`] that sleeps `delay_ms` in every call, on the caller's thread.
#[derive(Default)]
struct SlowStore {
    inner: MemoryStore,
    delay_ms: AtomicU64,
}

impl SlowStore {
    fn stall(&self) {
        std::thread::sleep(Duration::from_millis(self.delay_ms.load(Ordering::SeqCst)));
    }
}

impl Store for SlowStore {
    fn load(&self, id: &SessionId) -> Result<Option<Record>, StoreError> {
        self.stall();
        self.inner.load(id)
    }
    fn save(&self, id: &SessionId, record: &Record) -> Result<(), StoreError> {
        self.stall();
        self.inner.save(id, record)
    }
    fn modify(
        &self,
        id: &SessionId,
        change: &mut dyn FnMut(&mut Record),
    ) -> Result<bool, StoreError> {
        self.stall();
        self.inner.modify(id, change)
    }
    fn purge_expired(&self, now_ms: u64) -> Result<usize, StoreError> {
        self.stall();
        self.inner.purge_expired(now_ms)
    }
    fn list(&self) -> Result<Vec<(StoreKey, Record)>, StoreError> {
        self.stall();
        self.inner.list()
    }
    fn remove(&self, key: &StoreKey) -> Result<bool, StoreError> {
        self.stall();
        self.inner.remove(key)
    }
    fn clear(&self) -> Result<Vec<StoreKey>, StoreError> {
        self.stall();
        self.inner.clear()
    }
}

type Ws = WebSocketStream<TcpStream>;

/// A logged-in session's `Cookie` header, made as `/api/login` makes it.
fn logged_in(sessions: &Sessions, name: &str) -> String {
    let mut session = sessions.load(None);
    session.insert("isLoggedIn".into(), json!(true));
    session.insert("username".into(), json!(name));
    let set_cookie = sessions.commit(&mut session).unwrap().unwrap();
    set_cookie.split(';').next().unwrap().to_owned()
}

async fn text(ws: &mut Ws) -> String {
    loop {
        match ws.next().await.unwrap().unwrap() {
            Message::Text(text) if text.as_str() == "2" => {
                ws.send(Message::text("3")).await.unwrap()
            }
            Message::Text(text) => return text.as_str().to_owned(),
            _ => {}
        }
    }
}

/// A Socket.IO client on `/`, connected (its `connected` event received).
async fn client(addr: SocketAddr, cookie: &str) -> Ws {
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut ws, _) = async_tungstenite::client_async(request, stream)
        .await
        .unwrap();
    assert!(text(&mut ws).await.starts_with("0{"));
    ws.send(Message::text("40")).await.unwrap();
    assert!(text(&mut ws).await.starts_with("40{"));
    assert!(text(&mut ws).await.starts_with("42[\"connected\""));
    ws
}

/// Reads until the ack `id` arrives; returns it and how long it took from `since`.
async fn ack(ws: &mut Ws, id: u64, since: Instant) -> (String, Duration) {
    let prefix = format!("43{id}[");
    loop {
        let text = text(ws).await;
        if text.starts_with(&prefix) {
            return (text, since.elapsed());
        }
    }
}

/// Reads until the next ack arrives; returns it and how long it took from `since`.
async fn next_ack(ws: &mut Ws, since: Instant) -> (String, Duration) {
    loop {
        let text = text(ws).await;
        if text.starts_with("43") {
            return (text, since.elapsed());
        }
    }
}

#[test]
fn a_slow_store_does_not_stall_other_clients() {
    const STALL: Duration = Duration::from_millis(600);
    const PROMPT: Duration = Duration::from_millis(300);
    let store = Arc::new(SlowStore::default());
    let secret = Secret::from_text("slow store test secret").unwrap();
    let sessions = Sessions::new(
        store.clone(),
        CookieKeys::new(&secret, &[]),
        SessionConfig::default(),
    );
    let (ann, bob) = (logged_in(&sessions, "ann"), logged_in(&sessions, "bob"));
    let io = Io::builder().namespace(events::namespace(sessions)).build();

    smol::block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _server = smol::spawn(serve(
            listener,
            Limits {
                max_connections: 16,
                ..Limits::default()
            },
            move |req| {
                let io = io.clone();
                async move { io.handle(req).await }
            },
        ));
        let mut ann_ws = client(addr, &ann).await;
        let mut bob_ws = client(addr, &bob).await;

        // From now on every store call takes STALL. Ann counts: that waits for
        // the store, and so does her echo right behind it (a socket's events
        // are answered in the order they came); Bob's echo must not.
        store
            .delay_ms
            .store(STALL.as_millis() as u64, Ordering::SeqCst);
        let start = Instant::now();
        ann_ws
            .send(Message::text("421[\"updateCount\"]"))
            .await
            .unwrap();
        smol::Timer::after(Duration::from_millis(50)).await;
        ann_ws
            .send(Message::text("422[\"echo\",\"a\"]"))
            .await
            .unwrap();
        bob_ws
            .send(Message::text("423[\"echo\",\"b\"]"))
            .await
            .unwrap();
        let (bob_echo, bob_took) = ack(&mut bob_ws, 3, start).await;
        assert_eq!(bob_echo, "433[\"b\"]");
        assert!(
            bob_took < PROMPT,
            "another client's echo took {bob_took:?} behind a {STALL:?} store call"
        );
        // The count is answered once the store has it, then Ann's echo.
        let (count, took) = next_ack(&mut ann_ws, start).await;
        assert_eq!(count, "431[{\"count\":1}]");
        assert!(took >= STALL, "the count was acked after {took:?}");
        let (ann_echo, _) = next_ack(&mut ann_ws, start).await;
        assert_eq!(ann_echo, "432[\"a\"]");
    });
}

/// Whether the server ends the socket (a DISCONNECT packet or the close)
/// within `within`, reading past anything else.
async fn ended(ws: &mut Ws, within: Duration) -> bool {
    let read = async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) if text.as_str() == "41" => return true,
                Some(Ok(Message::Text(text))) if text.as_str() == "2" => {
                    let _ = ws.send(Message::text("3")).await;
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return true,
                Some(Ok(_)) => {}
            }
        }
    };
    smol::future::or(read, async {
        smol::Timer::after(within).await;
        false
    })
    .await
}

/// The operator ends sessions by store key: their sockets go at once, whatever
/// the rooms are named by (a hash of the id, or with express-session's cookie
/// the id itself), and the other sessions' sockets stay.
fn operator_ends_sockets_by_store_key(keys: CookieKeys) {
    let sessions = Sessions::new(Arc::new(MemoryStore::new()), keys, SessionConfig::default());
    let (ann, bob) = (logged_in(&sessions, "ann"), logged_in(&sessions, "bob"));
    let ann_key = sessions.load(Some(&ann)).id().unwrap().store_key();
    let io = Io::builder().namespace(events::namespace(sessions)).build();
    let nsp = io.of("/").unwrap();
    smol::block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _server = smol::spawn(serve(listener, Limits::default(), move |req| {
            let io = io.clone();
            async move { io.handle(req).await }
        }));
        let mut ann_ws = client(addr, &ann).await;
        let mut bob_ws = client(addr, &bob).await;
        let gone = sessio::socket_session::disconnect_ended(&nsp, &[ann_key]).await;
        assert_eq!(gone, Ok(()));
        assert!(ended(&mut ann_ws, Duration::from_secs(2)).await);
        bob_ws
            .send(Message::text("421[\"echo\",\"b\"]"))
            .await
            .unwrap();
        let (echo, _) = ack(&mut bob_ws, 1, Instant::now()).await;
        assert_eq!(echo, "431[\"b\"]");
    });
}

#[test]
fn the_operator_ends_sockets_by_store_key() {
    let secret = Secret::from_text("operator test secret").unwrap();
    operator_ends_sockets_by_store_key(CookieKeys::new(&secret, &[]));
}

#[cfg(feature = "redis")]
#[test]
fn the_operator_ends_sockets_by_store_key_with_express_cookies() {
    let secret = Secret::from_text("operator test secret").unwrap();
    operator_ends_sockets_by_store_key(CookieKeys::express(&secret, &[]));
}
