//! The messages of `@socket.io/redis-adapter` 8.x (its classic adapter), as
//! bytes: broadcasts are MessagePack `[uid, packet, opts]`; requests and
//! responses are JSON objects, or MessagePack maps (a broadcast waiting for
//! acknowledgements, and its acknowledgements), told apart by a first `{`.
//! Every decoder returns a `Result`; nothing here does I/O.
//!
//! Binary data (MessagePack `bin`) becomes a [`Payload`] attachment and its
//! placeholder, and back.

use std::fmt;
use std::time::Duration;

use async_tungstenite::tungstenite::Bytes;
use rmpv::Value as Mp;
use serde_json::{json, Map, Number, Value};

use crate::socketio::adapter::Target;
use crate::socketio::payload::Payload;

/// How deep a message may nest (MessagePack and JSON alike).
pub(crate) const MAX_DEPTH: usize = 64;

/// Why a message off Redis was not understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    /// Not MessagePack (or not JSON, for a message starting with `{`).
    Syntax,
    /// Nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// The right syntax, not the shape of this message; which field.
    Shape(&'static str),
    /// A MessagePack extension other than a timestamp.
    Extension(i8),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Syntax => f.write_str("neither MessagePack nor JSON"),
            WireError::TooDeep => write!(f, "nested deeper than {MAX_DEPTH}"),
            WireError::Shape(field) => write!(f, "bad or missing {field}"),
            WireError::Extension(kind) => write!(f, "MessagePack extension {kind}"),
        }
    }
}

impl std::error::Error for WireError {}

/// The request types (`RequestType` in the adapter).
mod kind {
    pub const SOCKETS: u64 = 0;
    pub const ALL_ROOMS: u64 = 1;
    pub const REMOTE_JOIN: u64 = 2;
    pub const REMOTE_LEAVE: u64 = 3;
    pub const REMOTE_DISCONNECT: u64 = 4;
    pub const REMOTE_FETCH: u64 = 5;
    pub const SERVER_SIDE_EMIT: u64 = 6;
    pub const BROADCAST: u64 = 7;
    pub const BROADCAST_CLIENT_COUNT: u64 = 8;
    pub const BROADCAST_ACK: u64 = 9;
}

/// The Socket.IO packet types a broadcast may carry: EVENT, BINARY_EVENT.
const EVENT: u64 = 2;
const BINARY_EVENT: u64 = 5;

/// An event for the sockets of a target, from the server `uid`.
#[derive(Debug, Clone, PartialEq)]
pub struct Broadcast {
    pub uid: String,
    pub nsp: String,
    pub event: String,
    pub payload: Payload,
    pub target: Target,
}

/// A request from another server, and who sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    pub uid: Option<String>,
    pub request_id: Option<String>,
    pub request: Request,
}

/// What another server asks of this one.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// The ids of the sockets in `rooms` (all when empty).
    Sockets {
        rooms: Vec<String>,
    },
    AllRooms,
    /// The sockets of `target` join (or leave) `rooms`; no answer.
    Rooms {
        target: Target,
        rooms: Vec<String>,
        join: bool,
    },
    /// One socket joins (or leaves) `room`; answered.
    Room {
        sid: String,
        room: String,
        join: bool,
    },
    Disconnect {
        target: Target,
        close: bool,
    },
    /// One socket disconnects; answered.
    DisconnectOne {
        sid: String,
        close: bool,
    },
    Fetch {
        target: Target,
    },
    ServerSideEmit {
        event: String,
        args: Vec<Value>,
    },
    /// A broadcast waiting for each socket's acknowledgement.
    BroadcastWithAck {
        event: String,
        payload: Payload,
        target: Target,
        timeout: Duration,
    },
}

/// An answer to a request, by the request's id.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub request_id: String,
    pub answer: Answer,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A `fetchSockets` (or `allSockets`) reply: its sockets.
    Sockets(Vec<Value>),
    Rooms(Vec<String>),
    /// A server's answer to a server-side event.
    ServerSideEmit(Value),
    /// A broadcast with acknowledgements reached that many sockets.
    ClientCount(u64),
    /// One socket's acknowledgement of such a broadcast (its first
    /// argument, as Node passes on).
    BroadcastAck(Payload),
    /// A single-socket request was done.
    Done,
}

