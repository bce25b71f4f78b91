//! Sessions inside Socket.IO: the middleware that finds the session of a
//! connection's handshake, the handle socket handlers use to read, reload and
//! save it, and the watcher that disconnects the sockets of ended sessions.
//!
//! Each socket of a session is in the room [`SocketSession::room`], so an
//! HTTP route can reach all of a session's sockets (`io.to(room)`).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;

use crate::session::{Session, SessionId, Sessions, StoreError};
use crate::socketio::{ConnectError, Extensions, Handshake, Nsp};

/// A socket's view of its session. Cheap to clone; clones share the view.
#[derive(Clone)]
pub struct SocketSession {
    sessions: Sessions,
    session: Arc<Mutex<Session>>,
    id: SessionId,
    room: Arc<str>,
}

impl SocketSession {
    /// The name of the room every socket of this session is in.
    pub fn room(&self) -> &str {
        &self.room
    }

    pub(crate) fn id(&self) -> &SessionId {
        &self.id
    }

    fn lock(&self) -> MutexGuard<'_, Session> {
        self.session.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A value of the session as this socket last saw it.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.lock().get(key).cloned()
    }

    /// Runs `f` on the session (to change it; [`save`](Self::save) after).
    pub fn with<R>(&self, f: impl FnOnce(&mut Session) -> R) -> R {
        f(&mut self.lock())
    }

    /// Reads the session again from the store. `false` when it has ended.
    pub fn reload(&self) -> Result<bool, StoreError> {
        self.sessions.reload(&mut self.lock())
    }

    /// Stores this socket's changes, seen by the next HTTP request. `false`
    /// when the session has ended.
    pub fn save(&self) -> Result<bool, StoreError> {
        self.sessions.save(&mut self.lock())
    }
}

/// A connection middleware: finds the handshake's session and refuses the
/// connection unless `is_logged_in` says the session may connect.
pub fn middleware(
    sessions: Sessions,
    is_logged_in: impl Fn(&Session) -> bool + Send + Sync + 'static,
) -> impl Fn(&Handshake, &mut Extensions) -> Result<(), ConnectError> + Send + Sync + 'static {
    move |handshake, extensions| {
        let session = sessions.load(handshake.header("cookie"));
        let id = match session.id() {
            Some(id) if is_logged_in(&session) => id.clone(),
            _ => return Err(ConnectError::new("Authentication required")),
        };
        extensions.insert(SocketSession {
            sessions: sessions.clone(),
            room: id.room_key().into(),
            id,
            session: Arc::new(Mutex::new(session)),
        });
        Ok(())
    }
}

/// Every `interval`, disconnects the sockets whose session has expired or
/// was removed from the store. Runs until dropped.
pub async fn watch_expiry(nsp: Nsp, sessions: Sessions, interval: Duration) {
    loop {
        smol::Timer::after(interval).await;
        let mut checked = HashSet::new();
        for socket in nsp.sockets() {
            let Some(session) = socket.get::<SocketSession>() else {
                continue;
            };
            if !checked.insert(session.room.clone()) {
                continue;
            }
            match sessions.exists(session.id()) {
                Ok(true) => {}
                Ok(false) => {
                    log!(
                        Debug,
                        "session {} ended: disconnecting its sockets",
                        session.room()
                    );
                    nsp.to(session.room()).disconnect_sockets(true);
                }
                Err(err) => log!(Warn, "session check failed: {err}"),
            }
        }
    }
}
