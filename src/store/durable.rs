//! A sled database together with its directory, so that writes can be made to
//! survive a power cut.
//!
//! sled 0.34's `flush()` writes its log with `sync_file_range`, which neither
//! flushes the drive's cache nor the file's metadata; its background flusher calls
//! `fsync` only every 500 ms. [`DurableDb::sync`] flushes and then `fsync`s every
//! file of the database and its directories itself, so a write is on disk when it
//! returns. Writers that call it at the same time share one sync
//! ([`GroupCommit`]). Sessions and accounts share one `DurableDb`.
//!
//! One process at a time: opening takes an exclusive lock on a file in the
//! directory (`sessio.lock`), held as long as any clone of the `DurableDb`.

use std::fmt;
use std::fs::{self, File, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::group::GroupCommit;

/// sled's page cache limit: small boards have little memory to spare.
const CACHE_BYTES: u64 = 32 * 1024 * 1024;

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
    db: sled::Db,
    dir: PathBuf,
    group: Arc<GroupCommit<sled::Error>>,
    /// Holds the directory's lock while any clone lives.
    _lock: Arc<File>,
}

impl DurableDb {
    /// Opens (or creates) the database in `dir`. Fails when another process holds it.
    pub fn open(dir: &Path) -> Result<DurableDb, OpenError> {
        DurableDb::open_with_cache(dir, CACHE_BYTES)
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
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            .open()
            .map_err(OpenError::Sled)?;
        Ok(DurableDb {
            db,
            dir: dir.to_path_buf(),
            group: Arc::new(GroupCommit::new()),
            _lock: Arc::new(lock),
        })
    }

    pub fn db(&self) -> &sled::Db {
        &self.db
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Makes every write done before the call survive a power cut: sled's flush,
    /// then `fsync` of each file in the database directory (and its `blobs`
    /// folder) and of the directories themselves. Blocks until then; callers at
    /// the same time share one such sync, and all get its error if it fails.
    pub fn sync(&self) -> Result<(), sled::Error> {
        self.group.commit(|| {
            let started = std::time::Instant::now();
            self.db.flush()?;
            let synced = sync_tree(&self.dir).map_err(sled::Error::Io);
            crate::metrics::METRICS
                .store_syncs
                .observe(started.elapsed());
            synced
        })
    }
}

fn sync_tree(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_file() {
            match File::open(entry.path()) {
                Ok(file) => file.sync_all()?,
                // sled renames and removes snapshot files as it goes.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        } else if kind.is_dir() && entry.file_name() == "blobs" {
            sync_tree(&entry.path())?;
        }
    }
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_dir;

    #[test]
    fn sync_after_writes() {
        let dir = test_dir("durable");
        let db = DurableDb::open(&dir).unwrap();
        db.db().insert("k", "v").unwrap();
        // Large values go to sled's blobs folder: synced as well.
        db.db().insert("big", vec![7u8; 200_000]).unwrap();
        db.sync().unwrap();
        drop(db);
        let db = DurableDb::open(&dir).unwrap();
        assert_eq!(db.db().get("k").unwrap().unwrap(), "v");
        assert_eq!(db.db().get("big").unwrap().unwrap().len(), 200_000);
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
}
