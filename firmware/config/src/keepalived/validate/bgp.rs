//! The `bgp` block: what its grammar cannot say on its own.

use super::*;

impl Validator<'_> {
    pub(super) fn bgp(&mut self) {
        let Some(b) = &self.k.bgp else { return };
        if b.local_as == 0 {
            self.push("bgp.local_as", "local_as: 0 is reserved (RFC 7607)");
        }
        if b.quorum == 0 {
            self.push("bgp.quorum", "quorum: must be at least 1");
        }
        if b.lvs_sync_daemon.is_some() && self.k.global.lvs_sync_daemon.is_some() {
            self.push(
                "bgp.lvs_sync_daemon",
                "lvs_sync_daemon: given in global_defs (following a VRRP instance) and in the bgp block (every box both ways); the kernel runs one of each daemon, so only one of them",
            );
        }
        self.too_many("bgp", b.neighbors.len(), MAX_BGP_NEIGHBORS, "bgp: neighbor");
        self.too_many("bgp", b.announce.len(), MAX_BGP_ANNOUNCE, "bgp: announce");
        let mut seen = HashSet::new();
        for (i, n) in b.neighbors.iter().enumerate() {
            let at = || format!("bgp.neighbor[{i}]");
            if !seen.insert(n.address) {
                self.push(at(), format!("neighbor {}: given twice", n.address));
            }
            if n.remote_as == 0 {
                self.push(
                    at(),
                    format!("neighbor {}: remote_as 0 is reserved (RFC 7607)", n.address),
                );
            }
            if n.hold_time != 0 && n.hold_time < 3 {
                self.push(
                    format!("{}.hold_time", at()),
                    format!(
                        "hold_time: {} is neither 0 nor 3 to 65535 seconds (RFC 4271 §4.2)",
                        n.hold_time
                    ),
                );
            }
            if let Some(k) = n.keepalive {
                if n.hold_time != 0 && k > n.hold_time / 3 {
                    self.push(
                        format!("{}.keepalive", at()),
                        format!(
                            "keepalive: {k} s is more than a third of hold_time {} s (RFC 4271 §10)",
                            n.hold_time
                        ),
                    );
                }
            }
            if let Some(f) = &n.bfd {
                self.bgp_bfd(&format!("{}.bfd", at()), f);
            }
            if let Some(src) = n.source_ip {
                if src.is_ipv4() != n.address.is_ipv4() {
                    self.push(
                        format!("{}.source_ip", at()),
                        format!(
                            "source_ip: {src} is {} and neighbor {} is {}",
                            family(src),
                            n.address,
                            family(n.address)
                        ),
                    );
                }
                if let Some(native) = self.native {
                    let ours = native
                        .interfaces
                        .iter()
                        .any(|i| i.addresses.iter().any(|a| a.addr == src));
                    if !ours {
                        self.push(
                            format!("{}.source_ip", at()),
                            format!("source_ip: {src} is none of this box's interface addresses"),
                        );
                    }
                }
            }
            let v6_over_v4 = n.address.is_ipv4() && b.announce.iter().any(|p| p.addr.is_ipv6());
            if v6_over_v4 && n.next_hop_v6.is_none() {
                self.push(
                    at(),
                    format!(
                        "neighbor {}: IPv6 prefixes are announced over this IPv4 session: next_hop_v6 is needed (RFC 4760 §3)",
                        n.address
                    ),
                );
            }
        }
        if b.router_id.is_none() {
            let from_source = b
                .neighbors
                .iter()
                .any(|n| matches!(n.source_ip, Some(IpAddr::V4(_))));
            let from_ext = self.native.is_some_and(|c| {
                c.interface(Role::Ext)
                    .is_some_and(|i| i.addresses.iter().any(|a| a.addr.is_ipv4()))
            });
            if self.native.is_some() && !from_source && !from_ext && !b.neighbors.is_empty() {
                self.push(
                    "bgp",
                    "bgp: router_id is needed (no IPv4 source_ip and no IPv4 address on ext to take it from)",
                );
            }
        }
        let services = self.service_addresses();
        let mut announced = HashSet::new();
        for (i, p) in b.announce.iter().enumerate() {
            let at = || format!("bgp.announce[{i}]");
            if p.network() != p.addr {
                self.push(
                    at(),
                    format!(
                        "announce: {p} has host bits set (did you mean {}/{}?)",
                        p.network(),
                        p.len
                    ),
                );
            }
            if !announced.insert(*p) {
                self.push(at(), format!("announce: {p} is given twice"));
            }
            if !services.iter().any(|&a| p.contains(a)) {
                self.push(
                    at(),
                    format!(
                        "announce: {p} holds no virtual_server address: this box would draw traffic it has no service for"
                    ),
                );
            }
        }
    }

    /// Every address a virtual server listens on (a group's range by its ends).
    /// keepalived's ranges for `bfd_instance` (the native JSON does not pass the reader).
    fn bgp_bfd(&mut self, at: &str, f: &BgpBfd) {
        use bfd_defaults::{IDLE_TX_MIN, INTERVAL_MAX};
        for (key, v, min) in [
            ("min_rx", f.min_rx, 1),
            ("min_tx", f.min_tx, 1),
            ("idle_tx", f.idle_tx, IDLE_TX_MIN),
        ] {
            if !(min..=INTERVAL_MAX).contains(&v) {
                self.push(
                    format!("{at}.{key}"),
                    format!("{key}: {v} ms is not from {min} to {INTERVAL_MAX} ms"),
                );
            }
        }
        if f.multiplier == 0 {
            self.push(
                format!("{at}.multiplier"),
                "multiplier: 0 is not from 1 to 255 (RFC 5880 §6.8.6)",
            );
        }
    }

    fn service_addresses(&self) -> Vec<IpAddr> {
        let mut out = Vec::new();
        for vs in &self.k.virtual_servers {
            match &vs.key {
                VsKey::Addr { ip, .. } => out.push(*ip),
                VsKey::Group(name) => {
                    let group = self
                        .k
                        .virtual_server_groups
                        .iter()
                        .find(|g| &g.name == name);
                    for e in group.map(|g| g.entries.as_slice()).unwrap_or_default() {
                        if let GroupEntry::Range { first, last, .. } = e {
                            out.extend([*first, *last]);
                        }
                    }
                }
                VsKey::Fwmark(_) => {}
            }
        }
        out
    }
}
