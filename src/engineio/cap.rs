//! The per-client caps: limits a client may not go over without being
//! disconnected, each named by the option that sets it, so the one line
//! logged when a client is cut off says which limit to raise.

use std::fmt;

/// A per-client limit. The text is the option that sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cap {
    /// Memory queued for a client that does not read (control frames and
    /// per-frame overhead included).
    QueuedBytes,
    /// Acknowledgements waiting, either way: the server's `emit_with_ack`
    /// callbacks, or the client's events not yet acknowledged; or the
    /// client's events waiting behind a socket's running async handler.
    PendingAcks,
    /// Binary attachments announced by one packet.
    Attachments,
    /// Rooms one socket is in (its own not counted).
    Rooms,
    /// Nesting of arrays and objects in one packet's JSON.
    JsonDepth,
    /// Sessions from one address that have not joined a namespace yet.
    PendingSessions,
}

impl Cap {
    /// The option (`--name`, `SESSIO_NAME`, `name` in TOML) that sets it.
    pub fn option(self) -> &'static str {
        match self {
            Cap::QueuedBytes => "max-queued-bytes",
            Cap::PendingAcks => "max-pending-acks",
            Cap::Attachments => "max-attachments",
            Cap::Rooms => "max-rooms",
            Cap::JsonDepth => "max-json-depth",
            Cap::PendingSessions => "max-pending-sessions",
        }
    }
}

impl fmt::Display for Cap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.option())
    }
}
