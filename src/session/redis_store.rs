//! The session store in Redis, in connect-redis 7's layout, so an Express app
//! (express-session + connect-redis, same prefix) and other sessio nodes share
//! the sessions: key `<prefix><session id>`, value the session as express-session
//! serializes it ([`super::express_record`]), expiry the key's TTL.
//!
//! Unlike sled, Redis holds the raw ids (connect-redis's layout needs them): the
//! operator's calls, which name sessions by [`StoreKey`], find them by hashing
//! the ids of the keys they scan. Keys whose id is not 32 base64url characters
//! (an Express app with its own `genid`) are left alone, except by `clear`.
//!
//! What "durable" means here: a call returns once Redis has acknowledged the
//! write, so a login answered 200 is in Redis; whether Redis itself survives a
//! crash with it is its own configuration (`appendonly`, `appendfsync`).
//!
//! The calls block (sync client, on the blocking threads like sled's), through
//! a pool of connections (`store/redis_pool.rs`).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use redis::{Connection, RedisResult};

use super::express_record::{self, CookieShape, Stored};
use super::id::SessionId;
use super::id::StoreKey;
use super::store::{now_ms, Record, Store, StoreError};
use crate::store::redis_pool::{self, glob_escape, RedisPool};

/// How often a read-modify-write retries when another writer got in between.
const MAX_CAS_RETRIES: usize = 64;

/// Sessions in Redis.
pub struct RedisStore {
    pool: RedisPool,
    /// The ids behind the store keys the last `list` gave the operator, so
    /// that removing those sessions one by one (`user del`) does not scan
    /// every key once per session.
    listed: Mutex<HashMap<StoreKey, SessionId>>,
    prefix: String,
    shape: CookieShape,
}

impl RedisStore {
    /// Connects to `url` (checking it answers), keys under `prefix`; new
    /// sessions describe their cookie as `shape`.
    pub fn open(url: &str, prefix: &str, shape: CookieShape) -> Result<RedisStore, StoreError> {
        Ok(RedisStore {
            pool: RedisPool::open(url).map_err(StoreError::Redis)?,
            listed: Mutex::new(HashMap::new()),
            prefix: prefix.to_owned(),
            shape,
        })
    }

    /// Runs `call` on a pooled connection (see [`RedisPool::with`]).
    fn with<T>(
        &self,
        call: impl FnMut(&mut Connection) -> RedisResult<T>,
    ) -> Result<T, StoreError> {
        self.pool.with(call).map_err(StoreError::Redis)
    }

    fn key(&self, id: &SessionId) -> String {
        format!("{}{}", self.prefix, id.to_text())
    }

    /// The session id of a Redis key under the prefix, if it names one.
    fn id_of(&self, key: &[u8]) -> Option<SessionId> {
        let rest = key.strip_prefix(self.prefix.as_bytes())?;
        SessionId::parse(std::str::from_utf8(rest).ok()?)
    }

    /// Every key under the prefix (SCAN, so Redis is never blocked).
    fn scan(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        let pattern = format!("{}*", glob_escape(&self.prefix));
        redis_pool::scan(&self.pool, &pattern).map_err(StoreError::Redis)
    }
}

/// A panic elsewhere while holding a lock leaves the map itself intact.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// How one attempt of a read-modify-write ended.
enum Step {
    Done,
    Gone,
    Raced,
    Corrupt(Vec<u8>),
}

/// The value and remaining lifetime (ms; -1: none) of `key`, if it exists.
fn get(con: &mut Connection, key: &str) -> RedisResult<Option<(Vec<u8>, i64)>> {
    let (value, ttl): (Option<Vec<u8>>, i64) = redis::pipe()
        .cmd("GET")
        .arg(key)
        .cmd("PTTL")
        .arg(key)
        .query(con)?;
    Ok(value.map(|v| (v, ttl)))
}

/// When a stored session expires: its cookie's `expires` (to the millisecond),
/// unless that has passed while the key lives on (connect-redis's `touch`
/// moves only the TTL); then the key's TTL. A key without a TTL
/// (connect-redis's `disableTTL`) lives until removed.
fn expires_at(cookie: Option<&serde_json::Value>, ttl_ms: i64) -> u64 {
    let now = now_ms();
    let written = cookie
        .and_then(|c| c.get("expires"))
        .and_then(|e| e.as_str())
        .and_then(crate::clock::parse_iso)
        .and_then(|ms| u64::try_from(ms).ok())
        .filter(|&ms| ms > now);
    match (written, u64::try_from(ttl_ms)) {
        (Some(ms), _) => ms,
        (None, Ok(left)) => now.saturating_add(left),
        (None, Err(_)) => u64::MAX,
    }
}

