//! The write half of a WebSocket connection. A server's frames are unmasked,
//! so a frame is a short header before the packet's bytes and one encoded
//! packet serves every recipient. A frame goes to the socket at once, from
//! whichever task sends it (a broadcast writes to each receiver without waking
//! its task); only what the socket does not take waits here, in order, for the
//! connection's task to write once the socket is writable again.
//!
//! What waits is counted at what it costs in memory, not only its bytes: each
//! waiting chunk adds [`CHUNK_COST`], so a client that reads nothing while
//! asking for many small frames (pongs, acks) reaches the cap as soon as one
//! sending large ones does. Over the cap, the backlog is dropped at once and
//! the writer fails; its session ends.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use async_tungstenite::tungstenite::Bytes;

use crate::engineio::packet::Frame;
use crate::http::Socket;
use crate::metrics::Metrics;

/// The most slices handed to one `writev`.
const MAX_SLICES: usize = 32;

/// What one waiting chunk costs beyond its bytes: its slot in the queue (a
/// `Bytes`, up to twice over as the queue doubles) and the allocation behind
/// it (a small frame copied with its header, a header alone, or the shared
/// handle of a large frame's data: each one heap block of 32 bytes or so).
pub(crate) const CHUNK_COST: usize = 2 * std::mem::size_of::<Bytes>() + 32;

/// A frame's data up to this size is copied together with its header into
/// one chunk when it must wait: one allocation rather than two handles.
const SMALL_FRAME: usize = 256;

/// What became of frames handed to [`WsWriter::send`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sent {
    /// All written to the socket.
    Written,
    /// Some wait for the socket, within the cap.
    Queued,
    /// What waits went over the cap: it was dropped and the writer failed.
    OverCap,
    /// The connection failed; nothing more can be written.
    Failed,
}

/// The write half; see the module documentation.
pub(crate) struct WsWriter {
    socket: Socket,
    backlog: Mutex<Backlog>,
    /// A byte written before each binary message's data (Engine.IO 3's
    /// packet type), as part of its header: the data stays shared.
    binary_prefix: Option<u8>,
    /// The server's counters, bumped for each frame sent.
    metrics: Arc<Metrics>,
}

/// Bytes the socket has not taken yet, in the order they must go out.
#[derive(Default)]
struct Backlog {
    chunks: VecDeque<Bytes>,
    bytes: usize,
    /// The most [`Backlog::cost`] allowed.
    max_cost: usize,
    failed: bool,
    /// The writer failed because the backlog went over the cap.
    over_cap: bool,
}

impl Backlog {
    /// The memory what waits takes, as counted against the cap.
    fn cost(&self) -> usize {
        self.bytes + self.chunks.len() * CHUNK_COST
    }

    /// Drops everything that waits and fails the writer.
    fn drop_all(&mut self) {
        self.chunks = VecDeque::new();
        self.bytes = 0;
        self.failed = true;
    }

    /// Fails the writer, freeing the backlog, when it is over the cap.
    fn check_cap(&mut self) -> bool {
        if self.cost() > self.max_cost {
            self.drop_all();
            self.over_cap = true;
        }
        self.over_cap
    }

    fn push(&mut self, chunk: Bytes) {
        if !chunk.is_empty() {
            self.bytes += chunk.len();
            self.chunks.push_back(chunk);
        }
    }

    /// Drops the first `n` bytes, which the socket took.
    fn consume(&mut self, mut n: usize) {
        self.bytes -= n;
        while n > 0 {
            let Some(front) = self.chunks.front_mut() else {
                return;
            };
            if n < front.len() {
                *front = front.slice(n..);
                return;
            }
            n -= front.len();
            self.chunks.pop_front();
        }
        if self.chunks.is_empty() && self.chunks.capacity() > 16 {
            self.chunks = VecDeque::new();
        }
    }
}

impl WsWriter {
    /// A writer to `socket` that lets at most `max_queued` bytes (at their
    /// cost in memory) wait for it; over that, the backlog is dropped and the
    /// writer fails.
    pub(crate) fn new(
        socket: Socket,
        max_queued: usize,
        binary_prefix: Option<u8>,
        metrics: Arc<Metrics>,
    ) -> WsWriter {
        WsWriter {
            socket,
            backlog: Mutex::new(Backlog {
                max_cost: max_queued,
                ..Backlog::default()
            }),
            binary_prefix,
            metrics,
        }
    }

