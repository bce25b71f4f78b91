//! The clock the protocol layers read: the time now and a sleep until a
//! deadline. By default the system's (smol's timers); a [`ManualClock`] is
//! one whose time moves only when its owner says, so that a test can step
//! heartbeats, join deadlines, ack timeouts and recovery windows exactly.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use event_listener::Event;

/// Where a server reads the time and waits for it. Cheap to clone; clones
/// read the same time. The default is the system clock.
#[derive(Clone, Default)]
pub struct Clock(Source);

#[derive(Clone, Default)]
enum Source {
    #[default]
    System,
    Manual(Arc<Manual>),
}

impl Clock {
    /// The system's monotonic clock.
    pub fn system() -> Clock {
        Clock(Source::System)
    }

    /// The time now.
    pub fn now(&self) -> Instant {
        match &self.0 {
            Source::System => Instant::now(),
            Source::Manual(manual) => manual.now(),
        }
    }

    /// A future that is ready once the clock reads `deadline` or later.
    pub fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> + Send + 'static {
        let source = self.0.clone();
        async move {
            match source {
                Source::System => {
                    smol::Timer::at(deadline).await;
                }
                Source::Manual(manual) => manual.sleep_until(deadline).await,
            }
        }
    }
}

impl Clock {
    /// The manual clock this one reads, if it is one.
    #[cfg(test)]
    pub(crate) fn manual(&self) -> Option<ManualClock> {
        match &self.0 {
            Source::System => None,
            Source::Manual(manual) => Some(ManualClock(manual.clone())),
        }
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Source::System => f.write_str("Clock::System"),
            Source::Manual(manual) => write!(f, "Clock::Manual(+{:?})", manual.elapsed()),
        }
    }
}

/// A clock for tests: it stands still until [`ManualClock::advance`] moves
/// it, which wakes whoever sleeps until a time now passed. Hand
/// [`ManualClock::clock`] to the server under test.
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<Manual>);

#[derive(Debug)]
struct Manual {
    start: Instant,
    elapsed: Mutex<Duration>,
    /// Woken whenever the time moves.
    moved: Event,
}

impl Manual {
    fn elapsed(&self) -> MutexGuard<'_, Duration> {
        self.elapsed.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now(&self) -> Instant {
        self.start + *self.elapsed()
    }

    async fn sleep_until(&self, deadline: Instant) {
        loop {
            // Listening before looking, so that no move is missed.
            let moved = self.moved.listen();
            if self.now() >= deadline {
                return;
            }
            moved.await;
        }
    }
}

impl ManualClock {
    /// A clock that reads the system's time now, and stays there.
    pub fn new() -> ManualClock {
        ManualClock(Arc::new(Manual {
            start: Instant::now(),
            elapsed: Mutex::new(Duration::ZERO),
            moved: Event::new(),
        }))
    }

    /// The clock to give a server: it reads this one's time.
    pub fn clock(&self) -> Clock {
        Clock(Source::Manual(self.0.clone()))
    }

    /// The time now.
    pub fn now(&self) -> Instant {
        self.0.now()
    }

    /// Moves the time on by `by`, and wakes every sleeper, so that those
    /// whose deadline passed return.
    pub fn advance(&self, by: Duration) {
        *self.0.elapsed() += by;
        self.0.moved.notify(usize::MAX);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

#[cfg(test)]
mod tests {
    use smol::future::poll_once;

    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let manual = ManualClock::new();
        let clock = manual.clock();
        let start = clock.now();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(clock.now(), start);
        manual.advance(Duration::from_secs(3));
        assert_eq!(clock.now(), start + Duration::from_secs(3));
        assert_eq!(manual.now(), clock.now());
    }

    #[test]
    fn a_sleep_ends_when_its_deadline_passes_and_not_before() {
        let manual = ManualClock::new();
        let clock = manual.clock();
        let mut sleep = Box::pin(clock.sleep_until(clock.now() + Duration::from_secs(10)));
        smol::block_on(async {
            assert!(poll_once(&mut sleep).await.is_none());
            manual.advance(Duration::from_millis(9_999));
            assert!(poll_once(&mut sleep).await.is_none(), "before its deadline");
            manual.advance(Duration::from_millis(1));
            assert!(poll_once(&mut sleep).await.is_some(), "at its deadline");
        });
    }

    #[test]
    fn advancing_wakes_a_task_that_sleeps() {
        let manual = ManualClock::new();
        let clock = manual.clock();
        let sleeper = smol::spawn(clock.sleep_until(clock.now() + Duration::from_secs(60)));
        // The task is asleep (or about to be): only a move can wake it.
        std::thread::sleep(Duration::from_millis(20));
        manual.advance(Duration::from_secs(60));
        let woke = smol::block_on(smol::future::or(
            async {
                sleeper.await;
                true
            },
            async {
                smol::Timer::after(Duration::from_secs(5)).await;
                false
            },
        ));
        assert!(woke);
    }

    #[test]
    fn the_system_clock_sleeps_in_real_time() {
        let clock = Clock::system();
        let start = Instant::now();
        smol::block_on(clock.sleep_until(start + Duration::from_millis(20)));
        assert!(start.elapsed() >= Duration::from_millis(20));
    }
}
