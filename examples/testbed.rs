//! A Socket.IO server with no sessions, for the transport's end-to-end tests
//! and as an example of the library: rooms, broadcasts, acknowledgements in
//! both directions, server-side disconnects and a guarded namespace; and, for
//! the tests of caps and panic containment, an event whose handler panics and
//! one whose acknowledgement is held back.
//!
//! `testbed --listen 127.0.0.1:PORT [--ping-interval MS] [--ping-timeout MS] [--max-payload BYTES]
//! [--connect-timeout MS] [--max-connections N] [--max-queued-bytes BYTES] [--max-pending-sessions N]
//! [--max-pending-acks N] [--max-attachments N] [--max-rooms N] [--max-json-depth N]
//! [--recovery-window SECONDS] [--recovery-buffer BYTES] [--recovery-max-disconnected N]
//! [--allow-eio3 true|false] [--redis URL] [--redis-adapter classic|streams]`
//!
//! With the `redis` feature, `--redis URL` makes it a member of the cluster on
//! that Redis (as `@socket.io/redis-adapter` 8.x, or with `--redis-adapter
//! streams` as `@socket.io/redis-streams-adapter`, which then keeps the
//! recovery window's sessions for every node); `fetchSockets` answers with
//! the cluster's sockets, `serverSideEmit` with the other servers' answers to
//! `ping`, which it answers with `"testbed"`. `relay` sends its arguments (binary
//! included) to every other socket as `relayed`.
//!
//! Connection state recovery is off unless `--recovery-window` is given.

// The binary's logger (one line per record on stderr), mounted from its file; the
// library itself only logs through the `log` facade.
#[allow(dead_code)]
#[path = "../src/bin/sessio/logger.rs"]
mod logger;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use sessio::engineio::EngineConfig;
use sessio::socketio::{
    Ack, ConnectError, Event, Io, Limits, Namespace, Payload, RecoveryConfig, Socket,
};

fn main() {
    // The library logs through the `log` facade; the tests read these lines.
    logger::install(log::LevelFilter::Info);
    if let Err(err) = run() {
        eprintln!("testbed: {err}");
        std::process::exit(2);
    }
}

/// The Redis link, in the wire `--redis-adapter` names.
#[cfg(feature = "redis")]
enum Cluster {
    Classic(sessio::socketio::RedisCluster),
    Streams(sessio::socketio::StreamsCluster),
}

