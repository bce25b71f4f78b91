//! The session store on sled: tree `sessions`, key = [`StoreKey`] bytes, value = the
//! [`Record`] as JSON.
//!
//! What a power cut may lose: nothing that a call returned from. Every change
//! (a login, a logout, a `count`, a rolling expiry) ends with [`DurableDb::sync`],
//! which writers at the same time share (group commit). While the store is down
//! (its disk refuses writes, see [`crate::store`]) changes are refused and
//! reads go on.

use sled::{IVec, Tree};

use super::id::SessionId;
use super::id::StoreKey;
use super::store::{now_ms, Record, Store, StoreError};
use crate::store::DurableDb;

/// How often a read-modify-write retries when another writer got in between.
const MAX_CAS_RETRIES: usize = 64;

/// The tree the sessions are kept in.
const TREE: &str = "sessions";

/// Sessions in a sled tree.
pub struct SledStore {
    db: DurableDb,
}

impl SledStore {
    /// The session store in `db` (its own tree there).
    ///
    /// Errors: the tree cannot be opened.
    pub fn open(db: &DurableDb) -> Result<SledStore, StoreError> {
        db.tree(TREE)?;
        Ok(SledStore { db: db.clone() })
    }

    /// The tree, to read.
    fn tree(&self) -> Result<Tree, StoreError> {
        Ok(self.db.tree(TREE)?)
    }

    /// The tree, to change: refused while the store is down.
    fn tree_to_write(&self) -> Result<Tree, StoreError> {
        Ok(self.db.tree_to_write(TREE)?)
    }

    fn decode(key: &[u8], value: &[u8]) -> Result<Record, StoreError> {
        serde_json::from_slice(value).map_err(|e| StoreError::Corrupt(store_key(key), e))
    }

    fn encode(record: &Record) -> Vec<u8> {
        // A map of JSON values always serializes.
        serde_json::to_vec(record).unwrap_or_default()
    }

    fn sync(&self) -> Result<(), StoreError> {
        self.db.sync().map_err(StoreError::Sled)
    }
}

fn store_key(bytes: &[u8]) -> StoreKey {
    let mut key = [0u8; 32];
    let n = bytes.len().min(32);
    key[..n].copy_from_slice(&bytes[..n]);
    StoreKey::from_bytes(key)
}

impl Store for SledStore {
    fn load(&self, id: &SessionId) -> Result<Option<Record>, StoreError> {
        let key = id.store_key();
        let Some(value) = self.tree()?.get(key.as_bytes())? else {
            return Ok(None);
        };
        let record = SledStore::decode(key.as_bytes(), &value)?;
        Ok((!record.is_expired(now_ms())).then_some(record))
    }

    fn save(&self, id: &SessionId, record: &Record) -> Result<(), StoreError> {
        let tree = self.tree_to_write()?;
        self.db
            .written(tree.insert(id.store_key().as_bytes(), SledStore::encode(record)))?;
        self.sync()
    }

    /// Applies `change` to the live record of `id`, atomically (it runs again when
    /// another writer got in between), and syncs; `false` when there is no live
    /// record.
    fn modify(
        &self,
        id: &SessionId,
        change: &mut dyn FnMut(&mut Record),
    ) -> Result<bool, StoreError> {
        let key = id.store_key();
        let tree = self.tree_to_write()?;
        for _ in 0..MAX_CAS_RETRIES {
            let Some(old) = tree.get(key.as_bytes())? else {
                return Ok(false);
            };
            let mut record = SledStore::decode(key.as_bytes(), &old)?;
            if record.is_expired(now_ms()) {
                return Ok(false);
            }
            change(&mut record);
            let new = SledStore::encode(&record);
            match self
                .db
                .written(tree.compare_and_swap(key.as_bytes(), Some(old), Some(new)))?
            {
                Ok(()) => return self.sync().map(|()| true),
                Err(_) => continue,
            }
        }
        Err(StoreError::Contended(key))
    }

