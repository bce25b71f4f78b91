//! HTTP plumbing: the server loop, cross-site checks, and helpers for JSON APIs.

mod json;
mod origin;
mod replay;
mod server;

pub use json::{json_response, read_json, BodyError};
pub use origin::{ForeignOrigin, OriginPolicy};
pub use server::{serve, Limits, RawSocket};
