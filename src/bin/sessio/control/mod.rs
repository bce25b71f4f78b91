//! The control socket: how the operator's commands (`sessio user ...`,
//! `sessio session ...`) reach a running server, whose store no other process
//! may open. [`protocol`] holds the messages (sans-IO), [`socket`] the Unix
//! socket in the data directory, open only to the directory's owner. What the
//! commands do is the application's (`app::admin`).

pub mod protocol;
pub mod socket;

pub use protocol::{ParseError, Reply, Request};
pub use socket::{call, CallError, ControlListener};
