//! The byte stream async-tungstenite runs on. Reads come from the upgraded
//! connection; writes (tungstenite's own pongs and close frames) join the
//! [`WsWriter`]'s queue, so they never cut into a frame another task is
//! writing.
//!
//! A read that comes back short has emptied the socket: the next one waits for
//! the reactor to report new data rather than asking the kernel again, which
//! saves a failing `recv` each time the connection's task runs.

use std::io;
use std::net::TcpStream;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use http_types::upgrade::Connection as Upgraded;
use smol::io::{AsyncRead, AsyncWrite};
use smol::Async;

use super::writer::WsWriter;

pub(crate) struct WsStream {
    read: Upgraded,
    socket: Arc<Async<TcpStream>>,
    writer: Arc<WsWriter>,
    /// The last read left nothing in the socket.
    drained: bool,
}

impl WsStream {
    pub(crate) fn new(
        read: Upgraded,
        socket: Arc<Async<TcpStream>>,
        writer: Arc<WsWriter>,
    ) -> WsStream {
        WsStream {
            read,
            socket,
            writer,
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
        if this.drained {
            ready!(this.socket.poll_readable(cx))?;
            this.drained = false;
        }
        let n = ready!(Pin::new(&mut this.read).poll_read(cx, buf))?;
        this.drained = n < buf.len();
        Poll::Ready(Ok(n))
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
        Poll::Ready(self.socket.get_ref().shutdown(std::net::Shutdown::Write))
    }
}
