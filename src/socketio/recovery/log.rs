//! The namespace's log of recent events for connection state recovery: each
//! event gets the next offset, is kept (encoded once, with its audience) for
//! the recovery window, and the oldest go once the log is over its size.
//!
//! Keeping an event allocates nothing of its own: the entry holds the frames
//! that were encoded to deliver it and, for a socket's own event, its id.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::super::adapter::Target;
use crate::engineio::Frame;

/// What one kept event costs beyond its frames: its entry, the target's
/// room names' headers, a frame handle each.
const ENTRY_COST: usize = 96;

/// Who an event was for.
pub(crate) enum Audience {
    /// One socket, by its id (`socket.emit`).
    Socket(Arc<str>),
    /// The sockets a broadcast selected.
    Rooms(Target),
}

impl Audience {
    /// The bytes of room names it holds.
    fn names_len(&self) -> usize {
        match self {
            Audience::Socket(id) => id.len(),
            Audience::Rooms(target) => target
                .rooms
                .iter()
                .chain(&target.except)
                .map(|r| r.len())
                .sum(),
        }
    }
}

/// An event as it went out: its offset, its frames, who it was for.
pub(crate) struct Logged {
    pub(crate) offset: u64,
    pub(crate) frames: Vec<Frame>,
    pub(crate) audience: Audience,
    at: Instant,
    cost: usize,
}

impl Logged {
    /// What it costs in memory, frames and bookkeeping.
    pub(crate) fn cost(&self) -> usize {
        self.cost
    }
}

/// The events of the last `window`, at most `max_bytes` of them.
pub(crate) struct Log {
    last: u64,
    entries: VecDeque<Logged>,
    bytes: usize,
    /// The highest offset no longer kept (0: none dropped yet).
    dropped_through: u64,
    max_bytes: usize,
    window: Duration,
}

impl Log {
    pub(crate) fn new(max_bytes: usize, window: Duration) -> Log {
        Log {
            last: 0,
            entries: VecDeque::new(),
            bytes: 0,
            dropped_through: 0,
            max_bytes,
            window,
        }
    }

    /// The offset of the latest event (0 before the first).
    pub(crate) fn last(&self) -> u64 {
        self.last
    }

    /// The latest offset whose event is no longer kept: a replay starts
    /// after it at the earliest. Equal to [`Log::last`] when nothing is kept.
    pub(crate) fn kept_after(&self) -> u64 {
        self.dropped_through
    }

    /// The offset the next event gets.
    pub(crate) fn next_offset(&self) -> u64 {
        self.last + 1
    }

    /// Keeps an event that went out with [`Log::next_offset`], then drops
    /// what is older than the window or over the size.
    pub(crate) fn push(&mut self, frames: Vec<Frame>, audience: Audience, now: Instant) {
        self.last += 1;
        let frames_len: usize = frames.iter().map(|f| f.len() + 32).sum();
        let cost = ENTRY_COST + audience.names_len() + frames_len;
        self.bytes += cost;
        self.entries.push_back(Logged {
            offset: self.last,
            frames,
            audience,
            at: now,
            cost,
        });
        self.expire(now);
    }

    /// Drops the events older than the window, and the oldest while over the
    /// size; gives the queue's memory back once most of it is free.
    pub(crate) fn expire(&mut self, now: Instant) {
        while let Some(first) = self.entries.front() {
            let too_old = now.saturating_duration_since(first.at) > self.window;
            if !(too_old || self.bytes > self.max_bytes) {
                break;
            }
            self.bytes -= first.cost;
            self.dropped_through = first.offset;
            self.entries.pop_front();
        }
        if self.entries.capacity() > 64 && self.entries.len() < self.entries.capacity() / 4 {
            self.entries.shrink_to_fit();
        }
    }

    /// The events after `offset`, oldest first; `None` when one of them is
    /// no longer kept or `offset` was never given out.
    pub(crate) fn after(&self, offset: u64) -> Option<impl Iterator<Item = &Logged>> {
        if offset < self.dropped_through || offset > self.last {
            return None;
        }
        let start = self.entries.partition_point(|e| e.offset <= offset);
        Some(self.entries.range(start..))
    }

    /// The memory the kept events take.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn everyone() -> Audience {
        Audience::Rooms(Target::default())
    }

    fn frame(text: &str) -> Vec<Frame> {
        vec![Frame::message(text)]
    }

    fn offsets(log: &Log, after: u64) -> Option<Vec<u64>> {
        log.after(after).map(|it| it.map(|e| e.offset).collect())
    }

    #[test]
    fn offsets_follow_each_other_and_replay_starts_after_the_one_given() {
        let mut log = Log::new(1 << 20, Duration::from_secs(60));
        let now = Instant::now();
        assert_eq!((log.last(), log.next_offset()), (0, 1));
        for text in ["a", "b", "c"] {
            log.push(frame(text), everyone(), now);
        }
        assert_eq!(log.last(), 3);
        assert_eq!(offsets(&log, 0), Some(vec![1, 2, 3]));
        assert_eq!(offsets(&log, 2), Some(vec![3]));
        assert_eq!(offsets(&log, 3), Some(vec![]));
        // An offset never given out is not taken on trust.
        assert_eq!(offsets(&log, 4), None);
    }

    #[test]
    fn past_its_size_the_oldest_go_and_cannot_be_replayed() {
        let mut log = Log::new(3 * (ENTRY_COST + 2 + 32), Duration::from_secs(60));
        let now = Instant::now();
        for _ in 0..5 {
            log.push(frame("x"), everyone(), now);
        }
        assert!(log.bytes() <= 3 * (ENTRY_COST + 2 + 32));
        assert_eq!(offsets(&log, 2), Some(vec![3, 4, 5]));
        assert_eq!(
            offsets(&log, 1),
            None,
            "event 2 is gone: no gap is replayed"
        );
        assert_eq!(offsets(&log, 0), None);
    }

    #[test]
    fn past_the_window_the_oldest_go() {
        let mut log = Log::new(1 << 20, Duration::from_secs(10));
        let start = Instant::now();
        log.push(frame("old"), everyone(), start);
        log.push(frame("new"), everyone(), start + Duration::from_secs(11));
        assert_eq!(offsets(&log, 1), Some(vec![2]));
        assert_eq!(offsets(&log, 0), None);
    }

    #[test]
    fn an_event_larger_than_the_log_is_not_kept() {
        let mut log = Log::new(ENTRY_COST, Duration::from_secs(10));
        log.push(frame("too big"), everyone(), Instant::now());
        assert_eq!((log.last(), log.bytes()), (1, 0));
        assert_eq!(offsets(&log, 1), Some(vec![]));
        assert_eq!(offsets(&log, 0), None);
    }
}
