//! Fuzz target: the decoders of `@socket.io/redis-adapter`'s messages
//! (`socketio::adapter::redis::wire`), which read what any client of the
//! Redis server may publish.

use crate::socketio::adapter::redis::wire::{self, Request};

/// The input as a broadcast, a request and a response. Properties: whatever
/// decodes encodes to bytes that decode to the same message (without binary
/// attachments, whose placeholders may be spelt two ways); with attachments,
/// the re-encoding still decodes, with as many.
pub fn redis_adapter(data: &[u8]) {
    if let Ok(message) = wire::decode_broadcast(data) {
        let (uid, nsp, event) = (&message.uid, &message.nsp, &message.event);
        let bytes = wire::encode_broadcast(uid, nsp, event, &message.payload, &message.target);
        let again = wire::decode_broadcast(&bytes).expect("our broadcast decodes"); // ok: the property
        if message.payload.attachments().is_empty() {
            assert_eq!(again, message);
        } else {
            assert_eq!((&again.uid, &again.nsp, &again.event), (uid, nsp, event));
            assert_eq!(again.target, message.target);
        }
    }
    if let Ok(incoming) = wire::decode_request(data) {
        if !matches!(incoming.request, Request::BroadcastWithAck { .. }) {
            let id = incoming.request_id.as_deref();
            let text = wire::encode_request("uid", id, &incoming.request);
            let again = wire::decode_request(text.as_bytes()).expect("our request decodes"); // ok: the property
            assert_eq!(again.request, incoming.request, "{text}");
            assert_eq!(again.request_id, incoming.request_id);
        }
    }
    if let Ok(response) = wire::decode_response(data) {
        let bytes = wire::encode_response(&response);
        let again = wire::decode_response(&bytes).expect("our response decodes"); // ok: the property
        let binary = match &response.answer {
            wire::Answer::BroadcastAck(payload) => !payload.attachments().is_empty(),
            _ => false,
        };
        if !binary {
            assert_eq!(again, response);
        }
    }
}
