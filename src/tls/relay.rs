//! Ends TLS for one connection. After the handshake, the decrypted bytes go
//! both ways between the client and one end of an in-process Unix socket
//! pair; the other end is the [`Socket`] the plain HTTP front serves (with
//! the client's real address beside it), and a WebSocket upgraded there
//! writes its frames to it as it would to TCP. The relay costs a copy and a
//! pair of system calls each way; the plain path does not change at all.

use std::future::Future;
use std::io::{self, Read};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

use futures_rustls::server::TlsStream;
use futures_rustls::TlsAcceptor;
use smol::future::FutureExt;
use smol::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use smol::net::TcpStream;
use smol::Async;

use crate::http::Socket;

/// How long the client may still send once the server has closed its side
/// (the front's own lingering close reads that long at most).
const LINGER: Duration = Duration::from_secs(3);
/// How much of the front's output is read and encrypted at a time (a TLS
/// record's most).
const CHUNK: usize = 16 * 1024;

/// Completes the TLS handshake with `stream` within `timeout`, then relays
/// it in a task of its own; returns the socket the HTTP front serves. A
/// client that takes nothing the server sends for `stall` loses its
/// connection (as the front's own writes time out).
pub async fn relay(
    stream: TcpStream,
    acceptor: &TlsAcceptor,
    timeout: Duration,
    stall: Duration,
) -> io::Result<Socket> {
    let tcp: Arc<Async<std::net::TcpStream>> = stream.clone().into();
    let tls = deadline(timeout, acceptor.accept(stream)).await?;
    let (front, back) = UnixStream::pair()?;
    let front = Socket::Unix(Arc::new(Async::new(front)?));
    let back = Async::new(back)?;
    smol::spawn(pump(tls, tcp, back, stall)).detach();
    Ok(front)
}

/// Copies both ways until both sides have closed, or the server's side
/// closed and the client did not follow within [`LINGER`].
/// `tcp` is the client's connection under `tls`, only waited on.
async fn pump(
    tls: TlsStream<TcpStream>,
    tcp: Arc<Async<std::net::TcpStream>>,
    back: Async<UnixStream>,
    stall: Duration,
) {
    let (mut from_client, mut to_client) = smol::io::split(tls);
    let (closed, server_closed) = smol::channel::bounded::<()>(1);
    let down = async {
        if let Err(err) = send_down(&back, &mut to_client, stall).await {
            log::debug!("TLS relay: {err}");
        }
        drop(closed);
    };
    let up = async {
        if let Err(err) = send_up(&tcp, &mut from_client, &back).await {
            log::debug!("TLS relay: {err}");
        }
        let _ = back.get_ref().shutdown(Shutdown::Write);
    }
    .or(async {
        let _ = server_closed.recv().await;
        smol::Timer::after(LINGER).await;
    });
    smol::future::zip(down, up).await;
}

/// Sends what the front writes to the client, flushing each piece (rustls
/// keeps what the socket does not take), then closes with `close_notify`.
/// The buffer exists only while there is something to send, so an idle
/// connection holds none.
async fn send_down(
    back: &Async<UnixStream>,
    to_client: &mut WriteHalf<TlsStream<TcpStream>>,
    stall: Duration,
) -> io::Result<()> {
    loop {
        back.readable().await?;
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match back.get_ref().read(&mut buf) {
                Ok(0) => return deadline(stall, to_client.close()).await,
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            deadline(stall, async {
                to_client.write_all(&buf[..n]).await?;
                to_client.flush().await
            })
            .await?;
        }
    }
}

/// Hands the front what the client sends, until the client closes. As in
/// [`send_down`], the buffer exists only while the client's bytes come in.
async fn send_up(
    tcp: &Async<std::net::TcpStream>,
    from_client: &mut ReadHalf<TlsStream<TcpStream>>,
    back: &Async<UnixStream>,
) -> io::Result<()> {
    loop {
        let mut buf = vec![0u8; CHUNK];
        // Everything rustls can decrypt now, until it would wait for the socket.
        while let Some(read) = smol::future::poll_once(from_client.read(&mut buf)).await {
            match read? {
                0 => return Ok(()),
                n => (&*back).write_all(&buf[..n]).await?,
            }
        }
        drop(buf);
        tcp.readable().await?;
    }
}

/// `io`, or a `TimedOut` error after `limit`.
async fn deadline<T>(limit: Duration, io: impl Future<Output = io::Result<T>>) -> io::Result<T> {
    io.or(async {
        smol::Timer::after(limit).await;
        Err(io::ErrorKind::TimedOut.into())
    })
    .await
}
