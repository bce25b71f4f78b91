//! The messages of `@socket.io/redis-streams-adapter` 0.3 (socket.io-adapter's
//! `ClusterAdapter` messages), as bytes, and what Redis answers about its
//! stream. Nothing here does I/O; every decoder returns a `Result`.
//!
//! A message is `{uid, nsp, type, data}`. Broadcasts and room or disconnect
//! orders go on the stream as an entry whose fields are `uid`, `nsp`, `type`
//! (decimal text) and `data`: JSON text, or the base64 of its MessagePack when
//! it carries binary data (told apart by a first `{`). Requests and responses
//! (`fetchSockets`, `serverSideEmit`, broadcasts waiting for
//! acknowledgements) go through pub/sub as one MessagePack map. A dropped
//! socket's session is `{sid, pid, rooms, data}` in MessagePack, base64, under
//! `sio:session:<pid>`; the offsets are the stream's entry ids.

use std::fmt;
use std::time::Duration;

use async_tungstenite::tungstenite::Bytes;
use base64::Engine as _;
use rmpv::Value as Mp;
use serde_json::{json, Map, Value};

use crate::socketio::adapter::redis::wire::{
    depth, event_data, event_packet, msgpack, rooms, target, text, to_msgpack, WireError, MAX_DEPTH,
};
use crate::socketio::adapter::Target;
use crate::socketio::payload::Payload;

/// The message types (`MessageType` in socket.io-adapter).
pub(crate) mod kind {
    pub const BROADCAST: u64 = 3;
    pub const SOCKETS_JOIN: u64 = 4;
    pub const SOCKETS_LEAVE: u64 = 5;
    pub const DISCONNECT_SOCKETS: u64 = 6;
    pub const FETCH_SOCKETS: u64 = 7;
    pub const FETCH_SOCKETS_RESPONSE: u64 = 8;
    pub const SERVER_SIDE_EMIT: u64 = 9;
    pub const SERVER_SIDE_EMIT_RESPONSE: u64 = 10;
    pub const BROADCAST_CLIENT_COUNT: u64 = 11;
    pub const BROADCAST_ACK: u64 = 12;
}

/// The Socket.IO EVENT packet type, as a broadcast's packet carries it.
const EVENT: u64 = 2;

/// Why a message or a reply from Redis was not understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamsError {
    /// The message's own encoding (JSON or MessagePack) is wrong.
    Wire(WireError),
    /// `data` is neither JSON nor base64.
    Base64,
    /// A stream entry lacks a field, or has one that is not text.
    Field(&'static str),
    /// Not a stream entry id (`<ms>-<seq>`).
    Id,
    /// A reply from Redis not of the shape its command gives.
    Reply(&'static str),
}

impl fmt::Display for StreamsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamsError::Wire(err) => err.fmt(f),
            StreamsError::Base64 => f.write_str("data neither JSON nor base64"),
            StreamsError::Field(name) => write!(f, "bad or missing field {name}"),
            StreamsError::Id => f.write_str("not a stream entry id"),
            StreamsError::Reply(what) => write!(f, "unexpected reply to {what}"),
        }
    }
}

impl std::error::Error for StreamsError {}

impl From<WireError> for StreamsError {
    fn from(err: WireError) -> Self {
        StreamsError::Wire(err)
    }
}

/// A stream entry's id: milliseconds and a sequence number. It is also the
/// offset an event carries for connection state recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    /// Reads `<ms>-<seq>`, digits only (as the Node adapter checks offsets).
    pub fn parse(text: &str) -> Result<StreamId, StreamsError> {
        let (ms, seq) = text.split_once('-').ok_or(StreamsError::Id)?;
        let number = |part: &str| -> Result<u64, StreamsError> {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(StreamsError::Id);
            }
            part.parse().map_err(|_| StreamsError::Id)
        };
        Ok(StreamId {
            ms: number(ms)?,
            seq: number(seq)?,
        })
    }

    /// The smallest id after this one (XRANGE's start, exclusive of this).
    pub fn next(self) -> StreamId {
        match self.seq.checked_add(1) {
            Some(seq) => StreamId { ms: self.ms, seq },
            None => StreamId {
                ms: self.ms.saturating_add(1),
                seq: 0,
            },
        }
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// A message between the servers of a cluster, from the server `uid`.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub uid: String,
    pub nsp: String,
    pub body: Body,
}

