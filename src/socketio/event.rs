//! An event received from a client, with the means to acknowledge it.

use std::sync::Arc;

use serde_json::Value;

use super::payload::Payload;
use crate::engineio::EngineSocket;

/// An event a client emitted: its arguments and, when the client asked for
/// one, an acknowledgement to send back.
#[derive(Debug)]
pub struct Event {
    pub payload: Payload,
    ack: Option<Ack>,
}

impl Event {
    pub(crate) fn new(payload: Payload, ack: Option<Ack>) -> Event {
        Event { payload, ack }
    }

    /// The argument at `index`.
    pub fn arg(&self, index: usize) -> Option<&Value> {
        self.payload.arg(index)
    }

    /// Whether the client waits for an acknowledgement.
    pub fn wants_ack(&self) -> bool {
        self.ack.is_some()
    }

    /// Sends the acknowledgement, if the client asked for one.
    pub fn ack(self, payload: impl Into<Payload>) {
        if let Some(ack) = self.ack {
            ack.send(payload.into());
        }
    }

    /// Takes the acknowledgement out, to answer later.
    pub fn take_ack(&mut self) -> Option<Ack> {
        self.ack.take()
    }
}

/// The acknowledgement of one event; sending consumes it.
#[derive(Debug)]
pub struct Ack {
    pub(crate) sink: Arc<EngineSocket>,
    pub(crate) namespace: Arc<str>,
    pub(crate) id: u64,
}

impl Ack {
    pub fn send(self, payload: Payload) {
        let frames = payload.encode(&self.namespace, None, Some(self.id));
        self.sink.send_frames(&frames);
    }
}
