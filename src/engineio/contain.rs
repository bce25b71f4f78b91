//! Panic containment: user handlers and per-session steps run through
//! [`contain`], so a panic in one costs its socket or session, not the task
//! (a WebSocket connection, the heartbeat) that serves many. Where the panic
//! happened is printed by the panic hook; the caller logs who it cost.

use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `f`; a panic comes back as its message. Shared state stays usable
/// after one: every lock in the transport is taken with poisoning ignored,
/// and every critical section leaves its data whole.
pub(crate) fn contain<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        if let Some(text) = payload.downcast_ref::<&str>() {
            (*text).to_owned()
        } else if let Some(text) = payload.downcast_ref::<String>() {
            text.clone()
        } else {
            "a panic without a message".to_owned()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::contain;

    #[test]
    fn a_panic_becomes_its_message() {
        assert_eq!(contain(|| 7), Ok(7));
        assert_eq!(
            contain(|| -> () { panic!("boom {}", 1) }),
            Err("boom 1".into())
        );
        assert_eq!(contain(|| -> () { panic!("static") }), Err("static".into()));
        assert_eq!(
            contain(|| -> () { std::panic::panic_any(5u8) }),
            Err("a panic without a message".into())
        );
    }
}
