//! Which events of the log reached one socket: the offset from which it was
//! connected and the recent changes of its rooms, each placed between two
//! offsets. Replaying after an offset takes exactly the events its rooms of
//! the moment selected, however they changed since.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use super::log::{Audience, Logged};

/// The room changes kept per socket; a client whose last event predates the
/// oldest kept change cannot be replayed to exactly, and is not recovered.
const MAX_CHANGES: usize = 32;

struct Change {
    /// The last offset given out before the change: events up to it went
    /// out before it, events after it after.
    after: u64,
    room: Arc<str>,
    joined: bool,
}

/// A socket's place in the log. `Default` is an empty history at offset 0.
#[derive(Default)]
pub(crate) struct Membership {
    /// The last offset given out before the socket joined the namespace.
    since: u64,
    changes: VecDeque<Change>,
    /// The `after` of the latest change no longer kept.
    floor: u64,
}

impl Membership {
    pub(crate) fn new(since: u64) -> Membership {
        Membership {
            since,
            ..Membership::default()
        }
    }

    /// Gives back the spare capacity of its history.
    pub(crate) fn shrink_to_fit(&mut self) {
        self.changes.shrink_to_fit();
    }

    /// Where a client that never got an event starts: just before the
    /// socket joined.
    pub(crate) fn since(&self) -> u64 {
        self.since
    }

    /// The socket joined (or left) `room` when the log's last offset was
    /// `after`; the log keeps no event at or before `kept_after`. Only
    /// changes a replay could need are recorded: a replay starts after an
    /// offset that is at least `since` and `kept_after`, and a change at or
    /// before it does not count (so a socket that joins its rooms before
    /// any event is emitted records nothing, and neither does one in a
    /// namespace whose log is empty).
    pub(crate) fn record(&mut self, after: u64, kept_after: u64, room: &str, joined: bool) {
        if after <= self.since.max(kept_after) {
            return;
        }
        if self.changes.len() == MAX_CHANGES {
            if let Some(old) = self.changes.pop_front() {
                self.floor = old.after;
            }
        }
        self.changes.push_back(Change {
            after,
            room: room.into(),
            joined,
        });
    }

    /// The events of `entries` (those after `offset`, oldest first) that
    /// reached or were meant for the socket `id`, whose rooms are `rooms`
    /// now; `None` when its history from `offset` on is not known.
    pub(crate) fn replay<'a>(
        &self,
        id: &str,
        rooms: &[Arc<str>],
        offset: u64,
        entries: impl Iterator<Item = &'a Logged>,
    ) -> Option<Vec<&'a Logged>> {
        if offset < self.since || offset < self.floor {
            return None;
        }
        let mut member: HashSet<&str> = rooms.iter().map(|r| &**r).collect();
        let later: Vec<&Change> = self.changes.iter().filter(|c| c.after > offset).collect();
        // The rooms just after `offset`: the later changes undone.
        for change in later.iter().rev() {
            flip(&mut member, change, !change.joined);
        }
        let mut pending = later.into_iter().peekable();
        let mut out = Vec::new();
        for entry in entries {
            while let Some(change) = pending.next_if(|c| c.after < entry.offset) {
                flip(&mut member, change, change.joined);
            }
            if reaches(&entry.audience, id, &member) {
                out.push(entry);
            }
        }
        Some(out)
    }
}

fn flip<'a>(member: &mut HashSet<&'a str>, change: &'a Change, joined: bool) {
    if joined {
        member.insert(&change.room);
    } else {
        member.remove(&*change.room);
    }
}

/// Whether `audience` includes the socket `id` in `rooms` (as the local
/// adapter selects: its own room is its id).
fn reaches(audience: &Audience, id: &str, rooms: &HashSet<&str>) -> bool {
    let target = match audience {
        Audience::Socket(socket) => return **socket == *id,
        Audience::Rooms(target) => target,
    };
    let is_in = |room: &String| room == id || rooms.contains(room.as_str());
    (target.rooms.is_empty() || target.rooms.iter().any(is_in)) && !target.except.iter().any(is_in)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::super::super::adapter::Target;
    use super::super::log::Log;
    use super::*;
    use crate::engineio::Frame;

    fn to(rooms: &[&str], except: &[&str]) -> Target {
        Target {
            rooms: rooms.iter().map(|r| r.to_string()).collect(),
            except: except.iter().map(|r| r.to_string()).collect(),
        }
    }

    fn log(targets: Vec<Target>) -> Log {
        let mut log = Log::new(1 << 20, Duration::from_secs(60));
        for target in targets {
            log.push(
                vec![Frame::message("2[]")],
                Audience::Rooms(target),
                Instant::now(),
            );
        }
        log
    }

    fn replayed(m: &Membership, rooms: &[&str], offset: u64, log: &Log) -> Option<Vec<u64>> {
        let rooms: Vec<Arc<str>> = rooms.iter().map(|&r| r.into()).collect();
        let entries = log.after(offset)?;
        let out = m.replay("me", &rooms, offset, entries)?;
        Some(out.iter().map(|e| e.offset).collect())
    }

    #[test]
    fn selects_as_the_adapter_does() {
        let log = log(vec![
            to(&[], &[]),         // 1: everyone
            to(&["me"], &[]),     // 2: to the socket
            to(&["a"], &[]),      // 3: its room
            to(&["b"], &[]),      // 4: another room
            to(&["a"], &["me"]),  // 5: its room, from itself
            to(&[], &["a"]),      // 6: everyone but its room
            to(&["b", "a"], &[]), // 7: any of two rooms
        ]);
        let m = Membership::new(0);
        assert_eq!(replayed(&m, &["a"], 0, &log), Some(vec![1, 2, 3, 7]));
        assert_eq!(replayed(&m, &["a"], 2, &log), Some(vec![3, 7]));
    }

    #[test]
    fn rooms_count_as_they_were_when_each_event_went_out() {
        let log = log(vec![to(&["a"], &[]); 6]);
        let mut m = Membership::new(0);
        m.record(2, 0, "a", true); // joined after event 2
        m.record(4, 0, "a", false); // left after event 4
        assert_eq!(replayed(&m, &[], 0, &log), Some(vec![3, 4]));
        assert_eq!(replayed(&m, &[], 3, &log), Some(vec![4]));
        assert_eq!(replayed(&m, &[], 4, &log), Some(vec![]));
    }

    #[test]
    fn nothing_from_before_the_socket_joined_or_its_known_history() {
        let log = log(vec![to(&[], &[]); 40]);
        let m = Membership::new(5);
        assert_eq!(replayed(&m, &[], 4, &log), None);
        assert_eq!(replayed(&m, &[], 5, &log).map(|v| v.len()), Some(35));
        let mut m = Membership::new(0);
        for i in 0..(MAX_CHANGES as u64 + 2) {
            m.record(i + 1, 0, &format!("r{i}"), true);
        }
        assert_eq!(
            replayed(&m, &[], 0, &log),
            None,
            "its oldest changes are gone"
        );
        assert!(replayed(&m, &[], 2, &log).is_some());
    }

    #[test]
    fn records_only_what_a_replay_could_need() {
        let mut m = Membership::new(3);
        m.record(3, 0, "a", true); // before any event reached it
        m.record(4, 4, "b", true); // the log keeps nothing up to 4
        assert!(m.changes.is_empty(), "nothing recorded, nothing allocated");
        m.record(5, 4, "c", true);
        assert_eq!(m.changes.len(), 1);
    }
}
