//! What one client may hold open and send: the HTTP front's limits.

use std::time::Duration;

use super::head::HeadLimits;

/// Limits on what clients may hold open and send.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The most TCP connections served at once; further ones are closed.
    pub max_connections: usize,
    /// The most connections from one address at once (0: no limit).
    pub max_connections_per_address: usize,
    /// The size of a request head.
    pub head: HeadLimits,
    /// The largest request body.
    pub max_body_bytes: usize,
    /// How long a connection may wait for its next request.
    pub idle_timeout: Duration,
    /// How long a request may take to arrive, head and body, from its first byte.
    pub request_timeout: Duration,
    /// How long writing one answer may take.
    pub write_timeout: Duration,
    /// The path prefix of a JSON API: a request under it that is refused
    /// before it reaches the handler (a body too large, say) is answered
    /// `{"success":false,"error":...}` as JSON, as the API's own errors are,
    /// rather than in plain text.
    pub json_errors_under: Option<&'static str>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 10_000,
            max_connections_per_address: 512,
            head: HeadLimits::default(),
            max_body_bytes: 1 << 20,
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            json_errors_under: None,
        }
    }
}
