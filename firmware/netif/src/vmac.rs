//! keepalived's `use_vmac`: the instance's virtual addresses on a macvlan whose MAC is
//! the VRRP virtual router MAC (RFC 5798 §7.3: 00-00-5E-00-01-{VRID} for IPv4,
//! 00-00-5E-00-02-{VRID} for IPv6). Hosts then keep one ARP entry for a VIP whoever is
//! master; a failover moves the MAC through the switch, not through every host's cache.
//!
//! As keepalived (vrrp_vmac.c, vrrp_if_config.c) makes it: private mode, so that the
//! macvlan takes only frames for its own MAC; `arp_ignore` 1 on the macvlan and
//! `arp_ignore` 1 / `arp_filter` 1 on its parent, so that only the macvlan answers ARP
//! for a VIP and only while it holds it; `rp_filter` 0 and `accept_local` 1 on the
//! macvlan, which receives adverts from sources it has no route through; no IPv6 on an
//! IPv4 instance's macvlan (no link-local address of its own, RFC 5798 §7.4).
//!
//! One setting more than keepalived's code makes (its documentation asks the operator
//! for it): `arp_announce` 2 on the parent. Traffic from a VIP to a host on the segment
//! (every NAT reply) leaves through the parent, whose connected route comes first; with
//! the default 0 the parent's ARP request for that host carries the VIP as sender
//! address and the parent's own MAC, and every host that hears it moves the VIP to that
//! MAC, which is what use_vmac is there to prevent (seen in the lab: a client's entry
//! for the VIP turned to the parent's MAC after one ping). Level 1 does not help for a
//! VIP in the parent's subnet; 2 sends the parent's own address.
//!
//! The parent's settings are put back when the last of our macvlans on it goes.

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::sync::Mutex;

use futures::TryStreamExt;
use rtnetlink::packet_route::link::{
    InfoData, InfoKind, InfoMacVlan, LinkAttribute, LinkInfo, LinkMessage, MacVlanMode,
};
use rtnetlink::{LinkMacVlan, LinkUnspec};

use crate::kernel::Kernel;
use crate::sysctl::{self, Sysctl};

/// One macvlan that VRRP puts its addresses on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vmac {
    /// keepalived's default is `vrrp.VRID`.
    pub name: String,
    /// The interface it sits on.
    pub parent: u32,
    pub parent_name: String,
    pub mac: [u8; 6],
    /// An IPv6 instance's: it keeps IPv6 on.
    pub ipv6: bool,
}

/// The virtual router MAC of RFC 5798 §7.3.
pub fn virtual_mac(vrid: u8, ipv6: bool) -> [u8; 6] {
    [0x00, 0x00, 0x5e, 0x00, if ipv6 { 0x02 } else { 0x01 }, vrid]
}

/// Whether `mac` is a VRRP virtual router MAC (ours, or a peer's on the same segment).
pub fn is_virtual_mac(mac: &[u8]) -> bool {
    matches!(mac, [0x00, 0x00, 0x5e, 0x00, 0x01 | 0x02, _])
}

/// The parent's settings a macvlan of ours needs, in this order.
const PARENT_KEYS: [(&str, &str); 3] = [
    ("arp_ignore", "1"),
    ("arp_filter", "1"),
    ("arp_announce", "2"),
];

/// A parent's settings before the first macvlan of ours on it, in [`PARENT_KEYS`] order.
static PARENT_SETTINGS: Mutex<Option<HashMap<String, Vec<String>>>> = Mutex::new(None);

fn parent_sysctls<'a>(parent: &str, values: impl IntoIterator<Item = &'a str>) -> Vec<Sysctl> {
    PARENT_KEYS
        .iter()
        .zip(values)
        .map(|((key, _), value)| Sysctl::interface("ipv4", parent, key, value.to_string()))
        .collect()
}

