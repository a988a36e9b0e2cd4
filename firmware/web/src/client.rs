//! Who a request comes from, as the limits count it: an IPv4 address, or an IPv6 /64
//! (one host usually holds a whole /64 and can pick a new address for every try).

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Client(IpAddr);

impl Client {
    pub fn of(peer: IpAddr) -> Client {
        match peer {
            IpAddr::V4(_) => Client(peer),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Client(IpAddr::V4(v4)),
                None => Client(IpAddr::V6(Ipv6Addr::from(
                    u128::from(v6) & !((1u128 << 64) - 1),
                ))),
            },
        }
    }
}

impl fmt::Display for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(a) => write!(f, "{a}"),
            IpAddr::V6(a) => write!(f, "{a}/64"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_their_64_and_mapped_ipv4_is_ipv4() {
        let c = |s: &str| Client::of(s.parse().unwrap());
        assert_eq!(c("2001:db8:1:2::1"), c("2001:db8:1:2:ffff::9"));
        assert_ne!(c("2001:db8:1:2::1"), c("2001:db8:1:3::1"));
        assert_eq!(c("2001:db8:1:2::1").to_string(), "2001:db8:1:2::/64");
        assert_eq!(c("::ffff:10.0.0.1"), c("10.0.0.1"));
        assert_ne!(c("10.0.0.1"), c("10.0.0.2"));
        assert_eq!(c("10.0.0.1").to_string(), "10.0.0.1");
    }
}
