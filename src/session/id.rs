//! Session ids: 192 bits from the OS random source, written as 32 base64url characters.
//!
//! The raw id is a bearer credential: it only ever travels inside the signed cookie.
//! Anything that names a session elsewhere (the store, logs, Socket.IO rooms) uses a
//! one-way hash of it: [`SessionId::store_key`] and [`SessionId::room_key`].

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

const ID_BYTES: usize = 24;
/// Length of the text form: 24 bytes are exactly 32 base64 characters, so every text
/// of this length and alphabet decodes to one id and back.
const ID_TEXT_LEN: usize = 32;

/// An unguessable session id.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SessionId([u8; ID_BYTES]);

impl SessionId {
    /// A fresh id from the OS random source.
    ///
    /// Fails only when the OS has no random source to offer, which a server cannot
    /// work around.
    pub fn generate() -> Result<SessionId, getrandom::Error> {
        let mut bytes = [0u8; ID_BYTES];
        getrandom::fill(&mut bytes)?;
        Ok(SessionId(bytes))
    }

    /// Parses the text form; `None` unless it is exactly 32 base64url characters.
    pub fn parse(text: &str) -> Option<SessionId> {
        if text.len() != ID_TEXT_LEN
            || !text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return None;
        }
        let mut bytes = [0u8; ID_BYTES];
        let n = URL_SAFE_NO_PAD.decode_slice(text, &mut bytes).ok()?;
        (n == ID_BYTES).then_some(SessionId(bytes))
    }

    /// The text form (base64url, no padding): secret, for the cookie only.
    pub fn to_text(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// What the store keys this session by: blake3 of the id.
    pub fn store_key(&self) -> StoreKey {
        StoreKey::from_bytes(*blake3::hash(&self.0).as_bytes())
    }

    /// A stable, non-secret name for this session, for Socket.IO rooms and logs:
    /// the first 16 bytes of the store key in hex (so it is also the start of the
    /// key that `session list` shows).
    pub fn room_key(&self) -> String {
        self.store_key().room_key()
    }
}

/// Shows the room key, never the id itself.
impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId(room {})", self.room_key())
    }
}

/// The key a session is stored under: blake3 of its id. Displays as 64 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StoreKey([u8; 32]);

impl StoreKey {
    /// The key made of `bytes`, as a store reads one back.
    pub fn from_bytes(bytes: [u8; 32]) -> StoreKey {
        StoreKey(bytes)
    }

    /// The key's 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses the 64 hex digits that `Display` writes.
    pub fn parse(text: &str) -> Option<StoreKey> {
        let mut bytes = [0u8; 32];
        if text.len() != 64 || !text.is_ascii() {
            return None;
        }
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(StoreKey(bytes))
    }

    /// The session's name for Socket.IO rooms and logs: the first 16 bytes in
    /// hex (so it is also the start of what `session list` shows).
    pub fn room_key(&self) -> String {
        hex(&self.0[..16])
    }
}

/// `bytes` in lower-case hex (one per connection and log line: kept cheap).
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(2 * bytes.len());
    for b in bytes {
        text.push(char::from(DIGITS[usize::from(b >> 4)]));
        text.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    text
}

impl fmt::Display for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreKey({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips() {
        let id = SessionId::generate().unwrap();
        let text = id.to_text();
        assert_eq!(text.len(), ID_TEXT_LEN);
        assert_eq!(SessionId::parse(&text), Some(id));
    }

    #[test]
    fn ids_differ() {
        let a = SessionId::generate().unwrap();
        let b = SessionId::generate().unwrap();
        assert_ne!(a, b);
        assert_ne!(a.room_key(), b.room_key());
    }

    #[test]
    fn parse_rejects_bad_text() {
        let good = SessionId::generate().unwrap().to_text();
        assert!(SessionId::parse("").is_none());
        assert!(SessionId::parse(&good[1..]).is_none());
        assert!(SessionId::parse(&format!("{good}A")).is_none());
        assert!(SessionId::parse(&format!("{}=", &good[1..])).is_none());
        assert!(SessionId::parse(&format!("{}+", &good[1..])).is_none());
        assert!(SessionId::parse(&format!("{}é", &good[2..])).is_none());
    }

    #[test]
    fn room_key_and_debug_hide_the_id() {
        let id = SessionId::generate().unwrap();
        let room = id.room_key();
        assert_eq!(room.len(), 32);
        assert!(room.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(room, id.room_key());
        assert!(id.store_key().to_string().starts_with(&room));
        let debug = format!("{id:?}");
        assert!(!debug.contains(&id.to_text()));
        assert!(debug.contains(&room));
    }
}
