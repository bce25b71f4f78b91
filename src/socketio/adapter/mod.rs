//! Room membership and broadcasting: the one boundary between a namespace and
//! where its sockets live. The room table of this process's sockets is the
//! [`LocalAdapter`]; a [`Cluster`] (when one is attached) carries what the
//! namespace does to the other servers of a cluster, on socket ids, rooms and
//! serialized packets, and feeds what they do back into local delivery.

mod cluster;
mod local;
#[cfg(feature = "redis")]
pub mod redis;

use std::sync::Arc;

use crate::engineio::{EngineSocket, Frame};

pub(crate) use cluster::shown_headers;
pub use cluster::{Cluster, ClusterError, ClusterFuture, SocketInfo};
pub use local::LocalAdapter;

/// Which sockets a broadcast reaches: those in any of `rooms` (every socket
/// when empty), minus those in any of `except`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    pub rooms: Vec<String>,
    pub except: Vec<String>,
}

/// Room membership and delivery for one namespace.
pub trait Adapter: Send + Sync + 'static {
    /// A socket connected; `sink` receives what is sent to it. It is in the
    /// room named by its id from now on.
    fn add(&self, id: &Arc<str>, sink: Arc<EngineSocket>);
    /// A socket left: it leaves every room.
    fn remove(&self, id: &str);
    fn join(&self, id: &str, room: &str);
    fn leave(&self, id: &str, room: &str);
    /// The rooms a socket is in, its own included.
    fn rooms(&self, id: &str) -> Vec<String>;
    /// Writes already encoded frames to every socket of `target`.
    fn broadcast(&self, frames: &[Frame], target: &Target);
    /// The ids of the sockets of `target`.
    fn sockets(&self, target: &Target) -> Vec<Arc<str>>;
}
