//! The signed cookie value and the room a session's sockets share. Two formats:
//! sessio's `<id>.<mac>`, a blake3 keyed MAC over the session id with keys derived
//! from the current secret and any previous ones (rotation), its rooms named by a
//! hash of the id; and, with the `redis` feature, express-session's
//! `s%3A<id>.<HMAC-SHA256>` ([`super::express_cookie`]), its rooms named by the id
//! itself as the seed's `socket.join(session.id)` does, so Node servers and sessio
//! reach each other's session sockets.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

#[cfg(feature = "redis")]
use super::express_cookie::ExpressKeys;
use super::id::SessionId;
use super::secret::Secret;

const KEY_CONTEXT: &str = "sessio 2026 session cookie";
/// A 32-byte MAC is exactly 43 base64url characters.
const MAC_TEXT_LEN: usize = 43;

/// The cookie keys: the current one signs, all of them verify.
#[derive(Clone)]
pub struct CookieKeys {
    format: Format,
}

#[derive(Clone)]
enum Format {
    /// `keys[0]` is derived from the current secret.
    Sessio(Vec<[u8; 32]>),
    #[cfg(feature = "redis")]
    Express(ExpressKeys),
}

impl CookieKeys {
    /// sessio's format, keys from the current secret and the secrets it replaced.
    pub fn new(current: &Secret, previous: &[Secret]) -> CookieKeys {
        let keys = std::iter::once(current)
            .chain(previous)
            .map(|s| blake3::derive_key(KEY_CONTEXT, s.as_bytes()))
            .collect();
        CookieKeys {
            format: Format::Sessio(keys),
        }
    }

    /// express-session's format: the secret is the HMAC key as given (so
    /// an Express app configured with the same secret text shares the logins).
    #[cfg(feature = "redis")]
    pub fn express(current: &Secret, previous: &[Secret]) -> CookieKeys {
        CookieKeys {
            format: Format::Express(ExpressKeys::new(current, previous)),
        }
    }

    /// The cookie value for `id`, signed with the current key.
    pub fn sign(&self, id: &SessionId) -> String {
        match &self.format {
            Format::Sessio(keys) => {
                let mac = blake3::keyed_hash(&keys[0], id.as_bytes());
                format!(
                    "{}.{}",
                    id.to_text(),
                    URL_SAFE_NO_PAD.encode(mac.as_bytes())
                )
            }
            #[cfg(feature = "redis")]
            Format::Express(keys) => keys.sign(id),
        }
    }

    /// The id in a cookie value whose MAC any key accepts; `None` for anything else.
    pub fn verify(&self, value: &str) -> Option<SessionId> {
        match &self.format {
            Format::Sessio(keys) => verify_sessio(keys, value),
            #[cfg(feature = "redis")]
            Format::Express(keys) => keys.verify(value).ok(),
        }
    }

    /// The name of the Socket.IO room of the session `id`'s sockets: a hash of
    /// the id ([`SessionId::room_key`]) in sessio's format, the id itself in
    /// express-session's (as the seed names it).
    pub fn room(&self, id: &SessionId) -> String {
        match &self.format {
            Format::Sessio(_) => id.room_key(),
            #[cfg(feature = "redis")]
            Format::Express(_) => id.to_text(),
        }
    }

    /// The format's name, for the start-up line.
    pub fn format_name(&self) -> &'static str {
        match &self.format {
            Format::Sessio(_) => "sessio",
            #[cfg(feature = "redis")]
            Format::Express(_) => "express",
        }
    }
}

fn verify_sessio(keys: &[[u8; 32]], value: &str) -> Option<SessionId> {
    let (id_text, mac_text) = value.split_once('.')?;
    let id = SessionId::parse(id_text)?;
    if mac_text.len() != MAC_TEXT_LEN {
        return None;
    }
    let mut mac = [0u8; 32];
    if URL_SAFE_NO_PAD.decode_slice(mac_text, &mut mac).ok()? != mac.len() {
        return None;
    }
    let mac = blake3::Hash::from(mac);
    // `blake3::Hash` equality is constant-time; every key is tried.
    let valid = keys.iter().fold(false, |valid, key| {
        valid | (blake3::keyed_hash(key, id.as_bytes()) == mac)
    });
    valid.then_some(id)
}

impl fmt::Debug for CookieKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.format {
            Format::Sessio(keys) => write!(f, "CookieKeys({} keys)", keys.len()),
            #[cfg(feature = "redis")]
            Format::Express(keys) => write!(f, "CookieKeys(express, {keys:?})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(text: &str) -> Secret {
        Secret::from_text(text).unwrap()
    }

    #[test]
    fn signed_value_verifies() {
        let keys = CookieKeys::new(&secret("current secret 0001"), &[]);
        let id = SessionId::generate().unwrap();
        let value = keys.sign(&id);
        assert_eq!(value.len(), 32 + 1 + MAC_TEXT_LEN);
        assert_eq!(keys.verify(&value), Some(id));
    }

    #[test]
    fn tampering_is_rejected() {
        let keys = CookieKeys::new(&secret("current secret 0001"), &[]);
        let id = SessionId::generate().unwrap();
        let value = keys.sign(&id);
        // Flip each character in turn: nothing but the original verifies.
        for i in 0..value.len() {
            let mut bytes = value.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(bytes).unwrap();
            assert_eq!(keys.verify(&altered), None, "altered at {i}: {altered}");
        }
        // Another id with the first id's MAC.
        let other = SessionId::generate().unwrap();
        let mac = value.split_once('.').unwrap().1;
        assert_eq!(keys.verify(&format!("{}.{mac}", other.to_text())), None);
    }

    #[test]
    fn garbage_is_rejected() {
        let keys = CookieKeys::new(&secret("current secret 0001"), &[]);
        let id = SessionId::generate().unwrap().to_text();
        for value in [
            "",
            ".",
            "..",
            "s:abc.def",
            &id,
            &format!("{id}."),
            &format!("{id}.{}", "A".repeat(42)),
            &format!("{id}.{}", "A".repeat(44)),
            &format!("{id}.{}", "é".repeat(21)),
            &format!("{id}.{}.", "A".repeat(43)),
            &format!(".{id}"),
        ] {
            assert_eq!(keys.verify(value), None, "{value}");
        }
    }

    #[test]
    fn rotation_keeps_old_cookies_valid() {
        let old = CookieKeys::new(&secret("old secret 00000001"), &[]);
        let id = SessionId::generate().unwrap();
        let old_value = old.sign(&id);

        let rotated = CookieKeys::new(
            &secret("new secret 00000002"),
            &[secret("old secret 00000001")],
        );
        assert_eq!(rotated.verify(&old_value), Some(id.clone()));
        // New cookies are signed with the new secret only.
        let new_value = rotated.sign(&id);
        assert_ne!(new_value, old_value);
        assert_eq!(old.verify(&new_value), None);

        let unrelated = CookieKeys::new(
            &secret("new secret 00000002"),
            &[secret("other secret 000003")],
        );
        assert_eq!(unrelated.verify(&old_value), None);
    }
}
