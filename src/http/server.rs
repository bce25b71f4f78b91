//! The HTTP/1.1 server: the accept loop, the connection limits (in all and
//! per client address), and one task per connection, which a panic ends
//! without taking anything else down.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use http_types::{Request, Response};
use rustix::net::SocketFlags;
use smol::future::FutureExt;
use smol::net::{TcpListener, TcpStream};
use smol::Async;

use super::connection;
use super::limits::Limits;

/// Serves HTTP on `listener` until the returned future is dropped, answering
/// each request with `handler`.
pub async fn serve<H, F>(listener: TcpListener, limits: Limits, handler: H)
where
    H: Fn(Request) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    accept(listener, limits, None, handler).await
}

/// Serves HTTPS on `listener` with `tls` as [`serve`] serves HTTP: each
/// connection's TLS ends in a relay (`crate::tls::relay`) before the front.
#[cfg(feature = "tls")]
pub async fn serve_tls<H, F>(
    listener: TcpListener,
    limits: Limits,
    tls: Arc<rustls::ServerConfig>,
    handler: H,
) where
    H: Fn(Request) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    accept(listener, limits, Some(tls.into()), handler).await
}

#[cfg(feature = "tls")]
type Tls = futures_rustls::TlsAcceptor;
#[cfg(not(feature = "tls"))]
type Tls = std::convert::Infallible;

/// The socket the front serves for `stream`: the stream itself, or the local
/// end of its TLS relay; `None` when the handshake failed.
async fn front_socket(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<&Tls>,
    limits: &Limits,
) -> Option<super::Socket> {
    match tls {
        None => Some(stream.into()),
        #[cfg(feature = "tls")]
        Some(acceptor) => match crate::tls::relay(
            stream,
            acceptor,
            limits.request_timeout,
            limits.write_timeout,
        )
        .await
        {
            Ok(socket) => Some(socket),
            Err(err) => {
                log::debug!("TLS handshake with {peer} failed: {err}");
                None
            }
        },
        #[cfg(not(feature = "tls"))]
        Some(never) => {
            let _ = (peer, limits);
            match *never {}
        }
    }
}

async fn accept<H, F>(listener: TcpListener, limits: Limits, tls: Option<Tls>, handler: H)
where
    H: Fn(Request) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    let limits = Arc::new(limits);
    let open = Arc::new(OpenConnections::default());
    let listener: Arc<Async<std::net::TcpListener>> = listener.into();
    loop {
        let (stream, peer) = match accept_one(&listener).await {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of file descriptors, say: wait a little and go on.
                log::warn!("accept failed: {err}");
                smol::Timer::after(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(guard) = open.admit(peer.ip(), &limits) else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        let limits = limits.clone();
        #[allow(clippy::clone_on_copy)] // Copy only without the tls feature
        let tls = tls.clone();
        smol::spawn(async move {
            let Some(socket) = front_socket(stream, peer, tls.as_ref(), &limits).await else {
                return;
            };
            // Made inside the await: a future kept in a variable first
            // takes its room in this task twice.
            if AssertUnwindSafe(connection::serve(socket, peer, limits, handler))
                .catch_unwind()
                .await
                .is_err()
            {
                log::error!("serving {peer} panicked: connection closed");
            }
            drop(guard);
        })
        .detach();
    }
}

/// The next connection, made non-blocking by `accept4` itself: async-io's
/// own accept sets that with an `ioctl` of its own, one more system call for
/// every connection.
async fn accept_one(
    listener: &Async<std::net::TcpListener>,
) -> io::Result<(TcpStream, SocketAddr)> {
    let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
    let (fd, peer) = listener
        .read_with(|l| rustix::net::acceptfrom_with(l, flags).map_err(io::Error::from))
        .await?;
    let peer = peer
        .and_then(|peer| SocketAddr::try_from(peer).ok())
        .ok_or_else(|| io::Error::other("a connection without an IP address"))?;
    let stream = Async::new_nonblocking(std::net::TcpStream::from(fd))?;
    Ok((TcpStream::from(stream), peer))
}

/// The connections open now, in all and per address.
#[derive(Default)]
struct OpenConnections {
    counts: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    total: usize,
    /// Open connections per address, and whether its refusal was logged.
    by_address: HashMap<IpAddr, (usize, bool)>,
}

impl OpenConnections {
    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a new connection from `ip`, or `None` when a limit is reached.
    fn admit(self: &Arc<Self>, ip: IpAddr, limits: &Limits) -> Option<ConnectionGuard> {
        let mut counts = self.lock();
        if counts.total >= limits.max_connections {
            return None;
        }
        let per_address = limits.max_connections_per_address;
        let (count, logged) = counts.by_address.entry(ip).or_default();
        if per_address > 0 && *count >= per_address {
            if !*logged {
                *logged = true;
                log::warn!("{ip} has {count} connections open, the most allowed: refusing more");
            }
            return None;
        }
        *count += 1;
        counts.total += 1;
        Some(ConnectionGuard {
            open: self.clone(),
            ip,
        })
    }
}

/// One open connection, counted until dropped.
struct ConnectionGuard {
    open: Arc<OpenConnections>,
    ip: IpAddr,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        let mut counts = self.open.lock();
        counts.total -= 1;
        if let Some((count, logged)) = counts.by_address.get_mut(&self.ip) {
            *count -= 1;
            *logged = false;
            if *count == 0 {
                counts.by_address.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_types::StatusCode;
    use smol::io::{AsyncReadExt, AsyncWriteExt};

    /// Sends `request` on a new connection and reads until the server closes.
    async fn exchange(addr: std::net::SocketAddr, request: &[u8]) -> String {
        let mut stream = smol::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut reply = Vec::new();
        let _ = stream.read_to_end(&mut reply).await;
        String::from_utf8_lossy(&reply).into_owned()
    }

    #[test]
    fn a_panicking_handler_costs_its_connection_only() {
        smol::block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = smol::spawn(serve(
                listener,
                Limits::default(),
                |req: Request| async move {
                    if req.url().path() == "/panic" {
                        panic!("a handler bug");
                    }
                    let mut res = Response::new(StatusCode::Ok);
                    res.set_body(req.url().path().to_owned());
                    res
                },
            ));
            let panicked = exchange(
                addr,
                b"GET /panic HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n",
            )
            .await;
            assert!(panicked.starts_with("HTTP/1.1 500 "), "{panicked}");
            assert!(
                !panicked.contains("/next"),
                "the connection ended at the panic"
            );
            let fine = exchange(addr, b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
            assert_eq!(fine.matches("HTTP/1.1 200 ").count(), 2, "{fine}");
            assert!(fine.ends_with("/b"), "{fine}");
            drop(server);
        });
    }

    #[test]
    fn limits_per_address_and_in_all() {
        let open = Arc::new(OpenConnections::default());
        let limits = Limits {
            max_connections: 3,
            max_connections_per_address: 2,
            ..Limits::default()
        };
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let a1 = open.admit(a, &limits).unwrap();
        let a2 = open.admit(a, &limits).unwrap();
        assert!(open.admit(a, &limits).is_none());
        let b1 = open.admit(b, &limits).unwrap();
        assert!(open.admit(b, &limits).is_none(), "the total is reached");
        drop(a1);
        let a3 = open.admit(a, &limits).unwrap();
        drop((a2, a3, b1));
        assert_eq!(open.lock().total, 0);
        assert!(open.lock().by_address.is_empty());
    }
}
