//! What waits to be published: a queue bounded in bytes between the tasks
//! that publish (sockets' tasks, which must never wait on Redis) and the one
//! publisher. A message that would take it past its bound is dropped, and
//! counted.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use smol::channel::{self, Receiver, Sender};

/// A channel and a message for it.
pub(crate) type Message = (String, Vec<u8>);

/// What an item of the queue counts for against its bound.
pub(crate) trait Weigh {
    fn weight(&self) -> usize;
}

impl Weigh for Message {
    fn weight(&self) -> usize {
        self.0.len() + self.1.len()
    }
}

pub(crate) struct Outbox<M = Message> {
    tx: Sender<M>,
    rx: Receiver<M>,
    /// Bytes queued now, and the most there may be.
    bytes: AtomicUsize,
    max_bytes: usize,
    dropped: AtomicU64,
}

impl Outbox<Message> {
    /// Queues a message, or drops it (counted) when it does not fit.
    pub(crate) fn push(&self, channel: String, message: Vec<u8>) -> bool {
        self.push_item((channel, message))
    }
}

impl<M: Weigh> Outbox<M> {
    pub(crate) fn new(max_bytes: usize) -> Outbox<M> {
        let (tx, rx) = channel::unbounded();
        Outbox {
            tx,
            rx,
            bytes: AtomicUsize::new(0),
            max_bytes,
            dropped: AtomicU64::new(0),
        }
    }

    /// Queues an item, or drops it (counted) when it does not fit; gives
    /// it back then.
    pub(crate) fn push_item(&self, item: M) -> bool {
        self.try_push(item).is_ok()
    }

    /// Queues an item, or gives it back (counted as dropped) when it does
    /// not fit.
    pub(crate) fn try_push(&self, item: M) -> Result<(), M> {
        let size = item.weight();
        let fits = self
            .bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
                (now + size <= self.max_bytes).then_some(now + size)
            })
            .is_ok();
        let item = match fits {
            true => match self.tx.try_send(item) {
                Ok(()) => return Ok(()),
                Err(refused) => {
                    self.bytes.fetch_sub(size, Ordering::AcqRel);
                    refused.into_inner()
                }
            },
            false => item,
        };
        self.dropped.fetch_add(1, Ordering::Relaxed);
        Err(item)
    }

    /// The next message; waits for one.
    pub(crate) async fn pop(&self) -> Option<M> {
        let message = self.rx.recv().await.ok()?;
        Some(self.taken(message))
    }

    /// The next message if one is queued.
    pub(crate) fn try_pop(&self) -> Option<M> {
        self.rx.try_recv().ok().map(|m| self.taken(m))
    }

    fn taken(&self, item: M) -> M {
        self.bytes.fetch_sub(item.weight(), Ordering::AcqRel);
        item
    }

    /// Counts messages taken but not published (Redis was unreachable).
    pub(crate) fn lost(&self, count: u64) {
        self.dropped.fetch_add(count, Ordering::Relaxed);
    }

    /// Messages dropped or lost so far.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_in_bytes_and_counts_what_it_drops() {
        let outbox = Outbox::new(100);
        assert!(outbox.push("c".into(), vec![0; 59]));
        assert!(!outbox.push("c".into(), vec![0; 41]), "60 + 42 > 100");
        assert!(outbox.push("c".into(), vec![0; 39]), "exactly 100");
        assert_eq!(outbox.dropped(), 1);
        assert_eq!(outbox.try_pop().map(|m| m.1.len()), Some(59));
        assert!(outbox.push("c".into(), vec![0; 59]), "room again");
        assert_eq!(smol::block_on(outbox.pop()).map(|m| m.1.len()), Some(39));
        assert_eq!(outbox.try_pop().map(|m| m.1.len()), Some(59));
        assert!(outbox.try_pop().is_none());
        outbox.lost(2);
        assert_eq!(outbox.dropped(), 3);
    }
}
