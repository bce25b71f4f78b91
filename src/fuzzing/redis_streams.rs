//! Fuzz target: the decoders of `@socket.io/redis-streams-adapter`'s messages and
//! of what Redis answers about its stream (`socketio::adapter::redis_streams::wire`),
//! which read what any client of the Redis server may write.

use crate::socketio::adapter::redis_streams::wire::{self, Body, StreamId};

/// The input as a published message, a session record, a RESP reply to XREAD and
/// XRANGE (whose entries are then read as stream entries) and an offset. Properties:
/// whatever decodes encodes to something that decodes to the same (without binary
/// attachments, whose placeholders may be spelt two ways, and but for a broadcast's
/// ack timeout, kept to the millisecond); an offset prints as it parses.
pub fn redis_streams(data: &[u8]) {
    if let Ok(message) = wire::decode_published(data) {
        let again =
            wire::decode_published(&wire::encode_published(&message)).expect("our message decodes"); // ok: the property
        if comparable(&message.body) {
            assert_eq!(again, message);
        }
    }
    if let Ok(session) = wire::decode_session(data) {
        let text = wire::encode_session(&session);
        let again = wire::decode_session(text.as_bytes()).expect("our record decodes"); // ok: the property
        assert_eq!(again, session);
    }
    if let Ok(reply) = redis::parse_redis_value(data) {
        for entries in [wire::read_reply(&reply), wire::range_reply(&reply)] {
            for (_, fields) in entries.into_iter().flatten() {
                let Ok(message) = wire::decode_entry(&fields) else {
                    continue;
                };
                let pairs: Vec<(Vec<u8>, Vec<u8>)> = wire::encode_entry(&message)
                    .iter()
                    .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
                    .collect();
                let again = wire::decode_entry(&pairs).expect("our entry decodes"); // ok: the property
                if comparable(&message.body) {
                    assert_eq!(again, message);
                }
            }
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(id) = StreamId::parse(text) {
            assert_eq!(StreamId::parse(&id.to_string()), Ok(id));
            assert!(id.next() > id || id.ms == u64::MAX);
        }
    }
}

/// Whether a message reads back equal (see the property).
fn comparable(body: &Body) -> bool {
    match body {
        Body::Broadcast { payload, .. } | Body::BroadcastAck { payload, .. } => {
            payload.attachments().is_empty()
        }
        Body::BroadcastWithAck { .. } => false,
        _ => true,
    }
}
