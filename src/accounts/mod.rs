//! User accounts: registration and password checks (argon2id) in sled, and the
//! throttle that slows down and then refuses repeated failed logins.

mod password;
mod throttle;
mod users;

pub use password::{HashError, PasswordParams};
pub use throttle::{Limits, LoginThrottle, Retry, ThrottleConfig};
pub use users::{AccountError, Accounts, Invalid, User};
