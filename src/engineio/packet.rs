//! The Engine.IO 4 packet codec: single packets, WebSocket frames and
//! long-polling payloads. Pure functions, no I/O.
//!
//! A text packet is its type digit followed by its data (`4hello`). A binary
//! message travels as a binary WebSocket frame, or inside a polling payload as
//! `b` followed by its base64 form. A polling payload joins packets with the
//! record separator `\x1e`.

use std::fmt;

use async_tungstenite::tungstenite::{Bytes, Utf8Bytes};
use base64::Engine as _;

/// The separator between packets in a long-polling payload.
pub const RECORD_SEPARATOR: char = '\x1e';

/// One Engine.IO packet as received from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// `0`: never sent by clients; accepted by the decoder for completeness.
    Open(String),
    /// `1`: the client closes the session.
    Close,
    /// `2`: a ping; clients send `2probe` while upgrading.
    Ping(String),
    /// `3`: a pong answering the server's ping.
    Pong(String),
    /// `4`: application data.
    Message(Message),
    /// `5`: the client completes the upgrade to WebSocket.
    Upgrade,
    /// `6`: no operation.
    Noop,
}

/// Application data carried by a message packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Bytes),
}

/// An encoded packet ready to be written, shared cheaply between recipients:
/// cloning a frame copies a pointer, not the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text packet, type digit included.
    Text(Utf8Bytes),
    /// A binary message (the data only; the type is implied).
    Binary(Bytes),
}

impl Frame {
    /// The CLOSE packet (`1`).
    pub fn close() -> Frame {
        Frame::Text(Utf8Bytes::from_static("1"))
    }
    /// A PING (`2`).
    pub fn ping() -> Frame {
        Frame::Text(Utf8Bytes::from_static("2"))
    }
    /// A PONG (`3`).
    pub fn pong() -> Frame {
        Frame::Text(Utf8Bytes::from_static("3"))
    }
    /// The PONG that answers an upgrade's probe (`3probe`).
    pub fn pong_probe() -> Frame {
        Frame::Text(Utf8Bytes::from_static("3probe"))
    }
    /// The NOOP packet (`6`), which ends a pending poll during an upgrade.
    pub fn noop() -> Frame {
        Frame::Text(Utf8Bytes::from_static("6"))
    }
    /// A text message: `text` must not start with the type digit; it is added.
    pub fn message(text: &str) -> Frame {
        let mut s = String::with_capacity(text.len() + 1);
        s.push('4');
        s.push_str(text);
        Frame::Text(s.into())
    }
    /// A text message from a packet written with its type digit (`4`)
    /// first: the layer above builds it in place, saving a copy.
    pub fn message_packet(text: String) -> Frame {
        debug_assert!(text.starts_with('4'), "a message packet starts with 4");
        Frame::Text(text.into())
    }
    /// A binary message: `data` as it is.
    pub fn binary(data: Bytes) -> Frame {
        Frame::Binary(data)
    }

    /// Bytes this frame adds to a polling payload (an estimate for limits).
    pub fn len(&self) -> usize {
        match self {
            Frame::Text(t) => t.len(),
            Frame::Binary(b) => 1 + b.len().div_ceil(3) * 4,
        }
    }

