//! Pipelined requests on async-h1: it reads each request through a buffer of
//! its own and drops whatever it read past that request's end. [`Replay`]
//! wraps the TCP stream, works out where each request ends, and hands the
//! bytes past it to the next read, so a pipelined request is answered.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use smol::io::{AsyncRead, AsyncWrite};
use smol::net::TcpStream;

/// The most bytes kept past a request's end; more ends the bookkeeping.
const MAX_KEPT: usize = 64 * 1024;
/// The longest request head async-h1 accepts.
const MAX_HEAD: usize = 8 * 1024;

/// Where in a request the bytes read so far have reached.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Head,
    Body {
        remaining: u64,
    },
    /// Past the request's end: bytes are kept for the next request.
    Beyond,
    /// The end cannot be known (a chunked body) or no longer matters.
    Untracked,
}

/// The bookkeeping, apart from any I/O.
#[derive(Debug)]
struct Ledger {
    phase: Phase,
    head: Vec<u8>,
    kept: Vec<u8>,
}

impl Ledger {
    fn new() -> Ledger {
        Ledger {
            phase: Phase::Head,
            head: Vec::new(),
            kept: Vec::new(),
        }
    }

    /// Accounts for bytes handed to async-h1.
    fn record(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match self.phase {
                Phase::Head => {
                    let before = self.head.len();
                    self.head.extend_from_slice(bytes);
                    let Some(end) = find_head_end(&self.head) else {
                        if self.head.len() > MAX_HEAD {
                            self.phase = Phase::Untracked;
                        }
                        return;
                    };
                    bytes = &bytes[end - before..];
                    self.phase = match body_length(&self.head[..end]) {
                        Some(0) => Phase::Beyond,
                        Some(len) => Phase::Body { remaining: len },
                        None => Phase::Untracked,
                    };
                    self.head.clear();
                }
                Phase::Body { remaining } => {
                    let take = remaining.min(bytes.len() as u64);
                    bytes = &bytes[take as usize..];
                    self.phase = match remaining - take {
                        0 => Phase::Beyond,
                        left => Phase::Body { remaining: left },
                    };
                }
                Phase::Beyond => {
                    if self.kept.len() + bytes.len() > MAX_KEPT {
                        self.phase = Phase::Untracked;
                        self.kept = Vec::new();
                    } else {
                        self.kept.extend_from_slice(bytes);
                    }
                    return;
                }
                Phase::Untracked => return,
            }
        }
    }

    /// The request was answered: the bytes read past it, if its end was known.
    fn finish(&mut self) -> Option<Vec<u8>> {
        let kept = std::mem::take(&mut self.kept);
        let known = matches!(self.phase, Phase::Beyond);
        self.phase = Phase::Head;
        self.head.clear();
        known.then_some(kept)
    }
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// The body length a request head announces: 0 without one, `None` when
/// chunked (or unreadable, which async-h1 refuses anyway).
fn body_length(head: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(head).ok()?;
    let mut length = 0;
    for line in text.split("\r\n").skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            return None;
        }
        if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse().ok()?;
        }
    }
    Some(length)
}

/// A TCP stream that gives back what async-h1 read past a request.
#[derive(Clone)]
pub(crate) struct Replay {
    stream: TcpStream,
    state: Arc<Mutex<State>>,
}

struct State {
    ledger: Ledger,
    /// Bytes to hand out again before reading the socket.
    pending: Vec<u8>,
    tracking: bool,
}

impl Replay {
    pub(crate) fn new(stream: TcpStream) -> Replay {
        let state = State {
            ledger: Ledger::new(),
            pending: Vec::new(),
            tracking: true,
        };
        Replay {
            stream,
            state: Arc::new(Mutex::new(state)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Called between requests. False when the next request cannot be read
    /// reliably (the last one's end was unknown): close the connection.
    pub(crate) fn next_request(&self) -> bool {
        let mut state = self.lock();
        match state.ledger.finish() {
            Some(mut kept) => {
                kept.append(&mut state.pending);
                state.pending = kept;
                true
            }
            None => false,
        }
    }

    /// The connection left HTTP (a WebSocket): stop the bookkeeping, and keep
    /// what was read past the last request for the protocol that takes over.
    pub(crate) fn stop_tracking(&self) {
        Self::stop(&mut self.lock());
    }

    fn stop(state: &mut State) {
        if state.tracking {
            let mut kept = state.ledger.finish().unwrap_or_default();
            kept.append(&mut state.pending);
            state.pending = kept;
        }
        state.tracking = false;
        state.ledger = Ledger::new();
    }

    /// Stops the bookkeeping and takes the bytes read from the socket that
    /// nobody has consumed yet.
    pub(crate) fn take_unread(&self) -> Vec<u8> {
        let mut state = self.lock();
        Self::stop(&mut state);
        std::mem::take(&mut state.pending)
    }
}

impl AsyncRead for Replay {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let mut state = this.lock();
        if !state.pending.is_empty() {
            let n = state.pending.len().min(buf.len());
            buf[..n].copy_from_slice(&state.pending[..n]);
            state.pending.drain(..n);
            if state.tracking {
                state.ledger.record(&buf[..n]);
            }
            return Poll::Ready(Ok(n));
        }
        let tracking = state.tracking;
        drop(state);
        let read = Pin::new(&mut this.stream).poll_read(cx, buf);
        if let (true, Poll::Ready(Ok(n))) = (tracking, &read) {
            let mut state = this.lock();
            if state.tracking {
                state.ledger.record(&buf[..*n]);
            }
        }
        read
    }
}

impl AsyncWrite for Replay {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GET: &[u8] = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
    const POST: &[u8] = b"POST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";

    #[test]
    fn keeps_what_follows_a_request() {
        let mut ledger = Ledger::new();
        let both = [GET, POST].concat();
        ledger.record(&both);
        assert_eq!(ledger.finish(), Some(POST.to_vec()));
        ledger.record(POST);
        assert_eq!(ledger.finish(), Some(Vec::new()));
    }

    #[test]
    fn follows_bodies_across_reads() {
        let mut ledger = Ledger::new();
        let both = [POST, GET].concat();
        for chunk in both.chunks(3) {
            ledger.record(chunk);
        }
        assert_eq!(ledger.finish(), Some(GET.to_vec()));
    }

    #[test]
    fn chunked_bodies_and_oversized_heads_are_untracked() {
        let mut ledger = Ledger::new();
        ledger.record(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        );
        assert_eq!(ledger.finish(), None);
        ledger.record(&vec![b'a'; MAX_HEAD + 10]);
        assert_eq!(ledger.finish(), None);
        ledger.record(b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n");
        assert_eq!(ledger.finish(), None);
    }

    #[test]
    fn stopping_keeps_what_was_read_past_the_last_request() {
        let mut state = State {
            ledger: Ledger::new(),
            pending: b"-later".to_vec(),
            tracking: true,
        };
        state.ledger.record(&[GET, b"frame"].concat());
        Replay::stop(&mut state);
        assert_eq!(state.pending, b"frame-later");
        assert!(!state.tracking);
        Replay::stop(&mut state);
        assert_eq!(state.pending, b"frame-later");
    }

    #[test]
    fn stops_keeping_past_the_limit() {
        let mut ledger = Ledger::new();
        ledger.record(GET);
        ledger.record(&vec![0; MAX_KEPT + 1]);
        assert_eq!(ledger.finish(), None);
    }
}
