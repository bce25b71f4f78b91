//! Unguessable identifiers from the operating system's random source, and the
//! session ids made of them.

use base64::Engine as _;

/// 128 random bits as 22 URL-safe characters.
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    fill_random(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
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

fn fill_random(bytes: &mut [u8]) {
    // getrandom only fails where the OS has no random source at all; an id
    // made without one would be guessable, so there is nothing safe to go on with.
    if let Err(err) = getrandom::fill(bytes) {
        log::error!("the OS random source failed: {err}");
        std::process::abort();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_long_and_distinct() {
        let a = super::random_id();
        let b = super::random_id();
        assert_eq!(a.len(), 22);
        assert_ne!(a, b);
    }
}