    /// True once the writer failed because too much waited.
    pub(crate) fn over_cap(&self) -> bool {
        self.lock().over_cap
    }

    /// True once nothing more can be written.
    pub(crate) fn failed(&self) -> bool {
        self.lock().failed
    }

    fn lock(&self) -> MutexGuard<'_, Backlog> {
        // Every critical section leaves the backlog whole.
        self.backlog.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes each frame as one WebSocket message: now, where nothing waits
    /// before it and the socket takes it; else after what waits.
    pub(crate) fn send(&self, frames: &[Frame]) -> Sent {
        let mut backlog = self.lock();
        if backlog.failed {
            return if backlog.over_cap {
                Sent::OverCap
            } else {
                Sent::Failed
            };
        }
        for frame in frames {
            let (opcode, payload, prefix) = match frame {
                Frame::Text(text) => (Opcode::Text, AsRef::<Bytes>::as_ref(text), None),
                Frame::Binary(data) => (Opcode::Binary, data, self.binary_prefix),
            };
            let header = Header::new(opcode, payload.len(), prefix);
            self.metrics.packets_out.inc();
            self.metrics.bytes_out.add(payload.len());
            if self
                .write(&mut backlog, header.as_bytes(), payload)
                .is_err()
            {
                backlog.failed = true;
            }
            if backlog.check_cap() {
                return Sent::OverCap;
            }
            if backlog.failed {
                return Sent::Failed;
            }
        }
        match backlog.bytes {
            0 => Sent::Written,
            _ => Sent::Queued,
        }
    }

    /// Writes bytes already framed (tungstenite's pongs and close frames).
    pub(crate) fn send_raw(&self, bytes: &[u8]) -> io::Result<()> {
        let mut backlog = self.lock();
        if backlog.failed {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let written = self.write(&mut backlog, bytes, &Bytes::new());
        if written.is_err() {
            backlog.failed = true;
        }
        if backlog.check_cap() {
            return Err(io::ErrorKind::OutOfMemory.into());
        }
        written
    }

    /// Writes `head` then `body` unless something waits already; keeps what
    /// the socket did not take.
    fn write(&self, backlog: &mut Backlog, head: &[u8], body: &Bytes) -> io::Result<()> {
        let mut written = 0;
        if backlog.chunks.is_empty() {
            let slices = [IoSlice::new(head), IoSlice::new(body)];
            written = match self.socket.write_now(&slices) {
                Ok(n) => n,
                Err(err) if is_transient(&err) => 0,
                Err(err) => return Err(err),
            };
        }
        if written < head.len() {
            if body.len() <= SMALL_FRAME {
                backlog.push(Bytes::from([&head[written..], &body[..]].concat()));
            } else {
                backlog.push(Bytes::copy_from_slice(&head[written..]));
                backlog.push(body.clone());
            }
        } else {
            backlog.push(body.slice(written - head.len()..));
        }
        Ok(())
    }

    /// Makes the socket's close a reset (`SO_LINGER` 0): what waits here and
    /// in the kernel is dropped at once instead of waiting on a client that
    /// reads nothing.
    pub(crate) fn reset(&self) {
        self.lock().drop_all();
        // A socket that cannot take the option is closed all the same.
        let _ = rustix::net::sockopt::set_socket_linger(&self.socket, Some(Duration::ZERO));
    }

    /// True when bytes wait for the socket.
    pub(crate) fn has_backlog(&self) -> bool {
        !self.lock().chunks.is_empty()
    }

    /// Writes what waits; ready once all of it is written (or writing failed).
    pub(crate) fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            {
                let mut backlog = self.lock();
                if backlog.failed {
                    return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
                }
                match self.write_backlog(&mut backlog) {
                    Ok(true) => return Poll::Ready(Ok(())),
                    Ok(false) => {}
                    Err(err) => {
                        backlog.failed = true;
                        return Poll::Ready(Err(err));
                    }
                }
            }
            if let Err(err) = std::task::ready!(self.socket.poll_writable(cx)) {
                self.lock().failed = true;
                return Poll::Ready(Err(err));
            }
        }
    }

    /// Writes until the backlog is empty (true) or the socket is full (false).
    fn write_backlog(&self, backlog: &mut Backlog) -> io::Result<bool> {
        while !backlog.chunks.is_empty() {
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let count = backlog.chunks.len().min(MAX_SLICES);
            for (slice, chunk) in slices.iter_mut().zip(&backlog.chunks) {
                *slice = IoSlice::new(chunk);
            }
            match self.socket.write_now(&slices[..count]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => backlog.consume(n),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(err) => return Err(err),
            }
        }
        Ok(true)
    }
}

