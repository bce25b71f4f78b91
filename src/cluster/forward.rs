//! Forwarding a transport request to the node that holds its session. A
//! polling GET or POST, or a WebSocket upgrade, on the Engine.IO path whose
//! sid carries another node's tag is sent on to that node's advertised
//! address and its answer given back as it came (a long-polling GET is held
//! as long as the owner holds it; an upgrade is relayed byte for byte once
//! the owner answers `101`). The owner sees the client's headers (its
//! `Origin`, `Host` and cookies, so it checks them as if the client had come
//! to it), the body this node already read within its own limits, and the
//! client's address in a signed header ([`super::proof`]), which it believes
//! in place of the connection's. A node that is gone (its key expired, or it
//! refuses the connection) is answered as an unknown sid is, so the client
//! starts over.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_types::headers::{HeaderName, HeaderValue};
use http_types::{Method, Request, Response, StatusCode};
use smol::future::FutureExt;
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::TcpStream;

use super::directory::Directory;
use super::pool::Pool;
use super::proof::{self, ProofError, ProofKey};
use super::relay::relay;
use super::response_head::{self, Framing, HeadError, ResponseHead};
use super::tag::NodeTag;
use crate::engineio::EngineError;
use crate::http::chunked::ChunkedDecoder;
use crate::http::Upgrade;
use crate::session::Secret;

/// The largest answer head read from another node.
pub(crate) const MAX_HEAD_BYTES: usize = 16 * 1024;
/// How much is read from the other node at a time.
const READ_CHUNK: usize = 16 * 1024;
/// Headers that belong to one connection, not to the request or answer.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
];

/// How forwarding behaves.
#[derive(Debug, Clone)]
pub struct ForwardConfig {
    /// Whether the client's address is the one a trusted reverse proxy put
    /// last in `X-Forwarded-For` (as `--trust-proxy` says for the rest).
    pub trust_proxy: bool,
    /// How long connecting to another node may take.
    pub connect_timeout: Duration,
    /// How long another node may take to answer in full: longer than it
    /// holds a long-polling GET (the ping interval).
    pub answer_timeout: Duration,
    /// The largest answer body taken from another node.
    pub max_answer_bytes: usize,
}

/// Where a request is answered.
pub enum Routed {
    /// On this node: the request, with the client's address put in place
    /// when another node forwarded it.
    Here(Request),
    /// Already answered: by the node that holds the session, or refused.
    There(Response),
}

/// Why a forward failed.
#[derive(Debug)]
pub enum ForwardError {
    /// The other node could not be reached.
    Connect(io::Error),
    /// The connection to it failed midway.
    Io(io::Error),
    /// It did not answer in time.
    TimedOut,
    /// It closed before its answer was complete.
    Truncated,
    /// Its answer's head could not be read.
    Head(HeadError),
    /// Its answer was not HTTP as expected: a bad chunked body, a status or
    /// header this side cannot pass on, a `101` to a request that asked none.
    BadAnswer(&'static str),
    /// Its answer's body was larger than [`ForwardConfig::max_answer_bytes`].
    TooLarge,
}

impl fmt::Display for ForwardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ForwardError::Connect(e) => write!(f, "cannot connect: {e}"),
            ForwardError::Io(e) => write!(f, "connection failed: {e}"),
            ForwardError::TimedOut => f.write_str("no answer in time"),
            ForwardError::Truncated => f.write_str("the answer was cut short"),
            ForwardError::Head(e) => e.fmt(f),
            ForwardError::BadAnswer(why) => write!(f, "a bad answer: {why}"),
            ForwardError::TooLarge => f.write_str("the answer is too large"),
        }
    }
}

impl std::error::Error for ForwardError {}

/// How one exchange with another node failed.
enum Attempt {
    /// Before any of the answer came: on a kept connection, the other node
    /// had closed it, and the request may go again on a new one.
    Unanswered(ForwardError),
    /// Once the answer had begun.
    Failed(ForwardError),
}

