//! Fuzz target: a connection's receiving machine ([`crate::socketio`]'s
//! `machine.rs`) fed a sequence of Engine.IO messages.

use std::time::Instant;

use async_tungstenite::tungstenite::Bytes;

use crate::socketio::machine::{route, Inbound, Machine, Received, MAX_ATTACHMENT_BYTES};
use crate::socketio::Limits;

const LIMITS: Limits = Limits {
    max_pending_acks: 256,
    max_attachments: 4,
    max_rooms: 256,
    max_json_depth: 8,
};

/// The input is messages, each after a 0xFF byte (which UTF-8 never contains); a
/// message whose first byte is `b` is binary (the rest), any other is text. The
/// first byte of the input picks the protocol (odd: Socket.IO 4). Only `/` is
/// joined. Properties: a packet comes out with exactly the attachments it
/// announced, within the caps, and only in a namespace joined when it has any, and
/// routing it keeps them; the machine never panics, and after it says to close, the
/// runtime stops feeding it.
pub fn socketio_receive(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let mut machine = Machine::new(first & 1 == 1, Instant::now());
    for message in rest.split(|&b| b == 0xff).skip(1) {
        let received = match message.split_first() {
            Some((b'b', bytes)) => machine.on_binary(Bytes::copy_from_slice(bytes)),
            _ => match std::str::from_utf8(message) {
                Ok(text) => machine.on_text(text, &LIMITS, |namespace| namespace == "/"),
                Err(_) => return,
            },
        };
        match received {
            Received::Packet(packet, attachments) => {
                assert_eq!(attachments.len(), packet.attachments);
                assert!(packet.attachments <= LIMITS.max_attachments);
                let bytes: usize = attachments.iter().map(|a| a.len()).sum();
                assert!(bytes <= MAX_ATTACHMENT_BYTES);
                assert!(attachments.is_empty() || packet.namespace == "/");
                let announced = packet.attachments;
                match route(packet, attachments) {
                    Inbound::Event { attachments, .. } | Inbound::Answer { attachments, .. } => {
                        assert_eq!(attachments.len(), announced)
                    }
                    Inbound::Connect { auth, .. } => assert!(auth.is_object()),
                    Inbound::Leave(_) | Inbound::ProtocolError | Inbound::Ignored => {}
                }
            }
            Received::Waiting => {}
            Received::ProtocolError | Received::Exceeded(..) => return,
        }
    }
}
