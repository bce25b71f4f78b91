//! What the layer above may know of the HTTP request that opened a session.

use std::net::IpAddr;

use http_types::Request;

use super::Protocol;

/// The handshake request of a session: its headers, query and peer address.
///
/// Kept for the session's whole life, so it is packed: every name and value
/// in one buffer and their places in one table (two allocations, where a
/// string per name and value took some twenty).
#[derive(Debug, Clone, Default)]
pub struct HandshakeRequest {
    /// The headers' names and values, then the query's, then the peer's
    /// address, one after another.
    text: Box<str>,
    /// Where each header, then each query pair, lies in `text`.
    pairs: Box<[Pair]>,
    /// How many of `pairs` are headers.
    headers: u16,
    /// Where the peer's address lies in `text`, when it is known.
    peer_addr: Option<Span>,
    protocol: Protocol,
}

/// A range of [`HandshakeRequest::text`].
#[derive(Debug, Clone, Copy)]
struct Span(u32, u32);

#[derive(Debug, Clone, Copy)]
struct Pair {
    name: Span,
    value: Span,
}

/// Builds a [`HandshakeRequest`]'s buffer and table.
struct Packer {
    text: String,
    pairs: Vec<Pair>,
}

impl Packer {
    fn span(&mut self, part: &str) -> Span {
        let start = self.text.len();
        self.text.push_str(part);
        // A request head is at most 16 KiB (see `crate::http`), far below.
        let at = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Span(at(start), at(self.text.len()))
    }

    fn pair(&mut self, name: &str, value: &str) {
        let (name, value) = (self.span(name), self.span(value));
        self.pairs.push(Pair { name, value });
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

    /// `room`: the text's length and the number of pairs, or an estimate
    /// (the buffers are shrunk to fit when it was over).
    fn pack<'a, Q: AsRef<str>>(
        headers: impl Iterator<Item = (&'a str, &'a str)>,
        query: impl Iterator<Item = (Q, Q)>,
        peer_addr: Option<&str>,
        room: (usize, usize),
    ) -> HandshakeRequest {
        let mut packer = Packer {
            text: String::with_capacity(room.0),
            pairs: Vec::with_capacity(room.1),
        };
        for (name, value) in headers {
            packer.pair(name, value);
        }
        let headers = u16::try_from(packer.pairs.len()).unwrap_or(u16::MAX);
        for (name, value) in query {
            packer.pair(name.as_ref(), value.as_ref());
        }
        let peer_addr = peer_addr.map(|addr| packer.span(addr));
        let mut request = HandshakeRequest {
            text: packer.text.into_boxed_str(),
            pairs: packer.pairs.into_boxed_slice(),
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

    fn get(&self, span: Span) -> &str {
        self.text
            .get(span.0 as usize..span.1 as usize)
            .unwrap_or_default()
    }

    fn pairs(&self, headers: bool) -> impl Iterator<Item = (&str, &str)> {
        let (head, query) = self
            .pairs
            .split_at(usize::from(self.headers).min(self.pairs.len()));
        let pairs = if headers { head } else { query };
        pairs.iter().map(|p| (self.get(p.name), self.get(p.value)))
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
