//! The request head, parsed and checked before anything else sees it: the
//! request line, the headers as values http-types can hold, how the body is
//! framed, and whether the connection stays open. Sans-IO: bytes in, a
//! [`RequestHead`] or a [`HeadError`] out.
//!
//! Header values may carry bytes 0x80-0xFF (RFC 9110's obs-text); browsers
//! send them in cookies other sites set. http-types holds ASCII only, so such
//! bytes never reach it: a cookie pair that has them is dropped (the other
//! pairs are kept), any other header that has them is ignored.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use http_types::headers::{HeaderName, HeaderValue};
use http_types::{Method, Version};

/// Limits on a request head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    /// The longest head, request line and headers, in bytes.
    pub max_bytes: usize,
    /// The most header lines.
    pub max_headers: usize,
}

impl Default for HeadLimits {
    fn default() -> Self {
        HeadLimits {
            max_bytes: 16 * 1024,
            max_headers: 100,
        }
    }
}

/// How the body of a request is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body.
    None,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A checked request head.
#[derive(Debug, Clone)]
pub struct RequestHead {
    /// The method.
    pub method: Method,
    /// The request target as sent: `/path?query`, an absolute URL, or `*`.
    pub target: String,
    /// The HTTP version (1.0 or 1.1).
    pub version: Version,
    /// The headers in order, every value ASCII. Cookie headers are merged
    /// into one.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// How the body is delimited.
    pub body: BodyFraming,
    /// Whether the client lets the connection stay open after the answer.
    pub keep_alive: bool,
    /// Whether the client asks to switch protocols (`Connection: upgrade`
    /// with an `Upgrade` header).
    pub upgrade: bool,
    /// Whether the client waits for `100 Continue` before sending its body.
    pub expect_continue: bool,
}

impl RequestHead {
    /// The value of the header `name` (lower case), the first if repeated.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a request head was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeadError {
    /// The head is longer than [`HeadLimits::max_bytes`].
    TooLarge,
    /// More header lines than [`HeadLimits::max_headers`].
    TooManyHeaders,
    /// Not an HTTP/1.x request head.
    Malformed,
    /// A version other than HTTP/1.0 and HTTP/1.1.
    UnsupportedVersion,
    /// A method http-types does not know.
    UnknownMethod,
    /// A request target that is not a path, an absolute URL or `*`.
    BadTarget,
    /// An HTTP/1.1 request without exactly one `Host`.
    BadHost,
    /// A `Content-Length` that is not one number.
    BadContentLength,
    /// Both `Content-Length` and `Transfer-Encoding`, or `Transfer-Encoding`
    /// in an HTTP/1.0 request: a request smuggling risk.
    AmbiguousLength,
    /// A transfer coding other than `chunked`.
    UnsupportedTransferEncoding,
}

impl HeadError {
    /// The status a refusal is answered with.
    pub fn status(self) -> u16 {
        match self {
            HeadError::TooLarge | HeadError::TooManyHeaders => 431,
            HeadError::UnsupportedVersion => 505,
            HeadError::UnknownMethod | HeadError::UnsupportedTransferEncoding => 501,
            HeadError::Malformed
            | HeadError::BadTarget
            | HeadError::BadHost
            | HeadError::BadContentLength
            | HeadError::AmbiguousLength => 400,
        }
    }
}

impl fmt::Display for HeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HeadError::TooLarge => "request head too large",
            HeadError::TooManyHeaders => "too many request headers",
            HeadError::Malformed => "malformed request head",
            HeadError::UnsupportedVersion => "unsupported HTTP version",
            HeadError::UnknownMethod => "unknown method",
            HeadError::BadTarget => "bad request target",
            HeadError::BadHost => "missing or repeated Host header",
            HeadError::BadContentLength => "bad Content-Length",
            HeadError::AmbiguousLength => "both Content-Length and Transfer-Encoding",
            HeadError::UnsupportedTransferEncoding => "unsupported Transfer-Encoding",
        })
    }
}

