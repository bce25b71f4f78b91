//! The life of one Engine.IO session as a state machine with no I/O and no
//! clock: its heartbeat (when a ping is due, when a silent client is given
//! up), its transport (polling, a WebSocket probing, upgraded) and how it
//! closes (what the client is told, and when the session ends). The
//! transports and the heartbeat task feed it [`Event`]s with the time, in
//! milliseconds of the engine's clock, and carry out the [`Actions`] it
//! answers; [`Machine::deadline`] says when it next needs an [`Event::Tick`].

use std::fmt;

/// Why a session ended. The text is what Socket.IO reports to disconnect
/// handlers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The client closed the connection or sent a close packet.
    TransportClose,
    /// The transport failed: a protocol violation, an over-limit message, or a
    /// client too slow to take what was sent to it.
    TransportError,
    /// The client did not answer a ping in time.
    PingTimeout,
    /// The client sent something that could not be decoded.
    ParseError,
    /// The server closed the session.
    ForcedClose,
    /// The server is shutting down.
    ServerShutdown,
}

impl CloseReason {
    /// The reason as Socket.IO's disconnect handlers get it (`"transport close"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::TransportClose => "transport close",
            CloseReason::TransportError => "transport error",
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::ParseError => "parse error",
            CloseReason::ForcedClose => "forced close",
            CloseReason::ServerShutdown => "server shutting down",
        }
    }

    /// Whether the server chose to close (rather than the client or a failure).
    fn by_server(self) -> bool {
        matches!(self, CloseReason::ForcedClose | CloseReason::ServerShutdown)
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which transport currently carries the session's outgoing packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// HTTP long-polling.
    Polling,
    /// A WebSocket is probing; polling still carries packets.
    Upgrading,
    /// A WebSocket, after the upgrade or from the start.
    WebSocket,
}

impl Transport {
    /// The transport's name in the protocol (`polling` while upgrading).
    pub fn name(self) -> &'static str {
        match self {
            Transport::Polling | Transport::Upgrading => "polling",
            Transport::WebSocket => "websocket",
        }
    }
}

/// Who sends the heartbeat's pings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heartbeat {
    /// Engine.IO 4: the server pings `ping_interval` after the handshake and
    /// after each pong, and gives the client `ping_timeout` to answer.
    ServerPings,
    /// Engine.IO 3: the client pings and the server answers each ping with a
    /// pong at once; a client whose next ping does not come within
    /// `ping_interval + ping_timeout` of the last one (or of the handshake)
    /// is given up.
    #[allow(dead_code)] // until Engine.IO 3 sessions are opened with it
    ClientPings,
}

/// The heartbeat's periods, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub ping_interval: u64,
    pub ping_timeout: u64,
}

/// What happened to a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The clock reached [`Machine::deadline`]; an early tick does nothing.
    Tick,
    /// The client sent a ping (not the upgrade's `2probe`).
    Ping,
    /// The client sent a pong.
    Pong,
    /// A polling GET starts waiting for packets.
    PollStarted,
    /// That GET was answered.
    PollEnded,
    /// A WebSocket asks to take the session over.
    ProbeStarted,
    /// It sent `2probe` (and was answered `3probe`).
    Probed,
    /// It sent `5`: it carries the session from now on.
    Upgraded,
    /// It went away or broke the probe: polling carries on.
    ProbeFailed,
    /// The client sent a close packet.
    ClientClosed,
    /// The session ends: its transport failed or went away, the client broke
    /// the protocol, or the server closes it. A server's close over polling
    /// waits (up to `ping_timeout`) for a GET to tell the client.
    Close(CloseReason),
    /// The session must end, but the caller may not end it where it stands
    /// (it may be iterating over a room): the next tick or transport step
    /// does.
    Abort(CloseReason),
}

/// A control packet the session sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Ping,
    Pong,
    Noop,
    Close,
}

