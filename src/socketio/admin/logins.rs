//! The Admin UI's logins: after a good password the UI is given a random
//! id (the `session` event) and reconnects with it instead of the password.
//! Kept in memory, a few at most and for a day at most, each bound to the
//! account that logged in and its credentials' version (see
//! [`super::AdminAuth::credentials_version`]), so it ends when the account
//! does or its password changes.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::engineio::random_id;

/// Logins kept; past it the oldest is forgotten (its UI logs in again).
const MAX_LOGINS: usize = 64;
/// How long a login lasts.
const LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

#[derive(Default)]
pub(crate) struct Logins {
    logins: Mutex<VecDeque<Login>>,
}

struct Login {
    id: String,
    username: String,
    version: String,
    at: Instant,
}

impl Logins {
    /// A new login of `username` with its credentials' `version`; returns its id.
    pub(crate) fn start(&self, username: &str, version: String) -> String {
        let id = random_id();
        let mut logins = self.lock();
        if logins.len() == MAX_LOGINS {
            logins.pop_front();
        }
        logins.push_back(Login {
            id: id.clone(),
            username: username.to_owned(),
            version,
            at: Instant::now(),
        });
        id
    }

    /// The account and credentials' version of the live login `id`.
    pub(crate) fn get(&self, id: &str) -> Option<(String, String)> {
        let mut logins = self.lock();
        logins.retain(|l| l.at.elapsed() < LIFETIME);
        let login = logins.iter().find(|l| l.id == id)?;
        Some((login.username.clone(), login.version.clone()))
    }

    /// Forgets the login `id` (its account is gone).
    pub(crate) fn end(&self, id: &str) {
        self.lock().retain(|l| l.id != id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Login>> {
        self.logins.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::{Logins, MAX_LOGINS};

    #[test]
    fn a_login_is_known_by_its_id_until_pushed_out() {
        let logins = Logins::default();
        let first = logins.start("root", "v1".into());
        assert_eq!(logins.get(&first), Some(("root".into(), "v1".into())));
        assert_eq!(logins.get("not-an-id"), None);
        for _ in 0..MAX_LOGINS {
            logins.start("root", "v1".into());
        }
        assert_eq!(logins.get(&first), None);
    }

    #[test]
    fn an_ended_login_is_gone() {
        let logins = Logins::default();
        let id = logins.start("root", String::new());
        logins.end(&id);
        assert_eq!(logins.get(&id), None);
    }
}
