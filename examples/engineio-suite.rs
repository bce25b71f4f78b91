//! A plain Engine.IO echo at `/engine.io/`, configured as the official
//! Engine.IO protocol suite's README asks (github.com/socketio/engine.io-protocol,
//! `test-suite/`): ping interval 300 ms, ping timeout 200 ms, max payload 1e6,
//! CORS origin `*`. Every message a client sends comes back to it. Also an
//! example of the library's Engine.IO layer on its own, without Socket.IO.
//!
//! `cargo run --release --example engineio-suite [-- --listen ADDR]`
//! (127.0.0.1:3000 by default, where the suite looks). `tests/protocol-suites/run`
//! runs the suite against it.

use std::sync::Arc;
use std::time::Duration;

use http_types::{Method, Request, Response, StatusCode};
use sessio::engineio::{
    CloseReason, Connection, Engine, EngineConfig, EngineSocket, Frame, Handler, HandshakeRequest,
    Message,
};

fn main() {
    if let Err(err) = run() {
        eprintln!("engineio-suite: {err}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let mut listen = "127.0.0.1:3000".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next()) {
            ("--listen", Some(addr)) => listen = addr,
            _ => {
                return Err(format!(
                    "usage: engineio-suite [--listen ADDR] (got {flag})"
                ))
            }
        }
    }
    let config = EngineConfig {
        path: "/engine.io/".into(),
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        max_payload: 1_000_000,
        ..EngineConfig::default()
    };
    let engine = Engine::new(config, Arc::new(Echo));
    smol::block_on(async {
        let listener = smol::net::TcpListener::bind(&listen)
            .await
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        println!("engineio-suite listening on {listen}");
        let heartbeat = smol::spawn({
            let engine = engine.clone();
            async move { engine.run_heartbeat().await }
        });
        sessio::http::serve(listener, Default::default(), move |req| {
            let engine = engine.clone();
            async move { with_cors(answer(&engine, req).await) }
        })
        .await;
        drop(heartbeat);
        Ok(())
    })
}

async fn answer(engine: &Engine, mut req: Request) -> Response {
    if !engine.matches(req.url().path()) {
        return Response::new(StatusCode::NotFound);
    }
    if req.method() == Method::Options {
        let mut res = Response::new(StatusCode::NoContent);
        res.insert_header("access-control-allow-methods", "GET, POST");
        res.insert_header("access-control-allow-headers", "content-type");
        return res;
    }
    engine.handle(&mut req).await
}

/// CORS with origin `*`, as the suite's reference configuration has it.
fn with_cors(mut res: Response) -> Response {
    res.insert_header("access-control-allow-origin", "*");
    res
}

/// Opens an [`Echoed`] connection for every session.
struct Echo;

impl Handler for Echo {
    fn open(&self, socket: Arc<EngineSocket>, _: HandshakeRequest) -> Arc<dyn Connection> {
        Arc::new(Echoed(socket))
    }
}

/// Sends every message back to the session it came from.
struct Echoed(Arc<EngineSocket>);

impl Connection for Echoed {
    fn on_message(&self, message: Message) {
        let frame = match message {
            Message::Text(text) => Frame::message(&text),
            Message::Binary(data) => Frame::binary(data),
        };
        self.0.send(frame);
    }

    fn on_close(&self, _: CloseReason) {}
}