/// Routes transport requests to the node that holds their session; see the
/// module documentation. Cheap to clone.
#[derive(Clone)]
pub struct Forwarder {
    directory: Directory,
    key: ProofKey,
    config: ForwardConfig,
    pool: Arc<Pool>,
}

impl Forwarder {
    /// A forwarder over the cluster's `directory`, signing with a key derived
    /// from the cluster's shared `secret`.
    pub fn new(directory: Directory, secret: &Secret, config: ForwardConfig) -> Forwarder {
        Forwarder {
            directory,
            key: ProofKey::new(secret),
            config,
            pool: Arc::default(),
        }
    }

    /// Where a request on the Engine.IO path is answered. A request that
    /// carries a forwarding header is answered here, as coming from the
    /// address in it, when the cluster signed it, and refused (`403`) when
    /// not; one with another live node's sid is forwarded there; any other
    /// is answered here.
    pub async fn route(&self, mut req: Request) -> Routed {
        let target = target_of(&req);
        if let Some(value) = req.header(proof::HEADER).map(|v| v.as_str().to_owned()) {
            let method = req.method().to_string();
            return match self.key.verify(&value, &method, &target, proof::now_secs()) {
                Ok(ip) => {
                    req.remove_header(proof::HEADER);
                    req.remove_header("x-forwarded-for");
                    req.set_peer_addr(Some(SocketAddr::new(ip, 0)));
                    Routed::Here(req)
                }
                Err(err) => Routed::There(self.refuse_proof(&req, err)),
            };
        }
        if !matches!(req.method(), Method::Get | Method::Post) {
            return Routed::Here(req);
        }
        let sid = req
            .url()
            .query_pairs()
            .find(|(key, _)| key == "sid")
            .map(|(_, sid)| sid.into_owned());
        let Some(tag) = sid.as_deref().and_then(NodeTag::of_sid) else {
            return Routed::Here(req);
        };
        if self.directory.tag().is_some_and(|own| own.as_str() == tag) {
            return Routed::Here(req);
        }
        let Some(address) = self.directory.address_of(tag).await else {
            log::debug!("sid of node {tag}, which is gone: unknown sid");
            return Routed::There(EngineError::UnknownSid.response());
        };
        match self.forward(req, &address, &target).await {
            Ok(res) => Routed::There(res),
            Err(err) => {
                log::debug!("forwarding to node {tag} at {address} failed: {err}");
                if matches!(err, ForwardError::Connect(_)) {
                    self.directory.forget(tag);
                }
                Routed::There(EngineError::UnknownSid.response())
            }
        }
    }

    fn refuse_proof(&self, req: &Request, err: ProofError) -> Response {
        log::warn!(
            "refused a request from {}: {err}",
            req.peer_addr().unwrap_or("an unknown address")
        );
        EngineError::Forbidden.response()
    }

    /// Sends `req` to the node at `address` and gives back its answer.
    async fn forward(
        &self,
        mut req: Request,
        address: &str,
        target: &str,
    ) -> Result<Response, ForwardError> {
        let deadline = Instant::now() + self.config.answer_timeout;
        let client = crate::http::client_ip(
            req.peer_addr(),
            req.header("x-forwarded-for").map(|v| v.as_str()),
            self.config.trust_proxy,
        )
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let upgrade = req.ext_mut().remove::<Upgrade>();
        let body = req
            .body_bytes()
            .await
            .map_err(|_| ForwardError::BadAnswer("the request's body could not be read"))?;
        let method = req.method().to_string();
        let mut head = request_head(&req, &method, target, body.len(), upgrade.is_some());
        head.push_str(&format!(
            "{}: {}\r\n\r\n",
            proof::HEADER,
            self.key.sign(client, &method, target)
        ));
        if let Some(upgrade) = upgrade {
            return self.upgrade(upgrade, address, &head, deadline).await;
        }
        // A kept connection the other node has closed meanwhile fails before
        // any answer came: the request never reached it, and goes again on a
        // new connection.
        if let Some(mut owner) = self.pool.take(address) {
            match self.exchange(&mut owner, &head, &body, deadline).await {
                Err(Attempt::Unanswered(_)) => {}
                Err(Attempt::Failed(err)) => return Err(err),
                Ok((res, reusable)) => {
                    if reusable {
                        self.pool.put(address, owner);
                    }
                    return Ok(res);
                }
            }
        }
        let mut owner = self.connect(address).await?;
        match self.exchange(&mut owner, &head, &body, deadline).await {
            Err(Attempt::Unanswered(err) | Attempt::Failed(err)) => Err(err),
            Ok((res, reusable)) => {
                if reusable {
                    self.pool.put(address, owner);
                }
                Ok(res)
            }
        }
    }

