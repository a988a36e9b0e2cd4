//! From keepalived.conf's `vrrp_instance`s and `vrrp_sync_group`s to what the VRRP tasks
//! run: interface names resolved to the kernel's links, the primary address picked, the
//! keepalived defaults filled in. Pure: the kernel's links come in as a list.

use std::net::IpAddr;
use std::time::Duration;

use config::keepalived::{
    AuthType, Authentication, GlobalDefs, Keepalived, SyncGroup, VrrpInstance,
};
use config::IpPrefix;
use netif::vmac::Vmac;
use netif::vrrp_socket::{GROUP_V4, GROUP_V6};
use vrrp::ah::Key;
use vrrp::packet::{Auth, ChecksumMode, Version};
use vrrp::Settings;

use super::tracking::{Object, Tracked};

mod track;
mod vmac;

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
    /// The macvlan (of [`MemberSpec::vmacs`]) that holds it, in place of `ifindex`.
    pub vmac: Option<usize>,
}

/// keepalived's gratuitous ARP timing on becoming master: `repeat` at once, `repeat`
/// again after `delay`, and (with `vrrp_garp_master_refresh`) `refresh_repeat` every
/// `refresh` while master; `lower_prio_repeat` (and again after `lower_prio_delay`) when
/// a master hears a lower priority. `interval` paces the ARPs (`na_interval` the NAs)
/// sent on one interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GarpTiming {
    pub delay: Duration,
    pub repeat: u32,
    pub refresh: Option<Duration>,
    pub refresh_repeat: u32,
    pub lower_prio_delay: Duration,
    pub lower_prio_repeat: u32,
    pub interval: Duration,
    pub na_interval: Duration,
}

#[derive(Debug, Clone)]
pub struct MemberSpec {
    pub name: String,
    pub settings: Settings,
    /// The instance's interface (the macvlan's parent with use_vmac).
    pub ifname: String,
    pub ifindex: u32,
    pub checksum: ChecksumMode,
    /// The multicast group joined and sent to; `None` with unicast peers.
    pub group: Option<IpAddr>,
    /// keepalived's unicast_ttl: TTL / hop limit of unicast adverts.
    pub unicast_ttl: u8,
    pub vips: Vec<Vip>,
    /// `virtual_routes` and `virtual_rules`: installed with the VIPs on becoming
    /// MASTER, removed with them on leaving it.
    pub routes: Vec<netif::routes::RouteSpec>,
    pub rules: Vec<netif::routes::RuleSpec>,
    /// keepalived's use_vmac (first) and use_vmac_addr macvlans; each VIP names the
    /// one that holds it.
    pub vmacs: Vec<Vmac>,
    /// keepalived's vmac_xmit_base: adverts go out of the parent, not the macvlan.
    pub xmit_base: bool,
    pub garp: GarpTiming,
    /// `auth_type AH`: the key from auth_pass.
    pub ah_key: Option<Key>,
    /// What the instance tracks, with keepalived's weights: its interface (unless
    /// dont_track_primary) and the VIPs' interfaces, each `track_interface`, each
    /// `track_script` with a native check, and those of its sync group.
    pub track: Vec<Tracked>,
    /// A fault of the configuration: the instance stays in FAULT (keepalived's
    /// unicast_fault_no_peer without peers).
    pub fault: Option<String>,
    /// What keepalived would report as a configuration error and ignore: logged once
    /// when the instance starts.
    pub warnings: Vec<String>,
    /// VRIDs that instances of this process run on the same interface; a packet for
    /// any other VRID is counted (RFC 5798 §7.1), one for these is simply not ours.
    pub vrids_here: Vec<u8>,
}

impl MemberSpec {
    /// The links tracked, by name and index.
    pub fn tracked_links(&self) -> impl Iterator<Item = (&str, u32)> {
        self.track.iter().filter_map(|t| match &t.object {
            Object::Link { name, index } => Some((name.as_str(), *index)),
            Object::Script(_) => None,
        })
    }
}

/// Instances that move together; a lone instance is a group of one.
#[derive(Debug, Clone)]
pub struct GroupSpec {
    /// The `vrrp_sync_group` name, if any.
    pub name: Option<String>,
    pub members: Vec<MemberSpec>,
    /// keepalived's `vrrp_startup_delay`.
    pub startup_delay: Duration,
    /// keepalived's `max_auto_priority` and `min_auto_priority_delay`.
    pub auto_priority: Option<AutoPriority>,
}

