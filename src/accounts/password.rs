//! Password hashing: argon2id with a 16-byte salt from the OS random source, stored
//! as a PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`), which carries its own
//! parameters so they can change without breaking old hashes.
//!
//! Default parameters: m = 10 MiB, t = 2, p = 1. Measured on this x86-64 build
//! machine in release mode (`cargo test --release -- --ignored --nocapture
//! default_params_timing`), on 2 cores shared with other jobs: 15 ms per hash at
//! best (25 ms when busy); 8 MiB took 11 ms, 16 MiB 32 ms (time grows faster than
//! memory once it leaves the caches). A Raspberry Pi 4 (Cortex-A72) is roughly 4-6x
//! slower per core for argon2, so about 60-90 ms there: tens of milliseconds, as
//! intended. Each hash in flight holds 10 MiB, so the HTTP layer should run hashes on
//! a bounded blocking pool. This is below OWASP's minimum (19 MiB with t = 2, about
//! 3x the work), which would cost 200 ms or more per login on the target board; a
//! deployment on faster hardware can raise [`PasswordParams`], and old hashes keep
//! verifying because each PHC string carries its own parameters.

use std::fmt;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// The cost of a password hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for PasswordParams {
    fn default() -> PasswordParams {
        PasswordParams {
            memory_kib: 10 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// Why a hash could not be made or read.
#[derive(Debug)]
pub enum HashError {
    /// Parameters argon2 refuses (e.g. too little memory).
    Params(argon2::Error),
    /// A stored hash that is not a valid PHC string.
    Malformed(argon2::password_hash::Error),
    /// Hashing failed.
    Hash(argon2::password_hash::Error),
    /// The OS random source failed.
    Random(getrandom::Error),
}

impl fmt::Display for HashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HashError::Params(e) => write!(f, "bad password hash parameters: {e}"),
            HashError::Malformed(e) => write!(f, "stored password hash is malformed: {e}"),
            HashError::Hash(e) => write!(f, "password hashing failed: {e}"),
            HashError::Random(e) => write!(f, "OS random source failed: {e}"),
        }
    }
}

impl std::error::Error for HashError {}

impl PasswordParams {
    fn hasher(&self) -> Result<Argon2<'static>, HashError> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(HashError::Params)?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }

    /// Hashes `password` with a fresh salt, as a PHC string.
    pub fn hash(&self, password: &str) -> Result<String, HashError> {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(HashError::Random)?;
        let salt = SaltString::encode_b64(&salt).map_err(HashError::Hash)?;
        let hash = self
            .hasher()?
            .hash_password(password.as_bytes(), &salt)
            .map_err(HashError::Hash)?;
        Ok(hash.to_string())
    }
}

/// Whether `password` matches the PHC string `stored` (using the parameters in it).
pub fn verify(stored: &str, password: &str) -> Result<bool, HashError> {
    let hash = PasswordHash::new(stored).map_err(HashError::Malformed)?;
    #[cfg(test)]
    VERIFIED.with(|v| v.borrow_mut().push(hash.params.to_string()));
    match Argon2::default().verify_password(password.as_bytes(), &hash) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(e) => Err(HashError::Hash(e)),
    }
}

#[cfg(test)]
thread_local! {
    /// The parameters of each hash [`verify`] computed on this thread, for
    /// tests that a path runs a full hash (timing them would be flaky).
    pub(crate) static VERIFIED: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[cfg(test)]
pub(crate) const TEST_PARAMS: PasswordParams = PasswordParams {
    memory_kib: 1024,
    iterations: 1,
    parallelism: 1,
};

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn hash_then_verify() {
        let hash = TEST_PARAMS.hash("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        assert!(verify(&hash, "correct horse").unwrap());
        assert!(!verify(&hash, "correct horsE").unwrap());
        assert!(!verify(&hash, "").unwrap());
        // Salted: the same password hashes differently each time.
        assert_ne!(hash, TEST_PARAMS.hash("correct horse").unwrap());
    }

    #[test]
    fn malformed_stored_hash_is_an_error() {
        assert!(matches!(verify("", "pw"), Err(HashError::Malformed(_))));
        assert!(matches!(
            verify("$argon2id$v=19$m=1024,t=1,p=1$%%%$%%%", "pw"),
            Err(HashError::Malformed(_))
        ));
        // A PHC string without a hash part never matches.
        assert!(!verify("$argon2id$v=19$garbage", "pw").unwrap_or(false));
    }

    #[test]
    fn bad_params_are_an_error() {
        let params = PasswordParams {
            memory_kib: 1,
            ..TEST_PARAMS
        };
        assert!(matches!(params.hash("pw"), Err(HashError::Params(_))));
    }

    #[test]
    fn default_params_hash_and_verify() {
        let hash = PasswordParams::default().hash("pässwörd").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=10240,t=2,p=1$"));
        assert!(verify(&hash, "pässwörd").unwrap());
    }

    /// Prints how long the default parameters take here; run in release mode.
    #[test]
    #[ignore]
    fn default_params_timing() {
        let params = PasswordParams::default();
        let candidates = [
            params,
            PasswordParams {
                memory_kib: 8 * 1024,
                iterations: 2,
                parallelism: 1,
            },
            PasswordParams {
                memory_kib: 16 * 1024,
                iterations: 2,
                parallelism: 1,
            },
        ];
        for p in candidates {
            p.hash("warm up").unwrap();
            let runs = 10;
            let start = Instant::now();
            for _ in 0..runs {
                p.hash("some password").unwrap();
            }
            println!("{p:?}: {:?} per hash", start.elapsed() / runs);
        }
    }
}