    async fn connect(&self, address: &str) -> Result<TcpStream, ForwardError> {
        let owner = TcpStream::connect(address)
            .or(async {
                smol::Timer::after(self.config.connect_timeout).await;
                Err(io::ErrorKind::TimedOut.into())
            })
            .await
            .map_err(ForwardError::Connect)?;
        let _ = owner.set_nodelay(true);
        Ok(owner)
    }

    /// Sends a polling request on `owner` and reads the answer; says too
    /// whether the connection may carry another request.
    async fn exchange(
        &self,
        owner: &mut TcpStream,
        head: &str,
        body: &[u8],
        deadline: Instant,
    ) -> Result<(Response, bool), Attempt> {
        let sent = async {
            owner.write_all(head.as_bytes()).await?;
            owner.write_all(body).await
        };
        by(deadline, sent).await.map_err(Attempt::Unanswered)?;
        let mut buf = Vec::new();
        let answer = read_head(owner, &mut buf, deadline).await;
        let answer = match answer {
            Err(ForwardError::Io(_) | ForwardError::Truncated) if buf.is_empty() => {
                return Err(Attempt::Unanswered(ForwardError::Truncated))
            }
            other => other.map_err(Attempt::Failed)?,
        };
        let mut res = response(&answer).map_err(Attempt::Failed)?;
        if answer.status == 101 {
            return Err(Attempt::Failed(ForwardError::BadAnswer(
                "an upgrade nobody asked for",
            )));
        }
        let (body, rest) = self
            .read_body(owner, answer.body, buf, deadline)
            .await
            .map_err(Attempt::Failed)?;
        let closes = answer.headers.iter().any(|(name, value)| {
            name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close")
        });
        let reusable = rest.is_empty()
            && !closes
            && matches!(
                answer.body,
                Framing::Length(_) | Framing::Chunked | Framing::None
            );
        res.set_body(body);
        Ok((res, reusable))
    }

    /// Sends a WebSocket upgrade on a connection of its own; once the other
    /// node answers `101`, relays the two connections in a task.
    async fn upgrade(
        &self,
        upgrade: Upgrade,
        address: &str,
        head: &str,
        deadline: Instant,
    ) -> Result<Response, ForwardError> {
        let mut owner = self.connect(address).await?;
        by(deadline, owner.write_all(head.as_bytes())).await?;
        let mut buf = Vec::new();
        let answer = read_head(&mut owner, &mut buf, deadline).await?;
        let mut res = response(&answer)?;
        if answer.status == 101 {
            smol::spawn(async move {
                if let Some(upgraded) = upgrade.finish().await {
                    relay(upgraded.socket, upgraded.unread, owner, buf).await;
                }
            })
            .detach();
            return Ok(res);
        }
        let (body, _) = self
            .read_body(&mut owner, answer.body, buf, deadline)
            .await?;
        res.set_body(body);
        Ok(res)
    }

