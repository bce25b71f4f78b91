//! What an instrument (the Admin UI's server side, see [`super::admin`]) is
//! told of every namespace: sockets that connect and leave, and the rooms
//! they join and leave. Calls come on the connection's task, sometimes with
//! a namespace lock held: an observer only records or queues, never waits.

use super::socket::{DisconnectReason, Socket};

pub(crate) trait Observer: Send + Sync + 'static {
    /// A socket joined its namespace (a recovered one is in its rooms already).
    fn connected(&self, socket: &Socket);
    /// The socket left its namespace, and so `rooms` (its own included).
    fn disconnected(&self, socket: &Socket, reason: DisconnectReason, rooms: &[String]);
    /// The socket's connection moved from polling to WebSocket.
    fn upgraded(&self, socket: &Socket);
    /// `socket` joined (`joined`) or left `room`.
    fn room(&self, socket: &Socket, room: &str, joined: bool);
}
