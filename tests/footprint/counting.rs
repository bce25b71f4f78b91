//! The counting global allocator: how many allocations the server makes, how
//! many bytes they ask for and how many bytes are live, with no clock. Threads
//! that call [`quiet`] (the test's own, which plays every client) are not
//! counted, so only the server's threads are: its executor, the I/O reactor,
//! the blocking pool and sled's flusher.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// `System`, counted.
pub struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);
static LIVE: AtomicI64 = AtomicI64::new(0);

thread_local! {
    /// Set on threads whose allocations are not counted. `const`, without a
    /// destructor: reading it never allocates.
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Stops counting this thread's allocations, for good.
pub fn quiet() {
    QUIET.with(|q| q.set(true));
}

fn counted() -> bool {
    // While a thread's locals are torn down its allocations count.
    QUIET.try_with(|q| !q.get()).unwrap_or(true)
}

fn added(size: usize) {
    if counted() {
        ALLOCATIONS.fetch_add(1, Relaxed);
        BYTES.fetch_add(size as u64, Relaxed);
        LIVE.fetch_add(size as i64, Relaxed);
    }
}

// SAFETY: every call goes to `System` unchanged; the counting beside it
// touches atomics and a const thread-local only, so it never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let block = System.alloc(layout);
        if !block.is_null() {
            added(layout.size());
        }
        block
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let block = System.alloc_zeroed(layout);
        if !block.is_null() {
            added(layout.size());
        }
        block
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        System.dealloc(block, layout);
        if counted() {
            LIVE.fetch_sub(layout.size() as i64, Relaxed);
        }
    }

    /// A reallocation counts as one allocation of the new size (and the old
    /// block freed), whether or not it moved.
    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let moved = System.realloc(block, layout, new_size);
        if !moved.is_null() && counted() {
            ALLOCATIONS.fetch_add(1, Relaxed);
            BYTES.fetch_add(new_size as u64, Relaxed);
            LIVE.fetch_add(new_size as i64 - layout.size() as i64, Relaxed);
        }
        moved
    }
}

/// The counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub allocations: u64,
    pub bytes: u64,
    pub live: i64,
}

impl Counts {
    pub fn now() -> Counts {
        Counts {
            allocations: ALLOCATIONS.load(Relaxed),
            bytes: BYTES.load(Relaxed),
            live: LIVE.load(Relaxed),
        }
    }

    /// What happened from `before` to `self`.
    pub fn since(self, before: Counts) -> Delta {
        Delta {
            allocations: self.allocations - before.allocations,
            bytes: self.bytes - before.bytes,
            live: self.live - before.live,
        }
    }
}

/// The counters' change over a window.
#[derive(Debug, Clone, Copy, Default)]
pub struct Delta {
    pub allocations: u64,
    pub bytes: u64,
    pub live: i64,
}

impl std::ops::AddAssign for Delta {
    fn add_assign(&mut self, other: Delta) {
        self.allocations += other.allocations;
        self.bytes += other.bytes;
        self.live += other.live;
    }
}

/// Waits until the server has stopped allocating (no change over 5 looks
/// 10 ms apart; at most 5 s) and returns the counters then. The sleeps only
/// find the end of the server's work; no figure is a time.
pub fn settled() -> Counts {
    let mut last = Counts::now();
    let mut still = 0;
    for _ in 0..500 {
        std::thread::sleep(Duration::from_millis(10));
        let now = Counts::now();
        if now == last {
            still += 1;
            if still == 5 {
                break;
            }
        } else {
            still = 0;
            last = now;
        }
    }
    last
}
