//! Sockets that dropped for a reason they may come back from, kept by their
//! private id (`pid`) for the recovery window, at most `max` of them: past
//! that the one that left first is dropped and cannot recover.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::super::adapter::Target;
use super::super::extensions::Extensions;
use super::membership::Membership;

/// What a socket takes back when it recovers.
pub(crate) struct Parked {
    pub(crate) id: Arc<str>,
    pub(crate) rooms: Vec<Arc<str>>,
    pub(crate) membership: Membership,
    pub(crate) extensions: Arc<Mutex<Extensions>>,
    at: Instant,
}

impl Parked {
    /// Keeps no spare capacity: it may wait the whole window.
    pub(crate) fn new(
        id: Arc<str>,
        mut rooms: Vec<Arc<str>>,
        mut membership: Membership,
        extensions: Arc<Mutex<Extensions>>,
        now: Instant,
    ) -> Parked {
        rooms.shrink_to_fit();
        membership.shrink_to_fit();
        Parked {
            id,
            rooms,
            membership,
            extensions,
            at: now,
        }
    }

    /// Whether a broadcast to `target` would reach it.
    fn in_target(&self, target: &Target) -> bool {
        let is_in = |room: &String| **room == *self.id || self.rooms.iter().any(|r| **r == **room);
        (target.rooms.is_empty() || target.rooms.iter().any(is_in))
            && !target.except.iter().any(is_in)
    }
}

/// The parked sockets of one namespace.
pub(crate) struct ParkedSockets {
    /// Boxed: the table keeps spare slots, each as large as its value.
    by_pid: HashMap<Arc<str>, Box<Parked>>,
    /// Pids in the order they were parked (some may be gone already).
    order: VecDeque<Arc<str>>,
    max: usize,
    window: Duration,
}

impl ParkedSockets {
    pub(crate) fn new(max: usize, window: Duration) -> ParkedSockets {
        ParkedSockets {
            by_pid: HashMap::new(),
            order: VecDeque::new(),
            max,
            window,
        }
    }

    /// Keeps a socket; returns the one dropped to make room, if any.
    pub(crate) fn park(&mut self, pid: Arc<str>, parked: Parked) -> Option<Parked> {
        self.expire(parked.at);
        let mut dropped = None;
        while self.by_pid.len() >= self.max {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            dropped = self.by_pid.remove(&oldest).or(dropped);
        }
        self.order.push_back(pid.clone());
        self.by_pid.insert(pid, Box::new(parked));
        dropped.map(|parked| *parked)
    }

    /// Takes the socket parked as `pid`, unless its window has passed.
    pub(crate) fn take(&mut self, pid: &str, now: Instant) -> Option<Parked> {
        self.expire(now);
        let parked = self.by_pid.remove(pid)?;
        self.order.retain(|p| **p != *pid);
        Some(*parked)
    }

    /// Forgets every parked socket `target` would reach; returns how many.
    pub(crate) fn forget(&mut self, target: &Target) -> usize {
        let before = self.by_pid.len();
        self.by_pid.retain(|_, parked| !parked.in_target(target));
        let by_pid = &self.by_pid;
        self.order.retain(|pid| by_pid.contains_key(pid));
        before - self.by_pid.len()
    }

    pub(crate) fn len(&self) -> usize {
        self.by_pid.len()
    }

    /// Drops the sockets parked longer than the window; gives the tables'
    /// memory back once most of it is free.
    pub(crate) fn expire(&mut self, now: Instant) {
        while let Some(pid) = self.order.front() {
            match self.by_pid.get(pid) {
                Some(p) if now.saturating_duration_since(p.at) <= self.window => break,
                Some(_) => {
                    self.by_pid.remove(pid);
                }
                None => {}
            }
            self.order.pop_front();
        }
        if self.by_pid.capacity() > 64 && self.by_pid.len() < self.by_pid.capacity() / 4 {
            self.by_pid.shrink_to_fit();
            self.order.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parked(id: &str, rooms: &[&str], at: Instant) -> Parked {
        let rooms = rooms.iter().map(|&r| r.into()).collect();
        Parked::new(id.into(), rooms, Membership::new(0), Arc::default(), at)
    }

    #[test]
    fn taken_once_within_the_window() {
        let now = Instant::now();
        let mut parked_sockets = ParkedSockets::new(10, Duration::from_secs(5));
        parked_sockets.park("p1".into(), parked("s1", &[], now));
        parked_sockets.park("p2".into(), parked("s2", &[], now));
        assert_eq!(
            parked_sockets.take("p1", now).map(|p| p.id),
            Some("s1".into())
        );
        assert!(parked_sockets.take("p1", now).is_none(), "only once");
        let later = now + Duration::from_secs(6);
        assert!(
            parked_sockets.take("p2", later).is_none(),
            "past the window"
        );
        assert_eq!(parked_sockets.len(), 0);
    }

    #[test]
    fn past_the_cap_the_first_parked_goes() {
        let now = Instant::now();
        let mut parked_sockets = ParkedSockets::new(2, Duration::from_secs(5));
        assert!(parked_sockets
            .park("p1".into(), parked("s1", &[], now))
            .is_none());
        assert!(parked_sockets
            .park("p2".into(), parked("s2", &[], now))
            .is_none());
        let dropped = parked_sockets.park("p3".into(), parked("s3", &[], now));
        assert_eq!(dropped.map(|p| p.id), Some("s1".into()));
        assert_eq!(parked_sockets.len(), 2);
        assert!(parked_sockets.take("p1", now).is_none());
        assert!(parked_sockets.take("p3", now).is_some());
    }

    #[test]
    fn forgets_those_a_disconnect_targets() {
        let now = Instant::now();
        let mut parked_sockets = ParkedSockets::new(10, Duration::from_secs(5));
        parked_sockets.park("p1".into(), parked("s1", &["session-a"], now));
        parked_sockets.park("p2".into(), parked("s2", &["session-b"], now));
        let target = Target {
            rooms: vec!["session-a".into()],
            except: Vec::new(),
        };
        assert_eq!(parked_sockets.forget(&target), 1);
        assert!(parked_sockets.take("p1", now).is_none());
        assert!(parked_sockets.take("p2", now).is_some());
    }
}
