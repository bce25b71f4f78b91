//! The HTTP/1.1 front: the accept loop, per-connection limits, pipelined
//! requests, and a clear answer where async-h1 would otherwise close a
//! connection in silence.

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use async_h1::server::{ConnectionStatus, Server};
use http_types::{Request, Response};
use smol::io::AsyncWriteExt;
use smol::net::{TcpListener, TcpStream};
use smol::Async;

use super::replay::Replay;

/// Limits on what clients may hold open.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The most TCP connections served at once; further ones are closed.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 20_000,
        }
    }
}

/// The TCP connection an upgrade request came on, in the request's
/// extensions: the protocol that takes the connection over (WebSocket) reads
/// and writes the socket directly once the upgrade is done.
#[derive(Clone)]
pub struct RawSocket {
    socket: Arc<Async<std::net::TcpStream>>,
    replay: Replay,
}

impl RawSocket {
    pub fn get(&self) -> &Arc<Async<std::net::TcpStream>> {
        &self.socket
    }

    /// The bytes already read from the socket past the upgrade request (a
    /// client may send its first frames without waiting for the 101). Call it
    /// once the upgrade is done.
    pub fn take_unread(&self) -> Vec<u8> {
        self.replay.take_unread()
    }
}

/// Serves HTTP on `listener` until the returned future is dropped, answering
/// each request with `handler`.
pub async fn serve<H, F>(listener: TcpListener, limits: Limits, handler: H)
where
    H: Fn(Request) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    let open = Arc::new(AtomicUsize::new(0));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of file descriptors, say: wait a little and go on.
                log!(Warn, "accept failed: {err}");
                smol::Timer::after(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        if open.load(Ordering::Relaxed) >= limits.max_connections {
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let guard = ConnectionGuard::new(open.clone());
        let handler = handler.clone();
        smol::spawn(async move {
            let _guard = guard;
            let peer = peer.to_string();
            let _ = serve_connection(stream, peer, handler).await;
        })
        .detach();
    }
}

struct ConnectionGuard(Arc<AtomicUsize>);

impl ConnectionGuard {
    fn new(open: Arc<AtomicUsize>) -> ConnectionGuard {
        open.fetch_add(1, Ordering::Relaxed);
        ConnectionGuard(open)
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves the requests of one connection.
async fn serve_connection<H, F>(stream: TcpStream, peer: String, handler: H) -> io::Result<()>
where
    H: Fn(Request) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    let reached_handler = Arc::new(AtomicBool::new(false));
    let replay = Replay::new(stream.clone());
    let endpoint = {
        let reached_handler = reached_handler.clone();
        let raw = RawSocket {
            socket: stream.clone().into(),
            replay: replay.clone(),
        };
        move |mut req: Request| {
            reached_handler.store(true, Ordering::Relaxed);
            req.set_peer_addr(Some(peer.clone()));
            if req.header("upgrade").is_some() {
                req.ext_mut().insert(raw.clone());
            }
            let response = handler(req);
            async move { Ok::<_, http_types::Error>(response.await) }
        }
    };
    let mut server = Server::new(replay.clone(), endpoint);
    loop {
        reached_handler.store(false, Ordering::Relaxed);
        match server.accept_one().await {
            Ok(ConnectionStatus::KeepAlive) if replay.next_request() => continue,
            Ok(ConnectionStatus::KeepAlive) => return Ok(()),
            Ok(ConnectionStatus::Close) => {
                // An upgraded connection goes on as a WebSocket.
                replay.stop_tracking();
                return Ok(());
            }
            Err(err) if !reached_handler.load(Ordering::Relaxed) => {
                // The request could not be read: say why rather than hang up.
                let (status, reason) = refusal_for(&err.to_string());
                let body = format!("{reason}\n");
                let head = format!(
                    "HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let mut stream = stream;
                stream.write_all(head.as_bytes()).await?;
                stream.write_all(body.as_bytes()).await?;
                return stream.flush().await;
            }
            Err(_) => return Ok(()),
        }
    }
}

/// The status for a request async-h1 could not decode, from its message.
fn refusal_for(message: &str) -> (u16, &'static str) {
    if message.contains("Unsupported HTTP version") {
        (505, "HTTP Version Not Supported")
    } else if message.contains("Head byte length") {
        (431, "Request Header Fields Too Large")
    } else {
        (400, "Bad Request")
    }
}

#[cfg(test)]
mod tests {
    use super::refusal_for;

    #[test]
    fn maps_decode_errors_to_statuses() {
        assert_eq!(refusal_for("Unsupported HTTP version 1.0").0, 505);
        assert_eq!(
            refusal_for("Head byte length should be less than 8kb").0,
            431
        );
        assert_eq!(refusal_for("Malformed HTTP head").0, 400);
    }
}