    /// The body framed as `framing`, `buf` holding its first bytes, and
    /// what came after it (nothing, from a node that waits for the next
    /// request).
    async fn read_body(
        &self,
        owner: &mut TcpStream,
        framing: Framing,
        mut buf: Vec<u8>,
        deadline: Instant,
    ) -> Result<(Vec<u8>, Vec<u8>), ForwardError> {
        let max = self.config.max_answer_bytes;
        match framing {
            Framing::None => Ok((Vec::new(), buf)),
            Framing::Length(len) => {
                let len = usize::try_from(len).unwrap_or(usize::MAX);
                if len > max {
                    return Err(ForwardError::TooLarge);
                }
                while buf.len() < len {
                    if read_more(owner, &mut buf, deadline).await? == 0 {
                        return Err(ForwardError::Truncated);
                    }
                }
                let rest = buf.split_off(len);
                Ok((buf, rest))
            }
            Framing::Chunked => {
                let mut decoder = ChunkedDecoder::new();
                let mut body = Vec::new();
                loop {
                    let used = decoder
                        .decode(&buf, &mut body)
                        .map_err(|_| ForwardError::BadAnswer("a bad chunked body"))?;
                    buf.drain(..used);
                    if body.len() > max {
                        return Err(ForwardError::TooLarge);
                    }
                    if decoder.is_done() {
                        return Ok((body, buf));
                    }
                    if read_more(owner, &mut buf, deadline).await? == 0 {
                        return Err(ForwardError::Truncated);
                    }
                }
            }
            Framing::UntilClose => {
                while read_more(owner, &mut buf, deadline).await? > 0 {
                    if buf.len() > max {
                        return Err(ForwardError::TooLarge);
                    }
                }
                Ok((buf, Vec::new()))
            }
        }
    }
}

/// A request's path and query, as its head had them.
fn target_of(req: &Request) -> String {
    let url = req.url();
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    }
}

