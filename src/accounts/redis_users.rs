//! The user records in Redis (the `redis` feature), shared by every node of a
//! cluster: key `<prefix>user:<username>` holds the same JSON record the sled
//! store keeps (numeric id, creation time, argon2id hash), and
//! `<prefix>next_user_id` the id counter (INCR).
//!
//! A registration is one `SET ... NX`, so of two nodes registering one name at
//! once exactly one wins; a password change is a WATCH/MULTI/EXEC on the
//! record, so a user deleted meanwhile stays deleted.
//!
//! The login throttle's counters are here too (`<prefix>throttle:user:<hash>`,
//! `<prefix>throttle:ip:<address>`: failures, the key expiring a window after
//! the last), so every node counts the same failures. "Durable" means Redis
//! acknowledged the write; whether Redis keeps it over a crash is its own
//! configuration (`appendonly`, `appendfsync`).

use std::net::IpAddr;
use std::time::Duration;

use redis::{Connection, RedisResult};

use super::error::AccountError;
use crate::store::redis_pool::{self, glob_escape, RedisPool};

/// A record's new bytes, or why it could not be changed.
type Changed = Result<Vec<u8>, AccountError>;
/// A username's and an address's failed logins, each with how long until
/// they are forgotten.
type Counted = (Option<(u32, Duration)>, Option<(u32, Duration)>);
/// Usernames and their records.
type Listed = Vec<(Vec<u8>, Vec<u8>)>;

/// How often a password change retries when another writer got in between.
const MAX_CAS_RETRIES: usize = 64;
/// Records read by one MGET when listing.
const LIST_BATCH: usize = 100;

/// The user records in one Redis server, under one prefix.
pub struct RedisAccounts {
    pool: RedisPool,
    prefix: String,
}

impl RedisAccounts {
    /// Connects to `url` (checking it answers); keys go under `prefix`.
    pub fn open(url: &str, prefix: &str) -> Result<RedisAccounts, AccountError> {
        Ok(RedisAccounts {
            pool: RedisPool::open(url)?,
            prefix: prefix.to_owned(),
        })
    }

    fn with<T>(
        &self,
        call: impl FnMut(&mut Connection) -> RedisResult<T>,
    ) -> Result<T, AccountError> {
        Ok(self.pool.with(call)?)
    }

    fn key(&self, username: &str) -> String {
        format!("{}user:{username}", self.prefix)
    }

    pub(super) fn load(&self, username: &str) -> Result<Option<Vec<u8>>, AccountError> {
        let key = self.key(username);
        self.with(|con| redis::cmd("GET").arg(&key).query(con))
    }

    pub(super) fn insert_new(&self, username: &str, record: &[u8]) -> Result<bool, AccountError> {
        let key = self.key(username);
        self.with(|con| {
            let set: Option<String> = redis::cmd("SET")
                .arg(&key)
                .arg(record)
                .arg("NX")
                .query(con)?;
            if set.is_some() {
                return Ok(true);
            }
            // Refused: another's record, or ours when a first attempt went
            // through on a connection that died before its answer (each
            // record has its own salt, so ours is told by its bytes).
            let now: Option<Vec<u8>> = redis::cmd("GET").arg(&key).query(con)?;
            Ok(now.as_deref() == Some(record))
        })
    }

    pub(super) fn modify(
        &self,
        username: &str,
        change: &mut dyn FnMut(&[u8]) -> Changed,
    ) -> Result<bool, AccountError> {
        let key = self.key(username);
        for _ in 0..MAX_CAS_RETRIES {
            let step = self.with(|con| {
                redis::cmd("WATCH").arg(&key).exec(con)?;
                let old: Option<Vec<u8>> = redis::cmd("GET").arg(&key).query(con)?;
                let Some(old) = old else {
                    redis::cmd("UNWATCH").exec(con)?;
                    return Ok(Step::Gone);
                };
                let new = match change(&old) {
                    Ok(new) => new,
                    Err(e) => {
                        redis::cmd("UNWATCH").exec(con)?;
                        return Ok(Step::Failed(e));
                    }
                };
                let mut set = redis::cmd("SET");
                set.arg(&key).arg(new).arg("XX");
                Ok(match redis_pool::exec_watched(con, set)? {
                    true => Step::Done,
                    false => Step::Raced,
                })
            })?;
            match step {
                Step::Done => return Ok(true),
                Step::Gone => return Ok(false),
                Step::Failed(e) => return Err(e),
                Step::Raced => continue,
            }
        }
        Err(AccountError::Contended(username.to_owned()))
    }

    pub(super) fn remove(&self, username: &str) -> Result<bool, AccountError> {
        let key = self.key(username);
        let removed: usize = self.with(|con| redis::cmd("DEL").arg(&key).query(con))?;
        Ok(removed > 0)
    }

