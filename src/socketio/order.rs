//! The order of one socket's events: whether one of its async handlers runs
//! and the events waiting behind it, and the loop that runs them in turn.
//! Knows nothing of sockets or handlers (`handler.rs` uses it), so it is
//! tested alone.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Mutex, MutexGuard};

/// A socket's events in the order they came: whether one of its async
/// handlers runs, and what waits behind it.
pub(crate) struct Order<T>(Mutex<Waiters<T>>);

/// `None`: nothing runs. Boxed, so that an idle socket holds a pointer's
/// worth rather than a `VecDeque`'s four.
#[allow(clippy::box_collection)]
type Waiters<T> = Option<Box<VecDeque<T>>>;

/// What becomes of an event that arrives, as [`Order::arrive`] says.
#[derive(Debug, PartialEq)]
pub(crate) enum Arrival<T> {
    /// Nothing runs: run it now, here.
    Now(T),
    /// Nothing ran and it is async: run it in a task, which then runs what
    /// comes to wait behind it ([`drain`]).
    Start(T),
    /// It waits its turn.
    Queued,
    /// As many wait as may: it is refused.
    Full(T),
}

impl<T> Default for Order<T> {
    fn default() -> Self {
        Order(Mutex::new(None))
    }
}

impl<T> Order<T> {
    fn lock(&self) -> MutexGuard<'_, Waiters<T>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An event arrives; `asynchronous` when its handler is async, `max`
    /// the most that may wait.
    pub(crate) fn arrive(&self, item: T, asynchronous: bool, max: usize) -> Arrival<T> {
        let mut order = self.lock();
        match order.as_mut() {
            Some(waiting) if waiting.len() >= max => Arrival::Full(item),
            Some(waiting) => {
                waiting.push_back(item);
                Arrival::Queued
            }
            None if asynchronous => {
                *order = Some(Box::default());
                Arrival::Start(item)
            }
            None => Arrival::Now(item),
        }
    }

    /// The next event waiting, or none: then nothing runs any more and the
    /// queue is given back.
    pub(crate) fn next(&self) -> Option<T> {
        let mut order = self.lock();
        let next = order.as_mut().and_then(|waiting| waiting.pop_front());
        if next.is_none() {
            *order = None;
        }
        next
    }

    /// Drops what waits (the socket left); a running handler finishes.
    pub(crate) fn drop_waiting(&self) {
        let waiting = self.lock().as_mut().map(|w| std::mem::take(&mut **w));
        drop(waiting);
    }
}

/// Runs `first`, then each event that comes to wait in `order`, until none
/// does.
pub(crate) async fn drain<T, F>(order: &Order<T>, first: T, mut run: impl FnMut(T) -> F)
where
    F: Future<Output = ()>,
{
    let mut next = Some(first);
    while let Some(item) = next {
        run(item).await;
        next = order.next();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smol::channel;
    use std::cell::RefCell;
    use std::sync::Arc;

    #[test]
    fn an_idle_order_runs_sync_events_at_once_and_holds_nothing() {
        let order = Order::default();
        assert_eq!(order.arrive(1, false, 4), Arrival::Now(1));
        assert_eq!(order.arrive(2, false, 4), Arrival::Now(2));
        assert!(order.lock().is_none());
        // An idle socket pays one pointer-sized option behind a lock,
        // whatever waits.
        assert!(std::mem::size_of::<Order<[u8; 1024]>>() <= 16);
    }

    #[test]
    fn events_wait_behind_an_async_one_in_the_order_they_came() {
        let order = Order::default();
        assert_eq!(order.arrive(1, true, 4), Arrival::Start(1));
        assert_eq!(order.arrive(2, false, 4), Arrival::Queued);
        assert_eq!(order.arrive(3, true, 4), Arrival::Queued);
        assert_eq!(order.next(), Some(2));
        assert_eq!(order.arrive(4, false, 4), Arrival::Queued);
        assert_eq!(order.next(), Some(3));
        assert_eq!(order.next(), Some(4));
        assert_eq!(order.next(), None);
        // Idle again: the queue is given back and a sync event runs at once.
        assert!(order.lock().is_none());
        assert_eq!(order.arrive(5, false, 4), Arrival::Now(5));
    }

    #[test]
    fn at_most_max_wait() {
        let order = Order::default();
        assert_eq!(order.arrive(0, true, 2), Arrival::Start(0));
        assert_eq!(order.arrive(1, false, 2), Arrival::Queued);
        assert_eq!(order.arrive(2, true, 2), Arrival::Queued);
        assert_eq!(order.arrive(3, false, 2), Arrival::Full(3));
        assert_eq!(order.next(), Some(1));
        assert_eq!(order.arrive(3, false, 2), Arrival::Queued);
    }

    #[test]
    fn what_waits_is_dropped_when_the_socket_leaves() {
        let order = Order::default();
        let event = Arc::new(());
        assert!(matches!(
            order.arrive(event.clone(), true, 4),
            Arrival::Start(_)
        ));
        assert!(matches!(
            order.arrive(event.clone(), false, 4),
            Arrival::Queued
        ));
        assert_eq!(Arc::strong_count(&event), 2);
        order.drop_waiting();
        assert_eq!(Arc::strong_count(&event), 1);
        // The running handler ends and finds nothing after it.
        assert!(order.next().is_none());
        assert!(order.lock().is_none());
    }

    /// Events 1 (async, held until released), 2 (sync) and 3 (async) of one
    /// socket, and event 10 of another socket meanwhile: 2 and 3 run only
    /// after 1 ends, in order; 10 is not held up.
    #[test]
    fn the_drain_runs_what_waits_in_order_and_holds_up_nothing_else() {
        let ran = RefCell::new(Vec::new());
        let (release, released) = channel::bounded::<()>(1);
        let (one, other) = (Order::default(), Order::default());
        let run = |n: u32| {
            let (ran, released) = (&ran, released.clone());
            async move {
                if n == 1 {
                    let _ = released.recv().await;
                }
                ran.borrow_mut().push(n);
            }
        };
        smol::block_on(async {
            let Arrival::Start(first) = one.arrive(1, true, 8) else {
                panic!("an idle socket's async event starts")
            };
            let mut first = Box::pin(drain(&one, first, run));
            // Event 1 runs and waits to be released.
            assert!(smol::future::poll_once(&mut first).await.is_none());
            assert_eq!(one.arrive(2, false, 8), Arrival::Queued);
            assert_eq!(one.arrive(3, true, 8), Arrival::Queued);
            let Arrival::Start(ten) = other.arrive(10, true, 8) else {
                panic!("another socket is idle")
            };
            drain(&other, ten, run).await;
            assert_eq!(*ran.borrow(), [10]);
            release.send(()).await.unwrap();
            first.await;
        });
        assert_eq!(*ran.borrow(), [10, 1, 2, 3]);
        assert!(one.lock().is_none() && other.lock().is_none());
    }
}
