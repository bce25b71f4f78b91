//! The chunked transfer coding of request bodies (RFC 9112 7.1), decoded
//! incrementally from whatever pieces the network delivers. Chunk extensions
//! and trailers are read, bounded and discarded. Sans-IO: bytes in, body
//! bytes out.

use std::fmt;

/// The longest chunk-size line, extensions included.
const MAX_SIZE_LINE: usize = 1024;
/// The most bytes of trailer lines.
const MAX_TRAILERS: usize = 8 * 1024;

/// Why a chunked body could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChunkedError {
    /// A chunk size that is not a hexadecimal number, or too large.
    BadSize,
    /// A chunk-size line longer than its limit.
    LineTooLong,
    /// A line that does not end with CRLF where one must.
    BadLineEnd,
    /// Trailers longer than their limit.
    TrailersTooLarge,
}

impl fmt::Display for ChunkedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChunkedError::BadSize => "bad chunk size",
            ChunkedError::LineTooLong => "chunk-size line too long",
            ChunkedError::BadLineEnd => "chunk line does not end with CRLF",
            ChunkedError::TrailersTooLarge => "chunked trailers too large",
        })
    }
}

impl std::error::Error for ChunkedError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading the hexadecimal size: its value and digits so far.
    Size(u64, u8),
    /// Past the size, up to the CR of the line.
    Extension(u64),
    SizeLf(u64),
    Data(u64),
    DataCr,
    DataLf,
    /// At the start of a trailer line, or of the final empty line.
    TrailerStart,
    TrailerLine,
    TrailerLf,
    FinalLf,
    Done,
}

/// Decodes one chunked body.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    line: usize,
    trailers: usize,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder::new()
    }
}

impl ChunkedDecoder {
    /// A decoder at the start of a body.
    pub fn new() -> ChunkedDecoder {
        ChunkedDecoder {
            state: State::Size(0, 0),
            line: 0,
            trailers: 0,
        }
    }

    /// Whether the whole body, trailers included, has been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes what it can of `input`, appending body bytes to `out`, and
    /// returns how many bytes of `input` it used: all of them unless the body
    /// ended (what follows belongs to the next request).
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, ChunkedError> {
        let mut at = 0;
        while at < input.len() {
            let byte = input[at];
            self.state = match self.state {
                State::Done => return Ok(at),
                State::Data(left) => {
                    let take = (input.len() - at).min(usize::try_from(left).unwrap_or(usize::MAX));
                    out.extend_from_slice(&input[at..at + take]);
                    at += take;
                    let left = left - take as u64;
                    self.state = if left == 0 {
                        State::DataCr
                    } else {
                        State::Data(left)
                    };
                    continue;
                }
                State::Size(value, digits) => self.size_byte(value, digits, byte)?,
                State::Extension(size) => match byte {
                    b'\r' => State::SizeLf(size),
                    b'\n' => return Err(ChunkedError::BadLineEnd),
                    _ => {
                        self.count_line()?;
                        State::Extension(size)
                    }
                },
                State::SizeLf(0) if byte == b'\n' => State::TrailerStart,
                State::SizeLf(size) if byte == b'\n' => State::Data(size),
                State::DataCr if byte == b'\r' => State::DataLf,
                State::DataLf if byte == b'\n' => {
                    self.line = 0;
                    State::Size(0, 0)
                }
                State::TrailerStart if byte == b'\r' => State::FinalLf,
                State::TrailerStart | State::TrailerLine if byte != b'\r' && byte != b'\n' => {
                    self.trailers += 1;
                    if self.trailers > MAX_TRAILERS {
                        return Err(ChunkedError::TrailersTooLarge);
                    }
                    State::TrailerLine
                }
                State::TrailerLine if byte == b'\r' => State::TrailerLf,
                State::TrailerLf if byte == b'\n' => State::TrailerStart,
                State::FinalLf if byte == b'\n' => State::Done,
                _ => return Err(ChunkedError::BadLineEnd),
            };
            at += 1;
        }
        Ok(at)
    }

