//! Engine.IO protocol 4 (and 3, when allowed): the transport under Socket.IO.
//! It owns sessions, long-polling, WebSocket, the upgrade between them, and
//! heartbeats; the layer above sees only messages in and frames out.

mod cap;
mod config;
pub(crate) mod contain;
mod engine;
mod host;
mod machine;
pub mod packet;
pub mod payload_v3;
mod polling;
mod protocol;
mod request;
mod server;
mod sid;
mod socket;
mod timers;
mod waiters;
mod websocket;

pub use cap::Cap;
pub use config::EngineConfig;
#[cfg(feature = "redis")]
pub(crate) use engine::EngineError;
pub use engine::{Connection, Handler};
pub use packet::{Frame, Message};
pub use protocol::Protocol;
pub use request::HandshakeRequest;
pub use server::Engine;
pub(crate) use sid::derived_id;
pub use sid::random_id;
pub use socket::{CloseReason, EngineSocket, Transport};