/// What a macvlan of ours needs of its own settings.
fn own_sysctls(vmac: &Vmac) -> Vec<Sysctl> {
    let mut list = vec![
        Sysctl::interface("ipv4", &vmac.name, "arp_ignore", "1"),
        Sysctl::interface("ipv4", &vmac.name, "accept_local", "1"),
        Sysctl::interface("ipv4", &vmac.name, "rp_filter", "0"),
        Sysctl::interface("ipv4", &vmac.name, "promote_secondaries", "1"),
    ];
    if !vmac.ipv6 {
        list.push(Sysctl::interface("ipv6", &vmac.name, "disable_ipv6", "1"));
    }
    list
}

fn other(what: String) -> io::Error {
    io::Error::other(what)
}

/// What the kernel says of a link: whether it is a macvlan, its parent, MAC and mode.
#[derive(Debug, Default)]
struct Seen {
    index: u32,
    macvlan: bool,
    parent: Option<u32>,
    mac: Vec<u8>,
    private: bool,
}

fn seen(message: &LinkMessage) -> Seen {
    let mut s = Seen {
        index: message.header.index,
        ..Seen::default()
    };
    for attribute in &message.attributes {
        match attribute {
            LinkAttribute::Link(parent) => s.parent = Some(*parent),
            LinkAttribute::Address(mac) => s.mac = mac.clone(),
            LinkAttribute::LinkInfo(info) => {
                for i in info {
                    match i {
                        LinkInfo::Kind(InfoKind::MacVlan) => s.macvlan = true,
                        LinkInfo::Data(InfoData::MacVlan(data)) => {
                            s.private = data.contains(&InfoMacVlan::Mode(MacVlanMode::Private));
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    s
}

impl Kernel {
    async fn link_named(&self, name: &str) -> io::Result<Option<LinkMessage>> {
        let found: Result<Vec<LinkMessage>, _> = self
            .handle
            .link()
            .get()
            .match_name(name)
            .execute()
            .try_collect()
            .await;
        match found {
            Ok(mut links) => Ok(links.pop()),
            // ENODEV: no link of that name.
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -nix::libc::ENODEV => {
                Ok(None)
            }
            Err(e) => Err(other(format!("looking up {name}: {e}"))),
        }
    }

    /// Makes `vmac` exist and be up, with its settings and its parent's; its index. An
    /// existing macvlan of that name (a balancer that stopped without removing it) is
    /// taken as it is when it is right, made again when not; any other link of that name
    /// is left alone and is an error.
    pub async fn ensure_vmac(&self, vmac: &Vmac, proc_sys: &Path) -> io::Result<u32> {
        if let Some(existing) = self.link_named(&vmac.name).await? {
            let s = seen(&existing);
            if !s.macvlan {
                return Err(other(format!(
                    "use_vmac: interface {} exists and is not a macvlan",
                    vmac.name
                )));
            }
            if s.parent != Some(vmac.parent) || s.mac != vmac.mac || !s.private {
                log::info!(
                    "{}: an old macvlan with another parent, MAC or mode; making it again",
                    vmac.name
                );
                self.handle
                    .link()
                    .del(s.index)
                    .execute()
                    .await
                    .map_err(|e| other(format!("removing the old {}: {e}", vmac.name)))?;
            }
        }
        if self.link_named(&vmac.name).await?.is_none() {
            let message = LinkMacVlan::new(&vmac.name, vmac.parent, MacVlanMode::Private)
                .address(vmac.mac.to_vec())
                .build();
            self.handle
                .link()
                .add(message)
                .execute()
                .await
                .map_err(|e| {
                    other(format!(
                        "creating macvlan {} on {}: {e}",
                        vmac.name, vmac.parent_name
                    ))
                })?;
        }
        let index = self
            .link_named(&vmac.name)
            .await?
            .map(|l| l.header.index)
            .ok_or_else(|| other(format!("{}: gone right after it was made", vmac.name)))?;
        self.parent_settings(vmac, proc_sys)?;
        // Before the link comes up: an IPv4 instance's macvlan must never get a
        // link-local address (RFC 5798 §7.4).
        let own = own_sysctls(vmac);
        let (v6, v4): (Vec<Sysctl>, Vec<Sysctl>) = own
            .into_iter()
            .partition(|s| s.name.starts_with("net.ipv6"));
        // A kernel without IPv6 has no ipv6 settings, and nothing to turn off.
        if proc_sys.join("net/ipv6").exists() {
            sysctl::apply(proc_sys, &v6)?;
        }
        sysctl::apply(proc_sys, &v4)?;
        self.handle
            .link()
            .set(LinkUnspec::new_with_index(index).up().build())
            .execute()
            .await
            .map_err(|e| other(format!("bringing {} up: {e}", vmac.name)))?;
        Ok(index)
    }

    /// The parent's ARP settings ([`PARENT_KEYS`]), its values before remembered.
    fn parent_settings(&self, vmac: &Vmac, proc_sys: &Path) -> io::Result<()> {
        let wanted = parent_sysctls(&vmac.parent_name, PARENT_KEYS.map(|(_, v)| v));
        let mut saved = PARENT_SETTINGS.lock().unwrap_or_else(|e| e.into_inner());
        let saved = saved.get_or_insert_with(HashMap::new);
        if !saved.contains_key(&vmac.parent_name) {
            let before = wanted
                .iter()
                .map(|s| s.read(proc_sys))
                .collect::<io::Result<Vec<String>>>()?;
            saved.insert(vmac.parent_name.clone(), before);
        }
        sysctl::apply(proc_sys, &wanted).map(|_| ())
    }

    /// Removes the macvlan (and with it the addresses on it); the parent's settings go
    /// back when no macvlan with a VRRP MAC remains on it.
    pub async fn remove_vmac(&self, vmac: &Vmac, proc_sys: &Path) -> io::Result<()> {
        if let Some(link) = self.link_named(&vmac.name).await? {
            let s = seen(&link);
            if s.macvlan && s.parent == Some(vmac.parent) {
                self.handle
                    .link()
                    .del(s.index)
                    .execute()
                    .await
                    .map_err(|e| other(format!("removing {}: {e}", vmac.name)))?;
            }
        }
        let links: Vec<LinkMessage> = self
            .handle
            .link()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(|e| other(format!("listing links: {e}")))?;
        let still_used = links
            .iter()
            .map(seen)
            .any(|s| s.macvlan && s.parent == Some(vmac.parent) && is_virtual_mac(&s.mac));
        if !still_used {
            let before = PARENT_SETTINGS
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_mut()
                .and_then(|saved| saved.remove(&vmac.parent_name));
            if let Some(values) = before {
                let back = parent_sysctls(&vmac.parent_name, values.iter().map(String::as_str));
                sysctl::apply(proc_sys, &back)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_virtual_router_mac_of_rfc_5798() {
        assert_eq!(virtual_mac(51, false), [0, 0, 0x5e, 0, 1, 51]);
        assert_eq!(virtual_mac(255, true), [0, 0, 0x5e, 0, 2, 255]);
        assert!(is_virtual_mac(&virtual_mac(7, false)));
        assert!(!is_virtual_mac(&[0x52, 0x54, 0, 0, 1, 7]));
    }

    #[test]
    fn an_ipv4_macvlan_answers_arp_only_for_what_it_holds_and_has_no_ipv6() {
        let vmac = Vmac {
            name: "vrrp.51".into(),
            parent: 2,
            parent_name: "ext".into(),
            mac: virtual_mac(51, false),
            ipv6: false,
        };
        let list = own_sysctls(&vmac);
        let get = |name: &str| {
            list.iter()
                .find(|s| s.name == name)
                .map(|s| s.value.to_string())
        };
        assert_eq!(
            get("net.ipv4.conf.vrrp.51.arp_ignore").as_deref(),
            Some("1")
        );
        assert_eq!(get("net.ipv4.conf.vrrp.51.rp_filter").as_deref(), Some("0"));
        assert_eq!(
            get("net.ipv6.conf.vrrp.51.disable_ipv6").as_deref(),
            Some("1")
        );
        // The dot stays in the interface's folder.
        assert_eq!(
            list[0].path(Path::new("/proc/sys")),
            Path::new("/proc/sys/net/ipv4/conf/vrrp.51/arp_ignore")
        );
        let v6 = Vmac { ipv6: true, ..vmac };
        assert!(!own_sysctls(&v6).iter().any(|s| s.name.contains("ipv6")));
    }
}
