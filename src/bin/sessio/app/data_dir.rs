//! The data directory: making it, and opening the database, the session
//! store and the accounts in it (or in Redis), also on a card that refuses
//! writes for a while.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sessio::accounts::{AccountStore, Accounts, PasswordParams};
#[cfg(feature = "redis")]
use sessio::session::{CookieShape, RedisStore};
use sessio::session::{SledStore, Store, StoreError};
use sessio::store::{DurableDb, OpenError};

use super::error::{StartError, STARTUP_WAIT};
use crate::config::Config;
#[cfg(feature = "redis")]
use crate::config::{AccountStoreKind, SessionStoreKind};

/// Where the accounts are kept in Redis (`--account-store redis`).
#[cfg(feature = "redis")]
const REDIS_ACCOUNT_PREFIX: &str = "sessio:";

/// Creates the data directory (owner-only) and checks it can be written.
pub fn prepare_data_dir(dir: &Path) -> Result<(), StartError> {
    use std::os::unix::fs::DirBuilderExt;
    let fail = |e| StartError::DataDir(dir.to_path_buf(), e);
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(fail)?;
    }
    let probe = dir.join(".write-test");
    std::fs::write(&probe, b"").map_err(fail)?;
    std::fs::remove_file(&probe).map_err(fail)
}

/// How often the server looks again at such a data directory.
const STARTUP_PROBE_EVERY: Duration = Duration::from_secs(2);

/// Whether an I/O error says the disk refuses writes (rather than, say, a
/// permission or a missing path): the kind of error a disk recovers from.
fn disk_refuses(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        error.kind(),
        ErrorKind::ReadOnlyFilesystem | ErrorKind::StorageFull | ErrorKind::QuotaExceeded
    ) || error.raw_os_error() == Some(libc::EIO)
}

/// Opens the store in the data directory.
pub fn open_db(config: &Config) -> Result<DurableDb, StartError> {
    prepare_data_dir(&config.data_dir)?;
    let path = config.data_dir.join("db");
    DurableDb::open_with_cache(&path, config.cache_mb << 20).map_err(|e| match e {
        OpenError::Locked => StartError::Locked(config.data_dir.clone()),
        OpenError::Io(e) | OpenError::Sled(sled::Error::Io(e)) if disk_refuses(&e) => {
            StartError::Disk(config.data_dir.clone(), e)
        }
        other => StartError::Store(other.to_string()),
    })
}

/// Opens the store for the server on a card that may be sick. A data directory
/// whose disk refuses writes (read-only, or too full for the store to open: sled
/// zeroes the rest of a log segment when it opens) is waited for, said so in
/// one line, for up to [`STARTUP_WAIT`], and then the server exits. (A disk that
/// fills up later only takes the store down: see [`sessio::store`].)
pub(super) fn open_db_for_serving(config: &Config) -> Result<DurableDb, StartError> {
    let started = std::time::Instant::now();
    let mut waiting = false;
    let db = loop {
        let ready = if config.data_dir.exists() {
            sessio::store::probe(&config.data_dir)
                .map_err(|e| StartError::Disk(config.data_dir.clone(), e))
        } else {
            Ok(())
        };
        let refused = match ready.and_then(|()| open_db(config)) {
            Ok(db) => break db,
            Err(StartError::Disk(_, e) | StartError::DataDir(_, e)) if disk_refuses(&e) => e,
            Err(other) => return Err(other),
        };
        if started.elapsed() >= STARTUP_WAIT {
            return Err(StartError::Disk(config.data_dir.clone(), refused));
        }
        if !waiting {
            log::error!(
                "data directory {} cannot be written ({refused}): waiting up to {} s for it to take writes",
                config.data_dir.display(),
                STARTUP_WAIT.as_secs()
            );
            waiting = true;
        }
        std::thread::sleep(STARTUP_PROBE_EVERY);
    };
    if waiting {
        log::warn!(
            "data directory {} takes writes again",
            config.data_dir.display()
        );
    }
    Ok(db)
}

/// The session store the options choose: sled in the data directory, or
/// Redis (`--session-store redis`, the `redis` feature).
pub fn open_session_store(config: &Config, db: &DurableDb) -> Result<Arc<dyn Store>, StartError> {
    let store = |e: StoreError| StartError::Store(e.to_string());
    match (config.session_store, &config.redis) {
        #[cfg(feature = "redis")]
        (SessionStoreKind::Redis, Some(url)) => Ok(Arc::new(
            RedisStore::open(
                url,
                &config.redis_session_prefix,
                CookieShape {
                    max_age: config.session_max_age,
                    secure: config.secure_cookie(),
                },
            )
            .map_err(store)?,
        )),
        // Config::load refuses the other combinations.
        _ => Ok(Arc::new(SledStore::open(db).map_err(store)?)),
    }
}

/// The accounts the options choose: in sled in the data directory, or in
/// Redis (`--account-store redis`, the `redis` feature), under `sessio:`.
pub fn open_accounts(config: &Config, db: &DurableDb) -> Result<Accounts, StartError> {
    let store = match (config.account_store, &config.redis) {
        #[cfg(feature = "redis")]
        (AccountStoreKind::Redis, Some(url)) => AccountStore::Redis(Arc::new(
            sessio::accounts::RedisAccounts::open(url, REDIS_ACCOUNT_PREFIX)
                .map_err(|e| StartError::Store(e.to_string()))?,
        )),
        // Config::load refuses the other combinations.
        _ => AccountStore::Sled(db.clone()),
    };
    Accounts::with_params(store, PasswordParams::default())
        .map_err(|e| StartError::Store(e.to_string()))
}