/// Decodes a broadcast (`[uid, packet, opts]`).
pub fn decode_broadcast(bytes: &[u8]) -> Result<Broadcast, WireError> {
    let mut attachments = Vec::new();
    let value = msgpack(bytes, &mut attachments)?;
    let Value::Array(mut parts) = value else {
        return Err(WireError::Shape("message"));
    };
    if parts.len() < 2 {
        return Err(WireError::Shape("message"));
    }
    let opts = parts.get(2).cloned().unwrap_or(Value::Null);
    let packet = parts.swap_remove(1);
    let uid = text(&parts[0], "uid")?;
    let (nsp, event, payload) = event_packet(packet, attachments)?;
    Ok(Broadcast {
        uid,
        nsp,
        event,
        payload,
        target: target(opts.as_object())?,
    })
}

/// Encodes a broadcast as the Node adapter does.
pub fn encode_broadcast(
    uid: &str,
    nsp: &str,
    event: &str,
    payload: &Payload,
    target: &Target,
) -> Vec<u8> {
    let packet = Mp::Map(vec![
        (Mp::from("type"), Mp::from(EVENT)),
        (Mp::from("data"), event_data(event, payload)),
        (Mp::from("nsp"), Mp::from(nsp)),
    ]);
    let strings = |list: &[String]| Mp::Array(list.iter().map(|s| Mp::from(s.as_str())).collect());
    let opts = Mp::Map(vec![
        (Mp::from("rooms"), strings(&target.rooms)),
        (Mp::from("except"), strings(&target.except)),
        (Mp::from("flags"), Mp::Map(Vec::new())),
    ]);
    let message = Mp::Array(vec![Mp::from(uid), packet, opts]);
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut out, &message);
    out
}

/// The channel a broadcast goes to: the namespace's, with the room when
/// there is exactly one.
pub fn broadcast_channel(prefix: &str, nsp: &str, target: &Target) -> String {
    match target.rooms.as_slice() {
        [room] => format!("{prefix}#{nsp}#{room}#"),
        _ => format!("{prefix}#{nsp}#"),
    }
}

/// `["event", ...args]` with the attachments put back in place.
pub(crate) fn event_data(event: &str, payload: &Payload) -> Mp {
    let args = payload.args().iter().map(|a| to_msgpack(a, payload, 0));
    Mp::Array(std::iter::once(Mp::from(event)).chain(args).collect())
}

pub(crate) fn to_msgpack(value: &Value, payload: &Payload, depth: usize) -> Mp {
    if let Some(data) = payload.binary(value) {
        return Mp::Binary(data.to_vec());
    }
    if depth > MAX_DEPTH {
        return Mp::Nil;
    }
    match value {
        Value::Null => Mp::Nil,
        Value::Bool(b) => Mp::Boolean(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => Mp::from(u),
            (_, Some(i), _) => Mp::from(i),
            (_, _, f) => Mp::F64(f.unwrap_or(0.0)),
        },
        Value::String(s) => Mp::from(s.as_str()),
        Value::Array(items) => Mp::Array(
            items
                .iter()
                .map(|v| to_msgpack(v, payload, depth + 1))
                .collect(),
        ),
        Value::Object(map) => Mp::Map(
            map.iter()
                .map(|(k, v)| (Mp::from(k.as_str()), to_msgpack(v, payload, depth + 1)))
                .collect(),
        ),
    }
}

/// A Socket.IO packet object `{type, data, nsp}` carrying an event.
pub(crate) fn event_packet(
    packet: Value,
    attachments: Vec<Bytes>,
) -> Result<(String, String, Payload), WireError> {
    let Value::Object(mut packet) = packet else {
        return Err(WireError::Shape("packet"));
    };
    match packet.get("type").and_then(Value::as_u64) {
        Some(EVENT | BINARY_EVENT) => {}
        _ => return Err(WireError::Shape("packet.type")),
    }
    let nsp = match packet.get("nsp") {
        None | Some(Value::Null) => "/".to_owned(),
        Some(nsp) => text(nsp, "packet.nsp")?,
    };
    let Some(Value::Array(mut data)) = packet.remove("data") else {
        return Err(WireError::Shape("packet.data"));
    };
    if data.is_empty() {
        return Err(WireError::Shape("packet.data"));
    }
    let event = text(&data.remove(0), "event")?;
    Ok((nsp, event, Payload::from_parts(data, attachments)))
}