/// What a message says.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// An event for the sockets of `target` (on the stream); `volatile`
    /// ones are not kept for recovery.
    Broadcast {
        event: String,
        payload: Payload,
        target: Target,
        volatile: bool,
    },
    /// An event each socket of `target` is to acknowledge (pub/sub).
    BroadcastWithAck {
        request_id: String,
        event: String,
        payload: Payload,
        target: Target,
        timeout: Duration,
    },
    /// The sockets of `target` join (or leave) `rooms` (on the stream).
    Rooms {
        target: Target,
        rooms: Vec<String>,
        join: bool,
    },
    /// The sockets of `target` disconnect (on the stream).
    Disconnect { target: Target, close: bool },
    /// `fetchSockets` for `target`.
    Fetch { request_id: String, target: Target },
    /// A server's sockets, as `fetchSockets` answers.
    FetchResponse {
        request_id: String,
        sockets: Vec<Value>,
    },
    /// `serverSideEmit`; with a request id, each server answers.
    ServerSideEmit {
        request_id: Option<String>,
        event: String,
        args: Vec<Value>,
    },
    /// One server's answer to a `serverSideEmit`.
    ServerSideEmitResponse { request_id: String, answer: Value },
    /// A broadcast with acknowledgements reached that many sockets.
    ClientCount { request_id: String, count: u64 },
    /// One socket's acknowledgement of such a broadcast (its first argument).
    BroadcastAck {
        request_id: String,
        payload: Payload,
    },
    /// A type this server has nothing to do with (heartbeats, a close).
    Other(u64),
}

impl Body {
    /// The type number.
    fn kind(&self) -> u64 {
        match self {
            Body::Broadcast { .. } | Body::BroadcastWithAck { .. } => kind::BROADCAST,
            Body::Rooms { join: true, .. } => kind::SOCKETS_JOIN,
            Body::Rooms { join: false, .. } => kind::SOCKETS_LEAVE,
            Body::Disconnect { .. } => kind::DISCONNECT_SOCKETS,
            Body::Fetch { .. } => kind::FETCH_SOCKETS,
            Body::FetchResponse { .. } => kind::FETCH_SOCKETS_RESPONSE,
            Body::ServerSideEmit { .. } => kind::SERVER_SIDE_EMIT,
            Body::ServerSideEmitResponse { .. } => kind::SERVER_SIDE_EMIT_RESPONSE,
            Body::ClientCount { .. } => kind::BROADCAST_CLIENT_COUNT,
            Body::BroadcastAck { .. } => kind::BROADCAST_ACK,
            Body::Other(kind) => *kind,
        }
    }

    /// The payload whose attachments `data` may carry.
    fn payload(&self) -> Option<&Payload> {
        match self {
            Body::Broadcast { payload, .. }
            | Body::BroadcastWithAck { payload, .. }
            | Body::BroadcastAck { payload, .. } => Some(payload),
            _ => None,
        }
    }