fn run() -> Result<(), String> {
    let mut listen = "127.0.0.1:3000".to_owned();
    let mut config = EngineConfig::default();
    let mut limits = Limits::default();
    let mut connect_timeout = Duration::from_secs(45);
    let mut recovery = RecoveryConfig {
        window: Duration::ZERO,
        ..RecoveryConfig::default()
    };
    let mut redis: Option<String> = None;
    let mut streams = false;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{flag}: not a number: {value}"))
        };
        match flag.as_str() {
            "--listen" => listen = value.clone(),
            "--ping-interval" => config.ping_interval = Duration::from_millis(number()?),
            "--ping-timeout" => config.ping_timeout = Duration::from_millis(number()?),
            "--max-payload" => config.max_payload = number()? as usize,
            "--connect-timeout" => connect_timeout = Duration::from_millis(number()?),
            "--max-connections" => config.max_sessions = number()? as usize,
            "--max-queued-bytes" => config.max_queued_bytes = number()? as usize,
            "--max-pending-sessions" => config.max_pending_sessions = number()? as usize,
            "--max-pending-acks" => limits.max_pending_acks = number()? as usize,
            "--max-attachments" => limits.max_attachments = number()? as usize,
            "--max-rooms" => limits.max_rooms = number()? as usize,
            "--max-json-depth" => limits.max_json_depth = number()? as usize,
            "--recovery-window" => recovery.window = Duration::from_secs(number()?),
            "--recovery-buffer" => recovery.max_buffered_bytes = number()? as usize,
            "--recovery-max-disconnected" => recovery.max_disconnected = number()? as usize,
            "--allow-eio3" => config.allow_eio3 = value == "true",
            "--redis" => redis = Some(value.clone()),
            "--redis-adapter" => streams = value == "streams",
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    let builder = Io::builder();
    #[cfg(feature = "redis")]
    let cluster = match &redis {
        Some(url) if streams => Some(Cluster::Streams(
            sessio::socketio::StreamsCluster::new(url, "socket.io", recovery.window)
                .map_err(|e| e.to_string())?,
        )),
        Some(url) => Some(Cluster::Classic(
            sessio::socketio::RedisCluster::new(url, "socket.io").map_err(|e| e.to_string())?,
        )),
        None => None,
    };
    #[cfg(feature = "redis")]
    let (builder, recovery) = match &cluster {
        Some(Cluster::Classic(cluster)) => {
            let cluster = cluster.clone();
            (builder.cluster(move |nsp| cluster.attach(nsp)), recovery)
        }
        // The cluster keeps recovery.
        Some(Cluster::Streams(cluster)) => {
            let cluster = cluster.clone();
            let recovery = RecoveryConfig {
                window: Duration::ZERO,
                ..recovery
            };
            (builder.cluster(move |nsp| cluster.attach(nsp)), recovery)
        }
        None => (builder, recovery),
    };
    #[cfg(not(feature = "redis"))]
    if redis.is_some() || streams {
        return Err("--redis needs the testbed built with the redis feature".into());
    }
    let io = builder
        .config(config)
        .limits(limits)
        .connect_timeout(connect_timeout)
        .recovery(recovery)
        .namespace(root())
        .namespace(private())
        .namespace(fragile())
        .build();
    // Once every namespace is attached.
    #[cfg(feature = "redis")]
    match cluster {
        Some(Cluster::Classic(cluster)) => smol::spawn(async move { cluster.run().await }).detach(),
        Some(Cluster::Streams(cluster)) => smol::spawn(async move { cluster.run().await }).detach(),
        None => {}
    }
    smol::block_on(async {
        let listener = smol::net::TcpListener::bind(&listen)
            .await
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        println!("testbed listening on {listen}");
        let heartbeat = smol::spawn({
            let io = io.clone();
            async move { io.run_heartbeat().await }
        });
        sessio::http::serve(listener, Default::default(), move |req| {
            let io = io.clone();
            async move {
                if io.matches(req.url().path()) {
                    io.handle(req).await
                } else {
                    http_types::Response::new(404)
                }
            }
        })
        .await;
        drop(heartbeat);
        Ok(())
    })
}

