//! Users: registration, password checks and changes, on an [`AccountStore`]
//! that keeps each username's record (numeric id, creation time, argon2id hash)
//! as JSON.

use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use super::error::{AccountError, Invalid, PASSWORD_CHARS, USERNAME_MAX};
use super::password::{self, HashError, PasswordParams};
use super::store::AccountStore;
use super::throttle::{LoginThrottle, ThrottleConfig};
use crate::session::now_ms;
use crate::store::DurableDb;

/// A user, as the rest of the server sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Its id, given in order of registration from 1.
    pub id: u64,
    /// Its name as registered.
    pub username: String,
    /// Milliseconds since the Unix epoch.
    pub created_at_ms: u64,
}

#[derive(Serialize, Deserialize)]
struct StoredUser {
    #[serde(flatten)]
    user: User,
    /// PHC string.
    password_hash: String,
}

/// The user accounts. Cheap to clone. Registering and verifying hash a password
/// (tens of milliseconds on a small board): call them off the async executor.
/// While a sled store is down (its disk refuses writes) changes are refused
/// and logins go on.
#[derive(Clone)]
pub struct Accounts {
    store: AccountStore,
    params: PasswordParams,
    /// A hash of a random password, verified against for unknown users so that they
    /// take as long as a wrong password. Made by the first login (of anyone), not at
    /// start: a hash takes 19 MiB for a moment, and a server may see no login for long.
    dummy_hash: Arc<OnceLock<String>>,
}

impl Accounts {
    /// The accounts in `db`, hashing new passwords with the default parameters.
    pub fn open(db: &DurableDb) -> Result<Accounts, AccountError> {
        Accounts::with_params(AccountStore::Sled(db.clone()), PasswordParams::default())
    }

    /// The accounts in `store`, hashing new passwords with `params` (tests use
    /// cheap ones; [`PasswordParams::default`] otherwise).
    ///
    /// Errors: the store cannot be prepared (its sled tree opened).
    pub fn with_params(
        store: AccountStore,
        params: PasswordParams,
    ) -> Result<Accounts, AccountError> {
        store.prepare()?;
        Ok(Accounts {
            store,
            dummy_hash: Arc::default(),
            params,
        })
    }

    /// Creates a user; durable when it returns. Of two registrations of one name
    /// at the same time, exactly one wins.
    pub fn register(&self, username: &str, password: &str) -> Result<User, AccountError> {
        if !valid_username(username) {
            return Err(AccountError::Invalid(Invalid::Username));
        }
        if !PASSWORD_CHARS.contains(&password.chars().count()) {
            return Err(AccountError::Invalid(Invalid::Password));
        }
        if self.store.taken(username)? {
            return Err(AccountError::Taken);
        }
        let password_hash = self.params.hash(password)?;
        let user = User {
            id: self.store.next_id()?,
            username: username.to_string(),
            created_at_ms: now_ms(),
        };
        let stored = StoredUser {
            user: user.clone(),
            password_hash,
        };
        let value = serde_json::to_vec(&stored)
            .map_err(|e| AccountError::Corrupt(format!("{username}: {e}")))?;
        if !self.store.insert_new(username, value)? {
            return Err(AccountError::Taken);
        }
        Ok(user)
    }

    /// A login throttle that counts where the accounts are: in this
    /// process's memory with sled, in Redis (shared by every node) with Redis.
    pub fn throttle(&self, config: ThrottleConfig) -> LoginThrottle {
        match &self.store {
            AccountStore::Sled(_) => LoginThrottle::new(config),
            #[cfg(feature = "redis")]
            AccountStore::Redis(redis) => LoginThrottle::in_redis(config, redis.clone()),
        }
    }

    /// The user whose password this is. Unknown users cost the same time as a wrong
    /// password, and get the same error.
    pub fn verify(&self, username: &str, password: &str) -> Result<User, AccountError> {
        // Before the user is looked up: the first login costs one more hash
        // whoever logs in, so it tells nothing of who exists.
        let dummy_hash = self.dummy_hash()?;
        let stored = if valid_username(username) {
            self.load(username)?
        } else {
            None
        };
        let hash = stored.as_ref().map_or(dummy_hash, |s| &s.password_hash);
        match (password::verify(hash, password)?, stored) {
            (true, Some(stored)) => Ok(stored.user),
            _ => Err(AccountError::InvalidCredentials),
        }
    }

