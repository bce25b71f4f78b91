//! The threads that run blocking calls off the executor: store reads and
//! writes, password hashing, Socket.IO connection middleware. [`unblock`] is
//! the one way async code makes such a call.
//!
//! Why not `smol::unblock`: its pool starts a thread for each concurrent call,
//! up to 500, and ends a thread after half a second idle. On a server that is
//! threads started and ended with every wave of clients, and an ended thread
//! does not give all its memory back (the soak in `bench/` measured ~16 KB a
//! wave of 1,000 clients on the static musl build, without end). Here at most
//! [`threads`](set_threads) threads run blocking calls (16 unless configured);
//! each starts when a call finds the others busy, and lives as long as the
//! process. Calls beyond them wait their turn.
//!
//! Why 16: a durable write holds its thread until the group commit's sync
//! covers it, so the threads bound how many writes one sync can cover. With
//! 50 clients bumping a counter, 4 threads gave 4,500 acks/s at 134 µs of CPU
//! each, 16 gave 12,500 at 64 µs, 64 gave 13,600 at 64 µs (`bench/`'s count
//! scenario). Password hashes, the calls that take memory (19 MiB each), are
//! bounded apart from this, to one per core.

use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread;

/// How many threads run blocking calls unless [`set_threads`] says otherwise.
pub const DEFAULT_THREADS: usize = 16;

/// The threads' count, fixed by the first call to [`set_threads`] or [`unblock`].
static POOL: OnceLock<Arc<Pool>> = OnceLock::new();

/// Sets how many threads run blocking calls (at least 1). It takes effect only
/// before the first blocking call; returns whether it did.
pub fn set_threads(threads: usize) -> bool {
    POOL.set(Pool::new(threads)).is_ok()
}

/// Runs `call` on one of the blocking threads and returns its result. A panic
/// in `call` resumes in the caller, as if `call` had run there.
pub async fn unblock<T, F>(call: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    POOL.get_or_init(|| Pool::new(DEFAULT_THREADS))
        .run(call)
        .await
}

/// A blocking call: runs the work and returns how to deliver its result. The
/// thread counts itself free before it delivers, so a caller that submits its
/// next call as soon as it hears back finds that thread free, not busy.
type Job = Box<dyn FnOnce() -> Delivery + Send>;
type Delivery = Box<dyn FnOnce() + Send>;

struct Pool {
    state: Mutex<State>,
    /// Signalled when a job is queued.
    queued: Condvar,
    max_threads: usize,
}

struct State {
    jobs: VecDeque<Job>,
    threads: usize,
    /// Threads running a job; the others are free, waiting or about to look
    /// at the queue.
    busy: usize,
}

impl Pool {
    fn new(max_threads: usize) -> Arc<Pool> {
        Arc::new(Pool {
            state: Mutex::new(State {
                jobs: VecDeque::new(),
                threads: 0,
                busy: 0,
            }),
            queued: Condvar::new(),
            max_threads: max_threads.max(1),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Jobs run outside the lock and the state is consistent at every unlock.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn run<T, F>(self: &Arc<Pool>, call: F) -> T
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (done, result) = smol::channel::bounded(1);
        self.submit(Box::new(move || {
            let outcome = panic::catch_unwind(AssertUnwindSafe(call));
            Box::new(move || {
                // The caller may have gone (its task was dropped): nobody to tell.
                let _ = done.try_send(outcome);
            })
        }));
        match result.recv().await {
            Ok(Ok(value)) => value,
            Ok(Err(payload)) => panic::resume_unwind(payload),
            // Every job sends before it is dropped; a job is dropped unsent only
            // if its thread died, which catch_unwind rules out.
            Err(_) => panic::resume_unwind(Box::new("a blocking call was lost")),
        }
    }

    fn submit(self: &Arc<Pool>, job: Job) {
        let mut state = self.lock();
        state.jobs.push_back(job);
        let free = state.threads - state.busy;
        if state.jobs.len() <= free || state.threads >= self.max_threads {
            drop(state);
            self.queued.notify_one();
            return;
        }
        state.threads += 1;
        let number = state.threads;
        drop(state);
        let pool = Arc::clone(self);
        let started = thread::Builder::new()
            .name(format!("sessio-blocking-{number}"))
            .spawn(move || pool.work());
        if let Err(err) = started {
            let mut state = self.lock();
            state.threads -= 1;
            if state.threads > 0 {
                return; // the others take the job in turn
            }
            // No thread to run it: run it here rather than never.
            let job = state.jobs.pop_back();
            drop(state);
            log::warn!(
                "cannot start a blocking thread ({err}); running a blocking call on the executor"
            );
            if let Some(job) = job {
                job()();
            }
        }
    }

    /// A thread's life: take jobs, one at a time, forever.
    fn work(&self) {
        let mut state = self.lock();
        loop {
            if let Some(job) = state.jobs.pop_front() {
                state.busy += 1;
                drop(state);
                let deliver = job();
                self.lock().busy -= 1;
                deliver();
                state = self.lock();
                continue;
            }
            state = self.queued.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn returns_the_result_and_resumes_a_panic_in_the_caller() {
        let pool = Pool::new(1);
        assert_eq!(smol::block_on(pool.run(|| 6 * 7)), 42);
        let caught = panic::catch_unwind(AssertUnwindSafe(|| {
            smol::block_on(pool.run(|| -> u8 { panic!("boom") }))
        }));
        let payload = caught.unwrap_err();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
        // The thread that ran the panicking call still serves.
        assert_eq!(smol::block_on(pool.run(|| 1)), 1);
        assert_eq!(pool.lock().threads, 1);
    }

    #[test]
    fn calls_made_one_after_another_share_one_thread() {
        // The caller is woken by the result and may submit its next call
        // before the thread that ran the last one is back waiting: that
        // thread must still count as free, or each such call starts another.
        let pool = Pool::new(16);
        smol::block_on(async {
            for i in 0..2_000 {
                assert_eq!(pool.run(move || i).await, i);
            }
        });
        assert_eq!(pool.lock().threads, 1);
    }

    #[test]
    fn never_runs_more_calls_at_once_than_its_threads_and_keeps_them() {
        let pool = Pool::new(3);
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let names = Arc::new(Mutex::new(HashSet::new()));
        for _round in 0..3 {
            let calls: Vec<_> = (0..12)
                .map(|_| {
                    let (running, most, names) = (running.clone(), most.clone(), names.clone());
                    smol::spawn({
                        let pool = pool.clone();
                        async move {
                            pool.run(move || {
                                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                                most.fetch_max(now, Ordering::SeqCst);
                                names.lock().unwrap().insert(thread::current().id());
                                thread::sleep(Duration::from_millis(5));
                                running.fetch_sub(1, Ordering::SeqCst);
                            })
                            .await
                        }
                    })
                })
                .collect();
            smol::block_on(async {
                for call in calls {
                    call.await;
                }
            });
            // Idle longer than smol's pool keeps a thread.
            thread::sleep(Duration::from_millis(600));
        }
        assert_eq!(most.load(Ordering::SeqCst), 3);
        assert_eq!(
            names.lock().unwrap().len(),
            3,
            "the same three threads ran every round"
        );
        assert_eq!(pool.lock().threads, 3);
    }
}