impl std::error::Error for HeadError {}

/// Parses the head at the start of `buf`. `Ok(None)` while it is incomplete;
/// otherwise the head and the number of bytes it took (the body, or the next
/// request, follows).
pub fn parse(buf: &[u8], limits: &HeadLimits) -> Result<Option<(RequestHead, usize)>, HeadError> {
    // The usual request's headers fit in slots on the stack; a request with
    // more (when the limit allows them) is parsed again with the limit's.
    let mut stack = [httparse::EMPTY_HEADER; STACK_HEADERS];
    let slots = &mut stack[..limits.max_headers.min(STACK_HEADERS)];
    match parse_into(buf, limits, slots) {
        Err(HeadError::TooManyHeaders) if limits.max_headers > STACK_HEADERS => parse_into(
            buf,
            limits,
            &mut vec![httparse::EMPTY_HEADER; limits.max_headers],
        ),
        parsed => parsed,
    }
}

/// Header slots kept on the stack (a browser sends 10 to 20 headers).
const STACK_HEADERS: usize = 32;

fn parse_into<'b>(
    buf: &'b [u8],
    limits: &HeadLimits,
    slots: &mut [httparse::Header<'b>],
) -> Result<Option<(RequestHead, usize)>, HeadError> {
    let mut request = httparse::Request::new(slots);
    // Only the first `max_bytes` are ever looked at.
    let window = &buf[..buf.len().min(limits.max_bytes)];
    let consumed = match request.parse(window) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > limits.max_bytes => {
            return Err(HeadError::TooLarge)
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooManyHeaders),
        Err(httparse::Error::Version) => return Err(HeadError::UnsupportedVersion),
        Err(_) => return Err(HeadError::Malformed),
    };
    let head = check(&request)?;
    Ok(Some((head, consumed)))
}

fn check(request: &httparse::Request<'_, '_>) -> Result<RequestHead, HeadError> {
    let (Some(method), Some(target), Some(minor)) = (request.method, request.path, request.version)
    else {
        return Err(HeadError::Malformed);
    };
    let method = Method::from_str(method).map_err(|_| HeadError::UnknownMethod)?;
    let version = if minor == 0 {
        Version::Http1_0
    } else {
        Version::Http1_1
    };
    if !(target.starts_with('/')
        || target == "*"
        || target.starts_with("http://")
        || target.starts_with("https://"))
    {
        return Err(HeadError::BadTarget);
    }

    let mut headers = Vec::with_capacity(request.headers.len());
    let mut cookies: Vec<&[u8]> = Vec::new();
    let mut hosts = 0;
    let mut length: Option<u64> = None;
    let mut transfer_encoding: Option<Vec<u8>> = None;
    let mut connection = Tokens::default();
    let mut has_upgrade = false;
    let mut expect_continue = false;
    let mut lower = [0u8; SHORT_NAME];
    for header in request.headers.iter() {
        let name = lowercase(header.name, &mut lower);
        let value = trim(header.value);
        match &*name {
            "cookie" => {
                cookies.push(value);
                continue;
            }
            "host" => hosts += 1,
            "content-length" => {
                // Repeats are allowed only when they agree (RFC 9110 8.6).
                for part in value.split(|&b| b == b',') {
                    let n = parse_length(trim(part))?;
                    if length.is_some_and(|l| l != n) {
                        return Err(HeadError::BadContentLength);
                    }
                    length = Some(n);
                }
            }
            "transfer-encoding" => {
                let all = transfer_encoding.get_or_insert_with(Vec::new);
                if !all.is_empty() {
                    all.push(b',');
                }
                all.extend_from_slice(value);
            }
            "connection" => connection.add(value),
            "upgrade" => has_upgrade = true,
            "expect" => expect_continue = value.eq_ignore_ascii_case(b"100-continue"),
            _ => {}
        }
        if let Some(pair) = ascii_header(&name, value) {
            headers.push(pair);
        }
    }
    if let Some(cookie) = merge_cookies(&cookies) {
        headers.push(cookie);
    }
    if version == Version::Http1_1 && hosts != 1 || hosts > 1 {
        return Err(HeadError::BadHost);
    }

    let body = match (transfer_encoding, length) {
        (Some(_), Some(_)) => return Err(HeadError::AmbiguousLength),
        (Some(_), None) if version == Version::Http1_0 => return Err(HeadError::AmbiguousLength),
        (Some(codings), None) => {
            if trim(&codings).eq_ignore_ascii_case(b"chunked") {
                BodyFraming::Chunked
            } else {
                return Err(HeadError::UnsupportedTransferEncoding);
            }
        }
        (None, Some(0) | None) => BodyFraming::None,
        (None, Some(n)) => BodyFraming::Length(n),
    };
    let keep_alive = match version {
        Version::Http1_0 => connection.keep_alive && !connection.close,
        _ => !connection.close,
    };
    Ok(RequestHead {
        method,
        target: target.to_owned(),
        version,
        headers,
        body,
        keep_alive,
        upgrade: has_upgrade && connection.upgrade,
        expect_continue,
    })
}