fn is_transient(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

/// The frame types the server writes on its own.
#[derive(Debug, Clone, Copy)]
enum Opcode {
    Text = 0x1,
    Binary = 0x2,
}

/// A final, unmasked frame's header (RFC 6455, section 5.2).
struct Header {
    bytes: [u8; 11],
    len: usize,
}

impl Header {
    /// The header of a frame of `payload_len` bytes, and of `prefix` before
    /// them when there is one (it is written as the header's last byte).
    fn new(opcode: Opcode, payload_len: usize, prefix: Option<u8>) -> Header {
        const FIN: u8 = 0x80;
        let payload_len = payload_len + usize::from(prefix.is_some());
        let mut bytes = [0; 11];
        bytes[0] = FIN | opcode as u8;
        let len = if payload_len < 126 {
            bytes[1] = payload_len as u8;
            2
        } else if let Ok(short) = u16::try_from(payload_len) {
            bytes[1] = 126;
            bytes[2..4].copy_from_slice(&short.to_be_bytes());
            4
        } else {
            bytes[1] = 127;
            bytes[2..10].copy_from_slice(&(payload_len as u64).to_be_bytes());
            10
        };
        let len = match prefix {
            Some(byte) => {
                bytes[len] = byte;
                len + 1
            }
            None => len,
        };
        Header { bytes, len }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Read};
    use std::net::{TcpListener, TcpStream};
    use std::sync::Arc;

    use async_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    use async_tungstenite::tungstenite::protocol::frame::FrameHeader;
    use async_tungstenite::tungstenite::protocol::{Role, WebSocket};
    use async_tungstenite::tungstenite::{Bytes, Message};
    use smol::Async;

    use super::{Header, Opcode, Sent, WsWriter, CHUNK_COST};
    use crate::engineio::packet::Frame;

    #[test]
    fn headers_parse_back_at_every_length_size() {
        for len in [0, 1, 125, 126, 127, 65_535, 65_536, 1 << 33] {
            let header = Header::new(Opcode::Binary, len, None);
            let mut cursor = Cursor::new(header.as_bytes());
            let (parsed, parsed_len) = FrameHeader::parse(&mut cursor).unwrap().unwrap();
            assert_eq!(parsed_len, len as u64, "length {len}");
            assert!(parsed.is_final);
            assert_eq!(parsed.opcode, OpCode::Data(Data::Binary));
            assert_eq!(parsed.mask, None);
            assert_eq!(cursor.position() as usize, header.as_bytes().len());
        }
        let text = Header::new(Opcode::Text, 3, None);
        assert_eq!(text.as_bytes(), [0x81, 3]);
    }

    #[test]
    fn an_engine_io_3_binary_message_carries_its_type_byte() {
        let (server, client) = socket_pair();
        let writer = WsWriter::new(server, 1 << 20, Some(4), Default::default());
        for len in [3, 200, 70_000] {
            let data = Bytes::from(vec![9u8; len]);
            let sent = writer.send(&[Frame::message("x"), Frame::Binary(data)]);
            assert_ne!(sent, Sent::Failed);
        }
        let reader = std::thread::spawn(move || {
            let mut ws = WebSocket::from_raw_socket(client, Role::Client, None);
            (0..6).map(|_| ws.read().unwrap()).collect::<Vec<_>>()
        });
        smol::block_on(std::future::poll_fn(|cx| writer.poll_flush(cx))).unwrap();
        let messages = reader.join().unwrap();
        for (i, len) in [3, 200, 70_000].into_iter().enumerate() {
            assert_eq!(messages[2 * i], Message::Text("4x".into()));
            let mut expected = vec![4u8];
            expected.resize(len + 1, 9);
            assert_eq!(messages[2 * i + 1], Message::Binary(expected.into()));
        }
    }

    fn socket_pair() -> (crate::http::Socket, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let server = crate::http::Socket::Tcp(Arc::new(Async::new(server).unwrap()));
        (server, client)
    }

    #[test]
    fn a_slow_reader_gets_every_frame_in_order() {
        let (server, client) = socket_pair();
        let writer = WsWriter::new(server, 16 << 20, None, Default::default());
        let big = Bytes::from(vec![7u8; 200_000]);
        let mut queued = false;
        for i in 0..40 {
            let text = Frame::message(&format!("n{i}"));
            match writer.send(&[text.clone(), Frame::Binary(big.clone())]) {
                Sent::Written => {}
                Sent::Queued => queued = true,
                other => panic!("write failed: {other:?}"),
            }
        }
        assert!(queued, "the socket took 8 MB without a reader");
        let reader = std::thread::spawn(move || {
            let mut ws = WebSocket::from_raw_socket(client, Role::Client, None);
            let mut seen = Vec::new();
            for _ in 0..80 {
                match ws.read().unwrap() {
                    Message::Text(text) => seen.push(text.to_string()),
                    Message::Binary(data) => assert_eq!(data.len(), 200_000),
                    other => panic!("unexpected {other:?}"),
                }
            }
            seen
        });
        smol::block_on(std::future::poll_fn(|cx| writer.poll_flush(cx))).unwrap();
        assert!(!writer.has_backlog());
        let seen = reader.join().unwrap();
        let expected: Vec<String> = (0..40).map(|i| format!("4n{i}")).collect();
        assert_eq!(seen, expected);
    }

    /// Fills the socket and the kernel's buffers, so what follows waits.
    fn fill(writer: &WsWriter) {
        let big = Frame::Binary(Bytes::from(vec![0u8; 64 << 10]));
        while writer.send(std::slice::from_ref(&big)) == Sent::Written {}
        assert!(writer.has_backlog());
    }

    #[test]
    fn small_frames_count_at_their_cost_in_memory() {
        let (server, _client) = socket_pair();
        let writer = WsWriter::new(server, 1 << 20, None, Default::default());
        fill(&writer);
        let before = writer.lock().cost();
        let ack = Frame::message("31[]");
        for _ in 0..100 {
            assert_eq!(writer.send(std::slice::from_ref(&ack)), Sent::Queued);
        }
        let added = writer.lock().cost() - before;
        // The frame's 7 bytes (a 2-byte header and `431[]`) and one chunk's overhead each.
        assert_eq!(added, 100 * (7 + CHUNK_COST));
    }

    #[test]
    fn control_frames_are_capped_too_and_the_backlog_is_freed() {
        let (server, _client) = socket_pair();
        let writer = WsWriter::new(server, 1 << 20, None, Default::default());
        fill(&writer);
        let pong = [0x8a, 0x00];
        let mut sent = 0;
        while writer.send_raw(&pong).is_ok() {
            sent += 1;
            assert!(sent < 1 << 20, "pongs queued without limit");
        }
        assert!(writer.over_cap());
        assert!(writer.failed());
        assert!(!writer.has_backlog());
        assert_eq!(writer.lock().cost(), 0);
        // About the cap's worth of pongs, counted at what they cost.
        assert!(sent < (1 << 20) / CHUNK_COST, "{sent} pongs before the cap");
        assert_eq!(writer.send(&[Frame::message("x")]), Sent::OverCap);
    }

    #[test]
    fn engine_frames_over_the_cap_fail_the_writer() {
        let (server, _client) = socket_pair();
        let writer = WsWriter::new(server, 1 << 20, None, Default::default());
        let big = Frame::Binary(Bytes::from(vec![0u8; 64 << 10]));
        let over = (0..1000).find_map(|_| match writer.send(std::slice::from_ref(&big)) {
            Sent::Written | Sent::Queued => None,
            other => Some(other),
        });
        assert_eq!(over, Some(Sent::OverCap));
        assert!(writer.over_cap() && !writer.has_backlog());
    }

    #[test]
    fn a_closed_peer_fails_the_writer() {
        let (server, mut client) = socket_pair();
        let writer = WsWriter::new(server, 8 << 20, None, Default::default());
        client.shutdown(std::net::Shutdown::Both).unwrap();
        let mut buf = [0; 1];
        assert_eq!(client.read(&mut buf).unwrap(), 0);
        drop(client);
        let big = Frame::Binary(Bytes::from(vec![0u8; 100_000]));
        let failed = (0..1000).any(|_| writer.send(std::slice::from_ref(&big)) == Sent::Failed);
        assert!(failed);
        assert!(writer.send_raw(b"\x88\x00").is_err());
    }
}