/// `{rooms, except}` (absent lists are empty); rooms may be numbers.
pub(crate) fn target(opts: Option<&Map<String, Value>>) -> Result<Target, WireError> {
    let list = |name: &'static str| -> Result<Vec<String>, WireError> {
        match opts.and_then(|o| o.get(name)) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items.iter().map(|v| room(v, name)).collect(),
            Some(_) => Err(WireError::Shape(name)),
        }
    };
    Ok(Target {
        rooms: list("rooms")?,
        except: list("except")?,
    })
}

fn room(value: &Value, field: &'static str) -> Result<String, WireError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(WireError::Shape(field)),
    }
}

pub(crate) fn rooms(value: Option<&Value>, field: &'static str) -> Result<Vec<String>, WireError> {
    match value {
        Some(Value::Array(items)) => items.iter().map(|v| room(v, field)).collect(),
        _ => Err(WireError::Shape(field)),
    }
}

pub(crate) fn text(value: &Value, field: &'static str) -> Result<String, WireError> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or(WireError::Shape(field))
}

/// A request or response: JSON when it starts with `{`, else MessagePack.
fn object(bytes: &[u8]) -> Result<(Map<String, Value>, Vec<Bytes>), WireError> {
    let mut attachments = Vec::new();
    let value = if bytes.first() == Some(&b'{') {
        let value: Value = serde_json::from_slice(bytes).map_err(|_| WireError::Syntax)?;
        if depth(&value) > MAX_DEPTH {
            return Err(WireError::TooDeep);
        }
        value
    } else {
        msgpack(bytes, &mut attachments)?
    };
    match value {
        Value::Object(map) => Ok((map, attachments)),
        _ => Err(WireError::Shape("message")),
    }
}

pub(crate) fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Decodes a request from another server.
pub fn decode_request(bytes: &[u8]) -> Result<Incoming, WireError> {
    let (mut map, attachments) = object(bytes)?;
    let optional = |map: &Map<String, Value>, name| match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(WireError::Shape(name)),
    };
    let uid = optional(&map, "uid")?;
    let request_id = optional(&map, "requestId")?;
    let kind = map
        .get("type")
        .and_then(Value::as_u64)
        .ok_or(WireError::Shape("type"))?;
    let opts = match map.get("opts") {
        None | Some(Value::Null) => None,
        Some(Value::Object(opts)) => Some(opts),
        Some(_) => return Err(WireError::Shape("opts")),
    };
    let sid = || text(map.get("sid").unwrap_or(&Value::Null), "sid");
    let close = map.get("close").and_then(Value::as_bool).unwrap_or(false);
    let request = match kind {
        kind::SOCKETS => Request::Sockets {
            rooms: rooms(map.get("rooms"), "rooms").unwrap_or_default(),
        },
        kind::ALL_ROOMS => Request::AllRooms,
        kind::REMOTE_JOIN | kind::REMOTE_LEAVE => {
            let join = kind == kind::REMOTE_JOIN;
            match opts {
                Some(opts) => Request::Rooms {
                    target: target(Some(opts))?,
                    rooms: rooms(map.get("rooms"), "rooms")?,
                    join,
                },
                None => Request::Room {
                    sid: sid()?,
                    room: room(map.get("room").unwrap_or(&Value::Null), "room")?,
                    join,
                },
            }
        }
        kind::REMOTE_DISCONNECT => match opts {
            Some(opts) => Request::Disconnect {
                target: target(Some(opts))?,
                close,
            },
            None => Request::DisconnectOne { sid: sid()?, close },
        },
        kind::REMOTE_FETCH => Request::Fetch {
            target: target(opts)?,
        },
        kind::SERVER_SIDE_EMIT => {
            let Some(Value::Array(mut data)) = map.remove("data") else {
                return Err(WireError::Shape("data"));
            };
            if data.is_empty() {
                return Err(WireError::Shape("data"));
            }
            let event = text(&data.remove(0), "data")?;
            Request::ServerSideEmit { event, args: data }
        }
        kind::BROADCAST => {
            let timeout = opts
                .and_then(|o| o.get("flags"))
                .and_then(|f| f.get("timeout"))
                .and_then(Value::as_f64)
                .filter(|t| t.is_finite() && *t >= 0.0)
                .map_or(Duration::from_secs(5), |ms| {
                    Duration::from_secs_f64(ms.min(3.6e6) / 1000.0)
                });
            let target = target(opts)?;
            let packet = map.remove("packet").ok_or(WireError::Shape("packet"))?;
            let (_, event, payload) = event_packet(packet, attachments)?;
            Request::BroadcastWithAck {
                event,
                payload,
                target,
                timeout,
            }
        }
        _ => return Err(WireError::Shape("type")),
    };
    Ok(Incoming {
        uid,
        request_id,
        request,
    })
}

