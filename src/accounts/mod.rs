//! User accounts: registration and password checks (argon2id), kept in sled or
//! (the `redis` feature) in Redis for a cluster, and the throttle that slows
//! down and then refuses repeated failed logins.

mod error;
mod password;
#[cfg(feature = "redis")]
mod redis_users;
mod store;
mod throttle;
mod users;

pub use error::{AccountError, Invalid};
pub use password::{HashError, PasswordParams};
pub use store::AccountStore;
#[cfg(feature = "redis")]
pub use store::RedisAccounts;
pub use throttle::{Limits, LoginThrottle, Retry, ThrottleConfig};
pub use users::{Accounts, User};
