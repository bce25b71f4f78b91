//! Who may read `/metrics`: a list of addresses and networks
//! (`--metrics-allow`), loopback only by default.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An address or a network (`ADDR/PREFIX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl fmt::Display for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// An entry of the list that is neither an address nor a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadNet(pub String);

impl fmt::Display for BadNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not an address or a network", self.0)
    }
}

impl std::error::Error for BadNet {}

/// The clients `/metrics` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowList(Vec<Net>);

impl Default for AllowList {
    /// Loopback: `127.0.0.0/8` and `::1`.
    fn default() -> AllowList {
        AllowList(vec![
            Net {
                addr: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)),
                prefix: 8,
            },
            Net {
                addr: IpAddr::V6(Ipv6Addr::LOCALHOST),
                prefix: 128,
            },
        ])
    }
}

impl AllowList {
    /// A comma-separated list of addresses (`10.0.0.5`, `::1`) and networks
    /// (`10.0.0.0/8`, `fd00::/8`).
    pub fn parse(text: &str) -> Result<AllowList, BadNet> {
        let nets = text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|entry| {
                let bad = || BadNet(entry.to_owned());
                let (addr, prefix) = match entry.split_once('/') {
                    Some((addr, prefix)) => (addr, Some(prefix)),
                    None => (entry, None),
                };
                let addr: IpAddr = addr.parse().map_err(|_| bad())?;
                let max = if addr.is_ipv4() { 32 } else { 128 };
                let prefix = match prefix {
                    Some(p) => p.parse::<u8>().ok().filter(|&p| p <= max).ok_or_else(bad)?,
                    None => max,
                };
                Ok(Net { addr, prefix })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AllowList(nets))
    }

    /// Whether `ip` may read the metrics (an IPv4 client on an IPv6 socket,
    /// `::ffff:a.b.c.d`, is taken as `a.b.c.d`).
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(ip))
    }
}

impl fmt::Display for AllowList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, net) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{net}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn loopback_by_default() {
        let allow = AllowList::default();
        assert!(allow.allows(ip("127.0.0.1")));
        assert!(allow.allows(ip("127.8.9.10")));
        assert!(allow.allows(ip("::1")));
        assert!(allow.allows(ip("::ffff:127.0.0.1")));
        assert!(!allow.allows(ip("10.0.0.1")));
        assert!(!allow.allows(ip("128.0.0.1")));
        assert!(!allow.allows(ip("::2")));
        assert!(!allow.allows(ip("0.0.0.0")));
    }

    #[test]
    fn addresses_and_networks() {
        let allow = AllowList::parse(" 10.1.0.0/16, 192.168.1.7,fd00::/8 ,0.0.0.0/0").unwrap();
        assert!(allow.allows(ip("10.1.255.3")));
        assert!(allow.allows(ip("8.8.8.8")), "/0 is every IPv4 address");
        assert!(allow.allows(ip("fdab::1")));
        assert!(!allow.allows(ip("fe80::1")));
        let allow = AllowList::parse("10.1.0.0/16,192.168.1.7").unwrap();
        assert!(!allow.allows(ip("10.2.0.1")));
        assert!(allow.allows(ip("192.168.1.7")));
        assert!(!allow.allows(ip("192.168.1.8")));
        assert!(!allow.allows(ip("127.0.0.1")), "the list replaces loopback");
        assert_eq!(allow.to_string(), "10.1.0.0/16,192.168.1.7/32");
    }

    #[test]
    fn nonsense_is_refused() {
        for bad in [
            "localhost",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "1.2.3/8",
            "10.0.0.1/-1",
        ] {
            assert_eq!(AllowList::parse(bad), Err(BadNet(bad.to_owned())), "{bad}");
        }
        assert_eq!(AllowList::parse(""), Ok(AllowList(Vec::new())));
    }
}
