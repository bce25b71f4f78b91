//! Why an account operation fails, and the rules a registration keeps.

use std::fmt;

use super::password::HashError;

/// The longest username, in bytes (ASCII only).
pub(super) const USERNAME_MAX: usize = 32;
/// A password's length, in characters.
pub(super) const PASSWORD_CHARS: std::ops::RangeInclusive<usize> = 8..=256;

/// What is wrong with a registration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invalid {
    /// The username is empty, too long, or has other characters than letters,
    /// digits, `_`, `.` and `-`.
    Username,
    /// The password is too short or too long.
    Password,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Invalid::Username => write!(
                f,
                "username must be 1 to {USERNAME_MAX} characters: letters, digits, '_', '.' or '-'"
            ),
            Invalid::Password => write!(
                f,
                "password must be {} to {} characters",
                PASSWORD_CHARS.start(),
                PASSWORD_CHARS.end()
            ),
        }
    }
}

/// Why an account operation failed.
#[derive(Debug)]
pub enum AccountError {
    /// Registration with a bad username or password (HTTP 400).
    Invalid(Invalid),
    /// The username is taken (HTTP 409).
    Taken,
    /// Unknown user or wrong password (HTTP 401); which one is not told.
    InvalidCredentials,
    /// The database failed.
    Store(sled::Error),
    /// A stored user record that cannot be read.
    Corrupt(String),
    /// Hashing or checking a password failed.
    Hash(HashError),
    /// Redis refused a command, or could not be reached.
    #[cfg(feature = "redis")]
    Redis(redis::RedisError),
    /// The record of this user kept changing during a password change.
    #[cfg(feature = "redis")]
    Contended(String),
}

impl fmt::Display for AccountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountError::Invalid(invalid) => invalid.fmt(f),
            AccountError::Taken => f.write_str("username taken"),
            AccountError::InvalidCredentials => f.write_str("invalid credentials"),
            AccountError::Store(e) => write!(f, "account store: {e}"),
            AccountError::Corrupt(what) => write!(f, "account store: corrupt record: {what}"),
            AccountError::Hash(e) => e.fmt(f),
            #[cfg(feature = "redis")]
            AccountError::Redis(e) => write!(f, "account store: redis: {e}"),
            #[cfg(feature = "redis")]
            AccountError::Contended(name) => {
                write!(f, "account store: {name} kept changing during an update")
            }
        }
    }
}

impl std::error::Error for AccountError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AccountError::Store(e) => Some(e),
            AccountError::Hash(e) => Some(e),
            #[cfg(feature = "redis")]
            AccountError::Redis(e) => Some(e),
            _ => None,
        }
    }
}

impl AccountError {
    /// Whether the store's disk refused (full, read-only, failing): the store
    /// heals once the disk takes writes again, and the client may retry.
    pub fn is_disk_fault(&self) -> bool {
        matches!(self, AccountError::Store(e) if crate::store::is_disk_fault(e))
    }
}

impl From<sled::Error> for AccountError {
    fn from(e: sled::Error) -> AccountError {
        AccountError::Store(e)
    }
}

#[cfg(feature = "redis")]
impl From<redis::RedisError> for AccountError {
    fn from(e: redis::RedisError) -> AccountError {
        AccountError::Redis(e)
    }
}

impl From<HashError> for AccountError {
    fn from(e: HashError) -> AccountError {
        AccountError::Hash(e)
    }
}