    /// `data` as JSON (attachments as placeholders).
    fn data(&self, nsp: &str) -> Value {
        let event_packet = |event: &str, payload: &Payload| {
            let data: Vec<Value> = std::iter::once(json!(event))
                .chain(payload.args().iter().cloned())
                .collect();
            json!({"type": EVENT, "data": data, "nsp": nsp})
        };
        match self {
            Body::Broadcast {
                event,
                payload,
                target,
                volatile,
            } => {
                let flags = match volatile {
                    true => json!({"volatile": true}),
                    false => json!({}),
                };
                json!({"packet": event_packet(event, payload), "opts": opts(target, flags)})
            }
            Body::BroadcastWithAck {
                request_id,
                event,
                payload,
                target,
                timeout,
            } => {
                let flags = json!({"timeout": timeout.as_millis() as u64});
                json!({"packet": event_packet(event, payload), "requestId": request_id, "opts": opts(target, flags)})
            }
            Body::Rooms { target, rooms, .. } => {
                json!({"opts": opts(target, json!({})), "rooms": rooms})
            }
            Body::Disconnect { target, close } => {
                json!({"opts": opts(target, json!({})), "close": close})
            }
            Body::Fetch { request_id, target } => {
                json!({"opts": opts(target, json!({})), "requestId": request_id})
            }
            Body::FetchResponse {
                request_id,
                sockets,
            } => json!({"requestId": request_id, "sockets": sockets}),
            Body::ServerSideEmit {
                request_id,
                event,
                args,
            } => {
                let packet: Vec<Value> = std::iter::once(json!(event))
                    .chain(args.iter().cloned())
                    .collect();
                match request_id {
                    Some(id) => json!({"requestId": id, "packet": packet}),
                    None => json!({"packet": packet}),
                }
            }
            Body::ServerSideEmitResponse { request_id, answer } => {
                json!({"requestId": request_id, "packet": answer})
            }
            Body::ClientCount { request_id, count } => {
                json!({"requestId": request_id, "clientCount": count})
            }
            Body::BroadcastAck {
                request_id,
                payload,
            } => {
                let first = payload.args().first().cloned().unwrap_or(Value::Null);
                json!({"requestId": request_id, "packet": first})
            }
            Body::Other(_) => Value::Null,
        }
    }
}

fn opts(target: &Target, flags: Value) -> Value {
    json!({"rooms": target.rooms, "except": target.except, "flags": flags})
}

/// `data` as MessagePack, binary attachments in place.
fn data_msgpack(body: &Body, nsp: &str) -> Mp {
    let empty = Payload::new();
    let payload = body.payload().unwrap_or(&empty);
    match body {
        // The event's arguments are the payload's: their attachments go back
        // in place; the rest of the message carries none.
        Body::Broadcast { .. } | Body::BroadcastWithAck { .. } => {
            let Value::Object(map) = body.data(nsp) else {
                return Mp::Nil;
            };
            let entries = map.iter().map(|(key, value)| {
                let value = match (key.as_str(), value) {
                    ("packet", Value::Object(packet)) => Mp::Map(
                        packet
                            .iter()
                            .map(|(k, v)| {
                                let v = match (k.as_str(), body) {
                                    ("data", Body::Broadcast { event, .. })
                                    | ("data", Body::BroadcastWithAck { event, .. }) => {
                                        event_data(event, payload)
                                    }
                                    _ => to_msgpack(v, &empty, 0),
                                };
                                (Mp::from(k.as_str()), v)
                            })
                            .collect(),
                    ),
                    _ => to_msgpack(value, &empty, 0),
                };
                (Mp::from(key.as_str()), value)
            });
            Mp::Map(entries.collect())
        }
        _ => to_msgpack(&body.data(nsp), payload, 0),
    }
}

