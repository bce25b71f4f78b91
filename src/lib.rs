//! sessio: a tiny Socket.IO-compatible real-time server with shared cookie
//! sessions, for small Linux boards.
//!
//! The layers, bottom up: [`http`] (the server loop and request helpers),
//! [`engineio`] (Engine.IO 4 transports), [`socketio`] (Socket.IO 5
//! namespaces, events, rooms), [`session`] and [`accounts`] (signed cookie
//! sessions and users in sled), [`socket_session`] (sessions inside
//! Socket.IO), [`assets`] (the embedded web page and browser client), and
//! [`app`], the seed's application built on all of them. [`metrics`] counts
//! what happens in every layer.

#![forbid(unsafe_code)]

pub mod accounts;
pub mod app;
pub mod assets;
pub mod blocking;
pub mod clock;
pub mod config;
pub mod control;
pub mod engineio;
#[cfg(any(test, fuzzing))]
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod logger;
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