/// Milliseconds from now until `expires_at_ms` (0 when past).
fn ttl_from(expires_at_ms: u64) -> u64 {
    expires_at_ms.saturating_sub(now_ms())
}

fn corrupt(id: &SessionId, bytes: &[u8]) -> StoreError {
    match express_record::decode(bytes) {
        Err(e) => StoreError::Corrupt(id.store_key(), e),
        // Not reached: only undecodable values are reported.
        Ok(_) => StoreError::Contended(id.store_key()),
    }
}

impl Store for RedisStore {
    fn load(&self, id: &SessionId) -> Result<Option<Record>, StoreError> {
        let key = self.key(id);
        let Some((bytes, ttl_ms)) = self.with(|con| get(con, &key))? else {
            return Ok(None);
        };
        let Stored { data, cookie } =
            express_record::decode(&bytes).map_err(|e| StoreError::Corrupt(id.store_key(), e))?;
        let record = Record {
            data,
            expires_at_ms: expires_at(cookie.as_ref(), ttl_ms),
        };
        Ok((!record.is_expired(now_ms())).then_some(record))
    }

    fn save(&self, id: &SessionId, record: &Record) -> Result<(), StoreError> {
        let key = self.key(id);
        let ttl = ttl_from(record.expires_at_ms);
        if ttl == 0 {
            // connect-redis too removes a session saved already expired.
            return self.destroy(id);
        }
        let value = express_record::encode(&record.data, self.shape.cookie(record.expires_at_ms));
        self.with(|con| {
            redis::cmd("SET")
                .arg(&key)
                .arg(&value)
                .arg("PX")
                .arg(ttl)
                .exec(con)
        })
    }

    /// Applies `change` to the live record of `id` atomically (WATCH, then
    /// MULTI/EXEC; it runs again when another writer got in between); `false`
    /// when there is no live record.
    fn modify(
        &self,
        id: &SessionId,
        change: &mut dyn FnMut(&mut Record),
    ) -> Result<bool, StoreError> {
        let key = self.key(id);
        for _ in 0..MAX_CAS_RETRIES {
            let step = self.with(|con| {
                redis::cmd("WATCH").arg(&key).exec(con)?;
                let found = get(con, &key)?;
                let Some((bytes, ttl_ms)) = found else {
                    redis::cmd("UNWATCH").exec(con)?;
                    return Ok(Step::Gone);
                };
                let Ok(stored) = express_record::decode(&bytes) else {
                    redis::cmd("UNWATCH").exec(con)?;
                    return Ok(Step::Corrupt(bytes));
                };
                let mut record = Record {
                    expires_at_ms: expires_at(stored.cookie.as_ref(), ttl_ms),
                    data: stored.data,
                };
                let before = record.expires_at_ms;
                change(&mut record);
                let moved = record.expires_at_ms != before;
                let cookie = match stored.cookie {
                    Some(cookie) if moved => {
                        express_record::with_expiry(cookie, record.expires_at_ms)
                    }
                    Some(cookie) => cookie,
                    None => self.shape.cookie(record.expires_at_ms),
                };
                let value = express_record::encode(&record.data, cookie);
                let mut set = redis::cmd("SET");
                set.arg(&key).arg(value);
                if moved {
                    set.arg("PX").arg(ttl_from(record.expires_at_ms).max(1));
                } else {
                    set.arg("KEEPTTL");
                }
                Ok(match redis_pool::exec_watched(con, set)? {
                    true => Step::Done,
                    false => Step::Raced,
                })
            })?;
            match step {
                Step::Done => return Ok(true),
                Step::Gone => return Ok(false),
                Step::Raced => continue,
                Step::Corrupt(bytes) => return Err(corrupt(id, &bytes)),
            }
        }
        Err(StoreError::Contended(id.store_key()))
    }

    fn destroy(&self, id: &SessionId) -> Result<(), StoreError> {
        let key = self.key(id);
        self.with(|con| redis::cmd("DEL").arg(&key).exec(con))
    }

    /// Redis removes expired keys itself: nothing is left to purge.
    fn purge_expired(&self, _now_ms: u64) -> Result<usize, StoreError> {
        Ok(0)
    }

