//! A sled database together with its directory: writes made to survive a power
//! cut with one sync of sled's log each, and a store that refuses writes while
//! its disk cannot take them and heals, without a restart, once it can.
//!
//! Syncs: sled 0.34's `flush()` writes its log with `pwrite` and
//! `sync_file_range`, which flushes neither the drive's cache nor the file's
//! metadata. [`DurableDb::sync`] flushes and then `fdatasync`s the log file (`db`);
//! a file sled added, renamed or removed since the last sync (a snapshot, a blob)
//! is synced with its directory too. Writers that call it at the same time share
//! one sync ([`GroupCommit`]). sled's own flusher thread (an `fsync` every 500 ms)
//! is off: every write here syncs itself.
//!
//! Faults: sled keeps the first I/O error of a log write for good (its "global
//! error"; every later write fails with it), and after a failed `fsync` the kernel
//! may have dropped the pages it could not write. So the first write or sync that
//! fails with an I/O error takes the store *down* ([`Health`]): writes are refused
//! at once with that error, reads go on from the database as it is, and a thread
//! probes the directory every second (`recovery.rs`). Once the disk takes writes,
//! the database is closed and opened again (sled recovers what its log holds:
//! every write that was acknowledged) and the store is up. Should it not open
//! again although the disk takes writes, the process exits with a message, for
//! its service manager to start it afresh.
//!
//! One process at a time: opening takes an exclusive lock on a file in the
//! directory (`sessio.lock`), held as long as any clone of the `DurableDb`.

