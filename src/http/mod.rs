//! HTTP plumbing: the server loop and small helpers for JSON APIs.

mod server;

pub use server::{serve, Limits};
