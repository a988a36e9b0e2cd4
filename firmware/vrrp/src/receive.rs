//! What a packet that arrived on an instance's socket is: not ours, dropped for a reason
//! the instance counts, or an advertisement to hand to the state machine (RFC 5798 §7.1;
//! keepalived's AH for v2, RFC 2402). Pure: the socket's reader gives the bytes, the
//! caller carries out what [`classify`] says.

use std::net::IpAddr;

use crate::ah::{self, AhError, Key};
use crate::packet::Error as PacketError;
use crate::{ChecksumMode, Invalid, Packet, Repr};

/// A packet as the socket read it.
#[derive(Debug, Clone, Copy)]
pub struct Arrived<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// The VRRP message (after the IP header).
    pub payload: &'a [u8],
    /// IPv4: the whole datagram, header included (AH's ICV covers it); empty for IPv6.
    pub datagram: &'a [u8],
}

/// What the receiving instance is and knows.
#[derive(Debug, Clone, Copy)]
pub struct Receiver<'a> {
    pub vrid: u8,
    /// Every VRID an instance runs on this interface: another one's packet is not
    /// counted as invalid here.
    pub vrids_here: &'a [u8],
    /// keepalived's `authentication { auth_type AH }` key.
    pub ah_key: Option<&'a Key>,
    /// Unicast peers configured: AH's ICV then covers the destination as sent.
    pub unicast: bool,
    pub checksum: ChecksumMode,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// For another instance on this interface, or AH carrying something other than
    /// VRRP: nothing to count.
    NotOurs,
    /// Dropped and counted under `why`; `text` says it for the log.
    Invalid { why: Invalid, text: String },
    /// A verified advertisement for this instance.
    Advert {
        src: IpAddr,
        ttl: u8,
        advert: Repr,
        /// AH's sequence number, for the replay check.
        ah_seq: Option<u32>,
    },
}

/// Every instance's socket on an interface sees every VRRP packet there: a packet for
/// another VRID we run is simply not ours; one for a VRID nobody here runs is counted
/// (RFC 5798 §7.1 item 4). The VRID is read before AH's ICV is checked, since each
/// instance has its own key.
pub fn classify(packet: &Arrived<'_>, me: &Receiver<'_>) -> Verdict {
    let vrid = match me.ah_key {
        Some(_) => ah_vrid(packet.datagram),
        None => packet.payload.get(1).copied(),
    };
    if let Some(vrid) = vrid {
        if vrid != me.vrid {
            if me.vrids_here.contains(&vrid) {
                return Verdict::NotOurs;
            }
            return Verdict::Invalid {
                why: Invalid::Vrid,
                text: "VRID not configured here".into(),
            };
        }
    }
    let (payload, src, dst, ttl, ah_seq) = match me.ah_key {
        Some(key) => match ah::open_v4(packet.datagram, key, me.unicast) {
            Ok(opened) => (
                opened.vrrp,
                IpAddr::V4(opened.src),
                IpAddr::V4(opened.dst),
                opened.ttl,
                Some(opened.seq),
            ),
            Err(AhError::NextHeader(_)) => return Verdict::NotOurs,
            Err(e @ (AhError::Truncated | AhError::NotAh)) => {
                return Verdict::Invalid {
                    why: Invalid::Length,
                    text: e.to_string(),
                }
            }
            Err(e @ (AhError::Icv | AhError::Spi)) => {
                return Verdict::Invalid {
                    why: Invalid::Auth,
                    text: e.to_string(),
                }
            }
        },
        None => (packet.payload, packet.src, packet.dst, packet.ttl, None),
    };
    let parsed = Packet::new_checked(payload, src.is_ipv6())
        .and_then(|p| Repr::parse(&p, src, dst, me.checksum));
    match parsed {
        Ok(advert) => Verdict::Advert {
            src,
            ttl,
            advert,
            ah_seq,
        },
        Err(e) => Verdict::Invalid {
            why: match e {
                PacketError::Truncated | PacketError::Family => Invalid::Length,
                PacketError::Version(_) => Invalid::Version,
                PacketError::Type(_) => Invalid::Type,
                PacketError::Checksum => Invalid::Checksum,
            },
            text: e.to_string(),
        },
    }
}

/// The VRID inside an AH datagram: after the IPv4 header and the AH header.
fn ah_vrid(datagram: &[u8]) -> Option<u8> {
    let ihl = usize::from(datagram.first()? & 0x0f) * 4;
    datagram.get(ihl + ah::AH_LEN + 1).copied()
}

#[cfg(test)]
#[path = "receive_tests.rs"]
mod tests;
