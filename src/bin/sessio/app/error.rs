//! Why the server could not start.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// How long the server waits at start for a data directory whose disk refuses
/// writes (read-only, or too full to open the store) before it exits: long
/// enough that a service manager restarting it does not make a loop of it.
pub(super) const STARTUP_WAIT: Duration = Duration::from_secs(60);

/// Why the server could not start; each says what to do in one line.
#[derive(Debug)]
pub enum StartError {
    DataDir(PathBuf, std::io::Error),
    /// The data directory's disk refuses writes (read-only, full): waited for
    /// it to take them, in vain.
    Disk(PathBuf, std::io::Error),
    Locked(PathBuf),
    Store(String),
    Secret(String),
    Www(PathBuf, String),
    Listen(std::net::SocketAddr, std::io::Error),
    #[cfg(feature = "tls")]
    Tls(sessio::tls::TlsError),
    /// The Redis adapter's URL is not usable.
    #[cfg(feature = "redis")]
    Adapter(String),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::DataDir(dir, e) => {
                write!(f, "data directory {} is not usable: {e}", dir.display())
            }
            StartError::Disk(dir, e) => write!(
                f,
                "data directory {} still cannot be written after {} s ({e}); exiting",
                dir.display(),
                STARTUP_WAIT.as_secs()
            ),
            StartError::Locked(dir) => write!(
                f,
                "data directory {} is locked by another sessio instance",
                dir.display()
            ),
            StartError::Store(e) => write!(f, "cannot open the store: {e}"),
            StartError::Secret(e) => write!(f, "cookie secret: {e}"),
            StartError::Www(dir, e) => write!(f, "www folder {}: {e}", dir.display()),
            StartError::Listen(addr, e) => write!(f, "cannot listen on {addr}: {e}"),
            #[cfg(feature = "redis")]
            StartError::Adapter(e) => write!(f, "redis adapter: {e}"),
            #[cfg(feature = "tls")]
            StartError::Tls(e) => write!(f, "TLS: {e}"),
        }
    }
}

impl std::error::Error for StartError {}
