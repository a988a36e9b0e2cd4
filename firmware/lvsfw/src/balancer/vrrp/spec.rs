//! From keepalived.conf's `vrrp_instance`s and `vrrp_sync_group`s to what the VRRP tasks
//! run: interface names resolved to the kernel's links, the primary address picked, the
//! keepalived defaults filled in. Pure: the kernel's links come in as a list.

use std::net::IpAddr;
use std::time::Duration;

use config::keepalived::{AuthType, Authentication, Keepalived, VrrpInstance};
use config::IpPrefix;
use vrrp::ah::Key;
use vrrp::packet::{Auth, ChecksumMode, Version};
use vrrp::Settings;

/// A kernel link as the resolver sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    pub index: u32,
    pub name: String,
    pub addresses: Vec<IpPrefix>,
}

/// How a name in keepalived.conf finds its link.
pub trait Resolve {
    /// The link an `interface`, `dev` or `track_interface` name stands for.
    fn link(&self, name: &str) -> Result<&LinkInfo, String>;
}

/// `lvsfw run -f`: names are the kernel's own.
pub struct HostNames<'a>(pub &'a [LinkInfo]);

impl Resolve for HostNames<'_> {
    fn link(&self, name: &str) -> Result<&LinkInfo, String> {
        self.0
            .iter()
            .find(|l| l.name == name)
            .ok_or_else(|| format!("no interface \"{name}\""))
    }
}

/// A virtual address and the link it lives on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vip {
    pub prefix: IpPrefix,
    pub ifname: String,
    pub ifindex: u32,
    /// `virtual_ipaddress_excluded`: configured with the others, never advertised.
    pub excluded: bool,
}

/// keepalived's gratuitous ARP timing on becoming master: `repeat` at once, `repeat`
/// again after `delay`, and (with `vrrp_garp_master_refresh`) one round every `refresh`
/// while master.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GarpTiming {
    pub delay: Duration,
    pub repeat: u32,
    pub refresh: Option<Duration>,
}

#[derive(Debug, Clone)]
pub struct MemberSpec {
    pub name: String,
    pub settings: Settings,
    pub ifname: String,
    pub ifindex: u32,
    pub checksum: ChecksumMode,
    /// keepalived's unicast_peer; empty means multicast.
    pub unicast_peers: Vec<IpAddr>,
    pub vips: Vec<Vip>,
    pub garp: GarpTiming,
    /// `auth_type AH`: the key from auth_pass.
    pub ah_key: Option<Key>,
    /// The links whose loss means FAULT: the instance's interface (keepalived tracks it
    /// unless told not to) and each `track_interface`.
    pub track: Vec<(String, u32)>,
    /// VRIDs that instances of this process run on the same interface; a packet for
    /// any other VRID is counted (RFC 5798 §7.1), one for these is simply not ours.
    pub vrids_here: Vec<u8>,
}

/// Instances that move together; a lone instance is a group of one.
#[derive(Debug, Clone)]
pub struct GroupSpec {
    /// The `vrrp_sync_group` name, if any.
    pub name: Option<String>,
    pub members: Vec<MemberSpec>,
}

/// A group that cannot run now: its members and why. A sync group starts or fails as
/// one (keepalived moves its members together), so one member's problem stops them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unstartable {
    /// The `vrrp_sync_group` name, if any.
    pub name: Option<String>,
    pub members: Vec<String>,
    pub reason: String,
}

impl Unstartable {
    /// What the status says of `member`: the reason, and the group it fails with.
    pub fn reason_for(&self, member: &str) -> String {
        match &self.name {
            Some(group) if self.members.len() > 1 => {
                format!("sync group {group} does not start: {}", self.reason)
            }
            _ => {
                let own = [format!("vrrp_instance {member}: "), format!("{member}: ")];
                own.iter()
                    .find_map(|p| self.reason.strip_prefix(p.as_str()))
                    .unwrap_or(&self.reason)
                    .to_string()
            }
        }
    }
}

/// Every group that can run, and every one that cannot with its reason.
pub fn groups(k: &Keepalived, names: &dyn Resolve) -> (Vec<GroupSpec>, Vec<Unstartable>) {
    let all_vips: Vec<IpAddr> = k
        .vrrp_instances
        .iter()
        .flat_map(|i| i.vips.iter().chain(&i.excluded_vips))
        .map(|v| v.address.addr)
        .collect();
    let mut members: Vec<Result<MemberSpec, (String, String)>> = k
        .vrrp_instances
        .iter()
        .map(|instance| {
            member(k, instance, names, &all_vips).map_err(|why| {
                (
                    instance.name.clone(),
                    format!("vrrp_instance {}: {why}", instance.name),
                )
            })
        })
        .collect();
    let vrids: Vec<(u32, u8)> = members
        .iter()
        .flatten()
        .map(|m| (m.ifindex, m.settings.vrid))
        .collect();
    for m in members.iter_mut().flatten() {
        m.vrids_here = vrids
            .iter()
            .filter(|(index, _)| *index == m.ifindex)
            .map(|(_, vrid)| *vrid)
            .collect();
    }
    let name_of = |m: &Result<MemberSpec, (String, String)>| match m {
        Ok(m) => m.name.clone(),
        Err((name, _)) => name.clone(),
    };
    let mut groups = Vec::new();
    let mut unstartable = Vec::new();
    for sync in &k.sync_groups {
        let mut taken = Vec::new();
        let mut problems = Vec::new();
        for name in &sync.members {
            match members.iter().position(|m| name_of(m) == *name) {
                Some(at) => taken.push(members.remove(at)),
                None => problems.push(format!("no vrrp_instance \"{name}\"")),
            }
        }
        let names: Vec<String> = taken.iter().map(name_of).collect();
        problems.extend(
            taken
                .iter()
                .filter_map(|m| m.as_ref().err())
                .map(|(_, why)| why.clone()),
        );
        if !problems.is_empty() {
            unstartable.push(Unstartable {
                name: Some(sync.name.clone()),
                members: names,
                reason: problems.join("; "),
            });
        } else if !taken.is_empty() {
            groups.push(GroupSpec {
                name: Some(sync.name.clone()),
                members: taken.into_iter().flatten().collect(),
            });
        }
    }
    for m in members {
        match m {
            Ok(m) => groups.push(GroupSpec {
                name: None,
                members: vec![m],
            }),
            Err((name, reason)) => unstartable.push(Unstartable {
                name: None,
                members: vec![name],
                reason,
            }),
        }
    }
    (groups, unstartable)
}

