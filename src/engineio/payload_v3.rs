//! The Engine.IO 3 long-polling payload codec (what `socket.io-client` 2.x
//! and microcontroller libraries speak). Pure functions, no I/O.
//!
//! A text payload is each packet prefixed by its length and a colon,
//! `6:4hello2:40`, the length counted in UTF-16 code units as JavaScript
//! counts a string's length; a binary message in it is `b4` and its base64.
//! A binary payload (sent to clients that take binary, and by them) gives
//! each packet a header: `0` for text or `1` for binary, the length's
//! decimal digits as bytes 0 to 9, then `255`; a text packet's length is its
//! UTF-8 bytes, a binary packet's counts its type byte (`4`) too.

use async_tungstenite::tungstenite::Bytes;
use base64::Engine as _;

use super::packet::{decode_text, DecodeError, Frame, Message, Packet};

/// The most length digits accepted in a binary payload header: more than
/// any body a server takes.
const MAX_LENGTH_DIGITS: usize = 10;

/// The type byte before a binary message's data (also on a WebSocket).
pub const BINARY_MESSAGE_TYPE: u8 = 4;

/// Whether frames need a binary payload for a client that takes binary.
pub fn needs_binary(frames: &[Frame]) -> bool {
    frames.iter().any(|f| matches!(f, Frame::Binary(_)))
}

/// Encodes frames as a text payload; binary messages become `b4<base64>`.
pub fn encode_text_payload(frames: &[Frame]) -> String {
    if frames.is_empty() {
        return "0:".to_owned();
    }
    let mut out = String::new();
    for frame in frames {
        match frame {
            Frame::Text(text) => {
                let units = text.encode_utf16().count();
                out.push_str(&units.to_string());
                out.push(':');
                out.push_str(text);
            }
            Frame::Binary(data) => {
                let b64 = base64::engine::general_purpose::STANDARD.encode(data);
                out.push_str(&(b64.len() + 2).to_string());
                out.push_str(":b4");
                out.push_str(&b64);
            }
        }
    }
    out
}

/// Encodes frames as a binary payload.
pub fn encode_binary_payload(frames: &[Frame]) -> Vec<u8> {
    let mut out = Vec::new();
    for frame in frames {
        let (kind, body, prefix): (u8, &[u8], Option<u8>) = match frame {
            Frame::Text(text) => (0, text.as_bytes(), None),
            Frame::Binary(data) => (1, data, Some(BINARY_MESSAGE_TYPE)),
        };
        out.push(kind);
        let len = body.len() + usize::from(prefix.is_some());
        out.extend(len.to_string().bytes().map(|digit| digit - b'0'));
        out.push(255);
        out.extend(prefix);
        out.extend_from_slice(body);
    }
    out
}

/// Decodes a text payload. Entries of length 0 carry no packet and are
/// skipped, as the reference parser does.
pub fn decode_text_payload(payload: &str) -> Result<Vec<Packet>, DecodeError> {
    if payload.is_empty() {
        return Err(DecodeError::Empty);
    }
    let mut packets = Vec::new();
    let mut rest = payload;
    while !rest.is_empty() {
        let colon = rest.find(':').ok_or(DecodeError::BadLength)?;
        let units = parse_length(rest[..colon].bytes())?;
        rest = &rest[colon + 1..];
        let end = utf16_prefix(rest, units).ok_or(DecodeError::BadLength)?;
        let (entry, tail) = rest.split_at(end);
        rest = tail;
        if !entry.is_empty() {
            packets.push(decode_entry(entry)?);
        }
    }
    Ok(packets)
}

/// Decodes a binary payload.
pub fn decode_binary_payload(mut payload: &[u8]) -> Result<Vec<Packet>, DecodeError> {
    if payload.is_empty() {
        return Err(DecodeError::Empty);
    }
    let mut packets = Vec::new();
    while let Some((&kind, rest)) = payload.split_first() {
        let end = rest
            .iter()
            .position(|&b| b == 255)
            .ok_or(DecodeError::BadLength)?;
        let digits = rest[..end].iter().map(|&d| {
            // Digits come as the values 0 to 9; anything else fails below.
            if d <= 9 {
                d + b'0'
            } else {
                b'x'
            }
        });
        let len = parse_length(digits)?;
        let body = rest[end + 1..].get(..len).ok_or(DecodeError::BadLength)?;
        payload = &rest[end + 1 + len..];
        packets.push(match kind {
            0 => {
                let text = std::str::from_utf8(body).map_err(|_| DecodeError::BadUtf8)?;
                decode_text(text)?
            }
            1 => decode_binary_message(body)?,
            _ => return Err(DecodeError::BadLength),
        });
    }
    Ok(packets)
}

/// Decodes a binary packet: its type byte, then its data. Only a message
/// carries binary data.
pub fn decode_binary_message(data: &[u8]) -> Result<Packet, DecodeError> {
    match data.split_first() {
        Some((&BINARY_MESSAGE_TYPE, rest)) => Ok(Packet::Message(Message::Binary(
            Bytes::copy_from_slice(rest),
        ))),
        Some((&other, _)) => Err(DecodeError::UnknownType(char::from(other))),
        None => Err(DecodeError::Empty),
    }
}

