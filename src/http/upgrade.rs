//! Handing a connection over to another protocol (WebSocket). A request that
//! asks to upgrade carries an [`Upgrade`] in its extensions; the handler that
//! answers `101 Switching Protocols` takes it, and once the 101 is written
//! the HTTP front stops reading the connection and hands over the socket with
//! the bytes the client already sent past its request.

use smol::channel::{Receiver, Sender};

use super::socket::Socket;

/// A request's claim on its connection, in the request's extensions when the
/// client asked to upgrade. Take it with `req.ext_mut().remove::<Upgrade>()`.
pub struct Upgrade {
    socket: Socket,
    handover: Receiver<Vec<u8>>,
}

/// A connection handed over after a `101` answer.
pub struct Upgraded {
    /// The connection, read and written directly from now on.
    pub socket: Socket,
    /// What the client sent right behind its upgrade request, to be read
    /// before anything from the socket.
    pub unread: Vec<u8>,
}

impl Upgrade {
    pub(crate) fn new(socket: Socket) -> (Upgrade, Sender<Vec<u8>>) {
        let (sender, handover) = smol::channel::bounded(1);
        (Upgrade { socket, handover }, sender)
    }

    /// Waits until the `101` is written. `None` when it never was (the
    /// answer was another, or the client went away first).
    pub async fn finish(self) -> Option<Upgraded> {
        let unread = self.handover.recv().await.ok()?;
        Some(Upgraded {
            socket: self.socket,
            unread,
        })
    }
}
