//! Any node answers any request (the `redis` feature): a clustered node's
//! Engine.IO session ids begin with its node tag ([`tag`]), every node keeps its
//! advertised address under its tag in Redis ([`directory`]), and a transport
//! request carrying another live node's sid is passed to that node ([`forward`]),
//! with the client's address in a header the nodes sign with the cluster's secret
//! ([`proof`]). No sticky sessions are needed in front of the cluster.

pub mod directory;
pub mod forward;
mod pool;
pub mod proof;
mod relay;
pub mod response_head;
pub mod tag;

pub use directory::{Directory, DirectoryError};
pub use forward::{ForwardConfig, ForwardError, Forwarder, Routed};
pub use tag::NodeTag;
