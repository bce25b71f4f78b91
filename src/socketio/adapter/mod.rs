//! Room membership and broadcasting: the one boundary between a namespace and
//! where its sockets live. The room table of this process's sockets is the
//! [`LocalAdapter`]; a [`Cluster`] (when one is attached) carries what the
//! namespace does to the other servers of a cluster, on socket ids, rooms and
//! serialized packets, and feeds what they do back into local delivery.
//!
//! An adapter knows sockets by id only: it reaches them through an
//! [`Emitter`] the namespace gives it, so nothing here imports the layer
//! above (sockets, namespaces, clients).

mod cluster;
mod local;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "redis")]
pub mod redis_streams;

use std::sync::Arc;

use crate::engineio::Frame;

#[cfg(feature = "cluster")]
pub use cluster::owner_digest;
pub(crate) use cluster::shown_headers;
pub use cluster::{
    AckFuture, Cluster, ClusterError, ClusterFuture, ClusterRecovery, DroppedSocket, LocalSide,
    RecoveredSocket, SocketInfo,
};
pub use local::LocalAdapter;

/// Which sockets a broadcast reaches: those in any of `rooms` (every socket
/// when empty), minus those in any of `except`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// The rooms to reach; empty reaches every socket.
    pub rooms: Vec<String>,
    /// The rooms whose sockets are left out.
    pub except: Vec<String>,
}

/// Delivery to this server's sockets by id, which the layer above (that
/// has the sockets) implements for an [`Adapter`]'s broadcasts.
pub trait Emitter {
    /// Writes already encoded `frames` to the socket `id`, when it is here.
    fn emit(&self, id: &str, frames: &[Frame]);
}

/// Room membership and delivery for one namespace, on socket ids.
pub trait Adapter: Send + Sync + 'static {
    /// A socket connected. It is in the room named by its id from now on.
    fn add(&self, id: &Arc<str>);
    /// A socket left: it leaves every room.
    fn remove(&self, id: &str);
    /// Puts a socket in a room.
    fn join(&self, id: &str, room: &str);
    /// Takes a socket out of a room.
    fn leave(&self, id: &str, room: &str);
    /// The rooms a socket is in, its own included.
    fn rooms(&self, id: &str) -> Vec<String>;
    /// How many rooms a socket is in (its own included), and whether `room`
    /// is one of them: what a join or leave checks, without the list.
    fn membership(&self, id: &str, room: &str) -> (usize, bool) {
        let rooms = self.rooms(id);
        let is_in = rooms.iter().any(|r| r == room);
        (rooms.len(), is_in)
    }
    /// Writes already encoded frames to every socket of `target`, through
    /// `to`.
    fn broadcast(&self, frames: &[Frame], target: &Target, to: &dyn Emitter);
    /// The ids of the sockets of `target`.
    fn sockets(&self, target: &Target) -> Vec<Arc<str>>;
}
