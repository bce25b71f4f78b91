//! Who a request came from: the socket's peer, or, behind a trusted reverse
//! proxy, the address that proxy added to `X-Forwarded-For`.

use std::net::{IpAddr, SocketAddr};

/// The client's address from the socket's peer address (`ip:port`) and the
/// `X-Forwarded-For` header. With `trust_proxy`, the header's last entry is
/// taken: the proxy appends the address it saw, and the entries before it
/// are the client's to write.
pub fn client_ip(
    peer_addr: Option<&str>,
    forwarded_for: Option<&str>,
    trust_proxy: bool,
) -> Option<IpAddr> {
    let forwarded = trust_proxy
        .then_some(forwarded_for)
        .flatten()
        .and_then(|v| v.rsplit(',').next()?.trim().parse().ok());
    forwarded.or_else(|| Some(peer_addr?.parse::<SocketAddr>().ok()?.ip()))
}

#[cfg(test)]
mod tests {
    use super::client_ip;

    #[test]
    fn a_trusted_proxy_names_the_client_last() {
        let peer = Some("10.0.0.1:5000");
        let forwarded = Some("10.9.9.9, 203.0.113.9");
        assert_eq!(client_ip(peer, forwarded, false), "10.0.0.1".parse().ok());
        assert_eq!(client_ip(peer, forwarded, true), "203.0.113.9".parse().ok());
        assert_eq!(client_ip(peer, Some("junk"), true), "10.0.0.1".parse().ok());
        assert_eq!(client_ip(Some("[::1]:80"), None, true), "::1".parse().ok());
        assert_eq!(client_ip(None, None, false), None);
    }
}
