//! The Socket.IO 5 packet codec. Pure functions, no I/O.
//!
//! A packet is `<type>[<attachments>-][<namespace>,][<ack id>][<json>]`;
//! binary packets are followed by as many binary messages as they announce,
//! referenced from the JSON by `{"_placeholder":true,"num":N}`.

use std::borrow::Cow;
use std::fmt;

use serde_json::Value;

/// The most attachments one packet may announce.
pub const MAX_ATTACHMENTS: usize = 256;

/// The longest namespace name accepted.
const MAX_NAMESPACE_LEN: usize = 256;

/// Packet types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketKind {
    /// `0`: join a namespace (client) or accept the join (server).
    Connect,
    /// `1`: leave a namespace.
    Disconnect,
    /// `2`: an event.
    Event,
    /// `3`: the acknowledgement of an event.
    Ack,
    /// `4`: a refused join.
    ConnectError,
    /// `5`: an event with binary attachments.
    BinaryEvent,
    /// `6`: an acknowledgement with binary attachments.
    BinaryAck,
}

impl PacketKind {
    fn from_digit(c: u8) -> Option<PacketKind> {
        Some(match c {
            b'0' => PacketKind::Connect,
            b'1' => PacketKind::Disconnect,
            b'2' => PacketKind::Event,
            b'3' => PacketKind::Ack,
            b'4' => PacketKind::ConnectError,
            b'5' => PacketKind::BinaryEvent,
            b'6' => PacketKind::BinaryAck,
            _ => return None,
        })
    }

    fn digit(self) -> char {
        match self {
            PacketKind::Connect => '0',
            PacketKind::Disconnect => '1',
            PacketKind::Event => '2',
            PacketKind::Ack => '3',
            PacketKind::ConnectError => '4',
            PacketKind::BinaryEvent => '5',
            PacketKind::BinaryAck => '6',
        }
    }

    fn is_binary(self) -> bool {
        matches!(self, PacketKind::BinaryEvent | PacketKind::BinaryAck)
    }
}

/// A decoded packet header and its JSON data; binary attachments, if any,
/// arrive separately.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    /// The packet type.
    pub kind: PacketKind,
    /// The namespace (`/` when the packet names none, which takes no
    /// allocation: nearly every packet is for `/`).
    pub namespace: Cow<'static, str>,
    /// The ack id, when an acknowledgement is asked for or answered.
    pub id: Option<u64>,
    /// The JSON data after the header.
    pub data: Option<Value>,
    /// How many binary attachments follow.
    pub attachments: usize,
}

/// Why a packet could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The packet has no bytes.
    Empty,
    /// The first byte is not a packet type digit.
    UnknownType(u8),
    /// The attachment count is missing, malformed or over [`MAX_ATTACHMENTS`].
    BadAttachmentCount,
    /// The namespace has no closing comma or is too long.
    BadNamespace,
    /// The ack id does not fit in 53 bits (the largest exact JS number).
    BadAckId,
    /// The data is not valid JSON.
    BadJson,
    /// The data does not have the shape this packet type needs.
    BadPayload,
    /// A placeholder refers to an attachment the packet does not carry.
    BadPlaceholder,
    /// A binary message arrived that no packet announced.
    UnexpectedAttachment,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DecodeError::Empty => "empty packet",
            DecodeError::UnknownType(_) => "unknown packet type",
            DecodeError::BadAttachmentCount => "invalid attachment count",
            DecodeError::BadNamespace => "invalid namespace",
            DecodeError::BadAckId => "invalid ack id",
            DecodeError::BadJson => "invalid JSON",
            DecodeError::BadPayload => "invalid payload for the packet type",
            DecodeError::BadPlaceholder => "placeholder refers to a missing attachment",
            DecodeError::UnexpectedAttachment => "unexpected binary attachment",
        })
    }
}

impl std::error::Error for DecodeError {}