use std::ffi::OsString;
use std::fmt;
use std::fs::{self, File, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

use super::group::GroupCommit;
use super::health::{is_disk_fault, plain, Health};
use super::recovery::{self, Reopen};
use crate::metrics::Histogram;

/// sled's page cache limit unless told otherwise (`--cache-mb`): small boards
/// have little memory to spare.
pub const DEFAULT_CACHE_BYTES: u64 = 4 << 20;

/// The name of the lock file in the database directory.
const LOCK_FILE: &str = "sessio.lock";

/// Why the database could not be opened.
#[derive(Debug)]
#[non_exhaustive]
pub enum OpenError {
    /// Another process has the database open.
    Locked,
    /// The directory or its lock file could not be made or opened.
    Io(io::Error),
    /// sled could not open the database.
    Sled(sled::Error),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Locked => f.write_str("the database is open in another process"),
            OpenError::Io(e) => write!(f, "{e}"),
            OpenError::Sled(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for OpenError {}

/// A sled database and the directory it lives in. Cheap to clone.
#[derive(Clone)]
pub struct DurableDb {
    shared: Arc<Shared>,
}

struct Shared {
    dir: PathBuf,
    cache_bytes: u64,
    /// `None` only while the database is being opened again.
    open: RwLock<Option<Open>>,
    group: GroupCommit<sled::Error>,
    health: Health,
    /// Files `fsync`ed or `fdatasync`ed so far, for the budget of a write.
    file_syncs: AtomicU64,
    /// How long each group-commit sync took.
    sync_times: Histogram,
    /// Holds the directory's lock while any clone lives.
    _lock: File,
}

/// The database as opened once.
struct Open {
    db: sled::Db,
    /// sled's log, the file a sync makes durable.
    log: File,
    /// The names in the directory (and its `blobs` folder) at the last sync.
    names: Mutex<Vec<OsString>>,
}

impl DurableDb {
    /// Opens (or creates) the database in `dir`. Fails when another process holds it.
    pub fn open(dir: &Path) -> Result<DurableDb, OpenError> {
        DurableDb::open_with_cache(dir, DEFAULT_CACHE_BYTES)
    }

    /// Opens the database with a page cache of at most `cache_bytes`.
    pub fn open_with_cache(dir: &Path, cache_bytes: u64) -> Result<DurableDb, OpenError> {
        fs::create_dir_all(dir).map_err(OpenError::Io)?;
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(LOCK_FILE))
            .map_err(OpenError::Io)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(OpenError::Locked),
            Err(TryLockError::Error(e)) => return Err(OpenError::Io(e)),
        }
        let file_syncs = AtomicU64::new(0);
        let open = Open::new(dir, cache_bytes, &file_syncs).map_err(OpenError::Sled)?;
        Ok(DurableDb {
            shared: Arc::new(Shared {
                dir: dir.to_path_buf(),
                cache_bytes,
                open: RwLock::new(Some(open)),
                group: GroupCommit::new(),
                health: Health::new(),
                file_syncs,
                sync_times: Histogram::new(),
                _lock: lock,
            }),
        })
    }

    /// The directory the database lives in.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// The tree `name` of the database as it is open now, for one operation
    /// (keep it no longer: the database is opened again after a fault).
    // Not inlined: sled's `open_tree` is large, and every store operation
    // calls this (inlined, it cost the board binary a few KB).
    #[inline(never)]
    pub fn tree(&self, name: &str) -> Result<sled::Tree, sled::Error> {
        self.with_open(|open| open.db.open_tree(name))
    }

    /// The tree `name`, to change: refused while the store is down.
    pub fn tree_to_write(&self, name: &str) -> Result<sled::Tree, sled::Error> {
        self.shared.health.check()?;
        self.tree(name)
    }

    /// Whether the store takes writes now.
    pub fn is_up(&self) -> bool {
        self.shared.health.is_up()
    }

    /// The database's size on disk, in bytes.
    pub fn size_on_disk(&self) -> Result<u64, sled::Error> {
        self.with_open(|open| open.db.size_on_disk())
    }

    /// Files synced so far by this database's syncs (each an `fsync` or
    /// `fdatasync`; sled's own `sync_file_range` in its flush is not counted).
    pub fn file_syncs(&self) -> u64 {
        self.shared.file_syncs.load(Ordering::Relaxed)
    }

    /// How long this database's group-commit syncs took (flush and fsync,
    /// shared by the writers waiting).
    pub fn sync_times(&self) -> &Histogram {
        &self.shared.sync_times
    }

    /// Makes every write done before the call survive a power cut (see the
    /// module's doc). Blocks until then; callers at the same time share one
    /// such sync, and all get its error if it fails. Refused while the store is
    /// down; a failure takes it down.
    pub fn sync(&self) -> Result<(), sled::Error> {
        self.shared.health.check()?;
        let result = self.shared.group.commit(|| {
            // A group queued behind a failed sync is not told its writes are on disk.
            self.shared.health.check()?;
            let started = std::time::Instant::now();
            let synced =
                self.with_open(|open| open.sync(&self.shared.dir, &self.shared.file_syncs));
            self.shared.sync_times.observe(started.elapsed());
            synced
        });
        result.map_err(|error| {
            self.fault(&error);
            // Waiters get a clone of the leader's error: its message made plain again.
            plain(&error)
        })
    }

    /// A change's result, passed on: an I/O error in it takes the store down
    /// first (see [`DurableDb::fault`]).
    pub fn written<T>(&self, result: sled::Result<T>) -> sled::Result<T> {
        if let Err(error) = &result {
            self.fault(error);
        }
        result
    }

    /// Notes a failed operation: an I/O error takes the store down (logged
    /// once) and starts its recovery.
    pub fn fault(&self, error: &sled::Error) {
        if is_disk_fault(error) && self.shared.health.fail(error, &self.shared.dir) {
            let shared = Arc::downgrade(&self.shared);
            let spawned = std::thread::Builder::new()
                .name("store-recovery".into())
                .spawn(move || recovery::recover(shared));
            if let Err(e) = spawned {
                log::error!("cannot start the store's recovery: {e}; exiting");
                std::process::exit(1);
            }
        }
    }

    /// Runs `f` on the database as it is open now; an error while it is
    /// being opened again.
    fn with_open<T>(&self, f: impl FnOnce(&Open) -> sled::Result<T>) -> sled::Result<T> {
        match &*self.shared.read() {
            Some(open) => f(open),
            None => Err(self.down_error()),
        }
    }

    fn down_error(&self) -> sled::Error {
        match self.shared.health.check() {
            Err(cause) => cause,
            Ok(()) => sled::Error::Io(io::Error::other("the store is being opened again")),
        }
    }
}

impl Reopen for Shared {
    fn dir(&self) -> &Path {
        &self.dir
    }

    fn reopen(&self) -> Result<(), sled::Error> {
        let mut slot = self.open.write().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = slot.take() {
            // sled's close may `fsync` and panic when that fails: the database is
            // being left behind anyway.
            let closed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(old)));
            if closed.is_err() {
                log::warn!("store: closing the failed database panicked");
            }
        }
        // A tree taken for an operation just before keeps sled's file lock until
        // that operation ends: `Open::new` gives it a few tries.
        *slot = Some(Open::new(&self.dir, self.cache_bytes, &self.file_syncs)?);
        Ok(())
    }

    fn recovered(&self) {
        self.health.recovered();
    }
}

impl Shared {
    fn read(&self) -> RwLockReadGuard<'_, Option<Open>> {
        // The slot holds a database or nothing: consistent at every unlock.
        self.open.read().unwrap_or_else(|e| e.into_inner())
    }
}

impl Open {
    fn new(dir: &Path, cache_bytes: u64, file_syncs: &AtomicU64) -> Result<Open, sled::Error> {
        let db = open_sled(dir, cache_bytes)?;
        let log = File::open(dir.join("db"))?;
        let open = Open {
            db,
            log,
            names: Mutex::new(Vec::new()),
        };
        // What sled wrote while opening (its config, a snapshot) is synced now.
        open.sync(dir, file_syncs)?;
        Ok(open)
    }

