//! The server the official Socket.IO protocol test suite
//! (<https://github.com/socketio/socket.io-protocol>, `test-suite/`) expects,
//! configured as the reference in its README: heartbeats of 300 ms + 200 ms,
//! a 1 MB payload limit, a 1 s connect timeout and CORS open to any origin.
//! On `/` and `/custom` a new socket gets its handshake's `auth` back as the
//! event "auth"; on `/`, `message` is echoed as `message-back` and
//! `message-with-ack` acknowledged with its own arguments.
//!
//! `cargo run --release --example socketio-suite [-- --listen ADDR]` (127.0.0.1:3000 by default);
//! `tests/protocol-suites/run` runs the suite against it.

// The binary's logger (one line per record on stderr), mounted from its file; the
// library itself only logs through the `log` facade.
#[allow(dead_code)]
#[path = "../src/bin/sessio/logger.rs"]
mod logger;

use std::time::Duration;

use http_types::{Method, Request, Response};
use sessio::engineio::EngineConfig;
use sessio::socketio::{Io, Namespace, Socket};

fn main() {
    logger::install(log::LevelFilter::Info);
    let listen = match std::env::args().skip(1).collect::<Vec<_>>().as_slice() {
        [] => "127.0.0.1:3000".to_owned(),
        [flag, addr] if flag == "--listen" => addr.clone(),
        _ => {
            eprintln!("usage: socketio-suite [--listen ADDR]");
            std::process::exit(2);
        }
    };
    let config = EngineConfig {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        max_payload: 1_000_000,
        ..EngineConfig::default()
    };
    let send_auth = |socket: &Socket| {
        socket.emit("auth", socket.handshake().auth().clone());
    };
    let root = Namespace::new("/")
        .on_connect(send_auth)
        .on("message", |socket, event| {
            socket.emit("message-back", event.payload);
        })
        .on("message-with-ack", |_, event| {
            let args = event.payload.clone();
            event.ack(args);
        });
    let io = Io::builder()
        .config(config)
        .connect_timeout(Duration::from_millis(1000))
        .namespace(root)
        .namespace(Namespace::new("/custom").on_connect(send_auth))
        .build();
    smol::block_on(async {
        let listener = match smol::net::TcpListener::bind(&listen).await {
            Ok(listener) => listener,
            Err(err) => {
                eprintln!("socketio-suite: cannot listen on {listen}: {err}");
                std::process::exit(2);
            }
        };
        println!("socketio-suite listening on {listen}");
        let heartbeat = smol::spawn({
            let io = io.clone();
            async move { io.run_heartbeat().await }
        });
        sessio::http::serve(listener, Default::default(), move |req| {
            let io = io.clone();
            async move { with_cors(&io, req).await }
        })
        .await;
        drop(heartbeat);
    })
}

/// Serves the Socket.IO endpoint with CORS open to any origin, as the
/// reference's `cors: { origin: "*" }` does: preflights are answered here.
async fn with_cors(io: &Io, req: Request) -> Response {
    if !io.matches(req.url().path()) {
        return Response::new(404);
    }
    let mut res = if req.method() == Method::Options {
        let mut res = Response::new(204);
        res.insert_header("Access-Control-Allow-Methods", "GET, POST");
        if let Some(headers) = req.header("Access-Control-Request-Headers") {
            res.insert_header("Access-Control-Allow-Headers", headers.as_str());
        }
        res
    } else {
        io.handle(req).await
    };
    res.insert_header("Access-Control-Allow-Origin", "*");
    res
}
