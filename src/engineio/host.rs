//! What a session's socket needs of the engine that holds it, and no more: the
//! engine's clock, its timers, the count of sessions each address has not
//! established yet, and a way to leave the engine's table. Sockets keep a weak
//! handle to it, so the engine's table is not theirs to reach.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use super::cap::Cap;
use super::machine::CloseReason;
use super::timers::Timers;

type Remove = dyn Fn(&str, CloseReason) + Send + Sync;

/// The engine as its sessions see it.
pub(crate) struct Host {
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
    /// A host whose clock starts now, capping each address at `max_pending`
    /// sessions not established yet; `remove` ends a session in the engine.
    pub(crate) fn new(max_pending: usize, remove: Box<Remove>) -> Host {
        Host {
            epoch: Instant::now(),
            timers: Timers::default(),
            pending: Mutex::new(HashMap::new()),
            max_pending,
            remove,
        }
    }

    /// When the clock started.
    pub(crate) fn epoch(&self) -> Instant {
        self.epoch
    }

    /// Milliseconds since the clock started.
    pub(crate) fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
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
