//! Unguessable identifiers, and the session ids made of them.
//!
//! Ids come from BLAKE3 in keyed mode over a counter, the key drawn once from
//! the operating system's random source: as unpredictable as the key is
//! secret, and no system call per id (a connection takes two or three).
//! The same key derives ids from other ids ([`derived_id`]), so what can be
//! worked out again need not be kept.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use base64::Engine as _;

/// The process's id generator.
struct Generator {
    key: [u8; blake3::KEY_LEN],
    counter: AtomicU64,
}

/// What an id is made for: the generator's outputs and the derived ids
/// never coincide.
const COUNTED: u8 = 0;
const DERIVED: u8 = 1;

fn generator() -> &'static Generator {
    static GENERATOR: OnceLock<Generator> = OnceLock::new();
    GENERATOR.get_or_init(|| {
        let mut key = [0; blake3::KEY_LEN];
        // getrandom only fails where the OS has no random source at all; an
        // id made without one would be guessable, so there is nothing safe
        // to go on with.
        if let Err(err) = getrandom::fill(&mut key) {
            log::error!("the OS random source failed: {err}");
            std::process::abort();
        }
        Generator {
            key,
            counter: AtomicU64::new(0),
        }
    })
}

/// 128 unguessable bits as 22 URL-safe characters.
pub fn random_id() -> String {
    let n = generator().counter.fetch_add(1, Ordering::Relaxed);
    keyed(COUNTED, &n.to_le_bytes()).as_str().to_owned()
}

/// 128 bits that only this process can work out from `input`, as 22
/// URL-safe characters: unguessable without the key, however well `input`
/// is known.
pub(crate) fn derived_id(input: &str) -> IdText {
    keyed(DERIVED, input.as_bytes())
}

/// The first 128 bits of the keyed hash of `tag` and `data`, encoded.
fn keyed(tag: u8, data: &[u8]) -> IdText {
    let mut hasher = blake3::Hasher::new_keyed(&generator().key);
    hasher.update(&[tag]).update(data);
    let mut text = [0; 22];
    // 16 bytes encode to 22 characters exactly.
    let _ = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode_slice(&hasher.finalize().as_bytes()[..16], &mut text);
    IdText(text)
}

/// An id of 22 URL-safe characters, on the stack.
pub(crate) struct IdText([u8; 22]);

impl IdText {
    pub(crate) fn as_str(&self) -> &str {
        // Base64's alphabet is ASCII.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// A new session id: [`random_id`], after the node's tag when clustered.
pub(crate) fn new_sid(config: &super::EngineConfig) -> std::sync::Arc<str> {
    #[cfg(feature = "redis")]
    if !config.sid_prefix.is_empty() {
        return format!("{}{}", config.sid_prefix, random_id()).into();
    }
    let _ = config;
    random_id().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_long_and_distinct() {
        let a = random_id();
        let b = random_id();
        assert_eq!(a.len(), 22);
        assert_ne!(a, b);
    }

    #[test]
    fn derived_ids_are_stable_and_apart_from_their_input() {
        let id = random_id();
        let pid = derived_id(&id);
        assert_eq!(pid.as_str().len(), 22);
        assert_eq!(pid.as_str(), derived_id(&id).as_str());
        assert_ne!(pid.as_str(), id);
        assert_ne!(pid.as_str(), derived_id(&random_id()).as_str());
    }
}
