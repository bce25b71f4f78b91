//! Taking a dropped socket back (the Node adapter's `restoreSession`): its
//! session record, taken once, and the stream's entries after its offset
//! that reached its rooms, read until they meet this server's delivery, so
//! that the socket joins with nothing missed and nothing twice.

use serde_json::{json, Value};

use super::wire::{self, Body, StreamId};
use super::{lock, Link, Shared, CATCH_UP_ROUNDS, MAX_MISSED, RANGE_COUNT, SESSION_PREFIX};
use crate::socketio::adapter::RecoveredSocket;
use crate::socketio::payload::Payload;

impl Shared {
    /// The session `pid` names and the events after `offset` that reached
    /// it, read to where this server's delivery is; `join` is called with
    /// them while the delivery waits.
    pub(super) async fn restore(
        &self,
        link: &Link,
        pid: &str,
        offset: &str,
        join: Box<dyn FnOnce(Option<RecoveredSocket>) + Send>,
    ) {
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
    ) -> Result<(wire::Session, StreamId), String> {
        let offset = StreamId::parse(offset).map_err(|e| e.to_string())?;
        let conn = lock(&self.conn).clone();
        let mut conn = conn.ok_or("Redis unreachable")?;
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
            .await
            .map_err(|e| e.to_string())?;
        let record = record.ok_or("no session kept for its pid")?;
        let session = wire::decode_session(&record).map_err(|e| e.to_string())?;
        if session.pid != pid {
            return Err("a session record of another socket".into());
        }
        let exists = wire::range_reply(&found).map_err(|e| e.to_string())?;
        if exists.is_empty() {
            return Err(format!("offset {offset} is no longer in the stream"));
        }
        Ok((session, offset))
    }

    /// Reads what the session missed, then joins it with this server's
    /// delivery held: what was read past the delivery comes live, what
    /// was delivered past the reading is read first.
    async fn replay(
        &self,
        link: &Link,
        session: wire::Session,
        offset: StreamId,
        join: Box<dyn FnOnce(Option<RecoveredSocket>) + Send>,
    ) {
        let mut missed: Vec<(StreamId, String, Payload)> = Vec::new();
        let mut cursor = offset;
        for _ in 0..CATCH_UP_ROUNDS {
            if let Err(why) = self
                .read_missed(link, &session, &mut cursor, &mut missed)
                .await
            {
                log::info!(
                    "redis streams adapter: socket {} not recovered: {why}",
                    session.sid
                );
                return join(None);
            }
            let guard = lock(&self.delivered);
            let Some(delivered) = *guard else {
                drop(guard);
                return join(None);
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
            join(Some(recovered));
            drop(guard);
            return;
        }
        log::info!(
            "redis streams adapter: socket {} not recovered: the stream grows faster than it is read",
            session.sid
        );
        join(None)
    }

    /// Reads the stream after `cursor` to its end, keeping the broadcasts
    /// that reached `session`.
    async fn read_missed(
        &self,
        link: &Link,
        session: &wire::Session,
        cursor: &mut StreamId,
        missed: &mut Vec<(StreamId, String, Payload)>,
    ) -> Result<(), String> {
        let conn = lock(&self.conn).clone();
        let mut conn = conn.ok_or("Redis unreachable")?;
        loop {
            let reply: redis::Value = redis::cmd("XRANGE")
                .arg(&self.prefix)
                .arg(cursor.next().to_string())
                .arg("+")
                .arg("COUNT")
                .arg(RANGE_COUNT)
                .query_async(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            let entries = wire::range_reply(&reply).map_err(|e| e.to_string())?;
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
                return Err(format!("it missed more than {MAX_MISSED} events"));
            }
            *cursor = last;
        }
    }
}
