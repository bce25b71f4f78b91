//! Fuzz target: the Engine.IO packet and long-polling payload decoders.

use crate::engineio::packet::{
    decode_payload, decode_text, encode_payload, Message, Packet, RECORD_SEPARATOR,
};
use crate::engineio::Frame;

/// The input is a polling payload (and, whole, a single text packet). Properties: a
/// decoded packet or payload encodes back to text that decodes to the same packets,
/// and to exactly the input when no packet dropped data its type ignores (base64 is
/// canonical); a payload never holds more packets than it has entries.
pub fn engineio_payload(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(packet) = decode_text(text) {
        let Frame::Text(again) = frame(&packet) else {
            unreachable!("a text packet is a text frame unless it is binary")
        };
        assert_eq!(decode_text(&again), Ok(packet.clone()));
        if keeps_data(&packet) || text.len() == 1 {
            assert_eq!(&*again, text);
        }
    }
    let Ok(packets) = decode_payload(text) else {
        return;
    };
    let entries: Vec<&str> = text.split(RECORD_SEPARATOR).collect();
    assert_eq!(packets.len(), entries.len());
    let frames: Vec<Frame> = packets.iter().map(frame).collect();
    let again = encode_payload(&frames);
    assert_eq!(decode_payload(&again).as_ref(), Ok(&packets), "{again:?}");
    let exact = packets
        .iter()
        .zip(&entries)
        .all(|(p, e)| keeps_data(p) || e.len() == 1);
    if exact {
        assert_eq!(again, text);
    }
}

/// The frame a server would write for this packet.
pub(super) fn frame(packet: &Packet) -> Frame {
    let text = |digit: char, data: &str| Frame::Text(format!("{digit}{data}").into());
    match packet {
        Packet::Open(data) => text('0', data),
        Packet::Close => text('1', ""),
        Packet::Ping(data) => text('2', data),
        Packet::Pong(data) => text('3', data),
        Packet::Message(Message::Text(data)) => Frame::message(data),
        Packet::Message(Message::Binary(data)) => Frame::binary(data.clone()),
        Packet::Upgrade => text('5', ""),
        Packet::Noop => text('6', ""),
    }
}

/// Whether the packet keeps everything after its type digit.
fn keeps_data(packet: &Packet) -> bool {
    !matches!(packet, Packet::Close | Packet::Upgrade | Packet::Noop)
}