/// keepalived's automatic real-time priority: a VRRP timer that fires more than `delay`
/// late raises the scheduling priority one step (SCHED_RR, up to `max`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoPriority {
    pub max: i32,
    pub delay: Duration,
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
            let sync = k
                .sync_groups
                .iter()
                .find(|g| g.members.contains(&instance.name));
            member(k, instance, sync, names, &all_vips).map_err(|why| {
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
    vmac::unique_names(k, members.iter_mut().flatten());
    let name_of = |m: &Result<MemberSpec, (String, String)>| match m {
        Ok(m) => m.name.clone(),
        Err((name, _)) => name.clone(),
    };
    let group = |name: Option<String>, members: Vec<MemberSpec>| GroupSpec {
        name,
        members,
        startup_delay: k.global.vrrp_startup_delay.unwrap_or_default(),
        auto_priority: auto_priority(&k.global),
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
            groups.push(group(
                Some(sync.name.clone()),
                taken.into_iter().flatten().collect(),
            ));
        }
    }
    for m in members {
        match m {
            Ok(m) => groups.push(group(None, vec![m])),
            Err((name, reason)) => unstartable.push(Unstartable {
                name: None,
                members: vec![name],
                reason,
            }),
        }
    }
    (groups, unstartable)
}

/// keepalived: `max_auto_priority` 0 (its default) or -1 turns it off; its delay is
/// `min_auto_priority_delay` microseconds, 1 s by default.
fn auto_priority(global: &GlobalDefs) -> Option<AutoPriority> {
    let max = global.max_auto_priority.filter(|m| *m > 0)?;
    let delay = global
        .min_auto_priority_delay
        .map_or(Duration::from_secs(1), |us| {
            Duration::from_micros(u64::from(us))
        });
    Some(AutoPriority { max, delay })
}

fn member(
    k: &Keepalived,
    i: &VrrpInstance,
    sync: Option<&SyncGroup>,
    names: &dyn Resolve,
    all_vips: &[IpAddr],
) -> Result<MemberSpec, String> {
    let g = &k.global;
    let link = names.link(&i.interface)?;
    let version = match i.version.unwrap_or(g.vrrp_version) {
        3 => Version::V3,
        _ => Version::V2,
    };
    let ipv6 = i.vips.first().is_some_and(|v| v.address.addr.is_ipv6());
    if ipv6 && version == Version::V2 {
        return Err("IPv6 addresses need VRRP version 3 (RFC 3768 is IPv4 only)".into());
    }
    let mut warnings = Vec::new();
    // keepalived: mcast_src_ip and unicast_src_ip both set the source.
    let primary_ip = match i.unicast_src_ip.or(i.mcast_src_ip) {
        Some(ip) => ip,
        None => primary(link, ipv6, all_vips).ok_or_else(|| {
            let what = if ipv6 {
                "IPv6 link-local address to send from (none, or only ones that failed duplicate address detection)"
            } else {
                "IPv4 address to send from"
            };
            format!("interface {} has no {what}", link.name)
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
                vmac: None,
            });
        }
    }
    let unicast = !i.unicast_peers.is_empty();
    let strict = i.strict_mode.unwrap_or(g.strict);
    let (vmacs, xmit_base) = vmac::plan(i, link, ipv6, unicast, &mut vips, &mut warnings)?;
    let (routes, rules) = virtual_routes(k, i, names, &mut warnings)?;
    // keepalived tracks the links of the routes and rules it tracks (not no_track).
    let mut route_links: Vec<(String, u32)> = Vec::new();
    let route_devs = i
        .virtual_routes
        .iter()
        .filter(|r| !r.no_track && r.not_installable().is_none())
        .flat_map(|r| r.dev.iter());
    let rule_devs = i
        .virtual_rules
        .iter()
        .filter(|r| !r.no_track && r.not_installable().is_none())
        .flat_map(|r| [&r.iif, &r.oif].into_iter().flatten());
    for name in route_devs.chain(rule_devs) {
        let l = names.link(name)?;
        route_links.push((l.name.clone(), l.index));
    }
    let track = track::tracked(k, i, sync, link, &vips, &route_links, names, &mut warnings)?;
    let fault = (i.unicast_fault_no_peer && !unicast).then(|| {
        "unicast_fault_no_peer: no unicast_peer to send to (keepalived stays in FAULT)".to_string()
    });
    let group = (!unicast).then(|| multicast_group(i, g, ipv6, &mut warnings));
    if !unicast && i.unicast_ttl.is_some() {
        warnings.push("unicast_ttl without unicast peers is ignored, as keepalived does".into());
    }
    // strict_mode (RFC conformance) fixes these as keepalived does.
    let (lower_prio_no_advert, higher_prio_send_advert) = if strict {
        (true, false)
    } else {
        (
            i.lower_prio_no_advert
                .unwrap_or(g.vrrp_lower_prio_no_advert),
            i.higher_prio_send_advert
                .unwrap_or(g.vrrp_higher_prio_send_advert),
        )
    };
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
        skip_check_adv_addr: i.skip_check_adv_addr.unwrap_or(g.skip_check_adv_addr),
        unicast_peers: i.unicast_peers.clone(),
        check_unicast_src: i.check_unicast_src.unwrap_or(false) || g.vrrp_check_unicast_src,
        lower_prio_no_advert,
        higher_prio_send_advert,
        down_timer_adverts: i
            .down_timer_adverts
            .or(g.vrrp_down_timer_adverts)
            .unwrap_or(vrrp::instance::DOWN_TIMER_ADVERTS),
    };
    // keepalived's v3_checksum_as_v2: the IPv4 VRRPv3 checksum without the
    // pseudo-header, as some vendors compute it.
    let checksum = if i.v3_checksum_as_v2.unwrap_or(g.v3_checksum_as_v2) {
        ChecksumMode::WithoutPseudoHeader
    } else {
        ChecksumMode::PseudoHeader
    };
    Ok(MemberSpec {
        name: i.name.clone(),
        settings,
        ifname: link.name.clone(),
        ifindex: link.index,
        checksum,
        group,
        unicast_ttl: i.unicast_ttl.filter(|_| unicast).unwrap_or(255),
        vips,
        routes,
        rules,
        vmacs,
        xmit_base,
        garp: garp_timing(i, g, strict),
        ah_key,
        track,
        fault,
        warnings,
        vrids_here: Vec::new(),
    })
}

