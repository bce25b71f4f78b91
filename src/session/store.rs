//! Where sessions live: the [`Store`] trait, its record and key types, and the
//! in-memory store used by tests.
//!
//! The operator's calls name records by [`StoreKey`], the blake3 hash of the session
//! id (see `id.rs`). sled keys by it, so a copy of that store holds no usable session ids; Redis
//! keys by the id itself, as connect-redis does (see `redis_store.rs`).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::id::{SessionId, StoreKey};

/// What is stored for one session: its data and when it expires.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The session's data, keys in the order they were set.
    pub data: Map<String, Value>,
    /// Milliseconds since the Unix epoch.
    pub expires_at_ms: u64,
}

impl Record {
    /// Whether the record's end is at or before `now_ms` (milliseconds since the Unix epoch).
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expires_at_ms <= now_ms
    }
}

/// Why a store operation failed.
#[derive(Debug)]
pub enum StoreError {
    /// The sled database failed.
    Sled(sled::Error),
    /// A stored record that is not valid JSON of a [`Record`].
    Corrupt(StoreKey, serde_json::Error),
    /// A record kept changing under a read-modify-write until it gave up.
    Contended(StoreKey),
    /// The OS random source failed while making a session id.
    Random(getrandom::Error),
    /// Redis refused a command, or could not be reached.
    #[cfg(feature = "redis")]
    Redis(redis::RedisError),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Sled(e) => write!(f, "session store: {e}"),
            StoreError::Corrupt(key, e) => write!(f, "session store: record {key} is corrupt: {e}"),
            StoreError::Contended(key) => {
                write!(
                    f,
                    "session store: record {key} kept changing during an update"
                )
            }
            StoreError::Random(e) => write!(f, "OS random source failed: {e}"),
            #[cfg(feature = "redis")]
            StoreError::Redis(e) => write!(f, "session store: redis: {e}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Sled(e) => Some(e),
            StoreError::Corrupt(_, e) => Some(e),
            StoreError::Contended(_) | StoreError::Random(_) => None,
            #[cfg(feature = "redis")]
            StoreError::Redis(e) => Some(e),
        }
    }
}

impl StoreError {
    /// Whether the store's disk refused (full, read-only, failing): the store
    /// heals once the disk takes writes again, and the client may retry.
    pub fn is_disk_fault(&self) -> bool {
        matches!(self, StoreError::Sled(e) if crate::store::is_disk_fault(e))
    }
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> StoreError {
        StoreError::Sled(e)
    }
}

/// A session store.
///
/// Durability: every method that changes the store is on disk when it returns
/// (it survives `kill -9` and a power cut). The methods block: call them off the
/// executor (see [`crate::store`]).
pub trait Store: Send + Sync + 'static {
    /// The live record of `id`; `None` when there is none or it has expired.
    fn load(&self, id: &SessionId) -> Result<Option<Record>, StoreError>;
    /// Creates or replaces the record of `id`, durably.
    fn save(&self, id: &SessionId, record: &Record) -> Result<(), StoreError>;
    /// Reads, changes and writes the live record of `id` as one atomic step (no
    /// other write to it lands in between; `change` may run more than once);
    /// `false` when there is none.
    fn modify(
        &self,
        id: &SessionId,
        change: &mut dyn FnMut(&mut Record),
    ) -> Result<bool, StoreError>;
    /// Replaces the record of `id` only if a live one exists; `false` when none does
    /// (so a session destroyed meanwhile is not brought back).
    fn update(&self, id: &SessionId, record: &Record) -> Result<bool, StoreError> {
        self.modify(id, &mut |r| *r = record.clone())
    }
    /// Sets the expiry of the live record of `id`, leaving its data alone; `false`
    /// when there is none.
    fn touch(&self, id: &SessionId, expires_at_ms: u64) -> Result<bool, StoreError> {
        self.modify(id, &mut |r| r.expires_at_ms = expires_at_ms)
    }
    /// Removes the record of `id`, durably.
    fn destroy(&self, id: &SessionId) -> Result<(), StoreError> {
        self.remove(&id.store_key()).map(drop)
    }
    /// Removes expired (and unreadable) records; returns how many (none where
    /// the store removes them on its own, as Redis does).
    fn purge_expired(&self, now_ms: u64) -> Result<usize, StoreError>;
    /// Every record, expired ones not purged yet included, for the operator.
    fn list(&self) -> Result<Vec<(StoreKey, Record)>, StoreError>;
    /// How many records there are, expired ones not purged yet included.
    fn count(&self) -> Result<usize, StoreError> {
        self.list().map(|records| records.len())
    }
    /// Removes one record by key, durably; `false` when there was none.
    fn remove(&self, key: &StoreKey) -> Result<bool, StoreError>;
    /// Removes every record, durably; returns their keys.
    fn clear(&self) -> Result<Vec<StoreKey>, StoreError>;
}