/// A message's stream entry: its fields, in the Node adapter's order.
pub fn encode_entry(message: &Message) -> [(&'static str, String); 4] {
    let body = &message.body;
    let binary = body.payload().is_some_and(|p| !p.attachments().is_empty());
    let data = match binary {
        true => {
            let mut bytes = Vec::new();
            // Writing to a Vec cannot fail.
            let _ = rmpv::encode::write_value(&mut bytes, &data_msgpack(body, &message.nsp));
            base64::engine::general_purpose::STANDARD.encode(bytes)
        }
        false => match body.data(&message.nsp) {
            // No data: an empty field, which the Node adapter reads as none
            // (it leaves the field out) and so does `decode_entry`.
            Value::Null => String::new(),
            data => data.to_string(),
        },
    };
    [
        ("uid", message.uid.clone()),
        ("nsp", message.nsp.clone()),
        ("type", body.kind().to_string()),
        ("data", data),
    ]
}

/// A message published on a channel: one MessagePack map.
pub fn encode_published(message: &Message) -> Vec<u8> {
    let body = &message.body;
    let map = Mp::Map(vec![
        (Mp::from("uid"), Mp::from(message.uid.as_str())),
        (Mp::from("nsp"), Mp::from(message.nsp.as_str())),
        (Mp::from("type"), Mp::from(body.kind())),
        (Mp::from("data"), data_msgpack(body, &message.nsp)),
    ]);
    let mut out = Vec::new();
    let _ = rmpv::encode::write_value(&mut out, &map);
    out
}

/// A stream entry, from its fields (names and values as Redis gives them).
pub fn decode_entry(fields: &[(Vec<u8>, Vec<u8>)]) -> Result<Message, StreamsError> {
    let field = |name: &'static str| -> Result<Option<&str>, StreamsError> {
        match fields.iter().find(|(key, _)| key == name.as_bytes()) {
            None => Ok(None),
            Some((_, value)) => std::str::from_utf8(value)
                .map(Some)
                .map_err(|_| StreamsError::Field(name)),
        }
    };
    let uid = field("uid")?.ok_or(StreamsError::Field("uid"))?;
    let nsp = field("nsp")?.ok_or(StreamsError::Field("nsp"))?;
    let kind = field("type")?
        .and_then(|t| t.parse::<u64>().ok())
        .ok_or(StreamsError::Field("type"))?;
    let mut attachments = Vec::new();
    let data = match field("data")? {
        None | Some("") => Value::Null,
        Some(text) if text.starts_with('{') => {
            let value: Value = serde_json::from_str(text).map_err(|_| WireError::Syntax)?;
            if depth(&value) > MAX_DEPTH {
                return Err(WireError::TooDeep.into());
            }
            value
        }
        Some(text) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| StreamsError::Base64)?;
            msgpack(&bytes, &mut attachments)?
        }
    };
    Ok(Message {
        uid: uid.to_owned(),
        nsp: nsp.to_owned(),
        body: body(kind, data, attachments)?,
    })
}

/// A message off a channel.
pub fn decode_published(bytes: &[u8]) -> Result<Message, StreamsError> {
    let mut attachments = Vec::new();
    let Value::Object(mut map) = msgpack(bytes, &mut attachments)? else {
        return Err(WireError::Shape("message").into());
    };
    let uid = text(map.get("uid").unwrap_or(&Value::Null), "uid")?;
    let nsp = text(map.get("nsp").unwrap_or(&Value::Null), "nsp")?;
    let kind = map
        .get("type")
        .and_then(Value::as_u64)
        .ok_or(WireError::Shape("type"))?;
    let data = map.remove("data").unwrap_or(Value::Null);
    Ok(Message {
        uid,
        nsp,
        body: body(kind, data, attachments)?,
    })
}