    fn sync(&self, dir: &Path, file_syncs: &AtomicU64) -> Result<(), sled::Error> {
        self.db.flush()?;
        let names = listing(dir)?;
        let mut synced = self.names.lock().unwrap_or_else(|e| e.into_inner());
        // A handful of names: compared as sets, without sorting them.
        let same = names.len() == synced.len() && names.iter().all(|n| synced.contains(n));
        if same {
            self.log.sync_data()?;
            file_syncs.fetch_add(1, Ordering::Relaxed);
        } else {
            sync_tree(dir, file_syncs)?;
            *synced = names;
        }
        Ok(())
    }
}

/// Opens sled in `dir`. sled lets go of its own file lock only once its last
/// thread is done with the database, a moment after the last handle of it in
/// this process was dropped (a reopen after a fault, a tree still in use): so
/// a refusal gets a few more tries, for up to a second. (Another process is
/// kept out before this, by the lock on `sessio.lock`.)
fn open_sled(dir: &Path, cache_bytes: u64) -> Result<sled::Db, sled::Error> {
    let config = sled::Config::new()
        .path(dir)
        .cache_capacity(cache_bytes)
        .flush_every_ms(None);
    let mut tries = 0;
    loop {
        match config.open() {
            Ok(db) => return Ok(db),
            Err(e) if tries < 50 => {
                tries += 1;
                log::debug!("store: opening {}: {e}; trying again", dir.display());
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => return Err(e),
        }
    }
}

/// The names in `dir` and its `blobs` folder, in no particular order.
fn listing(dir: &Path) -> io::Result<Vec<OsString>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name() == "blobs" {
            for blob in fs::read_dir(entry.path())? {
                let mut name = OsString::from("blobs/");
                name.push(blob?.file_name());
                names.push(name);
            }
        } else {
            names.push(entry.file_name());
        }
    }
    Ok(names)
}

/// `fsync`s each file in `dir` (and its `blobs` folder) and the directories themselves.
fn sync_tree(dir: &Path, file_syncs: &AtomicU64) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_file() {
            match File::open(entry.path()) {
                Ok(file) => file.sync_all()?,
                // sled renames and removes snapshot files as it goes.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
            file_syncs.fetch_add(1, Ordering::Relaxed);
        } else if kind.is_dir() && entry.file_name() == "blobs" {
            sync_tree(&entry.path(), file_syncs)?;
        }
    }
    File::open(dir)?.sync_all()?;
    file_syncs.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_dir;

    #[test]
    fn sync_after_writes() {
        let dir = test_dir("durable");
        let db = DurableDb::open(&dir).unwrap();
        db.tree("t").unwrap().insert("k", "v").unwrap();
        // Large values go to sled's blobs folder: synced as well.
        db.tree("t")
            .unwrap()
            .insert("big", vec![7u8; 200_000])
            .unwrap();
        db.sync().unwrap();
        drop(db);
        let db = DurableDb::open(&dir).unwrap();
        assert_eq!(db.tree("t").unwrap().get("k").unwrap().unwrap(), "v");
        assert_eq!(
            db.tree("t").unwrap().get("big").unwrap().unwrap().len(),
            200_000
        );
        drop(db);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn second_open_of_the_same_dir_fails() {
        let dir = test_dir("durable-lock");
        let db = DurableDb::open(&dir).unwrap();
        assert!(DurableDb::open(&dir).is_err());
        drop(db);
        fs::remove_dir_all(dir).unwrap();
    }

    /// The budget of issue 17: an acknowledged write costs one sync of the log.
    #[test]
    fn a_write_costs_one_file_sync() {
        let dir = test_dir("durable-budget");
        let db = DurableDb::open(&dir).unwrap();
        let tree = db.tree("t").unwrap();
        tree.insert("k", "0").unwrap();
        db.sync().unwrap();
        let before = db.file_syncs();
        const WRITES: u64 = 200;
        for n in 0..WRITES {
            tree.insert("k", n.to_string().as_bytes()).unwrap();
            db.sync().unwrap();
        }
        let per_write = (db.file_syncs() - before) as f64 / WRITES as f64;
        // sled may add a file now and then (a snapshot): a little room for that.
        const BUDGET: f64 = 1.05;
        assert!(
            per_write <= BUDGET,
            "a write cost {per_write} file syncs, over the budget of {BUDGET}"
        );
        drop((tree, db));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_new_file_is_synced_with_its_directory() {
        let dir = test_dir("durable-new-file");
        let db = DurableDb::open(&dir).unwrap();
        db.sync().unwrap();
        let before = db.file_syncs();
        // A blob is a file of its own: it, the log, the other files and the
        // directories are synced.
        db.tree("t")
            .unwrap()
            .insert("big", vec![7u8; 200_000])
            .unwrap();
        db.sync().unwrap();
        assert!(db.file_syncs() - before > 2, "{}", db.file_syncs() - before);
        drop(db);
        fs::remove_dir_all(dir).unwrap();
    }
}
