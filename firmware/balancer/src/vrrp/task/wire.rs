//! What a group sends and configures: its adverts, and its virtual addresses.

use std::net::IpAddr;

use netif::Op;
use vrrp::ah::{self, Seal};
use vrrp::packet::Auth;
use vrrp::Repr;

use super::GroupTask;

impl GroupTask {
    pub(super) fn send(&mut self, i: usize, priority: u8, ah_seq: Option<u32>) {
        let m = &mut self.members[i];
        let s = &m.spec.settings;
        let advert = Repr {
            version: s.version,
            vrid: s.vrid,
            priority,
            advert_int_cs: (s.advert_int.as_millis() / 10)
                .min(u128::from(vrrp::packet::MAX_ADVERT_INT_CS)) as u16,
            auth: s.auth,
            addresses: s.addresses.clone(),
        };
        let unicast = !s.unicast_peers.is_empty();
        let destinations: Vec<IpAddr> = match m.spec.group {
            Some(group) if !unicast => vec![group],
            _ => s.unicast_peers.clone(),
        };
        // One IP identification per advertisement, as keepalived (never 0: the kernel
        // would replace it after the AH ICV was computed over it).
        m.ip_id = m.ip_id.wrapping_add(1).max(1);
        let mut failed = None;
        for dst in destinations {
            let bytes = match (&m.spec.ah_key, s.primary_ip, dst) {
                (Some(key), IpAddr::V4(src), IpAddr::V4(dst4)) => {
                    debug_assert_eq!(s.auth, Auth::Ah);
                    let seal = Seal {
                        src,
                        dst: dst4,
                        ip_id: m.ip_id,
                        seq: ah_seq.unwrap_or(0),
                        unicast,
                        // The kernel's TTL setting does not reach a datagram we write.
                        ttl: if unicast { m.spec.unicast_ttl } else { 255 },
                    };
                    ah::emit_v4(&advert, &seal, key)
                }
                _ => {
                    let mut buffer = vec![0u8; advert.buffer_len()];
                    advert
                        .emit(&mut buffer, s.primary_ip, dst, m.spec.checksum)
                        .map(|n| {
                            buffer.truncate(n);
                            buffer
                        })
                }
            };
            let sent = bytes
                .map_err(|e| e.to_string())
                .and_then(|b| m.socket.send(&b, dst).map_err(|e| e.to_string()));
            if let Err(e) = sent {
                failed.get_or_insert(format!("sending to {dst}: {e}"));
            }
        }
        match failed {
            // keepalived too stays quiet about a priority-0 advert on a dead link.
            Some(_) if priority == 0 && m.faulted => {}
            // Said once, not ten times a second: e.g. an IPv6 link-local source that is
            // still in duplicate address detection right after boot.
            Some(e) if !m.send_failing => {
                log::error!("{}: {e}", m.spec.name);
                m.send_failing = true;
            }
            Some(_) => {}
            None if m.send_failing => {
                log::info!("{}: adverts are sent again", m.spec.name);
                m.send_failing = false;
            }
            None => {}
        }
    }

    pub(super) async fn add_addresses(&self, i: usize) {
        for vip in &self.members[i].spec.vips {
            // Without duplicate address detection (IPv6 `nodad`), as keepalived adds them.
            let added = self
                .kernel
                .add_virtual_address(vip.ifindex, vip.prefix)
                .await;
            if let Err(e) = added {
                log::error!("{}: {e}", self.members[i].spec.name);
            }
        }
    }

    pub(super) async fn remove_addresses(&self, i: usize) {
        let Ok(actual) = self.kernel.read().await else {
            return;
        };
        for vip in &self.members[i].spec.vips {
            let present = actual
                .links
                .iter()
                .any(|l| l.index == vip.ifindex && l.addresses.contains(&vip.prefix));
            if present {
                let op = Op::DelAddress {
                    index: vip.ifindex,
                    prefix: vip.prefix,
                };
                if let Err(e) = self.kernel.apply(&op).await {
                    log::error!("{}: {e}", self.members[i].spec.name);
                }
            }
        }
    }
}
