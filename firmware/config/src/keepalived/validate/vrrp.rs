//! VRRP instances, sync groups, vrrp_scripts, static addresses and routes.

use super::*;

impl Validator<'_> {
    pub(super) fn instances(&mut self) {
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
            self.tracking(&at, &i.track_interfaces, &i.track_scripts);
            self.instance_more(i, &at);
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
                || format!("{at}.unicast_peer"),
                i.unicast_peers.len(),
                MAX_UNICAST_PEERS,
                "unicast_peer",
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

    pub(super) fn sync_groups(&mut self) {
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
            self.tracking(&at, &g.track_interfaces, &g.track_scripts);
            self.kept(|| format!("{at}.noted"), "vrrp_sync_group", &g.noted);
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

    /// track_interface and track_script lines, of an instance or a sync group.
    fn tracking(&mut self, at: &str, interfaces: &[TrackInterface], scripts: &[TrackScript]) {
        self.too_many(
            || format!("{at}.track_interface"),
            interfaces.len(),
            MAX_TRACK_INTERFACES,
            "track_interface",
        );
        self.too_many(
            || format!("{at}.track_script"),
            scripts.len(),
            MAX_TRACK_SCRIPTS,
            "track_script",
        );
        let weights = interfaces
            .iter()
            .map(|t| (&t.name, t.weight, "track_interface"))
            .chain(scripts.iter().map(|t| (&t.name, t.weight, "track_script")));
        for (name, weight, keyword) in weights {
            self.text(|| format!("{at}.{keyword}"), keyword, name);
            if let Some(w) = weight.filter(|w| !(-253..=253).contains(w)) {
                self.push(
                    format!("{at}.{keyword}"),
                    format!("{keyword}: {name} weight {w} is not from -253 to 253"),
                );
            }
        }
        for t in scripts {
            if !self.k.vrrp_scripts.iter().any(|s| s.name == t.name) {
                let names: Vec<&str> = self
                    .k
                    .vrrp_scripts
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect();
                let hint = did_you_mean(&t.name, &names)
                    .map(|n| format!(" (did you mean \"{n}\"?)"))
                    .unwrap_or_default();
                self.push(
                    format!("{at}.track_script"),
                    format!(
                        "track_script: vrrp_script \"{}\" does not exist{hint}",
                        t.name
                    ),
                );
            }
        }
    }

    /// The settings read and exported but not yet acted on, and the noted ones.
    fn instance_more(&mut self, i: &VrrpInstance, at: &str) {
        if let Some(v) = &i.use_vmac {
            if let Some(name) = &v.name {
                self.text(|| format!("{at}.use_vmac"), "use_vmac", name);
                if name.is_empty()
                    || name.len() > 15
                    || name.contains(['/', ':'])
                    || name.chars().any(char::is_whitespace)
                {
                    self.push(
                        format!("{at}.use_vmac"),
                        format!("use_vmac: \"{name}\" is not an interface name (1 to 15 characters, no '/', ':' or blank)"),
                    );
                }
            }
            if let Some(mac) = &v.mac {
                let ok = mac.split(':').count() == 6
                    && mac
                        .split(':')
                        .all(|o| (1..=2).contains(&o.len()) && u8::from_str_radix(o, 16).is_ok());
                if !ok {
                    self.push(
                        format!("{at}.use_vmac"),
                        format!("use_vmac: \"{mac}\" is not a MAC address"),
                    );
                }
            }
        }
        if (i.use_vmac_addr || i.vmac_xmit_base) && i.use_vmac.is_none() {
            self.push(
                format!("{at}.use_vmac"),
                "use_vmac_addr / vmac_xmit_base: need use_vmac",
            );
        }
        if i.unicast_ttl == Some(0) {
            self.push(
                format!("{at}.unicast_ttl"),
                "unicast_ttl: 0 is not from 1 to 255",
            );
        }
        for (keyword, value) in [
            ("garp_master_refresh_repeat", i.garp_master_refresh_repeat),
            ("garp_lower_prio_repeat", i.garp_lower_prio_repeat),
        ] {
            if let Some(r) = value.filter(|r| !(1..=255).contains(r)) {
                self.push(
                    format!("{at}.{keyword}"),
                    format!("{keyword}: {r} is not from 1 to 255"),
                );
            }
        }
        if let Some(n) = i.down_timer_adverts.filter(|n| !(1..=100).contains(n)) {
            self.push(
                format!("{at}.down_timer_adverts"),
                format!("down_timer_adverts: {n} is not from 1 to 100"),
            );
        }
        self.routes(&format!("{at}.virtual_routes"), &i.virtual_routes);
        self.rules(&format!("{at}.virtual_rules"), &i.virtual_rules);
        self.kept(|| format!("{at}.noted"), "vrrp_instance", &i.noted);
    }

    /// Each vrrp_script: a native check (with its target given) or keepalived's script,
    /// keepalived's ranges.
    pub(super) fn scripts(&mut self) {
        let k = self.k;
        self.too_many(
            "vrrp_scripts",
            k.vrrp_scripts.len(),
            MAX_VRRP_SCRIPTS,
            "vrrp_script",
        );
        let mut names = HashSet::new();
        for (n, s) in k.vrrp_scripts.iter().enumerate() {
            let at = format!("vrrp_scripts[{n}]");
            self.text(&at, "vrrp_script", &s.name);
            if s.name.is_empty() {
                self.push(&at, "vrrp_script: the name is empty");
            } else if !names.insert(s.name.as_str()) {
                self.push(&at, format!("vrrp_script: {} is defined twice", s.name));
            }
            let script = s.noted.iter().any(|k| k.keyword == "script");
            match (&s.check, script) {
                (Some(_), true) => self.push(
                    &at,
                    format!("vrrp_script {}: holds both a script and a check; keep one (the appliance runs only the check)", s.name),
                ),
                (None, false) => self.push(
                    &at,
                    format!("vrrp_script {}: holds neither a check nor a script (put PING_CHECK, TCP_CHECK, HTTP_GET, ... in it)", s.name),
                ),
                _ => {}
            }
            if let Some(c) = &s.check {
                self.script_check(c, &format!("{at}.check"));
            }
            if s.interval.is_zero() {
                self.push(format!("{at}.interval"), "interval: must be more than 0");
            }
            if s.timeout.is_some_and(|t| t.is_zero()) {
                self.push(format!("{at}.timeout"), "timeout: must be more than 0");
            }
            if !(-253..=253).contains(&s.weight) {
                self.push(
                    format!("{at}.weight"),
                    format!("weight: {} is not from -253 to 253", s.weight),
                );
            }
            for (keyword, value) in [("rise", s.rise), ("fall", s.fall)] {
                if value == 0 || value > i32::MAX as u32 {
                    self.push(
                        format!("{at}.{keyword}"),
                        format!("{keyword}: {value} is not from 1 up"),
                    );
                }
            }
            self.kept(|| format!("{at}.noted"), "vrrp_script", &s.noted);
        }
    }

    /// A check in a vrrp_script: the same rules as in a real server, and a target of its
    /// own (there is no real server to default to).
    fn script_check(&mut self, c: &Check, at: &str) {
        self.check(c, &at);
        let kw = c.kind.keyword();
        if c.connect_ip.is_none() {
            self.push(at, format!("{kw}: in a vrrp_script, connect_ip is needed (there is no real server to check)"));
        }
        let needs_port = matches!(
            c.kind,
            CheckKind::Tcp | CheckKind::HttpGet | CheckKind::SslGet | CheckKind::Udp
        );
        if needs_port && c.connect_port.is_none() {
            self.push(
                at,
                format!("{kw}: in a vrrp_script, connect_port is needed"),
            );
        }
        let retry_given = c.retry != c.kind.default_retry();
        for (given, keyword) in [
            (retry_given, "retry"),
            (c.delay_before_retry.is_some(), "delay_before_retry"),
            (c.warmup.is_some(), "warmup"),
            (c.delay_loop.is_some(), "delay_loop"),
        ] {
            if given {
                self.push(
                    format!("{at}.{keyword}"),
                    format!("{keyword}: not for a check in a vrrp_script (its interval, rise and fall decide)"),
                );
            }
        }
    }

    /// static_ipaddress, static_routes, static_rules.
    pub(super) fn statics(&mut self) {
        let k = self.k;
        self.too_many(
            "static_ipaddress",
            k.static_ipaddress.len(),
            MAX_ROUTES,
            "static_ipaddress",
        );
        for (n, a) in k.static_ipaddress.iter().enumerate() {
            for value in [&a.dev, &a.label, &a.scope].into_iter().flatten() {
                self.text(
                    || format!("static_ipaddress[{n}]"),
                    "static_ipaddress",
                    value,
                );
            }
        }
        self.routes("static_routes", &k.static_routes);
        self.rules("static_rules", &k.static_rules);
        self.kept("noted", "-", &k.noted);
    }

    fn routes(&mut self, at: &str, routes: &[IpRoute]) {
        let keyword = at.rsplit('.').next().unwrap_or(at);
        self.too_many(at, routes.len(), MAX_ROUTES, keyword);
        for (n, r) in routes.iter().enumerate() {
            let here = || format!("{at}[{n}]");
            for v in [&r.kind, &r.dev, &r.table, &r.scope, &r.protocol]
                .into_iter()
                .flatten()
            {
                self.text(here, keyword, v);
            }
            for v in &r.options {
                self.text(here, keyword, v);
            }
            if let Some(kind) = r.kind.as_deref().filter(|k| !ROUTE_TYPES.contains(k)) {
                self.push(
                    here(),
                    format!(
                        "{keyword}: \"{kind}\" is not a route type ({})",
                        ROUTE_TYPES.join(" ")
                    ),
                );
            }
            for (what, addr) in [("via", r.via), ("src", r.src)] {
                if let Some(a) = addr.filter(|a| a.is_ipv4() != r.to.addr.is_ipv4()) {
                    self.push(
                        here(),
                        format!(
                            "{keyword}: {what} {a} is not of the same family as {}",
                            r.to
                        ),
                    );
                }
            }
        }
    }

    fn rules(&mut self, at: &str, rules: &[IpRule]) {
        let keyword = at.rsplit('.').next().unwrap_or(at);
        self.too_many(at, rules.len(), MAX_ROUTES, keyword);
        for (n, r) in rules.iter().enumerate() {
            let here = || format!("{at}[{n}]");
            for v in [&r.table, &r.fwmark, &r.iif, &r.oif].into_iter().flatten() {
                self.text(here, keyword, v);
            }
            for v in &r.options {
                self.text(here, keyword, v);
            }
            if *r == IpRule::default() {
                self.push(here(), format!("{keyword}: an empty rule"));
            }
            if let (Some(from), Some(to)) = (r.from, r.to) {
                if from.addr.is_ipv4() != to.addr.is_ipv4() {
                    self.push(
                        here(),
                        format!("{keyword}: from {from} and to {to} are of different families"),
                    );
                }
            }
        }
    }
}
