//! Socket.IO protocol 5 on top of Engine.IO (and protocol 4 for Engine.IO 3
//! clients, see `client.rs`): namespaces, events with acknowledgements,
//! binary attachments, and rooms.
//!
//! ```no_run
//! use sessio::socketio::{Io, Namespace};
//! let io = Io::builder()
//!     .namespace(Namespace::new("/").on("echo", |_socket, event| {
//!         let payload = event.payload.clone();
//!         event.ack(payload);
//!     }))
//!     .build();
//! ```

mod acks;
pub(crate) mod adapter;
pub mod admin;
mod client;
mod event;
mod extensions;
mod handler;
mod handshake;
#[cfg(test)]
mod harness;
mod limits;
mod local_side;
pub(crate) mod machine;
mod namespace;
mod observer;
mod order;
pub mod packet;
mod payload;
mod recovery;
mod server;
mod socket;
#[cfg(test)]
mod tests;

#[cfg(feature = "redis")]
pub use adapter::redis::RedisCluster;
#[cfg(feature = "redis")]
pub use adapter::redis_streams::StreamsCluster;
pub use adapter::{
    AckFuture, Adapter, Cluster, ClusterError, ClusterFuture, ClusterRecovery, DroppedSocket,
    Emitter, LocalAdapter, LocalSide, RecoveredSocket, SocketInfo, Target,
};
pub use event::{Ack, Event};
pub use extensions::Extensions;
pub use handshake::Handshake;
pub use limits::Limits;
pub use namespace::{Broadcast, ConnectError, Namespace, Nsp, WeakNsp};
pub use payload::Payload;
pub use recovery::{Owner, RecoveryConfig};
pub use server::{Io, IoBuilder};
pub use socket::{AckError, DisconnectReason, Socket};
