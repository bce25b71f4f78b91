//! Engine.IO settings: path, heartbeats and size limits.

use std::time::Duration;

/// Settings of the Engine.IO layer, with the protocol's usual defaults.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The path the transport is served at, with a trailing slash.
    pub path: String,
    /// How often the server pings each client.
    pub ping_interval: Duration,
    /// How long a client has to answer a ping before it is closed.
    pub ping_timeout: Duration,
    /// The largest message or polling POST a client may send, in bytes.
    pub max_payload: usize,
    /// The most memory queued for one client before it is cut off as too
    /// slow: frame bytes plus a per-frame overhead, control frames included.
    pub max_queued_bytes: usize,
    /// The most Engine.IO sessions open at once; further handshakes get 503.
    /// By default as many as the HTTP server admits connections, which is
    /// what `sessio serve` sets it to.
    pub max_sessions: usize,
    /// The most sessions one address may hold before they join a namespace;
    /// further handshakes from it get 429.
    pub max_pending_sessions: usize,
    /// Whether a client's address is the first of `X-Forwarded-For` (set by
    /// a trusted reverse proxy) rather than the socket's peer.
    pub trust_proxy: bool,
    /// Whether Engine.IO 3 clients (`EIO=3`: Socket.IO 2 clients) are
    /// served; when not, they get the reference server's refusal.
    pub allow_eio3: bool,
    /// What begins every session id: a clustered node's tag
    /// ([`crate::cluster::NodeTag`]), so that the others know where its
    /// sessions are; empty on a node of its own.
    #[cfg(feature = "redis")]
    pub sid_prefix: String,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            path: "/socket.io/".into(),
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            max_payload: 1_000_000,
            max_queued_bytes: 8 << 20,
            max_sessions: crate::http::Limits::default().max_connections,
            max_pending_sessions: 1024,
            trust_proxy: false,
            allow_eio3: false,
            #[cfg(feature = "redis")]
            sid_prefix: String::new(),
        }
    }
}
