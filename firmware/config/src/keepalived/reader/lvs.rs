//! `virtual_server_group`, `virtual_server` and `real_server`.

use super::*;

const VS: &str = "virtual_server";
const RS: &str = "virtual_server/real_server";

impl Reader {
    /// `virtual_server_group NAME { IP PORT | IP-LAST PORT | fwmark N … }`.
    pub(super) fn virtual_server_group(
        &mut self,
        s: &Stmt,
        at: Node,
    ) -> Option<VirtualServerGroup> {
        let name = self.one(s, "a group name")?.text.clone();
        let mut entries = Vec::new();
        for line in self.block(s) {
            let entry = match (line.keyword.text.as_str(), line.args.as_slice()) {
                ("fwmark", [mark]) => self
                    .parse(line, mark, "a firewall mark")
                    .map(GroupEntry::Fwmark),
                (_, [port]) => {
                    let range = address_range(&line.keyword.text);
                    if range.is_none() {
                        self.error(
                            &line.keyword,
                            format!(
                                "virtual_server_group: \"{}\" is not an address or a range such as 192.168.1.10-20",
                                line.keyword.text
                            ),
                        );
                    }
                    let port = self.port(line, port);
                    range
                        .zip(port)
                        .map(|((first, last), port)| GroupEntry::Range { first, last, port })
                }
                _ => {
                    self.error(
                        &line.keyword,
                        "virtual_server_group: expected IP PORT, IP-LAST PORT or fwmark N",
                    );
                    None
                }
            };
            if let Some(entry) = entry {
                self.spans
                    .child(at, "entries", Some(entries.len()), Some(&line.keyword.pos));
                entries.push(entry);
            }
        }
        Some(VirtualServerGroup { name, entries })
    }