    /// The hash unknown users are verified against, made on first use.
    fn dummy_hash(&self) -> Result<&str, AccountError> {
        if let Some(hash) = self.dummy_hash.get() {
            return Ok(hash);
        }
        let mut random = [0u8; 16];
        getrandom::fill(&mut random).map_err(HashError::Random)?;
        let dummy_password: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let hash = self.params.hash(&dummy_password)?;
        // Of two first logins at once, both hash and one keeps its hash.
        Ok(self.dummy_hash.get_or_init(|| hash))
    }

    /// The user named `username`, if any.
    pub fn get(&self, username: &str) -> Result<Option<User>, AccountError> {
        Ok(self.load(username)?.map(|s| s.user))
    }

    /// A fingerprint of the user's password that changes whenever the
    /// password does (each hash has its own salt) and tells nothing of it:
    /// what a login outside the session store stays valid with. `None` when
    /// there is no such user.
    pub fn password_stamp(&self, username: &str) -> Result<Option<[u8; 32]>, AccountError> {
        let stored = self.load(username)?;
        Ok(stored.map(|s| *blake3::hash(s.password_hash.as_bytes()).as_bytes()))
    }

    /// Removes a user; durable when it returns. `false` when there was none.
    pub fn delete(&self, username: &str) -> Result<bool, AccountError> {
        self.store.remove(username)
    }

    /// Gives the user `username` a new password; durable when it returns.
    /// `false` when there is no such user.
    pub fn set_password(&self, username: &str, password: &str) -> Result<bool, AccountError> {
        if !PASSWORD_CHARS.contains(&password.chars().count()) {
            return Err(AccountError::Invalid(Invalid::Password));
        }
        if !valid_username(username) {
            return Ok(false);
        }
        let password_hash = self.params.hash(password)?;
        // Compare and swap: a user deleted meanwhile stays deleted.
        self.store.modify(username, &mut |old| {
            let mut stored = decode(username.as_bytes(), old)?;
            stored.password_hash.clone_from(&password_hash);
            serde_json::to_vec(&stored)
                .map_err(|e| AccountError::Corrupt(format!("{username}: {e}")))
        })
    }

    /// Every user, by id.
    pub fn list(&self) -> Result<Vec<User>, AccountError> {
        let mut users = self
            .store
            .all()?
            .iter()
            .map(|(key, value)| Ok(decode(key, value)?.user))
            .collect::<Result<Vec<User>, AccountError>>()?;
        users.sort_by_key(|u| u.id);
        Ok(users)
    }

    fn load(&self, username: &str) -> Result<Option<StoredUser>, AccountError> {
        self.store
            .load(username)?
            .map(|value| decode(username.as_bytes(), &value))
            .transpose()
    }
}

fn decode(key: &[u8], value: &[u8]) -> Result<StoredUser, AccountError> {
    serde_json::from_slice(value)
        .map_err(|e| AccountError::Corrupt(format!("{}: {e}", String::from_utf8_lossy(key))))
}

