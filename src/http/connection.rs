//! One HTTP/1.x connection: reads each request head and body itself, within
//! the [`Limits`], hands the handler a complete [`Request`], and writes the
//! answer with async-h1's encoder. Pipelined requests are kept in the read
//! buffer; an upgrade hands the socket over with what the client sent past
//! its request. A panicking handler costs its connection a `500`, nothing more.

use std::future::Future;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_h1::server::Encoder;
use http_types::url::Url;
use http_types::{headers, Request, Response, StatusCode, Version};
use smol::channel::Sender;
use smol::future::FutureExt;
use smol::io::{AsyncReadExt, AsyncWriteExt, BufWriter};

use super::chunked::ChunkedDecoder;
use super::head::{self, BodyFraming, RequestHead};
use super::limits::Limits;
use super::socket::Socket;
use super::upgrade::Upgrade;

/// How much is read from the socket at a time: a request's first read takes
/// [`FIRST_READ`] (the usual request fits in it), and each next one doubles
/// what came, up to [`READ_CHUNK`]. A first read of 8 KiB made every
/// connection take and give back a block that large, which musl's malloc
/// maps and unmaps each time.
const READ_CHUNK: usize = 8 * 1024;
const FIRST_READ: usize = 1024;
/// How long a closing connection reads (and drops) what the client still
/// sends, so that the answer is not destroyed by a reset.
const LINGER: Duration = Duration::from_secs(2);

/// Why no request came.
enum Stop {
    /// The client closed, went quiet between requests, or the socket failed.
    Quietly,
    /// The request cannot be served: answer with this status and close.
    Refuse(u16, &'static str),
}

impl From<io::Error> for Stop {
    fn from(_: io::Error) -> Stop {
        Stop::Quietly
    }
}

struct Connection {
    stream: Socket,
    peer: SocketAddr,
    limits: Arc<Limits>,
    /// Bytes read and not used yet: the start of the next request.
    buf: Vec<u8>,
    /// The request being read is under [`Limits::json_errors_under`].
    json_errors: bool,
}

/// Serves the requests of one connection until it closes or is upgraded.
pub(crate) async fn serve<H, F>(stream: Socket, peer: SocketAddr, limits: Arc<Limits>, handler: H)
where
    H: Fn(Request) -> F,
    F: Future<Output = Response>,
{
    let mut conn = Connection {
        stream,
        peer,
        limits,
        buf: Vec::new(),
        json_errors: false,
    };
    loop {
        let (mut head, body) = match conn.read_request().await {
            Ok(request) => request,
            Err(Stop::Quietly) => return,
            Err(Stop::Refuse(status, reason)) => {
                log::debug!("refused a request from {}: {reason}", conn.peer);
                return conn.refuse(status, reason).await;
            }
        };
        let Some(mut req) = conn.request(&mut head, body) else {
            return conn.refuse(400, "bad request target").await;
        };
        let upgrade = head.upgrade.then(|| {
            let (upgrade, sender) = Upgrade::new(conn.stream.clone());
            req.ext_mut().insert(upgrade);
            sender
        });
        let answered = AssertUnwindSafe(handler(req)).catch_unwind().await;
        let Ok(res) = answered else {
            // The panic hook has logged where.
            log::error!("a request handler panicked: closing its connection");
            return conn.refuse(500, "internal server error").await;
        };
        if let (StatusCode::SwitchingProtocols, Some(sender)) = (res.status(), upgrade) {
            return conn.hand_over(res, sender).await;
        }
        match conn.respond(res, &head).await {
            Ok(true) => continue,
            Ok(false) => return conn.close().await,
            Err(_) => return,
        }
    }
}

impl Connection {
    /// Reads bytes into the buffer, failing with `on_timeout` at `deadline`.
    /// Returns how many were read; 0 at the end of the stream.
    async fn read_more(&mut self, deadline: Instant, on_timeout: Stop) -> Result<usize, Stop> {
        let old = self.buf.len();
        self.buf.resize(old + old.clamp(FIRST_READ, READ_CHUNK), 0);
        let stream = &mut self.stream;
        let buf = &mut self.buf[old..];
        let read = async { stream.read(buf).await.map_err(Stop::from) }
            .or(async {
                smol::Timer::at(deadline).await;
                Err(on_timeout)
            })
            .await;
        let n = *read.as_ref().unwrap_or(&0);
        self.buf.truncate(old + n);
        read
    }

