//! Who waits on an Engine.IO session: its pending GET and its WebSocket's
//! task, never more than one of each. Each has a slot for its waker, and the
//! session counts its changes, so a wait made before the state is looked at
//! hears every change after it. A general event cost every connection two
//! allocations, and each wait one more, for at most two waiters.

use std::task::{Context, Poll, Waker};

/// One of a session's two waiters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Waiter {
    /// The long-polling GET waiting for frames.
    Poll,
    /// The WebSocket's task.
    WebSocket,
}

/// A wait for the session's next change: made before its state is looked
/// at, it is ready once anything changes after.
#[derive(Debug)]
pub(crate) struct Listener {
    waiter: Waiter,
    seen: u64,
}

/// The session's change count and its waiters' wakers (kept under the
/// session's lock).
#[derive(Debug, Default)]
pub(crate) struct Waiters {
    changes: u64,
    wakers: [Option<Waker>; 2],
}

impl Waiters {
    pub(crate) fn listen(&self, waiter: Waiter) -> Listener {
        Listener {
            waiter,
            seen: self.changes,
        }
    }

    /// Ready once the session changed after `listener` was made; otherwise
    /// keeps the waker to wake when it does.
    pub(crate) fn poll(&mut self, listener: &Listener, cx: &mut Context<'_>) -> Poll<()> {
        if self.changes != listener.seen {
            return Poll::Ready(());
        }
        let slot = &mut self.wakers[listener.waiter as usize];
        if !slot.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            *slot = Some(cx.waker().clone());
        }
        Poll::Pending
    }

    /// `waiter` stopped waiting: its waker, and the task it keeps alive, go.
    pub(crate) fn forget(&mut self, waiter: Waiter) {
        self.wakers[waiter as usize] = None;
    }

    /// Counts a change; the wakers taken are woken once the session's lock
    /// is released.
    #[must_use = "the waiters must be woken"]
    pub(crate) fn changed(&mut self) -> Woken {
        self.changes = self.changes.wrapping_add(1);
        Woken(std::mem::take(&mut self.wakers))
    }
}

/// Wakers taken by [`Waiters::changed`], to wake outside the lock.
pub(crate) struct Woken([Option<Waker>; 2]);

impl Woken {
    pub(crate) fn wake(self) {
        for waker in self.0.into_iter().flatten() {
            waker.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counter() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        (count.clone(), Waker::from(count))
    }

    #[test]
    fn a_change_after_listening_is_heard_and_wakes_the_waiter() {
        let mut waiters = Waiters::default();
        let (count, waker) = counter();
        let mut cx = Context::from_waker(&waker);
        let listener = waiters.listen(Waiter::Poll);
        assert!(waiters.poll(&listener, &mut cx).is_pending());
        waiters.changed().wake();
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert!(waiters.poll(&listener, &mut cx).is_ready());
    }

    #[test]
    fn a_change_before_listening_is_not_heard() {
        let mut waiters = Waiters::default();
        let (_, waker) = counter();
        let mut cx = Context::from_waker(&waker);
        waiters.changed().wake();
        let listener = waiters.listen(Waiter::WebSocket);
        assert!(waiters.poll(&listener, &mut cx).is_pending());
    }

    #[test]
    fn a_change_made_before_the_first_poll_is_heard() {
        let mut waiters = Waiters::default();
        let (count, waker) = counter();
        let mut cx = Context::from_waker(&waker);
        let listener = waiters.listen(Waiter::Poll);
        waiters.changed().wake();
        assert!(waiters.poll(&listener, &mut cx).is_ready());
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn each_waiter_has_its_own_slot_and_a_forgotten_one_is_not_woken() {
        let mut waiters = Waiters::default();
        let (polled, poll_waker) = counter();
        let (ws, ws_waker) = counter();
        let get = waiters.listen(Waiter::Poll);
        let task = waiters.listen(Waiter::WebSocket);
        assert!(waiters
            .poll(&get, &mut Context::from_waker(&poll_waker))
            .is_pending());
        assert!(waiters
            .poll(&task, &mut Context::from_waker(&ws_waker))
            .is_pending());
        waiters.forget(Waiter::Poll);
        assert_eq!(
            Arc::strong_count(&polled),
            2,
            "the forgotten waker is dropped"
        );
        waiters.changed().wake();
        assert_eq!(polled.0.load(Ordering::SeqCst), 0);
        assert_eq!(ws.0.load(Ordering::SeqCst), 1);
    }
}
