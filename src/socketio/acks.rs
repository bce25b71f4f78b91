//! The acknowledgements a socket waits for from its client, without I/O or
//! clock: the ids given to the server's events, the table of those not yet
//! answered, its cap, and each one's deadline on a clock passed in. The
//! runtime (`socket.rs`) sends the event, sleeps until the deadline and
//! hands the table what the client answers.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, DefaultHasher};
use std::time::{Duration, Instant};

/// One socket's unanswered events, each with what waits for its answer
/// (`W`: the runtime's channel).
#[derive(Debug)]
pub(crate) struct Acks<W> {
    next: u64,
    waiting: HashMap<u64, W, FixedHasher>,
}

/// The ids are the socket's own count, never the client's, so the table
/// needs no random keys against crafted collisions (and every socket holds
/// one: a `RandomState` is 16 bytes).
type FixedHasher = BuildHasherDefault<DefaultHasher>;

/// An event that waits for its acknowledgement.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Asked {
    /// The id the event goes out with.
    pub(crate) id: u64,
    /// When the answer is too late (`None`: past the clock's range, never).
    pub(crate) deadline: Option<Instant>,
}

impl<W> Default for Acks<W> {
    fn default() -> Self {
        Acks {
            next: 0,
            waiting: HashMap::default(),
        }
    }
}

impl<W> Acks<W> {
    /// An id for an event sent at `now` whose answer `waiter` waits for up
    /// to `timeout`; `Err(max)` when `max` events wait already (the client
    /// is over its cap, and `waiter` is dropped).
    pub(crate) fn ask(
        &mut self,
        waiter: W,
        now: Instant,
        timeout: Duration,
        max: usize,
    ) -> Result<Asked, usize> {
        if self.waiting.len() >= max {
            return Err(max);
        }
        let id = self.next;
        self.next = self.next.wrapping_add(1);
        self.waiting.insert(id, waiter);
        let deadline = now.checked_add(timeout);
        Ok(Asked { id, deadline })
    }

    /// The client answered `id`: what waits for it, once (`None` for an id
    /// nothing waits for: never given, answered already, or given up).
    pub(crate) fn answered(&mut self, id: u64) -> Option<W> {
        self.waiting.remove(&id)
    }

    /// `id` is given up (its answer came, or its deadline passed).
    pub(crate) fn forget(&mut self, id: u64) {
        self.waiting.remove(&id);
    }

    /// The socket left: nothing waits any more (the waiters are dropped).
    pub(crate) fn close(&mut self) {
        self.waiting.clear();
    }

    /// How many events wait for their answer.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.waiting.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn each_event_gets_the_next_id_and_a_deadline_from_the_clock_given() {
        let (mut acks, now) = (Acks::default(), Instant::now());
        let first = acks.ask("a", now, SECOND, 8).unwrap();
        let second = acks.ask("b", now + SECOND, 2 * SECOND, 8).unwrap();
        let at = |id, deadline| Asked {
            id,
            deadline: Some(deadline),
        };
        assert_eq!(first, at(0, now + SECOND));
        assert_eq!(second, at(1, now + 3 * SECOND));
        assert_eq!(acks.len(), 2);
    }

    #[test]
    fn an_answer_reaches_its_waiter_once_and_no_other() {
        let (mut acks, now) = (Acks::default(), Instant::now());
        let a = acks.ask("a", now, SECOND, 8).unwrap();
        let b = acks.ask("b", now, SECOND, 8).unwrap();
        assert_eq!(acks.answered(b.id), Some("b"));
        assert_eq!(acks.answered(b.id), None, "answered twice");
        assert_eq!(acks.answered(77), None, "never given");
        assert_eq!(acks.answered(a.id), Some("a"));
        assert_eq!(acks.len(), 0);
    }

    #[test]
    fn past_the_cap_an_event_is_refused_and_a_place_freed_takes_one_more() {
        let (mut acks, now) = (Acks::default(), Instant::now());
        let a = acks.ask("a", now, SECOND, 2).unwrap();
        acks.ask("b", now, SECOND, 2).unwrap();
        assert_eq!(acks.ask("c", now, SECOND, 2), Err(2));
        acks.forget(a.id);
        // The refused event took no id.
        assert_eq!(acks.ask("d", now, SECOND, 2).map(|asked| asked.id), Ok(2));
        assert_eq!(acks.len(), 2);
    }

    #[test]
    fn a_given_up_id_is_answered_by_nothing() {
        let (mut acks, now) = (Acks::default(), Instant::now());
        let a = acks.ask("a", now, SECOND, 8).unwrap();
        acks.forget(a.id);
        assert_eq!(acks.answered(a.id), None);
    }

    #[test]
    fn closing_drops_every_waiter_and_ids_go_on() {
        let (mut acks, now) = (Acks::default(), Instant::now());
        acks.ask("a", now, SECOND, 8).unwrap();
        acks.ask("b", now, SECOND, 8).unwrap();
        acks.close();
        assert_eq!(acks.len(), 0);
        assert_eq!(acks.answered(0), None);
        assert_eq!(acks.ask("c", now, SECOND, 8).map(|asked| asked.id), Ok(2));
    }

    #[test]
    fn a_deadline_past_the_clocks_range_never_comes() {
        let (mut acks, now) = (Acks::default(), Instant::now());
        let asked = acks.ask("a", now, Duration::MAX, 8).unwrap();
        assert_eq!(asked.deadline, None);
    }
}