    /// Always false: every frame holds at least its packet type.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// Why a packet or payload could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The packet has no type digit.
    Empty,
    /// The first character is not a known packet type.
    UnknownType(char),
    /// A `b`-prefixed payload entry is not valid base64.
    BadBase64,
    /// An Engine.IO 3 payload's length prefix is missing, malformed, or
    /// longer than what follows.
    BadLength,
    /// A text packet in an Engine.IO 3 binary payload is not UTF-8.
    BadUtf8,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Empty => write!(f, "empty packet"),
            DecodeError::UnknownType(c) => write!(f, "unknown packet type {c:?}"),
            DecodeError::BadBase64 => write!(f, "invalid base64 in binary packet"),
            DecodeError::BadLength => write!(f, "invalid length prefix in payload"),
            DecodeError::BadUtf8 => write!(f, "text packet is not UTF-8"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decodes a text packet: its type digit and its data.
pub fn decode_text(text: &str) -> Result<Packet, DecodeError> {
    let mut chars = text.chars();
    let kind = chars.next().ok_or(DecodeError::Empty)?;
    let data = chars.as_str();
    Ok(match kind {
        '0' => Packet::Open(data.to_owned()),
        '1' => Packet::Close,
        '2' => Packet::Ping(data.to_owned()),
        '3' => Packet::Pong(data.to_owned()),
        '4' => Packet::Message(Message::Text(data.to_owned())),
        '5' => Packet::Upgrade,
        '6' => Packet::Noop,
        other => return Err(DecodeError::UnknownType(other)),
    })
}

/// Decodes a text WebSocket frame or one long-polling payload entry: a text
/// packet, or `b` and the base64 of a binary message (what a client sends
/// when it may not send binary: over polling, or with `forceBase64`).
pub fn decode_text_frame(text: &str) -> Result<Packet, DecodeError> {
    match text.strip_prefix('b') {
        Some(b64) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map(|data| Packet::Message(Message::Binary(data.into())))
            .map_err(|_| DecodeError::BadBase64),
        None => decode_text(text),
    }
}

/// Decodes a long-polling payload into its packets.
pub fn decode_payload(payload: &str) -> Result<Vec<Packet>, DecodeError> {
    payload
        .split(RECORD_SEPARATOR)
        .map(decode_text_frame)
        .collect()
}

/// Encodes frames as one long-polling payload.
pub fn encode_payload<'a>(frames: impl IntoIterator<Item = &'a Frame>) -> String {
    let mut out = String::new();
    for (i, frame) in frames.into_iter().enumerate() {
        if i > 0 {
            out.push(RECORD_SEPARATOR);
        }
        match frame {
            Frame::Text(text) => out.push_str(text),
            Frame::Binary(data) => {
                out.push('b');
                base64::engine::general_purpose::STANDARD.encode_string(data, &mut out);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_text_type() {
        assert_eq!(decode_text("0{}"), Ok(Packet::Open("{}".into())));
        assert_eq!(decode_text("1"), Ok(Packet::Close));
        assert_eq!(decode_text("2probe"), Ok(Packet::Ping("probe".into())));
        assert_eq!(decode_text("3"), Ok(Packet::Pong(String::new())));
        assert_eq!(
            decode_text("4héllo"),
            Ok(Packet::Message(Message::Text("héllo".into())))
        );
        assert_eq!(decode_text("5"), Ok(Packet::Upgrade));
        assert_eq!(decode_text("6"), Ok(Packet::Noop));
    }

    #[test]
    fn a_text_frame_may_carry_binary_as_base64() {
        assert_eq!(
            decode_text_frame("bAAECAwQ="),
            Ok(Packet::Message(Message::Binary(vec![0, 1, 2, 3, 4].into())))
        );
        assert_eq!(
            decode_text_frame("4b"),
            Ok(Packet::Message(Message::Text("b".into())))
        );
        assert_eq!(decode_text_frame("b!!!"), Err(DecodeError::BadBase64));
    }

    #[test]
    fn rejects_bad_packets() {
        assert_eq!(decode_text(""), Err(DecodeError::Empty));
        assert_eq!(decode_text("7"), Err(DecodeError::UnknownType('7')));
        assert_eq!(decode_text("é"), Err(DecodeError::UnknownType('é')));
        assert_eq!(decode_payload("4a\x1e"), Err(DecodeError::Empty));
        assert_eq!(decode_payload("b!!!"), Err(DecodeError::BadBase64));
    }

    #[test]
    fn payload_round_trip_with_binary() {
        let frames = [
            Frame::message("hello"),
            Frame::binary(Bytes::from_static(&[1, 2, 3, 255])),
            Frame::ping(),
        ];
        let payload = encode_payload(&frames);
        assert_eq!(payload, "4hello\x1ebAQID/w==\x1e2");
        assert_eq!(
            decode_payload(&payload),
            Ok(vec![
                Packet::Message(Message::Text("hello".into())),
                Packet::Message(Message::Binary(Bytes::from_static(&[1, 2, 3, 255]))),
                Packet::Ping(String::new()),
            ])
        );
    }

    #[test]
    fn frame_length_counts_base64() {
        assert_eq!(Frame::message("ab").len(), 3);
        assert_eq!(Frame::binary(Bytes::from_static(&[0; 4])).len(), 9);
    }
}
