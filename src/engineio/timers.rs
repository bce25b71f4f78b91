//! The heartbeat's timers: one min-heap of `(time, sid)` for every session,
//! so one task can sleep until the earliest and step the sessions due then,
//! with no task or timer per session. Entries are never removed early: a
//! session whose deadline moves later keeps its entry, which its owner finds
//! stale when it comes due (see [`super::EngineSocket`]'s `on_timer`).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, Mutex, MutexGuard};

use event_listener::{Event, EventListener};

/// A min-heap of `(time, sid)`.
type Heap = BinaryHeap<Reverse<(u64, Arc<str>)>>;

/// Times (milliseconds, engine clock) at which sessions need stepping.
#[derive(Default)]
pub(crate) struct Timers {
    heap: Mutex<Heap>,
    /// Woken when an entry earlier than all others is added.
    earlier: Event,
}

impl Timers {
    fn heap(&self) -> MutexGuard<'_, Heap> {
        self.heap.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds an entry for session `sid` at `at`.
    pub(crate) fn add(&self, at: u64, sid: Arc<str>) {
        let mut heap = self.heap();
        let earliest = heap.peek().is_none_or(|Reverse((first, _))| at < *first);
        heap.push(Reverse((at, sid)));
        drop(heap);
        if earliest {
            self.earlier.notify(1);
        }
    }

    /// A listener woken when an entry earlier than all others is added; take
    /// it before [`Timers::take_due`], so no such entry is missed.
    pub(crate) fn listen(&self) -> EventListener {
        self.earlier.listen()
    }

    /// Moves every entry due at `now` into `into`; returns when the next one
    /// is due.
    pub(crate) fn take_due(&self, now: u64, into: &mut Vec<(u64, Arc<str>)>) -> Option<u64> {
        let mut heap = self.heap();
        while let Some(Reverse((at, _))) = heap.peek() {
            if *at > now {
                return Some(*at);
            }
            into.extend(heap.pop().map(|Reverse(entry)| entry));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_come_due_in_time_order() {
        let timers = Timers::default();
        timers.add(30, "c".into());
        timers.add(10, "a".into());
        timers.add(20, "b".into());
        timers.add(10, "a2".into());
        let mut due = Vec::new();
        assert_eq!(timers.take_due(9, &mut due), Some(10));
        assert!(due.is_empty());
        assert_eq!(timers.take_due(20, &mut due), Some(30));
        let sids: Vec<&str> = due.iter().map(|(_, sid)| &**sid).collect();
        assert_eq!(sids, ["a", "a2", "b"]);
        due.clear();
        assert_eq!(timers.take_due(100, &mut due), None);
        assert_eq!(due.len(), 1);
    }

    #[test]
    fn only_an_earlier_entry_wakes_the_sleeper() {
        let timers = Timers::default();
        let mut first = timers.listen();
        timers.add(50, "a".into());
        assert!(smol::future::block_on(smol::future::poll_once(&mut first)).is_some());
        let mut later = timers.listen();
        timers.add(60, "b".into());
        assert!(smol::future::block_on(smol::future::poll_once(&mut later)).is_none());
        timers.add(40, "c".into());
        assert!(smol::future::block_on(smol::future::poll_once(&mut later)).is_some());
    }
}
