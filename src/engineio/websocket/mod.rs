//! The WebSocket transport: the HTTP upgrade, the probe that moves a polling
//! session over, and the goodbye; the connection's task (`task.rs`) reads
//! client frames and writes what the socket could not take at once.

mod stream;
mod task;
pub(crate) mod writer;

use std::sync::Arc;
use std::time::Duration;

use async_tungstenite::tungstenite::handshake::derive_accept_key;
use async_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use async_tungstenite::tungstenite::{Message as WsMessage, Utf8Bytes};
use async_tungstenite::WebSocketStream;
use http_types::{headers, Request, Response, StatusCode};
use smol::future::FutureExt;
use smol::stream::StreamExt;

use super::engine::{EngineError, EngineShared, Session};
use super::machine::Event;
use super::packet::{self, Packet};
use super::payload_v3;
use super::request::HandshakeRequest;
use super::socket::Transport;
use super::Protocol;
use crate::http::{Upgrade, Upgraded};
use stream::WsStream;
use task::ConnectionTask;
use writer::WsWriter;

type Ws = WebSocketStream<WsStream>;

/// How long a client may take to finish an upgrade it started.
const UPGRADE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a closing connection may take to take its last frames.
const GOODBYE_TIMEOUT: Duration = Duration::from_secs(2);

/// Answers a WebSocket request with 101 and runs the transport once the
/// connection is handed over. `sid` names the polling session to upgrade.
pub(crate) async fn accept(
    shared: Arc<EngineShared>,
    req: &mut Request,
    sid: Option<String>,
) -> Result<Response, EngineError> {
    // Names http-types has a constant for are looked up without a copy.
    let is_upgrade = req
        .header(headers::UPGRADE)
        .is_some_and(|v| v.as_str().eq_ignore_ascii_case("websocket"));
    let accept = req
        .header("sec-websocket-key")
        .map(|v| derive_accept_key(v.as_str().as_bytes()));
    let (true, Some(accept)) = (is_upgrade, accept) else {
        return Err(EngineError::BadRequest);
    };
    if req.header("sec-websocket-version").map(|v| v.as_str()) != Some("13") {
        return Err(EngineError::BadRequest);
    }
    let upgrade = req
        .ext_mut()
        .remove::<Upgrade>()
        .ok_or(EngineError::BadRequest)?;
    // Upgrading needs a polling session that is not upgrading already. A
    // second WebSocket for a session is accepted, then closed, as the
    // reference server does.
    let takeover = match &sid {
        Some(sid) => {
            let session = shared.get(sid).ok_or(EngineError::UnknownSid)?;
            if session.socket.apply(Event::ProbeStarted).refuse {
                Takeover::Refused
            } else {
                Takeover::Upgrade(session)
            }
        }
        // Keep what the layer above needs, not the request (its body
        // channel and all) for the life of the connection.
        None => Takeover::Open(HandshakeRequest::from_request(req)),
    };
    let mut res = Response::new(StatusCode::SwitchingProtocols);
    res.insert_header(headers::UPGRADE, "websocket");
    res.insert_header(headers::CONNECTION, "Upgrade");
    res.insert_header("sec-websocket-accept", accept);
    // The task lives as long as the connection: what only the start needs
    // stays in its own (boxed) future and is gone once the session runs.
    let start = Box::pin(start(shared.clone(), upgrade, takeover));
    smol::spawn(ConnectionTask::new(shared, start)).detach();
    Ok(res)
}

/// What a WebSocket comes for.
enum Takeover {
    /// A new session, opened with this request.
    Open(HandshakeRequest),
    /// The upgrade of this polling session.
    Upgrade(Session),
    /// A session that already has (or is getting) its WebSocket.
    Refused,
}

