//! The BGP-4 messages an announce-only speaker exchanges (RFC 4271 §4), written and
//! checked over plain byte slices: nothing here allocates more than the message it builds,
//! and every decode error is the NOTIFICATION RFC 4271 §6 says to answer with.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::notify::{self, Notification};

pub mod update;

/// Sixteen octets of ones start every message (RFC 4271 §4.1).
pub const MARKER: [u8; 16] = [0xff; 16];
/// Marker, length and type (RFC 4271 §4.1).
pub const HEADER_LEN: usize = 19;
/// The largest message without RFC 8654's extended messages, which we do not offer.
pub const MAX_MESSAGE: usize = 4096;
/// The only version we speak (RFC 4271 §4.2).
pub const VERSION: u8 = 4;
/// The 2-octet stand-in for a 4-octet AS number (RFC 6793 §9).
pub const AS_TRANS: u16 = 23456;

// Message types (RFC 4271 §4.1).
pub const OPEN: u8 = 1;
pub const UPDATE: u8 = 2;
pub const NOTIFICATION: u8 = 3;
pub const KEEPALIVE: u8 = 4;

// Address families (IANA; RFC 4760 §3) and the one SAFI we speak.
pub const AFI_IPV4: u16 = 1;
pub const AFI_IPV6: u16 = 2;
pub const SAFI_UNICAST: u8 = 1;

// Optional parameter and capability codes (RFC 5492 §4, RFC 4760 §8, RFC 6793 §3).
const PARAM_CAPABILITIES: u8 = 2;
const PARAM_EXTENDED: u8 = 255; // RFC 9072 §2
const CAP_MULTIPROTOCOL: u8 = 1;
const CAP_FOUR_OCTET_AS: u8 = 65;
/// At most this many address families are remembered from a peer's OPEN; any more are
/// ignored (bounded: no peer needs more than a handful).
const MAX_FAMILIES: usize = 16;

/// What was wrong with a message received, and the NOTIFICATION that answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    pub notification: Notification,
    /// What exactly was wrong, for the log line.
    pub detail: String,
}

impl WireError {
    pub fn new(code: u8, subcode: u8, data: &[u8], detail: impl Into<String>) -> WireError {
        WireError {
            notification: Notification::new(code, subcode, data),
            detail: detail.into(),
        }
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.detail, self.notification)
    }
}

/// Checks the header at the start of `buf` (RFC 4271 §6.1). `Ok(None)`: not all of the
/// message is there yet; `Ok(Some((type, length)))`: `buf[..length]` is one message.
pub fn frame(buf: &[u8]) -> Result<Option<(u8, usize)>, WireError> {
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    if buf[..16] != MARKER {
        return Err(WireError::new(
            notify::HEADER,
            notify::CONNECTION_NOT_SYNCHRONIZED,
            &[],
            "the marker is not all ones",
        ));
    }
    let len_field = [buf[16], buf[17]];
    let len = usize::from(u16::from_be_bytes(len_field));
    let kind = buf[18];
    // Each type's smallest size (RFC 4271 §4.2-§4.5); a KEEPALIVE is exactly the header.
    let min = match kind {
        OPEN => 29,
        UPDATE => 23,
        NOTIFICATION => 21,
        KEEPALIVE => HEADER_LEN,
        _ => {
            return Err(WireError::new(
                notify::HEADER,
                notify::BAD_MESSAGE_TYPE,
                &[kind],
                format!("message type {kind} is not one we speak"),
            ))
        }
    };
    let bad_len = len < min || len > MAX_MESSAGE || (kind == KEEPALIVE && len != HEADER_LEN);
    if bad_len {
        return Err(WireError::new(
            notify::HEADER,
            notify::BAD_MESSAGE_LENGTH,
            &len_field,
            format!("length {len} for a message of type {kind}"),
        ));
    }
    Ok((buf.len() >= len).then_some((kind, len)))
}

fn header(out: &mut Vec<u8>, kind: u8) {
    out.extend_from_slice(&MARKER);
    out.extend_from_slice(&[0, 0, kind]);
}

/// Writes the length field of the message that starts at `start` (RFC 4271 §4.1).
fn finish(out: &mut [u8], start: usize) {
    let len = (out.len() - start) as u16;
    out[start + 16..start + 18].copy_from_slice(&len.to_be_bytes());
}

pub fn keepalive() -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN);
    header(&mut out, KEEPALIVE);
    finish(&mut out, 0);
    out
}

pub fn notification(n: &Notification) -> Vec<u8> {
    let mut out = Vec::with_capacity(21 + n.data.len());
    header(&mut out, NOTIFICATION);
    out.extend_from_slice(&[n.code, n.subcode]);
    out.extend_from_slice(&n.data);
    finish(&mut out, 0);
    out
}