    pub(super) fn virtual_server(&mut self, s: &Stmt, at: Node) -> Option<VirtualServer> {
        let key = match s.args.as_slice() {
            [w, mark] if w.text == "fwmark" => {
                VsKey::Fwmark(self.parse(s, mark, "a firewall mark")?)
            }
            [w, name] if w.text == "group" => VsKey::Group(name.text.clone()),
            [ip, port] => {
                let (ip_at, port_at) = (&ip.pos, &port.pos);
                let key = VsKey::Addr {
                    ip: self.address(s, ip)?,
                    port: self.port(s, port)?,
                };
                let key_at = self.spans.child(at, "key", None, None);
                let addr = self.spans.child(key_at, "addr", None, None);
                self.spans.child(addr, "ip", None, Some(ip_at));
                self.spans.child(addr, "port", None, Some(port_at));
                key
            }
            _ => {
                self.error(
                    &s.keyword,
                    "virtual_server: expected IP PORT, fwmark N or group NAME",
                );
                return None;
            }
        };
        let mut vs = VirtualServer::new(key);
        let mut protocol_given = false;
        // Each check's own timing, to resolve against its real server's and this
        // virtual server's once the block is read (keepalived resolves at the end too).
        let mut own: Vec<(usize, usize, CheckDefaults)> = Vec::new();
        for st in self.block(s) {
            let setting = st.keyword.text != "real_server";
            self.keyword(setting.then_some(at), VS, st);
            let d = &mut vs.check_defaults;
            match st.keyword.text.as_str() {
                "delay_loop" => vs.delay_loop = self.seconds(st, 86400.0).unwrap_or(vs.delay_loop),
                "lb_algo" | "lvs_sched" => {
                    if let Some(w) = self.one(st, "a scheduler") {
                        if SCHEDULERS.contains(&w.text.as_str()) {
                            vs.lb_algo = w.text.clone();
                        } else {
                            let message = format!(
                                "\"{}\" is not a scheduler IPVS has ({}); ignored, as keepalived does, so {} stays",
                                w.text,
                                SCHEDULERS.join(" "),
                                vs.lb_algo
                            );
                            self.lenient(st, &message);
                        }
                    }
                }
                "lb_kind" | "lvs_method" => {
                    if let Some((kind, tunnel)) = self.lb_kind(st, Some(vs.lb_kind), true) {
                        vs.lb_kind = kind;
                        vs.tunnel = tunnel;
                    }
                }
                "protocol" => {
                    if let Some(w) = self.one(st, "TCP, UDP or SCTP") {
                        match Protocol::from_keyword(&w.text) {
                            Some(p) => {
                                protocol_given = true;
                                vs.protocol = p
                            }
                            None => {
                                let message = format!(
                                    "\"{}\" is not TCP, UDP or SCTP; ignored, as keepalived does",
                                    w.text
                                );
                                self.lenient(st, &message);
                            }
                        }
                    }
                }
                // keepalived: 360 s when given without a value.
                "persistence_timeout" if st.args.is_empty() => {
                    vs.persistence_timeout = Some(defaults::PERSISTENCE_TIMEOUT)
                }
                "persistence_timeout" => {
                    vs.persistence_timeout = self.number(st, 1, 2_678_400).map(|n| n as u32)
                }
                "persistence_granularity" => {
                    if let Some(w) = self.one(st, "a netmask or prefix length") {
                        vs.persistence_granularity = granularity(&w.text);
                        if vs.persistence_granularity.is_none() {
                            let msg =
                                format!("persistence_granularity: \"{}\" is not a netmask", w.text);
                            self.error(w, msg);
                        }
                    }
                }
                "sorry_server" => match st.args.as_slice() {
                    [ip, port] => {
                        if let (Some(a), Some(p)) = (self.address(st, ip), self.port(st, port)) {
                            vs.sorry_server = Some((a, p));
                        }
                    }
                    // keepalived: a sorry server without a port (fwmark services).
                    [ip] => {
                        if let Some(a) = self.address(st, ip) {
                            vs.sorry_server = Some((a, 0));
                        }
                    }
                    _ => self.error(&st.keyword, "sorry_server: expected IP [PORT]"),
                },
                "sorry_server_inhibit" => vs.sorry_server_inhibit = self.flag(st),
                "sorry_server_lvs_method" => {
                    vs.sorry_server_lvs_method = self.lb_kind(st, None, false).map(|(k, _)| k)
                }
                "quorum" => {
                    vs.quorum = self
                        .number(st, 1, u32::MAX as u64)
                        .unwrap_or(defaults::QUORUM.into()) as u32
                }
                "hysteresis" => {
                    vs.hysteresis = self.number(st, 0, u32::MAX as u64).unwrap_or(0) as u32
                }
                "alpha" => vs.alpha = self.flag(st),
                "omega" => vs.omega = self.flag(st),
                "inhibit_on_failure" => vs.inhibit_on_failure = self.flag(st),
                "ha_suspend" => vs.ha_suspend = self.flag(st),
                "virtualhost" => vs.virtualhost = self.text(st, "a host name"),
                "ip_family" => match self.one(st, "inet or inet6") {
                    Some(w) if w.text == "inet" => vs.ip_family = Some(IpFamily::Inet),
                    Some(w) if w.text == "inet6" => vs.ip_family = Some(IpFamily::Inet6),
                    Some(w) => {
                        let message = format!("ip_family: \"{}\" is not inet or inet6", w.text);
                        self.error(w, message)
                    }
                    None => {}
                },
                "weight" => vs.weight = self.number(st, 1, 65535).map(|n| n as u32),
                "retry" => d.retry = self.number(st, 0, 1000).map(|n| n as u32),
                "delay_before_retry" => d.delay_before_retry = self.seconds(st, 3600.0),
                "warmup" => d.warmup = self.seconds(st, 86400.0),
                "connect_timeout" => d.connect_timeout = self.seconds(st, 3600.0),
                "persistence_engine" => vs.persistence_engine = self.text(st, "an engine (sip)"),
                "smtp_alert" => vs.smtp_alert = Some(self.flag(st)),
                "ops" | "flag-1" | "flag-2" | "flag-3" | "sh-port" | "sh-fallback" | "mh-port"
                | "mh-fallback" => {
                    self.bare(st);
                    vs.lvs_flags.set(&st.keyword.text);
                }
                "real_server" => {
                    let n = vs.real_servers.len();
                    let rs_at = self.item(at, "real_servers", Some(n), st);
                    let weight = vs.weight.unwrap_or(defaults::WEIGHT);
                    if let Some((rs, checks)) = self.real_server(st, rs_at, weight) {
                        own.extend(checks.into_iter().enumerate().map(|(c, d)| (n, c, d)));
                        vs.real_servers.push(rs);
                    }
                }
                _ => self.other(VS, st, &mut vs.noted),
            }
        }
        self.scheduler_flags(s, &mut vs);
        for (r, c, own) in own {
            let rs = &mut vs.real_servers[r];
            let (on_rs, on_vs) = (&rs.check_defaults, &vs.check_defaults);
            let check = &mut rs.checks[c];
            if let Some(t) = own
                .connect_timeout
                .or(on_rs.connect_timeout)
                .or(on_vs.connect_timeout)
            {
                check.connect_timeout = t;
            }
            if let Some(n) = own.retry.or(on_rs.retry).or(on_vs.retry) {
                check.retry = n;
            }
            check.delay_before_retry = own
                .delay_before_retry
                .or(on_rs.delay_before_retry)
                .or(on_vs.delay_before_retry);
            check.warmup = own.warmup.or(on_rs.warmup).or(on_vs.warmup);
        }
        if !protocol_given && !matches!(vs.key, VsKey::Fwmark(_)) {
            self.notes.push(format!(
                "{}: virtual_server {}: no protocol set, so UDP, as keepalived does (write \"protocol TCP\" for a TCP service)",
                s.keyword.pos,
                s.args.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ")
            ));
        }
        Some(vs)
    }

