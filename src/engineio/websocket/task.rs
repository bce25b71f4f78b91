//! The task a WebSocket connection lives in, written out as a state machine:
//! starting (the boxed handshake future), running (reading client frames and
//! writing what the socket could not take at once), closing (the boxed
//! goodbye). An `async fn` holding the same state kept the start's result and
//! the bindings taken from it side by side, nearly twice the bytes, for the
//! whole life of every connection, and the `async fn` that caught its panics
//! held it twice more; here each state holds only what it needs.

use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::protocol::CloseFrame;
use async_tungstenite::tungstenite::{Error as WsError, Message as WsMessage, Utf8Bytes};
use smol::stream::Stream;

use super::super::cap::Cap;
use super::super::engine::{EngineShared, Session};
use super::super::packet::{self, Message, Packet};
use super::super::payload_v3;
use super::super::socket::{CloseReason, Look};
use super::super::waiters::{Listener, Waiter};
use super::super::Protocol;
use super::writer::WsWriter;
use super::{goodbye, Ws};

/// What `start` hands over once the connection is a session's WebSocket.
pub(super) type Started = Option<(Session, Arc<WsWriter>, Ws)>;

/// A connection's task, from the 101 to the close frame.
pub(super) struct ConnectionTask<S> {
    shared: Arc<EngineShared>,
    state: State<S>,
}

// The running state is the one a connection lives in; boxing it would add
// an allocation to every connection to save bytes in none.
#[allow(clippy::large_enum_variant)]
enum State<S> {
    Starting(Pin<Box<S>>),
    Running(Running),
    Closing(Pin<Box<dyn Future<Output = ()> + Send>>),
    Done,
}

/// The running connection: what it reads from and writes to.
struct Running {
    session: Session,
    writer: Arc<WsWriter>,
    ws: Ws,
    /// Made before the state is looked at, and made again once it fired.
    listener: Listener,
    /// A message over the limit gets close code 1009, as the reference's does.
    too_big: bool,
}

impl<S> Future for ConnectionTask<S>
where
    S: Future<Output = Started> + Send + 'static,
{
    type Output = ();

    /// A panic in the connection's code ends this connection only.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // Every field is Unpin (the futures are boxed).
        let this = self.get_mut();
        match panic::catch_unwind(AssertUnwindSafe(|| this.advance(cx))) {
            Ok(poll) => poll,
            Err(_) => {
                log::error!("a WebSocket connection task panicked: connection closed");
                this.state = State::Done;
                Poll::Ready(())
            }
        }
    }
}

impl<S> ConnectionTask<S>
where
    S: Future<Output = Started> + Send + 'static,
{
    pub(super) fn new(shared: Arc<EngineShared>, start: Pin<Box<S>>) -> Self {
        ConnectionTask {
            shared,
            state: State::Starting(start),
        }
    }

    fn advance(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            match &mut self.state {
                State::Starting(start) => match start.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(None) => self.state = State::Done,
                    Poll::Ready(Some((session, writer, ws))) => {
                        let listener = session.socket.listen(Waiter::WebSocket);
                        self.state = State::Running(Running {
                            session,
                            writer,
                            ws,
                            listener,
                            too_big: false,
                        });
                    }
                },
                State::Running(running) => {
                    let Poll::Ready(reason) = running.poll_until_closed(&self.shared, cx) else {
                        return Poll::Pending;
                    };
                    if let State::Running(running) = std::mem::replace(&mut self.state, State::Done)
                    {
                        self.state = State::Closing(running.close(&self.shared, reason));
                    }
                }
                State::Closing(closing) => {
                    return closing.as_mut().poll(cx).map(|()| self.state = State::Done)
                }
                State::Done => return Poll::Ready(()),
            }
        }
    }
}

/// What woke the running connection.
enum Step {
    Incoming(Option<Result<WsMessage, WsError>>),
    Flushed(std::io::Result<()>),
    Woken,
}

impl Running {
    /// Reads client frames and writes what the socket could not take at once,
    /// until the session ends; then why it ended.
    fn poll_until_closed(
        &mut self,
        shared: &EngineShared,
        cx: &mut Context<'_>,
    ) -> Poll<CloseReason> {
        loop {
            // Woken for frames left waiting or for closing, also while the
            // socket is full: a client that reads nothing must not keep this
            // task waiting for room that never comes.
            let step = match self.session.socket.look(&self.listener, cx) {
                Look::Closing(reason) => return Poll::Ready(reason),
                Look::Changed => Step::Woken,
                Look::Unchanged => match self.poll_io(cx) {
                    Some(step) => step,
                    None => return Poll::Pending,
                },
            };
            if let Some(reason) = self.take(shared, step) {
                return Poll::Ready(reason);
            }
        }
    }

    /// A frame from the client, or the end of a flush; `None` while neither.
    fn poll_io(&mut self, cx: &mut Context<'_>) -> Option<Step> {
        if let Poll::Ready(incoming) = Pin::new(&mut self.ws).poll_next(cx) {
            return Some(Step::Incoming(incoming));
        }
        if !self.writer.has_backlog() {
            return None;
        }
        match self.writer.poll_flush(cx) {
            Poll::Ready(flushed) => Some(Step::Flushed(flushed)),
            Poll::Pending => None,
        }
    }

    /// Acts on one step; why the connection ends, if it does.
    fn take(&mut self, shared: &EngineShared, step: Step) -> Option<CloseReason> {
        let socket = &self.session.socket;
        match step {
            Step::Woken => self.listener = socket.listen(Waiter::WebSocket),
            Step::Flushed(Ok(())) => {}
            Step::Flushed(Err(_)) => return Some(CloseReason::TransportError),
            Step::Incoming(Some(Ok(WsMessage::Text(text)))) => {
                shared.metrics.bytes_in.add(text.len());
                match packet::decode_text_frame(&text) {
                    Ok(packet) => shared.receive(&self.session, packet),
                    Err(_) => return Some(CloseReason::ParseError),
                }
            }
            Step::Incoming(Some(Ok(WsMessage::Binary(data)))) => {
                shared.metrics.bytes_in.add(data.len());
                match socket.protocol() {
                    Protocol::V3 => match payload_v3::decode_binary_message(&data) {
                        Ok(packet) => shared.receive(&self.session, packet),
                        Err(_) => return Some(CloseReason::ParseError),
                    },
                    _ => shared.receive(&self.session, Packet::Message(Message::Binary(data))),
                }
            }
            Step::Incoming(Some(Ok(WsMessage::Close(_))) | None) => {
                return Some(CloseReason::TransportClose)
            }
            Step::Incoming(Some(Ok(_))) => {}
            Step::Incoming(Some(Err(err))) => {
                self.too_big = matches!(err, WsError::Capacity(_));
                return Some(CloseReason::TransportError);
            }
        }
        None
    }

    /// Ends the session and returns the goodbye to run.
    fn close(
        self,
        shared: &EngineShared,
        reason: CloseReason,
    ) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let Running {
            session,
            writer,
            ws,
            too_big,
            ..
        } = self;
        if writer.over_cap() {
            // Pongs and close frames went over the cap (Engine.IO frames that
            // did have been logged already).
            session
                .socket
                .exceeded(Cap::QueuedBytes, shared.config.max_queued_bytes);
        }
        session.socket.close(reason);
        session.socket.detach_websocket();
        session.socket.stop_listening(Waiter::WebSocket);
        let frame = too_big.then(|| CloseFrame {
            code: CloseCode::Size,
            reason: Utf8Bytes::default(),
        });
        Box::pin(async move { goodbye(ws, &writer, frame).await })
    }
}