    fn count_line(&mut self) -> Result<(), ChunkedError> {
        self.line += 1;
        if self.line > MAX_SIZE_LINE {
            return Err(ChunkedError::LineTooLong);
        }
        Ok(())
    }

    fn size_byte(&mut self, value: u64, digits: u8, byte: u8) -> Result<State, ChunkedError> {
        self.count_line()?;
        if let Some(digit) = (byte as char).to_digit(16) {
            // 15 hex digits are far beyond any body we accept.
            if digits >= 15 {
                return Err(ChunkedError::BadSize);
            }
            return Ok(State::Size(value * 16 + u64::from(digit), digits + 1));
        }
        if digits == 0 {
            return Err(ChunkedError::BadSize);
        }
        match byte {
            b'\r' => Ok(State::SizeLf(value)),
            b';' | b' ' | b'\t' => Ok(State::Extension(value)),
            _ => Err(ChunkedError::BadSize),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `pieces` fed one after the other: the body and the bytes left.
    fn decode(pieces: &[&[u8]]) -> Result<(Vec<u8>, Vec<u8>), ChunkedError> {
        let mut decoder = ChunkedDecoder::new();
        let mut body = Vec::new();
        let mut rest = Vec::new();
        for piece in pieces {
            let used = decoder.decode(piece, &mut body)?;
            rest.extend_from_slice(&piece[used..]);
        }
        assert!(decoder.is_done(), "not done");
        Ok((body, rest))
    }

    const BODY: &[u8] = b"5\r\nhello\r\n6;name=\"v\"\r\n world\r\n0\r\nX-Trailer: \xff\r\n\r\nNEXT";

    #[test]
    fn whole_and_split_at_every_byte() {
        let (body, rest) = decode(&[BODY]).unwrap();
        assert_eq!(body, b"hello world");
        assert_eq!(rest, b"NEXT");
        for split in 0..BODY.len() {
            let (body, rest) = decode(&[&BODY[..split], &BODY[split..]]).unwrap();
            assert_eq!(
                (body.as_slice(), rest.as_slice()),
                (&b"hello world"[..], &b"NEXT"[..])
            );
        }
        let bytes: Vec<&[u8]> = BODY.chunks(1).collect();
        assert_eq!(decode(&bytes).unwrap().0, b"hello world");
    }

    #[test]
    fn an_empty_body() {
        assert_eq!(decode(&[b"0\r\n\r\n"]).unwrap(), (vec![], vec![]));
        assert_eq!(decode(&[b"000\r\n\r\n"]).unwrap().0, b"");
    }

    #[test]
    fn unfinished_is_not_done() {
        let mut decoder = ChunkedDecoder::new();
        let mut body = Vec::new();
        assert_eq!(decoder.decode(b"0\r\nX: a", &mut body), Ok(7));
        assert!(!decoder.is_done());
    }

    #[test]
    fn refusals() {
        let cases: [(&[u8], ChunkedError); 7] = [
            (b"x\r\n", ChunkedError::BadSize),
            (b"\r\n", ChunkedError::BadSize),
            (b"1000000000000000\r\n", ChunkedError::BadSize),
            (b"5\nhello", ChunkedError::BadSize),
            (b"5\r\nhelloX", ChunkedError::BadLineEnd),
            (b"0\r\nX: a\n", ChunkedError::BadLineEnd),
            (b"1;aaaaaaaaaa", ChunkedError::LineTooLong),
        ];
        for (input, error) in cases {
            let mut input = input.to_vec();
            if error == ChunkedError::LineTooLong {
                input.extend(std::iter::repeat_n(b'a', MAX_SIZE_LINE));
            }
            let mut body = Vec::new();
            let got = ChunkedDecoder::new().decode(&input, &mut body);
            assert_eq!(got, Err(error), "{:?}", String::from_utf8_lossy(&input));
        }
        let mut trailers = b"0\r\n".to_vec();
        trailers.extend(std::iter::repeat_n(b'a', MAX_TRAILERS + 1));
        let got = ChunkedDecoder::new().decode(&trailers, &mut Vec::new());
        assert_eq!(got, Err(ChunkedError::TrailersTooLarge));
    }
}