    /// keepalived sets sh-* only with the sh scheduler and mh-* only with mh, and
    /// otherwise says "only applies to sh scheduler - ignoring".
    fn scheduler_flags(&mut self, s: &Stmt, vs: &mut VirtualServer) {
        let f = &mut vs.lvs_flags;
        for (prefix, sched, a, b) in [
            ("sh", "sh", &mut f.sh_port, &mut f.sh_fallback),
            ("mh", "mh", &mut f.mh_port, &mut f.mh_fallback),
        ] {
            if (*a || *b) && vs.lb_algo != sched {
                *a = false;
                *b = false;
                self.notes.push(format!(
                    "{}: {prefix}-port / {prefix}-fallback apply to lb_algo {sched} only; ignored, as keepalived does",
                    s.keyword.pos
                ));
            }
        }
    }

    /// `lb_kind` / `lvs_method`: NAT, DR, TUN or FNAT, and after TUN keepalived's tunnel
    /// options (`type ipip|gue|gre`, `port N`, `nocsum|csum|remcsum`) where `options`
    /// (a sorry server takes none here). keepalived ignores another method with a
    /// warning ("unknown routing method"): a note, and the setting stays.
    fn lb_kind(
        &mut self,
        st: &Stmt,
        keeps: Option<LbKind>,
        options: bool,
    ) -> Option<(LbKind, Option<Tunnel>)> {
        let [w, rest @ ..] = st.args.as_slice() else {
            self.one(st, "NAT, DR, TUN or FNAT");
            return None;
        };
        let kind = LbKind::from_keyword(&w.text);
        let Some(kind) = kind else {
            let stays = keeps.map_or(String::new(), |k| format!(", so {} stays", k.keyword()));
            let message = format!(
                "\"{}\" is not NAT, DR, TUN or FNAT; ignored, as keepalived does{stays}",
                w.text
            );
            self.lenient(st, &message);
            return None;
        };
        let Some(first) = rest.first() else {
            return Some((kind, None));
        };
        if !options || kind != LbKind::Tun {
            let message = format!(
                "{}: tunnel options (type, port, csum) follow TUN{}",
                st.keyword.text,
                if options { "" } else { " of a real server" }
            );
            self.error(first, message);
            return None;
        }
        let words: Vec<&str> = rest.iter().map(|w| w.text.as_str()).collect();
        match Tunnel::parse(&words) {
            Ok(tunnel) => Some((kind, Some(tunnel))),
            Err((at, why)) => {
                self.error(&rest[at], format!("{} TUN: {why}", st.keyword.text));
                None
            }
        }
    }

