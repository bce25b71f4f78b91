//! The arguments of an event or an acknowledgement: JSON values plus binary
//! attachments, the way Socket.IO carries them.

use std::cell::Cell;

use async_tungstenite::tungstenite::Bytes;
use serde_json::{json, Value};

use super::packet::{self, PacketKind};
use crate::engineio::Frame;

/// Arguments as JSON values; binary data sits in attachments and is referred
/// to from the values by placeholders (see [`Payload::push_binary`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Payload {
    args: Vec<Value>,
    attachments: Vec<Bytes>,
}

impl Payload {
    /// A payload with no arguments.
    pub fn new() -> Payload {
        Payload::default()
    }

    /// A payload of JSON arguments.
    pub fn from_args(args: Vec<Value>) -> Payload {
        Payload {
            args,
            attachments: Vec::new(),
        }
    }

    pub(crate) fn from_parts(args: Vec<Value>, attachments: Vec<Bytes>) -> Payload {
        Payload { args, attachments }
    }

    /// Appends an argument.
    pub fn with(mut self, arg: impl Into<Value>) -> Payload {
        self.args.push(arg.into());
        self
    }

    /// Stores binary data and returns the placeholder that refers to it; put
    /// the placeholder anywhere in an argument.
    pub fn push_binary(&mut self, data: impl Into<Bytes>) -> Value {
        self.attachments.push(data.into());
        json!({"_placeholder": true, "num": self.attachments.len() - 1})
    }

    /// The JSON arguments, placeholders included.
    pub fn args(&self) -> &[Value] {
        &self.args
    }

    /// The argument at `index`.
    pub fn arg(&self, index: usize) -> Option<&Value> {
        self.args.get(index)
    }

    /// The binary data a placeholder value refers to.
    pub fn binary(&self, value: &Value) -> Option<&Bytes> {
        self.attachments.get(packet::placeholder_index(value)?)
    }

    /// The binary attachments, in placeholder order.
    pub fn attachments(&self) -> &[Bytes] {
        &self.attachments
    }

    /// Encodes this payload as a Socket.IO packet in Engine.IO frames: the
    /// text packet first, then one binary frame per attachment. `event` is
    /// the event name for an EVENT, `None` for an ACK; `offset` (connection
    /// state recovery) goes after the arguments, as a string.
    pub(crate) fn encode(
        &self,
        namespace: &str,
        event: Option<&str>,
        id: Option<u64>,
        offset: Option<u64>,
    ) -> Vec<Frame> {
        let kind = match event {
            Some(_) => PacketKind::Event,
            None => PacketKind::Ack,
        };
        // The Engine.IO message type, the packet's header and its JSON, written
        // in this thread's scratch buffer, then copied into a string of their
        // exact size: one allocation, and no spare room (some frames are kept:
        // queues, the recovery log) to give back with a reallocation.
        let mut json = SCRATCH.take();
        json.clear();
        json.reserve(256);
        // Empty: no bytes to check.
        let mut header = String::from_utf8(json).unwrap_or_default();
        header.push('4');
        packet::write_header(&mut header, kind, namespace, id, self.attachments.len());
        let mut json = header.into_bytes();
        json.push(b'[');
        let mut first = true;
        let mut separate = |json: &mut Vec<u8>| {
            if !std::mem::take(&mut first) {
                json.push(b',');
            }
        };
        if let Some(event) = event {
            separate(&mut json);
            write_json(&mut json, event);
        }
        for arg in &self.args {
            separate(&mut json);
            write_json(&mut json, arg);
        }
        if let Some(offset) = offset {
            // An offset travels as a string (digits need no escaping).
            separate(&mut json);
            json.push(b'"');
            json.extend_from_slice(crate::decimal::text(offset, &mut [0u8; 20]).as_bytes());
            json.push(b'"');
        }
        json.push(b']');
        // serde_json writes UTF-8; the check cannot fail.
        let text = std::str::from_utf8(&json).unwrap_or_default().to_owned();
        if json.capacity() <= SCRATCH_KEPT {
            SCRATCH.set(json);
        }
        let mut frames = Vec::with_capacity(1 + self.attachments.len());
        frames.push(Frame::message_packet(text));
        frames.extend(self.attachments.iter().cloned().map(Frame::binary));
        frames
    }
}

thread_local! {
    /// Where [`Payload::encode`] writes a packet before copying it out.
    static SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// The largest scratch buffer a thread keeps (one that grew past it for a
/// large packet is let go).
const SCRATCH_KEPT: usize = 16 * 1024;

/// Appends `value` as JSON. Writing to a `Vec` cannot fail, nor can a
/// `Value` or a string fail to serialize.
fn write_json(json: &mut Vec<u8>, value: &(impl serde::Serialize + ?Sized)) {
    let _ = serde_json::to_writer(json, value);
}

impl From<Value> for Payload {
    /// A payload of one argument.
    fn from(value: Value) -> Payload {
        Payload::from_args(vec![value])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_events_and_acks() {
        let payload = Payload::new().with(1).with(json!({"a": "b"}));
        assert_eq!(
            payload.encode("/", Some("ev"), None, None),
            vec![Frame::message(r#"2["ev",1,{"a":"b"}]"#)]
        );
        assert_eq!(
            payload.encode("/chat", None, Some(4), None),
            vec![Frame::message(r#"3/chat,4[1,{"a":"b"}]"#)]
        );
        assert_eq!(
            Payload::new().encode("/", None, Some(1), None),
            vec![Frame::message("31[]")]
        );
    }

    #[test]
    fn binary_goes_in_attachments() {
        let mut payload = Payload::new();
        let placeholder = payload.push_binary(Bytes::from_static(b"\x01\x02"));
        let payload = payload.with(json!({"file": placeholder}));
        let frames = payload.encode("/", Some("up"), Some(2), None);
        assert_eq!(
            frames,
            vec![
                Frame::message(r#"51-2["up",{"file":{"_placeholder":true,"num":0}}]"#),
                Frame::binary(Bytes::from_static(b"\x01\x02")),
            ]
        );
        assert_eq!(
            payload.encode("/", Some("up"), None, Some(7))[0],
            Frame::message(r#"51-["up",{"file":{"_placeholder":true,"num":0}},"7"]"#),
            "the offset follows the arguments"
        );
        let file = &payload.args()[0]["file"];
        assert_eq!(payload.binary(file).map(|b| &b[..]), Some(&b"\x01\x02"[..]));
    }
}