/// `^[A-Za-z0-9_.-]{1,32}$`
fn valid_username(username: &str) -> bool {
    (1..=USERNAME_MAX).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::password::TEST_PARAMS;
    use crate::store::test_dir;

    struct Fixture {
        dir: std::path::PathBuf,
        db: Option<DurableDb>,
    }

    impl Fixture {
        fn new(name: &str) -> Fixture {
            let dir = test_dir(name);
            let db = Some(DurableDb::open(&dir).unwrap());
            Fixture { dir, db }
        }

        fn accounts(&self) -> Accounts {
            let store = AccountStore::Sled(self.db.as_ref().unwrap().clone());
            Accounts::with_params(store, TEST_PARAMS).unwrap()
        }

        /// The raw tree the accounts are kept in.
        fn users_tree(&self) -> sled::Tree {
            self.db.as_ref().unwrap().tree("users").unwrap()
        }

        fn reopen(&mut self) {
            self.db = None;
            self.db = Some(DurableDb::open(&self.dir).unwrap());
        }
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            self.db = None;
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    #[test]
    fn validation_table() {
        let fixture = Fixture::new("accounts-validation");
        let accounts = fixture.accounts();
        let ok = "password";
        let cases: &[(&str, &str, Option<Invalid>)] = &[
            ("a", ok, None),
            ("Ann_Lee.2-x", ok, None),
            (&"u".repeat(32), ok, None),
            ("", ok, Some(Invalid::Username)),
            (&"u".repeat(33), ok, Some(Invalid::Username)),
            ("ann lee", ok, Some(Invalid::Username)),
            ("ann/lee", ok, Some(Invalid::Username)),
            ("änn", ok, Some(Invalid::Username)),
            ("ann\n", ok, Some(Invalid::Username)),
            ("b", "1234567", Some(Invalid::Password)),
            ("c", "12345678", None),
            ("d", &"p".repeat(256), None),
            ("e", &"p".repeat(257), Some(Invalid::Password)),
            // Characters, not bytes: 8 two-byte characters are fine, 257 are not.
            ("f", &"é".repeat(8), None),
            ("g", &"é".repeat(7), Some(Invalid::Password)),
            ("h", &"é".repeat(256), None),
            ("i", &"é".repeat(257), Some(Invalid::Password)),
            ("", "short", Some(Invalid::Username)),
        ];
        for (username, password, expected) in cases {
            let result = accounts.register(username, password);
            match expected {
                None => assert_eq!(result.unwrap().username, *username),
                Some(invalid) => match result {
                    Err(AccountError::Invalid(got)) => assert_eq!(got, *invalid, "{username}"),
                    other => panic!("{username:?}/{password:?}: {other:?}"),
                },
            }
        }
    }

    #[test]
    fn taken_and_case_sensitive() {
        let fixture = Fixture::new("accounts-taken");
        let accounts = fixture.accounts();
        accounts.register("ann", "password1").unwrap();
        assert!(matches!(
            accounts.register("ann", "password2"),
            Err(AccountError::Taken)
        ));
        // The first password still holds.
        assert!(accounts.verify("ann", "password1").is_ok());
        assert!(accounts.register("Ann", "password2").is_ok());
    }

    #[test]
    fn concurrent_registers_of_one_name() {
        let fixture = Fixture::new("accounts-race");
        let accounts = fixture.accounts();
        for round in 0..5 {
            let name = format!("racer{round}");
            let results: Vec<_> = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..4)
                    .map(|i| {
                        let (accounts, name) = (&accounts, &name);
                        scope.spawn(move || accounts.register(name, &format!("password{i}")))
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let winners = results.iter().filter(|r| r.is_ok()).count();
            assert_eq!(winners, 1, "{results:?}");
            assert!(results
                .iter()
                .all(|r| matches!(r, Ok(_) | Err(AccountError::Taken))));
        }
        assert_eq!(accounts.list().unwrap().len(), 5);
    }

    #[test]
    fn the_password_stamp_changes_with_the_password_only() {
        let fixture = Fixture::new("accounts-stamp");
        let accounts = fixture.accounts();
        assert_eq!(accounts.password_stamp("ann").unwrap(), None);
        accounts.register("ann", "correct horse").unwrap();
        let first = accounts.password_stamp("ann").unwrap().unwrap();
        assert_eq!(accounts.password_stamp("ann").unwrap(), Some(first));
        // The same password again: a new salt, a new stamp.
        assert!(accounts.set_password("ann", "correct horse").unwrap());
        let second = accounts.password_stamp("ann").unwrap().unwrap();
        assert_ne!(first, second);
        assert!(accounts.delete("ann").unwrap());
        assert_eq!(accounts.password_stamp("ann").unwrap(), None);
    }

    #[test]
    fn verify_right_wrong_unknown() {
        let fixture = Fixture::new("accounts-verify");
        let accounts = fixture.accounts();
        let ann = accounts.register("ann", "correct horse").unwrap();
        assert_eq!(accounts.verify("ann", "correct horse").unwrap(), ann);
        for (username, password) in [
            ("ann", "correct horsE"),
            ("ann", ""),
            ("Ann", "correct horse"),
            ("bob", "correct horse"),
            ("", "correct horse"),
            ("not a valid name", "correct horse"),
        ] {
            assert!(
                matches!(
                    accounts.verify(username, password),
                    Err(AccountError::InvalidCredentials)
                ),
                "{username}/{password}"
            );
        }
    }

    #[test]
    fn unknown_user_costs_a_hash() {
        let fixture = Fixture::new("accounts-timing");
        let accounts = fixture.accounts();
        accounts.register("ann", "correct horse").unwrap();
        let hashed = |username: &str| {
            password::VERIFIED.with(|v| v.borrow_mut().clear());
            assert!(accounts.verify(username, "wrong password").is_err());
            password::VERIFIED.with(|v| v.borrow().clone())
        };
        // A wrong password, an unknown user and a name that cannot exist each
        // cost one hash with the same parameters, so timing tells them apart not.
        let wrong = hashed("ann");
        assert_eq!(wrong.len(), 1);
        assert_eq!(hashed("nobody"), wrong);
        assert_eq!(hashed("not a valid name"), wrong);
    }

    #[test]
    fn delete_and_list() {
        let fixture = Fixture::new("accounts-delete");
        let accounts = fixture.accounts();
        let ann = accounts.register("ann", "password").unwrap();
        let bob = accounts.register("bob", "password").unwrap();
        assert_eq!(accounts.list().unwrap(), vec![ann.clone(), bob.clone()]);
        assert!(accounts.delete("ann").unwrap());
        assert!(!accounts.delete("ann").unwrap());
        assert!(!accounts.delete("nobody").unwrap());
        assert_eq!(accounts.list().unwrap(), vec![bob.clone()]);
        assert_eq!(accounts.get("ann").unwrap(), None);
        assert_eq!(accounts.get("bob").unwrap(), Some(bob));
        assert!(matches!(
            accounts.verify("ann", "password"),
            Err(AccountError::InvalidCredentials)
        ));
        // The name is free again, under a new id.
        let ann2 = accounts.register("ann", "password").unwrap();
        assert!(ann2.id > ann.id);
    }

    #[test]
    fn set_password_replaces_the_old_one() {
        let fixture = Fixture::new("accounts-passwd");
        let accounts = fixture.accounts();
        let ann = accounts.register("ann", "old password").unwrap();
        assert!(accounts.set_password("ann", "new password").unwrap());
        assert_eq!(accounts.verify("ann", "new password").unwrap(), ann);
        assert!(matches!(
            accounts.verify("ann", "old password"),
            Err(AccountError::InvalidCredentials)
        ));
        assert!(matches!(
            accounts.set_password("ann", "short"),
            Err(AccountError::Invalid(Invalid::Password))
        ));
        assert!(!accounts.set_password("nobody", "new password").unwrap());
        assert!(!accounts.set_password("not a name", "new password").unwrap());
        assert_eq!(accounts.get("nobody").unwrap(), None);
        assert!(accounts.verify("ann", "new password").is_ok());
    }

    #[test]
    fn ids_increase_and_survive_reopen() {
        let mut fixture = Fixture::new("accounts-reopen");
        let first = {
            let accounts = fixture.accounts();
            let a = accounts.register("a", "password").unwrap();
            let b = accounts.register("b", "password").unwrap();
            assert_eq!((a.id, b.id), (1, 2));
            assert!(a.created_at_ms > 0 && a.created_at_ms <= b.created_at_ms);
            vec![a, b]
        };
        fixture.reopen();
        let accounts = fixture.accounts();
        assert_eq!(accounts.list().unwrap(), first);
        assert!(accounts.verify("a", "password").is_ok());
        assert_eq!(accounts.register("c", "password").unwrap().id, 3);
    }

    #[test]
    fn stored_record_has_a_phc_hash_not_the_password() {
        let fixture = Fixture::new("accounts-stored");
        let accounts = fixture.accounts();
        accounts.register("ann", "correct horse").unwrap();
        let raw = fixture.users_tree();
        let value = raw.get("ann").unwrap().unwrap();
        let text = std::str::from_utf8(&value).unwrap();
        assert!(text.contains("\"password_hash\":\"$argon2id$"), "{text}");
        assert!(!text.contains("correct horse"));
    }

    #[test]
    fn corrupt_record_is_an_error() {
        let fixture = Fixture::new("accounts-corrupt");
        let accounts = fixture.accounts();
        let raw = fixture.users_tree();
        raw.insert("ann", &b"{oops"[..]).unwrap();
        assert!(matches!(
            accounts.verify("ann", "password"),
            Err(AccountError::Corrupt(_))
        ));
        assert!(matches!(accounts.list(), Err(AccountError::Corrupt(_))));
    }
}