/// Decodes a response. `Done` is any other answer with a request id.
pub fn decode_response(bytes: &[u8]) -> Result<Response, WireError> {
    let (mut map, attachments) = object(bytes)?;
    let request_id = match map.get("requestId") {
        Some(Value::String(id)) => id.clone(),
        _ => return Err(WireError::Shape("requestId")),
    };
    let answer = match map.get("type").and_then(Value::as_u64) {
        Some(kind::SERVER_SIDE_EMIT) => {
            Answer::ServerSideEmit(map.remove("data").unwrap_or(Value::Null))
        }
        Some(kind::BROADCAST_CLIENT_COUNT) => Answer::ClientCount(
            map.get("clientCount")
                .and_then(Value::as_u64)
                .ok_or(WireError::Shape("clientCount"))?,
        ),
        Some(kind::BROADCAST_ACK) => Answer::BroadcastAck(Payload::from_parts(
            vec![map.remove("packet").unwrap_or(Value::Null)],
            attachments,
        )),
        _ => match (map.remove("sockets"), map.get("rooms")) {
            (Some(Value::Array(sockets)), _) => Answer::Sockets(sockets),
            (Some(_), _) => return Err(WireError::Shape("sockets")),
            (None, Some(rooms_value)) => Answer::Rooms(rooms(Some(rooms_value), "rooms")?),
            (None, None) => Answer::Done,
        },
    };
    Ok(Response { request_id, answer })
}

fn opts_json(target: &Target) -> Value {
    json!({"rooms": target.rooms, "except": target.except})
}

/// The JSON of a request this server sends.
pub fn encode_request(uid: &str, request_id: Option<&str>, request: &Request) -> String {
    let mut message = json!({"uid": uid});
    if let Some(id) = request_id {
        message["requestId"] = json!(id);
    }
    let fields = match request {
        Request::Sockets { rooms } => json!({"type": kind::SOCKETS, "rooms": rooms}),
        Request::AllRooms => json!({"type": kind::ALL_ROOMS}),
        Request::Rooms {
            target,
            rooms,
            join,
        } => {
            let kind = if *join {
                kind::REMOTE_JOIN
            } else {
                kind::REMOTE_LEAVE
            };
            json!({"type": kind, "opts": opts_json(target), "rooms": rooms})
        }
        Request::Room { sid, room, join } => {
            let kind = if *join {
                kind::REMOTE_JOIN
            } else {
                kind::REMOTE_LEAVE
            };
            json!({"type": kind, "sid": sid, "room": room})
        }
        Request::Disconnect { target, close } => {
            json!({"type": kind::REMOTE_DISCONNECT, "opts": opts_json(target), "close": close})
        }
        Request::DisconnectOne { sid, close } => {
            json!({"type": kind::REMOTE_DISCONNECT, "sid": sid, "close": close})
        }
        Request::Fetch { target } => {
            json!({"type": kind::REMOTE_FETCH, "opts": opts_json(target)})
        }
        Request::ServerSideEmit { event, args } => {
            let data: Vec<Value> = std::iter::once(json!(event))
                .chain(args.iter().cloned())
                .collect();
            json!({"type": kind::SERVER_SIDE_EMIT, "data": data})
        }
        // Sent as MessagePack by Node; this server does not send it.
        Request::BroadcastWithAck { .. } => json!({"type": kind::BROADCAST}),
    };
    if let (Value::Object(message), Value::Object(fields)) = (&mut message, fields) {
        message.extend(fields);
    }
    message.to_string()
}

