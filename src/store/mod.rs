//! The store under sessions and accounts: one sled database in the data
//! directory ([`DurableDb`]), the group commit that makes writes durable
//! without one disk sync each ([`GroupCommit`]), and the store's health: down
//! while its disk refuses writes, up again once it takes them (`health.rs`).
//!
//! Durability: every call that changes sessions or accounts returns once the
//! change is on disk (it survives `kill -9` and a power cut), so whatever a
//! client was told (an HTTP answer, a Socket.IO ack) is still there after a
//! crash. Writes that arrive together are synced together.
//!
//! The one rule for blocking work: the store's calls block (sled reads may go
//! to disk, and every write waits for a sync, which an SD card can stall for
//! hundreds of milliseconds). So no call of [`DurableDb`], of a session
//! [`Store`](crate::session::Store), of [`Sessions`](crate::session::Sessions)
//! or of [`Accounts`](crate::accounts::Accounts) runs on an executor thread:
//! async code makes them inside [`crate::blocking::unblock`], Socket.IO connection
//! middleware runs there already, and socket handlers use the async methods of
//! [`SocketSession`](crate::socket_session::SocketSession), which do the same.
//! Only the operator's commands (no executor) call them directly.

mod durable;
mod group;
mod health;
mod recovery;
#[cfg(feature = "redis")]
pub(crate) mod redis_pool;

pub use durable::{DurableDb, OpenError, DEFAULT_CACHE_BYTES};
pub use group::GroupCommit;
pub use health::{is_disk_fault, WRITES_REFUSED};
pub use recovery::probe;

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
