//! sessio: a tiny Socket.IO-compatible real-time server with shared cookie
//! sessions, for small Linux boards. This is its library; the `sessio` command
//! (`src/bin/sessio/`: the seed's application, its configuration, the
//! operator's control socket and the logger) is one program built on it.
//!
//! The layers, bottom up: [`http`] (the server loop and request helpers),
//! [`engineio`] (Engine.IO 4 transports), [`socketio`] (Socket.IO 5
//! namespaces, events, rooms), [`store`] (the sled database and its durable
//! writes), [`session`] and [`accounts`] (signed cookie sessions and users),
//! [`socket_session`] (sessions inside Socket.IO) and [`assets`] (the embedded
//! web page and browser client). Beside them: [`metrics`] counts what happens
//! in every layer, [`blocking`] runs blocking calls off the executor,
//! [`clock`] tells the time (and prints it), `tls` (the `tls` feature)
//! serves HTTPS, and `cluster` (the `redis` feature) lets any node of a cluster
//! answer any transport request.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod accounts;
pub mod assets;
pub mod blocking;
pub mod clock;
#[cfg(feature = "redis")]
pub mod cluster;
mod decimal;
pub mod engineio;
#[cfg(any(test, fuzzing))]
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod metrics;
pub mod session;
pub mod socket_session;
pub mod socketio;
pub mod store;
#[cfg(feature = "tls")]
pub mod tls;

/// The README's code, compiled and run as doctests (`cargo test --doc`): its
/// "Writing your own events" example is the library's API as a user meets it.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
