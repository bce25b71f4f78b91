//! express-session's cookie value, as the cookie-signature package signs it:
//! `s:` + id + `.` + base64 (standard alphabet, `=` stripped) of
//! HMAC-SHA256(secret, id), the whole value URL-encoded (`s%3A<id>.<mac>`), so an
//! Express app with the same secret reads sessio's cookies and the reverse.
//! Verification is constant-time and accepts previous secrets (express-session's
//! secret array).

use std::fmt;

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::id::SessionId;
use super::secret::Secret;

type HmacSha256 = Hmac<Sha256>;

/// A 32-byte MAC is 43 base64 characters without padding.
const MAC_TEXT_LEN: usize = 43;

/// Why a cookie value is not a valid express-session cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExpressCookieError {
    /// A `%` not followed by two hex digits, or decoded bytes that are not UTF-8.
    Encoding,
    /// Not a signed value (express-session's start with `s:`).
    Unsigned,
    /// No `.` between the id and the signature.
    NoSignature,
    /// The id is not 32 base64url characters (uid-safe(24), as express-session makes).
    Id,
    /// The signature is malformed, or no secret made it.
    Signature,
}

impl fmt::Display for ExpressCookieError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExpressCookieError::Encoding => "bad URL encoding",
            ExpressCookieError::Unsigned => "not a signed value (no s: prefix)",
            ExpressCookieError::NoSignature => "no signature",
            ExpressCookieError::Id => "not a session id",
            ExpressCookieError::Signature => "bad signature",
        })
    }
}

impl std::error::Error for ExpressCookieError {}

/// HMAC keys from the current secret and previous ones: the first signs, all verify.
#[derive(Clone)]
pub struct ExpressKeys {
    macs: Vec<HmacSha256>,
}

impl ExpressKeys {
    /// Keys from `current` (which signs) and `previous` (which still verify).
    pub fn new(current: &Secret, previous: &[Secret]) -> ExpressKeys {
        let macs = std::iter::once(current)
            .chain(previous)
            .map(|secret| {
                // HMAC takes a key of any length.
                HmacSha256::new_from_slice(secret.as_bytes())
                    .unwrap_or_else(|_| HmacSha256::new(&Default::default()))
            })
            .collect();
        ExpressKeys { macs }
    }

    /// The cookie value for `id`: `s%3A<id>.<mac>`, URL-encoded as Express sends it.
    pub fn sign(&self, id: &SessionId) -> String {
        let text = id.to_text();
        let mac = self.macs[0].clone().chain_update(&text).finalize();
        let mac = STANDARD_NO_PAD.encode(mac.into_bytes());
        // The id is base64url (left as is by encodeURIComponent); the MAC's
        // `+` and `/` are not.
        let mac = mac.replace('+', "%2B").replace('/', "%2F");
        format!("s%3A{text}.{mac}")
    }

    /// The session id in a cookie value (URL-encoded or not) that one of the
    /// secrets signed.
    pub fn verify(&self, value: &str) -> Result<SessionId, ExpressCookieError> {
        let decoded = percent_decode(value)?;
        let signed = decoded
            .strip_prefix("s:")
            .ok_or(ExpressCookieError::Unsigned)?;
        let (id_text, mac_text) = signed
            .rsplit_once('.')
            .ok_or(ExpressCookieError::NoSignature)?;
        let id = SessionId::parse(id_text).ok_or(ExpressCookieError::Id)?;
        let mut mac = [0u8; 32];
        // The decoder refuses non-zero trailing bits: one spelling per MAC, as
        // cookie-signature's string comparison has it.
        if mac_text.len() != MAC_TEXT_LEN
            || STANDARD_NO_PAD.decode_slice(mac_text, &mut mac) != Ok(mac.len())
        {
            return Err(ExpressCookieError::Signature);
        }
        // verify_slice is constant-time; every key is tried.
        let valid = self.macs.iter().fold(false, |valid, key| {
            valid | key.clone().chain_update(id_text).verify_slice(&mac).is_ok()
        });
        valid.then_some(id).ok_or(ExpressCookieError::Signature)
    }
}

impl fmt::Debug for ExpressKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ExpressKeys({} keys)", self.macs.len())
    }
}

