//! sessio: a tiny Socket.IO-compatible real-time server with shared cookie sessions.

pub mod accounts;
pub mod session;
