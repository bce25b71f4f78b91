//! Whether the store takes writes: *up*, or *down* since a write or sync failed
//! with an I/O error (a full disk, a file system remounted read-only, a failing
//! card). A transition is logged once each way; while down, writes are refused
//! with the error that took the store down.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// The store's state, shared by its clones.
pub struct Health {
    up: AtomicBool,
    /// While down: what took the store down, and when.
    fault: Mutex<Option<(sled::Error, Instant)>>,
}

impl Health {
    pub fn new() -> Health {
        Health {
            up: AtomicBool::new(true),
            fault: Mutex::new(None),
        }
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// `Ok` while up; while down, the error that took the store down.
    pub fn check(&self) -> Result<(), sled::Error> {
        if self.is_up() {
            return Ok(());
        }
        match &*self.lock() {
            Some((cause, _)) => Err(plain(cause)),
            // Up again meanwhile.
            None => Ok(()),
        }
    }

    /// Takes the store down because of `cause`; `true` when it was up (the caller
    /// then starts the recovery). Logs once per fault.
    pub fn fail(&self, cause: &sled::Error, dir: &std::path::Path) -> bool {
        let mut fault = self.lock();
        if fault.is_some() {
            return false;
        }
        let cause = plain(cause);
        *fault = Some((plain(&cause), Instant::now()));
        self.up.store(false, Ordering::Release);
        log::error!(
            "store in {} failed: {cause}; writes are refused until the disk takes them again",
            dir.display()
        );
        true
    }

    /// Brings the store up again (logged once, with how long it was down).
    pub fn recovered(&self) {
        let mut fault = self.lock();
        if let Some((_, since)) = fault.take() {
            log::warn!(
                "store recovered after {:.1} s: writes are accepted again",
                since.elapsed().as_secs_f64()
            );
        }
        self.up.store(true, Ordering::Release);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(sled::Error, Instant)>> {
        // An error and an instant: consistent at every unlock.
        self.fault.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A copy of `error` that reads as the system's message. (sled's `clone` of an
/// I/O error keeps its kind but turns the message into its debug form,
/// `Os { code: 28, kind: StorageFull, message: "No space left on device" }`.)
pub fn plain(error: &sled::Error) -> sled::Error {
    let sled::Error::Io(e) = error else {
        return error.clone();
    };
    let code = e.raw_os_error().or(match e.kind() {
        io::ErrorKind::StorageFull => Some(libc::ENOSPC),
        io::ErrorKind::ReadOnlyFilesystem => Some(libc::EROFS),
        io::ErrorKind::QuotaExceeded => Some(libc::EDQUOT),
        _ => None,
    });
    sled::Error::Io(match code {
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::new(e.kind(), e.to_string()),
    })
}

/// What a client is told when a write is refused because the store is down.
pub const WRITES_REFUSED: &str =
    "the store cannot take writes now (disk full or read-only), try again later";

/// Whether `error` says the disk could not take a write (so the store goes down
/// and heals), rather than a bug or bad data.
pub fn is_disk_fault(error: &sled::Error) -> bool {
    matches!(error, sled::Error::Io(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn down_once_then_up() {
        let health = Health::new();
        assert!(health.check().is_ok());
        let full = sled::Error::Io(io::Error::from_raw_os_error(28));
        assert!(health.fail(&full, std::path::Path::new("/data")));
        // A second failure while down starts no second recovery.
        assert!(!health.fail(&full, std::path::Path::new("/data")));
        assert!(!health.is_up());
        let refused = health.check().unwrap_err();
        assert!(
            refused.to_string().contains("No space left on device"),
            "{refused}"
        );
        // However often it is copied, it reads as the system's message.
        let cloned = sled::Error::Io(io::Error::from_raw_os_error(28)).clone();
        assert!(!health.fail(&cloned, std::path::Path::new("/data")));
        assert_eq!(
            plain(&cloned).to_string(),
            "IO error: No space left on device (os error 28)"
        );
        health.recovered();
        assert!(health.is_up());
        assert!(health.check().is_ok());
        assert!(health.fail(&full, std::path::Path::new("/data")));
    }
}
