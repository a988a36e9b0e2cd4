use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An interface address with its prefix length, as `ip addr` writes it: `192.168.0.101/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpPrefix {
    pub addr: IpAddr,
    pub len: u8,
}

impl IpPrefix {
    pub fn new(addr: IpAddr, len: u8) -> Result<Self, String> {
        let max = max_len(addr);
        if len > max {
            return Err(format!("prefix length {len} is longer than {max}"));
        }
        Ok(IpPrefix { addr, len })
    }

    /// The network this prefix lies in, host bits cleared.
    pub fn network(&self) -> IpAddr {
        match self.addr {
            IpAddr::V4(a) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0);
                IpAddr::V4((u32::from(a) & mask).into())
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.len))
                    .unwrap_or(0);
                IpAddr::V6((u128::from(a) & mask).into())
            }
        }
    }

    pub fn contains(&self, addr: IpAddr) -> bool {
        addr.is_ipv4() == self.addr.is_ipv4()
            && IpPrefix {
                addr,
                len: self.len,
            }
            .network()
                == self.network()
    }
}

fn max_len(addr: IpAddr) -> u8 {
    if addr.is_ipv4() {
        32
    } else {
        128
    }
}

impl FromStr for IpPrefix {
    type Err = String;

    /// Takes `ADDR/LEN`, or a bare address meaning a host prefix (/32 or /128) as `ip addr add` does.
    fn from_str(text: &str) -> Result<Self, String> {
        let (addr_text, len_text) = match text.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (text, None),
        };
        let addr: IpAddr = addr_text
            .parse()
            .map_err(|_| format!("\"{addr_text}\" is not an IPv4 or IPv6 address"))?;
        let len = match len_text {
            None => max_len(addr),
            Some(l) => l
                .parse::<u8>()
                .map_err(|_| format!("\"{l}\" is not a prefix length"))?,
        };
        IpPrefix::new(addr, len)
    }
}

impl fmt::Display for IpPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_address_with_and_without_prefix() {
        let p: IpPrefix = "192.168.0.101/24".parse().unwrap();
        assert_eq!(p.addr, IpAddr::from([192, 168, 0, 101]));
        assert_eq!(p.len, 24);
        assert_eq!("10.0.0.1".parse::<IpPrefix>().unwrap().len, 32);
        assert_eq!("fd00::1".parse::<IpPrefix>().unwrap().len, 128);
        assert_eq!(
            "fd00::1/64".parse::<IpPrefix>().unwrap().to_string(),
            "fd00::1/64"
        );
    }

    #[test]
    fn rejects_bad_addresses_and_lengths_with_the_reason() {
        assert_eq!(
            "192.168.0.300/24".parse::<IpPrefix>().unwrap_err(),
            "\"192.168.0.300\" is not an IPv4 or IPv6 address"
        );
        assert_eq!(
            "192.168.0.1/33".parse::<IpPrefix>().unwrap_err(),
            "prefix length 33 is longer than 32"
        );
        assert_eq!(
            "192.168.0.1/x".parse::<IpPrefix>().unwrap_err(),
            "\"x\" is not a prefix length"
        );
    }

    #[test]
    fn network_and_contains() {
        let p: IpPrefix = "192.168.33.20/24".parse().unwrap();
        assert_eq!(p.network(), IpAddr::from([192, 168, 33, 0]));
        assert!(p.contains(IpAddr::from([192, 168, 33, 11])));
        assert!(!p.contains(IpAddr::from([192, 168, 0, 11])));
        assert!(!p.contains("fd00::1".parse().unwrap()));
        let default: IpPrefix = "0.0.0.0/0".parse().unwrap();
        assert!(default.contains(IpAddr::from([8, 8, 8, 8])));
    }
}