fn body(kind: u64, data: Value, attachments: Vec<Bytes>) -> Result<Body, StreamsError> {
    let mut data = match data {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        _ => return Err(WireError::Shape("data").into()),
    };
    let opts = |data: &Map<String, Value>| -> Result<(Target, Map<String, Value>), WireError> {
        match data.get("opts") {
            None | Some(Value::Null) => Ok((Target::default(), Map::new())),
            Some(Value::Object(opts)) => {
                let flags = match opts.get("flags") {
                    Some(Value::Object(flags)) => flags.clone(),
                    _ => Map::new(),
                };
                Ok((target(Some(opts))?, flags))
            }
            Some(_) => Err(WireError::Shape("opts")),
        }
    };
    let request_id = |data: &Map<String, Value>| -> Result<Option<String>, WireError> {
        match data.get("requestId") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(id)) => Ok(Some(id.clone())),
            Some(_) => Err(WireError::Shape("requestId")),
        }
    };
    let required =
        |data: &Map<String, Value>| request_id(data)?.ok_or(WireError::Shape("requestId"));
    Ok(match kind {
        kind::BROADCAST => {
            let (target, flags) = opts(&data)?;
            let id = request_id(&data)?;
            let packet = data.remove("packet").ok_or(WireError::Shape("packet"))?;
            let (_, event, payload) = event_packet(packet, attachments)?;
            match id {
                None => Body::Broadcast {
                    event,
                    payload,
                    target,
                    volatile: flags.get("volatile").is_some_and(|v| !v.is_null()),
                },
                Some(request_id) => Body::BroadcastWithAck {
                    request_id,
                    event,
                    payload,
                    target,
                    timeout: flags
                        .get("timeout")
                        .and_then(Value::as_f64)
                        .filter(|t| t.is_finite() && *t >= 0.0)
                        .map_or(Duration::from_secs(5), |ms| {
                            Duration::from_secs_f64(ms.min(3.6e6) / 1000.0)
                        }),
                },
            }
        }
        kind::SOCKETS_JOIN | kind::SOCKETS_LEAVE => Body::Rooms {
            target: opts(&data)?.0,
            rooms: rooms(data.get("rooms"), "rooms")?,
            join: kind == kind::SOCKETS_JOIN,
        },
        kind::DISCONNECT_SOCKETS => Body::Disconnect {
            target: opts(&data)?.0,
            close: data.get("close").and_then(Value::as_bool).unwrap_or(false),
        },
        kind::FETCH_SOCKETS => Body::Fetch {
            request_id: required(&data)?,
            target: opts(&data)?.0,
        },
        kind::FETCH_SOCKETS_RESPONSE => Body::FetchResponse {
            request_id: required(&data)?,
            sockets: match data.remove("sockets") {
                Some(Value::Array(sockets)) => sockets,
                _ => return Err(WireError::Shape("sockets").into()),
            },
        },
        kind::SERVER_SIDE_EMIT => {
            let request_id = request_id(&data)?;
            let Some(Value::Array(mut packet)) = data.remove("packet") else {
                return Err(WireError::Shape("packet").into());
            };
            if packet.is_empty() {
                return Err(WireError::Shape("packet").into());
            }
            let event = text(&packet.remove(0), "packet")?;
            Body::ServerSideEmit {
                request_id,
                event,
                args: packet,
            }
        }
        kind::SERVER_SIDE_EMIT_RESPONSE => Body::ServerSideEmitResponse {
            request_id: required(&data)?,
            answer: data.remove("packet").unwrap_or(Value::Null),
        },
        kind::BROADCAST_CLIENT_COUNT => Body::ClientCount {
            request_id: required(&data)?,
            count: data
                .get("clientCount")
                .and_then(Value::as_u64)
                .ok_or(WireError::Shape("clientCount"))?,
        },
        kind::BROADCAST_ACK => Body::BroadcastAck {
            request_id: required(&data)?,
            payload: Payload::from_parts(
                vec![data.remove("packet").unwrap_or(Value::Null)],
                attachments,
            ),
        },
        other => Body::Other(other),
    })
}

/// A dropped socket's session, as the Node server persists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub sid: String,
    pub pid: String,
    /// Its rooms, its own included.
    pub rooms: Vec<String>,
    /// The socket's `data`.
    pub data: Value,
}

/// A session as the record's value: base64 of its MessagePack.
pub fn encode_session(session: &Session) -> String {
    let strings = |list: &[String]| Mp::Array(list.iter().map(|s| Mp::from(s.as_str())).collect());
    let map = Mp::Map(vec![
        (Mp::from("sid"), Mp::from(session.sid.as_str())),
        (Mp::from("pid"), Mp::from(session.pid.as_str())),
        (Mp::from("rooms"), strings(&session.rooms)),
        (
            Mp::from("data"),
            to_msgpack(&session.data, &Payload::new(), 0),
        ),
    ]);
    let mut out = Vec::new();
    let _ = rmpv::encode::write_value(&mut out, &map);
    base64::engine::general_purpose::STANDARD.encode(out)
}

/// A session record's value.
pub fn decode_session(bytes: &[u8]) -> Result<Session, StreamsError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(bytes)
        .map_err(|_| StreamsError::Base64)?;
    // Binary data in `data` is left as its placeholder.
    let Value::Object(mut map) = msgpack(&bytes, &mut Vec::new())? else {
        return Err(WireError::Shape("session").into());
    };
    Ok(Session {
        sid: text(map.get("sid").unwrap_or(&Value::Null), "sid")?,
        pid: text(map.get("pid").unwrap_or(&Value::Null), "pid")?,
        rooms: rooms(map.get("rooms"), "rooms")?,
        data: map.remove("data").unwrap_or(Value::Null),
    })
}

