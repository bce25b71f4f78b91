//! express-session's semantics over a [`Store`]: load a session from the `Cookie`
//! header, and at the end of a request commit it, answering whether a `Set-Cookie`
//! must be sent.
//!
//! - saveUninitialized = false: a session that never held data is never stored and
//!   gets no cookie.
//! - resave = false: a stored session is written only when its data changed since
//!   it was loaded, and then only if it still exists (a session destroyed meanwhile,
//!   say by a logout in another tab, is not brought back).
//! - rolling (optional): each commit pushes the expiry out by `max_age` (touching only
//!   the expiry in the store, never the data) and sends the cookie again. Without it
//!   a session expires `max_age` after it was first stored, like its cookie.
//! - Every write is durable when the call returns (see [`Store`]).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use super::cookie::CookieKeys;
use super::header::{cookie_values, set_cookie};
use super::id::SessionId;
use super::store::{now_ms, Record, Store, StoreError};

/// The session cookie's name unless told otherwise.
pub const DEFAULT_COOKIE_NAME: &str = "sessio.sid";

/// How sessions and their cookie behave.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// The cookie's name; default [`DEFAULT_COOKIE_NAME`].
    pub cookie_name: String,
    /// How long a session lives; default 24 hours.
    pub max_age: Duration,
    /// Adds `Secure` to the cookie (HTTPS, or behind a TLS-terminating proxy).
    pub secure: bool,
    /// Renews the expiry and re-sends the cookie on every commit.
    pub rolling: bool,
}

impl Default for SessionConfig {
    fn default() -> SessionConfig {
        SessionConfig {
            cookie_name: DEFAULT_COOKIE_NAME.to_string(),
            max_age: Duration::from_secs(24 * 60 * 60),
            secure: false,
            rolling: false,
        }
    }
}

/// One request's (or one socket's) view of a session.
#[derive(Debug)]
pub struct Session {
    /// `None` until the session is first stored.
    id: Option<SessionId>,
    /// The name of its sockets' room, with the id.
    room: Option<String>,
    data: Map<String, Value>,
    expires_at_ms: u64,
    /// Whether the session is stored, and what the store holds once `data`
    /// changed.
    stored: Stored,
}

/// What the store holds of a session, for a commit to tell whether to write.
#[derive(Debug)]
enum Stored {
    /// Not stored yet.
    No,
    /// Stored, and `data` is what the store holds: a session that is only
    /// read (a socket's handshake, most requests) costs no copy.
    Same,
    /// Stored as this, copied when `data` was first changed.
    Was(Map<String, Value>),
}

impl Stored {
    fn is_stored(&self) -> bool {
        !matches!(self, Stored::No)
    }
}

impl Session {
    fn fresh() -> Session {
        Session {
            id: None,
            room: None,
            data: Map::new(),
            expires_at_ms: 0,
            stored: Stored::No,
        }
    }

    fn from_record(id: SessionId, room: String, record: Record) -> Session {
        Session {
            id: Some(id),
            room: Some(room),
            stored: Stored::Same,
            data: record.data,
            expires_at_ms: record.expires_at_ms,
        }
    }

    /// The id, once the session is stored. Secret: never log it or name rooms by it.
    pub fn id(&self) -> Option<&SessionId> {
        self.id.as_ref()
    }

    /// The name of the Socket.IO room of the session's sockets
    /// ([`CookieKeys::room`]); `None` while the session is not stored.
    pub fn room_key(&self) -> Option<String> {
        self.room.clone()
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.data.get(key)
    }

    /// Sets `key` to `value` (a new key goes last).
    pub fn insert(&mut self, key: String, value: Value) {
        self.keep_stored();
        self.data.insert(key, value);
    }