    fn list(&self) -> Result<Vec<(StoreKey, Record)>, StoreError> {
        let mut records = Vec::new();
        let mut listed = HashMap::new();
        for key in self.scan()? {
            let Some(id) = self.id_of(&key) else { continue };
            // Gone since the scan: skipped.
            if let Some(record) = self.load(&id)? {
                records.push((id.store_key(), record));
                listed.insert(id.store_key(), id);
            }
        }
        *lock(&self.listed) = listed;
        Ok(records)
    }

    fn remove(&self, key: &StoreKey) -> Result<bool, StoreError> {
        let known = lock(&self.listed).remove(key);
        let id = match known {
            Some(id) => Some(id),
            None => self
                .scan()?
                .iter()
                .filter_map(|k| self.id_of(k))
                .find(|id| id.store_key() == *key),
        };
        let Some(id) = id else {
            return Ok(false);
        };
        let redis_key = self.key(&id);
        let removed: usize = self.with(|con| redis::cmd("DEL").arg(&redis_key).query(con))?;
        Ok(removed > 0)
    }

    fn clear(&self) -> Result<Vec<StoreKey>, StoreError> {
        let mut removed = Vec::new();
        for key in self.scan()? {
            let gone: usize = self.with(|con| redis::cmd("DEL").arg(&key).query(con))?;
            if let Some(id) = self.id_of(&key).filter(|_| gone > 0) {
                removed.push(id.store_key());
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::session::store::{check_store_contract, Expired};
    use crate::store::redis_pool::{COMMAND_TIMEOUT, CONNECT_TIMEOUT};
    use redis::Client;
    use serde_json::json;
    use std::process::{Child, Command, Stdio};
    use std::time::Duration;

    /// A redis-server of its own on a free loopback port, in a temporary
    /// directory, killed when dropped.
    pub(crate) struct TestRedis {
        child: Child,
        dir: std::path::PathBuf,
        pub url: String,
    }

    impl TestRedis {
        /// `None` (the test then says it is skipped) when there is no redis-server.
        pub(crate) fn start(name: &str) -> Option<TestRedis> {
            let bin = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .ok()?
                .port();
            let dir = crate::store::test_dir(name);
            let child = Command::new(&bin)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            let Ok(child) = child else {
                eprintln!("SKIPPED: no {bin} to run");
                return None;
            };
            let redis = TestRedis {
                child,
                dir,
                url: format!("redis://127.0.0.1:{port}/"),
            };
            for _ in 0..100 {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Some(redis);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            panic!("redis-server did not listen on {port}");
        }
    }

    impl Drop for TestRedis {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn shape() -> CookieShape {
        CookieShape {
            max_age: Duration::from_secs(60),
            secure: false,
        }
    }

    fn raw(redis: &TestRedis) -> Connection {
        Client::open(redis.url.as_str())
            .unwrap()
            .get_connection()
            .unwrap()
    }

    #[test]
    fn redis_store_keeps_the_contract() {
        let Some(redis) = TestRedis::start("redis-contract") else {
            return;
        };
        check_store_contract(
            &RedisStore::open(&redis.url, "sess:", shape()).unwrap(),
            Expired::Removed,
        );
    }

    #[test]
    fn connect_redis_layout_and_ttl() {
        let Some(redis) = TestRedis::start("redis-layout") else {
            return;
        };
        let store = RedisStore::open(&redis.url, "app:", shape()).unwrap();
        let id = SessionId::generate().unwrap();
        let expires = now_ms() + 60_000;
        let data = json!({"username": "ann", "count": 1});
        let record = Record {
            data: data.as_object().unwrap().clone(),
            expires_at_ms: expires,
        };
        store.save(&id, &record).unwrap();
        let mut con = raw(&redis);
        let key = format!("app:{}", id.to_text());
        let value: String = redis::cmd("GET").arg(&key).query(&mut con).unwrap();
        let stored: serde_json::Value = serde_json::from_str(&value).unwrap();
        assert_eq!(stored["username"], "ann");
        assert_eq!(stored["cookie"]["originalMaxAge"], 60_000);
        assert_eq!(
            stored["cookie"]["expires"],
            crate::clock::iso(expires as i64)
        );
        let ttl: i64 = redis::cmd("TTL").arg(&key).query(&mut con).unwrap();
        assert!((59..=60).contains(&ttl), "{ttl}");

        // A change keeps the TTL and the cookie object; a touch moves both.
        assert!(store
            .modify(&id, &mut |r| {
                r.data.insert("count".into(), json!(2));
            })
            .unwrap());
        let pttl: i64 = redis::cmd("PTTL").arg(&key).query(&mut con).unwrap();
        assert!(pttl > 50_000 && pttl <= 60_000, "{pttl}");
        assert!(store.touch(&id, now_ms() + 120_000).unwrap());
        let ttl: i64 = redis::cmd("TTL").arg(&key).query(&mut con).unwrap();
        assert!((119..=120).contains(&ttl), "{ttl}");
        let value: String = redis::cmd("GET").arg(&key).query(&mut con).unwrap();
        let stored: serde_json::Value = serde_json::from_str(&value).unwrap();
        assert_eq!(stored["count"], 2);
        assert_eq!(stored["cookie"]["originalMaxAge"], 60_000);
        assert_ne!(
            stored["cookie"]["expires"],
            crate::clock::iso(expires as i64)
        );

        // What another app wrote under the prefix is read; keys that name no
        // session id are left alone.
        redis::cmd("SET")
            .arg("app:not-a-session-id")
            .arg("{}")
            .exec(&mut con)
            .unwrap();
        assert_eq!(store.list().unwrap().len(), 1);
        store.destroy(&id).unwrap();
        assert_eq!(store.load(&id).unwrap(), None);
        let exists: i64 = redis::cmd("EXISTS").arg(&key).query(&mut con).unwrap();
        assert_eq!(exists, 0);
    }

    #[test]
    fn the_operator_removes_by_store_key_listed_or_not() {
        let Some(redis) = TestRedis::start("redis-remove") else {
            return;
        };
        let store = RedisStore::open(&redis.url, "sess:", shape()).unwrap();
        let record = Record {
            data: json!({"username": "ann"}).as_object().unwrap().clone(),
            expires_at_ms: now_ms() + 60_000,
        };
        let ids: Vec<SessionId> = (0..3).map(|_| SessionId::generate().unwrap()).collect();
        for id in &ids {
            store.save(id, &record).unwrap();
        }
        // As `user del` does: list, then remove what it found.
        for (key, _) in store.list().unwrap().into_iter().take(2) {
            assert!(store.remove(&key).unwrap());
            assert!(!store.remove(&key).unwrap());
        }
        assert_eq!(store.list().unwrap().len(), 1);
        // Saved after the listing: found by a scan.
        let late = SessionId::generate().unwrap();
        store.save(&late, &record).unwrap();
        assert!(store.remove(&late.store_key()).unwrap());
        assert_eq!(store.load(&late).unwrap(), None);
        assert_eq!(store.list().unwrap().len(), 1);
    }

    #[test]
    fn a_lost_connection_is_replaced() {
        let Some(redis) = TestRedis::start("redis-reconnect") else {
            return;
        };
        let store = RedisStore::open(&redis.url, "sess:", shape()).unwrap();
        let id = SessionId::generate().unwrap();
        let record = Record {
            data: json!({"n": 1}).as_object().unwrap().clone(),
            expires_at_ms: now_ms() + 60_000,
        };
        store.save(&id, &record).unwrap();
        // Redis drops every client connection, the pooled one too.
        let mut con = raw(&redis);
        redis::cmd("CLIENT")
            .arg("KILL")
            .arg("TYPE")
            .arg("normal")
            .arg("SKIPME")
            .arg("yes")
            .exec(&mut con)
            .unwrap();
        // The dead connection is replaced, and the call goes through.
        assert_eq!(store.load(&id).unwrap().unwrap().data["n"], 1);
        assert!(store.modify(&id, &mut |_| ()).unwrap());
    }

    #[test]
    fn a_corrupt_value_is_an_error() {
        let Some(redis) = TestRedis::start("redis-corrupt") else {
            return;
        };
        let store = RedisStore::open(&redis.url, "sess:", shape()).unwrap();
        let id = SessionId::generate().unwrap();
        let mut con = raw(&redis);
        redis::cmd("SET")
            .arg(format!("sess:{}", id.to_text()))
            .arg("{not json")
            .exec(&mut con)
            .unwrap();
        assert!(matches!(store.load(&id), Err(StoreError::Corrupt(..))));
        assert!(matches!(
            store.modify(&id, &mut |_| ()),
            Err(StoreError::Corrupt(..))
        ));
    }

    #[test]
    fn a_redis_that_never_answers_fails_the_call_in_bounded_time() {
        // Connections are accepted (by the backlog), nothing is ever read.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("redis://{}/", listener.local_addr().unwrap());
        let start = std::time::Instant::now();
        assert!(RedisStore::open(&url, "sess:", shape()).is_err());
        let took = start.elapsed();
        assert!(
            took < CONNECT_TIMEOUT + COMMAND_TIMEOUT,
            "a blocking thread was held {took:?}"
        );
    }
}