/// A stream entry as XRANGE and XREAD give it: its id and fields.
pub type Entry = (StreamId, Vec<(Vec<u8>, Vec<u8>)>);

/// The entries of an XRANGE reply.
pub fn range_reply(reply: &redis::Value) -> Result<Vec<Entry>, StreamsError> {
    let bad = StreamsError::Reply("XRANGE");
    let redis::Value::Array(items) = reply else {
        return Err(bad);
    };
    items.iter().map(entry).collect()
}

/// The entries of an XREAD reply on one stream (none when it timed out).
pub fn read_reply(reply: &redis::Value) -> Result<Vec<Entry>, StreamsError> {
    let bad = || StreamsError::Reply("XREAD");
    let entries = match reply {
        redis::Value::Nil => return Ok(Vec::new()),
        // RESP2: [[name, entries]]
        redis::Value::Array(streams) => match streams.as_slice() {
            [] => return Ok(Vec::new()),
            [redis::Value::Array(stream)] => match stream.as_slice() {
                [_, entries] => entries,
                _ => return Err(bad()),
            },
            _ => return Err(bad()),
        },
        // RESP3: {name: entries}
        redis::Value::Map(streams) => match streams.as_slice() {
            [] => return Ok(Vec::new()),
            [(_, entries)] => entries,
            _ => return Err(bad()),
        },
        _ => return Err(bad()),
    };
    range_reply(entries).map_err(|_| bad())
}

fn entry(item: &redis::Value) -> Result<Entry, StreamsError> {
    let bad = StreamsError::Reply("a stream entry");
    let redis::Value::Array(parts) = item else {
        return Err(bad);
    };
    let [id, fields] = parts.as_slice() else {
        return Err(bad);
    };
    let id = StreamId::parse(
        std::str::from_utf8(bytes(id).ok_or(StreamsError::Id)?).map_err(|_| StreamsError::Id)?,
    )?;
    let pairs: Vec<(Vec<u8>, Vec<u8>)> = match fields {
        redis::Value::Array(flat) if flat.len() % 2 == 0 => flat
            .chunks_exact(2)
            .map(|pair| Some((bytes(&pair[0])?.to_vec(), bytes(&pair[1])?.to_vec())))
            .collect::<Option<_>>()
            .ok_or(bad)?,
        redis::Value::Map(pairs) => pairs
            .iter()
            .map(|(k, v)| Some((bytes(k)?.to_vec(), bytes(v)?.to_vec())))
            .collect::<Option<_>>()
            .ok_or(bad)?,
        // A deleted entry's fields read as nil.
        redis::Value::Nil => Vec::new(),
        _ => return Err(bad),
    };
    Ok((id, pairs))
}

fn bytes(value: &redis::Value) -> Option<&[u8]> {
    match value {
        redis::Value::BulkString(data) => Some(data),
        redis::Value::SimpleString(text) => Some(text.as_bytes()),
        _ => None,
    }
}

