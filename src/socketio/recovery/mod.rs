//! Connection state recovery, as the Node server's `connectionStateRecovery`:
//! a client whose connection drops (transport closed or failed, ping timeout)
//! reconnects with its private id and the offset of the last event it got,
//! and gets back the same socket id, its rooms, what is stored with it, and
//! every event emitted to it meanwhile, in order, exactly once.
//!
//! Every event a namespace emits (not those waiting for an acknowledgement)
//! gets the next offset, appended as its last argument, and is kept in the
//! namespace's [`log::Log`]. A socket that drops is parked
//! ([`parked::ParkedSockets`]) with its rooms and [`membership::Membership`];
//! a CONNECT whose `auth` carries its `pid` and `offset` takes it back and is
//! replayed the events after the offset that reached its rooms. Anything that
//! cannot be done exactly (unknown or expired pid, an offset whose events are
//! gone, a room history not known that far back, another owner, a replay
//! larger than the client may be sent at once) gives a fresh socket instead.
//!
//! Emitting, room changes, parking and recovering all take the namespace's
//! one lock, so the offsets a socket receives follow each other.

mod log;
mod membership;
mod parked;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::adapter::Target;
use super::extensions::Extensions;
use super::payload::Payload;
use crate::clock::Clock;
use crate::engineio::{CloseReason, Frame};

pub(crate) use log::Audience;
pub(crate) use membership::Membership;
pub(crate) use parked::Parked;

/// What a `CONNECT`'s `auth` claims: the private id of the socket the
/// client had, and the offset of the last event it got (`None`: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Claim<'a> {
    pub(crate) pid: &'a str,
    pub(crate) offset: Option<&'a str>,
}

impl<'a> Claim<'a> {
    /// The claim in `auth`, when it has a `pid` string. An `offset` that is
    /// not a string names no event (`Some("")`: the offset is gone).
    pub(crate) fn of(auth: &'a Value) -> Option<Claim<'a>> {
        let pid = auth.get("pid")?.as_str()?;
        let offset = match auth.get("offset") {
            None | Some(Value::Null) => None,
            Some(offset) => Some(offset.as_str().unwrap_or_default()),
        };
        Some(Claim { pid, offset })
    }
}

/// The settings of connection state recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryConfig {
    /// How long a dropped socket may stay away and still recover (the
    /// Node server's `maxDisconnectionDuration`); events are kept as long.
    pub window: Duration,
    /// The most memory the events kept for replay take, per namespace;
    /// past it the oldest go, and a client that missed one of them
    /// reconnects as a new socket.
    pub max_buffered_bytes: usize,
    /// The most dropped sockets kept per namespace; past it the one that
    /// dropped first cannot recover (logged).
    pub max_disconnected: usize,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        RecoveryConfig {
            window: Duration::from_secs(120),
            max_buffered_bytes: 4 << 20,
            max_disconnected: 10_000,
        }
    }
}

/// Who a socket belongs to, as its namespace's middleware found out (a
/// session, a user). A socket is only recovered by a connection whose
/// middleware finds the same owner: a middleware that identifies clients
/// inserts one in the socket's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner(pub Arc<str>);

/// Whether a socket that left for `reason` may recover. As the reference:
/// the transport closing or failing and a ping timeout; not a disconnect
/// either side asked for (a logout, an expired session), nor a server
/// closing the connection or shutting down.
pub(crate) fn recoverable(reason: CloseReason) -> bool {
    matches!(
        reason,
        CloseReason::TransportClose | CloseReason::TransportError | CloseReason::PingTimeout
    )
}

/// Why a recovery attempt gave a fresh socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotRecovered {
    /// No socket is parked with that pid (never was, expired, dropped
    /// past the cap, taken already, or disconnected by the server).
    UnknownPid,
    /// The connection's middleware found another owner.
    OtherOwner,
    /// The offset is not one of ours, or events after it are gone.
    OffsetGone,
    /// What it missed is more than it may be sent at once.
    TooMuchMissed,
}

impl NotRecovered {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            NotRecovered::UnknownPid => "no socket is kept for its pid",
            NotRecovered::OtherOwner => "the connection belongs to someone else",
            NotRecovered::OffsetGone => "the events after its offset are no longer kept",
            NotRecovered::TooMuchMissed => "it missed more than it may be sent at once",
        }
    }
}

/// A parked socket taken back, and the frames it missed, in order.
pub(crate) struct Restored {
    pub(crate) parked: Parked,
    pub(crate) missed: Vec<Frame>,
}

