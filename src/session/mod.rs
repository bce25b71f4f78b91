//! Cookie sessions shared by HTTP and Socket.IO: unguessable ids in a signed cookie,
//! records in a sled store keyed by a hash of the id (or, with the `redis` feature,
//! in Redis as connect-redis keeps them), and express-session's semantics on top.
//!
//! Wiring at start-up: `Secret::load_or_create(data_dir)` (or `Secret::from_text`
//! from configuration), `DurableDb::open(&data_dir.join("db"))` (see
//! [`crate::store`]) shared with the accounts, `SledStore::open(&db)`, then [`Sessions::new`]. A request loads its
//! session from the `Cookie` header, reads and changes it, and ends with
//! [`Sessions::commit`], sending the `Set-Cookie` it returns:
//!
//! ```
//! use std::sync::Arc;
//! use sessio::session::{CookieKeys, MemoryStore, Secret, SessionConfig, Sessions};
//!
//! let keys = CookieKeys::new(&Secret::from_text("at least sixteen characters")?, &[]);
//! let sessions = Sessions::new(Arc::new(MemoryStore::new()), keys, SessionConfig::default());
//!
//! // POST /api/login, once the password is verified: a fresh id, stored durably.
//! let mut session = sessions.load(Some("sessio.sid=whatever-the-client-had"));
//! sessions.regenerate(&mut session)?;
//! session.insert("userId".into(), 1.into());
//! session.insert("username".into(), "ann".into());
//! let set_cookie = sessions.commit(&mut session)?.expect("a new session sends its cookie");
//!
//! // A later request (or a Socket.IO handshake) with that cookie.
//! let cookie = set_cookie.split(';').next().unwrap_or_default();
//! let session = sessions.load(Some(cookie));
//! assert_eq!(session.get("username").and_then(|v| v.as_str()), Some("ann"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod cookie;
#[cfg(feature = "redis")]
mod express_cookie;
#[cfg(feature = "redis")]
mod express_record;
pub(crate) mod header;
mod id;
#[cfg(feature = "redis")]
mod redis_store;
mod secret;
#[allow(clippy::module_inception)]
mod session;
mod sled_store;
mod store;

pub use cookie::CookieKeys;
#[cfg(all(feature = "redis", any(test, fuzzing)))]
pub(crate) use express_cookie::percent_decode;
#[cfg(feature = "redis")]
pub use express_cookie::{ExpressCookieError, ExpressKeys};
#[cfg(feature = "redis")]
pub use express_record::CookieShape;
pub use id::{SessionId, StoreKey};
#[cfg(all(feature = "redis", test))]
pub(crate) use redis_store::tests::TestRedis;
#[cfg(feature = "redis")]
pub use redis_store::RedisStore;
pub use secret::{Secret, SecretError, MIN_SECRET_CHARS};
pub use session::{Session, SessionConfig, Sessions, DEFAULT_COOKIE_NAME};
pub use sled_store::SledStore;
pub use store::{now_ms, MemoryStore, Record, Store, StoreError};
