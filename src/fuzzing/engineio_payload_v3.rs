//! Fuzz target: the Engine.IO 3 long-polling payload decoders (text and binary).

use super::engineio_payload::frame;
use crate::engineio::payload_v3::{
    decode_binary_payload, decode_text_payload, encode_binary_payload, encode_text_payload,
};
use crate::engineio::Frame;

/// The input is a binary payload and, when it is UTF-8, a text payload.
/// Properties: what either decoder accepts re-encodes, as a text payload and
/// as a binary payload, to bytes that decode to the same packets (the two
/// framings agree); a text payload never holds more packets than it has
/// colons, a binary one than it has 255 bytes.
pub fn engineio_payload_v3(data: &[u8]) {
    if let Ok(packets) = decode_binary_payload(data) {
        assert!(packets.len() <= data.iter().filter(|&&b| b == 255).count());
        check_round_trips(&packets.iter().map(frame).collect::<Vec<Frame>>(), &packets);
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(packets) = decode_text_payload(text) {
        assert!(packets.len() <= text.matches(':').count());
        check_round_trips(&packets.iter().map(frame).collect::<Vec<Frame>>(), &packets);
    }
}

fn check_round_trips(frames: &[Frame], packets: &[crate::engineio::packet::Packet]) {
    let text = encode_text_payload(frames);
    if packets.is_empty() {
        assert_eq!(text, "0:");
        return;
    }
    assert_eq!(
        decode_text_payload(&text).as_deref(),
        Ok(packets),
        "{text:?}"
    );
    let binary = encode_binary_payload(frames);
    assert_eq!(
        decode_binary_payload(&binary).as_deref(),
        Ok(packets),
        "{binary:?}"
    );
}
