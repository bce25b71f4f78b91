//! The server the official socket.io-client test suite expects
//! (`packages/socket.io-client/test/` of github.com/socketio/socket.io, whose
//! `test/support/server.ts` is its Node original): ping interval 2 s,
//! connection state recovery on, each handshake admitted after 10 ms (so a
//! client's `timeout: 0` fires first), the namespaces `/foo`,
//! `/timeout_socket`, `/valid`, `/asd`, `/abc` (sends the handshake) and `/no`
//! (refused), `?fail` refused on `/`, and the events of server.ts on `/`.
//!
//! `cargo run --example socketio-client-suite [-- --listen ADDR]`
//! (127.0.0.1:3210 by default, where the suite looks); `tests/client-suites/run`
//! runs the suite against it.

use std::time::Duration;

use http_types::Request;
use serde_json::{json, Map, Value};
use sessio::engineio::EngineConfig;
use sessio::socketio::{ConnectError, Event, Io, Namespace, Payload, RecoveryConfig, Socket};

/// Marks a socket that got `abuff1` (then `blob1`, `blob2`) before what follows.
#[derive(Clone)]
struct Got(&'static str);

fn main() {
    let listen = match std::env::args().skip(1).collect::<Vec<_>>().as_slice() {
        [] => "127.0.0.1:3210".to_owned(),
        [flag, addr] if flag == "--listen" => addr.clone(),
        _ => {
            eprintln!("usage: socketio-client-suite [--listen ADDR]");
            std::process::exit(2);
        }
    };
    let config = EngineConfig {
        ping_interval: Duration::from_millis(2000),
        ..EngineConfig::default()
    };
    let get_id = |socket: &Socket, event: Event| event.ack(json!(socket.id()));
    let io = Io::builder()
        .config(config)
        .recovery(RecoveryConfig::default())
        .namespace(events(Namespace::new("/")).middleware(|handshake, _| {
            match handshake.query("fail") {
                Some(_) => Err(ConnectError::new("Auth failed (main namespace)")),
                None => Ok(()),
            }
        }))
        .namespace(Namespace::new("/foo").on("getId", get_id))
        .namespace(Namespace::new("/timeout_socket"))
        .namespace(Namespace::new("/valid"))
        .namespace(Namespace::new("/asd"))
        .namespace(Namespace::new("/abc").on_connect(|socket| {
            socket.emit("handshake", handshake(socket));
        }))
        .namespace(
            Namespace::new("/no")
                .middleware(|_, _| Err(ConnectError::new("Auth failed (custom namespace)"))),
        )
        .build();
    smol::block_on(async {
        let listener = match smol::net::TcpListener::bind(&listen).await {
            Ok(listener) => listener,
            Err(err) => {
                eprintln!("socketio-client-suite: cannot listen on {listen}: {err}");
                std::process::exit(2);
            }
        };
        println!("socketio-client-suite listening on {listen}");
        let heartbeat = smol::spawn({
            let io = io.clone();
            async move { io.run_heartbeat().await }
        });
        sessio::http::serve(listener, Default::default(), move |req| {
            let io = io.clone();
            async move { answer(&io, req).await }
        })
        .await;
        drop(heartbeat);
    })
}

/// Serves Socket.IO, admitting each handshake after 10 ms as server.ts's
/// `allowRequest` does.
async fn answer(io: &Io, req: Request) -> http_types::Response {
    if !io.matches(req.url().path()) {
        return http_types::Response::new(404);
    }
    if req.url().query_pairs().all(|(k, _)| k != "sid") {
        smol::Timer::after(Duration::from_millis(10)).await;
    }
    io.handle(req).await
}

/// The events server.ts handles on `/`.
fn events(namespace: Namespace) -> Namespace {
    let is_binary = |event: &Event, value: Option<&Value>| {
        value.and_then(|v| event.payload.binary(v)).is_some()
    };
    // `{hello: "lol", message: <binary>, goodbye: "gotcha"}`
    let mixed = move |event: &Event| {
        let arg = event.arg(0);
        arg.and_then(|a| a.get("hello")) == Some(&json!("lol"))
            && is_binary(event, arg.and_then(|a| a.get("message")))
            && arg.and_then(|a| a.get("goodbye")) == Some(&json!("gotcha"))
    };
    let doge = || {
        let mut payload = Payload::new();
        let data = payload.push_binary(b"asdfasdf".to_vec());
        payload.with(data)
    };
    namespace
        .on("hi", |socket, _| {
            socket.emit("hi", Payload::new());
        })
        .on("echo", |_, event| {
            let payload = event.payload.clone();
            event.ack(payload);
        })
        .on("ack", |socket, _| {
            let answer = socket.emit_with_ack("ack", Payload::new(), Duration::from_secs(10));
            let socket = socket.clone();
            smol::spawn(async move {
                let Ok(answer) = answer.await else { return };
                let test = answer.arg(1).and_then(|b| b.get("test"));
                if answer.arg(0) == Some(&json!(5)) && test.is_some_and(truthy) {
                    socket.emit("got it", Payload::new());
                }
            })
            .detach();
        })
        .on("getAckDate", |_, event| {
            event.ack(json!(sessio::clock::now_iso()))
        })
        .on("getDate", |socket, _| {
            socket.emit("takeDate", json!(sessio::clock::now_iso()));
        })
        .on("getDateObj", |socket, _| {
            socket.emit("takeDateObj", json!({"date": sessio::clock::now_iso()}));
        })
        .on("getUtf8", |socket, _| {
            for text in [
                "てすと",
                "Я Б Г Д Ж Й",
                "Ä ä Ü ü ß",
                "utf8 — string",
                "utf8 — string",
            ] {
                socket.emit("takeUtf8", json!(text));
            }
        })
        .on("false", |socket, _| {
            socket.emit("false", json!(false));
        })
        .on("doge", move |socket, _| {
            socket.emit("doge", doge());
        })
        .on("buffa", move |socket, event| {
            if is_binary(&event, event.arg(0)) {
                socket.emit("buffack", Payload::new());
            }
        })
        .on("jsonbuff", move |socket, event| {
            if mixed(&event) {
                socket.emit("jsonbuff-ack", Payload::new());
            }
        })
        .on("abuff1", move |socket, event| {
            if is_binary(&event, event.arg(0)) {
                socket.insert(Got("abuff1"));
            }
        })
        .on("abuff2", |socket, _| {
            if socket.get::<Got>().is_some_and(|got| got.0 == "abuff1") {
                socket.emit("abuff2-ack", Payload::new());
            }
        })
        .on("blob", move |socket, event| {
            if is_binary(&event, event.arg(0)) {
                socket.emit("back", Payload::new());
            }
        })
        .on("jsonblob", move |socket, event| {
            if mixed(&event) {
                socket.emit("jsonblob-ack", Payload::new());
            }
        })
        .on("blob1", move |socket, event| {
            if is_binary(&event, event.arg(0)) {
                socket.insert(Got("blob1"));
            }
        })
        .on("blob2", |socket, event| {
            let after_blob1 = socket.get::<Got>().is_some_and(|got| got.0 == "blob1");
            if after_blob1 && event.arg(0) == Some(&json!("second")) {
                socket.insert(Got("blob2"));
            }
        })
        .on("blob3", move |socket, event| {
            let after_blob2 = socket.get::<Got>().is_some_and(|got| got.0 == "blob2");
            if after_blob2 && is_binary(&event, event.arg(0)) {
                socket.emit("blob3-ack", Payload::new());
            }
        })
        .on("getbin", move |socket, _| {
            socket.emit("takebin", doge());
        })
        .on("getHandshake", |socket, event| event.ack(handshake(socket)))
        .on("getId", |socket, event| event.ack(json!(socket.id())))
}

/// JavaScript's truthiness of a JSON value.
fn truthy(value: &Value) -> bool {
    !matches!(value, Value::Null | Value::Bool(false))
        && value.as_f64() != Some(0.0)
        && value.as_str() != Some("")
}

/// The parts of Node's `socket.handshake` a client can check.
fn handshake(socket: &Socket) -> Value {
    let handshake = socket.handshake();
    let pairs = |pairs: &mut dyn Iterator<Item = (&str, &str)>| {
        Value::Object(
            pairs
                .map(|(k, v)| (k.to_owned(), json!(v)))
                .collect::<Map<_, _>>(),
        )
    };
    json!({
        "headers": pairs(&mut handshake.headers()),
        "address": handshake.address(),
        "query": pairs(&mut handshake.query_pairs()),
        "auth": handshake.auth(),
    })
}
