//! What the layer above may know of the HTTP request that opened a session.

use http_types::Request;

/// The handshake request of a session: its headers, query and peer address.
#[derive(Debug, Clone, Default)]
pub struct HandshakeRequest {
    headers: Vec<(String, String)>,
    query: Vec<(String, String)>,
    peer_addr: Option<String>,
}

impl HandshakeRequest {
    pub(crate) fn from_request(req: &Request) -> HandshakeRequest {
        let headers = req
            .iter()
            .map(|(name, values)| (name.as_str().to_owned(), values.as_str().to_owned()))
            .collect();
        HandshakeRequest {
            headers,
            query: req
                .url()
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
            peer_addr: req.peer_addr().map(str::to_owned),
        }
    }

    /// A header's value (the first, for a repeated header), by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A query parameter's value.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The client's address as the socket saw it.
    pub fn peer_addr(&self) -> Option<&str> {
        self.peer_addr.as_deref()
    }
}
