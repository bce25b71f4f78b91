//! Group commit: many writers, one disk sync. A writer that wants its write on
//! disk calls [`GroupCommit::commit`]; it returns once a sync that *started
//! after the call* has finished, with that sync's result. While one sync runs,
//! every writer that arrives waits, and the first of them to wake runs the next
//! sync for all of them; so there is never more than one sync at a time, and a
//! burst of N writes costs two syncs, not N.
//!
//! There is no committer thread: the sync runs on the thread of one of the
//! waiting writers (a blocking thread; see [`crate::store`]).

use std::sync::{Condvar, Mutex, MutexGuard};

/// The state shared by the writers of one store.
pub struct GroupCommit<E> {
    state: Mutex<State<E>>,
    finished: Condvar,
}

struct State<E> {
    /// Syncs started so far; the one running, if any, is number `started`.
    started: u64,
    /// The number of the last sync that finished.
    finished: u64,
    running: bool,
    /// The result of sync number `finished`.
    last: Result<(), E>,
}

impl<E: Clone> Default for GroupCommit<E> {
    fn default() -> GroupCommit<E> {
        GroupCommit::new()
    }
}

impl<E: Clone> GroupCommit<E> {
    /// A group with no writer waiting and no sync running.
    pub fn new() -> GroupCommit<E> {
        GroupCommit {
            state: Mutex::new(State {
                started: 0,
                finished: 0,
                running: false,
                last: Ok(()),
            }),
            finished: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<E>> {
        // The state is a few counters, consistent at every unlock.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Returns once a `sync` that started after this call has finished, with its
    /// result (so every write made before the call is covered by it). `sync` is
    /// run by at most one caller at a time, for every caller waiting then.
    pub fn commit(&self, sync: impl FnOnce() -> Result<(), E>) -> Result<(), E> {
        let mut state = self.lock();
        // The first sync to start from now on covers this caller's writes.
        let ticket = state.started + 1;
        loop {
            if state.finished >= ticket {
                return state.last.clone();
            }
            if !state.running {
                state.running = true;
                state.started += 1;
                let number = state.started;
                drop(state);
                let leader = Leader { group: self };
                let result = sync();
                std::mem::forget(leader);
                let mut state = self.lock();
                state.running = false;
                state.finished = number;
                state.last = result.clone();
                drop(state);
                self.finished.notify_all();
                return result;
            }
            state = self.finished.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Lets the waiters go on if `sync` panics: one of them runs the next sync.
struct Leader<'a, E: Clone> {
    group: &'a GroupCommit<E>,
}

impl<E: Clone> Drop for Leader<'_, E> {
    fn drop(&mut self) {
        self.group.lock().running = false;
        self.group.finished.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{mpsc, Arc, Barrier};
    use std::thread;
    use std::time::Duration;

    /// A sync that counts its runs and, on its first run, tells `started` and
    /// waits for `release`.
    struct Disk {
        syncs: AtomicUsize,
        started: Mutex<Option<mpsc::Sender<()>>>,
        release: Mutex<Option<mpsc::Receiver<()>>>,
    }

    impl Disk {
        fn new() -> (Arc<Disk>, mpsc::Receiver<()>, mpsc::Sender<()>) {
            let (started_tx, started_rx) = mpsc::channel();
            let (release_tx, release_rx) = mpsc::channel();
            let disk = Disk {
                syncs: AtomicUsize::new(0),
                started: Mutex::new(Some(started_tx)),
                release: Mutex::new(Some(release_rx)),
            };
            (Arc::new(disk), started_rx, release_tx)
        }

        fn sync(&self, result: Result<(), &'static str>) -> Result<(), &'static str> {
            self.syncs.fetch_add(1, Ordering::SeqCst);
            let first = self.started.lock().unwrap().take();
            if let Some(started) = first {
                started.send(()).unwrap();
                let release = self.release.lock().unwrap().take().unwrap();
                release.recv().unwrap();
            }
            result
        }
    }

    /// Starts `n` writers that commit once each, with `result` from the disk.
    fn writers(
        group: &Arc<GroupCommit<&'static str>>,
        disk: &Arc<Disk>,
        n: usize,
        result: Result<(), &'static str>,
    ) -> Vec<thread::JoinHandle<Result<(), &'static str>>> {
        let ready = Arc::new(Barrier::new(n + 1));
        let handles = (0..n)
            .map(|_| {
                let (group, disk, ready) = (group.clone(), disk.clone(), ready.clone());
                thread::spawn(move || {
                    ready.wait();
                    group.commit(|| disk.sync(result))
                })
            })
            .collect();
        ready.wait();
        handles
    }

    #[test]
    fn writers_during_a_sync_share_the_next_one() {
        let group = Arc::new(GroupCommit::new());
        let (disk, started, release) = Disk::new();
        let first = writers(&group, &disk, 1, Ok(()));
        started.recv().unwrap();
        // While the first sync runs, 16 writers arrive: none of them may be
        // answered by that sync (it may have started before their writes).
        let waiting = writers(&group, &disk, 16, Ok(()));
        thread::sleep(Duration::from_millis(100));
        assert_eq!(disk.syncs.load(Ordering::SeqCst), 1);
        assert!(waiting.iter().all(|h| !h.is_finished()));
        release.send(()).unwrap();
        for handle in first.into_iter().chain(waiting) {
            assert_eq!(handle.join().unwrap(), Ok(()));
        }
        // One sync for the first writer, one for all sixteen.
        assert_eq!(disk.syncs.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_failed_sync_fails_every_writer_it_covers() {
        let group = Arc::new(GroupCommit::new());
        let (disk, started, release) = Disk::new();
        let first = writers(&group, &disk, 1, Ok(()));
        started.recv().unwrap();
        let waiting = writers(&group, &disk, 8, Err("disk full"));
        thread::sleep(Duration::from_millis(100));
        release.send(()).unwrap();
        assert_eq!(first.into_iter().next().unwrap().join().unwrap(), Ok(()));
        for handle in waiting {
            assert_eq!(handle.join().unwrap(), Err("disk full"));
        }
        assert_eq!(disk.syncs.load(Ordering::SeqCst), 2);
        // The next writer gets a sync of its own, not the old error.
        assert_eq!(group.commit(|| disk.sync(Ok(()))), Ok(()));
        assert_eq!(disk.syncs.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn one_writer_alone_syncs_at_once() {
        let group = GroupCommit::<()>::new();
        let syncs = AtomicUsize::new(0);
        for n in 1..=3 {
            group
                .commit(|| {
                    syncs.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                })
                .unwrap();
            assert_eq!(syncs.load(Ordering::SeqCst), n);
        }
    }

    #[test]
    fn a_panicking_sync_does_not_block_the_others() {
        let group = Arc::new(GroupCommit::<()>::new());
        let panicked = {
            let group = group.clone();
            thread::spawn(move || group.commit(|| panic!("sync bug"))).join()
        };
        assert!(panicked.is_err());
        assert_eq!(group.commit(|| Ok(())), Ok(()));
    }
}
