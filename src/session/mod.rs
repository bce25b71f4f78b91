//! Cookie sessions shared by HTTP and Socket.IO: unguessable ids in a signed cookie,
//! records in a sled store keyed by a hash of the id, and express-session's
//! semantics on top.
//!
//! A request does `let mut s = sessions.load(cookie_header)`, reads and changes
//! `s`, and ends with `sessions.commit(&mut s)`, sending the `Set-Cookie` it returns.

mod cookie;
mod durable;
mod header;
mod id;
mod secret;
#[allow(clippy::module_inception)]
mod session;
mod sled_store;
mod store;

pub use cookie::CookieKeys;
pub use durable::DurableDb;
pub use id::SessionId;
pub use secret::{Secret, SecretError, MIN_SECRET_CHARS};
pub use session::{Session, SessionConfig, Sessions};
pub use sled_store::SledStore;
pub use store::{now_ms, MemoryStore, Record, Store, StoreError, StoreKey};

/// A new empty directory for one test, under the system temp dir.
#[cfg(test)]
pub(crate) fn test_dir(name: &str) -> std::path::PathBuf {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).unwrap();
    let suffix: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let dir = std::env::temp_dir().join(format!("sessio-test-{name}-{suffix}"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
