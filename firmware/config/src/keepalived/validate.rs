//! Semantic validation of a keepalived model, however it was read: what keepalived.conf's
//! grammar (or JSON's types) cannot say on their own. Every finding names the item by its
//! JSON path; the caller turns that into `file:line:col` or keeps the path.
//!
//! What needs the appliance's own addresses (the address owner's priority, NAT real
//! servers behind `int`) is checked only when the native configuration is given.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::time::Duration;

use super::model::*;
use crate::suggest::did_you_mean;
use crate::units::duration_to_seconds;
use crate::{Config, Role};

/// One problem: which item (its JSON path) and what is wrong, starting with the keyword.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub path: String,
    pub message: String,
}

struct Validator<'a> {
    k: &'a Keepalived,
    native: Option<&'a Config>,
    findings: Vec<Finding>,
}

/// Every finding of `k`, in the order of the model. A native configuration without
/// interfaces says nothing about the appliance's addresses and counts as none.
pub fn validate(k: &Keepalived, native: Option<&Config>) -> Vec<Finding> {
    let mut v = Validator {
        k,
        native: native.filter(|n| !n.interfaces.is_empty()),
        findings: Vec::new(),
    };
    v.global();
    v.instances();
    v.sync_groups();
    v.groups();
    v.virtual_servers();
    v.findings
}

fn family(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() {
        "IPv4"
    } else {
        "IPv6"
    }
}

fn seconds(d: Duration) -> f64 {
    duration_to_seconds(d)
}

fn key_text(key: &VsKey) -> String {
    match key {
        VsKey::Addr { ip, port } => format!("{ip} {port}"),
        VsKey::Fwmark(mark) => format!("fwmark {mark}"),
        VsKey::Group(name) => format!("group {name}"),
    }
}