/// What the driver of a [`Machine`] must do after an event, in this order:
/// send `send` (to the WebSocket, or to the polling queue, even when the
/// session is closing), end the session with `finish` (forget it, tell the
/// layer above), and refuse the request that caused the event.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Actions {
    pub send: Option<Control>,
    pub finish: Option<CloseReason>,
    /// The GET or WebSocket that caused the event has no place in the
    /// session: answer it with an error (a WebSocket is accepted, then
    /// closed, as the reference server does).
    pub refuse: bool,
}

impl Actions {
    const NONE: Actions = Actions {
        send: None,
        finish: None,
        refuse: false,
    };

    fn send(control: Control) -> Actions {
        Actions {
            send: Some(control),
            ..Actions::NONE
        }
    }

    fn refuse() -> Actions {
        Actions {
            refuse: true,
            ..Actions::NONE
        }
    }
}

/// Where the heartbeat stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Beat {
    /// The server pings at this time.
    PingAt(u64),
    /// The server pinged; a pong must come by this time.
    PongBy(u64),
    /// The client must ping by this time.
    ClientPingBy(u64),
}

/// Where the session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Open(Beat),
    /// Ends at `by` at the latest; `told` once a close packet was queued.
    Closing {
        reason: CloseReason,
        by: u64,
        told: bool,
    },
    Closed(CloseReason),
}

/// How far a WebSocket got in taking the session over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Carrier {
    Polling,
    Probing,
    /// `2probe` was answered: a waiting GET is released with a noop at
    /// `release_at` ([`RELEASE_AFTER_PROBE`] after the probe), then (`None`)
    /// any GET at once.
    Probed {
        release_at: Option<u64>,
    },
    WebSocket,
}

/// How long after the probe a waiting GET is released with a noop, as the
/// reference server does (its check runs every 100 ms): packets sent meanwhile
/// go out in that GET as they would have without the upgrade. (The official
/// socket.io-client suite counts the packets a client gets in its first
/// 100 ms; an immediate noop was one too many.)
const RELEASE_AFTER_PROBE: u64 = 100;

/// One session's state. See the module's documentation.
#[derive(Debug, Clone)]
pub struct Machine {
    heartbeat: Heartbeat,
    timing: Timing,
    phase: Phase,
    carrier: Carrier,
    /// A polling GET is waiting.
    polling: bool,
}

impl Machine {
    /// A session whose handshake was answered at `now` on `transport`.
    pub fn new(heartbeat: Heartbeat, timing: Timing, transport: Transport, now: u64) -> Machine {
        let beat = match heartbeat {
            Heartbeat::ServerPings => Beat::PingAt(now + timing.ping_interval),
            Heartbeat::ClientPings => {
                Beat::ClientPingBy(now + timing.ping_interval + timing.ping_timeout)
            }
        };
        let carrier = match transport {
            Transport::Polling => Carrier::Polling,
            Transport::Upgrading => Carrier::Probing,
            Transport::WebSocket => Carrier::WebSocket,
        };
        Machine {
            heartbeat,
            timing,
            phase: Phase::Open(beat),
            carrier,
            polling: false,
        }
    }

    /// The transport that carries packets now.
    pub fn transport(&self) -> Transport {
        match self.carrier {
            Carrier::Polling => Transport::Polling,
            Carrier::Probing | Carrier::Probed { .. } => Transport::Upgrading,
            Carrier::WebSocket => Transport::WebSocket,
        }
    }

    /// The reason the session ends with, once it is ending or ended.
    pub fn closing(&self) -> Option<CloseReason> {
        match self.phase {
            Phase::Open(_) => None,
            Phase::Closing { reason, .. } | Phase::Closed(reason) => Some(reason),
        }
    }