    pub(super) fn all(&self) -> Result<Listed, AccountError> {
        let head = format!("{}user:", self.prefix);
        let pattern = format!("{}*", glob_escape(&head));
        let keys = redis_pool::scan(&self.pool, &pattern)?;
        let mut records = Vec::with_capacity(keys.len());
        for batch in keys.chunks(LIST_BATCH) {
            let values: Vec<Option<Vec<u8>>> =
                self.with(|con| redis::cmd("MGET").arg(batch).query(con))?;
            for (key, value) in batch.iter().zip(values) {
                // Gone since the scan: skipped.
                let (Some(name), Some(value)) = (key.strip_prefix(head.as_bytes()), value) else {
                    continue;
                };
                records.push((name.to_vec(), value));
            }
        }
        Ok(records)
    }

    fn throttle_keys(&self, user: &[u8; 16], ip: IpAddr) -> [String; 2] {
        let hex: String = user.iter().map(|b| format!("{b:02x}")).collect();
        [
            format!("{}throttle:user:{hex}", self.prefix),
            format!("{}throttle:ip:{ip}", self.prefix),
        ]
    }

    /// The login throttle's failures of a username and of an address, each
    /// with how long until they are forgotten.
    pub(super) fn throttle_counts(
        &self,
        user: &[u8; 16],
        ip: IpAddr,
    ) -> Result<Counted, AccountError> {
        let [user, ip] = self.throttle_keys(user, ip);
        let (user_n, user_ttl, ip_n, ip_ttl): (Option<u32>, i64, Option<u32>, i64) =
            self.with(|con| {
                redis::pipe()
                    .cmd("GET")
                    .arg(&user)
                    .cmd("PTTL")
                    .arg(&user)
                    .cmd("GET")
                    .arg(&ip)
                    .cmd("PTTL")
                    .arg(&ip)
                    .query(con)
            })?;
        // PTTL: -2 when the key is gone (expired between the two), -1 never.
        let left = |n: Option<u32>, ttl: i64| {
            let ttl = u64::try_from(ttl).ok()?;
            Some((n?, Duration::from_millis(ttl)))
        };
        Ok((left(user_n, user_ttl), left(ip_n, ip_ttl)))
    }

    /// Counts a failed login of a username from an address; each count is
    /// forgotten once `window` passes without another.
    pub(super) fn throttle_failure(
        &self,
        user: &[u8; 16],
        ip: IpAddr,
        window: Duration,
    ) -> Result<(), AccountError> {
        let keys = self.throttle_keys(user, ip);
        let ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
        self.with(|con| {
            let mut pipe = redis::pipe();
            pipe.atomic();
            for key in &keys {
                pipe.cmd("INCR").arg(key).ignore();
                pipe.cmd("PEXPIRE").arg(key).arg(ms).ignore();
            }
            pipe.exec(con)
        })
    }

    /// Forgets a username's failed logins.
    pub(super) fn throttle_success(&self, user: &[u8; 16]) -> Result<(), AccountError> {
        let [user, _] = self.throttle_keys(user, IpAddr::from([0, 0, 0, 0]));
        self.with(|con| redis::cmd("DEL").arg(&user).exec(con))
    }

    pub(super) fn next_id(&self) -> Result<u64, AccountError> {
        let key = format!("{}next_user_id", self.prefix);
        self.with(|con| redis::cmd("INCR").arg(&key).query(con))
    }
}

/// How one attempt of a password change ended.
enum Step {
    Done,
    Gone,
    Raced,
    /// The record could not be read or changed.
    Failed(AccountError),
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::accounts::password::TEST_PARAMS;
    use crate::accounts::{AccountStore, Accounts, Invalid};
    use crate::session::TestRedis;

    /// One node's accounts on `redis`, under `prefix`.
    fn node(redis: &TestRedis, prefix: &str) -> Accounts {
        let store = RedisAccounts::open(&redis.url, prefix).unwrap();
        Accounts::with_params(AccountStore::Redis(Arc::new(store)), TEST_PARAMS).unwrap()
    }

    fn raw(redis: &TestRedis) -> Connection {
        redis::Client::open(redis.url.as_str())
            .unwrap()
            .get_connection()
            .unwrap()
    }