/// Recovery for one namespace.
pub(crate) struct Recovery {
    /// The most a replay may cost, as the client's queue counts it.
    max_replay_bytes: usize,
    /// The server's clock: when events were emitted and sockets dropped.
    clock: Clock,
    state: Mutex<State>,
}

pub(crate) struct State {
    log: log::Log,
    parked: parked::ParkedSockets,
}

impl Recovery {
    /// `max_queued_bytes` is the engine's cap on what waits for one client:
    /// a replay is kept to half of it. Times are read on `clock`.
    pub(crate) fn new(config: RecoveryConfig, max_queued_bytes: usize, clock: Clock) -> Recovery {
        Recovery {
            max_replay_bytes: max_queued_bytes / 2,
            clock,
            state: Mutex::new(State {
                log: log::Log::new(config.max_buffered_bytes, config.window),
                parked: parked::ParkedSockets::new(config.max_disconnected, config.window),
            }),
        }
    }

    /// The time now, on the server's clock.
    pub(crate) fn now(&self) -> Instant {
        self.clock.now()
    }

    /// The namespace's lock: hold it across an emit and its delivery, a
    /// room change, a socket joining or leaving.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Emits `event` to `audience` with the next offset: `deliver` writes
    /// the frames to the sockets connected now, and the event is kept.
    pub(crate) fn emit(
        &self,
        namespace: &str,
        event: &str,
        payload: Payload,
        audience: Audience,
        deliver: impl FnOnce(&[Frame]),
    ) {
        let mut state = self.lock();
        let offset = state.log.next_offset();
        let frames = payload.encode(namespace, Some(event), None, Some(offset));
        deliver(&frames);
        state.log.push(frames, audience, self.clock.now());
    }

    /// Drops what is older than the window: the events kept and the sockets
    /// parked. Emits and reconnects do it as they come; this is for a
    /// namespace that has gone quiet (see [`crate::socketio::Io::run_heartbeat`]).
    pub(crate) fn expire(&self, now: Instant) {
        let mut state = self.lock();
        state.log.expire(now);
        state.parked.expire(now);
    }

    /// Takes back, at `now`, the socket `claim` names, if it can be done
    /// exactly. `same_owner` compares the parked socket's extensions with
    /// the new connection's.
    pub(crate) fn restore(
        &self,
        state: &mut State,
        Claim { pid, offset }: Claim<'_>,
        now: Instant,
        same_owner: impl FnOnce(&Extensions) -> bool,
    ) -> Result<Restored, NotRecovered> {
        let parked = state
            .parked
            .take(pid, now)
            .ok_or(NotRecovered::UnknownPid)?;
        let owned = same_owner(&parked.extensions.lock().unwrap_or_else(|e| e.into_inner()));
        if !owned {
            return Err(NotRecovered::OtherOwner);
        }
        // Every event this socket was sent is after `since`: a client whose
        // offset is older (or that has none) got none of them. (The official
        // client keeps its last offset across sockets.)
        let since = parked.membership.since();
        let offset = match offset {
            None => since,
            Some(text) => parse_offset(text)
                .ok_or(NotRecovered::OffsetGone)?
                .max(since),
        };
        let entries = state.log.after(offset).ok_or(NotRecovered::OffsetGone)?;
        let missed = parked
            .membership
            .replay(&parked.id, &parked.rooms, offset, entries)
            .ok_or(NotRecovered::OffsetGone)?;
        let cost: usize = missed.iter().map(|e| e.cost()).sum();
        if cost > self.max_replay_bytes {
            return Err(NotRecovered::TooMuchMissed);
        }
        let missed = missed
            .iter()
            .flat_map(|e| e.frames.iter().cloned())
            .collect();
        Ok(Restored { parked, missed })
    }
}

impl State {
    /// How many dropped sockets are kept.
    #[cfg(test)]
    pub(crate) fn parked_count(&self) -> usize {
        self.parked.len()
    }

    /// The last offset given out.
    pub(crate) fn last_offset(&self) -> u64 {
        self.log.last()
    }

    /// Records in `membership` that its socket joined or left `room` now,
    /// if a replay could ever need to know.
    pub(crate) fn record_room_change(&self, membership: &mut Membership, room: &str, joined: bool) {
        let (after, kept_after) = (self.log.last(), self.log.kept_after());
        membership.record(after, kept_after, room, joined);
    }

