//! How a store that is down comes back up: a thread of its own probes the data
//! directory every second (free space first, then a small file written and
//! synced, so a full card is not written to at every probe), and once the disk
//! takes writes, closes the database and opens it again (see [`super::durable`]).

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;
use std::sync::Weak;
use std::time::Duration;

/// What recovery works on: a store that can say where its files are, open its
/// database again, and be told it is up.
pub(super) trait Reopen {
    /// The data directory probed for writes.
    fn dir(&self) -> &Path;
    /// Closes the database and opens it again from what its files hold.
    fn reopen(&self) -> Result<(), sled::Error>;
    /// The store is up again.
    fn recovered(&self);
}

/// The file a probe writes to see whether the disk takes writes again.
const PROBE_FILE: &str = "sessio.probe";

/// What a probe writes and syncs.
const PROBE_BYTES: usize = 4096;

/// The free space a probe asks for before it writes: sled zeroes the rest of its
/// current log segment (512 KiB) when it opens, and must have room to write after.
const ROOM_BYTES: u64 = 1024 * 1024;

/// How often a store that is down probes its disk.
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// How many times in a row the database may fail to open again, its disk taking
/// writes, before the process gives up.
const REOPEN_ROUNDS: u32 = 5;

/// Whether `dir` takes a write and its sync now, with room for the store to
/// open there: the free space looked at, then a small probe file written,
/// synced and removed (so a full card is not written to at every probe).
pub fn probe(dir: &Path) -> io::Result<()> {
    let space = rustix::fs::statvfs(dir)?;
    if space.f_bavail.saturating_mul(space.f_frsize) < ROOM_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::StorageFull,
            "No space left on device (the store needs 1 MiB free)",
        ));
    }
    let path = dir.join(PROBE_FILE);
    let written = File::create(&path).and_then(|mut file| {
        file.write_all(&[0u8; PROBE_BYTES])?;
        file.sync_all()
    });
    let removed = fs::remove_file(&path);
    written?;
    removed
}

/// The recovery of a store that is down, on a thread of its own until the store
/// is up again (or dropped): probes its disk every second and, once that takes
/// writes, opens the database again.
pub(super) fn recover(shared: Weak<impl Reopen>) {
    let mut failed_rounds = 0;
    loop {
        std::thread::sleep(PROBE_EVERY);
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if probe(shared.dir()).is_err() {
            continue;
        }
        match shared.reopen() {
            Ok(()) => {
                shared.recovered();
                return;
            }
            Err(e) => {
                failed_rounds += 1;
                if failed_rounds >= REOPEN_ROUNDS {
                    log::error!(
                        "store in {} takes writes again but does not open: {e}; exiting for a restart",
                        shared.dir().display()
                    );
                    std::process::exit(1);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::DurableDb;
    use super::*;
    use crate::store::test_dir;

    #[test]
    fn writes_are_refused_while_down_and_taken_once_recovered() {
        let dir = test_dir("durable-heal");
        let db = DurableDb::open(&dir).unwrap();
        db.tree("t").unwrap().insert("kept", "1").unwrap();
        db.sync().unwrap();
        // As if the disk had refused a write: the store goes down.
        db.fault(&sled::Error::Io(io::Error::from_raw_os_error(28)));
        assert!(!db.is_up());
        let refused = db.tree_to_write("t").unwrap_err();
        assert!(refused.to_string().contains("No space left"), "{refused}");
        assert!(db.sync().is_err());
        // Reads go on.
        assert_eq!(db.tree("t").unwrap().get("kept").unwrap().unwrap(), "1");
        // The disk here takes writes: the recovery opens the database again.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !db.is_up() {
            assert!(std::time::Instant::now() < deadline, "not up again");
            std::thread::sleep(Duration::from_millis(50));
        }
        let tree = db.tree_to_write("t").unwrap();
        assert_eq!(tree.get("kept").unwrap().unwrap(), "1");
        tree.insert("new", "2").unwrap();
        db.sync().unwrap();
        drop((tree, db));
        let db = DurableDb::open(&dir).unwrap();
        assert_eq!(db.tree("t").unwrap().get("new").unwrap().unwrap(), "2");
        drop(db);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn reads_go_on_through_the_reopen() {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        use std::sync::Arc;
        let dir = test_dir("recovery-reads");
        let db = DurableDb::open(&dir).unwrap();
        db.tree("t").unwrap().insert("kept", "1").unwrap();
        db.sync().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let reads = Arc::new(AtomicUsize::new(0));
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let (db, stop, reads) = (db.clone(), stop.clone(), reads.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let value = db.tree("t").and_then(|tree| tree.get("kept"));
                        assert_eq!(value.unwrap().unwrap(), "1");
                        reads.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        db.fault(&sled::Error::Io(io::Error::from_raw_os_error(libc::EROFS)));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !db.is_up() {
            assert!(std::time::Instant::now() < deadline, "not up again");
            std::thread::sleep(Duration::from_millis(20));
        }
        let before = reads.load(Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(50));
        stop.store(true, Ordering::Relaxed);
        for reader in readers {
            reader.join().expect("a read failed during the reopen");
        }
        assert!(
            reads.load(Ordering::Relaxed) > before,
            "no reads after the reopen"
        );
        drop(db);
        fs::remove_dir_all(dir).unwrap();
    }
}
