//! TCP connections from a chosen loopback source address: a balancer that
//! hashes the client's address (nginx's `ip_hash` takes an IPv4 address's first
//! three octets) then sees the load generator as many clients, not one.

use std::io;
use std::net::{IpAddr, SocketAddr};

use smol::net::TcpStream;
use smol::Async;
use socket2::{Domain, Socket, Type};

/// The source address of the `i`-th of a set of simulated clients:
/// 127.0.i.1, so that each has a `/24` of its own (at most 255).
pub fn client_source(i: usize) -> IpAddr {
    IpAddr::from([127, 0, (i % 255) as u8, 1])
}

/// Connects to `addr`, from `source` when given (else as the system picks).
pub async fn connect(addr: &str, source: Option<IpAddr>) -> io::Result<TcpStream> {
    let Some(source) = source else {
        return TcpStream::connect(addr).await;
    };
    let to: SocketAddr = addr
        .parse()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "not an IP:port address"))?;
    let socket = Socket::new(Domain::for_address(to), Type::STREAM, None)?;
    socket.bind(&SocketAddr::new(source, 0).into())?;
    socket.set_nonblocking(true)?;
    match socket.connect(&to.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    let stream = Async::new(std::net::TcpStream::from(socket))?;
    stream.writable().await?;
    if let Some(e) = stream.get_ref().take_error()? {
        return Err(e);
    }
    Ok(stream.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connects_from_the_source_asked() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let stream = smol::block_on(connect(&addr, Some(client_source(7)))).unwrap();
        assert_eq!(stream.local_addr().unwrap().ip(), client_source(7));
        let (_, peer) = listener.accept().unwrap();
        assert_eq!(peer.ip().to_string(), "127.0.7.1");
    }
}
