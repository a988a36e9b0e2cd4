//! keepalived's IPsec AH authentication for VRRPv2 (RFC 2338 §5.3.6.3, dropped again by
//! RFC 3768 §5.3.6 but still spoken by keepalived with `auth_type AH`), without I/O.
//!
//! The VRRP message rides in an IPv4 datagram of protocol 51 (AH, RFC 2402 §2):
//!
//! ```text
//!  IPv4 header (20 bytes, protocol 51)
//!  AH: next header 112 | payload length 4 | reserved 0
//!      SPI = the sender's IPv4 address
//!      sequence number (one per advertisement, never repeated)
//!      ICV: the first 12 bytes of HMAC-MD5 (RFC 2403, HMAC-MD5-96)
//!  VRRPv2 message, auth type 2, auth data zero
//! ```
//!
//! The ICV covers the IP header with its mutable fields zeroed (RFC 2402 §3.3.3.1.1.1:
//! TOS, flags and fragment offset, header checksum; and, as keepalived does, the TTL only
//! when the datagram is unicast), the AH header with a zero ICV, and the VRRP message. The
//! key is `auth_pass`, cut or zero-padded to 8 bytes as keepalived does. All of this was
//! checked against datagrams captured from keepalived 2.2.7 (see the tests).

use std::net::Ipv4Addr;

use hmac::{KeyInit, Mac};
use smoltcp::wire::checksum;

use crate::packet::{ChecksumMode, Error, Repr, Version, PROTOCOL};

/// IP protocol number of AH (RFC 2402 §2).
pub const PROTOCOL_AH: u8 = 51;
/// The AH header with a 96-bit ICV.
pub const AH_LEN: usize = 24;
/// HMAC-MD5-96: the ICV is the digest cut to 12 bytes (RFC 2403 §2).
pub const ICV_LEN: usize = 12;
/// The AH payload length field: the header in 32-bit words minus 2 (RFC 2402 §2.2).
const AH_PAYLOAD_LEN: u8 = (AH_LEN / 4 - 2) as u8;
const IPV4_HEADER_LEN: usize = 20;
/// keepalived's TOS for VRRP: internetwork control.
const TOS: u8 = 0xc0;

type HmacMd5 = hmac::Hmac<md5::Md5>;

/// The shared secret: `auth_pass`, at most 8 bytes, zero-padded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Key([u8; 8]);

impl Key {
    /// keepalived truncates a longer `auth_pass` to 8 bytes.
    pub fn from_pass(pass: &str) -> Key {
        let mut key = [0u8; 8];
        let bytes = pass.as_bytes();
        let n = bytes.len().min(8);
        key[..n].copy_from_slice(&bytes[..n]);
        Key(key)
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

/// Why an AH datagram was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AhError {
    /// Too short for the IPv4 header, the AH header or its declared lengths.
    Truncated,
    /// Not IPv4 protocol 51, or an AH header of another size.
    NotAh,
    /// AH around another protocol than VRRP: not ours, silently ignored (keepalived too).
    NextHeader(u8),
    /// The ICV does not verify: a wrong password or a changed packet.
    Icv,
    /// The SPI is not the sender's address, as keepalived requires.
    Spi,
}

impl std::fmt::Display for AhError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AhError::Truncated => f.write_str("AH: truncated"),
            AhError::NotAh => f.write_str("AH: not an AH datagram"),
            AhError::NextHeader(p) => write!(f, "AH: next header {p}, not VRRP"),
            AhError::Icv => f.write_str("AH: the ICV does not verify (wrong auth_pass?)"),
            AhError::Spi => f.write_str("AH: the SPI is not the source address"),
        }
    }
}

/// An AH datagram whose ICV verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened<'a> {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub ttl: u8,
    /// The AH sequence number, for the replay check.
    pub seq: u32,
    /// The VRRP message inside.
    pub vrrp: &'a [u8],
}

/// HMAC-MD5-96 over the datagram with its mutable fields zeroed.
fn icv(datagram: &[u8], ihl: usize, key: &Key, unicast: bool) -> [u8; ICV_LEN] {
    let mut header = [0u8; 60];
    header[..ihl].copy_from_slice(&datagram[..ihl]);
    header[1] = 0; // TOS
    header[6] = 0; // flags, fragment offset
    header[7] = 0;
    header[10] = 0; // header checksum
    header[11] = 0;
    if unicast {
        header[8] = 0; // TTL: keepalived zeroes it only for unicast peers
    }
    let mut ah = [0u8; AH_LEN];
    ah.copy_from_slice(&datagram[ihl..ihl + AH_LEN]);
    ah[12..].fill(0);
    // HMAC takes keys of any length; 8 bytes is within MD5's 64-byte block.
    let mut mac = HmacMd5::new_from_slice(&key.0).expect("HMAC accepts any key length");
    mac.update(&header[..ihl]);
    mac.update(&ah);
    mac.update(&datagram[ihl + AH_LEN..]);
    let digest = mac.finalize().into_bytes();
    let mut out = [0u8; ICV_LEN];
    out.copy_from_slice(&digest[..ICV_LEN]);
    out
}