    /// Whether the session has ended (its `finish` action was given).
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed(_))
    }

    /// When the session next needs an [`Event::Tick`]; `None` once closed.
    pub fn deadline(&self) -> Option<u64> {
        match self.phase {
            Phase::Open(Beat::PingAt(at) | Beat::PongBy(at) | Beat::ClientPingBy(at)) => {
                match self.carrier {
                    Carrier::Probed {
                        release_at: Some(release),
                    } if self.polling => Some(at.min(release)),
                    _ => Some(at),
                }
            }
            Phase::Closing { by, .. } => Some(by),
            Phase::Closed(_) => None,
        }
    }

    /// Takes in one event at `now`.
    pub fn on(&mut self, event: Event, now: u64) -> Actions {
        if self.is_closed() {
            return match event {
                Event::PollStarted | Event::ProbeStarted => Actions::refuse(),
                Event::PollEnded => {
                    self.polling = false;
                    Actions::NONE
                }
                _ => Actions::NONE,
            };
        }
        match event {
            Event::Tick => self.tick(now),
            Event::Ping => match (self.heartbeat, self.phase) {
                (Heartbeat::ClientPings, Phase::Open(_)) => {
                    let by = now + self.timing.ping_interval + self.timing.ping_timeout;
                    self.phase = Phase::Open(Beat::ClientPingBy(by));
                    Actions::send(Control::Pong)
                }
                // A ping the wrong way is a protocol violation.
                (Heartbeat::ServerPings, Phase::Open(_)) => {
                    self.close(CloseReason::TransportError, now)
                }
                _ => Actions::NONE,
            },
            Event::Pong => match (self.heartbeat, self.phase) {
                (Heartbeat::ServerPings, Phase::Open(_)) => {
                    self.phase = Phase::Open(Beat::PingAt(now + self.timing.ping_interval));
                    Actions::NONE
                }
                (Heartbeat::ClientPings, Phase::Open(_)) => {
                    self.close(CloseReason::TransportError, now)
                }
                _ => Actions::NONE,
            },
            Event::PollStarted => self.poll_started(now),
            Event::PollEnded => {
                self.polling = false;
                Actions::NONE
            }
            Event::ProbeStarted => match (self.phase, self.carrier) {
                (Phase::Open(_), Carrier::Polling) => {
                    self.carrier = Carrier::Probing;
                    Actions::NONE
                }
                _ => Actions::refuse(),
            },
            Event::Probed => {
                if self.carrier == Carrier::Probing {
                    self.carrier = Carrier::Probed {
                        release_at: Some(now + RELEASE_AFTER_PROBE),
                    };
                }
                Actions::NONE
            }
            Event::Upgraded => {
                if matches!(self.carrier, Carrier::Probing | Carrier::Probed { .. }) {
                    self.carrier = Carrier::WebSocket;
                }
                Actions::NONE
            }
            Event::ProbeFailed => {
                if matches!(self.carrier, Carrier::Probing | Carrier::Probed { .. }) {
                    self.carrier = Carrier::Polling;
                }
                Actions::NONE
            }
            Event::ClientClosed => match self.phase {
                // A pending GET is answered with a noop, as the reference
                // server does: the client asked, it needs no close packet.
                Phase::Open(_) => Actions {
                    finish: Some(self.end(CloseReason::TransportClose)),
                    ..self.release_poll()
                },
                _ => self.finish(),
            },
            Event::Close(reason) => self.close(reason, now),
            Event::Abort(reason) => {
                if let Phase::Open(_) = self.phase {
                    self.phase = Phase::Closing {
                        reason,
                        by: now,
                        told: false,
                    };
                }
                Actions::NONE
            }
        }
    }

    fn tick(&mut self, now: u64) -> Actions {
        if let Carrier::Probed {
            release_at: Some(at),
        } = self.carrier
        {
            if now >= at && self.polling && matches!(self.phase, Phase::Open(_)) {
                self.carrier = Carrier::Probed { release_at: None };
                // A heartbeat step due too comes at the next tick, at once.
                return self.release_poll();
            }
        }
        match self.phase {
            Phase::Open(Beat::PingAt(at)) if now >= at => {
                self.phase = Phase::Open(Beat::PongBy(now + self.timing.ping_timeout));
                Actions::send(Control::Ping)
            }
            Phase::Open(Beat::PongBy(by) | Beat::ClientPingBy(by)) if now >= by => {
                self.close(CloseReason::PingTimeout, now)
            }
            Phase::Closing { by, .. } if now >= by => self.finish(),
            _ => Actions::NONE,
        }
    }

    fn poll_started(&mut self, now: u64) -> Actions {
        if self.carrier == Carrier::WebSocket {
            return Actions::refuse();
        }
        if self.polling {
            // Two GETs at once: the client is broken. The first is told.
            let close = self.close(CloseReason::TransportError, now);
            return Actions {
                refuse: true,
                ..close
            };
        }
        self.polling = true;
        if self.carrier == (Carrier::Probed { release_at: None }) {
            // The WebSocket is about to take over: release the GET at once.
            return self.release_poll();
        }
        Actions::NONE
    }

    /// A noop for a waiting GET, so its client can move on.
    fn release_poll(&self) -> Actions {
        if self.polling && self.carrier != Carrier::WebSocket {
            Actions::send(Control::Noop)
        } else {
            Actions::NONE
        }
    }

    fn close(&mut self, reason: CloseReason, now: u64) -> Actions {
        let Phase::Open(_) = self.phase else {
            return self.finish();
        };
        if reason.by_server() && self.carrier != Carrier::WebSocket {
            // The close packet waits for a GET (the one waiting, or the
            // next); the client has `ping_timeout` to come for it.
            self.phase = Phase::Closing {
                reason,
                by: now + self.timing.ping_timeout,
                told: true,
            };
            return Actions::send(Control::Close);
        }
        let tell = reason.by_server() || self.polling;
        Actions {
            send: tell.then_some(Control::Close),
            finish: Some(self.end(reason)),
            refuse: false,
        }
    }

    /// Ends a closing session now; a waiting GET that was not told yet gets
    /// the close packet.
    fn finish(&mut self) -> Actions {
        let Phase::Closing { reason, told, .. } = self.phase else {
            return Actions::NONE;
        };
        let tell = !told && self.polling && self.carrier != Carrier::WebSocket;
        Actions {
            send: tell.then_some(Control::Close),
            finish: Some(self.end(reason)),
            refuse: false,
        }
    }

    fn end(&mut self, reason: CloseReason) -> CloseReason {
        self.phase = Phase::Closed(reason);
        reason
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMING: Timing = Timing {
        ping_interval: 300,
        ping_timeout: 200,
    };

    fn v4(transport: Transport) -> Machine {
        Machine::new(Heartbeat::ServerPings, TIMING, transport, 1000)
    }

    fn v3(transport: Transport) -> Machine {
        Machine::new(Heartbeat::ClientPings, TIMING, transport, 1000)
    }

    fn sends(control: Control) -> Actions {
        Actions::send(control)
    }

    fn finishes(reason: CloseReason, send: Option<Control>) -> Actions {
        Actions {
            send,
            finish: Some(reason),
            refuse: false,
        }
    }

    const NONE: Actions = Actions::NONE;

    #[test]
    fn v4_pings_at_the_interval_after_the_handshake_and_after_each_pong() {
        let mut m = v4(Transport::WebSocket);
        assert_eq!(m.deadline(), Some(1300));
        assert_eq!(m.on(Event::Tick, 1299), NONE);
        assert_eq!(m.on(Event::Tick, 1300), sends(Control::Ping));
        // The pong is awaited for the timeout; a second tick does not ping again.
        assert_eq!(m.deadline(), Some(1500));
        assert_eq!(m.on(Event::Tick, 1301), NONE);
        assert_eq!(m.on(Event::Pong, 1340), NONE);
        assert_eq!(m.deadline(), Some(1640));
        assert_eq!(m.on(Event::Tick, 1500), NONE);
        assert_eq!(m.on(Event::Tick, 1640), sends(Control::Ping));
        assert_eq!(m.deadline(), Some(1840));
    }

    #[test]
    fn v4_closes_a_client_that_does_not_answer_within_the_timeout() {
        let mut m = v4(Transport::WebSocket);
        assert_eq!(m.on(Event::Tick, 1300), sends(Control::Ping));
        assert_eq!(m.on(Event::Tick, 1499), NONE);
        assert_eq!(m.closing(), None);
        assert_eq!(
            m.on(Event::Tick, 1500),
            finishes(CloseReason::PingTimeout, None)
        );
        assert!(m.is_closed());
        assert_eq!(m.deadline(), None);
        // Once closed, nothing more happens.
        assert_eq!(m.on(Event::Pong, 1501), NONE);
        assert_eq!(m.on(Event::Tick, 2000), NONE);
    }

    #[test]
    fn a_late_tick_pings_from_its_own_time() {
        let mut m = v4(Transport::Polling);
        assert_eq!(m.on(Event::Tick, 1310), sends(Control::Ping));
        assert_eq!(m.deadline(), Some(1510));
    }

    #[test]
    fn a_timeout_over_polling_tells_a_waiting_get() {
        let mut m = v4(Transport::Polling);
        assert_eq!(m.on(Event::Tick, 1300), sends(Control::Ping));
        assert_eq!(m.on(Event::PollStarted, 1310), NONE);
        assert_eq!(
            m.on(Event::Tick, 1500),
            finishes(CloseReason::PingTimeout, Some(Control::Close))
        );
    }

    #[test]
    fn v4_closes_on_a_ping_from_the_client() {
        let mut m = v4(Transport::WebSocket);
        assert_eq!(
            m.on(Event::Ping, 1010),
            finishes(CloseReason::TransportError, None)
        );
    }

    #[test]
    fn v3_answers_each_ping_and_waits_interval_plus_timeout_for_the_next() {
        let mut m = v3(Transport::Polling);
        // Nothing is sent by the server on its own.
        assert_eq!(m.deadline(), Some(1500));
        assert_eq!(m.on(Event::Tick, 1300), NONE);
        assert_eq!(m.on(Event::Ping, 1400), sends(Control::Pong));
        assert_eq!(m.deadline(), Some(1900));
        assert_eq!(m.on(Event::Tick, 1500), NONE);
        assert_eq!(m.on(Event::Ping, 1890), sends(Control::Pong));
        assert_eq!(m.on(Event::Tick, 2389), NONE);
        assert_eq!(
            m.on(Event::Tick, 2390),
            finishes(CloseReason::PingTimeout, None)
        );
    }

    #[test]
    fn v3_times_out_from_the_handshake_when_no_ping_ever_comes() {
        let mut m = v3(Transport::WebSocket);
        assert_eq!(m.on(Event::Tick, 1499), NONE);
        assert_eq!(
            m.on(Event::Tick, 1500),
            finishes(CloseReason::PingTimeout, None)
        );
    }

    #[test]
    fn v3_closes_on_a_pong_from_the_client() {
        let mut m = v3(Transport::WebSocket);
        assert_eq!(
            m.on(Event::Pong, 1010),
            finishes(CloseReason::TransportError, None)
        );
    }

    #[test]
    fn a_client_close_answers_the_waiting_get_with_a_noop() {
        let mut m = v4(Transport::Polling);
        assert_eq!(m.on(Event::PollStarted, 1001), NONE);
        assert_eq!(
            m.on(Event::ClientClosed, 1002),
            finishes(CloseReason::TransportClose, Some(Control::Noop))
        );
        // The next GET has no session left.
        assert_eq!(m.on(Event::PollEnded, 1003), NONE);
        assert!(m.on(Event::PollStarted, 1004).refuse);
    }

    #[test]
    fn a_client_close_without_a_waiting_get_sends_nothing() {
        let mut m = v4(Transport::Polling);
        assert_eq!(
            m.on(Event::ClientClosed, 1002),
            finishes(CloseReason::TransportClose, None)
        );
        let mut m = v4(Transport::WebSocket);
        assert_eq!(
            m.on(Event::ClientClosed, 1002),
            finishes(CloseReason::TransportClose, None)
        );
    }

    #[test]
    fn a_second_get_is_refused_and_the_first_gets_the_close_packet() {
        let mut m = v4(Transport::Polling);
        assert_eq!(m.on(Event::PollStarted, 1001), NONE);
        assert_eq!(
            m.on(Event::PollStarted, 1002),
            Actions {
                send: Some(Control::Close),
                finish: Some(CloseReason::TransportError),
                refuse: true,
            }
        );
    }

    #[test]
    fn a_server_close_over_polling_waits_for_a_get_up_to_the_timeout() {
        let mut m = v4(Transport::Polling);
        assert_eq!(
            m.on(Event::Close(CloseReason::ForcedClose), 1100),
            sends(Control::Close)
        );
        assert_eq!(m.closing(), Some(CloseReason::ForcedClose));
        assert_eq!(m.deadline(), Some(1300));
        // The GET takes the close packet; its transport then ends the session.
        assert_eq!(m.on(Event::PollStarted, 1150), NONE);
        assert_eq!(
            m.on(Event::Close(CloseReason::ForcedClose), 1151),
            finishes(CloseReason::ForcedClose, None)
        );
        // A client that never comes is given up at the deadline.
        let mut m = v4(Transport::Polling);
        let _ = m.on(Event::Close(CloseReason::ServerShutdown), 1100);
        assert_eq!(m.on(Event::Tick, 1299), NONE);
        assert_eq!(
            m.on(Event::Tick, 1300),
            finishes(CloseReason::ServerShutdown, None)
        );
    }

    #[test]
    fn a_server_close_over_websocket_sends_the_close_packet_and_ends() {
        let mut m = v4(Transport::WebSocket);
        assert_eq!(
            m.on(Event::Close(CloseReason::ForcedClose), 1100),
            finishes(CloseReason::ForcedClose, Some(Control::Close))
        );
    }

    #[test]
    fn a_failed_transport_ends_the_session_at_once() {
        let mut m = v4(Transport::Polling);
        assert_eq!(
            m.on(Event::Close(CloseReason::ParseError), 1100),
            finishes(CloseReason::ParseError, None)
        );
        let mut m = v4(Transport::WebSocket);
        assert_eq!(
            m.on(Event::Close(CloseReason::TransportClose), 1100),
            finishes(CloseReason::TransportClose, None)
        );
    }

    #[test]
    fn an_abort_ends_at_the_next_tick_or_transport_step() {
        let mut m = v4(Transport::Polling);
        assert_eq!(m.on(Event::PollStarted, 1001), NONE);
        assert_eq!(m.on(Event::Abort(CloseReason::TransportError), 1010), NONE);
        assert_eq!(m.closing(), Some(CloseReason::TransportError));
        assert_eq!(m.deadline(), Some(1010));
        assert!(!m.is_closed());
        // A second reason does not replace the first.
        assert_eq!(m.on(Event::Abort(CloseReason::ParseError), 1011), NONE);
        assert_eq!(
            m.on(Event::Tick, 1012),
            finishes(CloseReason::TransportError, Some(Control::Close))
        );
        // Or its transport ends it first, with the reason it was aborted for.
        let mut m = v4(Transport::WebSocket);
        let _ = m.on(Event::Abort(CloseReason::TransportError), 1010);
        assert_eq!(
            m.on(Event::Close(CloseReason::TransportClose), 1011),
            finishes(CloseReason::TransportError, None)
        );
    }

    #[test]
    fn an_upgrade_probes_releases_the_get_and_switches() {
        let mut m = v4(Transport::Polling);
        assert_eq!(m.on(Event::PollStarted, 1001), NONE);
        assert_eq!(m.on(Event::ProbeStarted, 1002), NONE);
        assert_eq!(m.transport(), Transport::Upgrading);
        // The waiting GET is released 100 ms after the probe, not before.
        assert_eq!(m.on(Event::Probed, 1003), NONE);
        assert_eq!(m.deadline(), Some(1103));
        assert_eq!(m.on(Event::Tick, 1102), NONE);
        assert_eq!(m.on(Event::Tick, 1103), sends(Control::Noop));
        assert_eq!(m.deadline(), Some(1300));
        assert_eq!(m.on(Event::PollEnded, 1104), NONE);
        // A GET after that is released at once.
        assert_eq!(m.on(Event::PollStarted, 1105), sends(Control::Noop));
        assert_eq!(m.on(Event::PollEnded, 1106), NONE);
        assert_eq!(m.on(Event::Upgraded, 1107), NONE);
        assert_eq!(m.transport(), Transport::WebSocket);
        // Polling has no place on an upgraded session.
        assert!(m.on(Event::PollStarted, 1108).refuse);
        // The heartbeat goes on across the upgrade.
        assert_eq!(m.on(Event::Tick, 1300), sends(Control::Ping));
    }

    #[test]
    fn a_probe_without_a_waiting_get_sends_nothing() {
        let mut m = v4(Transport::Polling);
        let _ = m.on(Event::ProbeStarted, 1002);
        assert_eq!(m.on(Event::Probed, 1003), NONE);
        assert_eq!(m.deadline(), Some(1300));
        // A GET that comes within the 100 ms waits for them.
        assert_eq!(m.on(Event::PollStarted, 1050), NONE);
        assert_eq!(m.deadline(), Some(1103));
        assert_eq!(m.on(Event::Tick, 1103), sends(Control::Noop));
    }

    #[test]
    fn a_get_answered_before_its_release_is_not_released_later() {
        let mut m = v4(Transport::Polling);
        let _ = m.on(Event::PollStarted, 1001);
        let _ = m.on(Event::ProbeStarted, 1002);
        let _ = m.on(Event::Probed, 1003);
        // Packets went out in it.
        assert_eq!(m.on(Event::PollEnded, 1010), NONE);
        assert_eq!(m.deadline(), Some(1300));
        assert_eq!(m.on(Event::Tick, 1103), NONE);
    }

    #[test]
    fn a_second_websocket_is_refused_while_probing_and_once_upgraded() {
        let mut m = v4(Transport::Polling);
        assert_eq!(m.on(Event::ProbeStarted, 1002), NONE);
        assert!(m.on(Event::ProbeStarted, 1003).refuse);
        assert_eq!(m.on(Event::Upgraded, 1004), NONE);
        assert_eq!(m.on(Event::ProbeStarted, 1005), Actions::refuse());
        assert_eq!(m.transport(), Transport::WebSocket);
        // A session opened on a WebSocket has nothing to upgrade either.
        assert!(v4(Transport::WebSocket).on(Event::ProbeStarted, 1).refuse);
    }

    #[test]
    fn a_failed_probe_returns_to_polling() {
        let mut m = v4(Transport::Polling);
        let _ = m.on(Event::ProbeStarted, 1002);
        let _ = m.on(Event::Probed, 1003);
        assert_eq!(m.on(Event::ProbeFailed, 1004), NONE);
        assert_eq!(m.transport(), Transport::Polling);
        assert_eq!(m.on(Event::PollStarted, 1005), NONE);
        // And may probe again.
        assert_eq!(m.on(Event::ProbeStarted, 1006), NONE);
    }

    #[test]
    fn a_closing_session_refuses_upgrades() {
        let mut m = v4(Transport::Polling);
        let _ = m.on(Event::Close(CloseReason::ForcedClose), 1100);
        assert!(m.on(Event::ProbeStarted, 1101).refuse);
    }
}