/// The tokens of `Connection` headers that matter here.
#[derive(Default)]
struct Tokens {
    close: bool,
    keep_alive: bool,
    upgrade: bool,
}

impl Tokens {
    fn add(&mut self, value: &[u8]) {
        for token in value.split(|&b| b == b',').map(trim) {
            if token.eq_ignore_ascii_case(b"close") {
                self.close = true;
            } else if token.eq_ignore_ascii_case(b"keep-alive") {
                self.keep_alive = true;
            } else if token.eq_ignore_ascii_case(b"upgrade") {
                self.upgrade = true;
            }
        }
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| !matches!(b, b' ' | b'\t'));
    let Some(start) = start else { return &[] };
    let end = bytes.iter().rposition(|b| !matches!(b, b' ' | b'\t'));
    &bytes[start..end.map_or(start, |e| e + 1)]
}

fn parse_length(digits: &[u8]) -> Result<u64, HeadError> {
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(HeadError::BadContentLength);
    }
    digits
        .iter()
        .try_fold(0u64, |n, d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
        .ok_or(HeadError::BadContentLength)
}

/// The longest header name lowercased without an allocation.
const SHORT_NAME: usize = 40;

/// `name` in lower case: in `room` when it fits.
fn lowercase<'a>(name: &str, room: &'a mut [u8; SHORT_NAME]) -> Cow<'a, str> {
    match room.get_mut(..name.len()) {
        Some(lower) => {
            lower.copy_from_slice(name.as_bytes());
            lower.make_ascii_lowercase();
            // Lowercasing ASCII letters keeps UTF-8 valid.
            Cow::Borrowed(std::str::from_utf8(lower).unwrap_or_default())
        }
        None => Cow::Owned(name.to_ascii_lowercase()),
    }
}

/// The header as http-types holds it; `None` (ignored) when its value has
/// bytes outside ASCII.
fn ascii_header(name: &str, value: &[u8]) -> Option<(HeaderName, HeaderValue)> {
    let name = match known_name(name) {
        Some(known) => known,
        None => HeaderName::from_str(name).ok()?,
    };
    let value = HeaderValue::from_bytes(value.to_vec()).ok()?;
    Some((name, value))
}

/// http-types' constant for a header every browser or Socket.IO client sends
/// (`name` in lower case): a name it holds without a copy of its own.
fn known_name(name: &str) -> Option<HeaderName> {
    use http_types::headers as h;
    Some(match name {
        "host" => h::HOST,
        "connection" => h::CONNECTION,
        "upgrade" => h::UPGRADE,
        "cookie" => h::COOKIE,
        "origin" => h::ORIGIN,
        "user-agent" => h::USER_AGENT,
        "accept" => h::ACCEPT,
        "accept-encoding" => h::ACCEPT_ENCODING,
        "accept-language" => h::ACCEPT_LANGUAGE,
        "cache-control" => h::CACHE_CONTROL,
        "pragma" => h::PRAGMA,
        "content-type" => h::CONTENT_TYPE,
        "content-length" => h::CONTENT_LENGTH,
        "referer" => h::REFERER,
        "forwarded" => h::FORWARDED,
        _ => return None,
    })
}

