//! The receive checks of RFC 5798 §7.1 (RFC 3768 §7.1 for v2) that depend on the
//! instance's settings, with keepalived's additions; the packet checks (length, version
//! field, checksum) were done by [`crate::Repr::parse`].

use std::net::IpAddr;
use std::time::Duration;

use super::{Instance, State};
use crate::packet::{Auth, Repr, Version};

impl Instance {
    /// Whether `advert` from `src` is one to act on; a dropped one is counted under its
    /// reason.
    pub(super) fn accept(
        &mut self,
        src: IpAddr,
        ttl: u8,
        advert: &Repr,
        ah_seq: Option<u32>,
    ) -> bool {
        let s = &self.settings;
        let unicast = !s.unicast_peers.is_empty();
        let replayed = match (s.auth, ah_seq) {
            // keepalived: "sequence number already processed" (RFC 2402 §3.4.3).
            (Auth::Ah, Some(seq)) => seq <= self.ah_seq,
            (Auth::Ah, None) => true,
            (_, _) => false,
        };
        // keepalived (vrrp_state_backup): with skip_check_adv_addr, the addresses of an
        // advert from the master already followed are not compared again.
        let check_addresses =
            !s.skip_check_adv_addr || self.state != State::Backup || self.master_ip != Some(src);
        let drop = if ttl != 255 && !unicast {
            // §7.1 item 1; keepalived makes it only of multicast adverts.
            &mut self.drops.ttl
        } else if advert.version != s.version {
            &mut self.drops.version
        } else if advert.vrid != s.vrid {
            &mut self.drops.vrid
        } else if s.version == Version::V2 && (advert.auth != s.auth || replayed) {
            &mut self.drops.auth
        } else if s.version == Version::V2 && advert.advert_int_cs != centiseconds(s.advert_int) {
            // RFC 3768 §7.1: a v2 router MUST discard an advert with another interval.
            &mut self.drops.interval
        } else if check_addresses && !same_addresses(&advert.addresses, &s.addresses) {
            &mut self.drops.addresses
        } else if unicast && s.check_unicast_src && !s.unicast_peers.contains(&src) {
            // keepalived's check_unicast_src: "unicast source address not a unicast peer".
            &mut self.drops.unicast_src
        } else {
            if let (Auth::Ah, Some(seq)) = (s.auth, ah_seq) {
                self.ah_seq = seq;
            }
            return true;
        };
        *drop += 1;
        false
    }
}

fn centiseconds(d: Duration) -> u16 {
    (d.as_millis() / 10).min(u128::from(u16::MAX)) as u16
}

fn same_addresses(a: &[IpAddr], b: &[IpAddr]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort();
    b.sort();
    a == b
}
