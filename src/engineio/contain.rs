//! Panic containment: user handlers and per-session steps run through
//! [`contain`], so a panic in one costs its socket or session, not the task
//! (a WebSocket connection, the heartbeat) that serves many. Where the panic
//! happened is printed by the panic hook; the caller logs who it cost.

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};

use smol::future::FutureExt;

/// Runs `f`; a panic comes back as its message. Shared state stays usable
/// after one: every lock in the transport is taken with poisoning ignored,
/// and every critical section leaves its data whole.
pub(crate) fn contain<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(message)
}

/// [`contain`] for a future: a panic while it is polled ends it and comes
/// back as its message.
pub(crate) async fn contain_future<T>(f: impl Future<Output = T>) -> Result<T, String> {
    AssertUnwindSafe(f).catch_unwind().await.map_err(message)
}

fn message(payload: Box<dyn Any + Send>) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::{contain, contain_future};

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

    #[test]
    fn a_panicking_future_becomes_its_message() {
        let ok = smol::block_on(contain_future(async { 7 }));
        assert_eq!(ok, Ok(7));
        let failed = smol::block_on(contain_future(async {
            smol::future::yield_now().await;
            panic!("late {}", 2)
        }));
        assert_eq!(failed, Err::<(), _>("late 2".into()));
    }
}