impl Validator<'_> {
    fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.findings.push(Finding {
            path: path.into(),
            message: message.into(),
        });
    }

    /// A string that keepalived.conf can carry: no double quote, no control character.
    fn text(&mut self, path: impl Lazy, keyword: &str, value: &str) {
        if value.chars().any(|c| c == '"' || c.is_control()) {
            self.push(
                path.path(),
                format!("{keyword}: {value:?} cannot hold a double quote or a control character"),
            );
        }
    }

    fn too_many(&mut self, path: impl Lazy, len: usize, max: usize, what: &str) {
        if len > max {
            self.push(
                path.path(),
                format!("{what}: more than {max} (there are {len})"),
            );
        }
    }

    fn global(&mut self) {
        let g = &self.k.global;
        if !(2..=3).contains(&g.vrrp_version) {
            self.push(
                "global_defs.vrrp_version",
                format!("vrrp_version: {} is not 2 or 3", g.vrrp_version),
            );
        }
        if !(1..=255).contains(&g.garp_master_repeat) {
            self.push(
                "global_defs.vrrp_garp_master_repeat",
                format!(
                    "vrrp_garp_master_repeat: {} is not from 1 to 255",
                    g.garp_master_repeat
                ),
            );
        }
        if let Some(id) = &g.router_id {
            self.text("global_defs.router_id", "router_id", id);
        }
        if let Some(sync) = &g.lvs_sync_daemon {
            self.text(
                "global_defs.lvs_sync_daemon",
                "lvs_sync_daemon",
                &sync.interface,
            );
            self.text(
                "global_defs.lvs_sync_daemon",
                "lvs_sync_daemon",
                &sync.vrrp_instance,
            );
            if !self
                .k
                .vrrp_instances
                .iter()
                .any(|i| i.name == sync.vrrp_instance)
            {
                let message = format!(
                    "lvs_sync_daemon: vrrp_instance \"{}\" does not exist{}",
                    sync.vrrp_instance,
                    self.instance_hint(&sync.vrrp_instance)
                );
                self.push("global_defs.lvs_sync_daemon", message);
            }
        }
    }

    fn instance_hint(&self, name: &str) -> String {
        let names: Vec<&str> = self
            .k
            .vrrp_instances
            .iter()
            .map(|i| i.name.as_str())
            .collect();
        did_you_mean(name, &names)
            .map(|n| format!(" (did you mean \"{n}\"?)"))
            .unwrap_or_default()
    }

    /// The addresses of the interface an instance names, when the native configuration
    /// knows it (lvsfw names interfaces by their role).
    fn interface_addresses(&self, name: &str) -> Option<Vec<crate::IpPrefix>> {
        let role: Role = name.parse().ok()?;
        Some(self.native?.interface(role)?.addresses.clone())
    }

    fn instances(&mut self) {
        let k = self.k;
        self.too_many(
            "vrrp_instances",
            k.vrrp_instances.len(),
            MAX_VRRP_INSTANCES,
            "vrrp_instance",
        );
        let mut names = HashSet::new();
        // (interface, vrid, IPv6?) -> the instance that has it first
        let mut vrids: HashMap<(&str, u8, bool), &str> = HashMap::new();
        for (n, i) in k.vrrp_instances.iter().enumerate() {
            let at = format!("vrrp_instances[{n}]");
            if i.name.is_empty() {
                self.push(&at, "vrrp_instance: the name is empty");
            } else if !names.insert(i.name.as_str()) {
                self.push(&at, format!("vrrp_instance: {} is defined twice", i.name));
            }
            self.text(&at, "vrrp_instance", &i.name);
            self.text(|| format!("{at}.interface"), "interface", &i.interface);
            for t in &i.track_interfaces {
                self.text(|| format!("{at}.track_interface"), "track_interface", t);
            }
            for n in &i.notify {
                self.text(|| format!("{at}.notify"), n.event.keyword(), &n.command);
            }
            if let Some(auth) = &i.auth {
                self.text(
                    || format!("{at}.authentication"),
                    "auth_pass",
                    &auth.auth_pass,
                );
            }
            for (n, vip) in i.vips.iter().chain(&i.excluded_vips).enumerate() {
                for value in [&vip.dev, &vip.label, &vip.scope].into_iter().flatten() {
                    self.text(
                        || format!("{at}.virtual_ipaddress[{n}]"),
                        "virtual_ipaddress",
                        value,
                    );
                }
            }
            if i.interface.is_empty() {
                self.push(
                    format!("{at}.interface"),
                    format!("interface: vrrp_instance {} has none", i.name),
                );
            }
            if i.vrid == 0 {
                self.push(
                    format!("{at}.virtual_router_id"),
                    "virtual_router_id: 0 is not from 1 to 255",
                );
            }
            self.priority(i, &at);
            let version = i.effective_version(&k.global);
            if let Some(v) = i.version.filter(|v| !(2..=3).contains(v)) {
                self.push(
                    format!("{at}.version"),
                    format!("version: {v} is not 2 or 3"),
                );
            }
            self.advert_int(i, version, &at);
            if let Some(auth) = &i.auth {
                let len = auth.auth_pass.chars().count();
                if len == 0 || len > 8 {
                    self.push(
                        format!("{at}.authentication"),
                        "authentication: auth_pass must have 1 to 8 characters",
                    );
                }
            }
            self.vips(i, &at);
            if i.preempt_delay > Duration::from_secs(1000) {
                self.push(
                    format!("{at}.preempt_delay"),
                    format!(
                        "preempt_delay: {} s is not from 0 to 1000 s",
                        seconds(i.preempt_delay)
                    ),
                );
            }
            if let Some(r) = i.garp_master_repeat.filter(|r| !(1..=255).contains(r)) {
                self.push(
                    format!("{at}.garp_master_repeat"),
                    format!("garp_master_repeat: {r} is not from 1 to 255"),
                );
            }
            self.too_many(
                || format!("{at}.track_interface"),
                i.track_interfaces.len(),
                MAX_TRACK_INTERFACES,
                "track_interface",
            );
            self.too_many(
                || format!("{at}.unicast_peer"),
                i.unicast_peers.len(),
                MAX_UNICAST_PEERS,
                "unicast_peer",
            );
            self.too_many(
                || format!("{at}.notify"),
                i.notify.len(),
                MAX_NOTIFY_SCRIPTS,
                "notify",
            );
            if i.vrid != 0 && !i.interface.is_empty() {
                let v6 = i
                    .vips
                    .first()
                    .map(|v| v.address.addr.is_ipv6())
                    .unwrap_or(false);
                match vrids.get(&(i.interface.as_str(), i.vrid, v6)) {
                    Some(first) => {
                        let message = format!(
                            "virtual_router_id: {} is already used on interface {} by vrrp_instance {first} ({})",
                            i.vrid,
                            i.interface,
                            if v6 { "IPv6" } else { "IPv4" }
                        );
                        self.push(format!("{at}.virtual_router_id"), message);
                    }
                    None => {
                        vrids.insert((i.interface.as_str(), i.vrid, v6), i.name.as_str());
                    }
                }
            }
        }
    }

    /// 1 to 255, and 255 only for the address owner (RFC 5798 §5.2.4): an instance whose
    /// virtual address is an address of its own interface.
    fn priority(&mut self, i: &VrrpInstance, at: &str) {
        if i.priority == 0 {
            self.push(
                format!("{at}.priority"),
                "priority: 0 is not from 1 to 255 (0 is what a stopping master sends)",
            );
            return;
        }
        if i.priority != 255 {
            return;
        }
        let Some(own) = self.interface_addresses(&i.interface) else {
            return;
        };
        let owner = i
            .vips
            .iter()
            .any(|v| own.iter().any(|p| p.addr == v.address.addr));
        if !owner {
            self.push(
                format!("{at}.priority"),
                format!(
                    "priority: 255 is only for the address owner (a virtual_ipaddress that is an address of interface {}); use 1 to 254",
                    i.interface
                ),
            );
        }
    }

    /// VRRPv2 counts whole seconds (1–255), VRRPv3 centiseconds (0.01–40.95 s).
    fn advert_int(&mut self, i: &VrrpInstance, version: u8, at: &str) {
        let micros = i.advert_int.as_micros();
        let ok = if version == 3 {
            micros.is_multiple_of(10_000) && (10_000..=40_950_000).contains(&micros)
        } else {
            micros.is_multiple_of(1_000_000) && (1_000_000..=255_000_000).contains(&micros)
        };
        if !ok {
            let expected = if version == 3 {
                "hundredths of a second from 0.01 to 40.95 (VRRPv3)"
            } else {
                "whole seconds from 1 to 255 (VRRPv2; version 3 allows hundredths)"
            };
            self.push(
                format!("{at}.advert_int"),
                format!("advert_int: {} is not {expected}", seconds(i.advert_int)),
            );
        }
    }

    fn vips(&mut self, i: &VrrpInstance, at: &str) {
        for (list, name) in [
            (&i.vips, "virtual_ipaddress"),
            (&i.excluded_vips, "virtual_ipaddress_excluded"),
        ] {
            self.too_many(|| format!("{at}.{name}"), list.len(), MAX_VIPS, name);
        }
        // One instance advertises one family; the other goes to virtual_ipaddress_excluded.
        let Some(first) = i.vips.first() else { return };
        for (n, vip) in i.vips.iter().enumerate().skip(1) {
            if vip.address.addr.is_ipv4() != first.address.addr.is_ipv4() {
                self.push(
                    format!("{at}.virtual_ipaddress[{n}]"),
                    format!(
                        "virtual_ipaddress: {} is {} but {} is {}; an instance advertises one family (put it in virtual_ipaddress_excluded)",
                        vip.address.addr,
                        family(vip.address.addr),
                        first.address.addr,
                        family(first.address.addr)
                    ),
                );
            }
        }
    }

    fn sync_groups(&mut self) {
        let k = self.k;
        self.too_many(
            "vrrp_sync_groups",
            k.sync_groups.len(),
            MAX_SYNC_GROUPS,
            "vrrp_sync_group",
        );
        let mut names = HashSet::new();
        let mut member_of: HashMap<&str, &str> = HashMap::new();
        for (n, g) in k.sync_groups.iter().enumerate() {
            let at = format!("vrrp_sync_groups[{n}]");
            self.text(&at, "vrrp_sync_group", &g.name);
            for n in &g.notify {
                self.text(&at, n.event.keyword(), &n.command);
            }
            if !names.insert(g.name.as_str()) {
                self.push(&at, format!("vrrp_sync_group: {} is defined twice", g.name));
            }
            self.too_many(
                || format!("{at}.group"),
                g.members.len(),
                MAX_SYNC_GROUP_MEMBERS,
                "group",
            );
            for (m, member) in g.members.iter().enumerate() {
                let member_at = format!("{at}.group[{m}]");
                if !k.vrrp_instances.iter().any(|i| &i.name == member) {
                    let message = format!(
                        "group: vrrp_instance \"{member}\" does not exist{}",
                        self.instance_hint(member)
                    );
                    self.push(member_at, message);
                } else if let Some(other) = member_of.insert(member, &g.name) {
                    self.push(
                        member_at,
                        format!(
                            "group: vrrp_instance {member} is already in vrrp_sync_group {other} (an instance can be in one group only)"
                        ),
                    );
                }
            }
        }
    }

    fn groups(&mut self) {
        let k = self.k;
        self.too_many(
            "virtual_server_groups",
            k.virtual_server_groups.len(),
            MAX_VIRTUAL_SERVER_GROUPS,
            "virtual_server_group",
        );
        let mut names = HashSet::new();
        for (n, g) in k.virtual_server_groups.iter().enumerate() {
            let at = format!("virtual_server_groups[{n}]");
            self.text(&at, "virtual_server_group", &g.name);
            if !names.insert(g.name.as_str()) {
                self.push(
                    &at,
                    format!("virtual_server_group: {} is defined twice", g.name),
                );
            }
            self.too_many(
                || format!("{at}.entries"),
                g.entries.len(),
                MAX_GROUP_ENTRIES,
                "virtual_server_group",
            );
            for (e, entry) in g.entries.iter().enumerate() {
                if let GroupEntry::Range { first, last, .. } = entry {
                    if let Some(why) = range_problem(*first, *last) {
                        self.push(
                            format!("{at}.entries[{e}]"),
                            format!("virtual_server_group {}: {why}", g.name),
                        );
                    }
                }
            }
        }
    }

    fn virtual_servers(&mut self) {
        let k = self.k;
        self.too_many(
            "virtual_servers",
            k.virtual_servers.len(),
            MAX_VIRTUAL_SERVERS,
            "virtual_server",
        );
        let total: usize = k.virtual_servers.iter().map(|v| v.real_servers.len()).sum();
        self.too_many(
            "virtual_servers",
            total,
            MAX_REAL_SERVERS,
            "real_server (all virtual servers together)",
        );
        let vips: HashMap<IpAddr, &str> = k
            .vrrp_instances
            .iter()
            .flat_map(|i| {
                i.vips
                    .iter()
                    .chain(&i.excluded_vips)
                    .map(move |v| (v.address.addr, i.name.as_str()))
            })
            .collect();
        let mut keys = HashSet::new();
        for (n, vs) in k.virtual_servers.iter().enumerate() {
            let at = format!("virtual_servers[{n}]");
            if !keys.insert((&vs.key, vs.protocol)) {
                self.push(
                    &at,
                    format!(
                        "virtual_server: {} {} is defined twice",
                        key_text(&vs.key),
                        vs.protocol.keyword()
                    ),
                );
            }
            self.virtual_server(vs, &at, &vips);
        }
    }

    fn virtual_server(&mut self, vs: &VirtualServer, at: &str, vips: &HashMap<IpAddr, &str>) {
        let persistent = vs.persistence_timeout.is_some();
        // Port 0 means "every port": keepalived and IPVS allow it only with persistence.
        let mut any_port = false;
        let mut vs_family = None;
        match &vs.key {
            VsKey::Addr { ip, port } => {
                vs_family = Some(ip.is_ipv4());
                if *port == 0 {
                    any_port = true;
                    if !persistent {
                        self.push(
                            format!("{at}.key.addr.port"),
                            "virtual_server: port 0 (every port) needs persistence_timeout",
                        );
                    }
                }
            }
            VsKey::Fwmark(_) => any_port = true,
            VsKey::Group(name) => {
                match self
                    .k
                    .virtual_server_groups
                    .iter()
                    .find(|g| &g.name == name)
                {
                    None => {
                        let names: Vec<&str> = self
                            .k
                            .virtual_server_groups
                            .iter()
                            .map(|g| g.name.as_str())
                            .collect();
                        let hint = did_you_mean(name, &names)
                            .map(|n| format!(" (did you mean \"{n}\"?)"))
                            .unwrap_or_default();
                        self.push(
                        at,
                        format!("virtual_server: virtual_server_group \"{name}\" does not exist{hint}"),
                    );
                    }
                    Some(g) => {
                        any_port = g.entries.iter().any(|e| match e {
                            GroupEntry::Range { port, .. } => *port == 0,
                            GroupEntry::Fwmark(_) => true,
                        });
                        if !persistent
                            && g.entries
                                .iter()
                                .any(|e| matches!(e, GroupEntry::Range { port: 0, .. }))
                        {
                            self.push(
                            at,
                            format!("virtual_server: virtual_server_group {name} has port 0 (every port), which needs persistence_timeout"),
                        );
                        }
                    }
                }
            }
        }
        if let VsKey::Group(name) = &vs.key {
            self.text(at, "virtual_server group", name);
        }
        if let Some(host) = &vs.virtualhost {
            self.text(|| format!("{at}.virtualhost"), "virtualhost", host);
        }
        if !SCHEDULERS.contains(&vs.lb_algo.as_str()) {
            self.push(
                format!("{at}.lb_algo"),
                format!(
                    "lb_algo: \"{}\" is not a scheduler (expected one of {})",
                    vs.lb_algo,
                    SCHEDULERS.join(" ")
                ),
            );
        }
        if let Some(t) = vs
            .persistence_timeout
            .filter(|t| !(1..=2_678_400).contains(t))
        {
            self.push(
                format!("{at}.persistence_timeout"),
                format!("persistence_timeout: {t} is not from 1 to 2678400 seconds"),
            );
        }
        if let Some(g) = vs.persistence_granularity {
            let max = if vs_family == Some(false) { 128 } else { 32 };
            if g > max {
                self.push(
                    format!("{at}.persistence_granularity"),
                    format!("persistence_granularity: /{g} is longer than /{max}"),
                );
            }
        }
        if vs.quorum == 0 {
            self.push(format!("{at}.quorum"), "quorum: 0 is not from 1 up");
        }
        if let Some((_, 0)) = vs.sorry_server {
            if !any_port {
                self.push(
                    format!("{at}.sorry_server"),
                    "sorry_server: port 0 is only for a fwmark or port-0 virtual_server",
                );
            }
        }
        self.too_many(
            || format!("{at}.real_servers"),
            vs.real_servers.len(),
            MAX_REAL_SERVERS_PER_VIRTUAL_SERVER,
            "real_server",
        );
        let mut seen = HashSet::new();
        for (r, rs) in vs.real_servers.iter().enumerate() {
            let rs_at = || format!("{at}.real_servers[{r}]");
            if !seen.insert((rs.ip, rs.port)) {
                self.push(
                    rs_at(),
                    format!(
                        "real_server: {} {} is listed twice in this virtual_server",
                        rs.ip, rs.port
                    ),
                );
            }
            if rs.port == 0 && !any_port {
                self.push(
                    format!("{}.port", rs_at()),
                    "real_server: port 0 is only for a fwmark or port-0 virtual_server",
                );
            }
            if let Some(v4) = vs_family {
                if v4 != rs.ip.is_ipv4() && vs.lb_kind != LbKind::Tun {
                    self.push(
                        rs_at(),
                        format!(
                            "real_server: {} is {} but the virtual_server is {} (only TUN crosses families)",
                            rs.ip,
                            family(rs.ip),
                            if v4 { "IPv4" } else { "IPv6" }
                        ),
                    );
                }
            }
            if let Some(instance) = vips.get(&rs.ip) {
                self.push(
                    rs_at(),
                    format!(
                        "real_server: {} is a virtual_ipaddress of vrrp_instance {instance}; a real server cannot be a VIP",
                        rs.ip
                    ),
                );
            }
            if rs.weight > 65535 {
                self.push(
                    format!("{}.weight", rs_at()),
                    format!("weight: {} is not from 0 to 65535", rs.weight),
                );
            }
            if vs.lb_kind == LbKind::Nat {
                self.nat_reachable(rs, &rs_at);
            }
            self.checks(rs, &rs_at);
        }
    }

    /// NAT replies must come back through the balancer: a NAT real server lives in an
    /// `int` network, or behind a route whose gateway is in one.
    fn nat_reachable(&mut self, rs: &RealServer, at: &dyn Fn() -> String) {
        let Some(native) = self.native else { return };
        let int: Vec<crate::IpPrefix> = native
            .interface(Role::Int)
            .map(|i| i.addresses.clone())
            .unwrap_or_default();
        let direct = int.iter().any(|p| p.contains(rs.ip));
        let routed = native
            .routes
            .iter()
            .any(|r| r.to.contains(rs.ip) && int.iter().any(|p| p.contains(r.via)));
        if !direct && !routed {
            let has = if int.is_empty() {
                "int has no address".to_string()
            } else {
                format!(
                    "int has {}",
                    int.iter()
                        .map(|p| p.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            self.push(
                at(),
                format!(
                    "real_server: {} is not reachable through an int address ({has}); a NAT real server must be in an int network or behind a route via one",
                    rs.ip
                ),
            );
        }
    }

    fn checks(&mut self, rs: &RealServer, at: &dyn Fn() -> String) {
        self.too_many(
            || format!("{}.checks", at()),
            rs.checks.len(),
            MAX_CHECKS_PER_REAL_SERVER,
            "checks",
        );
        for (n, c) in rs.checks.iter().enumerate() {
            let c_at = || format!("{}.checks[{n}]", at());
            let kw = c.kind.keyword();
            if c.kind == CheckKind::Tcp {
                if !c.urls.is_empty() {
                    self.push(c_at(), "TCP_CHECK: takes no url");
                }
            } else if c.urls.is_empty() {
                self.push(
                    c_at(),
                    format!("{kw}: needs at least one url {{ path ... }}"),
                );
            }
            self.too_many(
                || format!("{}.url", c_at()),
                c.urls.len(),
                MAX_URLS_PER_CHECK,
                "url",
            );
            if let Some(host) = &c.virtualhost {
                self.text(|| format!("{}.virtualhost", c_at()), "virtualhost", host);
            }
            for (u, url) in c.urls.iter().enumerate() {
                self.text(|| format!("{}.url[{u}].path", c_at()), "path", &url.path);
                if url.path.is_empty() {
                    self.push(format!("{}.url[{u}]", c_at()), "url: path is missing");
                }
                if let Some(code) = url.status_code.filter(|c| !(100..=599).contains(c)) {
                    self.push(
                        format!("{}.url[{u}].status_code", c_at()),
                        format!("status_code: {code} is not from 100 to 599"),
                    );
                }
            }
            if c.connect_port == Some(0) {
                self.push(
                    format!("{}.connect_port", c_at()),
                    "connect_port: 0 is not a port (1 to 65535)",
                );
            }
            if c.retry > 1000 {
                self.push(
                    format!("{}.retry", c_at()),
                    format!("retry: {} is not from 0 to 1000", c.retry),
                );
            }
        }
    }
}

/// What is wrong with a `virtual_server_group` range, if anything.
fn range_problem(first: IpAddr, last: IpAddr) -> Option<String> {
    let (prefix_same, first_n, last_n) = match (first, last) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (
            a.octets()[..3] == b.octets()[..3],
            u32::from(a.octets()[3]),
            u32::from(b.octets()[3]),
        ),
        (IpAddr::V6(a), IpAddr::V6(b)) => (
            a.segments()[..7] == b.segments()[..7],
            u32::from(a.segments()[7]),
            u32::from(b.segments()[7]),
        ),
        _ => return Some(format!("{first} and {last} are of different families")),
    };
    if !prefix_same {
        return Some(format!(
            "{first} and {last} differ before the last {} (a range counts only that)",
            if first.is_ipv4() { "byte" } else { "group" }
        ));
    }
    (last_n < first_n).then(|| format!("the range {first} to {last} ends before it starts"))
}

/// A path built only when there is something to report: most items are fine, and a large
/// configuration should not pay for formatting every path.
trait Lazy {
    fn path(self) -> String;
}

impl<F: FnOnce() -> String> Lazy for F {
    fn path(self) -> String {
        self()
    }
}

impl Lazy for &str {
    fn path(self) -> String {
        self.to_string()
    }
}

impl Lazy for &String {
    fn path(self) -> String {
        self.clone()
    }
}
