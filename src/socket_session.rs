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
//!
//! A socket is owned by its session ([`Owner`]): with connection state
//! recovery, it comes back only to a connection of the same session, whose
//! middleware ran again (a session that ended cannot connect); a logout or
//! an expiry disconnects the session's room, which also forgets its sockets
//! kept for recovery.
//!
//! The store blocks, so it is never read or written on the executor (see
//! [`crate::store`]): the middleware runs where Socket.IO runs middleware, off
//! the executor, and [`SocketSession`]'s methods are async and run the store's
//! calls in [`crate::blocking::unblock`].

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use crate::session::{Session, SessionId, Sessions, StoreError, StoreKey};
use crate::socketio::{ConnectError, Extensions, Handshake, Nsp, Owner};

/// A socket's handle on its session. Cheap to clone.
#[derive(Clone)]
pub struct SocketSession {
    sessions: Sessions,
    id: SessionId,
    room: Arc<str>,
}

impl SocketSession {
    /// The name of the room every socket of this session is in (with
    /// express-session's cookie, the session id itself: not for logs).
    pub fn room(&self) -> &str {
        &self.room
    }

    /// A name of the session for logs: a hash of its id, whatever the room
    /// is named by.
    pub fn log_name(&self) -> String {
        self.id.room_key()
    }

    /// The session as the store holds it now (a reload); `None` once it has
    /// ended.
    pub async fn load(&self) -> Result<Option<Session>, StoreError> {
        let (sessions, id) = (self.sessions.clone(), self.id.clone());
        crate::blocking::unblock(move || sessions.find(&id)).await
    }

    /// Reloads the session, lets `change` change it, and saves it, as one
    /// atomic step (`change` may run more than once). Once it returns the
    /// change is on disk and the next HTTP request sees it. `None` once the
    /// session has ended.
    pub async fn update<R: Send + 'static>(
        &self,
        change: impl FnMut(&mut Session) -> R + Send + 'static,
    ) -> Result<Option<R>, StoreError> {
        let (sessions, id) = (self.sessions.clone(), self.id.clone());
        crate::blocking::unblock(move || sessions.modify(&id, change)).await
    }
}

/// A connection middleware: finds the handshake's session and refuses the
/// connection unless `accept` says the session may connect; `accept` may keep
/// what the socket needs of the session in its extensions.
pub fn middleware(
    sessions: Sessions,
    accept: impl Fn(&Session, &mut Extensions) -> bool + Send + Sync + 'static,
) -> impl Fn(&Handshake, &mut Extensions) -> Result<(), ConnectError> + Send + Sync + 'static {
    move |handshake, extensions| {
        let session = sessions.load(handshake.header("cookie"));
        let id = match session.id() {
            Some(id) if accept(&session, extensions) => id.clone(),
            _ => return Err(ConnectError::new("Authentication required")),
        };
        let room: Arc<str> = sessions.room(&id).into();
        extensions.insert(Owner(room.clone()));
        extensions.insert(SocketSession {
            sessions: sessions.clone(),
            room,
            id,
        });
        Ok(())
    }
}

/// Disconnects the sockets of the sessions stored under `keys` (ended by the
/// operator, who knows sessions by their store key only): each session's room
/// is found through a socket of it, since with express-session's format a room
/// is named by the session id, which the key does not give back.
pub fn disconnect_ended(nsp: &Nsp, keys: &[StoreKey]) {
    if keys.is_empty() {
        return;
    }
    let keys: HashSet<&StoreKey> = keys.iter().collect();
    let rooms: HashSet<Arc<str>> = nsp
        .sockets()
        .iter()
        .filter_map(|socket| socket.get::<SocketSession>())
        .filter(|session| keys.contains(&session.id.store_key()))
        .map(|session| session.room)
        .collect();
    for room in rooms {
        nsp.to(&room).disconnect_sockets(true);
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
            let (sessions, id) = (sessions.clone(), session.id.clone());
            match crate::blocking::unblock(move || sessions.exists(&id)).await {
                Ok(true) => {}
                Ok(false) => {
                    log::debug!(
                        "session {} ended: disconnecting its sockets",
                        session.log_name()
                    );
                    nsp.to(session.room()).disconnect_sockets(true);
                }
                Err(err) => log::warn!("session check failed: {err}"),
            }
        }
    }
}