    /// The next request's head and body.
    async fn read_request(&mut self) -> Result<(RequestHead, Vec<u8>), Stop> {
        let limits = self.limits.clone();
        self.json_errors = false;
        if self.buf.is_empty() {
            let idle = Instant::now() + limits.idle_timeout;
            if self.read_more(idle, Stop::Quietly).await? == 0 {
                return Err(Stop::Quietly);
            }
        }
        // The whole request must arrive within this, from its first byte.
        let deadline = Instant::now() + limits.request_timeout;
        let timeout = || Stop::Refuse(408, "request timeout");
        let head = loop {
            match head::parse(&self.buf, &limits.head) {
                Ok(Some((head, used))) => {
                    self.buf.drain(..used);
                    self.json_errors = (limits.json_errors_under)
                        .is_some_and(|prefix| head.target.starts_with(prefix));
                    break head;
                }
                Ok(None) => {}
                Err(e) => return Err(Stop::Refuse(e.status(), head_reason(e))),
            }
            if self.read_more(deadline, timeout()).await? == 0 {
                return Err(Stop::Quietly);
            }
        };
        let body = match head.body {
            BodyFraming::None => Vec::new(),
            BodyFraming::Length(len) => {
                let len = usize::try_from(len).unwrap_or(usize::MAX);
                if len > limits.max_body_bytes {
                    return Err(Stop::Refuse(413, "request body too large"));
                }
                if head.expect_continue && self.buf.len() < len {
                    self.continue_100(deadline).await?;
                }
                while self.buf.len() < len {
                    if self.read_more(deadline, timeout()).await? == 0 {
                        return Err(Stop::Quietly);
                    }
                }
                let rest = self.buf.split_off(len);
                std::mem::replace(&mut self.buf, rest)
            }
            BodyFraming::Chunked => {
                if head.expect_continue && self.buf.is_empty() {
                    self.continue_100(deadline).await?;
                }
                let mut decoder = ChunkedDecoder::new();
                let mut body = Vec::new();
                loop {
                    let used = decoder
                        .decode(&self.buf, &mut body)
                        .map_err(|_| Stop::Refuse(400, "bad chunked body"))?;
                    self.buf.drain(..used);
                    if body.len() > limits.max_body_bytes {
                        return Err(Stop::Refuse(413, "request body too large"));
                    }
                    if decoder.is_done() {
                        break body;
                    }
                    if self.read_more(deadline, timeout()).await? == 0 {
                        return Err(Stop::Quietly);
                    }
                }
            }
        };
        if self.buf.is_empty() {
            // Nothing of the next request yet: the handler may take long (a
            // long-polling GET), and the buffer's room is not needed meanwhile.
            self.buf = Vec::new();
        }
        Ok((head, body))
    }

    async fn continue_100(&mut self, deadline: Instant) -> Result<(), Stop> {
        self.write_all(b"HTTP/1.1 100 Continue\r\n\r\n", deadline)
            .await
            .map_err(Stop::from)
    }

    /// The request handlers see; `None` when its target makes no URL. The
    /// headers move into it (`head` keeps none).
    fn request(&self, head: &mut RequestHead, body: Vec<u8>) -> Option<Request> {
        let url = request_url(head)?;
        let mut req = Request::new(head.method, url);
        req.set_version(Some(head.version));
        for (name, value) in std::mem::take(&mut head.headers) {
            req.append_header(name, value);
        }
        req.set_peer_addr(Some(addr_text(self.peer)));
        if !body.is_empty() {
            req.set_body(body);
        }
        Some(req)
    }

