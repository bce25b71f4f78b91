//! The byte stream async-tungstenite runs on, straight on the socket. Reads
//! start with whatever the HTTP layer read past the upgrade request; writes
//! (tungstenite's own pongs and close frames) join the [`WsWriter`]'s queue,
//! so they never cut into a frame another task is writing.
//!
//! A read that comes back short has emptied the socket: the next one waits for
//! the reactor to report new data rather than asking the kernel again, which
//! saves a failing `recv` each time the connection's task runs.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use smol::io::{AsyncRead, AsyncWrite};

use super::writer::WsWriter;
use crate::http::Socket;

pub(crate) struct WsStream {
    socket: Socket,
    writer: Arc<WsWriter>,
    /// Bytes read before the upgrade and not consumed yet (usually none).
    unread: VecDeque<u8>,
    /// The last read left nothing in the socket.
    drained: bool,
}

impl WsStream {
    pub(crate) fn new(socket: Socket, writer: Arc<WsWriter>, unread: Vec<u8>) -> WsStream {
        WsStream {
            socket,
            writer,
            unread: unread.into(),
            drained: false,
        }
    }
}

impl AsyncRead for WsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if !this.unread.is_empty() {
            return Poll::Ready(this.unread.read(buf));
        }
        loop {
            if this.drained {
                ready!(this.socket.poll_readable(cx))?;
            }
            match this.socket.read_now(buf) {
                Ok(n) => {
                    this.drained = n < buf.len();
                    return Poll::Ready(Ok(n));
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => this.drained = true,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Poll::Ready(Err(err)),
            }
        }
    }
}

impl AsyncWrite for WsStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(self.writer.send_raw(buf).map(|()| buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.writer.poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.writer.poll_flush(cx))?;
        Poll::Ready(self.socket.shutdown(std::net::Shutdown::Write))
    }
}
