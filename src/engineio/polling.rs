//! The HTTP long-polling transport: a GET waits for queued packets, a POST
//! carries the client's packets.

use std::future::poll_fn;
use std::sync::Arc;

use http_types::{headers, Request, Response, StatusCode};
use smol::io::AsyncReadExt;

use super::engine::{EngineError, EngineShared, Session};
use super::machine::Event;
use super::packet::{self, Frame};
use super::payload_v3;
use super::socket::{CloseReason, EngineSocket, Transport};
use super::waiters::Waiter;
use super::Protocol;
use crate::metrics::Metrics;

fn text_response(body: String) -> Response {
    let mut res = Response::new(StatusCode::Ok);
    res.insert_header(headers::CONTENT_TYPE, "text/plain; charset=UTF-8");
    res.insert_header(headers::CACHE_CONTROL, "no-store");
    res.set_body(body);
    res
}

/// Frames as one polling response, framed for the client's revision.
fn payload_response(metrics: &Metrics, socket: &EngineSocket, frames: &[Frame]) -> Response {
    metrics.packets_out.add(frames.len());
    let res = match socket.protocol() {
        Protocol::V3 if socket.binary_polling() && payload_v3::needs_binary(frames) => {
            let mut res = Response::new(StatusCode::Ok);
            res.insert_header(headers::CONTENT_TYPE, "application/octet-stream");
            res.insert_header(headers::CACHE_CONTROL, "no-store");
            res.set_body(payload_v3::encode_binary_payload(frames));
            res
        }
        Protocol::V3 => text_response(payload_v3::encode_text_payload(frames)),
        _ => text_response(packet::encode_payload(frames)),
    };
    metrics.bytes_out.add(res.len().unwrap_or(0));
    res
}

/// The answer to a polling handshake: the open packet.
pub(crate) fn handshake_response(shared: &EngineShared, socket: &EngineSocket) -> Response {
    let open = shared.frame_for_open(socket, true);
    payload_response(&shared.metrics, socket, &[open])
}

/// A long-polling GET: answers with every queued packet, waiting for one if
/// there are none. A second GET while one waits closes the session.
pub(crate) async fn poll(
    shared: &EngineShared,
    session: &Session,
) -> Result<Response, EngineError> {
    let socket = &session.socket;
    if socket.apply(Event::PollStarted).refuse {
        return Err(EngineError::BadRequest);
    }
    // The poll ends however this future does: answered, or dropped while it
    // waits by an HTTP server that gave up on the request (the frames stay
    // queued: they are taken only right before the answer, with no wait
    // between).
    let _ended = PollEnded(socket);
    let mut frames = Vec::new();
    loop {
        let listener = socket.listen(Waiter::Poll);
        if let Some(reason) = socket.take_frames(&mut frames) {
            // The client handles a payload's last packets before the close
            // packet takes effect only when the close comes in a later GET.
            if frames.len() > 1 && frames.last() == Some(&Frame::close()) {
                frames.pop();
                socket.put_back(Frame::close());
                break;
            }
            // Ends the session; this GET is told if it was not yet.
            socket.close(reason);
            socket.take_frames(&mut frames);
            break;
        }
        if !frames.is_empty() {
            break;
        }
        if socket.transport() == Transport::WebSocket {
            // Upgraded while this GET waited. A client sends its upgrade
            // packet only once its last GET was answered, so this GET came
            // after the upgrade as far as it knows: refused, as a GET that
            // came after the upgrade was handled is (the packets stay queued
            // for the WebSocket).
            return Err(EngineError::BadRequest);
        }
        poll_fn(|cx| socket.poll_listener(&listener, cx)).await;
    }
    Ok(payload_response(&shared.metrics, socket, &frames))
}

/// Tells the session its GET is over when dropped.
struct PollEnded<'a>(&'a EngineSocket);

impl Drop for PollEnded<'_> {
    fn drop(&mut self) {
        self.0.stop_listening(Waiter::Poll);
        let _ = self.0.apply(Event::PollEnded);
    }
}

/// A polling POST: decodes the client's packets and hands them on.
pub(crate) async fn post(
    shared: &Arc<EngineShared>,
    session: &Session,
    req: &mut Request,
) -> Result<Response, EngineError> {
    let limit = shared.config.max_payload;
    if req.len().is_some_and(|len| len > limit) {
        session.socket.close(CloseReason::TransportError);
        return Ok(Response::new(StatusCode::PayloadTooLarge));
    }
    let mut body = Vec::new();
    let read = req
        .take_body()
        .take(limit as u64 + 1)
        .read_to_end(&mut body)
        .await;
    if read.is_err() {
        session.socket.close(CloseReason::TransportError);
        return Err(EngineError::BadRequest);
    }
    if body.len() > limit {
        session.socket.close(CloseReason::TransportError);
        return Ok(Response::new(StatusCode::PayloadTooLarge));
    }
    shared.metrics.bytes_in.add(body.len());
    let binary = req
        .content_type()
        .is_some_and(|mime| mime.essence() == "application/octet-stream");
    let packets = match (session.socket.protocol(), binary) {
        (Protocol::V3, true) => payload_v3::decode_binary_payload(&body).ok(),
        (Protocol::V3, false) => std::str::from_utf8(&body)
            .ok()
            .and_then(|text| payload_v3::decode_text_payload(text).ok()),
        _ => std::str::from_utf8(&body)
            .ok()
            .and_then(|text| packet::decode_payload(text).ok()),
    };
    let Some(packets) = packets else {
        session.socket.close(CloseReason::ParseError);
        return Err(EngineError::BadRequest);
    };
    for packet in packets {
        shared.receive(session, packet);
    }
    let mut res = Response::new(StatusCode::Ok);
    res.insert_header(headers::CONTENT_TYPE, "text/html");
    res.set_body("ok");
    Ok(res)
}
