//! Taking a dropped socket back (the Node adapter's `restoreSession`): its
//! session record, taken once, and the stream's entries after its offset
//! that reached its rooms, read until they meet this server's delivery, so
//! that the socket joins with nothing missed and nothing twice.

use std::fmt;

use serde_json::{json, Value};

use super::wire::{self, Body, StreamId, StreamsError};
use super::{lock, Link, Shared, CATCH_UP_ROUNDS, MAX_MISSED, RANGE_COUNT, SESSION_PREFIX};
use crate::socketio::adapter::RecoveredSocket;
use crate::socketio::payload::Payload;

/// Why a dropped socket was not taken back (it connects as a new one).
#[derive(Debug)]
pub(super) enum NotTaken {
    /// The offset is not a stream entry id.
    BadOffset,
    /// Redis cannot be reached, or this server is not reading the stream.
    Unreachable,
    Redis(redis::RedisError),
    /// No record for the pid: never kept, expired, or taken already.
    NoRecord,
    /// A record or a reply that does not read.
    Unreadable(StreamsError),
    /// The record names another pid.
    OtherPid,
    /// The offset has been trimmed from the stream (or was never in it).
    OffsetGone(StreamId),
    /// More than [`MAX_MISSED`] events.
    TooMany,
    /// The stream grew faster than the replay read it.
    Behind,
}

impl fmt::Display for NotTaken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotTaken::BadOffset => f.write_str("its offset is not a stream entry id"),
            NotTaken::Unreachable => f.write_str("Redis is unreachable"),
            NotTaken::Redis(err) => write!(f, "Redis: {err}"),
            NotTaken::NoRecord => f.write_str("no session is kept for its pid"),
            NotTaken::Unreadable(err) => write!(f, "unreadable: {err}"),
            NotTaken::OtherPid => f.write_str("its record is another socket's"),
            NotTaken::OffsetGone(id) => write!(f, "offset {id} is no longer in the stream"),
            NotTaken::TooMany => write!(f, "it missed more than {MAX_MISSED} events"),
            NotTaken::Behind => f.write_str("the stream grows faster than it is read"),
        }
    }
}

impl From<redis::RedisError> for NotTaken {
    fn from(err: redis::RedisError) -> Self {
        NotTaken::Redis(err)
    }
}

impl From<StreamsError> for NotTaken {
    fn from(err: StreamsError) -> Self {
        NotTaken::Unreadable(err)
    }
}

/// What is called with the socket taken back, or `None`.
type Join = Box<dyn FnOnce(Option<RecoveredSocket>) + Send>;

impl Shared {
    /// The session `pid` names and the events after `offset` that reached
    /// it, read to where this server's delivery is; `join` is called with
    /// them while the delivery waits.
    pub(super) async fn restore(&self, link: &Link, pid: &str, offset: &str, join: Join) {
        match self.take_session(pid, offset).await {
            Ok((session, offset)) => self.replay(link, session, offset, join).await,
            Err(why) => {
                log::debug!("redis streams adapter: socket {pid} not recovered: {why}");
                join(None)
            }
        }
    }

    /// The session record (taken: no other server may take it again) and
    /// the offset, which must still be in the stream.
    async fn take_session(
        &self,
        pid: &str,
        offset: &str,
    ) -> Result<(wire::Session, StreamId), NotTaken> {
        let offset = StreamId::parse(offset).map_err(|_| NotTaken::BadOffset)?;
        let conn = lock(&self.conn).clone();
        let mut conn = conn.ok_or(NotTaken::Unreachable)?;
        let key = format!("{SESSION_PREFIX}{pid}");
        let (record, found): (Option<Vec<u8>>, redis::Value) = redis::pipe()
            .atomic()
            .cmd("GET")
            .arg(&key)
            .cmd("DEL")
            .arg(&key)
            .ignore()
            .cmd("XRANGE")
            .arg(&self.prefix)
            .arg(offset.to_string())
            .arg(offset.to_string())
            .query_async(&mut conn)
            .await?;
        let session = wire::decode_session(&record.ok_or(NotTaken::NoRecord)?)?;
        if session.pid != pid {
            return Err(NotTaken::OtherPid);
        }
        if wire::range_reply(&found)?.is_empty() {
            return Err(NotTaken::OffsetGone(offset));
        }
        Ok((session, offset))
    }

    /// Reads what the session missed, then joins it with this server's
    /// delivery held: what was read past the delivery comes live, what
    /// was delivered past the reading is read first.
    async fn replay(&self, link: &Link, session: wire::Session, offset: StreamId, join: Join) {
        let sid = session.sid.clone();
        let mut join = Some(join);
        if let Err(why) = self
            .read_to_delivery(link, session, offset, &mut join)
            .await
        {
            log::info!("redis streams adapter: socket {sid} not recovered: {why}");
        }
        if let Some(join) = join.take() {
            join(None)
        }
    }

    /// [`Shared::replay`]; takes `join` when it calls it with the socket.
    async fn read_to_delivery(
        &self,
        link: &Link,
        session: wire::Session,
        offset: StreamId,
        join: &mut Option<Join>,
    ) -> Result<(), NotTaken> {
        let mut missed: Vec<(StreamId, String, Payload)> = Vec::new();
        let mut cursor = offset;
        for _ in 0..CATCH_UP_ROUNDS {
            self.read_missed(link, &session, &mut cursor, &mut missed)
                .await?;
            let guard = lock(&self.delivered);
            let Some(delivered) = *guard else {
                return Err(NotTaken::Unreachable);
            };
            if delivered > cursor {
                continue;
            }
            missed.retain(|(id, _, _)| *id <= delivered);
            let owner = session
                .data
                .get("sessioOwner")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let rooms = session
                .rooms
                .into_iter()
                .filter(|r| *r != session.sid)
                .collect();
            let recovered = RecoveredSocket {
                id: session.sid,
                rooms,
                owner,
                missed: missed.into_iter().map(|(_, e, p)| (e, p)).collect(),
            };
            // The delivery waits until the socket is in its rooms.
            if let Some(join) = join.take() {
                join(Some(recovered));
            }
            drop(guard);
            return Ok(());
        }
        Err(NotTaken::Behind)
    }

    /// Reads the stream after `cursor` to its end, keeping the broadcasts
    /// that reached `session`.
    async fn read_missed(
        &self,
        link: &Link,
        session: &wire::Session,
        cursor: &mut StreamId,
        missed: &mut Vec<(StreamId, String, Payload)>,
    ) -> Result<(), NotTaken> {
        let conn = lock(&self.conn).clone();
        let mut conn = conn.ok_or(NotTaken::Unreachable)?;
        loop {
            let reply: redis::Value = redis::cmd("XRANGE")
                .arg(&self.prefix)
                .arg(cursor.next().to_string())
                .arg("+")
                .arg("COUNT")
                .arg(RANGE_COUNT)
                .query_async(&mut conn)
                .await?;
            let entries = wire::range_reply(&reply)?;
            let Some((last, _)) = entries.last() else {
                return Ok(());
            };
            let last = *last;
            for (id, fields) in entries {
                let Ok(message) = wire::decode_entry(&fields) else {
                    continue;
                };
                if message.nsp != link.name {
                    continue;
                }
                if let Body::Broadcast {
                    event,
                    payload,
                    target,
                    volatile: false,
                } = message.body
                {
                    if wire::reaches(&session.rooms, &target) {
                        missed.push((id, event, payload.with(json!(id.to_string()))));
                    }
                }
            }
            if missed.len() > MAX_MISSED {
                return Err(NotTaken::TooMany);
            }
            *cursor = last;
        }
    }
}
