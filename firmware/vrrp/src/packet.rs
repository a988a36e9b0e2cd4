//! VRRP advertisements on the wire, in smoltcp's style: [`Packet`] is a checked view over
//! raw bytes, [`Repr`] the parsed form with `parse` and `emit`. Nothing here allocates
//! beyond the address list, and every error is a value.
//!
//! ```text
//!  v3 (RFC 5798 §5.1)                      v2 (RFC 3768 §5.1)
//!  0: version | type                       0: version | type
//!  1: VRID                                 1: VRID
//!  2: priority                             2: priority
//!  3: count of addresses                   3: count of addresses
//!  4: rsvd(4) | max advert int(12), cs     4: auth type   5: advert int, s
//!  6: checksum                             6: checksum
//!  8: addresses (4 or 16 bytes each)       8: addresses (4 bytes each), then 8 bytes auth data
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use smoltcp::wire::{checksum, IpProtocol};

/// IP protocol number of VRRP (RFC 5798 §5.2.4).
pub const PROTOCOL: u8 = 112;
/// The only packet type, ADVERTISEMENT (RFC 5798 §5.2.2).
const TYPE_ADVERTISEMENT: u8 = 1;
const HEADER_LEN: usize = 8;
/// v2's authentication data (RFC 3768 §5.3.10).
const AUTH_DATA_LEN: usize = 8;
/// The 12-bit Max Advertise Interval of v3 (RFC 5798 §5.2.7), in centiseconds.
pub const MAX_ADVERT_INT_CS: u16 = 0x0fff;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V2,
    V3,
}

/// v2 authentication (RFC 3768 §5.3.6; AH as keepalived implements RFC 2338's type 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    None,
    /// Simple text password, up to 8 bytes, zero-padded.
    Pass([u8; 8]),
    /// IPsec AH: the VRRP header says type 2; the protection is in the AH header around it.
    Ah,
}

impl Auth {
    fn code(&self) -> u8 {
        match self {
            Auth::None => 0,
            Auth::Pass(_) => 1,
            Auth::Ah => 2,
        }
    }
}

/// How the v3 IPv4 checksum is computed. RFC 5798 §5.2.8 includes the pseudo-header;
/// some vendors do not, which keepalived calls `v3_checksum_as_v2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChecksumMode {
    #[default]
    PseudoHeader,
    WithoutPseudoHeader,
}

/// Why a packet was not accepted; each is counted, none panics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// Shorter than its header or than its address count says.
    Truncated,
    /// Version nibble other than the one expected (RFC 5798 §7.1 item 3).
    Version(u8),
    /// Type other than ADVERTISEMENT (§5.2.2: must be discarded).
    Type(u8),
    /// The checksum does not verify (§7.1 item 4).
    Checksum,
    /// The source and destination are of different families.
    Family,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Truncated => f.write_str("truncated"),
            Error::Version(v) => write!(f, "version {v}"),
            Error::Type(t) => write!(f, "type {t}"),
            Error::Checksum => f.write_str("bad checksum"),
            Error::Family => f.write_str("mixed address families"),
        }
    }
}

/// A read-only or writable view of a VRRP packet.
#[derive(Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// A view whose fixed header and address list are known to be inside the buffer.
    pub fn new_checked(buffer: T, ipv6: bool) -> Result<Packet<T>, Error> {
        let packet = Packet::new_unchecked(buffer);
        let bytes = packet.buffer.as_ref();
        if bytes.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if bytes.len() < packet.payload_len(ipv6) {
            return Err(Error::Truncated);
        }
        Ok(packet)
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    pub fn version(&self) -> u8 {
        self.bytes()[0] >> 4
    }

    pub fn kind(&self) -> u8 {
        self.bytes()[0] & 0x0f
    }

    pub fn vrid(&self) -> u8 {
        self.bytes()[1]
    }

    pub fn priority(&self) -> u8 {
        self.bytes()[2]
    }

    pub fn address_count(&self) -> u8 {
        self.bytes()[3]
    }

    /// v3: the max advertisement interval in centiseconds.
    pub fn max_advert_int(&self) -> u16 {
        u16::from_be_bytes([self.bytes()[4], self.bytes()[5]]) & MAX_ADVERT_INT_CS
    }

    /// v2: the authentication type.
    pub fn auth_type(&self) -> u8 {
        self.bytes()[4]
    }

    /// v2: the advertisement interval in seconds.
    pub fn advert_int_secs(&self) -> u8 {
        self.bytes()[5]
    }

    pub fn checksum(&self) -> u16 {
        u16::from_be_bytes([self.bytes()[6], self.bytes()[7]])
    }

    fn address_len(ipv6: bool) -> usize {
        if ipv6 {
            16
        } else {
            4
        }
    }

    /// The bytes the packet occupies: header, addresses and (v2) auth data.
    pub fn payload_len(&self, ipv6: bool) -> usize {
        let addresses = usize::from(self.address_count()) * Self::address_len(ipv6);
        let auth = if self.version() == 2 {
            AUTH_DATA_LEN
        } else {
            0
        };
        HEADER_LEN + addresses + auth
    }

    pub fn address(&self, index: usize, ipv6: bool) -> IpAddr {
        let len = Self::address_len(ipv6);
        let at = HEADER_LEN + index * len;
        let b = &self.bytes()[at..at + len];
        if ipv6 {
            let octets: [u8; 16] = b.try_into().unwrap_or([0; 16]);
            IpAddr::V6(Ipv6Addr::from(octets))
        } else {
            IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
        }
    }

    /// v2: the 8 bytes of authentication data after the addresses.
    pub fn auth_data(&self) -> [u8; 8] {
        let at = HEADER_LEN + usize::from(self.address_count()) * 4;
        self.bytes()[at..at + AUTH_DATA_LEN]
            .try_into()
            .unwrap_or([0; 8])
    }
}