/// The head sent to the owner, up to the forwarding header: the client's
/// own headers but those of its connection, and this connection's.
fn request_head(req: &Request, method: &str, target: &str, body: usize, upgrade: bool) -> String {
    let mut head = format!("{method} {target} HTTP/1.1\r\n");
    for (name, values) in req.iter() {
        let name = name.as_str();
        let skip = HOP_BY_HOP.iter().any(|h| name.eq_ignore_ascii_case(h))
            || name.eq_ignore_ascii_case("x-forwarded-for")
            || name.eq_ignore_ascii_case(proof::HEADER);
        if !skip {
            for value in values.iter() {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
        }
    }
    // A polling request keeps its connection (HTTP/1.1's default) for the next.
    if upgrade {
        head.push_str("connection: Upgrade\r\nupgrade: websocket\r\n");
    }
    if body > 0 {
        head.push_str(&format!("content-length: {body}\r\n"));
    }
    head
}

/// The answer given to the client for the owner's `head`: its status and
/// headers, less those of the connection between the nodes (a `101` keeps
/// its `Upgrade` and `Connection`, which the client's connection needs).
pub(crate) fn response(head: &ResponseHead) -> Result<Response, ForwardError> {
    let status = StatusCode::try_from(head.status)
        .map_err(|_| ForwardError::BadAnswer("an unknown status"))?;
    let mut res = Response::new(status);
    for (name, value) in &head.headers {
        let keep = match name.to_ascii_lowercase().as_str() {
            "upgrade" | "connection" => head.status == 101,
            "date" => false,
            other => !HOP_BY_HOP.contains(&other),
        };
        if keep {
            let name = HeaderName::from_bytes(name.as_bytes().to_vec())
                .map_err(|_| ForwardError::BadAnswer("a bad header name"))?;
            let value = HeaderValue::from_bytes(value.as_bytes().to_vec())
                .map_err(|_| ForwardError::BadAnswer("a bad header value"))?;
            res.append_header(name, value);
        }
    }
    Ok(res)
}

/// Reads the owner's answer head into `buf`, leaving there what follows it.
async fn read_head(
    owner: &mut TcpStream,
    buf: &mut Vec<u8>,
    deadline: Instant,
) -> Result<ResponseHead, ForwardError> {
    loop {
        if let Some((head, used)) =
            response_head::parse(buf, MAX_HEAD_BYTES).map_err(ForwardError::Head)?
        {
            buf.drain(..used);
            return Ok(head);
        }
        if read_more(owner, buf, deadline).await? == 0 {
            return Err(ForwardError::Truncated);
        }
    }
}

/// Reads what comes into `buf` by `deadline`; 0 at the end of the stream.
async fn read_more(
    owner: &mut TcpStream,
    buf: &mut Vec<u8>,
    deadline: Instant,
) -> Result<usize, ForwardError> {
    let old = buf.len();
    buf.resize(old + READ_CHUNK, 0);
    let read = by(deadline, owner.read(&mut buf[old..])).await;
    buf.truncate(old + *read.as_ref().unwrap_or(&0));
    read
}

async fn by<T>(
    deadline: Instant,
    io: impl std::future::Future<Output = io::Result<T>>,
) -> Result<T, ForwardError> {
    io.or(async {
        smol::Timer::at(deadline).await;
        Err(io::ErrorKind::TimedOut.into())
    })
    .await
    .map_err(|e| match e.kind() {
        io::ErrorKind::TimedOut => ForwardError::TimedOut,
        _ => ForwardError::Io(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, url: &str) -> Request {
        let mut req = Request::new(method, url);
        req.insert_header("host", "balancer.example");
        req.insert_header("origin", "http://balancer.example");
        req.insert_header("cookie", "sessio.sid=abc");
        req.insert_header("connection", "keep-alive");
        req.insert_header("x-forwarded-for", "6.6.6.6");
        req.insert_header(proof::HEADER, "forged");
        req
    }

    /// A forwarder whose Redis cannot be reached (no node is found), signing
    /// with `secret`.
    fn forwarder(secret: &str) -> Forwarder {
        let directory = Directory::open("redis://127.0.0.1:1/0", "test", None).unwrap();
        let config = ForwardConfig {
            trust_proxy: false,
            connect_timeout: Duration::from_secs(1),
            answer_timeout: Duration::from_secs(5),
            max_answer_bytes: 1 << 20,
        };
        Forwarder::new(directory, &Secret::from_text(secret).unwrap(), config)
    }

    fn from_peer(mut req: Request, peer: &str) -> Request {
        req.set_peer_addr(Some(peer.parse::<SocketAddr>().unwrap()));
        req
    }

    const URL: &str = "http://balancer.example/socket.io/?EIO=4&transport=polling&sid=x";
    const SECRET: &str = "the cluster's shared secret";

    #[test]
    fn a_signed_address_takes_the_place_of_the_forwarding_node_s() {
        let forwarder = forwarder(SECRET);
        let mut req = from_peer(request(Method::Get, URL), "10.0.0.2:40000");
        let target = target_of(&req);
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        req.insert_header(
            proof::HEADER,
            ProofKey::new(&Secret::from_text(SECRET).unwrap()).sign(ip, "GET", &target),
        );
        let Routed::Here(req) = smol::block_on(forwarder.route(req)) else {
            panic!("a signed request is answered here");
        };
        assert_eq!(req.peer_addr(), Some("203.0.113.9:0"));
        assert!(req.header(proof::HEADER).is_none());
        assert!(req.header("x-forwarded-for").is_none());
        assert_eq!(
            req.header("origin").unwrap().as_str(),
            "http://balancer.example"
        );
    }

    #[test]
    fn a_header_the_cluster_did_not_sign_is_refused() {
        let forwarder = forwarder(SECRET);
        for value in [
            "forged",
            &ProofKey::new(&Secret::from_text("not the cluster's secret").unwrap()).sign(
                "203.0.113.9".parse().unwrap(),
                "GET",
                "/socket.io/?EIO=4&transport=polling&sid=x",
            ),
        ] {
            let mut req = from_peer(request(Method::Get, URL), "10.0.0.2:40000");
            req.insert_header(proof::HEADER, value);
            let Routed::There(res) = smol::block_on(forwarder.route(req)) else {
                panic!("{value}: refused");
            };
            assert_eq!(res.status(), StatusCode::Forbidden);
        }
    }

    #[test]
    fn a_sid_of_a_node_that_cannot_be_found_is_unknown_and_others_stay_here() {
        let forwarder = forwarder(SECRET);
        let tagged = format!("{}{}", NodeTag::random(), crate::engineio::random_id());
        let url = format!("http://h/socket.io/?EIO=4&transport=polling&sid={tagged}");
        let req = from_peer(Request::new(Method::Get, url.as_str()), "10.0.0.2:40000");
        let Routed::There(mut res) = smol::block_on(forwarder.route(req)) else {
            panic!("not answered here");
        };
        assert_eq!(res.status(), StatusCode::BadRequest);
        let body = smol::block_on(res.body_string()).unwrap();
        assert_eq!(body, r#"{"code":1,"message":"Session ID unknown"}"#);
        let untagged = format!(
            "http://h/socket.io/?EIO=4&transport=polling&sid={}",
            crate::engineio::random_id()
        );
        for req in [
            Request::new(Method::Get, untagged.as_str()),
            Request::new(Method::Get, "http://h/socket.io/?EIO=4&transport=polling"),
            Request::new(Method::Options, url.as_str()),
        ] {
            assert!(matches!(
                smol::block_on(forwarder.route(req)),
                Routed::Here(_)
            ));
        }
    }

    #[test]
    fn the_owner_gets_the_client_s_headers_but_not_its_connection_s() {
        let req = request(Method::Post, "http://balancer.example/socket.io/?sid=x");
        let target = target_of(&req);
        assert_eq!(target, "/socket.io/?sid=x");
        let head = request_head(&req, "POST", &target, 7, false);
        assert!(
            head.starts_with("POST /socket.io/?sid=x HTTP/1.1\r\n"),
            "{head}"
        );
        assert!(head.contains("host: balancer.example\r\n"));
        assert!(head.contains("origin: http://balancer.example\r\n"));
        assert!(head.contains("cookie: sessio.sid=abc\r\n"));
        assert!(head.contains("content-length: 7\r\n"));
        assert!(!head.contains("keep-alive") && !head.contains("connection"));
        assert!(
            !head.contains("6.6.6.6"),
            "the client's own X-Forwarded-For"
        );
        assert!(
            !head.contains("forged"),
            "the client's own forwarding header"
        );
        let ws = request_head(&req, "GET", &target, 0, true);
        assert!(ws.contains("connection: Upgrade\r\nupgrade: websocket\r\n"));
        assert!(!ws.contains("content-length"));
    }

    #[test]
    fn the_answer_keeps_its_headers_but_not_the_connection_s() {
        let text = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\ndate: x\r\naccess-control-allow-origin: http://a\r\ncontent-length: 3\r\n\r\n";
        let (head, _) = response_head::parse(text, 4096).unwrap().unwrap();
        let res = response(&head).unwrap();
        assert_eq!(res.status(), StatusCode::Ok);
        assert_eq!(res.header("content-type").unwrap().as_str(), "text/plain");
        assert_eq!(
            res.header("access-control-allow-origin").unwrap().as_str(),
            "http://a"
        );
        assert!(res.header("connection").is_none());
        assert!(res.header("date").is_none());
        let text = b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: k\r\n\r\n";
        let (head, _) = response_head::parse(text, 4096).unwrap().unwrap();
        let res = response(&head).unwrap();
        assert_eq!(res.header("upgrade").unwrap().as_str(), "websocket");
        assert_eq!(res.header("sec-websocket-accept").unwrap().as_str(), "k");
        let odd = b"HTTP/1.1 999 Whatever\r\n\r\n";
        let (head, _) = response_head::parse(odd, 4096).unwrap().unwrap();
        assert!(matches!(response(&head), Err(ForwardError::BadAnswer(_))));
    }
}