/// Event names a client may not send.
const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// Decodes a text packet.
pub fn decode(text: &str) -> Result<Packet, DecodeError> {
    let bytes = text.as_bytes();
    let first = *bytes.first().ok_or(DecodeError::Empty)?;
    let kind = PacketKind::from_digit(first).ok_or(DecodeError::UnknownType(first))?;
    let mut rest = &text[1..];

    let mut attachments = 0;
    if kind.is_binary() {
        let dash = rest.find('-').ok_or(DecodeError::BadAttachmentCount)?;
        let count = &rest[..dash];
        if count.is_empty() || count.len() > 3 || !count.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DecodeError::BadAttachmentCount);
        }
        attachments = count.parse().map_err(|_| DecodeError::BadAttachmentCount)?;
        if attachments > MAX_ATTACHMENTS {
            return Err(DecodeError::BadAttachmentCount);
        }
        rest = &rest[dash + 1..];
    }

    let mut namespace = Cow::Borrowed("/");
    if rest.starts_with('/') {
        let end = rest.find(',').unwrap_or(rest.len());
        if end > MAX_NAMESPACE_LEN {
            return Err(DecodeError::BadNamespace);
        }
        namespace = Cow::Owned(rest[..end].to_owned());
        rest = rest.get(end + 1..).unwrap_or("");
    }

    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let mut id = None;
    if digits > 0 {
        if digits > 16 {
            return Err(DecodeError::BadAckId);
        }
        let n: u64 = rest[..digits].parse().map_err(|_| DecodeError::BadAckId)?;
        if n > (1 << 53) {
            return Err(DecodeError::BadAckId);
        }
        id = Some(n);
        rest = &rest[digits..];
    }

    let data = if rest.is_empty() {
        None
    } else {
        Some(serde_json::from_str::<Value>(rest).map_err(|_| DecodeError::BadJson)?)
    };

    let packet = Packet {
        kind,
        namespace,
        id,
        data,
        attachments,
    };
    check_payload(&packet)?;
    if kind.is_binary() {
        if let Some(data) = &packet.data {
            check_placeholders(data, attachments)?;
        }
    }
    Ok(packet)
}

fn check_payload(packet: &Packet) -> Result<(), DecodeError> {
    let ok = match (&packet.kind, &packet.data) {
        (PacketKind::Connect, None) => true,
        (PacketKind::Connect, Some(data)) => data.is_object(),
        (PacketKind::Disconnect, data) => data.is_none(),
        (PacketKind::ConnectError, Some(data)) => data.is_object() || data.is_string(),
        (PacketKind::Event | PacketKind::BinaryEvent, Some(Value::Array(args))) => {
            match args.first() {
                Some(Value::String(name)) => !RESERVED_EVENTS.contains(&name.as_str()),
                Some(Value::Number(_)) => true,
                _ => false,
            }
        }
        (PacketKind::Ack | PacketKind::BinaryAck, Some(Value::Array(_))) => true,
        _ => false,
    };
    let id_ok = packet.id.is_none()
        || matches!(
            packet.kind,
            PacketKind::Event | PacketKind::BinaryEvent | PacketKind::Ack | PacketKind::BinaryAck
        );
    let ack_has_id =
        packet.id.is_some() || !matches!(packet.kind, PacketKind::Ack | PacketKind::BinaryAck);
    if ok && id_ok && ack_has_id {
        Ok(())
    } else {
        Err(DecodeError::BadPayload)
    }
}

/// The attachment index a JSON value refers to, when it is a placeholder.
pub fn placeholder_index(value: &Value) -> Option<usize> {
    let obj = value.as_object()?;
    if obj.len() == 2 && obj.get("_placeholder")? == &Value::Bool(true) {
        obj.get("num")?.as_u64().map(|n| n as usize)
    } else {
        None
    }
}

fn check_placeholders(value: &Value, attachments: usize) -> Result<(), DecodeError> {
    match value {
        Value::Object(obj) => {
            if obj.contains_key("_placeholder") {
                match placeholder_index(value) {
                    Some(n) if n < attachments => return Ok(()),
                    _ => return Err(DecodeError::BadPlaceholder),
                }
            }
            obj.values()
                .try_for_each(|v| check_placeholders(v, attachments))
        }
        Value::Array(items) => items
            .iter()
            .try_for_each(|v| check_placeholders(v, attachments)),
        _ => Ok(()),
    }
}

/// Whether `text` nests arrays and objects deeper than `max`. It counts
/// brackets outside JSON strings, without parsing, so a packet can be refused
/// before the parser builds anything; the header before the JSON (a
/// namespace) is scanned too, which can only make it stricter.
pub fn nests_deeper_than(text: &str, max: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for b in text.bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Encodes a packet header followed by its JSON text (already serialized).
pub fn encode(
    kind: PacketKind,
    namespace: &str,
    id: Option<u64>,
    attachments: usize,
    json: &str,
) -> String {
    let mut out = String::with_capacity(json.len() + namespace.len() + 24);
    write_header(&mut out, kind, namespace, id, attachments);
    out.push_str(json);
    out
}

/// Appends `s` as a JSON string: as it is when it needs no escaping (the
/// ids sessio makes are URL-safe base64), through serde_json otherwise.
pub(crate) fn push_json_str(out: &mut String, s: &str) {
    if s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&Value::from(s).to_string());
    }
}