    /// Removes a key; the others keep their order.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.keep_stored();
        self.data.shift_remove(key)
    }

    /// Before the first change of a stored session's data: keeps what the
    /// store holds, for the commit to compare.
    fn keep_stored(&mut self) {
        if let Stored::Same = self.stored {
            self.stored = Stored::Was(self.data.clone());
        }
    }

    /// Every key and value, in order.
    pub fn data(&self) -> &Map<String, Value> {
        &self.data
    }

    /// Whether the session holds no data.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// When the stored session expires (ms since the Unix epoch); 0 while not stored.
    pub fn expires_at_ms(&self) -> u64 {
        self.expires_at_ms
    }
}

/// The session manager: store, cookie keys and configuration. Cheap to clone.
#[derive(Clone)]
pub struct Sessions {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    keys: CookieKeys,
    config: SessionConfig,
}

impl Sessions {
    /// Sessions kept in `store`, their cookies signed with `keys`.
    pub fn new(store: Arc<dyn Store>, keys: CookieKeys, config: SessionConfig) -> Sessions {
        Sessions {
            inner: Arc::new(Inner {
                store,
                keys,
                config,
            }),
        }
    }

    /// The configuration they were made with.
    pub fn config(&self) -> &SessionConfig {
        &self.inner.config
    }

    /// The store the sessions live in (for the operator's commands, which
    /// find and end sessions by their stored data).
    pub fn store(&self) -> &dyn Store {
        &*self.inner.store
    }

    /// The session named by a `Cookie` header. A missing, malformed, forged, expired
    /// or unknown cookie gives a new empty session; store errors do too, and are
    /// logged to stderr.
    pub fn load(&self, cookie_header: Option<&str>) -> Session {
        let Some(header) = cookie_header else {
            return Session::fresh();
        };
        for value in cookie_values(header, &self.inner.config.cookie_name) {
            let Some(id) = self.inner.keys.verify(value) else {
                continue;
            };
            match self.inner.store.load(&id) {
                Ok(Some(record)) => return self.session(id, record),
                Ok(None) => {}
                Err(e) => log::warn!("session {}: cannot load: {e}", id.room_key()),
            }
        }
        Session::fresh()
    }

    /// Ends a request: stores the session if needed and returns the `Set-Cookie`
    /// header value to send, if any (new session, or rolling).
    pub fn commit(&self, session: &mut Session) -> Result<Option<String>, StoreError> {
        let now = now_ms();
        if !session.stored.is_stored() {
            if session.data.is_empty() {
                return Ok(None);
            }
            self.store_new(session, now)?;
            return Ok(Some(self.cookie(session, now)));
        }
        let Some(id) = &session.id else {
            return Ok(None);
        };
        let rolling = self.inner.config.rolling;
        if rolling {
            session.expires_at_ms = now.saturating_add(self.max_age_ms());
        }
        let changed = match &session.stored {
            Stored::Was(stored) => *stored != session.data,
            Stored::No | Stored::Same => false,
        };
        let live = if changed {
            self.inner.store.update(id, &self.record(session))?
        } else if rolling {
            self.inner.store.touch(id, session.expires_at_ms)?
        } else {
            true
        };
        if !live {
            // Destroyed or expired since it was loaded: it stays gone.
            *session = Session::fresh();
            return Ok(None);
        }
        session.stored = Stored::Same;
        Ok(rolling.then(|| self.cookie(session, now)))
    }

    /// Replaces the session by a new, empty one with a fresh id (at login: a pre-login
    /// id is never kept). The old one is removed from the store; the next commit
    /// stores the new one durably and sends its cookie.
    pub fn regenerate(&self, session: &mut Session) -> Result<(), StoreError> {
        if let (Some(id), true) = (&session.id, session.stored.is_stored()) {
            self.inner.store.destroy(id)?;
        }
        *session = Session::fresh();
        Ok(())
    }

    /// Removes the session from the store (durably) and returns the `Set-Cookie`
    /// header value that clears the cookie. The session is left new and empty.
    pub fn destroy(&self, session: &mut Session) -> Result<String, StoreError> {
        if let Some(id) = &session.id {
            self.inner.store.destroy(id)?;
        }
        *session = Session::fresh();
        let config = &self.inner.config;
        Ok(set_cookie(
            &config.cookie_name,
            "",
            Duration::ZERO,
            config.secure,
        ))
    }

