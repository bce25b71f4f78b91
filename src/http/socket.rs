//! The connected socket the HTTP front and the WebSocket writer read and
//! write: a client's TCP connection, or the local end of a Unix socket pair
//! whose other end a TLS relay drives (`crate::tls`). Both are plain
//! descriptors on the reactor, so reads, `writev` and shutdown are the same
//! system calls; a handle is cheap to clone and all clones share the socket.

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use smol::io::{AsyncRead, AsyncWrite};
use smol::Async;

/// A connected stream socket; see the module documentation.
#[derive(Debug, Clone)]
pub enum Socket {
    /// A client's own TCP connection.
    Tcp(Arc<Async<TcpStream>>),
    /// One end of an in-process pair; the other carries a relayed connection.
    Unix(Arc<Async<UnixStream>>),
}

/// Runs `$body` with `$s` bound to the `&Async<_>` of either kind.
macro_rules! either {
    ($socket:expr, $s:ident => $body:expr) => {
        match $socket {
            Socket::Tcp($s) => $body,
            Socket::Unix($s) => $body,
        }
    };
}

impl Socket {
    /// Shuts down the reading, writing or both halves.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        either!(self, s => s.get_ref().shutdown(how))
    }

    /// Reads what the socket holds now, without waiting.
    pub(crate) fn read_now(&self, buf: &mut [u8]) -> io::Result<usize> {
        either!(self, s => s.get_ref().read(buf))
    }

    /// Writes what the socket takes now, without waiting.
    pub(crate) fn write_now(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        either!(self, s => s.get_ref().write_vectored(bufs))
    }

    /// Ready when the socket may be read.
    pub(crate) fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        either!(self, s => s.poll_readable(cx))
    }

    /// Ready when the socket may be written.
    pub(crate) fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        either!(self, s => s.poll_writable(cx))
    }
}

impl From<smol::net::TcpStream> for Socket {
    fn from(stream: smol::net::TcpStream) -> Socket {
        Socket::Tcp(stream.into())
    }
}

impl AsFd for Socket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        either!(self, s => s.as_fd())
    }
}

impl AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        either!(self.get_mut(), s => Pin::new(&mut &**s).poll_read(cx, buf))
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        either!(self.get_mut(), s => Pin::new(&mut &**s).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        either!(self.get_mut(), s => Pin::new(&mut &**s).poll_write_vectored(cx, bufs))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.shutdown(Shutdown::Write))
    }
}