/// One text payload entry: a text packet or `b4<base64>`.
fn decode_entry(entry: &str) -> Result<Packet, DecodeError> {
    let Some(b64) = entry.strip_prefix('b') else {
        return decode_text(entry);
    };
    let b64 = b64.strip_prefix('4').ok_or(DecodeError::BadBase64)?;
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map(|data| Packet::Message(Message::Binary(data.into())))
        .map_err(|_| DecodeError::BadBase64)
}

/// A length prefix: 1 to [`MAX_LENGTH_DIGITS`] ASCII digits.
fn parse_length(digits: impl Iterator<Item = u8>) -> Result<usize, DecodeError> {
    let mut len: usize = 0;
    let mut count = 0;
    for digit in digits {
        count += 1;
        if !digit.is_ascii_digit() || count > MAX_LENGTH_DIGITS {
            return Err(DecodeError::BadLength);
        }
        len = len * 10 + usize::from(digit - b'0');
    }
    if count == 0 {
        return Err(DecodeError::BadLength);
    }
    Ok(len)
}

/// The byte length of the first `units` UTF-16 code units of `text`, if it
/// has that many and they do not end inside a surrogate pair.
fn utf16_prefix(text: &str, units: usize) -> Option<usize> {
    let mut counted = 0;
    for (at, c) in text.char_indices() {
        if counted == units {
            return Some(at);
        }
        counted += c.len_utf16();
        if counted > units {
            return None;
        }
    }
    (counted == units).then_some(text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(packet: &str) -> Frame {
        Frame::Text(packet.to_owned().into())
    }

    #[test]
    fn text_payload_counts_utf16_units() {
        // "é" is one unit, "😀" two; their UTF-8 byte counts differ.
        let frames = [text("4é"), text("4😀"), text("40")];
        let payload = encode_text_payload(&frames);
        assert_eq!(payload, "2:4é3:4😀2:40");
        assert_eq!(
            decode_text_payload(&payload),
            Ok(vec![
                Packet::Message(Message::Text("é".into())),
                Packet::Message(Message::Text("😀".into())),
                Packet::Message(Message::Text("0".into())),
            ])
        );
    }

    #[test]
    fn binary_in_a_text_payload_is_b4_base64() {
        let frames = [
            text("451-[\"x\"]"),
            Frame::binary(Bytes::from_static(&[1, 2, 3])),
        ];
        let payload = encode_text_payload(&frames);
        assert_eq!(payload, "9:451-[\"x\"]6:b4AQID");
        assert_eq!(
            decode_text_payload(&payload).unwrap()[1],
            Packet::Message(Message::Binary(Bytes::from_static(&[1, 2, 3])))
        );
        assert_eq!(encode_text_payload(&[]), "0:");
    }

    #[test]
    fn binary_payload_headers() {
        let frames = [text("4hé"), Frame::binary(Bytes::from_static(&[9; 12]))];
        let payload = encode_binary_payload(&frames);
        let mut expected = vec![0, 4, 255];
        expected.extend_from_slice("4hé".as_bytes());
        expected.extend_from_slice(&[1, 1, 3, 255, 4]);
        expected.extend_from_slice(&[9; 12]);
        assert_eq!(payload, expected);
        assert_eq!(
            decode_binary_payload(&payload),
            Ok(vec![
                Packet::Message(Message::Text("hé".into())),
                Packet::Message(Message::Binary(Bytes::from_static(&[9; 12]))),
            ])
        );
    }

    #[test]
    fn what_the_client_sends() {
        // socket.io-client 2 joining a namespace and pinging, in one POST.
        assert_eq!(
            decode_text_payload("8:40/chat,1:2"),
            Ok(vec![
                Packet::Message(Message::Text("0/chat,".into())),
                Packet::Ping(String::new()),
            ])
        );
        // Empty entries are skipped.
        assert_eq!(decode_text_payload("0:1:6"), Ok(vec![Packet::Noop]));
    }

    #[test]
    fn rejects_bad_framing() {
        for bad in [
            "",
            "4",
            ":4",
            "x:4",
            "3:4a",
            "2:4😀",
            "1:7",
            "5:b4!!!",
            "3:b3A",
            "99999999999:4",
        ] {
            assert!(decode_text_payload(bad).is_err(), "{bad:?}");
        }
        let bad_binary: [&[u8]; 6] = [
            &[],
            &[0, 1],
            &[0, 2, 255, b'4'],
            &[2, 1, 255, b'6'],
            &[1, 1, 255, 3],
            &[0, 12, 255, b'6'],
        ];
        for bad in bad_binary {
            assert!(decode_binary_payload(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            decode_binary_payload(&[0, 2, 255, 0xff, 0xfe]),
            Err(DecodeError::BadUtf8)
        );
    }
}
