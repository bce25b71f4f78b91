//! Fuzz target: the chunked transfer coding decoder.

use crate::http::chunked::ChunkedDecoder;

/// The input is a chunked body and what follows it; its first byte also picks
/// where the network splits it. Properties: split or whole, the decoder gives
/// the same body, end and leftover; it stops at the end of the body; and any
/// body cut into chunks decodes back to itself.
pub fn http_chunked(data: &[u8]) {
    let Some((&split, input)) = data.split_first() else {
        return;
    };
    let whole = decode(&[input]);
    let at = usize::from(split).min(input.len());
    let (first, second) = input.split_at(at);
    assert_eq!(decode(&[first, second]), whole);

    // The input as a body, cut into chunks of `split` bytes (1 at least).
    let size = usize::from(split).max(1);
    let mut encoded = Vec::new();
    for chunk in input.chunks(size) {
        encoded.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        encoded.extend_from_slice(chunk);
        encoded.extend_from_slice(b"\r\n");
    }
    encoded.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(decode(&[&encoded]), Ok((input.to_vec(), true, Vec::new())));
}

/// Feeds `pieces` in turn: the body, whether it ended, and the bytes left.
fn decode(
    pieces: &[&[u8]],
) -> Result<(Vec<u8>, bool, Vec<u8>), crate::http::chunked::ChunkedError> {
    let mut decoder = ChunkedDecoder::new();
    let mut body = Vec::new();
    let mut left = Vec::new();
    for piece in pieces {
        let used = decoder.decode(piece, &mut body)?;
        assert!(used <= piece.len());
        if used < piece.len() {
            assert!(decoder.is_done());
        }
        left.extend_from_slice(&piece[used..]);
    }
    Ok((body, decoder.is_done(), left))
}
