//! A session as express-session serializes it (what connect-redis stores): one
//! JSON object, its `cookie` object first (`originalMaxAge`, `expires`, `secure`,
//! `httpOnly`, `path`, `sameSite`), the session's own fields beside it. The
//! `cookie` object is express-session's business: sessio writes one for the
//! sessions it makes, and keeps the one it found (only moving `expires`) on the
//! sessions it changes.

use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::clock::iso;

const COOKIE: &str = "cookie";

/// The cookie sessio describes in the sessions it makes: what its `Set-Cookie`
/// says (`Path=/; HttpOnly; SameSite=Lax`, `Secure` when configured).
#[derive(Clone, Copy, Debug)]
pub struct CookieShape {
    /// The cookie's lifetime (`Max-Age`).
    pub max_age: Duration,
    /// Whether the cookie is `Secure` (sent over HTTPS only).
    pub secure: bool,
}

impl CookieShape {
    /// The `cookie` object of a new session that expires at `expires_at_ms`.
    pub fn cookie(&self, expires_at_ms: u64) -> Value {
        json!({
            "originalMaxAge": u64::try_from(self.max_age.as_millis()).unwrap_or(u64::MAX),
            "expires": iso(i64::try_from(expires_at_ms).unwrap_or(i64::MAX)),
            "secure": self.secure,
            "httpOnly": true,
            "path": "/",
            "sameSite": "lax",
        })
    }
}

/// A stored session split into its data and its `cookie` object.
#[derive(Debug, PartialEq)]
pub struct Stored {
    pub data: Map<String, Value>,
    /// `None` when the stored object had none.
    pub cookie: Option<Value>,
}

/// Reads a stored session; anything but a JSON object is an error.
pub fn decode(bytes: &[u8]) -> Result<Stored, serde_json::Error> {
    let mut data: Map<String, Value> = serde_json::from_slice(bytes)?;
    let cookie = data.shift_remove(COOKIE);
    Ok(Stored { data, cookie })
}

/// The stored form: `cookie` first, then the data (a `cookie` field in the data
/// would collide with express-session's, and is left out).
pub fn encode(data: &Map<String, Value>, cookie: Value) -> Vec<u8> {
    let mut object = Map::with_capacity(data.len() + 1);
    object.insert(COOKIE.to_owned(), cookie);
    for (key, value) in data.iter().filter(|(key, _)| *key != COOKIE) {
        object.insert(key.clone(), value.clone());
    }
    // A map of JSON values always serializes.
    serde_json::to_vec(&Value::Object(object)).unwrap_or_default()
}

/// `cookie` with its `expires` moved to `expires_at_ms` (a cookie without an
/// expiry, express-session's browser-session cookie, keeps none).
pub fn with_expiry(mut cookie: Value, expires_at_ms: u64) -> Value {
    if let Some(expires) = cookie
        .as_object_mut()
        .and_then(|c| c.get_mut("expires"))
        .filter(|e| !e.is_null())
    {
        *expires = json!(iso(i64::try_from(expires_at_ms).unwrap_or(i64::MAX)));
    }
    cookie
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What express-session 1.18.2 + connect-redis 7.1.1 stored for the seed's
    /// login with the seed's cookie options: `redis-cli GET sess:<id>` after a
    /// login on the Express peer (tests/e2e/peers/express-app.mjs).
    const FROM_EXPRESS: &str = r#"{"cookie":{"originalMaxAge":86400000,"expires":"2026-12-01T21:54:49.190Z","secure":false,"httpOnly":true,"path":"/","sameSite":"lax"},"userId":1,"username":"bob","isLoggedIn":true,"loginTime":"2026-11-30T21:54:49.189Z"}"#;

    #[test]
    fn reads_what_express_session_wrote_and_writes_it_back_unchanged() {
        let stored = decode(FROM_EXPRESS.as_bytes()).unwrap();
        assert_eq!(stored.data["username"], "bob");
        assert_eq!(stored.data["isLoggedIn"], true);
        assert!(!stored.data.contains_key("cookie"));
        let cookie = stored.cookie.clone().unwrap();
        assert_eq!(cookie["originalMaxAge"], 86_400_000);
        let again = encode(&stored.data, cookie);
        assert_eq!(String::from_utf8(again).unwrap(), FROM_EXPRESS);
    }

    #[test]
    fn a_new_cookie_and_a_moved_expiry() {
        let shape = CookieShape {
            max_age: Duration::from_secs(60),
            secure: true,
        };
        let cookie = shape.cookie(60_000);
        assert_eq!(
            cookie.to_string(),
            r#"{"originalMaxAge":60000,"expires":"1970-01-01T00:01:00.000Z","secure":true,"httpOnly":true,"path":"/","sameSite":"lax"}"#
        );
        let moved = with_expiry(cookie, 120_000);
        assert_eq!(moved["expires"], "1970-01-01T00:02:00.000Z");
        assert_eq!(moved["originalMaxAge"], 60_000);
        let browser_session = json!({"originalMaxAge": null, "expires": null});
        assert_eq!(with_expiry(browser_session.clone(), 5), browser_session);
    }

    #[test]
    fn data_named_cookie_is_left_out_and_non_objects_are_errors() {
        let data = json!({"cookie": 1, "n": 2}).as_object().unwrap().clone();
        let bytes = encode(&data, json!({}));
        assert_eq!(String::from_utf8(bytes).unwrap(), r#"{"cookie":{},"n":2}"#);
        for bad in ["", "[]", "1", "\"s\"", "{", "null"] {
            assert!(decode(bad.as_bytes()).is_err(), "{bad}");
        }
        assert_eq!(decode(b"{}").unwrap().cookie, None);
    }
}
