//! The OPEN checks that need our settings, the negotiation of timers and families, and
//! the attributes of what we announce.

use std::net::IpAddr;

use super::{Negotiated, Session};
use crate::notify;
use crate::wire::update::Attributes;
use crate::wire::{Open, WireError, AFI_IPV4, AFI_IPV6, SAFI_UNICAST};

impl Session {
    /// The OPEN checks that need our settings (RFC 4271 §6.2), and the negotiation.
    pub(super) fn check_open(&self, msg: &[u8]) -> Result<Negotiated, WireError> {
        let open = Open::parse(msg)?;
        let s = &self.settings;
        if open.asn != s.remote_as {
            return Err(WireError::new(
                notify::OPEN,
                notify::BAD_PEER_AS,
                &[],
                format!("the peer is AS {}, configured AS {}", open.asn, s.remote_as),
            ));
        }
        // A peer without the 4-octet AS capability is an OLD speaker (RFC 6793 §4.2):
        // its OPEN's 2-octet AS was compared above; an AS above 65535 is AS_TRANS to it.
        // Internal peers must not share our identifier (RFC 6286 §2.2).
        if s.internal() && open.bgp_id == s.router_id {
            return Err(WireError::new(
                notify::OPEN,
                notify::BAD_BGP_IDENTIFIER,
                &open.bgp_id.octets(),
                format!("the peer's BGP identifier {} is ours", open.bgp_id),
            ));
        }
        // The smaller hold time wins (RFC 4271 §4.2); KEEPALIVEs every third of it at
        // most (§4.4), or as configured if more often.
        let hold_time = open.hold_time.min(s.hold_time);
        let third = hold_time / 3;
        let keepalive = s.keepalive.map_or(third, |k| k.min(third));
        let keepalive = if hold_time > 0 { keepalive.max(1) } else { 0 };
        // Without Multiprotocol capabilities a peer speaks IPv4 unicast alone; with
        // them, the families both offered (RFC 4760 §8).
        let (ipv4, ipv6) = if open.families.is_empty() {
            (true, false)
        } else {
            (
                open.families.contains(&(AFI_IPV4, SAFI_UNICAST)),
                open.families.contains(&(AFI_IPV6, SAFI_UNICAST)),
            )
        };
        Ok(Negotiated {
            peer_id: open.bgp_id,
            hold_time,
            keepalive,
            ipv4,
            ipv6,
            four_octet_as: open.four_octet_as,
        })
    }

    pub(super) fn attributes(&self, graceful_shutdown: bool, v4: bool) -> Option<Attributes> {
        let s = &self.settings;
        let next_hop = match (v4, s.local_addr) {
            (true, IpAddr::V4(_)) | (false, IpAddr::V6(_)) => s.local_addr,
            (false, IpAddr::V4(_)) => IpAddr::V6(s.next_hop_v6?),
            (true, IpAddr::V6(_)) => return None,
        };
        Some(Attributes {
            prepend_as: (!s.internal()).then_some(s.local_as),
            local_pref: s.internal().then_some(s.local_pref),
            graceful_shutdown,
            next_hop,
            four_octet_as: self.negotiated.as_ref().is_none_or(|n| n.four_octet_as),
        })
    }
}