/// The checksum over the VRRP message, with the IP pseudo-header where the version and
/// mode call for it (RFC 5798 §5.2.8; v2: RFC 3768 §5.3.8, the message alone).
fn compute_checksum(
    message: &[u8],
    version: u8,
    src: IpAddr,
    dst: IpAddr,
    mode: ChecksumMode,
) -> Result<u16, Error> {
    let body = checksum::data(message);
    let pseudo = match (version, src, dst, mode) {
        (2, _, _, _) => None,
        (_, IpAddr::V4(_), IpAddr::V4(_), ChecksumMode::WithoutPseudoHeader) => None,
        (_, IpAddr::V4(s), IpAddr::V4(d), ChecksumMode::PseudoHeader) => Some(
            checksum::pseudo_header_v4(&s, &d, IpProtocol::Unknown(PROTOCOL), message.len() as u32),
        ),
        (_, IpAddr::V6(s), IpAddr::V6(d), _) => Some(checksum::pseudo_header_v6(
            &s,
            &d,
            IpProtocol::Unknown(PROTOCOL),
            message.len() as u32,
        )),
        _ => return Err(Error::Family),
    };
    let sum = match pseudo {
        Some(p) => checksum::combine(&[p, body]),
        None => body,
    };
    Ok(!sum)
}

/// An advertisement, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repr {
    pub version: Version,
    pub vrid: u8,
    pub priority: u8,
    /// The advertisement interval in centiseconds (v2 carries whole seconds).
    pub advert_int_cs: u16,
    /// v2 only; v3 has no authentication (RFC 5798 §9).
    pub auth: Auth,
    pub addresses: Vec<IpAddr>,
}

impl Repr {
    /// Parses and verifies a packet that arrived from `src` to `dst`.
    pub fn parse<T: AsRef<[u8]>>(
        packet: &Packet<T>,
        src: IpAddr,
        dst: IpAddr,
        mode: ChecksumMode,
    ) -> Result<Repr, Error> {
        let ipv6 = src.is_ipv6();
        if src.is_ipv6() != dst.is_ipv6() {
            return Err(Error::Family);
        }
        let version = match (packet.version(), ipv6) {
            (3, _) => Version::V3,
            (2, false) => Version::V2,
            (other, _) => return Err(Error::Version(other)),
        };
        if packet.kind() != TYPE_ADVERTISEMENT {
            return Err(Error::Type(packet.kind()));
        }
        let message = &packet.bytes()[..packet.payload_len(ipv6)];
        let sum = compute_checksum(message, packet.version(), src, dst, mode)?;
        if sum != 0 {
            return Err(Error::Checksum);
        }
        let addresses = (0..usize::from(packet.address_count()))
            .map(|i| packet.address(i, ipv6))
            .collect();
        let (advert_int_cs, auth) = match version {
            Version::V3 => (packet.max_advert_int(), Auth::None),
            Version::V2 => {
                let auth = match packet.auth_type() {
                    1 => Auth::Pass(packet.auth_data()),
                    2 => Auth::Ah,
                    _ => Auth::None,
                };
                (u16::from(packet.advert_int_secs()) * 100, auth)
            }
        };
        Ok(Repr {
            version,
            vrid: packet.vrid(),
            priority: packet.priority(),
            advert_int_cs,
            auth,
            addresses,
        })
    }

    pub fn buffer_len(&self) -> usize {
        let per_address = if self.addresses.first().is_some_and(|a| a.is_ipv6()) {
            16
        } else {
            4
        };
        let auth = if self.version == Version::V2 {
            AUTH_DATA_LEN
        } else {
            0
        };
        HEADER_LEN + self.addresses.len() * per_address + auth
    }

    /// Writes the packet into `buffer` (at least [`Repr::buffer_len`] bytes) with the
    /// checksum for `src` → `dst`; returns the bytes written.
    pub fn emit(
        &self,
        buffer: &mut [u8],
        src: IpAddr,
        dst: IpAddr,
        mode: ChecksumMode,
    ) -> Result<usize, Error> {
        let len = self.buffer_len();
        if buffer.len() < len || self.addresses.len() > usize::from(u8::MAX) {
            return Err(Error::Truncated);
        }
        let out = &mut buffer[..len];
        out.fill(0);
        let version = match self.version {
            Version::V2 => 2,
            Version::V3 => 3,
        };
        out[0] = (version << 4) | TYPE_ADVERTISEMENT;
        out[1] = self.vrid;
        out[2] = self.priority;
        out[3] = self.addresses.len() as u8;
        match self.version {
            Version::V3 => {
                out[4..6].copy_from_slice(&self.advert_int_cs.min(MAX_ADVERT_INT_CS).to_be_bytes())
            }
            Version::V2 => {
                out[4] = self.auth.code();
                out[5] = (self.advert_int_cs / 100).min(255) as u8;
            }
        }
        let mut at = HEADER_LEN;
        for address in &self.addresses {
            match address {
                IpAddr::V4(a) => {
                    out[at..at + 4].copy_from_slice(&a.octets());
                    at += 4;
                }
                IpAddr::V6(a) => {
                    out[at..at + 16].copy_from_slice(&a.octets());
                    at += 16;
                }
            }
        }
        if let Auth::Pass(password) = self.auth {
            out[at..at + AUTH_DATA_LEN].copy_from_slice(&password);
        }
        let sum = compute_checksum(out, version, src, dst, mode)?;
        out[6..8].copy_from_slice(&sum.to_be_bytes());
        Ok(len)
    }
}

#[cfg(test)]
mod tests;
