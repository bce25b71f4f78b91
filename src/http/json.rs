//! Reading JSON request bodies within a size limit, and writing JSON answers.

use std::fmt;

use http_types::{headers, Request, Response, StatusCode};
use serde_json::Value;
use smol::io::AsyncReadExt;

/// Why a request body was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Longer than the limit (said by `Content-Length` or found reading).
    TooLarge,
    /// Not JSON.
    NotJson,
    /// Reading it failed.
    Unreadable,
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BodyError::TooLarge => "request body too large",
            BodyError::NotJson => "request body is not valid JSON",
            BodyError::Unreadable => "request body could not be read",
        })
    }
}

impl std::error::Error for BodyError {}

/// Reads a JSON body of at most `limit` bytes. An empty body reads as `{}`.
pub async fn read_json(req: &mut Request, limit: usize) -> Result<Value, BodyError> {
    if req.len().is_some_and(|len| len > limit) {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    req.take_body()
        .take(limit as u64 + 1)
        .read_to_end(&mut body)
        .await
        .map_err(|_| BodyError::Unreadable)?;
    if body.len() > limit {
        return Err(BodyError::TooLarge);
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_slice(&body).map_err(|_| BodyError::NotJson)
}

/// A JSON response.
pub fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut res = Response::new(status);
    res.insert_header(headers::CONTENT_TYPE, "application/json");
    res.insert_header(headers::CACHE_CONTROL, "no-store");
    res.set_body(body.to_string());
    res
}