/// The body of a NOTIFICATION (RFC 4271 §4.5); `msg` is the whole framed message.
pub fn parse_notification(msg: &[u8]) -> Notification {
    Notification::new(msg[19], msg[20], &msg[21..])
}

/// An OPEN message (RFC 4271 §4.2) with the capabilities we understand (RFC 5492).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    /// The AS number: from the 4-octet AS capability when present (RFC 6793 §4.1),
    /// otherwise the 2-octet My Autonomous System field.
    pub asn: u32,
    pub hold_time: u16,
    pub bgp_id: Ipv4Addr,
    /// The 4-octet AS capability was present (RFC 6793 §3).
    pub four_octet_as: bool,
    /// (AFI, SAFI) of each Multiprotocol Extensions capability (RFC 4760 §8).
    pub families: Vec<(u16, u8)>,
}

impl Open {
    /// Our OPEN: version 4, AS_TRANS in the 2-octet field for an AS above 65535
    /// (RFC 6793 §4.1), and one Capabilities parameter (RFC 5492 §4) holding the
    /// 4-octet AS and one Multiprotocol capability per family.
    pub fn emit(&self) -> Vec<u8> {
        let mut caps = Vec::with_capacity(6 + 6 * self.families.len());
        for &(afi, safi) in &self.families {
            caps.extend_from_slice(&[CAP_MULTIPROTOCOL, 4]);
            caps.extend_from_slice(&afi.to_be_bytes());
            caps.extend_from_slice(&[0, safi]);
        }
        caps.extend_from_slice(&[CAP_FOUR_OCTET_AS, 4]);
        caps.extend_from_slice(&self.asn.to_be_bytes());
        let my_as = u16::try_from(self.asn).unwrap_or(AS_TRANS);
        let mut out = Vec::with_capacity(31 + caps.len());
        header(&mut out, OPEN);
        out.push(VERSION);
        out.extend_from_slice(&my_as.to_be_bytes());
        out.extend_from_slice(&self.hold_time.to_be_bytes());
        out.extend_from_slice(&self.bgp_id.octets());
        out.extend_from_slice(&[caps.len() as u8 + 2, PARAM_CAPABILITIES, caps.len() as u8]);
        out.extend_from_slice(&caps);
        finish(&mut out, 0);
        out
    }

    /// Reads and checks an OPEN (RFC 4271 §6.2) that [`frame`] delimited. The checks that
    /// need configuration (the peer's AS, its identifier against ours) are the session's.
    pub fn parse(msg: &[u8]) -> Result<Open, WireError> {
        let body = &msg[HEADER_LEN..];
        let version = body[0];
        if version != VERSION {
            // The data is the version we do support (RFC 4271 §6.2).
            return Err(WireError::new(
                notify::OPEN,
                notify::UNSUPPORTED_VERSION,
                &u16::from(VERSION).to_be_bytes(),
                format!("BGP version {version}"),
            ));
        }
        let my_as = u16::from_be_bytes([body[1], body[2]]);
        let hold_time = u16::from_be_bytes([body[3], body[4]]);
        // Zero or at least three seconds (RFC 4271 §4.2, §6.2).
        if hold_time == 1 || hold_time == 2 {
            return Err(WireError::new(
                notify::OPEN,
                notify::UNACCEPTABLE_HOLD_TIME,
                &[],
                format!("hold time {hold_time} s (must be 0 or at least 3)"),
            ));
        }
        let bgp_id = Ipv4Addr::new(body[5], body[6], body[7], body[8]);
        // A BGP Identifier is a non-zero 4-octet number (RFC 6286 §2.1).
        if bgp_id.is_unspecified() {
            return Err(WireError::new(
                notify::OPEN,
                notify::BAD_BGP_IDENTIFIER,
                &[],
                "BGP identifier 0.0.0.0",
            ));
        }
        let mut open = Open {
            asn: u32::from(my_as),
            hold_time,
            bgp_id,
            four_octet_as: false,
            families: Vec::new(),
        };
        for param in parameters(&body[9..])? {
            let (kind, value) = param?;
            if kind != PARAM_CAPABILITIES {
                return Err(WireError::new(
                    notify::OPEN,
                    notify::UNSUPPORTED_OPTIONAL_PARAMETER,
                    &[],
                    format!("optional parameter type {kind}"),
                ));
            }
            open.read_capabilities(value)?;
        }
        Ok(open)
    }