/// Writes what comes before a packet's JSON: its type (binary when it has
/// attachments), their count, its namespace unless `/`, its ack id.
pub(crate) fn write_header(
    out: &mut String,
    kind: PacketKind,
    namespace: &str,
    id: Option<u64>,
    attachments: usize,
) {
    let kind = match (kind, attachments > 0) {
        (PacketKind::Event, true) => PacketKind::BinaryEvent,
        (PacketKind::Ack, true) => PacketKind::BinaryAck,
        (kind, _) => kind,
    };
    out.push(kind.digit());
    if kind.is_binary() {
        crate::decimal::push(out, attachments as u64);
        out.push('-');
    }
    if namespace != "/" {
        out.push_str(namespace);
        out.push(',');
    }
    if let Some(id) = id {
        crate::decimal::push(out, id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_written_as_serde_json_writes_them() {
        for s in ["aZ09-_", "", "a\"b", "x\\y", "é\n", "</script>"] {
            let mut out = String::new();
            push_json_str(&mut out, s);
            assert_eq!(out, Value::from(s).to_string());
        }
    }

    use serde_json::json;

    fn packet(
        kind: PacketKind,
        ns: &str,
        id: Option<u64>,
        data: Option<Value>,
        n: usize,
    ) -> Packet {
        Packet {
            kind,
            namespace: ns.to_owned().into(),
            id,
            data,
            attachments: n,
        }
    }

    #[test]
    fn decodes_every_type() {
        assert_eq!(
            decode("0"),
            Ok(packet(PacketKind::Connect, "/", None, None, 0))
        );
        assert_eq!(
            decode(r#"0/admin,{"token":"x"}"#),
            Ok(packet(
                PacketKind::Connect,
                "/admin",
                None,
                Some(json!({"token":"x"})),
                0
            ))
        );
        assert_eq!(
            decode("1/admin,"),
            Ok(packet(PacketKind::Disconnect, "/admin", None, None, 0))
        );
        assert_eq!(
            decode(r#"212["echo",1]"#),
            Ok(packet(
                PacketKind::Event,
                "/",
                Some(12),
                Some(json!(["echo", 1])),
                0
            ))
        );
        assert_eq!(
            decode(r#"3/x,7[{"a":1}]"#),
            Ok(packet(
                PacketKind::Ack,
                "/x",
                Some(7),
                Some(json!([{"a":1}])),
                0
            ))
        );
        assert_eq!(
            decode(r#"4{"message":"no"}"#),
            Ok(packet(
                PacketKind::ConnectError,
                "/",
                None,
                Some(json!({"message":"no"})),
                0
            ))
        );
        assert_eq!(
            decode(r#"52-["up",{"_placeholder":true,"num":0},[{"_placeholder":true,"num":1}]]"#)
                .map(|p| (p.kind, p.attachments)),
            Ok((PacketKind::BinaryEvent, 2))
        );
        assert_eq!(
            decode(r#"61-/ns,3[{"_placeholder":true,"num":0}]"#).map(|p| (p.kind, p.id)),
            Ok((PacketKind::BinaryAck, Some(3)))
        );
    }

    #[test]
    fn round_trips_through_encode() {
        let cases = [
            (PacketKind::Event, "/", Some(5), 0, r#"["a",{"b":[1,2]}]"#),
            (
                PacketKind::Event,
                "/chat",
                None,
                2,
                r#"["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
            ),
            (
                PacketKind::Ack,
                "/chat",
                Some(9),
                1,
                r#"[{"_placeholder":true,"num":0}]"#,
            ),
            (PacketKind::Connect, "/", None, 0, r#"{"sid":"abc"}"#),
            (
                PacketKind::ConnectError,
                "/x",
                None,
                0,
                r#"{"message":"Invalid namespace"}"#,
            ),
            (PacketKind::Disconnect, "/x", None, 0, ""),
        ];
        for (kind, ns, id, n, json) in cases {
            let text = encode(kind, ns, id, n, json);
            let decoded = decode(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(decoded.namespace, ns);
            assert_eq!(decoded.id, id);
            assert_eq!(decoded.attachments, n);
            let expected: Option<Value> =
                (!json.is_empty()).then(|| serde_json::from_str(json).unwrap());
            assert_eq!(decoded.data, expected, "{text}");
        }
        assert_eq!(encode(PacketKind::Event, "/", None, 1, "[]"), "51-[]");
    }

    #[test]
    fn rejects_bad_input() {
        let cases: &[(&str, DecodeError)] = &[
            ("", DecodeError::Empty),
            ("9", DecodeError::UnknownType(b'9')),
            ("é", DecodeError::UnknownType(0xc3)),
            ("5[\"a\"]", DecodeError::BadAttachmentCount),
            ("5x-[\"a\"]", DecodeError::BadAttachmentCount),
            ("599999999999-[\"a\"]", DecodeError::BadAttachmentCount),
            ("5257-[\"a\"]", DecodeError::BadAttachmentCount),
            ("2[\"a\"", DecodeError::BadJson),
            ("2{\"a\":1}", DecodeError::BadPayload),
            ("2[]", DecodeError::BadPayload),
            ("2[\"disconnect\"]", DecodeError::BadPayload),
            ("2[null]", DecodeError::BadPayload),
            ("3[1]", DecodeError::BadPayload),
            ("3/a,5", DecodeError::BadPayload),
            ("1{}", DecodeError::BadPayload),
            ("0\"x\"", DecodeError::BadPayload),
            ("099[]", DecodeError::BadPayload),
            ("299999999999999999999[\"a\"]", DecodeError::BadAckId),
            ("29007199254740993[\"a\"]", DecodeError::BadAckId),
            (
                "51-[\"a\",{\"_placeholder\":true,\"num\":1}]",
                DecodeError::BadPlaceholder,
            ),
            (
                "51-[\"a\",{\"_placeholder\":true,\"num\":-1}]",
                DecodeError::BadPlaceholder,
            ),
            (
                "51-[\"a\",{\"_placeholder\":true}]",
                DecodeError::BadPlaceholder,
            ),
        ];
        for (text, err) in cases {
            assert_eq!(decode(text).as_ref().err(), Some(err), "{text:?}");
        }
        let long_ns = format!("0/{}", "a".repeat(300));
        assert_eq!(decode(&long_ns), Err(DecodeError::BadNamespace));
    }

    /// The packets of the official Socket.IO suite (socketio/socket.io-protocol).
    #[test]
    fn decodes_the_official_suites_packets() {
        let connect = |text| decode(text).map(|p| (p.kind, p.namespace, p.data));
        // A namespace needs no comma when nothing follows it.
        assert_eq!(
            connect("0/random"),
            Ok((PacketKind::Connect, "/random".into(), None))
        );
        assert_eq!(
            connect("0/custom,"),
            Ok((PacketKind::Connect, "/custom".into(), None))
        );
        // The auth keeps its keys in the order they came.
        let auth = decode(r#"0/custom,{"token":"abc","b":1,"a":2}"#)
            .unwrap()
            .data;
        assert_eq!(auth.unwrap().to_string(), r#"{"token":"abc","b":1,"a":2}"#);
        let event = decode(r#"2456["message-with-ack",1,"2",{"3":[false]}]"#).unwrap();
        assert_eq!((event.kind, event.id), (PacketKind::Event, Some(456)));
        assert_eq!(
            event.data.unwrap().to_string(),
            r#"["message-with-ack",1,"2",{"3":[false]}]"#
        );
        // Each of these ends the session there.
        assert_eq!(decode("abc"), Err(DecodeError::UnknownType(b'a')));
        assert_eq!(decode("2{}"), Err(DecodeError::BadPayload));
        assert_eq!(
            decode(r#"2abc["message-with-ack",1,"2",{"3":[false]}]"#),
            Err(DecodeError::BadJson)
        );
    }

    #[test]
    fn nesting_is_counted_outside_strings() {
        assert!(!nests_deeper_than(r#"2["echo",1]"#, 1));
        assert!(nests_deeper_than(r#"2["echo",[1]]"#, 1));
        assert!(!nests_deeper_than(r#"2["echo",[1],{"a":2}]"#, 2));
        assert!(nests_deeper_than(r#"2["echo",[{"a":2}]]"#, 2));
        // Brackets and escaped quotes inside strings do not count.
        assert!(!nests_deeper_than(r#"2["[[[[{{{{",  "\"[[[["]"#, 1));
        assert!(nests_deeper_than(r#"2["\\",[[1]]]"#, 2));
        let deep = format!("2{}{}", "[".repeat(33), "]".repeat(33));
        assert!(nests_deeper_than(&deep, 32));
        assert!(!nests_deeper_than(&deep, 33));
        // Unbalanced input is not an error here; the parser refuses it.
        assert!(!nests_deeper_than(
            "2]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]][1]",
            1
        ));
    }

    #[test]
    fn decoding_never_panics_on_prefixes() {
        let text =
            r#"52-/chat,123["ev",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#;
        for end in 0..=text.len() {
            let _ = decode(&text[..end]);
        }
    }
}
