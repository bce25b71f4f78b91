//! HTTP/1.x: the server loop and its limits, the request head and body
//! parsers in front of it, the handover to WebSocket, cross-site checks, and
//! helpers for JSON APIs.
//!
//! Requests reach handlers only once [`head`] has checked the head and the
//! body has been read whole within the [`Limits`]; async-h1 encodes the
//! answers.

pub mod chunked;
mod client_ip;
mod connection;
pub mod head;
mod json;
mod limits;
mod origin;
mod server;
mod socket;
mod upgrade;

pub use client_ip::client_ip;
#[cfg(any(test, fuzzing))]
pub(crate) use connection::request_url;
#[cfg(any(test, fuzzing))]
pub(crate) use connection::request_url_by_parts;
pub use json::{json_response, read_json, BodyError};
pub use limits::Limits;
pub use origin::{allow_credentials, preflight, ForeignOrigin, OriginPolicy};
pub use server::serve;
#[cfg(feature = "tls")]
pub use server::serve_tls;
pub use socket::Socket;
pub use upgrade::{Upgrade, Upgraded};
