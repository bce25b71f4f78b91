//! What the layer above may know of the HTTP request that opened a session.

use std::net::IpAddr;

use http_types::Request;

use super::Protocol;

/// The handshake request of a session: its headers, query and peer address.
#[derive(Debug, Clone, Default)]
pub struct HandshakeRequest {
    headers: Vec<(String, String)>,
    query: Vec<(String, String)>,
    peer_addr: Option<String>,
    protocol: Protocol,
}

impl HandshakeRequest {
    pub(crate) fn from_request(req: &Request) -> HandshakeRequest {
        let headers = req
            .iter()
            .map(|(name, values)| (name.as_str().to_owned(), values.as_str().to_owned()))
            .collect();
        HandshakeRequest {
            headers,
            protocol: Protocol::from_eio(
                req.url()
                    .query_pairs()
                    .find(|(k, _)| k == "EIO")
                    .map(|(_, v)| v)
                    .as_deref(),
            ),
            query: req
                .url()
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
            peer_addr: req.peer_addr().map(str::to_owned),
        }
    }

    /// A request with only a peer address (for tests of what counts by it).
    #[cfg(test)]
    pub(crate) fn from_peer(peer_addr: &str) -> HandshakeRequest {
        HandshakeRequest {
            peer_addr: Some(peer_addr.to_owned()),
            ..HandshakeRequest::default()
        }
    }

    /// The same request, from a client of another revision (for tests).
    #[cfg(test)]
    pub(crate) fn with_protocol(mut self, protocol: Protocol) -> HandshakeRequest {
        self.protocol = protocol;
        self
    }

    /// A header's value (the first, for a repeated header), by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header as `(name, value)`, in the order they came.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Every query parameter as `(name, value)`, in the order they came.
    pub fn query_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.query.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// A query parameter's value.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The Engine.IO revision the client speaks.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The client's address as the socket saw it.
    pub fn peer_addr(&self) -> Option<&str> {
        self.peer_addr.as_deref()
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
        let request = HandshakeRequest {
            headers: vec![("X-Forwarded-For".into(), "10.9.9.9, 203.0.113.9".into())],
            query: Vec::new(),
            peer_addr: Some("10.0.0.1:5000".into()),
            protocol: super::Protocol::V4,
        };
        assert_eq!(request.client_ip(false), "10.0.0.1".parse().ok());
        assert_eq!(request.client_ip(true), "203.0.113.9".parse().ok());
        let direct = HandshakeRequest {
            peer_addr: Some("[::1]:80".into()),
            ..HandshakeRequest::default()
        };
        assert_eq!(direct.client_ip(true), "::1".parse().ok());
        assert_eq!(HandshakeRequest::default().client_ip(true), None);
    }
}