/// The bytes of a response this server sends: JSON, but a broadcast's
/// acknowledgement in MessagePack (it may carry binary data), as Node does.
pub fn encode_response(response: &Response) -> Vec<u8> {
    let id = &response.request_id;
    let value = match &response.answer {
        Answer::Sockets(sockets) => json!({"requestId": id, "sockets": sockets}),
        Answer::Rooms(rooms) => json!({"requestId": id, "rooms": rooms}),
        Answer::ServerSideEmit(data) => {
            json!({"type": kind::SERVER_SIDE_EMIT, "requestId": id, "data": data})
        }
        Answer::ClientCount(count) => {
            json!({"type": kind::BROADCAST_CLIENT_COUNT, "requestId": id, "clientCount": count})
        }
        Answer::BroadcastAck(packet) => {
            let message = Mp::Map(vec![
                (Mp::from("type"), Mp::from(kind::BROADCAST_ACK)),
                (Mp::from("requestId"), Mp::from(id.as_str())),
                (
                    Mp::from("packet"),
                    packet
                        .args()
                        .first()
                        .map_or(Mp::Nil, |v| to_msgpack(v, packet, 0)),
                ),
            ]);
            let mut out = Vec::new();
            let _ = rmpv::encode::write_value(&mut out, &message);
            return out;
        }
        Answer::Done => json!({"requestId": id}),
    };
    value.to_string().into_bytes()
}

/// Reads one MessagePack value, all of `bytes`, as JSON: `bin` becomes an
/// attachment and its placeholder, a timestamp its ISO text (as Node's JSON
/// would give a Date), `nil` null.
pub(crate) fn msgpack(bytes: &[u8], attachments: &mut Vec<Bytes>) -> Result<Value, WireError> {
    let mut reader = bytes;
    let value = rmpv::decode::read_value_with_max_depth(&mut reader, MAX_DEPTH + 1).map_err(
        |e| match e {
            rmpv::decode::Error::DepthLimitExceeded => WireError::TooDeep,
            _ => WireError::Syntax,
        },
    )?;
    if !reader.is_empty() {
        return Err(WireError::Syntax);
    }
    let value = to_json(value, attachments)?;
    // As deep as the same message in JSON may be.
    match depth(&value) > MAX_DEPTH {
        true => Err(WireError::TooDeep),
        false => Ok(value),
    }
}

fn to_json(value: Mp, attachments: &mut Vec<Bytes>) -> Result<Value, WireError> {
    Ok(match value {
        Mp::Nil => Value::Null,
        Mp::Boolean(b) => Value::Bool(b),
        Mp::Integer(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Value::from(u),
            (_, Some(i)) => Value::from(i),
            _ => return Err(WireError::Shape("integer")),
        },
        Mp::F32(f) => Number::from_f64(f64::from(f)).map_or(Value::Null, Value::Number),
        Mp::F64(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
        Mp::String(s) => Value::String(s.into_str().ok_or(WireError::Shape("string"))?),
        Mp::Binary(data) => {
            attachments.push(Bytes::from(data));
            json!({"_placeholder": true, "num": attachments.len() - 1})
        }
        Mp::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| to_json(v, attachments))
                .collect::<Result<_, _>>()?,
        ),
        Mp::Map(entries) => {
            let mut map = Map::with_capacity(entries.len());
            for (key, value) in entries {
                let Mp::String(key) = key else {
                    return Err(WireError::Shape("map key"));
                };
                let key = key.into_str().ok_or(WireError::Shape("map key"))?;
                map.insert(key, to_json(value, attachments)?);
            }
            Value::Object(map)
        }
        Mp::Ext(-1, data) => Value::String(crate::clock::iso(timestamp(&data)?)),
        Mp::Ext(kind, _) => return Err(WireError::Extension(kind)),
    })
}

