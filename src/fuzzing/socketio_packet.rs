//! Fuzz target: the Socket.IO packet decoder and the attachments that follow a binary
//! packet.

use async_tungstenite::tungstenite::Bytes;
use serde_json::Value;

use crate::engineio::Frame;
use crate::socketio::packet::{decode, encode, placeholder_index, PacketKind, MAX_ATTACHMENTS};
use crate::socketio::Payload;

/// The input is a text packet, then its binary attachments, each after a 0xFF byte
/// (which UTF-8 never contains). Properties: a decoded packet is within the limits
/// (attachments, namespace, 53-bit ack id), encodes back to text that decodes to the
/// same packet; with all its attachments, every placeholder in its arguments finds its
/// data, and the arguments re-encoded as the server sends them decode the same.
pub fn socketio_packet(data: &[u8]) {
    let mut parts = data.split(|&b| b == 0xff);
    let Some(Ok(text)) = parts.next().map(std::str::from_utf8) else {
        return;
    };
    let attachments: Vec<Bytes> = parts.map(Bytes::copy_from_slice).collect();
    let Ok(packet) = decode(text) else {
        return;
    };
    assert!(packet.attachments <= MAX_ATTACHMENTS);
    assert!(packet.namespace.starts_with('/') && !packet.namespace.contains(','));
    assert!(packet.namespace.len() <= 256);
    assert!(packet.id.is_none_or(|id| id <= 1 << 53));

    let json = packet
        .data
        .as_ref()
        .map(Value::to_string)
        .unwrap_or_default();
    let again = encode(
        packet.kind,
        &packet.namespace,
        packet.id,
        packet.attachments,
        &json,
    );
    assert_eq!(decode(&again).as_ref(), Ok(&packet), "{again}");

    // What the client does once the last attachment arrived.
    let binary = matches!(packet.kind, PacketKind::BinaryEvent | PacketKind::BinaryAck);
    let Some(Value::Array(mut args)) = packet.data.clone() else {
        return;
    };
    if !binary || attachments.len() != packet.attachments {
        return;
    }
    let event = match packet.kind {
        PacketKind::BinaryEvent => match args.remove(0) {
            Value::String(name) => Some(name),
            _ => return,
        },
        _ => None,
    };
    let payload = Payload::from_parts(args, attachments);
    for arg in payload.args() {
        each_placeholder(arg, &mut |value| {
            // A property the fuzzer checks: failing it is the finding.
            let index = placeholder_index(value).expect("decoded"); // ok: a property
            assert_eq!(payload.binary(value), payload.attachments().get(index));
            assert!(payload.binary(value).is_some());
        });
    }
    let frames = payload.encode(&packet.namespace, event.as_deref(), packet.id, None);
    assert_eq!(frames.len(), 1 + packet.attachments);
    let Some(Frame::Text(first)) = frames.first() else {
        panic!("the packet comes first, as text");
    };
    // A property the fuzzer checks: failing it is the finding.
    let first = first.strip_prefix('4').expect("a message"); // ok: a property
    let mut expected = packet;
    if expected.attachments == 0 {
        // Without attachments the server sends the plain type.
        expected.kind = match expected.kind {
            PacketKind::BinaryEvent => PacketKind::Event,
            _ => PacketKind::Ack,
        };
    }
    assert_eq!(decode(first), Ok(expected));
}

fn each_placeholder(value: &Value, f: &mut impl FnMut(&Value)) {
    match value {
        Value::Object(obj) if obj.contains_key("_placeholder") => f(value),
        Value::Object(obj) => obj.values().for_each(|v| each_placeholder(v, f)),
        Value::Array(items) => items.iter().for_each(|v| each_placeholder(v, f)),
        _ => {}
    }
}
