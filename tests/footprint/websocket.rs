//! A blocking Socket.IO client over WebSocket (Engine.IO 4, Socket.IO 5),
//! just enough for the test: the upgrade with the session cookie, text
//! frames each way, a clean leave. No pings arrive: the test's server pings
//! once an hour.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};

use super::http::bad;

pub struct Ws {
    stream: BufReader<TcpStream>,
}

const TEXT: u8 = 1;
const CLOSE: u8 = 8;
const PING: u8 = 9;
const PONG: u8 = 10;

impl Ws {
    /// Upgrades to a WebSocket and reads the Engine.IO open packet.
    pub fn open(addr: SocketAddr, cookie: &str) -> io::Result<Ws> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(super::http::PATIENCE))?;
        let mut ws = Ws {
            stream: BufReader::new(stream),
        };
        let request = format!(
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: localhost\r\n\
             Upgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Cookie: {cookie}\r\n\r\n"
        );
        ws.stream.get_mut().write_all(request.as_bytes())?;
        let mut status = String::new();
        ws.stream.read_line(&mut status)?;
        if !status.starts_with("HTTP/1.1 101") {
            return Err(bad(format!("upgrade refused: {status:?}")));
        }
        loop {
            let mut line = String::new();
            if ws.stream.read_line(&mut line)? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            if line == "\r\n" {
                break;
            }
        }
        let open = ws.receive()?;
        if !open.starts_with('0') {
            return Err(bad(format!("not an open packet: {open:?}")));
        }
        Ok(ws)
    }

    /// Joins the namespace `/` and waits for the app's `connected` event.
    pub fn join(&mut self) -> io::Result<()> {
        self.send("40")?;
        let joined = self.receive()?;
        if !joined.starts_with("40{") {
            return Err(bad(format!("not a CONNECT: {joined:?}")));
        }
        self.expect_event("connected")?;
        Ok(())
    }

    /// Reads the next packet, which must be the event `name`.
    pub fn expect_event(&mut self, name: &str) -> io::Result<String> {
        let packet = self.receive()?;
        if !packet.starts_with(&format!("42[\"{name}\"")) {
            return Err(bad(format!("expected {name}, got {packet:?}")));
        }
        Ok(packet)
    }

    /// Sends one text frame, masked as a client must.
    pub fn send(&mut self, text: &str) -> io::Result<()> {
        self.frame(TEXT, text.as_bytes())
    }

    fn frame(&mut self, opcode: u8, payload: &[u8]) -> io::Result<()> {
        let mask = [0x5a, 0x17, 0xc3, 0x81];
        let mut frame = vec![0x80 | opcode];
        match payload.len() {
            n @ 0..=125 => frame.push(0x80 | n as u8),
            n @ 126..=0xffff => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.get_mut().write_all(&frame)
    }

    /// Reads the next text message (answering WebSocket pings on the way).
    pub fn receive(&mut self) -> io::Result<String> {
        loop {
            let (opcode, payload) = self.read_frame()?;
            match opcode {
                TEXT => {
                    return String::from_utf8(payload).map_err(|_| bad("text not UTF-8".into()))
                }
                PING => self.frame(PONG, &payload)?,
                PONG => {}
                CLOSE => return Err(bad("closed by the server".into())),
                other => return Err(bad(format!("unexpected frame opcode {other}"))),
            }
        }
    }

    fn read_frame(&mut self) -> io::Result<(u8, Vec<u8>)> {
        let mut head = [0; 2];
        self.stream.read_exact(&mut head)?;
        if head[0] & 0x80 == 0 || head[1] & 0x80 != 0 {
            return Err(bad(format!("fragmented or masked frame {head:?}")));
        }
        let length = match head[1] & 0x7f {
            126 => {
                let mut n = [0; 2];
                self.stream.read_exact(&mut n)?;
                u16::from_be_bytes(n) as usize
            }
            127 => {
                let mut n = [0; 8];
                self.stream.read_exact(&mut n)?;
                u64::from_be_bytes(n) as usize
            }
            n => n as usize,
        };
        let mut payload = vec![0; length];
        self.stream.read_exact(&mut payload)?;
        Ok((head[0] & 0x0f, payload))
    }

    /// Leaves as socket.io-client does: DISCONNECT, then the WebSocket close;
    /// returns once the server has closed too.
    pub fn leave(mut self) -> io::Result<()> {
        self.send("41")?;
        self.frame(CLOSE, &1000u16.to_be_bytes())?;
        loop {
            match self.read_frame() {
                Ok((CLOSE, _)) => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(e),
            }
        }
        // Until the server's end of TCP is closed as well.
        let mut rest = Vec::new();
        match self.stream.read_to_end(&mut rest) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => Ok(()),
            Err(e) => Err(e),
        }
    }
}
