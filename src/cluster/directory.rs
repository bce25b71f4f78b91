//! Where each node of the cluster is reached: a Redis key per node tag,
//! `<prefix>#sessio-node#<tag>`, holding the address the node advertises,
//! with a time to live the node refreshes while it runs. A node that is gone
//! stops refreshing, and its key expires within [`TTL`]. Lookups are kept
//! for [`CACHE`], so a busy forwarder asks Redis about a node now and then.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::tag::NodeTag;
use crate::store::redis_pool::RedisPool;

/// How long a node's key lives without a refresh.
pub const TTL: Duration = Duration::from_secs(10);
/// How often a node refreshes its key.
const REFRESH: Duration = Duration::from_secs(3);
/// How long a lookup is believed.
const CACHE: Duration = Duration::from_secs(2);
/// Tags tried at start before giving up (each taken one means a clash of
/// 48 random bits, so the second is already a formality).
const CLAIM_TRIES: usize = 4;

/// Why the directory could not be had.
#[derive(Debug)]
pub enum DirectoryError {
    /// Redis refused or could not be reached.
    Redis(redis::RedisError),
    /// Every tag tried was taken.
    NoFreeTag,
}

impl fmt::Display for DirectoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DirectoryError::Redis(e) => write!(f, "node directory in redis: {e}"),
            DirectoryError::NoFreeTag => f.write_str("node directory: no free node tag"),
        }
    }
}

impl std::error::Error for DirectoryError {}

impl From<redis::RedisError> for DirectoryError {
    fn from(e: redis::RedisError) -> Self {
        DirectoryError::Redis(e)
    }
}

/// The cluster's node addresses in Redis; see the module documentation.
/// Cheap to clone.
#[derive(Clone)]
pub struct Directory {
    inner: Arc<Inner>,
}

struct Inner {
    pool: RedisPool,
    prefix: String,
    /// This node's tag and address, when it can be reached by the others.
    own: Option<(NodeTag, String)>,
    cache: Mutex<HashMap<String, (String, Instant)>>,
}

impl Directory {
    /// Opens the directory on the Redis at `url` (blocking), and when this
    /// node is reached on `advertised` (`HOST:PORT`), claims a tag for it.
    /// Without an address the node forwards to the others but takes no tag:
    /// its sids are untagged, and are never forwarded to it. A Redis that
    /// cannot be reached now does not stop the node (as the adapter's link
    /// does not): it takes a random tag, which [`Directory::run`] registers
    /// once Redis answers.
    pub fn open(
        url: &str,
        prefix: &str,
        advertised: Option<&str>,
    ) -> Result<Directory, DirectoryError> {
        let pool = RedisPool::lazy(url)?;
        let own = match advertised {
            None => None,
            Some(address) => {
                let tag = match claim(&pool, prefix, address) {
                    Err(DirectoryError::Redis(err)) => {
                        let tag = NodeTag::random();
                        log::warn!("node directory: redis cannot be reached ({err}); node {tag} registers once it can");
                        tag
                    }
                    claimed => claimed?,
                };
                Some((tag, address.to_owned()))
            }
        };
        Ok(Directory {
            inner: Arc::new(Inner {
                pool,
                prefix: prefix.to_owned(),
                own,
                cache: Mutex::default(),
            }),
        })
    }

    /// This node's tag, when it has one.
    pub fn tag(&self) -> Option<&NodeTag> {
        self.inner.own.as_ref().map(|(tag, _)| tag)
    }

    fn cache(&self) -> MutexGuard<'_, HashMap<String, (String, Instant)>> {
        self.inner.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The address of the node tagged `tag`, while its key lives; `None`
    /// when it is gone or Redis cannot say.
    pub async fn address_of(&self, tag: &str) -> Option<String> {
        if let Some((address, at)) = self.cache().get(tag) {
            if at.elapsed() < CACHE {
                return Some(address.clone());
            }
        }
        let inner = self.inner.clone();
        let key = key(&inner.prefix, tag);
        let found = crate::blocking::unblock(move || {
            inner
                .pool
                .with(|con| redis::cmd("GET").arg(&key).query::<Option<String>>(con))
        })
        .await;
        let mut cache = self.cache();
        match found {
            Ok(Some(address)) => {
                // Bounded by the live nodes, less what expired.
                cache.retain(|_, (_, at)| at.elapsed() < CACHE);
                cache.insert(tag.to_owned(), (address.clone(), Instant::now()));
                Some(address)
            }
            Ok(None) => {
                cache.remove(tag);
                None
            }
            Err(err) => {
                log::debug!("looking up node {tag} in redis failed: {err}");
                None
            }
        }
    }

    /// Forgets what was looked up about `tag` (its node did not answer).
    pub fn forget(&self, tag: &str) {
        self.cache().remove(tag);
    }

    /// Refreshes this node's key for as long as it runs; says once when
    /// Redis fails and once when it answers again.
    pub async fn run(&self) {
        let Some((tag, address)) = self.inner.own.clone() else {
            return;
        };
        let mut failing = false;
        let mut first = true;
        loop {
            if !std::mem::take(&mut first) {
                smol::Timer::after(REFRESH).await;
            }
            let inner = self.inner.clone();
            let (key, address) = (key(&inner.prefix, tag.as_str()), address.clone());
            let set = crate::blocking::unblock(move || {
                inner.pool.with(|con| {
                    redis::cmd("SET")
                        .arg(&key)
                        .arg(&address)
                        .arg("PX")
                        .arg(TTL.as_millis() as u64)
                        .query::<()>(con)
                })
            })
            .await;
            match set {
                Err(err) if !failing => {
                    failing = true;
                    log::warn!("node directory: cannot refresh node {tag} in redis ({err}); other nodes stop forwarding to this one until it can");
                }
                Ok(()) if failing => {
                    failing = false;
                    log::info!("node directory: node {tag} refreshed in redis again");
                }
                _ => {}
            }
        }
    }

    /// Removes this node's key (at a clean stop), so the others stop
    /// forwarding to it at once. Blocking.
    pub fn leave(&self) {
        if let Some((tag, _)) = &self.inner.own {
            let key = key(&self.inner.prefix, tag.as_str());
            let _ = self
                .inner
                .pool
                .with(|con| redis::cmd("DEL").arg(&key).query::<()>(con));
        }
    }
}

fn key(prefix: &str, tag: &str) -> String {
    format!("{prefix}#sessio-node#{tag}")
}

/// A tag no live node has, registered for `address`.
fn claim(pool: &RedisPool, prefix: &str, address: &str) -> Result<NodeTag, DirectoryError> {
    for _ in 0..CLAIM_TRIES {
        let tag = NodeTag::random();
        let key = key(prefix, tag.as_str());
        let set: Option<String> = pool.with(|con| {
            redis::cmd("SET")
                .arg(&key)
                .arg(address)
                .arg("NX")
                .arg("PX")
                .arg(TTL.as_millis() as u64)
                .query(con)
        })?;
        if set.is_some() {
            return Ok(tag);
        }
    }
    Err(DirectoryError::NoFreeTag)
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_per_prefix_and_tag() {
        assert_eq!(
            super::key("socket.io", "AbCd-_12"),
            "socket.io#sessio-node#AbCd-_12"
        );
    }
}