    /// A real server and, for each of its checks, the timing it set itself.
    fn real_server(
        &mut self,
        s: &Stmt,
        at: Node,
        weight: u32,
    ) -> Option<(RealServer, Vec<CheckDefaults>)> {
        let (ip, port) = match s.args.as_slice() {
            [ip, port] => {
                let pair = (self.address(s, ip)?, self.port(s, port)?);
                self.spans.child(at, "port", None, Some(&port.pos));
                pair
            }
            // keepalived: no port, for fwmark and port-0 services.
            [ip] => (self.address(s, ip)?, 0),
            _ => {
                self.error(&s.keyword, "real_server: expected IP [PORT]");
                return None;
            }
        };
        let mut rs = RealServer::new(ip, port);
        rs.weight = weight;
        let mut own = Vec::new();
        for st in self.block(s) {
            let kind = CheckKind::from_keyword(&st.keyword.text);
            // Only what validation names by itself gets a place of its own (see check).
            let marked = matches!(st.keyword.text.as_str(), "weight" | "retry");
            self.keyword(marked.then_some(at), RS, st);
            if let Some(kind) = kind {
                let first = rs.checks.len();
                let check_at = self.item(at, "checks", Some(first), st);
                self.check(st, kind, check_at, (&mut rs.checks, &mut own));
                for n in first + 1..rs.checks.len() {
                    self.item(at, "checks", Some(n), st);
                }
                continue;
            }
            let d = &mut rs.check_defaults;
            match st.keyword.text.as_str() {
                "weight" => rs.weight = self.number(st, 0, 65535).unwrap_or(1) as u32,
                "inhibit_on_failure" => rs.inhibit_on_failure = Some(self.flag(st)),
                "retry" => d.retry = self.number(st, 0, 1000).map(|n| n as u32),
                "delay_before_retry" => d.delay_before_retry = self.seconds(st, 3600.0),
                "warmup" => d.warmup = self.seconds(st, 86400.0),
                "connect_timeout" => d.connect_timeout = self.seconds(st, 3600.0),
                "delay_loop" => rs.delay_loop = self.seconds(st, 86400.0),
                "alpha" => rs.alpha = Some(self.flag(st)),
                "virtualhost" => rs.virtualhost = self.text(st, "a host name"),
                "lvs_method" => {
                    let method = self.lb_kind(st, None, true);
                    rs.lvs_method = method.map(|(kind, _)| kind);
                    rs.tunnel = method.and_then(|(_, tunnel)| tunnel);
                }
                "uthreshold" => {
                    rs.uthreshold = self.number(st, 0, u32::MAX as u64).map(|n| n as u32)
                }
                "lthreshold" => {
                    rs.lthreshold = self.number(st, 0, u32::MAX as u64).map(|n| n as u32)
                }
                "smtp_alert" => rs.smtp_alert = Some(self.flag(st)),
                _ => self.other(RS, st, &mut rs.noted),
            }
        }
        Some((rs, own))
    }
}

/// `255.255.255.0` or `24` as a prefix length.
fn granularity(text: &str) -> Option<u8> {
    if let Ok(len) = text.parse::<u8>() {
        return (len <= 128).then_some(len);
    }
    let mask: std::net::Ipv4Addr = text.parse().ok()?;
    let bits = u32::from(mask);
    (bits.leading_ones() + bits.trailing_zeros() == 32).then_some(bits.leading_ones() as u8)
}

/// keepalived's `IP` or `IP-LAST`: LAST replaces the last byte of an IPv4 address
/// (decimal) or the last 16-bit group of an IPv6 address (hex).
fn address_range(text: &str) -> Option<(IpAddr, IpAddr)> {
    let Some((first, last)) = text.split_once('-') else {
        let ip: IpAddr = text.parse().ok()?;
        return Some((ip, ip));
    };
    let first: IpAddr = first.parse().ok()?;
    let last = match first {
        IpAddr::V4(a) => {
            let mut octets = a.octets();
            octets[3] = last.parse().ok()?;
            IpAddr::from(octets)
        }
        IpAddr::V6(a) => {
            let mut segments = a.segments();
            segments[7] = u16::from_str_radix(last, 16).ok()?;
            IpAddr::from(segments)
        }
    };
    Some((first, last))
}