    /// Reads the stored session `id`, lets `change` change it and stores it, as
    /// one atomic step: no other write to the session lands in between, so
    /// sockets counting at once lose no count (`change` may run more than once).
    /// Durable when it returns. `None` when the session no longer exists (it
    /// is not brought back). For socket handlers, which know their session by id.
    pub fn modify<R>(
        &self,
        id: &SessionId,
        mut change: impl FnMut(&mut Session) -> R,
    ) -> Result<Option<R>, StoreError> {
        let mut result = None;
        let live = self.inner.store.modify(id, &mut |record| {
            let mut session = self.session(id.clone(), record.clone());
            result = Some(change(&mut session));
            record.data = session.data;
        })?;
        Ok(result.filter(|_| live))
    }

    /// The stored session `id`, if it still exists and has not expired (for
    /// socket handlers, which know their session by id).
    pub fn find(&self, id: &SessionId) -> Result<Option<Session>, StoreError> {
        let record = self.inner.store.load(id)?;
        Ok(record.map(|record| self.session(id.clone(), record)))
    }

    /// Whether the session `id` still exists and has not expired (for the periodic
    /// check that disconnects the sockets of ended sessions).
    pub fn exists(&self, id: &SessionId) -> Result<bool, StoreError> {
        Ok(self.inner.store.load(id)?.is_some())
    }

    /// Removes expired sessions from the store; the caller runs it on a timer.
    pub fn purge_expired(&self) -> Result<usize, StoreError> {
        self.inner.store.purge_expired(now_ms())
    }

    /// Gives a not-yet-stored session an id and stores it durably.
    fn store_new(&self, session: &mut Session, now: u64) -> Result<(), StoreError> {
        let id = SessionId::generate().map_err(StoreError::Random)?;
        session.expires_at_ms = now.saturating_add(self.max_age_ms());
        self.inner.store.save(&id, &self.record(session))?;
        session.room = Some(self.room(&id));
        session.id = Some(id);
        session.stored = Stored::Same;
        Ok(())
    }

    /// The name of the Socket.IO room of the session `id`'s sockets.
    pub fn room(&self, id: &SessionId) -> String {
        self.inner.keys.room(id)
    }