/// Milliseconds since the Unix epoch, by the system clock.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A store in memory, lost when the process ends: for tests.
#[derive(Default)]
pub struct MemoryStore {
    records: Mutex<HashMap<StoreKey, Record>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn records(&self) -> MutexGuard<'_, HashMap<StoreKey, Record>> {
        // A panic elsewhere while holding the lock leaves the map itself intact.
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn live<'a>(
        records: &'a mut HashMap<StoreKey, Record>,
        id: &SessionId,
    ) -> Option<&'a mut Record> {
        records
            .get_mut(&id.store_key())
            .filter(|r| !r.is_expired(now_ms()))
    }
}

impl Store for MemoryStore {
    fn load(&self, id: &SessionId) -> Result<Option<Record>, StoreError> {
        Ok(MemoryStore::live(&mut self.records(), id).cloned())
    }

    fn save(&self, id: &SessionId, record: &Record) -> Result<(), StoreError> {
        self.records().insert(id.store_key(), record.clone());
        Ok(())
    }

    fn modify(
        &self,
        id: &SessionId,
        change: &mut dyn FnMut(&mut Record),
    ) -> Result<bool, StoreError> {
        let mut records = self.records();
        Ok(MemoryStore::live(&mut records, id).map(change).is_some())
    }

    fn purge_expired(&self, now_ms: u64) -> Result<usize, StoreError> {
        let mut records = self.records();
        let before = records.len();
        records.retain(|_, r| !r.is_expired(now_ms));
        Ok(before - records.len())
    }

    fn list(&self) -> Result<Vec<(StoreKey, Record)>, StoreError> {
        Ok(self
            .records()
            .iter()
            .map(|(k, r)| (*k, r.clone()))
            .collect())
    }

    fn remove(&self, key: &StoreKey) -> Result<bool, StoreError> {
        Ok(self.records().remove(key).is_some())
    }

    fn clear(&self) -> Result<Vec<StoreKey>, StoreError> {
        Ok(self.records().drain().map(|(key, _)| key).collect())
    }
}

/// How a store treats records past their expiry.
#[cfg(test)]
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Expired {
    /// Kept (not loaded) until [`Store::purge_expired`] removes them.
    KeptUntilPurged,
    /// Removed by the store on its own (Redis's TTL).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    Removed,
}

