//! Where the user records live, as bytes by username: sled's tree `users` in
//! the data directory (the id counter in tree `accounts`), or Redis with the
//! `redis` feature (see `redis_users.rs`). [`Accounts`](super::Accounts)
//! validates, hashes and encodes; the store only keeps the records.

use crate::store::DurableDb;

use super::error::AccountError;

#[cfg(feature = "redis")]
pub use super::redis_users::RedisAccounts;

/// A username and its record.
pub(super) type Entry = (Vec<u8>, Vec<u8>);
/// What [`AccountStore::modify`] does to a record: its new bytes, or why not.
pub(super) type Change<'a> = dyn FnMut(&[u8]) -> Result<Vec<u8>, AccountError> + 'a;

const NEXT_ID_KEY: &[u8] = b"next_user_id";
/// The tree of the users, by name.
pub(super) const USERS: &str = "users";
/// The tree of the id counter.
const META: &str = "accounts";

/// The store of the user records.
#[derive(Clone)]
#[non_exhaustive]
pub enum AccountStore {
    /// The sled database in the data directory; every change is on disk when
    /// it returns.
    Sled(DurableDb),
    /// Redis, shared by the nodes of a cluster.
    #[cfg(feature = "redis")]
    Redis(std::sync::Arc<RedisAccounts>),
}

impl AccountStore {
    /// Makes sure the store can be used.
    pub(super) fn prepare(&self) -> Result<(), AccountError> {
        match self {
            AccountStore::Sled(db) => db.tree(USERS).map(drop).map_err(AccountError::from),
            #[cfg(feature = "redis")]
            AccountStore::Redis(_) => Ok(()),
        }
    }

    /// The record of `username`, if any.
    pub(super) fn load(&self, username: &str) -> Result<Option<Vec<u8>>, AccountError> {
        match self {
            AccountStore::Sled(db) => Ok(db.tree(USERS)?.get(username)?.map(|v| v.to_vec())),
            #[cfg(feature = "redis")]
            AccountStore::Redis(redis) => redis.load(username),
        }
    }

    /// Whether `username` is taken; refused while the store takes no writes
    /// (before a registration spends a hash on it).
    pub(super) fn taken(&self, username: &str) -> Result<bool, AccountError> {
        match self {
            AccountStore::Sled(db) => Ok(db.tree_to_write(USERS)?.contains_key(username)?),
            #[cfg(feature = "redis")]
            AccountStore::Redis(redis) => redis.load(username).map(|r| r.is_some()),
        }
    }

    /// Stores `record` as `username`'s if there is none yet, durably; `false`
    /// when there is one (of two at once, exactly one wins).
    pub(super) fn insert_new(&self, username: &str, record: Vec<u8>) -> Result<bool, AccountError> {
        match self {
            AccountStore::Sled(db) => {
                let users = db.tree_to_write(USERS)?;
                if db
                    .written(users.compare_and_swap(username, None::<&[u8]>, Some(record)))?
                    .is_err()
                {
                    return Ok(false);
                }
                db.sync()?;
                Ok(true)
            }
            #[cfg(feature = "redis")]
            AccountStore::Redis(redis) => redis.insert_new(username, &record),
        }
    }

    /// Replaces the record of `username` by `change` of it, atomically (it
    /// runs again when another writer got in between) and durably; `false`
    /// when there is none (a user deleted meanwhile stays deleted).
    pub(super) fn modify(
        &self,
        username: &str,
        change: &mut Change<'_>,
    ) -> Result<bool, AccountError> {
        match self {
            AccountStore::Sled(db) => {
                let users = db.tree_to_write(USERS)?;
                loop {
                    let Some(old) = users.get(username)? else {
                        return Ok(false);
                    };
                    let new = change(&old)?;
                    if db
                        .written(users.compare_and_swap(username, Some(old), Some(new)))?
                        .is_ok()
                    {
                        db.sync()?;
                        return Ok(true);
                    }
                }
            }
            #[cfg(feature = "redis")]
            AccountStore::Redis(redis) => redis.modify(username, change),
        }
    }

    /// Removes the record of `username`, durably; `false` when there was none.
    pub(super) fn remove(&self, username: &str) -> Result<bool, AccountError> {
        match self {
            AccountStore::Sled(db) => {
                let users = db.tree_to_write(USERS)?;
                let removed = db.written(users.remove(username))?.is_some();
                if removed {
                    db.sync()?;
                }
                Ok(removed)
            }
            #[cfg(feature = "redis")]
            AccountStore::Redis(redis) => redis.remove(username),
        }
    }

    /// Every record, with its username.
    pub(super) fn all(&self) -> Result<Vec<Entry>, AccountError> {
        match self {
            AccountStore::Sled(db) => db
                .tree(USERS)?
                .iter()
                .map(|entry| {
                    let (key, value) = entry?;
                    Ok((key.to_vec(), value.to_vec()))
                })
                .collect(),
            #[cfg(feature = "redis")]
            AccountStore::Redis(redis) => redis.all(),
        }
    }

    /// The next user id: 1, 2, 3, ... (an id lost to a lost race is not reused).
    pub(super) fn next_id(&self) -> Result<u64, AccountError> {
        match self {
            AccountStore::Sled(db) => {
                let meta = db.tree_to_write(META)?;
                let value = db.written(meta.update_and_fetch(NEXT_ID_KEY, |old| {
                    let n = old
                        .and_then(|b| <[u8; 8]>::try_from(b).ok())
                        .map_or(0, u64::from_be_bytes);
                    Some(n.saturating_add(1).to_be_bytes().to_vec())
                }))?;
                value
                    .and_then(|b| <[u8; 8]>::try_from(&b[..]).ok())
                    .map(u64::from_be_bytes)
                    .ok_or_else(|| AccountError::Corrupt("user id counter".into()))
            }
            #[cfg(feature = "redis")]
            AccountStore::Redis(redis) => redis.next_id(),
        }
    }
}
