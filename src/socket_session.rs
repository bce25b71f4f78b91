//! Sessions inside Socket.IO: the middleware that finds the session of a
//! connection's handshake, the handle socket handlers use to read and change
//! it, and the watcher that disconnects the sockets of ended sessions.
//!
//! A socket keeps only its session's id: every read goes to the store, so a
//! handler always sees what the last HTTP request or socket saved, and an
//! idle connection holds no copy of the data.
//!
//! Each socket of a session is in the room [`SocketSession::room`], so an
//! HTTP route can reach all of a session's sockets (`io.to(room)`).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use crate::session::{Session, SessionId, Sessions, StoreError};
use crate::socketio::{ConnectError, Extensions, Handshake, Nsp};

/// A socket's handle on its session. Cheap to clone.
#[derive(Clone)]
pub struct SocketSession {
    sessions: Sessions,
    id: SessionId,
    room: Arc<str>,
}

impl SocketSession {
    /// The name of the room every socket of this session is in.
    pub fn room(&self) -> &str {
        &self.room
    }

    /// The session as the store holds it now (a reload); `None` once it has
    /// ended.
    pub fn load(&self) -> Result<Option<Session>, StoreError> {
        self.sessions.find(&self.id)
    }

    /// Reloads the session, lets `change` change it, and saves it: the next
    /// HTTP request sees the change. `None` once the session has ended.
    pub fn update<R>(
        &self,
        change: impl FnOnce(&mut Session) -> R,
    ) -> Result<Option<R>, StoreError> {
        let Some(mut session) = self.load()? else {
            return Ok(None);
        };
        let result = change(&mut session);
        Ok(self.sessions.save(&mut session)?.then_some(result))
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
            match sessions.exists(&session.id) {
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