/// What the sender chooses for one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seal {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    /// The IPv4 identification; covered by the ICV, so the sender sets it (never 0, which
    /// would let the kernel pick one after the ICV was computed).
    pub ip_id: u16,
    pub seq: u32,
    /// true for keepalived's `unicast_peer` mode (TTL left out of the ICV).
    pub unicast: bool,
    /// 255 (RFC 3768 §5.2.3), or keepalived's `unicast_ttl` for unicast peers.
    pub ttl: u8,
}

/// A whole IPv4 datagram (header, AH, VRRPv2) ready for a raw socket with IP_HDRINCL.
pub fn emit_v4(repr: &Repr, seal: &Seal, key: &Key) -> Result<Vec<u8>, Error> {
    if repr.version != Version::V2 {
        return Err(Error::Version(3));
    }
    let vrrp_len = repr.buffer_len();
    let total = IPV4_HEADER_LEN + AH_LEN + vrrp_len;
    let mut out = vec![0u8; total];
    out[0] = 0x45;
    out[1] = TOS;
    out[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    out[4..6].copy_from_slice(&seal.ip_id.max(1).to_be_bytes());
    out[8] = seal.ttl;
    out[9] = PROTOCOL_AH;
    out[12..16].copy_from_slice(&seal.src.octets());
    out[16..20].copy_from_slice(&seal.dst.octets());
    let sum = !checksum::data(&out[..IPV4_HEADER_LEN]);
    out[10..12].copy_from_slice(&sum.to_be_bytes());
    let ah = &mut out[IPV4_HEADER_LEN..IPV4_HEADER_LEN + AH_LEN];
    ah[0] = PROTOCOL;
    ah[1] = AH_PAYLOAD_LEN;
    ah[4..8].copy_from_slice(&seal.src.octets());
    ah[8..12].copy_from_slice(&seal.seq.to_be_bytes());
    repr.emit(
        &mut out[IPV4_HEADER_LEN + AH_LEN..],
        seal.src.into(),
        seal.dst.into(),
        ChecksumMode::PseudoHeader,
    )?;
    let icv = icv(&out, IPV4_HEADER_LEN, key, seal.unicast);
    out[IPV4_HEADER_LEN + 12..IPV4_HEADER_LEN + AH_LEN].copy_from_slice(&icv);
    Ok(out)
}

/// Checks the AH of a received IPv4 datagram (as a raw socket delivers it, header
/// included) and returns the VRRP message inside. The sequence number is not judged
/// here: the instance keeps the counter (see `Instance`).
pub fn open_v4<'a>(datagram: &'a [u8], key: &Key, unicast: bool) -> Result<Opened<'a>, AhError> {
    if datagram.len() < IPV4_HEADER_LEN || datagram[0] >> 4 != 4 {
        return Err(AhError::Truncated);
    }
    let ihl = usize::from(datagram[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([datagram[2], datagram[3]]));
    if ihl < IPV4_HEADER_LEN || total < ihl + AH_LEN || datagram.len() < total {
        return Err(AhError::Truncated);
    }
    let datagram = &datagram[..total];
    let ah = &datagram[ihl..ihl + AH_LEN];
    if datagram[9] != PROTOCOL_AH || ah[1] != AH_PAYLOAD_LEN {
        return Err(AhError::NotAh);
    }
    if ah[0] != PROTOCOL {
        return Err(AhError::NextHeader(ah[0]));
    }
    let expected = icv(datagram, ihl, key, unicast);
    if !constant_time_eq(&expected, &ah[12..]) {
        return Err(AhError::Icv);
    }
    if ah[4..8] != datagram[12..16] {
        return Err(AhError::Spi);
    }
    let octets = |at: usize| {
        Ipv4Addr::new(
            datagram[at],
            datagram[at + 1],
            datagram[at + 2],
            datagram[at + 3],
        )
    };
    Ok(Opened {
        src: octets(12),
        dst: octets(16),
        ttl: datagram[8],
        seq: u32::from_be_bytes([ah[8], ah[9], ah[10], ah[11]]),
        vrrp: &datagram[ihl + AH_LEN..],
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests;