/// Whether a socket in `rooms` was reached by a broadcast to `target` (the
/// Node adapter's `shouldIncludePacket`).
pub fn reaches(rooms: &[String], target: &Target) -> bool {
    let included = target.rooms.is_empty() || rooms.iter().any(|r| target.rooms.contains(r));
    included && !rooms.iter().any(|r| target.except.contains(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
        pairs
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    }

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn a_broadcast_entry_from_node_decodes() {
        // What the adapter XADDs for `io.to("r1").except("x").emit("news", {n: 1})`.
        let entry = fields(&[
            ("uid", "0a1b2c3d4e5f6a7b"),
            ("nsp", "/"),
            ("type", "3"),
            (
                "data",
                r#"{"packet":{"type":2,"data":["news",{"n":1}],"nsp":"/"},"opts":{"rooms":["r1"],"except":["x"],"flags":{}}}"#,
            ),
        ]);
        let message = decode_entry(&entry).unwrap();
        assert_eq!(
            (message.uid.as_str(), message.nsp.as_str()),
            ("0a1b2c3d4e5f6a7b", "/")
        );
        match message.body {
            Body::Broadcast {
                event,
                payload,
                target,
                volatile,
            } => {
                assert_eq!(event, "news");
                assert_eq!(payload.args(), &[json!({"n": 1})]);
                assert_eq!(
                    (target.rooms, target.except),
                    (vec!["r1".to_owned()], vec!["x".to_owned()])
                );
                assert!(!volatile);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn binary_goes_as_base64_messagepack_and_back() {
        let mut payload = Payload::new().with(json!("a"));
        let file = payload.push_binary(Bytes::from_static(&[1, 2, 3]));
        let payload = payload.with(json!({"f": file}));
        let message = Message {
            uid: "me".into(),
            nsp: "/chat".into(),
            body: Body::Broadcast {
                event: "ev".into(),
                payload: payload.clone(),
                target: Target {
                    rooms: vec!["r".into()],
                    except: vec![],
                },
                volatile: true,
            },
        };
        let entry = encode_entry(&message);
        assert_eq!(entry[2], ("type", "3".to_owned()));
        assert!(
            !entry[3].1.starts_with('{'),
            "binary data goes as MessagePack"
        );
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = entry
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect();
        let back = decode_entry(&pairs).unwrap();
        assert_eq!(back, message);
    }

    #[test]
    fn published_messages_read_back() {
        let bodies = [
            Body::Fetch {
                request_id: "q".into(),
                target: Target::default(),
            },
            Body::FetchResponse {
                request_id: "q".into(),
                sockets: vec![json!({"id": "s", "rooms": ["s"]})],
            },
            Body::ServerSideEmit {
                request_id: Some("q".into()),
                event: "ping".into(),
                args: vec![json!(1)],
            },
            Body::ServerSideEmit {
                request_id: None,
                event: "ping".into(),
                args: vec![],
            },
            Body::ServerSideEmitResponse {
                request_id: "q".into(),
                answer: json!("pong"),
            },
            Body::ClientCount {
                request_id: "q".into(),
                count: 2,
            },
            Body::BroadcastAck {
                request_id: "q".into(),
                payload: Payload::new().with(json!({"ok": true})),
            },
        ];
        for body in bodies {
            let message = Message {
                uid: "me".into(),
                nsp: "/".into(),
                body,
            };
            assert_eq!(
                decode_published(&encode_published(&message)).unwrap(),
                message
            );
        }
    }

    #[test]
    fn a_fetch_request_from_node_decodes() {
        // @msgpack/msgpack's encoding of
        // {type: 7, data: {opts: {rooms: ["a"], except: [], flags: {}}, requestId: "r1"}, uid: "u", nsp: "/"}
        let bytes = hex("84a47479706507a46461746182a46f70747383a5726f6f6d7391a161a665786365707490a5666c61677380a9726571756573744964a27231a3756964a175a36e7370a12f");
        let message = decode_published(&bytes).unwrap();
        assert_eq!(
            message.body,
            Body::Fetch {
                request_id: "r1".into(),
                target: Target {
                    rooms: vec!["a".into()],
                    except: vec![]
                }
            }
        );
    }

    #[test]
    fn sessions_read_back() {
        let session = Session {
            sid: "s1".into(),
            pid: "p1".into(),
            rooms: vec!["s1".into(), "room".into()],
            data: json!({"owner": "abc"}),
        };
        let text = encode_session(&session);
        assert_eq!(decode_session(text.as_bytes()).unwrap(), session);
        assert_eq!(decode_session(b"%%%"), Err(StreamsError::Base64));
    }

    #[test]
    fn stream_ids_parse_order_and_step() {
        let id = StreamId::parse("1700000000000-5").unwrap();
        assert_eq!(id.to_string(), "1700000000000-5");
        assert!(id < StreamId::parse("1700000000000-6").unwrap());
        assert!(id < StreamId::parse("1700000000001-0").unwrap());
        assert_eq!(id.next().to_string(), "1700000000000-6");
        for bad in [
            "",
            "1",
            "1-",
            "-1",
            "1-x",
            "+1-2",
            "1-2-3",
            "99999999999999999999-0",
        ] {
            assert_eq!(StreamId::parse(bad), Err(StreamsError::Id), "{bad}");
        }
    }

    #[test]
    fn replies_parse_or_fail_cleanly() {
        use redis::Value as R;
        let bulk = |s: &str| R::BulkString(s.as_bytes().to_vec());
        let entry = R::Array(vec![bulk("1-1"), R::Array(vec![bulk("uid"), bulk("u")])]);
        let xread = R::Array(vec![R::Array(vec![
            bulk("socket.io"),
            R::Array(vec![entry.clone()]),
        ])]);
        let read = read_reply(&xread).unwrap();
        assert_eq!(
            read,
            vec![(StreamId { ms: 1, seq: 1 }, fields(&[("uid", "u")]))]
        );
        assert_eq!(read_reply(&R::Nil).unwrap(), vec![]);
        assert!(range_reply(&R::Array(vec![R::Array(vec![bulk("x")])])).is_err());
        assert!(read_reply(&R::Int(3)).is_err());
        // RESP3 shapes read the same.
        let resp3 = R::Map(vec![(bulk("socket.io"), R::Array(vec![entry]))]);
        assert_eq!(read_reply(&resp3).unwrap(), read);
    }

    #[test]
    fn a_socket_is_reached_as_node_decides() {
        let rooms = vec!["s1".to_owned(), "a".to_owned()];
        let target = |rooms: &[&str], except: &[&str]| Target {
            rooms: rooms.iter().map(|&r| r.into()).collect(),
            except: except.iter().map(|&r| r.into()).collect(),
        };
        assert!(reaches(&rooms, &target(&[], &[])));
        assert!(reaches(&rooms, &target(&["a", "b"], &[])));
        assert!(!reaches(&rooms, &target(&["b"], &[])));
        assert!(!reaches(&rooms, &target(&[], &["s1"])));
    }

    #[test]
    fn the_fuzz_seeds_from_node_decode() {
        let seed = |name: &str| {
            let path = format!(
                "{}/fuzz/corpus/redis_streams/{name}",
                env!("CARGO_MANIFEST_DIR")
            );
            std::fs::read(path).unwrap()
        };
        for name in [
            "fetch",
            "server_side_emit",
            "broadcast_ack",
            "fetch_response",
        ] {
            decode_published(&seed(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        assert_eq!(decode_session(&seed("session")).unwrap().rooms, ["s1", "r"]);
        let reply = redis::parse_redis_value(&seed("xread_reply")).unwrap();
        let entries = read_reply(&reply).unwrap();
        let bodies: Vec<Body> = entries
            .iter()
            .map(|(_, fields)| decode_entry(fields).unwrap().body)
            .collect();
        assert!(
            matches!(&bodies[0], Body::Broadcast { event, volatile: false, .. } if event == "news")
        );
        match &bodies[1] {
            Body::Broadcast {
                payload, volatile, ..
            } => {
                assert!(volatile);
                let file = payload.binary(&payload.args()[0]).map(|b| b.to_vec());
                assert_eq!(file, Some(vec![0, 255]));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(&bodies[2], Body::Rooms { join: true, .. }));
    }

    #[test]
    fn malformed_entries_are_errors() {
        assert_eq!(
            decode_entry(&fields(&[("nsp", "/")])),
            Err(StreamsError::Field("uid"))
        );
        let bad_type = fields(&[("uid", "u"), ("nsp", "/"), ("type", "x")]);
        assert_eq!(decode_entry(&bad_type), Err(StreamsError::Field("type")));
        let bad_json = fields(&[("uid", "u"), ("nsp", "/"), ("type", "3"), ("data", "{nope")]);
        assert_eq!(
            decode_entry(&bad_json),
            Err(StreamsError::Wire(WireError::Syntax))
        );
        let no_packet = fields(&[("uid", "u"), ("nsp", "/"), ("type", "3"), ("data", "{}")]);
        assert_eq!(
            decode_entry(&no_packet),
            Err(StreamsError::Wire(WireError::Shape("packet")))
        );
        let heartbeat = fields(&[("uid", "u"), ("nsp", "/"), ("type", "2")]);
        assert_eq!(decode_entry(&heartbeat).unwrap().body, Body::Other(2));
        assert!(decode_published(b"\x93\x01\x02\x03").is_err());
    }
}
