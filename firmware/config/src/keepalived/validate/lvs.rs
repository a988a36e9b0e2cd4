//! Virtual server groups, virtual servers, real servers and their checks.

use super::*;

impl Validator<'_> {
    pub(super) fn groups(&mut self) {
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

    pub(super) fn virtual_servers(&mut self) {
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
        self.virtual_server_more(vs, at, vs_family);
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
            // FNAT's replies come back to the box's own address from wherever the real
            // server is.
            if vs.lb_kind == LbKind::Nat {
                self.nat_reachable(rs, &rs_at);
            }
            self.checks(rs, &rs_at);
            self.real_server_more(rs, &rs_at);
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
            self.check(c, &At(&|f| write!(f, "{}.checks[{n}]", at())));
        }
    }

    /// One check, of a real server or of a vrrp_script.
    pub(super) fn check(&mut self, c: &Check, c_at: &dyn fmt::Display) {
        let kw = c.kind.keyword();
        if !c.kind.is_http() {
            if !c.urls.is_empty() {
                self.push(c_at.to_string(), format!("{kw}: takes no url"));
            }
        } else if c.urls.is_empty() {
            self.push(
                c_at.to_string(),
                format!("{kw}: needs at least one url {{ path ... }}"),
            );
        }
        self.too_many(
            || format!("{c_at}.url"),
            c.urls.len(),
            MAX_URLS_PER_CHECK,
            "url",
        );
        for (keyword, value) in [
            ("virtualhost", &c.virtualhost),
            ("bind_if", &c.bind_if),
            ("sni_name", &c.sni_name),
            ("name", &c.dns_name),
            ("helo_name", &c.helo_name),
        ] {
            if let Some(v) = value {
                self.text(|| format!("{c_at}.{keyword}"), keyword, v);
            }
        }
        // What only some kinds take (JSON can put anything anywhere).
        let http = c.kind.is_http();
        for (set, keyword, fits) in [
            (c.virtualhost.is_some(), "virtualhost", http),
            (c.http_protocol.is_some(), "http_protocol", http),
            (c.enable_sni, "enable_sni", http),
            (c.sni_name.is_some(), "sni_name", http),
            (c.fast_recovery, "fast_recovery", http),
            (
                c.tls_compliant,
                "tls_compliant",
                c.kind == CheckKind::SslGet,
            ),
            (c.payload.is_some(), "payload", c.kind == CheckKind::Udp),
            (
                c.require_reply.is_some(),
                "require_reply",
                c.kind == CheckKind::Udp,
            ),
            (
                c.min_reply_length.is_some(),
                "min_reply_length",
                c.kind == CheckKind::Udp,
            ),
            (
                c.max_reply_length.is_some(),
                "max_reply_length",
                c.kind == CheckKind::Udp,
            ),
            (c.dns_type.is_some(), "type", c.kind == CheckKind::Dns),
            (c.dns_name.is_some(), "name", c.kind == CheckKind::Dns),
            (
                c.helo_name.is_some(),
                "helo_name",
                c.kind == CheckKind::Smtp,
            ),
        ] {
            if set && !fits {
                self.push(
                    format!("{c_at}.{keyword}"),
                    format!("{keyword}: not a keyword of {kw}"),
                );
            }
        }
        if let Some(p) = c
            .http_protocol
            .as_deref()
            .filter(|p| !HTTP_PROTOCOLS.contains(p))
        {
            self.push(
                format!("{c_at}.http_protocol"),
                format!("http_protocol: \"{p}\" is not 1.0, 1.1 or 1.0C"),
            );
        }
        if let Some(t) = c.dns_type.as_deref().filter(|t| !DNS_TYPES.contains(t)) {
            self.push(
                format!("{c_at}.type"),
                format!("type: \"{t}\" is not one of {}", DNS_TYPES.join(" ")),
            );
        }
        if let (Some(min), Some(max)) = (c.min_reply_length, c.max_reply_length) {
            if min > max {
                self.push(
                    format!("{c_at}.min_reply_length"),
                    format!("min_reply_length: {min} is more than max_reply_length {max}"),
                );
            }
        }
        for (u, url) in c.urls.iter().enumerate() {
            let u_at = At(&|f| write!(f, "{c_at}.url[{u}]"));
            self.text(|| format!("{u_at}.path"), "path", &url.path);
            if url.path.is_empty() {
                self.push(u_at.to_string(), "url: path is missing");
            }
            for (keyword, value) in [("virtualhost", &url.virtualhost), ("regex", &url.regex)] {
                if let Some(v) = value {
                    self.text(|| format!("{u_at}.{keyword}"), keyword, v);
                }
            }
            if let Some(codes) = &url.status_code {
                if codes.0.is_empty() || codes.0.iter().any(|(l, h)| l > h || *l < 100 || *h > 599)
                {
                    self.push(
                        format!("{u_at}.status_code"),
                        "status_code: codes are from 100 to 599, ranges low-high",
                    );
                }
            }
            let regex_set = url.regex_no_match
                || !url.regex_options.is_empty()
                || url.regex_min_offset.is_some()
                || url.regex_max_offset.is_some();
            if regex_set && url.regex.is_none() {
                self.push(
                    format!("{u_at}.regex"),
                    "regex_no_match, regex_options and the offsets need a regex",
                );
            }
            for o in url
                .regex_options
                .iter()
                .filter(|o| !REGEX_OPTIONS.contains(&o.as_str()))
            {
                self.push(
                    format!("{u_at}.regex_options"),
                    format!("regex_options: \"{o}\" is not a PCRE2 option keepalived names"),
                );
            }
            if let (Some(min), Some(max)) = (url.regex_min_offset, url.regex_max_offset) {
                if min > max {
                    self.push(
                        format!("{u_at}.regex_min_offset"),
                        format!("regex_min_offset: {min} is more than regex_max_offset {max}"),
                    );
                }
            }
            if url.tls_compliant && c.kind != CheckKind::SslGet {
                self.push(
                    format!("{u_at}.tls_compliant"),
                    "tls_compliant: for SSL_GET only",
                );
            }
            if !url.noted.is_empty() {
                self.kept(
                    || format!("{u_at}.noted"),
                    &format!("virtual_server/real_server/{kw}/url"),
                    &url.noted,
                );
            }
        }
        if c.connect_port == Some(0) {
            self.push(
                format!("{c_at}.connect_port"),
                "connect_port: 0 is not a port (1 to 65535)",
            );
        }
        if c.retry > 1000 {
            self.push(
                format!("{c_at}.retry"),
                format!("retry: {} is not from 0 to 1000", c.retry),
            );
        }
        if !c.noted.is_empty() {
            self.kept(
                || format!("{c_at}.noted"),
                &format!("virtual_server/real_server/{kw}"),
                &c.noted,
            );
        }
    }

    fn virtual_server_more(&mut self, vs: &VirtualServer, at: &str, vs_family: Option<bool>) {
        if let (Some(f), Some(v4)) = (vs.ip_family, vs_family) {
            if (f == IpFamily::Inet) != v4 {
                self.push(
                    format!("{at}.ip_family"),
                    format!(
                        "ip_family: {} does not match the virtual server's address",
                        f.keyword()
                    ),
                );
            }
        }
        if let Some(f) = vs.ip_family {
            for rs in vs
                .real_servers
                .iter()
                .filter(|rs| rs.ip.is_ipv4() != (f == IpFamily::Inet))
            {
                if vs.lb_kind != LbKind::Tun {
                    self.push(
                        format!("{at}.ip_family"),
                        format!(
                            "ip_family {}: real_server {} is of the other family",
                            f.keyword(),
                            rs.ip
                        ),
                    );
                }
            }
        }
        let flags = &vs.lvs_flags;
        for (on, keyword, sched) in [
            (flags.sh_port, "sh-port", "sh"),
            (flags.sh_fallback, "sh-fallback", "sh"),
            (flags.mh_port, "mh-port", "mh"),
            (flags.mh_fallback, "mh-fallback", "mh"),
        ] {
            if on && vs.lb_algo != sched {
                self.push(
                    format!("{at}.lvs_flags"),
                    format!("{keyword}: applies to lb_algo {sched} only"),
                );
            }
        }
        if let Some(e) = vs.persistence_engine.as_deref().filter(|e| *e != "sip") {
            self.push(
                format!("{at}.persistence_engine"),
                format!("persistence_engine: \"{e}\" is not one IPVS has (sip)"),
            );
        }
        if (vs.sorry_server_inhibit || vs.sorry_server_lvs_method.is_some())
            && vs.sorry_server.is_none()
        {
            self.push(
                format!("{at}.sorry_server_inhibit"),
                "sorry_server_inhibit / sorry_server_lvs_method: need a sorry_server",
            );
        }
        if let Some(w) = vs.weight.filter(|w| !(1..=65535).contains(w)) {
            self.push(
                format!("{at}.weight"),
                format!("weight: {w} is not from 1 to 65535"),
            );
        }
        self.check_defaults(&vs.check_defaults, &at);
        // keepalived.conf's defaults reach each check as the reader reads it; a model whose
        // check lacks what its default gives would come back otherwise from an export.
        for (r, rs) in vs.real_servers.iter().enumerate() {
            for (c, check) in rs.checks.iter().enumerate() {
                for (keyword, default, own) in [
                    (
                        "delay_before_retry",
                        rs.check_defaults
                            .delay_before_retry
                            .or(vs.check_defaults.delay_before_retry),
                        check.delay_before_retry,
                    ),
                    (
                        "warmup",
                        rs.check_defaults.warmup.or(vs.check_defaults.warmup),
                        check.warmup,
                    ),
                ] {
                    if default.is_some() && own.is_none() {
                        self.push(
                            format!("{at}.real_servers[{r}].checks[{c}].{keyword}"),
                            format!("{keyword}: the check has none but its real or virtual server's check_defaults has one; give the check its own"),
                        );
                    }
                }
            }
        }
        self.kept(|| format!("{at}.noted"), "virtual_server", &vs.noted);
    }

    fn real_server_more(&mut self, rs: &RealServer, at: &dyn Fn() -> String) {
        if let Some(host) = &rs.virtualhost {
            self.text(|| format!("{}.virtualhost", at()), "virtualhost", host);
        }
        self.check_defaults(&rs.check_defaults, &At(&|f| f.write_str(&at())));
        self.kept(
            || format!("{}.noted", at()),
            "virtual_server/real_server",
            &rs.noted,
        );
    }

    fn check_defaults(&mut self, d: &CheckDefaults, at: &dyn fmt::Display) {
        if let Some(r) = d.retry.filter(|r| *r > 1000) {
            self.push(
                format!("{at}.retry"),
                format!("retry: {r} is not from 0 to 1000"),
            );
        }
    }
}