/// Checks that a store keeps to the [`Store`] contract; run on every store.
#[cfg(test)]
pub(crate) fn check_store_contract(store: &dyn Store, expired_records: Expired) {
    use serde_json::json;

    let now = now_ms();
    let record = |n: i64, expires_at_ms| Record {
        data: json!({ "n": n }).as_object().unwrap().clone(),
        expires_at_ms,
    };
    let live = SessionId::generate().unwrap();
    let expired = SessionId::generate().unwrap();
    let missing = SessionId::generate().unwrap();

    store.save(&live, &record(1, now + 60_000)).unwrap();
    store.save(&expired, &record(2, now - 1)).unwrap();
    assert_eq!(store.load(&live).unwrap(), Some(record(1, now + 60_000)));
    assert_eq!(store.load(&expired).unwrap(), None);
    assert_eq!(store.load(&missing).unwrap(), None);

    // update and touch change live records only.
    assert!(store.update(&live, &record(3, now + 60_000)).unwrap());
    assert!(!store.update(&expired, &record(3, now + 60_000)).unwrap());
    assert!(!store.update(&missing, &record(3, now + 60_000)).unwrap());
    assert_eq!(store.load(&missing).unwrap(), None);
    assert!(store.touch(&live, now + 120_000).unwrap());
    assert!(!store.touch(&expired, now + 120_000).unwrap());
    assert!(!store.touch(&missing, now + 120_000).unwrap());
    assert_eq!(store.load(&live).unwrap(), Some(record(3, now + 120_000)));
    assert_eq!(store.load(&expired).unwrap(), None);

    // modify is an atomic read-modify-write of live records: writers on many
    // threads at once lose no change.
    let bump = |r: &mut Record| {
        let n = r.data["n"].as_i64().unwrap();
        r.data.insert("n".into(), json!(n + 1));
    };
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..10 {
                    assert!(store.modify(&live, &mut |r| bump(r)).unwrap());
                }
            });
        }
    });
    assert_eq!(store.load(&live).unwrap(), Some(record(43, now + 120_000)));
    assert!(!store.modify(&expired, &mut |r| bump(r)).unwrap());
    assert!(!store.modify(&missing, &mut |r| bump(r)).unwrap());
    assert_eq!(store.load(&missing).unwrap(), None);

    // The operator's calls name records by the hash of the id.
    let kept = expired_records == Expired::KeptUntilPurged;
    let mut keys: Vec<StoreKey> = store.list().unwrap().into_iter().map(|(k, _)| k).collect();
    keys.sort();
    let mut expected = vec![live.store_key()];
    expected.extend(kept.then(|| expired.store_key()));
    expected.sort();
    assert_eq!(keys, expected);
    assert_eq!(
        store.count().unwrap(),
        expected.len(),
        "expired records count until purged, where they are kept"
    );

    assert_eq!(store.purge_expired(now).unwrap(), usize::from(kept));
    assert_eq!(store.list().unwrap().len(), 1);
    assert_eq!(store.count().unwrap(), 1);
    assert_eq!(store.purge_expired(now).unwrap(), 0);

    store.destroy(&live).unwrap();
    assert_eq!(store.load(&live).unwrap(), None);
    store.destroy(&missing).unwrap();

    store.save(&live, &record(4, now + 60_000)).unwrap();
    assert!(store.remove(&live.store_key()).unwrap());
    assert!(!store.remove(&live.store_key()).unwrap());

    store.save(&live, &record(5, now + 60_000)).unwrap();
    store.save(&expired, &record(6, now + 60_000)).unwrap();
    let mut cleared = store.clear().unwrap();
    cleared.sort();
    let mut expected = vec![live.store_key(), expired.store_key()];
    expected.sort();
    assert_eq!(cleared, expected);
    assert!(store.list().unwrap().is_empty());
    assert_eq!(store.count().unwrap(), 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_keeps_the_contract() {
        check_store_contract(&MemoryStore::new(), Expired::KeptUntilPurged);
    }

    #[test]
    fn store_key_text_round_trips() {
        let key = SessionId::generate().unwrap().store_key();
        let text = key.to_string();
        assert_eq!(text.len(), 64);
        assert_eq!(StoreKey::parse(&text), Some(key));
        assert_eq!(StoreKey::parse(&text[1..]), None);
        assert_eq!(StoreKey::parse(&format!("{}g", &text[1..])), None);
        assert_eq!(StoreKey::parse(&"é".repeat(32)), None);
        assert_eq!(key.room_key(), text[..32]);
        let key = StoreKey::from_bytes([0xa5; 32]);
        assert_eq!(key.to_string(), "a5".repeat(32));
    }

    #[test]
    fn record_json_shape() {
        let record: Record =
            serde_json::from_str(r#"{"data":{"username":"ann"},"expires_at_ms":5}"#).unwrap();
        assert_eq!(record.data["username"], "ann");
        assert!(record.is_expired(5));
        assert!(!record.is_expired(4));
    }
}
