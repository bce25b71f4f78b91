//! The signed cookie value `<id>.<mac>`: a blake3 keyed MAC over the session id, with
//! keys derived from the current secret and any previous ones (rotation).

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use super::id::SessionId;
use super::secret::Secret;

const KEY_CONTEXT: &str = "sessio 2026 session cookie";
/// A 32-byte MAC is exactly 43 base64url characters.
const MAC_TEXT_LEN: usize = 43;

/// The MAC keys: the current one signs, all of them verify.
#[derive(Clone)]
pub struct CookieKeys {
    /// `keys[0]` is derived from the current secret.
    keys: Vec<[u8; 32]>,
}

impl CookieKeys {
    /// Keys from the current secret and the secrets it replaced.
    pub fn new(current: &Secret, previous: &[Secret]) -> CookieKeys {
        let keys = std::iter::once(current)
            .chain(previous)
            .map(|s| blake3::derive_key(KEY_CONTEXT, s.as_bytes()))
            .collect();
        CookieKeys { keys }
    }

    /// The cookie value for `id`, signed with the current key.
    pub fn sign(&self, id: &SessionId) -> String {
        let mac = blake3::keyed_hash(&self.keys[0], id.as_bytes());
        format!(
            "{}.{}",
            id.to_text(),
            URL_SAFE_NO_PAD.encode(mac.as_bytes())
        )
    }

    /// The id in a cookie value whose MAC any key accepts; `None` for anything else.
    pub fn verify(&self, value: &str) -> Option<SessionId> {
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
        let valid = self.keys.iter().fold(false, |valid, key| {
            valid | (blake3::keyed_hash(key, id.as_bytes()) == mac)
        });
        valid.then_some(id)
    }
}

impl fmt::Debug for CookieKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CookieKeys({} keys)", self.keys.len())
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