/// One `Cookie` header from every one sent, without the pairs that have
/// bytes outside ASCII.
fn merge_cookies(values: &[&[u8]]) -> Option<(HeaderName, HeaderValue)> {
    let mut merged = Vec::new();
    let pairs = values.iter().flat_map(|v| v.split(|&b| b == b';'));
    for pair in pairs.map(trim) {
        if pair.is_empty() || !pair.is_ascii() {
            continue;
        }
        if !merged.is_empty() {
            merged.extend_from_slice(b"; ");
        }
        merged.extend_from_slice(pair);
    }
    if merged.is_empty() {
        return None;
    }
    ascii_header("cookie", &merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(text: &[u8]) -> Result<RequestHead, HeadError> {
        match parse(text, &HeadLimits::default()) {
            Ok(Some((head, n))) => {
                assert_eq!(n, text.len());
                Ok(head)
            }
            Ok(None) => panic!("incomplete: {:?}", String::from_utf8_lossy(text)),
            Err(e) => Err(e),
        }
    }

    fn assert_refused(cases: &[(&[u8], HeadError)]) {
        for &(text, error) in cases {
            let got = parse_all(text).unwrap_err();
            assert_eq!(got, error, "{:?}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn known_names_are_the_names_themselves() {
        for name in [
            "host",
            "connection",
            "upgrade",
            "cookie",
            "origin",
            "user-agent",
            "accept",
            "accept-encoding",
            "accept-language",
            "cache-control",
            "pragma",
            "content-type",
            "content-length",
            "referer",
            "forwarded",
        ] {
            assert_eq!(
                known_name(name).map(|n| n.as_str().to_owned()).as_deref(),
                Some(name)
            );
        }
        assert!(known_name("x-other").is_none());
    }

    #[test]
    fn a_plain_get() {
        let head = parse_all(b"GET /a?b=c HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n").unwrap();
        assert_eq!(head.method, Method::Get);
        assert_eq!(head.target, "/a?b=c");
        assert_eq!(head.version, Version::Http1_1);
        assert_eq!(head.header("accept"), Some("*/*"));
        assert_eq!(head.body, BodyFraming::None);
        assert!(head.keep_alive && !head.upgrade && !head.expect_continue);
    }

    #[test]
    fn incomplete_until_the_blank_line() {
        let full = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
        for end in 0..full.len() - 3 {
            assert!(parse(&full[..end], &HeadLimits::default())
                .unwrap()
                .is_none());
        }
        let (head, n) = parse(full, &HeadLimits::default()).unwrap().unwrap();
        assert_eq!(n, full.len() - 3);
        assert_eq!(head.body, BodyFraming::Length(3));
    }

    #[test]
    fn high_bytes_drop_only_what_has_them() {
        let head = parse_all(
            b"GET / HTTP/1.1\r\nHost: x\r\nCookie: x=\xc3\xbf; sessio.sid=abc\r\nCookie: y=\xff\r\nX-Name: \xff\r\nX-Ok: 1\r\n\r\n",
        )
        .unwrap();
        assert_eq!(head.header("cookie"), Some("sessio.sid=abc"));
        assert_eq!(head.header("x-name"), None);
        assert_eq!(head.header("x-ok"), Some("1"));
        let only_bad = parse_all(b"GET / HTTP/1.1\r\nHost: x\r\nCookie: a=\xc3\xbf\r\n\r\n");
        assert_eq!(only_bad.unwrap().header("cookie"), None);
    }

    #[test]
    fn repeated_cookie_headers_are_merged() {
        let head =
            parse_all(b"GET / HTTP/1.1\r\nHost: x\r\nCookie: a=b\r\nCookie: c=d;\r\n\r\n").unwrap();
        assert_eq!(head.header("cookie"), Some("a=b; c=d"));
    }

    #[test]
    fn connection_and_version_decide_keep_alive() {
        let close = parse_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        assert!(!close.keep_alive);
        let old = parse_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        assert_eq!(old.version, Version::Http1_0);
        assert!(!old.keep_alive);
        let old_kept = parse_all(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").unwrap();
        assert!(old_kept.keep_alive);
        let upgrade = parse_all(
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n",
        )
        .unwrap();
        assert!(upgrade.upgrade && upgrade.keep_alive);
    }

    #[test]
    fn body_framing() {
        let chunked =
            parse_all(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n").unwrap();
        assert_eq!(chunked.body, BodyFraming::Chunked);
        let same = parse_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\n");
        assert_eq!(same.unwrap().body, BodyFraming::Length(5));
        let cases: [(&[u8], HeadError); 6] = [
            (
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                HeadError::BadContentLength,
            ),
            (
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
                HeadError::BadContentLength,
            ),
            (
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
                HeadError::BadContentLength,
            ),
            (
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
                HeadError::AmbiguousLength,
            ),
            (
                b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                HeadError::UnsupportedTransferEncoding,
            ),
            (
                b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
                HeadError::AmbiguousLength,
            ),
        ];
        assert_refused(&cases);
    }

    #[test]
    fn refusals() {
        let cases: [(&[u8], HeadError); 6] = [
            (
                b"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
                HeadError::UnsupportedVersion,
            ),
            (
                b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n",
                HeadError::UnknownMethod,
            ),
            (b"GET a HTTP/1.1\r\nHost: x\r\n\r\n", HeadError::BadTarget),
            (b"GET / HTTP/1.1\r\n\r\n", HeadError::BadHost),
            (
                b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
                HeadError::BadHost,
            ),
            (
                b"GET / HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n",
                HeadError::Malformed,
            ),
        ];
        assert_refused(&cases);
    }

    #[test]
    fn limits() {
        let limits = HeadLimits {
            max_bytes: 64,
            max_headers: 2,
        };
        let long = [b"GET /".as_slice(), &[b'a'; 100]].concat();
        assert_eq!(parse(&long, &limits).unwrap_err(), HeadError::TooLarge);
        // A head with no line end at all grows until the limit, then fails.
        assert!(parse(&long[..60], &limits).unwrap().is_none());
        let many = b"GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n";
        assert_eq!(parse(many, &limits).unwrap_err(), HeadError::TooManyHeaders);
        assert_eq!(HeadError::TooManyHeaders.status(), 431);
    }

    /// A head with `n` headers besides Host, each `X-Header-<i>-<pad>: i`.
    fn head_with(n: usize, pad: &str) -> Vec<u8> {
        let mut text = String::from("GET / HTTP/1.1\r\nHost: x\r\n");
        for i in 0..n {
            text += &format!("X-Header-{i}-{pad}: {i}\r\n");
        }
        text += "\r\n";
        text.into_bytes()
    }

    #[test]
    fn more_headers_than_the_stack_holds_are_parsed_up_to_the_limit() {
        let limits = HeadLimits::default();
        let many = head_with(STACK_HEADERS + 10, "");
        let head = parse_all(&many).unwrap();
        let last = format!("x-header-{}-", STACK_HEADERS + 9);
        assert_eq!(head.header(&last), Some(&*(STACK_HEADERS + 9).to_string()));
        let over = head_with(limits.max_headers, "");
        assert_eq!(
            parse(&over, &limits).unwrap_err(),
            HeadError::TooManyHeaders
        );
    }

    #[test]
    fn long_header_names_are_lowercased_too() {
        let pad = "Long".repeat(SHORT_NAME);
        let head = parse_all(&head_with(1, &pad)).unwrap();
        let name = format!("x-header-0-{}", pad.to_ascii_lowercase());
        assert_eq!(head.header(&name), Some("0"));
    }
}