/// The argument's field as text.
fn text(event: &Event, field: &str) -> String {
    let value = event.arg(0).and_then(|a| a.get(field));
    value.and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn data(event: &Event) -> Value {
    event
        .arg(0)
        .and_then(|a| a.get("data"))
        .cloned()
        .unwrap_or(Value::Null)
}

fn rooms(socket: &Socket) -> Value {
    let mut rooms = socket.rooms();
    rooms.sort();
    json!({ "rooms": rooms })
}

fn ok() -> Payload {
    json!({"ok": true}).into()
}

fn root() -> Namespace {
    Namespace::new("/")
        .on_connect(|socket| {
            socket.emit("hello", json!({"id": socket.id()}));
        })
        .on("echo", |_, event| {
            let payload = event.payload.clone();
            event.ack(payload);
        })
        .on("fetchSockets", |socket, event| {
            let room = event.arg(0).and_then(Value::as_str).map(str::to_owned);
            let nsp = socket.nsp();
            smol::spawn(async move {
                let selected = match &room {
                    Some(room) => nsp.to(room),
                    None => nsp.all(),
                };
                let answer = match selected.fetch_sockets().await {
                    Ok(sockets) => {
                        json!(sockets.iter().map(|s| s.to_json()).collect::<Vec<_>>())
                    }
                    Err(err) => json!({"error": err.to_string()}),
                };
                event.ack(answer);
            })
            .detach();
        })
        .on("relay", |socket, event| {
            socket.broadcast().emit("relayed", event.payload.clone());
            event.ack(ok());
        })
        .on("serverSideEmit", |socket, event| {
            let args = event.payload.args().to_vec();
            let answers =
                socket
                    .nsp()
                    .server_side_emit_with_ack("ping", args, Duration::from_secs(3));
            smol::spawn(async move {
                event.ack(match answers.await {
                    Ok(answers) => json!(answers),
                    Err(err) => json!({"error": err.to_string()}),
                })
            })
            .detach();
        })
        .on_server_event("ping", |_, _| json!("testbed"))
        .on("join", |socket, event| {
            socket.join(event.arg(0).and_then(Value::as_str).unwrap_or_default());
            event.ack(rooms(socket));
        })
        .on("leave", |socket, event| {
            socket.leave(event.arg(0).and_then(Value::as_str).unwrap_or_default());
            event.ack(rooms(socket));
        })
        .on("toRoom", |socket, event| {
            socket
                .nsp()
                .to(&text(&event, "room"))
                .emit(&text(&event, "event"), data(&event));
            event.ack(ok());
        })
        .on("toRoomFromMe", |socket, event| {
            socket
                .to(&text(&event, "room"))
                .emit(&text(&event, "event"), data(&event));
            event.ack(ok());
        })
        .on("broadcast", |socket, event| {
            socket.nsp().emit(&text(&event, "event"), data(&event));
            event.ack(ok());
        })
        .on("broadcastExcept", |socket, event| {
            socket
                .nsp()
                .except(&text(&event, "room"))
                .emit(&text(&event, "event"), data(&event));
            event.ack(ok());
        })
        .on("ask", |socket, mut event| {
            let timeout = event
                .arg(0)
                .and_then(|a| a.get("timeoutMs"))
                .and_then(Value::as_u64);
            let question = socket.emit_with_ack(
                "question",
                data(&event),
                Duration::from_millis(timeout.unwrap_or(1000)),
            );
            let ack = event.take_ack();
            smol::spawn(async move {
                let reply = match question.await {
                    Ok(answer) => json!({"answer": answer.arg(0)}),
                    Err(_) => json!({"error": "timeout"}),
                };
                if let Some(ack) = ack {
                    ack.send(reply.into());
                }
            })
            .detach();
        })
        // `ask` as an async handler: the socket's later events wait until
        // the client has answered (or the question timed out).
        .on_async("askInOrder", |socket, event| async move {
            let timeout = event
                .arg(0)
                .and_then(|a| a.get("timeoutMs"))
                .and_then(Value::as_u64);
            let timeout = Duration::from_millis(timeout.unwrap_or(1000));
            let reply = match socket
                .emit_with_ack("question", data(&event), timeout)
                .await
            {
                Ok(answer) => json!({"answer": answer.arg(0)}),
                Err(_) => json!({"error": "timeout"}),
            };
            event.ack(reply);
        })
        .on("disconnectMe", |socket, _| socket.disconnect(true))
        .on("disconnectRoom", |socket, event| {
            let room = text(&event, "room");
            event.ack(ok());
            socket.nsp().to(&room).disconnect_sockets(true);
        })
        .on("count", |socket, event| {
            event.ack(json!({"sockets": socket.nsp().socket_count()}));
        })
        .on("panic", |_, _| panic!("the testbed's panic event"))
        .on("hold", |socket, mut event| {
            // Keeps the acknowledgement unanswered while the socket lives.
            let held = socket.get::<Held>().unwrap_or_default();
            if let Some(ack) = event.take_ack() {
                held.0.lock().unwrap_or_else(|e| e.into_inner()).push(ack);
            }
            socket.insert(held);
        })
}

/// Acknowledgements the `hold` event keeps back.
#[derive(Clone, Default)]
struct Held(Arc<Mutex<Vec<Ack>>>);

fn private() -> Namespace {
    Namespace::new("/private")
        .middleware(|handshake, _| match handshake.auth().get("token") {
            Some(token) if token == "letmein" => Ok(()),
            _ => Err(ConnectError::new("bad token")),
        })
        .on_connect(|socket| {
            let auth = socket.handshake().auth().clone();
            socket.emit("hello", json!({"ns": "/private", "auth": auth}));
        })
}

/// A namespace whose handlers panic where the client's auth says: in the
/// middleware, on connect or on disconnect.
fn fragile() -> Namespace {
    let wants = |handshake: &sessio::socketio::Handshake, what: &str| {
        handshake.auth().get("panic").and_then(Value::as_str) == Some(what)
    };
    Namespace::new("/fragile")
        .middleware(move |handshake, _| {
            if wants(handshake, "middleware") {
                panic!("the testbed's panicking middleware");
            }
            Ok(())
        })
        .on_connect(move |socket| {
            if wants(socket.handshake(), "connect") {
                panic!("the testbed's panicking on_connect");
            }
        })
        .on_disconnect(move |socket, _| {
            if wants(socket.handshake(), "disconnect") {
                panic!("the testbed's panicking on_disconnect");
            }
        })
        .on("echo", |_, event| {
            let payload = event.payload.clone();
            event.ack(payload);
        })
}
