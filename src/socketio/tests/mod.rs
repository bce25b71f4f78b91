//! Unit tests of the Socket.IO layer through the in-memory client of
//! `harness.rs`: a whole [`super::Io`], driven over polling without TCP.

mod binary;
mod connect;
mod disconnect;
mod events;
mod limits;
mod order;
mod polling;
mod recovery;
mod rooms;
mod time;
