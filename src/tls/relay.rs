//! Ends TLS for one connection. After the handshake, the decrypted bytes go
//! both ways between the client and one end of an in-process Unix socket
//! pair; the other end is the [`Socket`] the plain HTTP front serves (with
//! the client's real address beside it), and a WebSocket upgraded there
//! writes its frames to it as it would to TCP. The relay costs a copy and a
//! pair of system calls each way; the plain path does not change at all.

use std::io;
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

use futures_rustls::TlsAcceptor;
use smol::future::FutureExt;
use smol::io::AsyncWriteExt;
use smol::net::TcpStream;
use smol::Async;

use crate::http::Socket;

/// How long the client may still send once the server has closed its side
/// (the front's own lingering close reads that long at most).
const LINGER: Duration = Duration::from_secs(3);

/// Completes the TLS handshake with `stream` within `timeout`, then relays
/// it in a task of its own; returns the socket the HTTP front serves.
pub async fn relay(
    stream: TcpStream,
    acceptor: &TlsAcceptor,
    timeout: Duration,
) -> io::Result<Socket> {
    let handshake = async { acceptor.accept(stream).await };
    let tls = handshake
        .or(async {
            smol::Timer::after(timeout).await;
            Err(io::ErrorKind::TimedOut.into())
        })
        .await?;
    let (front, back) = UnixStream::pair()?;
    let front = Socket::Unix(Arc::new(Async::new(front)?));
    let back = Arc::new(Async::new(back)?);
    smol::spawn(pump(tls, back)).detach();
    Ok(front)
}

/// Copies both ways until both sides have closed, or the server's side
/// closed and the client did not follow within [`LINGER`].
async fn pump(tls: futures_rustls::server::TlsStream<TcpStream>, back: Arc<Async<UnixStream>>) {
    let (mut from_client, mut to_client) = smol::io::split(tls);
    let (closed, server_closed) = smol::channel::bounded::<()>(1);
    let down = async {
        let _ = smol::io::copy(&*back, &mut to_client).await;
        // close_notify, then the TCP write side.
        let _ = to_client.close().await;
        drop(closed);
    };
    let up = async {
        let _ = smol::io::copy(&mut from_client, &*back).await;
        let _ = back.get_ref().shutdown(Shutdown::Write);
    }
    .or(async {
        let _ = server_closed.recv().await;
        smol::Timer::after(LINGER).await;
    });
    smol::future::zip(down, up).await;
}
