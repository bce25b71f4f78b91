//! The per-client caps Socket.IO enforces; a client over one is disconnected
//! with the cap logged ([`crate::engineio::Cap`]).

/// Caps on what one client may make the server hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most acknowledgements waiting per socket, each way: the server's
    /// `emit_with_ack` callbacks not yet answered, and the client's events
    /// not yet acknowledged. Also the most of the client's events that may
    /// wait behind a running async handler of the socket.
    pub max_pending_acks: usize,
    /// The most binary attachments one packet may announce.
    pub max_attachments: usize,
    /// The most rooms one socket may be in, its own not counted.
    pub max_rooms: usize,
    /// The deepest nesting of arrays and objects in a packet's JSON.
    pub max_json_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_pending_acks: 256,
            max_attachments: 64,
            max_rooms: 256,
            max_json_depth: 32,
        }
    }
}