    /// Writes the answer. `Ok(true)` when the connection stays open.
    async fn respond(&mut self, mut res: Response, head: &RequestHead) -> io::Result<bool> {
        let keep_alive = head.keep_alive
            && !res
                .header(headers::CONNECTION)
                .is_some_and(|v| v.as_str().eq_ignore_ascii_case("close"));
        if !keep_alive {
            res.insert_header(headers::CONNECTION, "close");
        } else if head.version == Version::Http1_0 {
            res.insert_header(headers::CONNECTION, "keep-alive");
        }
        if head.version == Version::Http1_0 && res.len().is_none() {
            // HTTP/1.0 has no chunked coding: send the body with its length.
            let bytes = res
                .take_body()
                .into_bytes()
                .await
                .map_err(io::Error::other)?;
            res.set_body(bytes);
        }
        let deadline = Instant::now() + self.limits.write_timeout;
        let encoder = Encoder::new(res, head.method);
        let mut writer = BufWriter::new(&mut self.stream);
        let write = async {
            smol::io::copy(encoder, &mut writer).await?;
            writer.flush().await
        };
        with_deadline(deadline, write).await?;
        Ok(keep_alive)
    }

    /// Writes the `101` and hands the connection over.
    async fn hand_over(mut self, res: Response, sender: Sender<Vec<u8>>) {
        let mut head = String::with_capacity(256);
        head.push_str("HTTP/1.1 101 Switching Protocols\r\n");
        for (name, values) in res.iter() {
            for value in values.iter() {
                for part in [name.as_str(), ": ", value.as_str(), "\r\n"] {
                    head.push_str(part);
                }
            }
        }
        head.push_str("\r\n");
        let deadline = Instant::now() + self.limits.write_timeout;
        if self.write_all(head.as_bytes(), deadline).await.is_ok() {
            // Only the bytes: the buffer's spare room would stay with the
            // connection for its whole life.
            let _ = sender.try_send(self.buf.to_vec());
        }
    }

    /// Answers a request that cannot be served and closes.
    async fn refuse(mut self, status: u16, reason: &str) {
        let (body, kind) = match self.json_errors {
            true => (
                serde_json::json!({"success": false, "error": reason}).to_string(),
                "application/json",
            ),
            false => (format!("{reason}\n"), "text/plain"),
        };
        let head = format!(
            "HTTP/1.1 {status} {}\r\ncontent-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            status_text(status),
            body.len()
        );
        let deadline = Instant::now() + self.limits.write_timeout;
        if self
            .write_all(&[head.as_bytes(), body.as_bytes()].concat(), deadline)
            .await
            .is_ok()
        {
            self.close().await;
        }
    }

    /// Ends the connection once the answer is out. The client may still be
    /// sending (a body nobody read, a head that never ends): closing with
    /// unread data would reset the connection, and a reset can destroy the
    /// answer before the client reads it. So what comes is read and dropped
    /// until the client closes, for [`LINGER`] at most (a lingering close).
    async fn close(self) {
        if self.stream.shutdown(Shutdown::Write).is_err() {
            return;
        }
        let mut stream = self.stream;
        let drain = async {
            // On the heap: in the future it would take its room in every
            // connection's task, closing or not.
            let mut sink = vec![0u8; 4096];
            while let Ok(1..) = stream.read(&mut sink).await {}
        };
        let linger = async {
            smol::Timer::after(LINGER).await;
        };
        drain.or(linger).await;
    }

