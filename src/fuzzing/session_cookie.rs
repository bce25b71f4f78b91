//! Fuzz target: the `Cookie` header, the signed cookie value and the session id.

use std::sync::OnceLock;

use crate::session::header::cookie_values;
use crate::session::{CookieKeys, Secret, SessionId};

/// The secret the seeds in `fuzz/corpus/session_cookie/` were signed with.
pub const SECRET: &str = "sessio fuzzing secret, not for use";
/// The secret it replaced, still accepted.
pub const OLD_SECRET: &str = "an older fuzzing secret";

/// The input is a `Cookie` header. Properties: at most 4 values of our cookie are
/// looked at, each a part of the header; a value that verifies is exactly what
/// signing its id with one of the keys gives (one text per id: no second spelling of an id or a MAC is
/// accepted); an id that parses prints back as the same text.
pub fn session_cookie(data: &[u8]) {
    // The keys verifying with a current and an old secret, and each secret's alone.
    static KEYS: OnceLock<[CookieKeys; 3]> = OnceLock::new();
    let [keys, current, old] = KEYS.get_or_init(|| {
        let current = Secret::from_text(SECRET).expect("a long enough secret"); // ok: a constant
        let old = Secret::from_text(OLD_SECRET).expect("a long enough secret"); // ok: a constant
        [
            CookieKeys::new(&current, std::slice::from_ref(&old)),
            CookieKeys::new(&current, &[]),
            CookieKeys::new(&old, &[]),
        ]
    });
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    let values: Vec<&str> = cookie_values(header, "sessio.sid").collect();
    assert!(values.len() <= 4);
    let range = header.as_bytes().as_ptr_range();
    for value in values {
        assert!(range.contains(&value.as_ptr()) || value.is_empty());
        if let Some(id) = keys.verify(value) {
            assert!(
                current.sign(&id) == value || old.sign(&id) == value,
                "{value}"
            );
        }
    }
    for text in [header, header.split_once('.').map_or(header, |(id, _)| id)] {
        if let Some(id) = SessionId::parse(text) {
            assert_eq!(id.to_text(), text);
        }
    }
}
