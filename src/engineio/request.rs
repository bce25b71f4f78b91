//! What the layer above may know of the HTTP request that opened a session.

use std::net::IpAddr;

use http_types::Request;

use super::Protocol;

/// The handshake request of a session: its headers, query and peer address.
///
/// Kept for the session's whole life, so it is packed in one buffer: first
/// the table of where each name and value lies (two 16-bit offsets each, in
/// place of a string per name and value), then the peer's address, then the
/// headers' names and values, then the query's.
#[derive(Debug, Clone, Default)]
pub struct HandshakeRequest {
    packed: Box<[u8]>,
    /// How many pairs the table holds, and how many of them are headers.
    pairs: u16,
    headers: u16,
    /// Where the peer's address lies in the text, when it is known.
    peer_addr: Option<Span>,
    protocol: Protocol,
}

/// A range of [`HandshakeRequest`]'s text, which starts after the table.
#[derive(Debug, Clone, Copy)]
struct Span(u16, u16);

/// The bytes of one pair in the table: its name's and its value's span.
const PAIR_BYTES: usize = 8;

/// Builds a [`HandshakeRequest`]'s text and table. The text is at most
/// 64 KiB: a pair that would end past it is left out (a request head is at
/// most 16 KiB by default, see `crate::http`). The peer's address goes first,
/// so it is always kept.
struct Packer {
    text: String,
    table: Vec<u8>,
    pairs: u16,
}

impl Packer {
    fn span(&mut self, part: &str) -> Option<Span> {
        let start = u16::try_from(self.text.len()).ok()?;
        let end = u16::try_from(self.text.len() + part.len()).ok()?;
        self.text.push_str(part);
        Some(Span(start, end))
    }

    fn pair(&mut self, name: &str, value: &str) {
        if self.text.len() + name.len() + value.len() > usize::from(u16::MAX) {
            return;
        }
        let (Some(name), Some(value)) = (self.span(name), self.span(value)) else {
            return;
        };
        for offset in [name.0, name.1, value.0, value.1] {
            self.table.extend_from_slice(&offset.to_le_bytes());
        }
        self.pairs += 1;
    }
}

impl HandshakeRequest {
    pub(crate) fn from_request(req: &Request) -> HandshakeRequest {
        let headers = || req.iter().map(|(n, v)| (n.as_str(), v.as_str()));
        // The room it takes: the headers, the query as sent (decoding only
        // shortens it; form_urlencoded skips empty pairs) and the address,
        // so that the buffers are neither grown nor shrunk for the usual
        // request.
        let query = req.url().query().unwrap_or_default();
        let peer_addr = req.peer_addr();
        let text = headers().map(|(n, v)| n.len() + v.len()).sum::<usize>()
            + query.len()
            + peer_addr.map_or(0, str::len);
        let pairs = headers().count() + query.split('&').filter(|p| !p.is_empty()).count();
        HandshakeRequest::pack(headers(), req.url().query_pairs(), peer_addr, (text, pairs))
    }

