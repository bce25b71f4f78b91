//! The server the official engine.io-client test suite expects
//! (`packages/engine.io-client/test/` of github.com/socketio/socket.io, whose
//! `test/support/hooks.js` starts it in Node): Engine.IO at `/engine.io/`,
//! ping interval 500 ms, a 100-byte payload limit, a request with `?deny`
//! refused, four cookies set on the handshake response. Each session is sent
//! "hi"; every message comes back, except "give binary" (answered with bytes
//! 0..4), "give utf8" (a Cyrillic string) and "sendHeaders" (the headers of
//! the polling request that carried it, as JSON).
//!
//! `cargo run --example engineio-client-suite [-- --listen ADDR]`
//! (127.0.0.1:3000 by default, where the suite looks); `tests/client-suites/run`
//! runs the suite against it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_types::{Method, Request, Response};
use serde_json::{Map, Value};
use sessio::engineio::{
    CloseReason, Connection, Engine, EngineConfig, EngineSocket, Frame, Handler, HandshakeRequest,
    Message,
};

/// The cookies of the handshake response, as hooks.js sets them: the client
/// keeps "1" and "2", while "3" and "4" have expired already.
const COOKIES: [&str; 4] = [
    "1=1; Max-Age=86400",
    "2=2; Path=/; HttpOnly; Secure; SameSite=Strict",
    "3=3; Max-Age=0",
    "4=4; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
];

/// The headers of each session's last polling POST, by session id.
type PostHeaders = Arc<Mutex<HashMap<String, Value>>>;

fn main() {
    let listen = match std::env::args().skip(1).collect::<Vec<_>>().as_slice() {
        [] => "127.0.0.1:3000".to_owned(),
        [flag, addr] if flag == "--listen" => addr.clone(),
        _ => {
            eprintln!("usage: engineio-client-suite [--listen ADDR]");
            std::process::exit(2);
        }
    };
    let config = EngineConfig {
        path: "/engine.io/".into(),
        ping_interval: Duration::from_millis(500),
        max_payload: 100,
        ..EngineConfig::default()
    };
    let headers = PostHeaders::default();
    let engine = Engine::new(config, Arc::new(Bounce(headers.clone())));
    smol::block_on(async {
        let listener = match smol::net::TcpListener::bind(&listen).await {
            Ok(listener) => listener,
            Err(err) => {
                eprintln!("engineio-client-suite: cannot listen on {listen}: {err}");
                std::process::exit(2);
            }
        };
        println!("engineio-client-suite listening on {listen}");
        let heartbeat = smol::spawn({
            let engine = engine.clone();
            async move { engine.run_heartbeat().await }
        });
        sessio::http::serve(listener, Default::default(), move |req| {
            let (engine, headers) = (engine.clone(), headers.clone());
            async move { answer(&engine, &headers, req).await }
        })
        .await;
        drop(heartbeat);
    })
}

async fn answer(engine: &Engine, headers: &PostHeaders, mut req: Request) -> Response {
    if !engine.matches(req.url().path()) {
        return Response::new(404);
    }
    let sid = req
        .url()
        .query_pairs()
        .find(|(k, _)| k == "sid")
        .map(|(_, v)| v.into_owned());
    match &sid {
        Some(sid) if req.method() == Method::Post => {
            let all: Map<String, Value> = req
                .iter()
                .map(|(name, values)| (name.as_str().to_lowercase(), values.as_str().into()))
                .collect();
            lock(headers).insert(sid.clone(), Value::Object(all));
        }
        _ => {}
    }
    let mut res = engine.handle(&mut req).await;
    if sid.is_none() {
        for cookie in COOKIES {
            res.append_header("set-cookie", cookie);
        }
    }
    res
}

fn lock(headers: &PostHeaders) -> std::sync::MutexGuard<'_, HashMap<String, Value>> {
    headers
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Opens a [`Bounced`] connection for every session not refused.
struct Bounce(PostHeaders);

impl Handler for Bounce {
    fn allow_request(&self, req: &Request) -> Result<(), String> {
        match req.url().query_pairs().any(|(k, _)| k == "deny") {
            true => Err("?deny".into()),
            false => Ok(()),
        }
    }

    fn open(&self, socket: Arc<EngineSocket>, _: HandshakeRequest) -> Arc<dyn Connection> {
        socket.send(Frame::message("hi"));
        Arc::new(Bounced(socket, self.0.clone()))
    }
}

/// Answers a session's messages as hooks.js does.
struct Bounced(Arc<EngineSocket>, PostHeaders);

impl Connection for Bounced {
    fn on_message(&self, message: Message) {
        let frame = match message {
            Message::Text(text) if text == "give binary" => {
                Frame::binary(vec![0u8, 1, 2, 3, 4].into())
            }
            Message::Text(text) if text == "give utf8" => {
                Frame::message("пойду спать всем спокойной ночи")
            }
            Message::Text(text) if text == "sendHeaders" => {
                let headers = lock(&self.1).get(self.0.sid()).cloned();
                Frame::message(&headers.unwrap_or(Value::Null).to_string())
            }
            Message::Text(text) => Frame::message(&text),
            Message::Binary(data) => Frame::binary(data),
        };
        self.0.send(frame);
    }

    fn on_close(&self, _: CloseReason) {
        lock(&self.1).remove(self.0.sid());
    }
}