/// Takes the connection over once the 101 is out: the probe for an upgrade,
/// a new session otherwise. `None` when the client went away or failed, or
/// the WebSocket was refused.
async fn start(
    shared: Arc<EngineShared>,
    upgrade: Upgrade,
    takeover: Takeover,
) -> Option<(Session, Arc<WsWriter>, Ws)> {
    // Once the 101 is out, the socket is read and written directly.
    let Some(Upgraded { socket, unread }) = upgrade.finish().await else {
        if let Takeover::Upgrade(session) = &takeover {
            let _ = session.socket.apply(Event::ProbeFailed);
        }
        return None;
    };
    let protocol = match &takeover {
        Takeover::Open(request) => request.protocol(),
        Takeover::Upgrade(session) => session.socket.protocol(),
        Takeover::Refused => Protocol::V4,
    };
    // Engine.IO 3 puts the packet type before a binary message's data.
    let binary_prefix = (protocol == Protocol::V3).then_some(payload_v3::BINARY_MESSAGE_TYPE);
    let writer = Arc::new(WsWriter::new(
        socket.clone(),
        shared.config.max_queued_bytes,
        binary_prefix,
        shared.metrics.clone(),
    ));
    let stream = WsStream::new(socket, writer.clone(), unread);
    let config = ws_config(&shared);
    let mut ws = WebSocketStream::from_raw_socket(stream, Role::Server, Some(config)).await;
    let session = match takeover {
        Takeover::Upgrade(session) => match probe(&session, &mut ws).await {
            Ok(()) => {
                session.socket.attach_websocket(writer.clone());
                session.conn.on_upgrade();
                session
            }
            Err(()) => {
                let _ = session.socket.apply(Event::ProbeFailed);
                goodbye(ws, &writer, None).await;
                return None;
            }
        },
        Takeover::Refused => {
            goodbye(ws, &writer, None).await;
            return None;
        }
        Takeover::Open(request) => {
            match shared.open(Transport::WebSocket, request) {
                Ok(session) => {
                    // The open packet is queued already: it goes first.
                    session.socket.attach_websocket(writer.clone());
                    session
                }
                Err(err) => {
                    if let Some(why) = err.refusal() {
                        shared.metrics.refused(why);
                    }
                    goodbye(ws, &writer, None).await;
                    return None;
                }
            }
        }
    };
    Some((session, writer, ws))
}

fn ws_config(shared: &EngineShared) -> WebSocketConfig {
    let max = shared.config.max_payload;
    let mut config = WebSocketConfig::default();
    // Every connection holds this much from its start, idle or not: sized
    // for the small frames Engine.IO mostly carries (a ping is 7 bytes, an
    // event with its ack id a few dozen); tungstenite grows it to the whole
    // frame once it has read a larger frame's header. It is also the most
    // one read takes, so a frame near --max-payload takes max_payload / 256
    // reads (1 MB: ~4,000 reads of the socket, a few ms of CPU).
    config.read_buffer_size = 256;
    // tungstenite writes only control frames; they go straight to the writer.
    config.write_buffer_size = 0;
    config.max_message_size = Some(max);
    config.max_frame_size = Some(max);
    config
}

/// The upgrade handshake: `2probe` / `3probe`, a noop to release the pending
/// poll, then `5` switches the session over.
async fn probe(session: &Session, ws: &mut Ws) -> Result<(), ()> {
    let exchange = async {
        loop {
            let text = match ws.next().await {
                Some(Ok(WsMessage::Text(text))) => text,
                Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
                _ => return Err(()),
            };
            match packet::decode_text(&text) {
                Ok(Packet::Ping(data)) if data == "probe" => {
                    ws.send(WsMessage::Text(Utf8Bytes::from_static("3probe")))
                        .await
                        .map_err(|_| ())?;
                    let _ = session.socket.apply(Event::Probed);
                }
                Ok(Packet::Upgrade) => return Ok(()),
                Ok(Packet::Noop) => {}
                _ => return Err(()),
            }
        }
    };
    let timeout = async {
        smol::Timer::after(UPGRADE_TIMEOUT).await;
        Err(())
    };
    exchange.or(timeout).await
}

/// Writes what is left and a close frame (with `frame`'s code, if any). A
/// client that does not take them within a short while, or whose writer failed
/// (over its cap, say), gets a reset, which also frees what the kernel holds
/// for it.
async fn goodbye(mut ws: Ws, writer: &WsWriter, frame: Option<CloseFrame>) {
    if writer.failed() {
        writer.reset();
        return;
    }
    let close = async {
        let _ = ws.close(frame).await;
        false
    };
    let timeout = async {
        smol::Timer::after(GOODBYE_TIMEOUT).await;
        true
    };
    if close.or(timeout).await {
        writer.reset();
    }
}
