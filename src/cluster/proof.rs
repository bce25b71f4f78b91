//! The client's address, passed from the node a request came to on to the
//! node that holds its session: the header [`HEADER`] holds the address, the
//! time and a keyed BLAKE3 hash of both with the request's method and target,
//! under a key derived from the cluster's shared secret. A client cannot make
//! one (it has not the secret), nor reuse one it never sees for another
//! request or after [`MAX_AGE_SECS`].

use std::fmt;
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::session::Secret;

/// The header a forwarding node adds.
pub const HEADER: &str = "sessio-forwarded-for";
/// How old (or how far ahead, between clocks) a proof may be, in seconds.
pub const MAX_AGE_SECS: u64 = 30;

/// The key the nodes of one cluster sign with.
#[derive(Clone)]
pub struct ProofKey([u8; 32]);

/// Why a header was not believed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofError {
    /// Not `ADDRESS TIME HASH`.
    Malformed,
    /// Older or newer than [`MAX_AGE_SECS`].
    Stale,
    /// The hash is not the cluster's.
    Forged,
}

impl fmt::Display for ProofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProofError::Malformed => "a malformed forwarding header",
            ProofError::Stale => "a stale forwarding header",
            ProofError::Forged => "a forwarding header not signed by the cluster",
        })
    }
}

impl std::error::Error for ProofError {}

impl ProofKey {
    /// The key derived from the cluster's secret.
    pub fn new(secret: &Secret) -> ProofKey {
        ProofKey(blake3::derive_key(
            "sessio 2026 forwarded client address",
            secret.as_bytes(),
        ))
    }

    fn hash(&self, ip: IpAddr, secs: u64, method: &str, target: &str) -> blake3::Hash {
        let mut hasher = blake3::Hasher::new_keyed(&self.0);
        for part in [&ip.to_string(), &secs.to_string(), method, target] {
            // Lengths first: no two lists of parts hash alike.
            hasher.update(&(part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        hasher.finalize()
    }

    /// The header's value for a request (`method`, `target`: its path and
    /// query) from `ip`, made now.
    pub fn sign(&self, ip: IpAddr, method: &str, target: &str) -> String {
        let secs = now_secs();
        format!(
            "{ip} {secs} {}",
            self.hash(ip, secs, method, target).to_hex()
        )
    }

    /// The client's address in `value`, if this cluster signed it for this
    /// request within [`MAX_AGE_SECS`] of `now_secs`. The hashes are compared
    /// in constant time.
    pub fn verify(
        &self,
        value: &str,
        method: &str,
        target: &str,
        now_secs: u64,
    ) -> Result<IpAddr, ProofError> {
        let mut parts = value.split(' ');
        let (Some(ip), Some(secs), Some(hash), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(ProofError::Malformed);
        };
        let ip: IpAddr = ip.parse().map_err(|_| ProofError::Malformed)?;
        let secs: u64 = secs.parse().map_err(|_| ProofError::Malformed)?;
        let hash = blake3::Hash::from_hex(hash).map_err(|_| ProofError::Malformed)?;
        if secs.abs_diff(now_secs) > MAX_AGE_SECS {
            return Err(ProofError::Stale);
        }
        // blake3::Hash's equality is constant-time.
        if self.hash(ip, secs, method, target) != hash {
            return Err(ProofError::Forged);
        }
        Ok(ip)
    }
}

/// Seconds since the Unix epoch, as proofs count time.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> ProofKey {
        ProofKey::new(&Secret::from_text(text).unwrap())
    }

    const TARGET: &str = "/socket.io/?EIO=4&transport=polling&sid=x";

    #[test]
    fn a_signed_address_is_believed_for_its_request_only() {
        let k = key("the cluster's shared secret");
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        let value = k.sign(ip, "GET", TARGET);
        let now = now_secs();
        assert_eq!(k.verify(&value, "GET", TARGET, now), Ok(ip));
        assert_eq!(
            k.verify(&value, "POST", TARGET, now),
            Err(ProofError::Forged)
        );
        assert_eq!(
            k.verify(&value, "GET", "/socket.io/?sid=y", now),
            Err(ProofError::Forged)
        );
        let other = key("another cluster's secret");
        assert_eq!(
            other.verify(&value, "GET", TARGET, now),
            Err(ProofError::Forged)
        );
        assert_eq!(
            k.verify(&value, "GET", TARGET, now + MAX_AGE_SECS + 1),
            Err(ProofError::Stale)
        );
    }

    #[test]
    fn a_changed_or_made_up_header_is_not() {
        let k = key("the cluster's shared secret");
        let value = k.sign("10.0.0.7".parse().unwrap(), "GET", TARGET);
        let now = now_secs();
        let moved = value.replacen("10.0.0.7", "10.0.0.8", 1);
        assert_eq!(
            k.verify(&moved, "GET", TARGET, now),
            Err(ProofError::Forged)
        );
        let made_up = format!("1.2.3.4 {now} {}", "0".repeat(64));
        assert_eq!(
            k.verify(&made_up, "GET", TARGET, now),
            Err(ProofError::Forged)
        );
        for junk in [
            "",
            "1.2.3.4",
            "1.2.3.4 5",
            "x 1 00",
            &format!("{value} extra"),
        ] {
            assert_eq!(
                k.verify(junk, "GET", TARGET, now),
                Err(ProofError::Malformed),
                "{junk}"
            );
        }
    }
}