    /// `room`: the text's length and the number of pairs, or an estimate.
    fn pack<'a, Q: AsRef<str>>(
        headers: impl Iterator<Item = (&'a str, &'a str)>,
        query: impl Iterator<Item = (Q, Q)>,
        peer_addr: Option<&str>,
        room: (usize, usize),
    ) -> HandshakeRequest {
        let mut packer = Packer {
            text: String::with_capacity(room.0.min(usize::from(u16::MAX))),
            table: Vec::with_capacity(room.1.min(usize::from(u16::MAX)) * PAIR_BYTES),
            pairs: 0,
        };
        let peer_addr = peer_addr.and_then(|addr| packer.span(addr));
        for (name, value) in headers {
            packer.pair(name, value);
        }
        let headers = packer.pairs;
        for (name, value) in query {
            packer.pair(name.as_ref(), value.as_ref());
        }
        // The table, then the text: one allocation of the exact size.
        let mut packed = Vec::with_capacity(packer.table.len() + packer.text.len());
        packed.extend_from_slice(&packer.table);
        packed.extend_from_slice(packer.text.as_bytes());
        let mut request = HandshakeRequest {
            packed: packed.into_boxed_slice(),
            pairs: packer.pairs,
            headers,
            peer_addr,
            protocol: Protocol::default(),
        };
        // The first EIO of the query.
        request.protocol = Protocol::from_eio(request.query("EIO"));
        request
    }

    #[cfg(test)]
    pub(crate) fn from_peer(peer_addr: &str) -> HandshakeRequest {
        let no_query = std::iter::empty::<(&str, &str)>();
        HandshakeRequest::pack(std::iter::empty(), no_query, Some(peer_addr), (0, 0))
            .with_protocol(Protocol::default())
    }

    #[cfg(test)]
    pub(crate) fn with_protocol(mut self, protocol: Protocol) -> HandshakeRequest {
        self.protocol = protocol;
        self
    }

    /// The text after the table (valid UTF-8: it was written from `&str`s,
    /// cut only at their ends).
    fn text(&self) -> &[u8] {
        let table = usize::from(self.pairs) * PAIR_BYTES;
        self.packed.get(table..).unwrap_or_default()
    }

    fn get(&self, span: Span) -> &str {
        let bytes = self
            .text()
            .get(usize::from(span.0)..usize::from(span.1))
            .unwrap_or_default();
        std::str::from_utf8(bytes).unwrap_or_default()
    }

    /// The `i`th pair of the table.
    fn pair(&self, i: usize) -> (Span, Span) {
        let at = |k: usize| {
            let start = i * PAIR_BYTES + 2 * k;
            match self.packed.get(start..start + 2) {
                Some(&[lo, hi]) => u16::from_le_bytes([lo, hi]),
                _ => 0,
            }
        };
        (Span(at(0), at(1)), Span(at(2), at(3)))
    }

    fn pairs(&self, headers: bool) -> impl Iterator<Item = (&str, &str)> {
        let split = usize::from(self.headers.min(self.pairs));
        let range = match headers {
            true => 0..split,
            false => split..usize::from(self.pairs),
        };
        range.map(|i| {
            let (name, value) = self.pair(i);
            (self.get(name), self.get(value))
        })
    }

    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The request's headers, names in lower case.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs(true)
    }

    /// The URL's query parameters in order, percent-decoded.
    pub fn query_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs(false)
    }

    /// The first query parameter named `name`.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query_pairs().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// The Engine.IO protocol the client asked for (its `EIO` parameter).
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The client's address as the socket saw it.
    pub fn peer_addr(&self) -> Option<&str> {
        self.peer_addr.map(|span| self.get(span))
    }

    /// The client's IP address: when the proxy in front is trusted, the last
    /// of `X-Forwarded-For`, the one that proxy added (those before it came
    /// from the client and prove nothing); else the socket's peer.
    pub fn client_ip(&self, trust_proxy: bool) -> Option<IpAddr> {
        crate::http::client_ip(
            self.peer_addr(),
            self.header("x-forwarded-for"),
            trust_proxy,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::HandshakeRequest;

    #[test]
    fn the_client_ip_comes_from_a_trusted_proxy_only() {
        let headers = [("X-Forwarded-For", "10.9.9.9, 203.0.113.9")];
        let no_query = std::iter::empty::<(&str, &str)>;
        let request = HandshakeRequest::pack(
            headers.into_iter(),
            no_query(),
            Some("10.0.0.1:5000"),
            (0, 0),
        );
        assert_eq!(request.client_ip(false), "10.0.0.1".parse().ok());
        assert_eq!(request.client_ip(true), "203.0.113.9".parse().ok());
        let direct = HandshakeRequest::from_peer("[::1]:80");
        assert_eq!(direct.client_ip(true), "::1".parse().ok());
        assert_eq!(HandshakeRequest::default().client_ip(true), None);
    }

    #[test]
    fn pairs_past_64_kib_are_left_out_and_the_peer_is_kept() {
        let big = "x".repeat(40_000);
        let headers = [("a", big.as_str()), ("b", big.as_str()), ("c", "3")];
        let query = [("EIO", "4")];
        let request = HandshakeRequest::pack(
            headers.into_iter(),
            query.into_iter(),
            Some("10.0.0.1:5000"),
            (0, 0),
        );
        let kept: Vec<_> = request.headers().map(|(n, v)| (n, v.len())).collect();
        assert_eq!(kept, [("a", 40_000), ("c", 1)]);
        assert_eq!(request.query("EIO"), Some("4"));
        assert_eq!(request.peer_addr(), Some("10.0.0.1:5000"));
    }

    #[test]
    fn a_request_is_packed_whole() {
        let url = "http://h/socket.io/?EIO=4&&transport=polling&q=a%20b+c&";
        let url = http_types::Url::parse(url).unwrap();
        let mut req = http_types::Request::new(http_types::Method::Get, url);
        req.insert_header("host", "h");
        req.set_peer_addr(Some("127.0.0.1:9"));
        let packed = HandshakeRequest::from_request(&req);
        assert_eq!(packed.headers().collect::<Vec<_>>(), [("host", "h")]);
        let query = [("EIO", "4"), ("transport", "polling"), ("q", "a b c")];
        assert_eq!(packed.query_pairs().collect::<Vec<_>>(), query);
        assert_eq!(packed.peer_addr(), Some("127.0.0.1:9"));
    }

    #[test]
    fn headers_and_query_are_read_back_as_they_came() {
        let headers = [("Host", "a:1"), ("Cookie", "s=1; t=2"), ("cookie", "u=3")];
        let query = [
            ("EIO", "3"),
            ("transport", "polling"),
            ("EIO", "4"),
            ("é", ""),
        ];
        let request = HandshakeRequest::pack(headers.into_iter(), query.into_iter(), None, (0, 0));
        assert_eq!(request.headers().collect::<Vec<_>>(), headers);
        assert_eq!(request.query_pairs().collect::<Vec<_>>(), query);
        assert_eq!(request.header("COOKIE"), Some("s=1; t=2"));
        assert_eq!(request.header("x"), None);
        assert_eq!(request.query("transport"), Some("polling"));
        assert_eq!(request.query("Host"), None, "headers are not query pairs");
        assert_eq!(
            request.protocol(),
            super::Protocol::V3,
            "the first EIO counts"
        );
        assert_eq!(request.peer_addr(), None);
    }
}
