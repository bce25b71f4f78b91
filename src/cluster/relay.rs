//! A forwarded WebSocket's bytes, both ways between the client's connection
//! and the connection to the node that holds the session, until either side
//! closes. The frames are not looked at: the owning node speaks WebSocket with
//! the client as if it were connected to it.

use std::net::Shutdown;
use std::time::Duration;

use smol::future::FutureExt;
use smol::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use smol::net::TcpStream;

use crate::http::Socket;

/// How long the other way may go on once one way has ended (a closing
/// handshake's last frame), before both connections are closed.
const LINGER: Duration = Duration::from_secs(3);

/// Relays between `client` and `owner` until both ways end (or one has
/// ended for [`LINGER`]). `to_owner` and `to_client` are bytes already read
/// from the other side, written first.
pub(crate) async fn relay(client: Socket, to_owner: Vec<u8>, owner: TcpStream, to_client: Vec<u8>) {
    let up = smol::spawn(pipe(client.clone(), to_owner, owner.clone(), {
        let owner = owner.clone();
        move || drop(owner.shutdown(Shutdown::Write))
    }));
    let down = smol::spawn(pipe(owner, to_client, client.clone(), move || {
        drop(client.shutdown(Shutdown::Write))
    }));
    let (mut up, mut down) = (up, down);
    let up_first = async {
        (&mut up).await;
        true
    }
    .or(async {
        (&mut down).await;
        false
    })
    .await;
    let rest = if up_first { down } else { up };
    rest.or(async {
        smol::Timer::after(LINGER).await;
    })
    .await;
}

/// Copies `from` to `to` (after `first`), then runs `done`.
async fn pipe<R, W>(from: R, first: Vec<u8>, mut to: W, done: impl FnOnce())
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    if first.is_empty() || to.write_all(&first).await.is_ok() {
        let _ = smol::io::copy(from, &mut to).await;
    }
    done();
}

#[cfg(test)]
mod tests {
    use super::*;
    use smol::io::AsyncReadExt;
    use smol::net::TcpListener;

    /// A connected pair of TCP streams on loopback.
    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (a, b) = smol::future::zip(TcpStream::connect(addr), listener.accept()).await;
        (a.unwrap(), b.unwrap().0)
    }

    #[test]
    fn bytes_go_both_ways_and_a_close_ends_the_relay() {
        smol::block_on(async {
            let (mut client, client_end) = pair().await;
            let (owner_end, mut owner) = pair().await;
            let relay = smol::spawn(relay(
                Socket::from(client_end),
                b"early ".to_vec(),
                owner_end,
                b"first ".to_vec(),
            ));
            client.write_all(b"up").await.unwrap();
            owner.write_all(b"down").await.unwrap();
            let mut got = [0u8; 8];
            owner.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"early up");
            let mut got = [0u8; 10];
            client.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"first down");
            // The owner closes: the client sees the end, and the relay ends.
            drop(owner);
            let mut rest = Vec::new();
            client.read_to_end(&mut rest).await.unwrap();
            assert!(rest.is_empty());
            drop(client);
            relay.await;
        });
    }
}
