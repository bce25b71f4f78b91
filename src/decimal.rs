//! Integers as decimal text without the formatting machinery, for the paths
//! every connection or packet takes (a packet's ack id, a peer's port).

/// `n` in decimal, written at the end of `digits`.
pub(crate) fn text(mut n: u64, digits: &mut [u8; 20]) -> &str {
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&digits[at..]).unwrap_or("0")
}

/// Appends `n` in decimal.
pub(crate) fn push(out: &mut String, n: u64) {
    out.push_str(text(n, &mut [0u8; 20]));
}

#[cfg(test)]
mod tests {
    #[test]
    fn decimals_are_written_as_fmt_writes_them() {
        for n in [0, 7, 10, 12345, u64::MAX] {
            assert_eq!(super::text(n, &mut [0u8; 20]), n.to_string());
        }
    }
}