/// A MessagePack timestamp (extension -1), in milliseconds.
fn timestamp(data: &[u8]) -> Result<i64, WireError> {
    let bad = WireError::Shape("timestamp");
    let (secs, nanos): (i64, u32) = match data.len() {
        4 => (
            u32::from_be_bytes(data.try_into().map_err(|_| bad.clone())?).into(),
            0,
        ),
        8 => {
            let v = u64::from_be_bytes(data.try_into().map_err(|_| bad.clone())?);
            ((v & 0x3_ffff_ffff) as i64, (v >> 34) as u32)
        }
        12 => {
            let nanos = u32::from_be_bytes(data[..4].try_into().map_err(|_| bad.clone())?);
            let secs = i64::from_be_bytes(data[4..].try_into().map_err(|_| bad.clone())?);
            (secs, nanos)
        }
        _ => return Err(bad),
    };
    secs.checked_mul(1000)
        .and_then(|ms| ms.checked_add(i64::from(nanos / 1_000_000)))
        .ok_or(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    /// What @socket.io/redis-adapter 8.3 publishes for
    /// `io.of("/chat").to("r1").to(7).except("sidx").volatile.emit("news", {n: 1.5, s: "é"}, Buffer.from([1, 2, 3]), null, [true])`
    /// (notepack.io's encoding, as the adapter calls it).
    const NODE_BROADCAST: &str = "93a641623364456683a47479706502a46461746195a46e65777382a16ecb3ff8000000000000a173a2c3a9c403010203c091c3a36e7370a52f6368617483a5726f6f6d7392a2723107a665786365707491a473696478a5666c61677381a8766f6c6174696c65c3";

    #[test]
    fn a_broadcast_from_node_decodes() {
        let message = decode_broadcast(&hex(NODE_BROADCAST)).unwrap();
        assert_eq!(message.uid, "Ab3dEf");
        assert_eq!(message.nsp, "/chat");
        assert_eq!(message.event, "news");
        assert_eq!(message.target.rooms, vec!["r1", "7"]);
        assert_eq!(message.target.except, vec!["sidx"]);
        let args = message.payload.args();
        assert_eq!(args[0], json!({"n": 1.5, "s": "é"}));
        assert_eq!(
            message.payload.binary(&args[1]).map(|b| b.to_vec()),
            Some(vec![1, 2, 3])
        );
        assert_eq!(&args[2..], &[Value::Null, json!([true])]);
    }

    #[test]
    fn what_we_encode_decodes_to_the_same() {
        let mut payload = Payload::new().with(json!({"a": [1, -2, 0.5, "x"]}));
        let file = payload.push_binary(Bytes::from_static(b"\x00\xff"));
        let payload = payload.with(json!({"file": file}));
        let target = Target {
            rooms: vec!["room".into()],
            except: vec!["s1".into()],
        };
        let bytes = encode_broadcast("me", "/", "ev", &payload, &target);
        let back = decode_broadcast(&bytes).unwrap();
        assert_eq!(
            (back.uid.as_str(), back.nsp.as_str(), back.event.as_str()),
            ("me", "/", "ev")
        );
        assert_eq!(
            (back.target.rooms, back.target.except),
            (target.rooms, target.except)
        );
        assert_eq!(back.payload, payload);
        assert_eq!(
            broadcast_channel("socket.io", "/", &Target::default()),
            "socket.io#/#"
        );
        let one = Target {
            rooms: vec!["r".into()],
            except: Vec::new(),
        };
        assert_eq!(broadcast_channel("k", "/chat", &one), "k#/chat#r#");
    }

    #[test]
    fn requests_from_node_decode() {
        let fetch = br#"{"uid":"u1","requestId":"q","type":5,"opts":{"rooms":["a"],"except":[]}}"#;
        let incoming = decode_request(fetch).unwrap();
        assert_eq!(
            (incoming.uid.as_deref(), incoming.request_id.as_deref()),
            (Some("u1"), Some("q"))
        );
        assert!(matches!(incoming.request, Request::Fetch { ref target } if target.rooms == ["a"]));
        let join = br#"{"uid":"u1","type":2,"opts":{"rooms":[],"except":["x"]},"rooms":["r"]}"#;
        assert_eq!(
            decode_request(join).unwrap().request,
            Request::Rooms {
                target: Target {
                    rooms: vec![],
                    except: vec!["x".into()]
                },
                rooms: vec!["r".into()],
                join: true
            }
        );
        let emit = br#"{"uid":"u1","requestId":"z","type":6,"data":["ping",1,{"a":2}]}"#;
        assert_eq!(
            decode_request(emit).unwrap().request,
            Request::ServerSideEmit {
                event: "ping".into(),
                args: vec![json!(1), json!({"a": 2})]
            }
        );
        // `io.timeout(1500).emit("ask", Buffer.from([9]), cb)` on a Node server.
        let with_ack = hex("85a3756964a6416233644566a9726571756573744964a27131a47479706507a67061636b657483a47479706502a46461746192a361736bc40109a36e7370a12fa46f70747383a5726f6f6d7390a665786365707490a5666c61677381a774696d656f7574cd05dc");
        match decode_request(&with_ack).unwrap().request {
            Request::BroadcastWithAck {
                event,
                payload,
                timeout,
                ..
            } => {
                assert_eq!(
                    (event.as_str(), timeout),
                    ("ask", Duration::from_millis(1500))
                );
                assert_eq!(
                    payload.binary(&payload.args()[0]).map(|b| b.to_vec()),
                    Some(vec![9])
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn requests_we_send_read_back() {
        let target = Target {
            rooms: vec!["r".into()],
            except: vec![],
        };
        for request in [
            Request::Fetch {
                target: target.clone(),
            },
            Request::Disconnect {
                target: target.clone(),
                close: true,
            },
            Request::Rooms {
                target: target.clone(),
                rooms: vec!["a".into(), "b".into()],
                join: false,
            },
            Request::ServerSideEmit {
                event: "e".into(),
                args: vec![json!([1])],
            },
        ] {
            let text = encode_request("me", Some("id1"), &request);
            let back = decode_request(text.as_bytes()).unwrap();
            assert_eq!(back.request, request, "{text}");
            assert_eq!(back.uid.as_deref(), Some("me"));
        }
    }

    #[test]
    fn responses_read_back_and_node_acks_decode() {
        for answer in [
            Answer::Sockets(vec![json!({"id": "s"})]),
            Answer::ServerSideEmit(json!("pong")),
            Answer::ClientCount(3),
            Answer::Done,
        ] {
            let response = Response {
                request_id: "q".into(),
                answer,
            };
            assert_eq!(
                decode_response(&encode_response(&response)).unwrap(),
                response
            );
        }
        let node_ack = hex("83a47479706509a9726571756573744964a27131a67061636b6574c40107");
        match decode_response(&node_ack).unwrap().answer {
            Answer::BroadcastAck(payload) => {
                let value = &payload.args()[0];
                assert_eq!(payload.binary(value).map(|b| b.to_vec()), Some(vec![7]));
                let again = encode_response(&Response {
                    request_id: "q1".into(),
                    answer: Answer::BroadcastAck(payload),
                });
                assert_eq!(again, node_ack);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn malformed_messages_are_errors() {
        assert_eq!(decode_broadcast(b""), Err(WireError::Syntax));
        assert_eq!(decode_broadcast(&[0x93, 0xa1]), Err(WireError::Syntax));
        assert_eq!(
            decode_request(b"{\"type\":99}"),
            Err(WireError::Shape("type"))
        );
        assert_eq!(decode_request(b"{nope"), Err(WireError::Syntax));
        assert_eq!(
            decode_response(b"{\"sockets\":[]}"),
            Err(WireError::Shape("requestId"))
        );
        // [ "u", {type: 2, data: ["e", ext 5]}, {} ]
        let ext = [
            0x93, 0xa1, b'u', 0x82, 0xa4, b't', b'y', b'p', b'e', 0x02, 0xa4, b'd', b'a', b't',
            b'a', 0x92, 0xa1, b'e', 0xd4, 0x05, 0x00, 0x80,
        ];
        assert_eq!(decode_broadcast(&ext), Err(WireError::Extension(5)));
        let deep = [vec![0x91; 200], vec![0xc0]].concat();
        assert_eq!(decode_broadcast(&deep), Err(WireError::TooDeep));
        let deep_json = format!(
            "{}{}",
            "{\"a\":".repeat(100),
            "1".to_owned() + &"}".repeat(100)
        );
        assert_eq!(
            decode_request(deep_json.as_bytes()),
            Err(WireError::TooDeep)
        );
        // A Date argument reads as Node's JSON would give it.
        let date = hex("91d7ff1d5353006553f100");
        assert_eq!(
            msgpack(&date, &mut Vec::new()),
            Ok(json!([crate::clock::iso(1_700_000_000_123)]))
        );
    }
}