    /// Keeps a dropped socket for the window; logs the one dropped to make
    /// room, which can no longer recover.
    pub(crate) fn park(&mut self, namespace: &str, pid: Arc<str>, parked: Parked) {
        if let Some(dropped) = self.parked.park(pid, parked) {
            ::log::warn!(
                "namespace {namespace}: more than {} disconnected sockets kept for recovery: \
                 socket {} can no longer recover",
                self.parked.len(),
                dropped.id
            );
        }
    }

    /// Forgets the parked sockets `target` selects: a server-side
    /// disconnect reaches them too.
    pub(crate) fn forget(&mut self, target: &Target) -> usize {
        self.parked.forget(target)
    }
}

/// An offset as we write them: decimal digits.
fn parse_offset(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn target(room: &str) -> Audience {
        Audience::Rooms(Target {
            rooms: vec![room.into()],
            except: Vec::new(),
        })
    }

    #[test]
    fn a_quiet_namespace_lets_go_of_what_the_window_has_passed() {
        let window = Duration::from_secs(120);
        let config = RecoveryConfig {
            window,
            ..RecoveryConfig::default()
        };
        let recovery = Recovery::new(config, 1 << 20, Clock::default());
        recovery.emit(
            "/",
            "news",
            Payload::new().with(json!(1)),
            target("r"),
            |_| {},
        );
        recovery
            .lock()
            .park("/", "p1".into(), parked("s1", &["r"], 0, None));
        recovery.expire(Instant::now());
        assert_eq!(recovery.lock().parked.len(), 1, "still in the window");
        assert!(recovery.lock().log.bytes() > 0);

        recovery.expire(Instant::now() + window + Duration::from_secs(1));
        let state = recovery.lock();
        assert_eq!(state.parked.len(), 0);
        assert_eq!(state.log.bytes(), 0);
    }

    fn parked(id: &str, rooms: &[&str], since: u64, owner: Option<&str>) -> Parked {
        let mut extensions = Extensions::new();
        if let Some(owner) = owner {
            extensions.insert(Owner(owner.into()));
        }
        let rooms = rooms.iter().map(|&r| r.into()).collect();
        let extensions = Arc::new(Mutex::new(extensions));
        Parked::new(
            id.into(),
            rooms,
            Membership::new(since),
            extensions,
            Instant::now(),
        )
    }

    fn claim(offset: Option<&str>) -> Claim<'_> {
        Claim { pid: "pid", offset }
    }

    fn texts(restored: &Restored) -> Vec<String> {
        restored.missed.iter().map(|f| format!("{f:?}")).collect()
    }

    #[test]
    fn only_a_transport_that_dropped_is_recoverable() {
        use CloseReason::*;
        for reason in [TransportClose, TransportError, PingTimeout] {
            assert!(recoverable(reason), "{reason}");
        }
        for reason in [ParseError, ForcedClose, ServerShutdown] {
            assert!(!recoverable(reason), "{reason}");
        }
    }

    #[test]
    fn events_carry_their_offset_last() {
        let recovery = Recovery::new(RecoveryConfig::default(), 1 << 20, Clock::default());
        let mut sent = Vec::new();
        let payload = Payload::new().with(json!({"a": 1}));
        recovery.emit("/", "ev", payload.clone(), target("s"), |f| {
            sent.extend_from_slice(f)
        });
        recovery.emit("/chat", "ev", payload, target("s"), |f| {
            sent.extend_from_slice(f)
        });
        assert_eq!(
            sent,
            vec![
                Frame::message(r#"2["ev",{"a":1},"1"]"#),
                Frame::message(r#"2/chat,["ev",{"a":1},"2"]"#),
            ]
        );
    }

    #[test]
    fn replays_what_it_missed_once() {
        let recovery = Recovery::new(RecoveryConfig::default(), 1 << 20, Clock::default());
        for (event, room) in [("a", "s"), ("b", "other"), ("c", "room")] {
            recovery.emit("/", event, Payload::new(), target(room), |_| {});
        }
        let mut state = recovery.lock();
        state.park("/", "pid".into(), parked("s", &["room"], 0, Some("u1")));
        let restored = recovery
            .restore(&mut state, claim(Some("1")), Instant::now(), |e| {
                e.get() == Some(&Owner("u1".into()))
            })
            .ok()
            .unwrap();
        assert_eq!(restored.parked.id.as_ref(), "s");
        assert_eq!(
            texts(&restored),
            vec![format!("{:?}", Frame::message(r#"2["c","3"]"#))]
        );
        let again = recovery.restore(&mut state, claim(Some("1")), Instant::now(), |_| true);
        assert_eq!(again.err(), Some(NotRecovered::UnknownPid));
    }

    #[test]
    fn refuses_what_it_cannot_do_exactly() {
        let recovery = Recovery::new(RecoveryConfig::default(), 1 << 20, Clock::default());
        recovery.emit("/", "a", Payload::new(), target("s"), |_| {});
        let mut state = recovery.lock();
        let mut attempt = |offset: Option<&str>, owner: &str| {
            state.park("/", "pid".into(), parked("s", &[], 0, Some("u1")));
            let owned = |e: &Extensions| e.get() == Some(&Owner(owner.into()));
            recovery
                .restore(&mut state, claim(offset), Instant::now(), owned)
                .err()
        };
        assert_eq!(attempt(Some("1"), "u2"), Some(NotRecovered::OtherOwner));
        assert_eq!(attempt(Some("7"), "u1"), Some(NotRecovered::OffsetGone));
        assert_eq!(attempt(Some("x1"), "u1"), Some(NotRecovered::OffsetGone));
        assert_eq!(attempt(None, "u1"), None, "no offset: from when it joined");
    }

    #[test]
    fn an_offset_from_before_the_socket_means_it_got_none_of_its_events() {
        let recovery = Recovery::new(RecoveryConfig::default(), 1 << 20, Clock::default());
        for event in ["before", "after"] {
            recovery.emit("/", event, Payload::new(), target("s"), |_| {});
        }
        let mut state = recovery.lock();
        // The socket joined after event 1; its client still holds offset 0
        // of an earlier socket, or none.
        for offset in [Some("0"), None] {
            state.park("/", "pid".into(), parked("s", &[], 1, None));
            let restored = recovery.restore(&mut state, claim(offset), Instant::now(), |_| true);
            let texts = restored.map(|r| texts(&r)).ok();
            let after = format!("{:?}", Frame::message(r#"2["after","2"]"#));
            assert_eq!(texts, Some(vec![after]));
        }
    }

    #[test]
    fn a_connects_auth_claims_a_pid_and_maybe_an_offset() {
        let of =
            |auth: Value| Claim::of(&auth).map(|c| (c.pid.to_owned(), c.offset.map(str::to_owned)));
        let claimed =
            |pid: &str, offset: Option<&str>| Some((pid.to_owned(), offset.map(str::to_owned)));
        assert_eq!(
            of(json!({"pid": "p", "offset": "3"})),
            claimed("p", Some("3"))
        );
        assert_eq!(of(json!({"pid": "p"})), claimed("p", None));
        assert_eq!(of(json!({"pid": "p", "offset": null})), claimed("p", None));
        assert_eq!(of(json!({"pid": "p", "offset": 3})), claimed("p", Some("")));
        assert_eq!(of(json!({"pid": 7, "offset": "3"})), None);
        assert_eq!(of(json!({"token": "t"})), None);
        assert_eq!(of(json!("p")), None);
    }

    #[test]
    fn a_claim_past_the_window_on_the_clock_given_finds_nothing() {
        let config = RecoveryConfig::default();
        let recovery = Recovery::new(config, 1 << 20, Clock::default());
        let mut state = recovery.lock();
        state.park("/", "pid".into(), parked("s", &[], 0, None));
        let late = Instant::now() + config.window + Duration::from_secs(1);
        let restored = recovery.restore(&mut state, claim(None), late, |_| true);
        assert_eq!(restored.err(), Some(NotRecovered::UnknownPid));
        state.park("/", "pid".into(), parked("s", &[], 0, None));
        let restored = recovery.restore(&mut state, claim(None), Instant::now(), |_| true);
        assert!(restored.is_ok());
    }

    #[test]
    fn a_replay_over_the_clients_queue_is_refused() {
        let recovery = Recovery::new(RecoveryConfig::default(), 1000, Clock::default());
        for _ in 0..10 {
            recovery.emit(
                "/",
                "a",
                Payload::new().with("x".repeat(100)),
                target("s"),
                |_| {},
            );
        }
        let mut state = recovery.lock();
        state.park("/", "pid".into(), parked("s", &[], 0, None));
        let result = recovery.restore(&mut state, claim(Some("0")), Instant::now(), |_| true);
        assert_eq!(result.err(), Some(NotRecovered::TooMuchMissed));
    }
}
