//! Just enough HTTP/1.1 to register and log in: one POST per connection, the
//! status, the session cookie and the body back.

use std::net::IpAddr;
use std::time::Duration;

use smol::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::BenchError;

/// The most of a reply we read.
const MAX_REPLY: u64 = 1 << 20;
const TIMEOUT: Duration = Duration::from_secs(30);

pub struct Reply {
    pub status: u16,
    /// `name=value` of the first Set-Cookie header, attributes dropped.
    pub cookie: Option<String>,
    pub body: String,
}

/// POSTs a JSON body and reads the whole reply (`Connection: close`).
pub async fn post_json(
    addr: &str,
    source: Option<IpAddr>,
    path: &str,
    body: &str,
) -> Result<Reply, BenchError> {
    let exchange = async {
        let mut stream = crate::net::connect(addr, source).await?;
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        (&mut stream).take(MAX_REPLY).read_to_end(&mut raw).await?;
        parse_reply(&raw)
    };
    smol::future::or(exchange, async {
        smol::Timer::after(TIMEOUT).await;
        Err(BenchError::Timeout("HTTP request"))
    })
    .await
}

fn parse_reply(raw: &[u8]) -> Result<Reply, BenchError> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| BenchError::Protocol("HTTP reply without a blank line".into()))?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| BenchError::Protocol("bad HTTP status line".into()))?;
    let cookie = lines.find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("set-cookie")
            .then(|| value.trim().split(';').next().unwrap_or("").to_owned())
    });
    // The reference server may answer chunked; the bodies we need are small
    // JSON objects, so keep what lies between the first '{' and the last '}'.
    let body = match (body.find('{'), body.rfind('}')) {
        (Some(a), Some(b)) if a <= b => body[a..=b].to_owned(),
        _ => body.to_owned(),
    };
    Ok(Reply {
        status,
        cookie,
        body,
    })
}

/// Registers `username` (a taken name is fine) and logs in, from `source`
/// when given; returns the session cookie as `name=value`.
pub async fn login(
    addr: &str,
    source: Option<IpAddr>,
    username: &str,
    password: &str,
) -> Result<String, BenchError> {
    let creds = serde_json::json!({ "username": username, "password": password }).to_string();
    let reg = post_json(addr, source, "/api/register", &creds).await?;
    if reg.status != 201 && reg.status != 409 {
        return Err(BenchError::Http {
            path: "/api/register".into(),
            status: reg.status,
            body: reg.body,
        });
    }
    let reply = post_json(addr, source, "/api/login", &creds).await?;
    match (reply.status, reply.cookie) {
        (200, Some(cookie)) => Ok(cookie),
        (status, _) => Err(BenchError::Http {
            path: "/api/login".into(),
            status,
            body: reply.body,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_cookie_and_body() {
        let raw = b"HTTP/1.1 200 OK\r\nSet-Cookie: sessio.sid=abc.def; Path=/; HttpOnly\r\n\
                    Content-Length: 2\r\n\r\n{\"success\":true}";
        let r = parse_reply(raw).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.cookie.as_deref(), Some("sessio.sid=abc.def"));
        assert_eq!(r.body, "{\"success\":true}");
    }

    #[test]
    fn chunked_body_keeps_the_json() {
        let raw = b"HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":1}\r\n0\r\n\r\n";
        let r = parse_reply(raw).unwrap();
        assert_eq!(r.status, 401);
        assert!(r.cookie.is_none());
        assert_eq!(r.body, "{\"a\":1}");
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse_reply(b"nonsense").is_err());
    }
}