fn member(
    k: &Keepalived,
    i: &VrrpInstance,
    names: &dyn Resolve,
    all_vips: &[IpAddr],
) -> Result<MemberSpec, String> {
    let link = names.link(&i.interface)?;
    let version = match i.version.unwrap_or(k.global.vrrp_version) {
        3 => Version::V3,
        _ => Version::V2,
    };
    let ipv6 = i.vips.first().is_some_and(|v| v.address.addr.is_ipv6());
    if ipv6 && version == Version::V2 {
        return Err("IPv6 addresses need VRRP version 3 (RFC 3768 is IPv4 only)".into());
    }
    let primary_ip = match i.unicast_src_ip {
        Some(ip) => ip,
        None => primary(link, ipv6, all_vips).ok_or_else(|| {
            let family = if ipv6 { "IPv6 link-local" } else { "IPv4" };
            format!(
                "interface {} has no {family} address to send from",
                link.name
            )
        })?,
    };
    let (auth, ah_key) = match (&i.auth, version) {
        (
            Some(Authentication {
                auth_type: AuthType::Pass,
                auth_pass: pass,
            }),
            Version::V2,
        ) => {
            let mut bytes = [0u8; 8];
            let n = pass.len().min(8);
            bytes[..n].copy_from_slice(&pass.as_bytes()[..n]);
            (Auth::Pass(bytes), None)
        }
        (
            Some(Authentication {
                auth_type: AuthType::Ah,
                auth_pass: pass,
            }),
            Version::V2,
        ) if !ipv6 => (Auth::Ah, Some(Key::from_pass(pass))),
        (
            Some(Authentication {
                auth_type: AuthType::Ah,
                ..
            }),
            Version::V2,
        ) => return Err("auth_type AH is VRRPv2 over IPv4 only".into()),
        // keepalived ignores authentication with version 3 (RFC 5798 §9 removed it).
        _ => (Auth::None, None),
    };
    let mut vips = Vec::new();
    for (list, excluded) in [(&i.vips, false), (&i.excluded_vips, true)] {
        for vip in list {
            let dev = names.link(vip.dev.as_deref().unwrap_or(&i.interface))?;
            if !excluded && vip.address.addr.is_ipv6() != ipv6 {
                return Err(format!(
                    "{} mixes address families in virtual_ipaddress (use virtual_ipaddress_excluded)",
                    vip.address
                ));
            }
            vips.push(Vip {
                prefix: vip.address,
                ifname: dev.name.clone(),
                ifindex: dev.index,
                excluded,
            });
        }
    }
    let mut track = vec![(link.name.clone(), link.index)];
    for tracked in &i.track_interfaces {
        let tracked = names.link(&tracked.name)?;
        if !track.iter().any(|(_, index)| *index == tracked.index) {
            track.push((tracked.name.clone(), tracked.index));
        }
    }
    let settings = Settings {
        version,
        vrid: i.vrid,
        priority: i.priority,
        advert_int: i.advert_int,
        preempt: !i.nopreempt,
        preempt_delay: i.preempt_delay,
        addresses: vips
            .iter()
            .filter(|v| !v.excluded)
            .map(|v| v.prefix.addr)
            .collect(),
        primary_ip,
        auth,
        skip_check_adv_addr: k.global.skip_check_adv_addr,
        unicast_peers: i.unicast_peers.clone(),
        check_unicast_src: false,
        lower_prio_no_advert: false,
        higher_prio_send_advert: false,
        down_timer_adverts: vrrp::instance::DOWN_TIMER_ADVERTS,
    };
    Ok(MemberSpec {
        name: i.name.clone(),
        settings,
        ifname: link.name.clone(),
        ifindex: link.index,
        checksum: ChecksumMode::PseudoHeader,
        unicast_peers: i.unicast_peers.clone(),
        vips,
        garp: GarpTiming {
            delay: i.garp_master_delay.unwrap_or(k.global.garp_master_delay),
            repeat: i.garp_master_repeat.unwrap_or(k.global.garp_master_repeat),
            // The instance's own garp_master_refresh wins over the global one.
            refresh: i
                .garp_master_refresh
                .or(k.global.garp_master_refresh)
                .filter(|d| !d.is_zero()),
        },
        ah_key,
        track,
        vrids_here: Vec::new(),
    })
}

/// The address adverts are sent from: IPv4, the interface's first address that is not
/// a virtual one (a VIP left behind by a crash must not become our identity); IPv6, the
/// link-local address (RFC 5798 §5.1.2.1).
fn primary(link: &LinkInfo, ipv6: bool, vips: &[IpAddr]) -> Option<IpAddr> {
    link.addresses.iter().map(|p| p.addr).find(|a| match a {
        IpAddr::V4(_) => !ipv6 && !vips.contains(a),
        IpAddr::V6(v6) => ipv6 && v6.is_unicast_link_local(),
    })
}

#[cfg(test)]
mod tests;
