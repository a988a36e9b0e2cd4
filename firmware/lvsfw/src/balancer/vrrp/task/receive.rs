//! A packet from a member's socket: whose it is, opened (AH) and parsed, and handed to
//! the state machine, or counted under the reason it was dropped (RFC 5798 §7.1).

use std::net::IpAddr;
use std::time::Instant;

use netif::vrrp_socket::Received;
use vrrp::ah::{self, AhError};
use vrrp::packet::Error as PacketError;
use vrrp::{Event, Invalid, Packet, Repr};

use super::GroupTask;

impl GroupTask {
    pub(super) async fn on_packet(&mut self, i: usize, packet: Received) {
        let spec = &self.members[i].spec;
        // Every instance's socket on an interface sees every VRRP packet there: a packet
        // for another VRID we run is simply not ours; one for a VRID nobody here runs
        // is counted (RFC 5798 §7.1 item 4).
        let vrid = match &spec.ah_key {
            Some(_) => ah_vrid(&packet.datagram),
            None => packet.payload.get(1).copied(),
        };
        if let Some(vrid) = vrid {
            if vrid != spec.settings.vrid {
                if !spec.vrids_here.contains(&vrid) {
                    self.invalid(i, Invalid::Vrid, &packet, "VRID not configured here")
                        .await;
                }
                return;
            }
        }
        let (payload, src, dst, ttl, ah_seq) = match &spec.ah_key {
            Some(key) => match ah::open_v4(
                &packet.datagram,
                key,
                !spec.settings.unicast_peers.is_empty(),
            ) {
                Ok(opened) => (
                    opened.vrrp.to_vec(),
                    IpAddr::V4(opened.src),
                    IpAddr::V4(opened.dst),
                    opened.ttl,
                    Some(opened.seq),
                ),
                Err(AhError::NextHeader(_)) => return,
                Err(e @ (AhError::Truncated | AhError::NotAh)) => {
                    let why = e.to_string();
                    return self.invalid(i, Invalid::Length, &packet, &why).await;
                }
                Err(e @ (AhError::Icv | AhError::Spi)) => {
                    let why = e.to_string();
                    return self.invalid(i, Invalid::Auth, &packet, &why).await;
                }
            },
            None => (
                packet.payload.clone(),
                packet.src,
                packet.dst,
                packet.ttl,
                None,
            ),
        };
        let parsed = Packet::new_checked(&payload[..], src.is_ipv6())
            .and_then(|p| Repr::parse(&p, src, dst, spec.checksum));
        match parsed {
            Ok(advert) => {
                let event = Event::Advert {
                    src,
                    ttl,
                    advert: &advert,
                    ah_seq,
                };
                let before = self.group.members()[i].drops.unicast_src;
                let actions = self.group.handle(i, event, Instant::now());
                if self.group.members()[i].drops.unicast_src > before {
                    log::debug!(
                        "{}: dropped an advert from {src}: not a unicast peer (check_unicast_src)",
                        self.members[i].spec.name
                    );
                }
                self.carry_out(actions).await;
            }
            Err(e) => {
                let why = match e {
                    PacketError::Truncated | PacketError::Family => Invalid::Length,
                    PacketError::Version(_) => Invalid::Version,
                    PacketError::Type(_) => Invalid::Type,
                    PacketError::Checksum => Invalid::Checksum,
                };
                self.invalid(i, why, &packet, &e.to_string()).await;
            }
        }
    }

    async fn invalid(&mut self, i: usize, why: Invalid, packet: &Received, text: &str) {
        log::debug!(
            "{}: dropped a packet from {}: {text}",
            self.members[i].spec.name,
            packet.src
        );
        let actions = self.group.handle(i, Event::Invalid(why), Instant::now());
        self.carry_out(actions).await;
    }
}

/// The VRID inside an AH datagram, read before the ICV is checked (each instance has its
/// own key, so the ICV says nothing about another instance's packets).
fn ah_vrid(datagram: &[u8]) -> Option<u8> {
    let ihl = usize::from(datagram.first()? & 0x0f) * 4;
    datagram.get(ihl + ah::AH_LEN + 1).copied()
}
