//! Reading the head of the answer another node sends to a forwarded request:
//! its status, its headers and how its body is framed, within a size limit.

use std::fmt;

/// The most headers an answer may have.
const MAX_HEADERS: usize = 64;

/// An answer's head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// The status code.
    pub status: u16,
    /// The headers, in order, with values that are valid UTF-8.
    pub headers: Vec<(String, String)>,
    /// How the body that follows is framed.
    pub body: Framing,
}

/// How an answer's body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body (1xx, 204, 304).
    None,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the connection closes.
    UntilClose,
}

/// Why a head could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadError {
    /// Longer than the limit, or with too many headers.
    TooLarge,
    /// Not an HTTP/1.x response head.
    Malformed,
}

impl fmt::Display for HeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HeadError::TooLarge => "the answer's head is too large",
            HeadError::Malformed => "the answer's head is malformed",
        })
    }
}

impl std::error::Error for HeadError {}

/// The head at the start of `buf` and its length in bytes; `Ok(None)` while
/// it is incomplete and under `max_bytes`.
pub fn parse(buf: &[u8], max_bytes: usize) -> Result<Option<(ResponseHead, usize)>, HeadError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut slots);
    let used = match response.parse(buf) {
        Ok(httparse::Status::Complete(used)) if used <= max_bytes => used,
        Ok(httparse::Status::Complete(_)) => return Err(HeadError::TooLarge),
        Ok(httparse::Status::Partial) if buf.len() > max_bytes => return Err(HeadError::TooLarge),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooLarge),
        Err(_) => return Err(HeadError::Malformed),
    };
    let status = response.code.ok_or(HeadError::Malformed)?;
    let mut headers = Vec::with_capacity(response.headers.len());
    let mut length = None;
    let mut chunked = false;
    for header in response.headers.iter() {
        let value = std::str::from_utf8(header.value)
            .map_err(|_| HeadError::Malformed)?
            .to_owned();
        if header.name.eq_ignore_ascii_case("content-length") {
            let parsed: u64 = value.trim().parse().map_err(|_| HeadError::Malformed)?;
            if length.is_some_and(|l| l != parsed) {
                return Err(HeadError::Malformed);
            }
            length = Some(parsed);
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.trim().eq_ignore_ascii_case("chunked");
            if !chunked {
                return Err(HeadError::Malformed);
            }
        }
        headers.push((header.name.to_owned(), value));
    }
    let body = match (status, chunked, length) {
        (100..=199 | 204 | 304, _, _) => Framing::None,
        (_, true, None) => Framing::Chunked,
        (_, true, Some(_)) => return Err(HeadError::Malformed),
        (_, false, Some(len)) => Framing::Length(len),
        (_, false, None) => Framing::UntilClose,
    };
    Ok(Some((
        ResponseHead {
            status,
            headers,
            body,
        },
        used,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_and_their_framing() {
        let text = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\nhello";
        let (head, used) = parse(text, 1024).unwrap().unwrap();
        assert_eq!(head.status, 200);
        assert_eq!(head.body, Framing::Length(5));
        assert_eq!(&text[used..], b"hello");
        assert_eq!(
            head.headers[0],
            ("content-type".into(), "text/plain".into())
        );
        let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
        assert_eq!(
            parse(chunked, 1024).unwrap().unwrap().0.body,
            Framing::Chunked
        );
        let upgrade = b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n\x81\x01x";
        let (head, used) = parse(upgrade, 1024).unwrap().unwrap();
        assert_eq!((head.status, head.body), (101, Framing::None));
        assert_eq!(&upgrade[used..], b"\x81\x01x");
        let close = b"HTTP/1.0 200 OK\r\n\r\n";
        assert_eq!(
            parse(close, 1024).unwrap().unwrap().0.body,
            Framing::UntilClose
        );
    }

    #[test]
    fn incomplete_large_and_bad_heads() {
        assert_eq!(parse(b"HTTP/1.1 200 OK\r\nx: y\r\n", 1024), Ok(None));
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\nx: yyyyyyyy", 16),
            Err(HeadError::TooLarge)
        );
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\n\r\n", 8),
            Err(HeadError::TooLarge)
        );
        assert_eq!(parse(b"SSH-2.0\r\n\r\n", 1024), Err(HeadError::Malformed));
        let two_lengths = b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n";
        assert_eq!(parse(two_lengths, 1024), Err(HeadError::Malformed));
        let both = b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ntransfer-encoding: chunked\r\n\r\n";
        assert_eq!(parse(both, 1024), Err(HeadError::Malformed));
        let gzip = b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n";
        assert_eq!(parse(gzip, 1024), Err(HeadError::Malformed));
        let many = format!("HTTP/1.1 200 OK\r\n{}\r\n", "a: b\r\n".repeat(65));
        assert_eq!(parse(many.as_bytes(), 4096), Err(HeadError::TooLarge));
    }
}