    #[test]
    fn two_nodes_share_the_accounts() {
        let Some(redis) = TestRedis::start("accounts-redis-nodes") else {
            return;
        };
        let (a, b) = (node(&redis, "sessio:"), node(&redis, "sessio:"));
        let ann = a.register("ann", "correct horse").unwrap();
        assert_eq!(ann.id, 1);
        assert_eq!(b.verify("ann", "correct horse").unwrap(), ann);
        assert!(matches!(
            b.register("ann", "other password"),
            Err(AccountError::Taken)
        ));
        let bob = b.register("bob", "password").unwrap();
        assert_eq!(bob.id, 2);
        assert_eq!(a.list().unwrap(), vec![ann.clone(), bob.clone()]);
        assert_eq!(a.get("bob").unwrap(), Some(bob.clone()));

        // A new password on one node is the password on the other.
        let stamp = a.password_stamp("ann").unwrap().unwrap();
        assert!(b.set_password("ann", "battery staple").unwrap());
        assert_ne!(a.password_stamp("ann").unwrap(), Some(stamp));
        assert!(matches!(
            a.verify("ann", "correct horse"),
            Err(AccountError::InvalidCredentials)
        ));
        assert_eq!(a.verify("ann", "battery staple").unwrap(), ann);

        // Deleted on one node, gone on the other.
        assert!(b.delete("ann").unwrap());
        assert!(!a.delete("ann").unwrap());
        assert!(matches!(
            a.verify("ann", "battery staple"),
            Err(AccountError::InvalidCredentials)
        ));
        assert!(!a.set_password("ann", "battery staple").unwrap());
        assert_eq!(a.get("ann").unwrap(), None, "not brought back");
        assert_eq!(b.list().unwrap(), vec![bob]);
        // The name is free again, under a new id.
        assert_eq!(a.register("ann", "password").unwrap().id, 3);
    }

    #[test]
    fn validation_is_the_same_as_with_sled() {
        let Some(redis) = TestRedis::start("accounts-redis-valid") else {
            return;
        };
        let accounts = node(&redis, "sessio:");
        for (username, password, invalid) in [
            ("", "password", Invalid::Username),
            ("ann lee", "password", Invalid::Username),
            (&"u".repeat(33), "password", Invalid::Username),
            ("ann", "short", Invalid::Password),
        ] {
            match accounts.register(username, password) {
                Err(AccountError::Invalid(got)) => assert_eq!(got, invalid, "{username}"),
                other => panic!("{username:?}: {other:?}"),
            }
        }
        assert!(accounts.list().unwrap().is_empty());
    }

    #[test]
    fn of_concurrent_registers_on_two_nodes_one_wins() {
        let Some(redis) = TestRedis::start("accounts-redis-race") else {
            return;
        };
        let nodes = [node(&redis, "sessio:"), node(&redis, "sessio:")];
        for round in 0..5 {
            let name = format!("racer{round}");
            let results: Vec<_> = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..4)
                    .map(|i| {
                        let (accounts, name) = (&nodes[i % 2], &name);
                        scope.spawn(move || accounts.register(name, &format!("password{i}")))
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
            assert_eq!(winners.len(), 1, "{results:?}");
            assert!(results
                .iter()
                .all(|r| matches!(r, Ok(_) | Err(AccountError::Taken))));
            // The winner's password is the one that holds.
            let user = nodes[1].get(&name).unwrap().unwrap();
            assert_eq!(&user, winners[0]);
        }
        assert_eq!(nodes[0].list().unwrap().len(), 5);
    }

    #[test]
    fn the_layout_in_redis() {
        let Some(redis) = TestRedis::start("accounts-redis-layout") else {
            return;
        };
        let accounts = node(&redis, "app:");
        let ann = accounts.register("ann", "correct horse").unwrap();
        let mut con = raw(&redis);
        let text: String = redis::cmd("GET")
            .arg("app:user:ann")
            .query(&mut con)
            .unwrap();
        let record: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(record["id"], ann.id);
        assert_eq!(record["username"], "ann");
        assert_eq!(record["created_at_ms"], ann.created_at_ms);
        let hash = record["password_hash"].as_str().unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(!text.contains("correct horse"));
        let counter: u64 = redis::cmd("GET")
            .arg("app:next_user_id")
            .query(&mut con)
            .unwrap();
        assert_eq!(counter, 1);
        let ttl: i64 = redis::cmd("TTL")
            .arg("app:user:ann")
            .query(&mut con)
            .unwrap();
        assert_eq!(ttl, -1, "accounts do not expire");
        // Another prefix is another set of accounts.
        assert_eq!(node(&redis, "other:").list().unwrap(), vec![]);
    }

    #[test]
    fn a_corrupt_record_is_an_error() {
        let Some(redis) = TestRedis::start("accounts-redis-corrupt") else {
            return;
        };
        let accounts = node(&redis, "sessio:");
        redis::cmd("SET")
            .arg("sessio:user:ann")
            .arg("{oops")
            .exec(&mut raw(&redis))
            .unwrap();
        assert!(matches!(
            accounts.verify("ann", "password"),
            Err(AccountError::Corrupt(_))
        ));
        assert!(matches!(
            accounts.set_password("ann", "password"),
            Err(AccountError::Corrupt(_))
        ));
        assert!(matches!(accounts.list(), Err(AccountError::Corrupt(_))));
        assert!(matches!(
            accounts.register("ann", "password"),
            Err(AccountError::Taken)
        ));
    }

    #[test]
    fn no_redis_is_a_clear_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let url = format!("redis://127.0.0.1:{port}/");
        let err = RedisAccounts::open(&url, "sessio:").err().unwrap();
        assert!(matches!(err, AccountError::Redis(_)), "{err}");
        assert!(
            err.to_string().starts_with("account store: redis:"),
            "{err}"
        );
    }
}
