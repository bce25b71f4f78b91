//! An event received from a client, with the means to acknowledge it.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use serde_json::Value;

use super::payload::Payload;
use crate::engineio::EngineSocket;

/// An event a client emitted: its arguments and, when the client asked for
/// one, an acknowledgement to send back.
#[derive(Debug)]
pub struct Event {
    /// The event's arguments (its name removed) and binary attachments.
    pub payload: Payload,
    ack: Option<Ack>,
}

impl Event {
    pub(crate) fn new(payload: Payload, ack: Option<Ack>) -> Event {
        Event { payload, ack }
    }

    /// The argument at `index`.
    pub fn arg(&self, index: usize) -> Option<&Value> {
        self.payload.arg(index)
    }

    /// Whether the client waits for an acknowledgement.
    pub fn wants_ack(&self) -> bool {
        self.ack.is_some()
    }

    /// Sends the acknowledgement, if the client asked for one.
    pub fn ack(self, payload: impl Into<Payload>) {
        if let Some(ack) = self.ack {
            ack.send(payload.into());
        }
    }

    /// Takes the acknowledgement out, to answer later.
    pub fn take_ack(&mut self) -> Option<Ack> {
        self.ack.take()
    }
}

/// The acknowledgement of one event; sending consumes it. Until it is sent
/// or dropped, it counts against its socket's pending acknowledgements.
#[derive(Debug)]
pub struct Ack {
    pub(crate) sink: Arc<EngineSocket>,
    pub(crate) namespace: Arc<str>,
    pub(crate) id: u64,
    pub(crate) _pending: PendingAck,
}

/// What counts its events not yet acknowledged (a socket).
pub(crate) trait PendingCount: Send + Sync {
    fn pending(&self) -> &AtomicUsize;
}

/// One place in a socket's count of events not yet acknowledged; given back
/// when dropped. It holds the socket weakly: an event waiting in the
/// socket's own queue must not keep the socket alive.
pub(crate) struct PendingAck(Weak<dyn PendingCount>);

impl PendingAck {
    /// Takes a place in `owner`'s count unless `max` are taken.
    pub(crate) fn take<C: PendingCount + 'static>(
        owner: &Arc<C>,
        max: usize,
    ) -> Option<PendingAck> {
        owner
            .pending()
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()?;
        let owner: Weak<C> = Arc::downgrade(owner);
        Some(PendingAck(owner))
    }
}

impl Drop for PendingAck {
    fn drop(&mut self) {
        if let Some(owner) = self.0.upgrade() {
            owner.pending().fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl fmt::Debug for PendingAck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PendingAck")
    }
}

impl Ack {
    /// Sends the acknowledgement with `payload` as its arguments.
    pub fn send(self, payload: Payload) {
        let frames = payload.encode(&self.namespace, None, Some(self.id), None);
        self.sink.send_frames(&frames);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_places_are_capped_and_given_back() {
        struct Count(AtomicUsize);
        impl PendingCount for Count {
            fn pending(&self) -> &AtomicUsize {
                &self.0
            }
        }
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let a = PendingAck::take(&count, 2).unwrap();
        let b = PendingAck::take(&count, 2).unwrap();
        assert!(PendingAck::take(&count, 2).is_none());
        drop(a);
        let c = PendingAck::take(&count, 2).unwrap();
        drop(c);
        assert_eq!(count.0.load(Ordering::Relaxed), 1);
        // Given back to nobody once the owner is gone.
        drop(count);
        drop(b);
    }
}