/// The instance's `virtual_routes` and `virtual_rules` in the kernel's terms. A line
/// whose interface is not there keeps the instance from starting, as a VIP's would; one
/// with an option lvsfw does not act on is skipped with a warning.
fn virtual_routes(
    k: &Keepalived,
    i: &VrrpInstance,
    names: &dyn Resolve,
    warnings: &mut Vec<String>,
) -> Result<(Vec<netif::routes::RouteSpec>, Vec<netif::routes::RuleSpec>), String> {
    let at = k
        .vrrp_instances
        .iter()
        .position(|x| x.name == i.name)
        .unwrap_or(0);
    let priorities = crate::routes::rule_priorities(k);
    let own = priorities
        .get(at + 1)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let got = crate::routes::resolve_all(
        ("virtual_routes", &i.virtual_routes),
        ("virtual_rules", &i.virtual_rules, own),
        names,
    );
    warnings.extend(got.skipped.into_iter().map(|s| format!("{s}: skipped")));
    match got.unresolved.into_iter().next() {
        Some(why) => Err(why),
        None => Ok((got.routes, got.rules)),
    }
}

/// keepalived's group: the instance's `mcast_dst_ip`, else `vrrp_mcast_group4|6`, else
/// RFC 5798's 224.0.0.18 / ff02::12.
fn multicast_group(
    i: &VrrpInstance,
    g: &GlobalDefs,
    ipv6: bool,
    warnings: &mut Vec<String>,
) -> IpAddr {
    let standard = if ipv6 {
        g.vrrp_mcast_group6.map_or(IpAddr::V6(GROUP_V6), IpAddr::V6)
    } else {
        g.vrrp_mcast_group4.map_or(IpAddr::V4(GROUP_V4), IpAddr::V4)
    };
    match i.mcast_dst_ip {
        Some(dst) if dst.is_ipv6() == ipv6 => dst,
        Some(dst) => {
            warnings.push(format!(
                "mcast_dst_ip {dst} is of the other address family; {standard} is used"
            ));
            standard
        }
        None => standard,
    }
}

/// keepalived's defaults (vrrp.c vrrp_complete_instance, global_parser.c): the
/// instance's own, else the global one; `vrrp_min_garp` turns the global defaults down
/// to one ARP and no repeat; the lower-priority ones default to the master ones, and
/// strict mode has none.
fn garp_timing(i: &VrrpInstance, g: &GlobalDefs, strict: bool) -> GarpTiming {
    use config::keepalived::defaults;
    // vrrp_min_garp changes what is still at keepalived's default.
    let min = |value: u32, default: u32, min: u32| {
        if g.vrrp_min_garp && value == default {
            min
        } else {
            value
        }
    };
    let global_repeat = min(g.garp_master_repeat, defaults::GARP_MASTER_REPEAT, 1);
    let global_delay = if g.vrrp_min_garp && g.garp_master_delay == defaults::GARP_MASTER_DELAY {
        Duration::ZERO
    } else {
        g.garp_master_delay
    };
    let global_refresh_repeat = g
        .vrrp_garp_master_refresh_repeat
        .unwrap_or(if g.vrrp_min_garp { 0 } else { 1 });
    let (lower_prio_repeat, lower_prio_delay) = if strict {
        (0, Duration::ZERO)
    } else {
        (
            i.garp_lower_prio_repeat
                .or(g.vrrp_garp_lower_prio_repeat)
                .unwrap_or(global_repeat),
            i.garp_lower_prio_delay
                .or(g.vrrp_garp_lower_prio_delay)
                .unwrap_or(global_delay),
        )
    };
    GarpTiming {
        delay: i.garp_master_delay.unwrap_or(global_delay),
        repeat: i.garp_master_repeat.unwrap_or(global_repeat),
        // The instance's own garp_master_refresh wins over the global one.
        refresh: i
            .garp_master_refresh
            .or(g.garp_master_refresh)
            .filter(|d| !d.is_zero()),
        refresh_repeat: i
            .garp_master_refresh_repeat
            .unwrap_or(global_refresh_repeat),
        lower_prio_delay,
        lower_prio_repeat,
        interval: g.vrrp_garp_interval.unwrap_or_default(),
        na_interval: g.vrrp_gna_interval.unwrap_or_default(),
    }
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
#[cfg(test)]
mod tests_keepalived;