    async fn write_all(&mut self, bytes: &[u8], deadline: Instant) -> io::Result<()> {
        with_deadline(deadline, self.stream.write_all(bytes)).await
    }
}

/// `io`, failing with `TimedOut` at `deadline`. Not an `async fn`: one would
/// hold `io` twice (its argument, and the race made of it), and a response's
/// write is the largest future a connection's task holds.
fn with_deadline<T>(
    deadline: Instant,
    io: impl Future<Output = io::Result<T>>,
) -> impl Future<Output = io::Result<T>> {
    io.or(async move {
        smol::Timer::at(deadline).await;
        Err(io::ErrorKind::TimedOut.into())
    })
}

/// `addr` as `SocketAddr`'s `Display` writes it; an IPv4 one (every
/// request's peer) without the formatting machinery, which costs a
/// connection some 5,000 instructions.
fn addr_text(addr: SocketAddr) -> String {
    let SocketAddr::V4(v4) = addr else {
        return addr.to_string();
    };
    let mut text = String::with_capacity(21);
    for (i, octet) in v4.ip().octets().into_iter().enumerate() {
        if i > 0 {
            text.push('.');
        }
        crate::decimal::push(&mut text, u64::from(octet));
    }
    text.push(':');
    crate::decimal::push(&mut text, u64::from(v4.port()));
    text
}

/// The URL of a request: its path and query on the host it names. A `Host`
/// that is not a plain host and port is not let near the URL parser (it
/// could move the path), so such requests get `localhost`.
pub(crate) fn request_url(head: &RequestHead) -> Option<Url> {
    if head.target.starts_with("http://") || head.target.starts_with("https://") {
        return Url::parse(&head.target).ok();
    }
    let host = request_host(head);
    // A path and query that parse the same whole as in parts (no fragment,
    // no backslash) take one parse, not three (a host's, then the path's
    // and the query's, each writing the URL anew).
    if head.target.starts_with('/') && !head.target.contains(['#', '\\']) {
        if let Ok(url) = Url::parse(&["http://", host, &head.target].concat()) {
            return Some(url);
        }
    }
    url_by_parts(host, &head.target)
}

/// The request's `Host` when it is a plain host and port, else `localhost`.
fn request_host(head: &RequestHead) -> &str {
    head.header("host")
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
        })
        .unwrap_or("localhost")
}

/// The URL of `target` on `host`, its path and query set one by one.
fn url_by_parts(host: &str, target: &str) -> Option<Url> {
    let mut url = Url::parse(&["http://", host, "/"].concat())
        .or_else(|_| Url::parse("http://localhost/"))
        .ok()?;
    if target != "*" {
        let (path, query) = match target.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (target, None),
        };
        url.set_path(path);
        url.set_query(query);
    }
    Some(url)
}

/// What [`request_url`] makes of `head` the long way (for the fuzz target,
/// which checks that the short way agrees).
#[cfg(any(test, fuzzing))]
pub(crate) fn request_url_by_parts(head: &RequestHead) -> Option<Url> {
    url_by_parts(request_host(head), &head.target)
}

fn head_reason(error: head::HeadError) -> &'static str {
    match error.status() {
        431 => "request header fields too large",
        505 => "HTTP version not supported",
        501 => "not implemented",
        _ => "bad request",
    }
}

fn status_text(status: u16) -> &'static str {
    StatusCode::try_from(status).map_or("Error", |s| s.canonical_reason())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::head::HeadLimits;

    fn url_of(text: &str) -> Option<String> {
        let (head, _) = head::parse(text.as_bytes(), &HeadLimits::default()).ok()??;
        request_url(&head).map(|u| u.to_string())
    }

    #[test]
    fn peer_addresses_are_written_as_display_writes_them() {
        for addr in [
            "127.0.0.1:0",
            "0.0.0.0:65535",
            "192.168.10.255:3000",
            "[::1]:80",
            "[fe80::1]:9",
        ] {
            let addr: SocketAddr = addr.parse().unwrap();
            assert_eq!(addr_text(addr), addr.to_string());
        }
    }

    #[test]
    fn urls() {
        assert_eq!(
            url_of("GET /a/b?c=d HTTP/1.1\r\nHost: pi.local:3000\r\n\r\n").as_deref(),
            Some("http://pi.local:3000/a/b?c=d")
        );
        assert_eq!(
            url_of("GET //x/../y HTTP/1.1\r\nHost: h\r\n\r\n").as_deref(),
            Some("http://h//y")
        );
        // A host that would move the path is not used.
        assert_eq!(
            url_of("GET /a HTTP/1.1\r\nHost: evil/b?\r\n\r\n").as_deref(),
            Some("http://localhost/a")
        );
        assert_eq!(
            url_of("GET http://h/p?q HTTP/1.1\r\nHost: h\r\n\r\n").as_deref(),
            Some("http://h/p?q")
        );
        assert_eq!(
            url_of("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n").as_deref(),
            Some("http://h/")
        );
        assert_eq!(
            url_of("GET / HTTP/1.0\r\n\r\n").as_deref(),
            Some("http://localhost/")
        );
    }

    #[test]
    fn statuses_have_reasons() {
        assert_eq!(status_text(431), "Request Header Fields Too Large");
        assert_eq!(status_text(408), "Request Timeout");
    }
}