    fn read_capabilities(&mut self, mut caps: &[u8]) -> Result<(), WireError> {
        while !caps.is_empty() {
            let [code, len, ref rest @ ..] = *caps else {
                return Err(malformed_open("a capability is cut short"));
            };
            let Some(value) = rest.get(..usize::from(len)) else {
                return Err(malformed_open(format!(
                    "capability {code} overruns its parameter"
                )));
            };
            match code {
                CAP_FOUR_OCTET_AS => {
                    let Ok(asn) = <[u8; 4]>::try_from(value) else {
                        return Err(malformed_open("4-octet AS capability of the wrong length"));
                    };
                    self.asn = u32::from_be_bytes(asn);
                    self.four_octet_as = true;
                }
                CAP_MULTIPROTOCOL => {
                    let [a, b, _, safi] = *value else {
                        return Err(malformed_open(
                            "multiprotocol capability of the wrong length",
                        ));
                    };
                    let family = (u16::from_be_bytes([a, b]), safi);
                    if self.families.len() < MAX_FAMILIES && !self.families.contains(&family) {
                        self.families.push(family);
                    }
                }
                // Capabilities we do not know are ignored (RFC 5492 §3): we never need them.
                _ => {}
            }
            caps = &rest[usize::from(len)..];
        }
        Ok(())
    }
}

fn malformed_open(detail: impl Into<String>) -> WireError {
    WireError::new(notify::OPEN, 0, &[], detail)
}

type Param<'a> = Result<(u8, &'a [u8]), WireError>;

/// The optional parameters of an OPEN, in RFC 4271 §4.2's 1-octet form or RFC 9072's
/// extended form (length 255, type 255, then 2-octet lengths).
fn parameters(rest: &[u8]) -> Result<impl Iterator<Item = Param<'_>>, WireError> {
    let (extended, params) = match rest {
        [255, PARAM_EXTENDED, a, b, params @ ..] => {
            (true, (usize::from(u16::from_be_bytes([*a, *b])), params))
        }
        [len, params @ ..] => (false, (usize::from(*len), params)),
        [] => return Err(malformed_open("no optional parameters length")),
    };
    let (len, params) = params;
    if params.len() != len {
        return Err(malformed_open(format!(
            "optional parameters length {len}, {} octets follow",
            params.len()
        )));
    }
    let mut left = params;
    Ok(std::iter::from_fn(move || {
        if left.is_empty() {
            return None;
        }
        let head = if extended { 3 } else { 2 };
        if left.len() < head {
            left = &[];
            return Some(Err(malformed_open("an optional parameter is cut short")));
        }
        let kind = left[0];
        let len = if extended {
            usize::from(u16::from_be_bytes([left[1], left[2]]))
        } else {
            usize::from(left[1])
        };
        let Some(value) = left.get(head..head + len) else {
            left = &[];
            return Some(Err(malformed_open(
                "an optional parameter overruns the OPEN",
            )));
        };
        left = &left[head + len..];
        Some(Ok((kind, value)))
    }))
}

/// An IPv4 or IPv6 prefix; the host bits are zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Prefix {
    addr: IpAddr,
    len: u8,
}

impl Prefix {
    pub fn new(addr: IpAddr, len: u8) -> Result<Prefix, String> {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if len > max {
            return Err(format!("prefix length {len} is more than {max} for {addr}"));
        }
        let prefix = Prefix {
            addr: mask(addr, len),
            len,
        };
        if prefix.addr != addr {
            return Err(format!(
                "{addr}/{len} has host bits set (the prefix is {prefix})"
            ));
        }
        Ok(prefix)
    }

    /// A host route: /32 or /128.
    pub fn host(addr: IpAddr) -> Prefix {
        Prefix {
            addr,
            len: if addr.is_ipv4() { 32 } else { 128 },
        }
    }

    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    pub fn prefix_len(&self) -> u8 {
        self.len
    }

    pub fn is_ipv4(&self) -> bool {
        self.addr.is_ipv4()
    }

    /// The NLRI encoding: length in bits, then only the octets that hold them
    /// (RFC 4271 §4.3, RFC 4760 §5).
    pub fn emit(&self, out: &mut Vec<u8>) {
        let octets = match self.addr {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        };
        out.push(self.len);
        out.extend_from_slice(&octets[..usize::from(self.len).div_ceil(8)]);
    }

    pub fn wire_len(&self) -> usize {
        1 + usize::from(self.len).div_ceil(8)
    }
}

fn mask(addr: IpAddr, len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let m = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & m))
        }
        IpAddr::V6(a) => {
            let m = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & m))
        }
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl FromStr for Prefix {
    type Err = String;
    /// "192.0.2.1/32", "2001:db8::/64", or a bare address for a host route.
    fn from_str(s: &str) -> Result<Prefix, String> {
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?} is not an address"))?;
        match len {
            None => Ok(Prefix::host(addr)),
            Some(l) => {
                let len = l
                    .parse()
                    .map_err(|_| format!("{s:?}: {l:?} is not a prefix length"))?;
                Prefix::new(addr, len)
            }
        }
    }
}

#[cfg(test)]
mod tests;
