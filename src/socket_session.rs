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

use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::session::{Session, SessionId, Sessions, StoreError, StoreKey};
use crate::socketio::{ClusterError, ConnectError, Extensions, Handshake, Nsp, Owner, SocketInfo};

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
        let (id, room) = match (session.id(), session.room_key()) {
            (Some(id), Some(room)) if accept(&session, extensions) => (id.clone(), room),
            _ => return Err(ConnectError::new("Authentication required")),
        };
        // The room the store's session was given (no second hash of its id).
        let room: Arc<str> = room.into();
        extensions.insert(Owner(room.clone()));
        extensions.insert(SocketSession {
            sessions: sessions.clone(),
            room,
            id,
        });
        Ok(())
    }
}

/// How long [`disconnect_ended`] waits for the cluster to be rid of the
/// sockets, besides a server that does not answer (the adapter's own wait).
const CONFIRM_WITHIN: Duration = Duration::from_secs(5);

/// Why [`disconnect_ended`] could not confirm that every socket went.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Unconfirmed {
    /// Not every server of the cluster answered (one gone, or the broker
    /// unreachable): its sockets of those sessions may still be there.
    Cluster(ClusterError),
    /// Sockets of those sessions were still there when the wait ended.
    Remaining(usize),
}

impl fmt::Display for Unconfirmed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unconfirmed::Cluster(err) => write!(
                f,
                "not every server confirmed that the sessions' sockets are gone ({err}); theirs go within their session check interval"
            ),
            Unconfirmed::Remaining(n) => write!(
                f,
                "{n} sockets of the ended sessions were still connected after {} s",
                CONFIRM_WITHIN.as_secs()
            ),
        }
    }
}

impl std::error::Error for Unconfirmed {}

/// Disconnects, on every server of the cluster, the sockets of the sessions
/// stored under `keys` (ended by the operator, who knows sessions by their
/// store key only), and returns once the servers say none is left.
///
/// The rooms: with sessio's cookie a session's room is named by its key
/// ([`StoreKey::room_key`]); with express-session's, by the session id,
/// which the key does not give back, so the rooms of the cluster's sockets
/// are looked through for ids that hash to one of the keys (the sockets of a
/// Node server sharing the sessions are found the same way). Each server
/// answers the check after it has handled the disconnect, which it got
/// before on the same channel.
pub async fn disconnect_ended(nsp: &Nsp, keys: &[StoreKey]) -> Result<(), Unconfirmed> {
    if keys.is_empty() {
        return Ok(());
    }
    let keys: HashSet<StoreKey> = keys.iter().copied().collect();
    if !nsp.clustered() {
        // This server alone: its sockets say which rooms are those sessions'.
        let sockets = nsp.sockets();
        let sessions = sockets.iter().filter_map(|s| s.get::<SocketSession>());
        let rooms: HashSet<Arc<str>> = sessions
            .filter(|session| keys.contains(&session.id.store_key()))
            .map(|session| session.room)
            .collect();
        for room in rooms {
            nsp.to(&room).disconnect_sockets(true);
        }
        return Ok(());
    }
    let (sockets, unanswered) = match nsp.all().fetch_sockets().await {
        Ok(sockets) => (sockets, None),
        Err(err) => (answered_anyway(nsp, &err).await, Some(err)),
    };
    let rooms = rooms_of(&keys, sockets.iter().flat_map(|s| &s.rooms));
    let selected = rooms.iter().fold(nsp.all(), |b, room| b.to(room));
    let deadline = Instant::now() + CONFIRM_WITHIN;
    loop {
        selected.disconnect_sockets(true);
        match selected.fetch_sockets().await {
            Ok(left) if left.is_empty() => break,
            Ok(left) if Instant::now() >= deadline => {
                return Err(Unconfirmed::Remaining(left.len()))
            }
            Ok(_) => smol::Timer::after(Duration::from_millis(50)).await,
            Err(err) => return Err(Unconfirmed::Cluster(err)),
        };
    }
    unanswered.map_or(Ok(()), |err| Err(Unconfirmed::Cluster(err)))
}

/// The sockets of this server, and those the servers that answered before
/// `err` told of.
async fn answered_anyway(nsp: &Nsp, err: &ClusterError) -> Vec<SocketInfo> {
    let mut sockets = nsp.local().fetch_sockets().await.unwrap_or_default();
    if let ClusterError::Timeout { answers, .. } = err {
        let told = answers.iter().filter_map(Value::as_array).flatten();
        sockets.extend(told.filter_map(SocketInfo::from_json));
    }
    sockets
}

/// The rooms of the sessions stored under `keys`: those named by a key (sessio's
/// cookie), and those among `rooms` named by a session id whose key it is
/// (express-session's). Sorted, each once.
fn rooms_of<'a>(
    keys: &HashSet<StoreKey>,
    rooms: impl Iterator<Item = &'a String>,
) -> BTreeSet<String> {
    let by_id = rooms
        .filter(|room| SessionId::parse(room).is_some_and(|id| keys.contains(&id.store_key())));
    let by_key = keys.iter().map(StoreKey::room_key);
    by_key.chain(by_id.cloned()).collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rooms_of_ended_sessions_by_key_and_by_id() {
        let (ann, bob) = (
            SessionId::generate().unwrap(),
            SessionId::generate().unwrap(),
        );
        let keys: HashSet<StoreKey> = [ann.store_key()].into();
        let (ann_id, bob_id) = (ann.to_text(), bob.to_text());
        let seen = [
            "socket-id".to_owned(),
            ann_id.clone(),
            bob_id,
            bob.room_key(),
            "lobby".to_owned(),
        ];
        let rooms = rooms_of(&keys, seen.iter());
        let want: BTreeSet<String> = [ann.room_key(), ann_id].into();
        assert_eq!(rooms, want);
    }

    /// A server that subscribes to the cluster's requests and never answers
    /// (a Node server killed mid-request, as far as the others can tell).
    #[cfg(feature = "redis")]
    #[test]
    fn a_server_that_does_not_confirm_is_said() {
        use crate::socketio::{Io, RedisCluster};
        let Some(redis) = crate::session::TestRedis::start("socket-session-silent") else {
            return;
        };
        let cluster = RedisCluster::new(&redis.url, "socket.io").unwrap();
        let attach = cluster.clone();
        let io = Io::builder().cluster(move |nsp| attach.attach(nsp)).build();
        let runner = cluster.clone();
        std::thread::spawn(move || smol::block_on(runner.run()));
        let client = redis::Client::open(redis.url.as_str()).unwrap();
        let mut silent = client.get_connection().unwrap();
        let channel = "socket.io-request#/#";
        redis::cmd("SUBSCRIBE")
            .arg(channel)
            .exec(&mut silent)
            .unwrap();
        let mut check = client.get_connection().unwrap();
        let servers = |check: &mut redis::Connection| {
            let (_, n): (String, usize) = redis::cmd("PUBSUB")
                .arg("NUMSUB")
                .arg(channel)
                .query(check)
                .unwrap();
            n
        };
        let start = Instant::now();
        while (servers(&mut check) < 2 || !cluster.connected()) && start.elapsed().as_secs() < 5 {
            std::thread::sleep(Duration::from_millis(25));
        }
        let nsp = io.of("/").unwrap();
        let key = SessionId::generate().unwrap().store_key();
        let gone = smol::block_on(disconnect_ended(&nsp, &[key]));
        match gone {
            Err(Unconfirmed::Cluster(ClusterError::Timeout { expected: 1, .. })) => {}
            other => panic!("not told that a server did not answer: {other:?}"),
        }
    }
}
