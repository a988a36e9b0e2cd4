//! A packet from a member's socket: classified by the pure `vrrp::receive` (whose it
//! is, opened and parsed, or why it is dropped; RFC 5798 §7.1), then handed to the
//! state machine or counted.

use std::time::Instant;

use netif::vrrp_socket::Received;
use vrrp::receive::{self, Arrived, Receiver, Verdict};
use vrrp::{Event, Invalid};

use super::GroupTask;

impl GroupTask {
    pub(super) async fn on_packet(&mut self, i: usize, packet: Received) {
        let spec = &self.members[i].spec;
        let arrived = Arrived {
            src: packet.src,
            dst: packet.dst,
            ttl: packet.ttl,
            payload: &packet.payload,
            datagram: &packet.datagram,
        };
        let me = Receiver {
            vrid: spec.settings.vrid,
            vrids_here: &spec.vrids_here,
            ah_key: spec.ah_key.as_ref(),
            unicast: !spec.settings.unicast_peers.is_empty(),
            checksum: spec.checksum,
        };
        match receive::classify(&arrived, &me) {
            Verdict::NotOurs => {}
            Verdict::Invalid { why, text } => self.invalid(i, why, &packet, &text).await,
            Verdict::Advert {
                src,
                ttl,
                advert,
                ah_seq,
            } => {
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
