//! The one error type of the load generator.

use std::fmt;
use std::io;

use async_tungstenite::tungstenite;

/// Everything that can go wrong while talking to a server or running one.
#[derive(Debug)]
pub enum BenchError {
    Io(io::Error),
    WebSocket(Box<tungstenite::Error>),
    /// The server answered something the protocol does not allow here.
    Protocol(String),
    /// An HTTP call got an unexpected status.
    Http {
        path: String,
        status: u16,
        body: String,
    },
    /// The server refused the Socket.IO connection (`44...`).
    Refused(String),
    /// The connection closed before the expected packet came.
    Closed,
    Timeout(&'static str),
    /// A bad command-line argument.
    Usage(String),
    /// The server process could not be started or did not become ready.
    Server(String),
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "i/o: {e}"),
            Self::WebSocket(e) => write!(f, "websocket: {e}"),
            Self::Protocol(what) => write!(f, "protocol: {what}"),
            Self::Http { path, status, body } => write!(f, "{path}: HTTP {status}: {body}"),
            Self::Refused(data) => write!(f, "connection refused by the server: {data}"),
            Self::Closed => f.write_str("connection closed"),
            Self::Timeout(what) => write!(f, "timed out: {what}"),
            Self::Usage(what) => write!(f, "usage: {what}"),
            Self::Server(what) => write!(f, "server: {what}"),
        }
    }
}

impl std::error::Error for BenchError {}

impl From<io::Error> for BenchError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<tungstenite::Error> for BenchError {
    fn from(e: tungstenite::Error) -> Self {
        Self::WebSocket(Box::new(e))
    }
}
