//! What a session's socket needs of the engine that holds it, and no more: the
//! engine's clock, its timers, the count of sessions each address has not
//! established yet, and a way to leave the engine's table. Sockets keep a weak
//! handle to it, so the engine's table is not theirs to reach.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::cap::Cap;
use super::machine::CloseReason;
use super::timers::Timers;
use crate::clock::Clock;

type Remove = dyn Fn(&str, CloseReason) + Send + Sync;

/// The engine as its sessions see it.
pub(crate) struct Host {
    clock: Clock,
    /// When the engine started: its times are milliseconds since.
    epoch: Instant,
    /// When each session next needs its heartbeat stepped.
    pub(crate) timers: Timers,
    /// Per address: sessions not established yet, and whether a refusal was
    /// logged since it reached the cap.
    pending: Mutex<HashMap<IpAddr, (usize, bool)>>,
    max_pending: usize,
    /// Forgets an ended session and tells the layer above (the engine's).
    remove: Box<Remove>,
}

impl Host {
    /// A host that reads `clock`, from now, capping each address at
    /// `max_pending` sessions not established yet; `remove` ends a session
    /// in the engine.
    pub(crate) fn new(clock: Clock, max_pending: usize, remove: Box<Remove>) -> Host {
        Host {
            epoch: clock.now(),
            clock,
            timers: Timers::default(),
            pending: Mutex::new(HashMap::new()),
            max_pending,
            remove,
        }
    }

    /// Milliseconds since the engine started.
    pub(crate) fn now(&self) -> u64 {
        let elapsed = self.clock.now().saturating_duration_since(self.epoch);
        elapsed.as_millis() as u64
    }

    /// Sleeps until `at` milliseconds since the engine started.
    pub(crate) async fn sleep_until(&self, at: u64) {
        let deadline = self.epoch + Duration::from_millis(at);
        self.clock.sleep_until(deadline).await
    }

    /// The session `sid` ended for `reason`.
    pub(crate) fn remove(&self, sid: &str, reason: CloseReason) {
        (self.remove)(sid, reason)
    }

    fn pending(&self) -> MutexGuard<'_, HashMap<IpAddr, (usize, bool)>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts one more pending session for `ip`; false when it is at the cap.
    pub(crate) fn take_pending(&self, ip: IpAddr) -> bool {
        let max = self.max_pending;
        let mut pending = self.pending();
        let (count, logged) = pending.entry(ip).or_insert((0, false));
        if *count < max {
            *count += 1;
            return true;
        }
        // One line while the address stays at the cap, not one per request.
        if !std::mem::replace(logged, true) {
            log::warn!(
                "refusing handshakes from {ip}: over {} ({max})",
                Cap::PendingSessions
            );
        }
        false
    }

    /// One of `ip`'s pending sessions was established or closed.
    pub(crate) fn release_pending(&self, ip: IpAddr) {
        let mut pending = self.pending();
        if let Some((count, logged)) = pending.get_mut(&ip) {
            *count = count.saturating_sub(1);
            *logged = false;
            if *count == 0 {
                pending.remove(&ip);
            }
        }
    }
}