    /// The cookie's format, for the start-up line.
    pub fn cookie_format(&self) -> &'static str {
        self.inner.keys.format_name()
    }

    fn session(&self, id: SessionId, record: Record) -> Session {
        let room = self.room(&id);
        Session::from_record(id, room, record)
    }

    fn record(&self, session: &Session) -> Record {
        Record {
            data: session.data.clone(),
            expires_at_ms: session.expires_at_ms,
        }
    }

    fn max_age_ms(&self) -> u64 {
        u64::try_from(self.inner.config.max_age.as_millis()).unwrap_or(u64::MAX)
    }

    /// The `Set-Cookie` value for a stored session, with its remaining lifetime.
    fn cookie(&self, session: &Session, now: u64) -> String {
        let config = &self.inner.config;
        let value = session
            .id
            .as_ref()
            .map(|id| self.inner.keys.sign(id))
            .unwrap_or_default();
        let left = Duration::from_millis(session.expires_at_ms.saturating_sub(now));
        set_cookie(&config.cookie_name, &value, left, config.secure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::secret::Secret;
    use crate::session::sled_store::SledStore;
    use crate::session::store::MemoryStore;
    use crate::store::test_dir;
    use crate::store::DurableDb;
    use serde_json::json;

    fn keys() -> CookieKeys {
        CookieKeys::new(&Secret::from_text("test secret 0123456789").unwrap(), &[])
    }

    fn sessions_with(store: Arc<dyn Store>, config: SessionConfig) -> Sessions {
        Sessions::new(store, keys(), config)
    }

    fn sessions() -> (Sessions, Arc<MemoryStore>) {
        let store = Arc::new(MemoryStore::new());
        (
            sessions_with(store.clone(), SessionConfig::default()),
            store,
        )
    }

    /// The `Cookie` request header a client would send back for a `Set-Cookie`.
    fn cookie_header(set_cookie: &str) -> String {
        set_cookie.split(';').next().unwrap().to_string()
    }

    /// Logs in: a session with data, committed; returns its cookie header.
    fn logged_in(sessions: &Sessions) -> String {
        let mut s = sessions.load(None);
        s.insert("username".into(), json!("ann"));
        cookie_header(&sessions.commit(&mut s).unwrap().unwrap())
    }

    #[test]
    fn empty_session_gets_no_cookie_and_no_write() {
        let (sessions, store) = sessions();
        let mut s = sessions.load(None);
        assert!(s.id().is_none() && s.is_empty() && s.room_key().is_none());
        assert_eq!(sessions.commit(&mut s).unwrap(), None);
        assert!(s.id().is_none());
        assert!(store.list().unwrap().is_empty());
    }

    #[test]
    fn session_with_data_is_stored_and_sent() {
        let (sessions, store) = sessions();
        let mut s = sessions.load(Some("other=1"));
        s.insert("username".into(), json!("ann"));
        let set_cookie = sessions.commit(&mut s).unwrap().unwrap();
        assert!(set_cookie.starts_with("sessio.sid="));
        assert!(set_cookie.ends_with("; Path=/; HttpOnly; SameSite=Lax; Max-Age=86400"));
        let id = s.id().unwrap().clone();
        assert_eq!(store.load(&id).unwrap().unwrap().data, *s.data());
        assert!(s.expires_at_ms() > now_ms());

        let again = sessions.load(Some(&format!("a=b; {}; c=d", cookie_header(&set_cookie))));
        assert_eq!(again.id(), Some(&id));
        assert_eq!(again.get("username"), Some(&json!("ann")));
        assert_eq!(again.room_key(), Some(id.room_key()));
    }

    #[test]
    fn secure_flag_and_cookie_name() {
        let config = SessionConfig {
            cookie_name: "sid".into(),
            secure: true,
            max_age: Duration::from_secs(60),
            ..SessionConfig::default()
        };
        let sessions = sessions_with(Arc::new(MemoryStore::new()), config);
        let mut s = sessions.load(None);
        s.insert("k".into(), json!(1));
        let set_cookie = sessions.commit(&mut s).unwrap().unwrap();
        assert!(set_cookie.starts_with("sid="));
        assert!(set_cookie.ends_with("; Max-Age=60; Secure"), "{set_cookie}");
        assert!(sessions
            .load(Some(&cookie_header(&set_cookie)))
            .id()
            .is_some());
    }

    #[test]
    fn unchanged_session_is_not_written_again() {
        let (sessions, store) = sessions();
        let cookie = logged_in(&sessions);
        let mut s = sessions.load(Some(&cookie));
        let id = s.id().unwrap().clone();
        // Someone else changes the stored record: an unchanged commit must not undo it.
        let mut record = store.load(&id).unwrap().unwrap();
        record.data.insert("count".into(), json!(7));
        store.save(&id, &record).unwrap();
        assert_eq!(sessions.commit(&mut s).unwrap(), None);
        assert_eq!(store.load(&id).unwrap().unwrap().data["count"], 7);

        // A change is written, without a new cookie.
        let mut s = sessions.load(Some(&cookie));
        s.insert("count".into(), json!(8));
        assert_eq!(sessions.commit(&mut s).unwrap(), None);
        assert_eq!(store.load(&id).unwrap().unwrap().data["count"], 8);
        let expires = s.expires_at_ms();
        assert_eq!(store.load(&id).unwrap().unwrap().expires_at_ms, expires);
    }

    #[test]
    fn forged_or_unknown_cookies_are_anonymous() {
        let (sessions, _store) = sessions();
        let cookie = logged_in(&sessions);
        let value = cookie.split_once('=').unwrap().1;
        let other_keys = CookieKeys::new(&Secret::from_text("another secret 000000").unwrap(), &[]);
        let unknown = other_keys.sign(&SessionId::generate().unwrap());
        let unstored = keys().sign(&SessionId::generate().unwrap());
        for header in [
            String::new(),
            "sessio.sid".into(),
            "sessio.sid=".into(),
            format!("sessio.sid={}", &value[1..]),
            format!("sessio.sid={value}x"),
            format!("sessio.sid={}", value.replace('.', "")),
            format!("sessio.sid={unknown}"),
            format!("sessio.sid={unstored}"),
            format!("other.sid={value}"),
            "sessio.sid=s%3Aexpress-style.signature".into(),
            "\u{0}\u{ff}; ;;=;".into(),
        ] {
            let s = sessions.load(Some(&header));
            assert!(s.id().is_none() && s.is_empty(), "{header}");
        }
        // A valid cookie after a stale one of the same name still counts.
        let s = sessions.load(Some(&format!("sessio.sid={unstored}; {cookie}")));
        assert!(s.id().is_some());
        // Quoted.
        let s = sessions.load(Some(&format!("sessio.sid=\"{value}\"")));
        assert!(s.id().is_some());
    }

    #[test]
    fn expired_sessions_are_anonymous_and_purged() {
        let store = Arc::new(MemoryStore::new());
        let config = SessionConfig {
            max_age: Duration::from_millis(30),
            ..SessionConfig::default()
        };
        let sessions = sessions_with(store.clone(), config);
        let cookie = logged_in(&sessions);
        let id = sessions.load(Some(&cookie)).id().unwrap().clone();
        assert!(sessions.exists(&id).unwrap());
        std::thread::sleep(Duration::from_millis(60));
        assert!(!sessions.exists(&id).unwrap());
        assert!(sessions.load(Some(&cookie)).id().is_none());
        assert!(sessions.find(&id).unwrap().is_none());
        assert_eq!(sessions.modify(&id, |_| ()).unwrap(), None);
        assert_eq!(store.list().unwrap().len(), 1);
        assert_eq!(sessions.purge_expired().unwrap(), 1);
        assert!(store.list().unwrap().is_empty());
    }

    #[test]
    fn rolling_renews_expiry_and_cookie() {
        let store = Arc::new(MemoryStore::new());
        let config = SessionConfig {
            rolling: true,
            max_age: Duration::from_secs(100),
            ..SessionConfig::default()
        };
        let sessions = sessions_with(store.clone(), config);
        let cookie = logged_in(&sessions);
        let mut s = sessions.load(Some(&cookie));
        let id = s.id().unwrap().clone();
        // Pretend the session is older, with less time left.
        let mut record = store.load(&id).unwrap().unwrap();
        record.expires_at_ms = now_ms() + 10_000;
        record.data.insert("count".into(), json!(1));
        store.save(&id, &record).unwrap();

        let set_cookie = sessions.commit(&mut s).unwrap().unwrap();
        assert!(set_cookie.contains("Max-Age=100"), "{set_cookie}");
        assert_eq!(cookie_header(&set_cookie), cookie);
        let stored = store.load(&id).unwrap().unwrap();
        assert!(stored.expires_at_ms > now_ms() + 90_000);
        // Touching the expiry left the data alone.
        assert_eq!(stored.data["count"], 1);
    }

    #[test]
    fn not_rolling_keeps_expiry() {
        let (sessions, store) = sessions();
        let cookie = logged_in(&sessions);
        let mut s = sessions.load(Some(&cookie));
        let id = s.id().unwrap().clone();
        let before = store.load(&id).unwrap().unwrap().expires_at_ms;
        std::thread::sleep(Duration::from_millis(5));
        s.insert("count".into(), json!(1));
        assert_eq!(sessions.commit(&mut s).unwrap(), None);
        assert_eq!(store.load(&id).unwrap().unwrap().expires_at_ms, before);
    }

    #[test]
    fn regenerate_gives_a_fresh_id_and_drops_the_old() {
        let (sessions, store) = sessions();
        let old_cookie = logged_in(&sessions);
        let mut s = sessions.load(Some(&old_cookie));
        let old_id = s.id().unwrap().clone();
        sessions.regenerate(&mut s).unwrap();
        assert!(s.is_empty() && s.id().is_none());
        assert!(!sessions.exists(&old_id).unwrap());
        assert!(sessions.load(Some(&old_cookie)).id().is_none());

        s.insert("username".into(), json!("bob"));
        let new_cookie = cookie_header(&sessions.commit(&mut s).unwrap().unwrap());
        let new_id = s.id().unwrap().clone();
        assert_ne!(new_id, old_id);
        assert_ne!(new_cookie, old_cookie);
        assert_eq!(
            sessions.load(Some(&new_cookie)).get("username"),
            Some(&json!("bob"))
        );
        assert_eq!(store.list().unwrap().len(), 1);
    }

    #[test]
    fn regenerate_of_an_anonymous_session() {
        let (sessions, store) = sessions();
        let mut s = sessions.load(None);
        sessions.regenerate(&mut s).unwrap();
        assert_eq!(sessions.commit(&mut s).unwrap(), None);
        assert!(store.list().unwrap().is_empty());
    }

    #[test]
    fn destroy_clears_store_and_cookie() {
        let (sessions, store) = sessions();
        let cookie = logged_in(&sessions);
        let mut s = sessions.load(Some(&cookie));
        let clear = sessions.destroy(&mut s).unwrap();
        assert_eq!(
            clear,
            "sessio.sid=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"
        );
        assert!(s.id().is_none() && s.is_empty());
        assert!(store.list().unwrap().is_empty());
        assert!(sessions.load(Some(&cookie)).id().is_none());
        // Destroying an anonymous session works too.
        let mut anon = sessions.load(None);
        assert!(sessions.destroy(&mut anon).is_ok());
    }

    #[test]
    fn a_destroyed_session_is_not_brought_back() {
        let (sessions, store) = sessions();
        let cookie = logged_in(&sessions);
        let mut request = sessions.load(Some(&cookie));
        let id = request.id().unwrap().clone();
        let mut logout = sessions.load(Some(&cookie));
        sessions.destroy(&mut logout).unwrap();

        request.insert("count".into(), json!(1));
        assert_eq!(sessions.commit(&mut request).unwrap(), None);
        assert!(request.id().is_none());
        let socket = sessions.modify(&id, |s| s.insert("count".into(), json!(2)));
        assert_eq!(socket.unwrap(), None);
        assert!(store.list().unwrap().is_empty());
    }

    #[test]
    fn socket_modify_is_seen_by_http_and_the_reverse() {
        let (sessions, _store) = sessions();
        let cookie = logged_in(&sessions);
        let id = sessions.load(Some(&cookie)).id().unwrap().clone();
        let bump = |s: &mut Session| {
            let count = s.get("count").and_then(Value::as_u64).unwrap_or(0) + 1;
            s.insert("count".into(), json!(count));
            count
        };
        for expected in 1..=3 {
            assert_eq!(sessions.modify(&id, bump).unwrap(), Some(expected));
            let http = sessions.load(Some(&cookie));
            assert_eq!(http.get("count"), Some(&json!(expected)));
        }
        // An HTTP change is what the socket sees next.
        let mut http = sessions.load(Some(&cookie));
        http.insert("count".into(), json!(10));
        sessions.commit(&mut http).unwrap();
        assert_eq!(sessions.modify(&id, bump).unwrap(), Some(11));
        let found = sessions.find(&id).unwrap().unwrap();
        assert_eq!(found.get("count"), Some(&json!(11)));
        assert_eq!(found.get("username"), Some(&json!("ann")));
    }

    #[test]
    fn sled_sessions_survive_reopen_and_rotation() {
        let dir = test_dir("sessions-sled");
        let old = Secret::from_text("old secret 0123456789").unwrap();
        let cookie = {
            let db = DurableDb::open(&dir).unwrap();
            let store = Arc::new(SledStore::open(&db).unwrap());
            let sessions =
                Sessions::new(store, CookieKeys::new(&old, &[]), SessionConfig::default());
            logged_in(&sessions)
        };
        let db = DurableDb::open(&dir).unwrap();
        let store: Arc<dyn Store> = Arc::new(SledStore::open(&db).unwrap());
        let new = Secret::from_text("new secret 0123456789").unwrap();
        let rotated = Sessions::new(
            store.clone(),
            CookieKeys::new(&new, &[old]),
            SessionConfig::default(),
        );
        assert_eq!(
            rotated.load(Some(&cookie)).get("username"),
            Some(&json!("ann"))
        );
        let forgot = Sessions::new(store, CookieKeys::new(&new, &[]), SessionConfig::default());
        assert!(forgot.load(Some(&cookie)).id().is_none());
        drop((rotated, forgot, db));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn data_keeps_its_insertion_order_through_sled_and_remove() {
        let order = |s: &Session| s.data().keys().cloned().collect::<Vec<_>>();
        let dir = test_dir("sessions-order");
        let db = DurableDb::open(&dir).unwrap();
        let sessions = sessions_with(
            Arc::new(SledStore::open(&db).unwrap()),
            SessionConfig::default(),
        );
        let mut s = sessions.load(None);
        for key in ["zeta", "alpha", "mid", "beta"] {
            s.insert(key.into(), json!({"y": 1, "b": 2}));
        }
        let cookie = cookie_header(&sessions.commit(&mut s).unwrap().unwrap());
        let mut again = sessions.load(Some(&cookie));
        assert_eq!(order(&again), ["zeta", "alpha", "mid", "beta"]);
        assert_eq!(again.get("mid").unwrap().to_string(), r#"{"y":1,"b":2}"#);
        again.remove("alpha");
        assert_eq!(order(&again), ["zeta", "mid", "beta"]);
        sessions.commit(&mut again).unwrap();
        assert_eq!(
            order(&sessions.load(Some(&cookie))),
            ["zeta", "mid", "beta"]
        );
        drop((sessions, db));
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// The child half of `login_survives_kill_9`: logs in, prints the cookie, waits.
    #[test]
    #[ignore]
    fn kill_9_child() {
        let Ok(dir) = std::env::var("SESSIO_KILL_9_DIR") else {
            return;
        };
        let db = DurableDb::open(std::path::Path::new(&dir)).unwrap();
        let sessions = sessions_with(
            Arc::new(SledStore::open(&db).unwrap()),
            SessionConfig::default(),
        );
        println!("COOKIE {}", logged_in(&sessions));
        std::thread::sleep(Duration::from_secs(60));
    }

    #[test]
    fn login_survives_kill_9() {
        use std::io::BufRead as _;
        use std::process::{Command, Stdio};

        let dir = test_dir("kill-9");
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "session::session::tests::kill_9_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("SESSIO_KILL_9_DIR", &dir)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let cookie = stdout
            .lines()
            .map_while(Result::ok)
            .find_map(|line| line.split_once("COOKIE ").map(|(_, c)| c.to_string()));
        // SIGKILL as soon as the login is committed.
        child.kill().unwrap();
        child.wait().unwrap();
        let cookie = cookie.expect("the child logged in");

        let db = DurableDb::open(&dir).unwrap();
        let sessions = sessions_with(
            Arc::new(SledStore::open(&db).unwrap()),
            SessionConfig::default(),
        );
        assert_eq!(
            sessions.load(Some(&cookie)).get("username"),
            Some(&json!("ann"))
        );
        drop((sessions, db));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn clones_share_the_store() {
        let (sessions, _store) = sessions();
        let clone = sessions.clone();
        let cookie = logged_in(&sessions);
        assert!(clone.load(Some(&cookie)).id().is_some());
    }
}
