//! One Socket.IO 5 client over an Engine.IO 4 WebSocket, spoken directly:
//! the handshake up to the `connected` event, pings answered as they come,
//! and plain text packets in and out. In bare mode (for the floor) it is a
//! plain WebSocket: connected once upgraded, every text message a packet.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_tungstenite::tungstenite::client::IntoClientRequest;
use async_tungstenite::tungstenite::http::HeaderValue;
use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use async_tungstenite::tungstenite::Message;
use async_tungstenite::WebSocketStream;
use smol::stream::StreamExt;

use crate::error::BenchError;
use crate::stamped::StampedStream;

/// How many packets may come before `connected` (open, CONNECT, stray events).
const MAX_PACKETS_BEFORE_CONNECTED: usize = 8;

pub struct Client {
    ws: WebSocketStream<StampedStream>,
    /// When the kernel received the data of the last read (ns since the Unix
    /// epoch, 0 if unknown).
    received_ns: Arc<AtomicU64>,
    /// Pings answered so far.
    pub pongs: u64,
    /// A plain WebSocket: no Engine.IO handshake, no pings to answer.
    bare: bool,
}

impl Client {
    /// Opens a WebSocket to `/socket.io/`, sends CONNECT and waits for the
    /// `connected` event, within `timeout`; `bare`: opens a WebSocket on `/`
    /// and is done once it is upgraded. From `source` when given.
    pub async fn connect(
        addr: &str,
        cookie: &str,
        bare: bool,
        timeout: Duration,
        source: Option<IpAddr>,
    ) -> Result<Self, BenchError> {
        smol::future::or(Self::handshake(addr, cookie, bare, source), async {
            smol::Timer::after(timeout).await;
            Err(BenchError::Timeout("handshake"))
        })
        .await
    }

    async fn handshake(
        addr: &str,
        cookie: &str,
        bare: bool,
        source: Option<IpAddr>,
    ) -> Result<Self, BenchError> {
        let stream = crate::net::connect(addr, source).await?;
        stream.set_nodelay(true)?;
        let stream = StampedStream::new(stream.into());
        let received_ns = stream.received_ns();
        let url = if bare {
            format!("ws://{addr}/")
        } else {
            format!("ws://{addr}/socket.io/?EIO=4&transport=websocket")
        };
        let mut request = url.into_client_request()?;
        if !cookie.is_empty() {
            let cookie = HeaderValue::from_str(cookie)
                .map_err(|_| BenchError::Protocol("cookie is not a header value".into()))?;
            request.headers_mut().insert("cookie", cookie);
        }
        let mut config = WebSocketConfig::default();
        config.write_buffer_size = 0;
        // Frames here are small; the 128 KiB default costs memory per connection.
        config.read_buffer_size = 4096;
        let (ws, _) =
            async_tungstenite::client_async_with_config(request, stream, Some(config)).await?;
        let mut client = Client {
            ws,
            received_ns,
            pongs: 0,
            bare,
        };
        if bare {
            return Ok(client);
        }
        let open = client.recv().await?;
        if !open.starts_with("0{") {
            return Err(BenchError::Protocol(format!(
                "expected open, got {open:.80}"
            )));
        }
        client.send("40".to_owned()).await?;
        for _ in 0..MAX_PACKETS_BEFORE_CONNECTED {
            let packet = client.recv().await?;
            if let Some(data) = packet.strip_prefix("44") {
                return Err(BenchError::Refused(data.to_owned()));
            }
            if packet.starts_with("42[\"connected\"") {
                return Ok(client);
            }
        }
        Err(BenchError::Protocol("no `connected` event".into()))
    }

    /// The next text packet that is not a ping; pings are answered on the way.
    pub async fn recv(&mut self) -> Result<String, BenchError> {
        self.recv_with(str::to_owned).await
    }

    /// Like `recv`, but hands the packet to `f` without copying it.
    pub async fn recv_with<T>(&mut self, f: impl FnOnce(&str) -> T) -> Result<T, BenchError> {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(text))) if !self.bare && text.as_str() == "2" => {
                    self.send("3".to_owned()).await?;
                    self.pongs += 1;
                }
                Some(Ok(Message::Text(text))) => return Ok(f(text.as_str())),
                Some(Ok(Message::Close(_))) | None => return Err(BenchError::Closed),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
            }
        }
    }

    /// When the kernel received the packet `recv` returned last (ns since the
    /// Unix epoch), if it said.
    pub fn received_ns(&self) -> Option<u64> {
        Some(self.received_ns.load(Ordering::Relaxed)).filter(|&ns| ns != 0)
    }

    /// Whether this is a plain WebSocket (the floor's).
    pub fn is_bare(&self) -> bool {
        self.bare
    }

    /// Leaves the way a browser tab does: DISCONNECT, then the WebSocket close
    /// handshake (not waiting for the server's close frame).
    pub async fn leave(mut self) -> Result<(), BenchError> {
        if !self.bare {
            self.send("41".to_owned()).await?;
        }
        self.ws.close(None).await?;
        Ok(())
    }

    pub async fn send(&mut self, text: String) -> Result<(), BenchError> {
        self.ws.send(Message::text(text)).await?;
        Ok(())
    }
}