/// `%XX` sequences decoded, as decodeURIComponent does (`+` stays `+`).
pub(crate) fn percent_decode(text: &str) -> Result<String, ExpressCookieError> {
    if !text.contains('%') {
        return Ok(text.to_owned());
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .ok_or(ExpressCookieError::Encoding)?;
            let hex = std::str::from_utf8(hex).map_err(|_| ExpressCookieError::Encoding)?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ExpressCookieError::Encoding);
            }
            out.push(u8::from_str_radix(hex, 16).map_err(|_| ExpressCookieError::Encoding)?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ExpressCookieError::Encoding)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: &str) -> ExpressKeys {
        ExpressKeys::new(&Secret::from_text(secret).unwrap(), &[])
    }

    /// Made with node 20 and the cookie-signature 1.0.7 that express-session 1.18.2
    /// uses (tests/node_modules/express-session/node_modules/cookie-signature):
    /// `encodeURIComponent('s:' + sign(NODE_ID, NODE_SECRET))`, as express-session's
    /// `setcookie` does. Its MAC has both a `+` and a `/`.
    const NODE_ID: &str = "4bD9e-Qg1u8mZ0Tyk_Xb3LqY0aPVn2cJ";
    const NODE_SECRET: &str = "keyboard cat secret 1";
    const NODE_VALUE: &str =
        "s%3A4bD9e-Qg1u8mZ0Tyk_Xb3LqY0aPVn2cJ.5jISSVDFb%2B05H2zCGIIxHiuy0gLj9vEfzSEh%2FVKVK%2Bo";

    #[test]
    fn a_value_signed_by_node_verifies() {
        let value = NODE_VALUE.trim();
        let id = SessionId::parse(NODE_ID).unwrap();
        assert_eq!(keys(NODE_SECRET).verify(value), Ok(id.clone()));
        // Node's cookie parser hands the decoded value on: that verifies too.
        let decoded = percent_decode(value).unwrap();
        assert!(decoded.starts_with("s:"));
        assert_eq!(keys(NODE_SECRET).verify(&decoded), Ok(id.clone()));
        // And sessio signs exactly what Node signs.
        assert_eq!(keys(NODE_SECRET).sign(&id), value);
        assert_eq!(
            keys("another secret 0001").verify(value),
            Err(ExpressCookieError::Signature)
        );
    }

    #[test]
    fn previous_secrets_verify_and_the_current_one_signs() {
        let old = Secret::from_text("old express secret").unwrap();
        let new = Secret::from_text("new express secret").unwrap();
        let id = SessionId::generate().unwrap();
        let old_value = ExpressKeys::new(&old, &[]).sign(&id);
        let rotated = ExpressKeys::new(&new, &[old]);
        assert_eq!(rotated.verify(&old_value), Ok(id.clone()));
        let new_value = rotated.sign(&id);
        assert_ne!(new_value, old_value);
        assert_eq!(ExpressKeys::new(&new, &[]).verify(&new_value), Ok(id));
    }

    #[test]
    fn tampering_and_garbage_are_refused() {
        let keys = keys(NODE_SECRET);
        let id = SessionId::generate().unwrap();
        let value = percent_decode(&keys.sign(&id)).unwrap();
        for i in 0..value.len() {
            let mut bytes = value.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(bytes).unwrap();
            assert!(keys.verify(&altered).is_err(), "altered at {i}: {altered}");
        }
        let mac = value.rsplit_once('.').unwrap().1;
        let text = id.to_text();
        for (bad, why) in [
            ("", ExpressCookieError::Unsigned),
            ("s:", ExpressCookieError::NoSignature),
            ("%", ExpressCookieError::Encoding),
            ("s%3", ExpressCookieError::Encoding),
            ("s%zz", ExpressCookieError::Encoding),
            ("%ff%fe", ExpressCookieError::Encoding),
            (&format!("{text}.{mac}"), ExpressCookieError::Unsigned),
            (&format!("s:{text}"), ExpressCookieError::NoSignature),
            (&format!("s:{}.{mac}", &text[1..]), ExpressCookieError::Id),
            (&format!("s:{text}.{mac}="), ExpressCookieError::Signature),
            (
                &format!("s:{text}.{}", &mac[1..]),
                ExpressCookieError::Signature,
            ),
            (&format!("s:{text}.x.{mac}"), ExpressCookieError::Id),
        ] {
            assert_eq!(keys.verify(bad), Err(why), "{bad:?}");
        }
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("s%3Aa%2Bb%2fc+d").unwrap(), "s:a+b/c+d");
        assert_eq!(percent_decode("%C3%A9").unwrap(), "é");
        assert_eq!(percent_decode("plain").unwrap(), "plain");
    }
}