    fn purge_expired(&self, now_ms: u64) -> Result<usize, StoreError> {
        let tree = self.tree_to_write()?;
        let mut purged = 0;
        for entry in tree.iter() {
            let (key, value) = entry?;
            let dead = SledStore::decode(&key, &value).map_or(true, |r| r.is_expired(now_ms));
            if !dead {
                continue;
            }
            // Only if unchanged since read: a concurrent touch may have revived it.
            if self
                .db
                .written(tree.compare_and_swap(&key, Some(value), None::<IVec>))?
                .is_ok()
            {
                purged += 1;
            }
        }
        if purged > 0 {
            self.sync()?;
        }
        Ok(purged)
    }

    fn count(&self) -> Result<usize, StoreError> {
        // Keys only: no record is decoded.
        Ok(self
            .tree()?
            .iter()
            .keys()
            .try_fold(0, |n, key| key.map(|_| n + 1))?)
    }

    fn list(&self) -> Result<Vec<(StoreKey, Record)>, StoreError> {
        self.tree()?
            .iter()
            .map(|entry| {
                let (key, value) = entry?;
                Ok((store_key(&key), SledStore::decode(&key, &value)?))
            })
            .collect()
    }

    fn remove(&self, key: &StoreKey) -> Result<bool, StoreError> {
        let tree = self.tree_to_write()?;
        let removed = self.db.written(tree.remove(key.as_bytes()))?.is_some();
        if removed {
            self.sync()?;
        }
        Ok(removed)
    }

    fn clear(&self) -> Result<Vec<StoreKey>, StoreError> {
        let tree = self.tree_to_write()?;
        let mut removed = Vec::new();
        for key in tree.iter().keys() {
            let key = key?;
            if self.db.written(tree.remove(&key))?.is_some() {
                removed.push(store_key(&key));
            }
        }
        if !removed.is_empty() {
            self.sync()?;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::store::{check_store_contract, Expired};
    use crate::store::test_dir;
    use serde_json::json;

    #[test]
    fn sled_store_keeps_the_contract() {
        let dir = test_dir("sled-contract");
        let db = DurableDb::open(&dir).unwrap();
        check_store_contract(&SledStore::open(&db).unwrap(), Expired::KeptUntilPurged);
        drop(db);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn records_survive_reopen() {
        let dir = test_dir("sled-reopen");
        let id = SessionId::generate().unwrap();
        let record = Record {
            data: json!({"username": "ann", "count": 3})
                .as_object()
                .unwrap()
                .clone(),
            expires_at_ms: now_ms() + 60_000,
        };
        {
            let db = DurableDb::open(&dir).unwrap();
            SledStore::open(&db).unwrap().save(&id, &record).unwrap();
        }
        let db = DurableDb::open(&dir).unwrap();
        let store = SledStore::open(&db).unwrap();
        assert_eq!(store.load(&id).unwrap(), Some(record));
        // The raw id appears nowhere in the stored bytes.
        let id_bytes = id.as_bytes();
        for entry in db.tree("sessions").unwrap().iter() {
            let (key, value) = entry.unwrap();
            for bytes in [&key[..], &value[..]] {
                assert!(!bytes.windows(id_bytes.len()).any(|w| w == id_bytes));
                let text = id.to_text();
                assert!(!bytes.windows(text.len()).any(|w| w == text.as_bytes()));
            }
        }
        drop((store, db));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn corrupt_record_is_an_error_and_purged() {
        let dir = test_dir("sled-corrupt");
        let db = DurableDb::open(&dir).unwrap();
        let store = SledStore::open(&db).unwrap();
        let id = SessionId::generate().unwrap();
        db.tree("sessions")
            .unwrap()
            .insert(id.store_key().as_bytes(), &b"{not json"[..])
            .unwrap();
        assert!(matches!(store.load(&id), Err(StoreError::Corrupt(..))));
        assert!(store.list().is_err());
        assert_eq!(store.purge_expired(now_ms()).unwrap(), 1);
        assert_eq!(store.load(&id).unwrap(), None);
        drop((store, db));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
