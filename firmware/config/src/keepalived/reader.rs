//! Statements into the model: keepalived's keywords, defaults and units. Every problem is
//! collected with its `file:line:col`; keywords lvsfw accepts but does not act on are
//! returned as notes.

use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use super::model::*;
use super::tree::{Stmt, Word};
use crate::suggest::did_you_mean;
use crate::{IpPrefix, Issues};

pub struct Reader {
    pub issues: Issues,
    pub notes: Vec<String>,
    scripts_noted: bool,
}

const TOP: &[&str] = &[
    "global_defs",
    "vrrp_instance",
    "vrrp_sync_group",
    "virtual_server",
    "virtual_server_group",
    "vrrp_script",
    "static_ipaddress",
    "static_routes",
];

impl Reader {
    pub fn new() -> Reader {
        Reader {
            issues: Issues::default(),
            notes: Vec::new(),
            scripts_noted: false,
        }
    }

    fn error(&mut self, at: &Word, message: impl Into<String>) {
        self.issues.push(at.pos.to_string(), message);
    }

    fn unknown(&mut self, s: &Stmt, within: &str, known: &[&str]) {
        let hint = did_you_mean(&s.keyword.text, known)
            .map(|k| format!(" (did you mean \"{k}\"?)"))
            .unwrap_or_default();
        self.error(
            &s.keyword,
            format!("unknown keyword \"{}\" in {within}{hint}", s.keyword.text),
        );
    }

    fn note_scripts(&mut self, s: &Stmt) {
        if !self.scripts_noted {
            self.scripts_noted = true;
            self.notes.push(format!(
                "{}: {} accepted, but the appliance runs no scripts (it has no shell)",
                s.keyword.pos, s.keyword.text
            ));
        }
    }

    /// The statement's single argument.
    fn one<'a>(&mut self, s: &'a Stmt, expected: &str) -> Option<&'a Word> {
        match s.args.as_slice() {
            [w] => Some(w),
            _ => {
                self.error(
                    &s.keyword,
                    format!("{}: expected {expected}", s.keyword.text),
                );
                None
            }
        }
    }

    fn parse<T: FromStr>(&mut self, s: &Stmt, w: &Word, expected: &str) -> Option<T> {
        match w.text.parse() {
            Ok(v) => Some(v),
            Err(_) => {
                self.error(
                    w,
                    format!("{}: \"{}\" is not {expected}", s.keyword.text, w.text),
                );
                None
            }
        }
    }

    fn number(&mut self, s: &Stmt, min: u64, max: u64) -> Option<u64> {
        let expected = format!("a whole number from {min} to {max}");
        let w = self.one(s, &expected)?;
        match w.text.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                self.error(
                    w,
                    format!("{}: \"{}\" is not {expected}", s.keyword.text, w.text),
                );
                None
            }
        }
    }

    /// Seconds, with decimals as keepalived allows them ("0.1", "3").
    fn seconds(&mut self, s: &Stmt, max: f64) -> Option<Duration> {
        let expected = format!("a number of seconds up to {max}");
        let w = self.one(s, &expected)?;
        match w.text.parse::<f64>() {
            Ok(v) if v.is_finite() && (0.0..=max).contains(&v) => {
                Some(Duration::from_micros((v * 1e6).round() as u64))
            }
            _ => {
                self.error(
                    w,
                    format!("{}: \"{}\" is not {expected}", s.keyword.text, w.text),
                );
                None
            }
        }
    }

    fn flag(&mut self, s: &Stmt) -> bool {
        if !s.args.is_empty() {
            self.error(&s.args[0], format!("{} takes no value", s.keyword.text));
        }
        true
    }

    fn address(&mut self, s: &Stmt, w: &Word) -> Option<IpAddr> {
        self.parse(s, w, "an IPv4 or IPv6 address")
    }

    fn port(&mut self, s: &Stmt, w: &Word) -> Option<u16> {
        match w.text.parse::<u16>() {
            Ok(p) if p > 0 => Some(p),
            _ => {
                self.error(
                    w,
                    format!(
                        "{}: \"{}\" is not a port (1 to 65535)",
                        s.keyword.text, w.text
                    ),
                );
                None
            }
        }
    }

    fn block<'a>(&mut self, s: &'a Stmt) -> &'a [Stmt] {
        match &s.block {
            Some(b) => b,
            None => {
                self.error(
                    &s.keyword,
                    format!("{}: expected a {{ block }}", s.keyword.text),
                );
                &[]
            }
        }
    }

    pub fn read(&mut self, stmts: &[Stmt]) -> Keepalived {
        let mut k = Keepalived::default();
        for s in stmts {
            match s.keyword.text.as_str() {
                "global_defs" => k.global = self.global_defs(s),
                "vrrp_instance" => {
                    if let Some(i) = self.vrrp_instance(s) {
                        if k.vrrp_instances.len() == MAX_VRRP_INSTANCES {
                            self.error(&s.keyword, format!("more than {MAX_VRRP_INSTANCES} vrrp_instance blocks"));
                        } else {
                            k.vrrp_instances.push(i);
                        }
                    }
                }
                "vrrp_sync_group" => {
                    if let Some(g) = self.sync_group(s) {
                        k.sync_groups.push(g);
                    }
                }
                "virtual_server" => {
                    if let Some(vs) = self.virtual_server(s) {
                        if k.virtual_servers.len() == MAX_VIRTUAL_SERVERS {
                            self.error(&s.keyword, format!("more than {MAX_VIRTUAL_SERVERS} virtual_server blocks"));
                        } else {
                            k.virtual_servers.push(vs);
                        }
                    }
                }
                "virtual_server_group" | "static_ipaddress" | "static_routes" => self.error(
                    &s.keyword,
                    format!("{} is not supported yet by lvsfw", s.keyword.text),
                ),
                "vrrp_script" => self.error(
                    &s.keyword,
                    "vrrp_script runs a shell script; the appliance has no shell (use track_interface)",
                ),
                _ => self.unknown(s, "the top level", TOP),
            }
        }
        k
    }

    fn global_defs(&mut self, s: &Stmt) -> GlobalDefs {
        const KNOWN: &[&str] = &[
            "router_id",
            "vrrp_version",
            "vrrp_garp_master_delay",
            "vrrp_garp_master_repeat",
            "vrrp_garp_master_refresh",
            "vrrp_skip_check_adv_addr",
            "vrrp_strict",
            "lvs_sync_daemon",
            "enable_script_security",
            "script_user",
            "notification_email",
            "notification_email_from",
            "smtp_server",
            "smtp_connect_timeout",
        ];
        let mut g = GlobalDefs::default();
        for s in self.block(s) {
            match s.keyword.text.as_str() {
                "router_id" => g.router_id = self.one(s, "a name").map(|w| w.text.clone()),
                "vrrp_version" => g.vrrp_version = self.number(s, 2, 3).unwrap_or(2) as u8,
                "vrrp_garp_master_delay" => {
                    g.garp_master_delay = self.seconds(s, 86400.0).unwrap_or(g.garp_master_delay)
                }
                "vrrp_garp_master_repeat" => {
                    g.garp_master_repeat = self.number(s, 1, 255).unwrap_or(5) as u32
                }
                "vrrp_garp_master_refresh" => g.garp_master_refresh = self.seconds(s, 86400.0),
                "vrrp_skip_check_adv_addr" => g.skip_check_adv_addr = self.flag(s),
                "vrrp_strict" => g.strict = self.flag(s),
                "lvs_sync_daemon" => match s.args.as_slice() {
                    [ifname, instance, rest @ ..] => {
                        let id = match rest {
                            [] => 0,
                            [w, v] if w.text == "id" => self.parse(s, v, "a sync id").unwrap_or(0),
                            _ => {
                                self.error(
                                    &s.keyword,
                                    "lvs_sync_daemon: expected INTERFACE VRRP_INSTANCE [id N]",
                                );
                                0
                            }
                        };
                        g.lvs_sync_daemon = Some((ifname.text.clone(), instance.text.clone(), id));
                    }
                    _ => self.error(
                        &s.keyword,
                        "lvs_sync_daemon: expected INTERFACE VRRP_INSTANCE [id N]",
                    ),
                },
                "enable_script_security" | "script_user" => self.note_scripts(s),
                "notification_email"
                | "notification_email_from"
                | "smtp_server"
                | "smtp_connect_timeout" => self.notes.push(format!(
                    "{}: {} accepted and ignored: the appliance sends no mail",
                    s.keyword.pos, s.keyword.text
                )),
                _ => self.unknown(s, "global_defs", KNOWN),
            }
        }
        g
    }

    fn vips(&mut self, s: &Stmt) -> Vec<Vip> {
        let mut vips = Vec::new();
        for line in self.block(s) {
            let prefix = match line.keyword.text.parse::<IpPrefix>() {
                Ok(p) => p,
                Err(why) => {
                    self.error(&line.keyword, format!("{}: {why}", s.keyword.text));
                    continue;
                }
            };
            let mut vip = Vip {
                prefix,
                dev: None,
                label: None,
            };
            let mut args = line.args.iter();
            while let Some(option) = args.next() {
                let value = args.next();
                match (option.text.as_str(), value) {
                    ("dev", Some(v)) => vip.dev = Some(v.text.clone()),
                    ("label", Some(v)) => vip.label = Some(v.text.clone()),
                    ("brd" | "scope", Some(_)) => {}
                    (_, _) => self.error(option, format!(
                        "{}: \"{}\" is not an address option (expected dev, brd, label or scope, each with a value)",
                        s.keyword.text, option.text
                    )),
                }
            }
            if vips.len() == MAX_VIPS {
                self.error(&line.keyword, format!("more than {MAX_VIPS} addresses"));
                break;
            }
            vips.push(vip);
        }
        vips
    }

    fn vrrp_instance(&mut self, s: &Stmt) -> Option<VrrpInstance> {
        const KNOWN: &[&str] = &[
            "state",
            "interface",
            "virtual_router_id",
            "priority",
            "advert_int",
            "version",
            "authentication",
            "virtual_ipaddress",
            "virtual_ipaddress_excluded",
            "nopreempt",
            "preempt_delay",
            "track_interface",
            "unicast_src_ip",
            "unicast_peer",
            "garp_master_delay",
            "garp_master_repeat",
            "garp_master_refresh",
            "accept",
            "no_accept",
            "strict_mode",
            "notify",
            "notify_master",
            "notify_backup",
            "notify_fault",
            "notify_stop",
            "smtp_alert",
        ];
        let name = self.one(s, "an instance name")?.text.clone();
        let mut i = VrrpInstance {
            name,
            state: InitialState::Backup,
            interface: String::new(),
            vrid: 0,
            priority: 100,
            advert_int: Duration::from_secs(1),
            version: None,
            auth: None,
            vips: Vec::new(),
            excluded_vips: Vec::new(),
            nopreempt: false,
            preempt_delay: Duration::ZERO,
            track_interfaces: Vec::new(),
            unicast_src_ip: None,
            unicast_peers: Vec::new(),
            garp_master_delay: None,
            garp_master_repeat: None,
        };
        for st in self.block(s) {
            match st.keyword.text.as_str() {
                "state" => match self
                    .one(st, "MASTER or BACKUP")
                    .map(|w| (w, w.text.as_str()))
                {
                    Some((_, "MASTER")) => i.state = InitialState::Master,
                    Some((_, "BACKUP")) => i.state = InitialState::Backup,
                    Some((w, other)) => {
                        let msg = format!("state: \"{other}\" is not MASTER or BACKUP");
                        self.error(w, msg)
                    }
                    None => {}
                },
                "interface" => {
                    if let Some(w) = self.one(st, "an interface name") {
                        i.interface = w.text.clone();
                    }
                }
                "virtual_router_id" => i.vrid = self.number(st, 1, 255).unwrap_or(0) as u8,
                "priority" => i.priority = self.number(st, 1, 255).unwrap_or(100) as u8,
                "advert_int" => i.advert_int = self.seconds(st, 255.0).unwrap_or(i.advert_int),
                "version" => i.version = self.number(st, 2, 3).map(|v| v as u8),
                "authentication" => i.auth = self.authentication(st),
                "virtual_ipaddress" => i.vips = self.vips(st),
                "virtual_ipaddress_excluded" => i.excluded_vips = self.vips(st),
                "nopreempt" => i.nopreempt = self.flag(st),
                "preempt_delay" => {
                    i.preempt_delay = self.seconds(st, 1000.0).unwrap_or(Duration::ZERO)
                }
                "track_interface" => {
                    i.track_interfaces = self
                        .block(st)
                        .iter()
                        .map(|t| t.keyword.text.clone())
                        .collect()
                }
                "unicast_src_ip" => {
                    i.unicast_src_ip = self.one(st, "an address").and_then(|w| self.address(st, w))
                }
                "unicast_peer" => {
                    for peer in self.block(st) {
                        if let Some(a) = self.address(st, &peer.keyword) {
                            i.unicast_peers.push(a);
                        }
                    }
                }
                "garp_master_delay" => i.garp_master_delay = self.seconds(st, 86400.0),
                "garp_master_repeat" => {
                    i.garp_master_repeat = self.number(st, 1, 255).map(|n| n as u32)
                }
                "garp_master_refresh" | "accept" | "no_accept" | "strict_mode" | "smtp_alert" => {}
                k if k.starts_with("notify") => self.note_scripts(st),
                _ => self.unknown(st, "vrrp_instance", KNOWN),
            }
        }
        if i.interface.is_empty() {
            self.error(
                &s.keyword,
                format!("vrrp_instance {}: interface is missing", i.name),
            );
        }
        if i.vrid == 0 {
            self.error(
                &s.keyword,
                format!(
                    "vrrp_instance {}: virtual_router_id (1 to 255) is missing",
                    i.name
                ),
            );
        }
        Some(i)
    }

    fn authentication(&mut self, s: &Stmt) -> Option<(AuthType, String)> {
        let mut kind = None;
        let mut pass = None;
        for st in self.block(s) {
            match st.keyword.text.as_str() {
                "auth_type" => match self.one(st, "PASS or AH").map(|w| (w, w.text.as_str())) {
                    Some((_, "PASS")) => kind = Some(AuthType::Pass),
                    Some((_, "AH")) => kind = Some(AuthType::Ah),
                    Some((w, other)) => {
                        let msg = format!("auth_type: \"{other}\" is not PASS or AH");
                        self.error(w, msg)
                    }
                    None => {}
                },
                "auth_pass" => pass = self.one(st, "a password").map(|w| w.text.clone()),
                _ => self.unknown(st, "authentication", &["auth_type", "auth_pass"]),
            }
        }
        match (kind, pass) {
            (Some(k), Some(p)) => {
                // keepalived uses the first 8 characters (RFC 3768 §5.3.10) and says so.
                if p.len() > 8 {
                    self.notes.push(format!(
                        "{}: auth_pass is cut to its first 8 characters, as keepalived does",
                        s.keyword.pos
                    ));
                }
                Some((k, p.chars().take(8).collect()))
            }
            _ => {
                self.error(
                    &s.keyword,
                    "authentication: needs both auth_type and auth_pass",
                );
                None
            }
        }
    }

    fn sync_group(&mut self, s: &Stmt) -> Option<SyncGroup> {
        let name = self.one(s, "a group name")?.text.clone();
        let mut members = Vec::new();
        for st in self.block(s) {
            match st.keyword.text.as_str() {
                "group" => members.extend(self.block(st).iter().map(|m| m.keyword.text.clone())),
                k if k.starts_with("notify") || k == "smtp_alert" || k == "global_tracking" => {
                    self.note_scripts(st)
                }
                _ => self.unknown(st, "vrrp_sync_group", &["group", "notify", "smtp_alert"]),
            }
        }
        Some(SyncGroup { name, members })
    }

    fn virtual_server(&mut self, s: &Stmt) -> Option<VirtualServer> {
        const KNOWN: &[&str] = &[
            "delay_loop",
            "lb_algo",
            "lvs_sched",
            "lb_kind",
            "lvs_method",
            "protocol",
            "persistence_timeout",
            "persistence_granularity",
            "sorry_server",
            "quorum",
            "hysteresis",
            "alpha",
            "omega",
            "inhibit_on_failure",
            "ha_suspend",
            "virtualhost",
            "real_server",
        ];
        let key = match s.args.as_slice() {
            [w, mark] if w.text == "fwmark" => {
                VsKey::Fwmark(self.parse(s, mark, "a firewall mark")?)
            }
            [w, _] if w.text == "group" => {
                self.error(
                    w,
                    "virtual_server group: virtual_server_group is not supported yet by lvsfw",
                );
                return None;
            }
            [ip, port] => VsKey::Addr(self.address(s, ip)?, self.port(s, port)?),
            _ => {
                self.error(
                    &s.keyword,
                    "virtual_server: expected IP PORT, fwmark N or group NAME",
                );
                return None;
            }
        };
        let mut vs = VirtualServer {
            key,
            delay_loop: Duration::from_secs(60),
            lb_algo: "wlc".into(),
            lb_kind: LbKind::Nat,
            protocol: Protocol::Tcp,
            persistence_timeout: None,
            persistence_granularity: None,
            sorry_server: None,
            quorum: 1,
            hysteresis: 0,
            alpha: false,
            omega: false,
            inhibit_on_failure: false,
            ha_suspend: false,
            virtualhost: None,
            real_servers: Vec::new(),
        };
        const SCHEDULERS: &[&str] = &[
            "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh",
        ];
        for st in self.block(s) {
            match st.keyword.text.as_str() {
                "delay_loop" => vs.delay_loop = self.seconds(st, 86400.0).unwrap_or(vs.delay_loop),
                "lb_algo" | "lvs_sched" => {
                    if let Some(w) = self.one(st, "a scheduler") {
                        if SCHEDULERS.contains(&w.text.as_str()) {
                            vs.lb_algo = w.text.clone();
                        } else {
                            let msg = format!(
                                "{}: \"{}\" is not a scheduler (expected one of {})",
                                st.keyword.text,
                                w.text,
                                SCHEDULERS.join(" ")
                            );
                            self.error(w, msg);
                        }
                    }
                }
                "lb_kind" | "lvs_method" => {
                    match self.one(st, "NAT, DR or TUN").map(|w| (w, w.text.as_str())) {
                        Some((_, "NAT")) => vs.lb_kind = LbKind::Nat,
                        Some((_, "DR")) => vs.lb_kind = LbKind::Dr,
                        Some((_, "TUN")) => vs.lb_kind = LbKind::Tun,
                        Some((w, other)) => {
                            let msg =
                                format!("{}: \"{other}\" is not NAT, DR or TUN", st.keyword.text);
                            self.error(w, msg)
                        }
                        None => {}
                    }
                }
                "protocol" => match self
                    .one(st, "TCP, UDP or SCTP")
                    .map(|w| (w, w.text.as_str()))
                {
                    Some((_, "TCP")) => vs.protocol = Protocol::Tcp,
                    Some((_, "UDP")) => vs.protocol = Protocol::Udp,
                    Some((_, "SCTP")) => vs.protocol = Protocol::Sctp,
                    Some((w, other)) => {
                        let msg = format!("protocol: \"{other}\" is not TCP, UDP or SCTP");
                        self.error(w, msg)
                    }
                    None => {}
                },
                // keepalived: 360 s when given without a value.
                "persistence_timeout" if st.args.is_empty() => vs.persistence_timeout = Some(360),
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
                    _ => self.error(&st.keyword, "sorry_server: expected IP PORT"),
                },
                "quorum" => vs.quorum = self.number(st, 1, u32::MAX as u64).unwrap_or(1) as u32,
                "hysteresis" => {
                    vs.hysteresis = self.number(st, 0, u32::MAX as u64).unwrap_or(0) as u32
                }
                "alpha" => vs.alpha = self.flag(st),
                "omega" => vs.omega = self.flag(st),
                "inhibit_on_failure" => vs.inhibit_on_failure = self.flag(st),
                "ha_suspend" => vs.ha_suspend = self.flag(st),
                "virtualhost" => {
                    vs.virtualhost = self.one(st, "a host name").map(|w| w.text.clone())
                }
                "real_server" => {
                    if let Some(rs) = self.real_server(st) {
                        vs.real_servers.push(rs);
                    }
                }
                _ => self.unknown(st, "virtual_server", KNOWN),
            }
        }
        Some(vs)
    }

    fn real_server(&mut self, s: &Stmt) -> Option<RealServer> {
        const KNOWN: &[&str] = &[
            "weight",
            "inhibit_on_failure",
            "HTTP_GET",
            "SSL_GET",
            "TCP_CHECK",
        ];
        let (addr, port) = match s.args.as_slice() {
            [ip, port] => (self.address(s, ip)?, self.port(s, port)?),
            _ => {
                self.error(&s.keyword, "real_server: expected IP PORT");
                return None;
            }
        };
        let mut rs = RealServer {
            addr,
            port,
            weight: 1,
            inhibit_on_failure: None,
            checks: Vec::new(),
        };
        for st in self.block(s) {
            match st.keyword.text.as_str() {
                "weight" => rs.weight = self.number(st, 0, 65535).unwrap_or(1) as u32,
                "inhibit_on_failure" => rs.inhibit_on_failure = Some(self.flag(st)),
                "HTTP_GET" => rs.checks.extend(self.check(st, CheckKind::HttpGet)),
                "SSL_GET" => rs.checks.extend(self.check(st, CheckKind::SslGet)),
                "TCP_CHECK" => rs.checks.extend(self.check(st, CheckKind::Tcp)),
                "MISC_CHECK" | "SMTP_CHECK" | "DNS_CHECK" | "BFD_CHECK" | "FILE_CHECK" => self.error(
                    &st.keyword,
                    format!("{} is not supported: the appliance has no shell to run scripts; use HTTP_GET, SSL_GET or TCP_CHECK", st.keyword.text),
                ),
                _ => self.unknown(st, "real_server", KNOWN),
            }
        }
        Some(rs)
    }

    fn check(&mut self, s: &Stmt, kind: CheckKind) -> Option<Check> {
        let http = kind != CheckKind::Tcp;
        let mut c = Check {
            kind,
            urls: Vec::new(),
            connect_ip: None,
            connect_port: None,
            bindto: None,
            connect_timeout: Duration::from_secs(5),
            retry: 1,
            delay_before_retry: Duration::from_secs(if http { 3 } else { 1 }),
            warmup: None,
            virtualhost: None,
            delay_loop: None,
        };
        let known: &[&str] = if http {
            &[
                "url",
                "connect_ip",
                "connect_port",
                "bindto",
                "connect_timeout",
                "retry",
                "nb_get_retry",
                "delay_before_retry",
                "warmup",
                "virtualhost",
                "delay_loop",
            ]
        } else {
            &[
                "connect_ip",
                "connect_port",
                "bindto",
                "connect_timeout",
                "retry",
                "delay_before_retry",
                "warmup",
                "delay_loop",
            ]
        };
        for st in self.block(s) {
            let k = st.keyword.text.as_str();
            if !known.contains(&k) {
                self.unknown(st, &s.keyword.text, known);
                continue;
            }
            match k {
                "url" => {
                    if let Some(u) = self.url(st) {
                        c.urls.push(u);
                    }
                }
                "connect_ip" => {
                    c.connect_ip = self.one(st, "an address").and_then(|w| self.address(st, w))
                }
                "connect_port" => {
                    c.connect_port = self.one(st, "a port").and_then(|w| self.port(st, w))
                }
                "bindto" => c.bindto = self.one(st, "an address").and_then(|w| self.address(st, w)),
                "connect_timeout" => {
                    c.connect_timeout = self.seconds(st, 3600.0).unwrap_or(c.connect_timeout)
                }
                "retry" | "nb_get_retry" => c.retry = self.number(st, 0, 1000).unwrap_or(1) as u32,
                "delay_before_retry" => {
                    c.delay_before_retry = self.seconds(st, 3600.0).unwrap_or(c.delay_before_retry)
                }
                "warmup" => c.warmup = self.seconds(st, 86400.0),
                "virtualhost" => {
                    c.virtualhost = self.one(st, "a host name").map(|w| w.text.clone())
                }
                "delay_loop" => c.delay_loop = self.seconds(st, 86400.0),
                _ => {}
            }
        }
        if http && c.urls.is_empty() {
            self.error(
                &s.keyword,
                format!("{}: needs at least one url {{ path ... }}", s.keyword.text),
            );
            return None;
        }
        Some(c)
    }

    fn url(&mut self, s: &Stmt) -> Option<UrlCheck> {
        let mut u = UrlCheck {
            path: String::new(),
            status_code: None,
            digest: None,
        };
        for st in self.block(s) {
            match st.keyword.text.as_str() {
                "path" => u.path = self.one(st, "a path")?.text.clone(),
                "status_code" => u.status_code = self.number(st, 100, 599).map(|n| n as u16),
                "digest" => {
                    let w = self.one(st, "32 hex digits (an MD5 digest)")?;
                    u.digest = hex16(&w.text);
                    if u.digest.is_none() {
                        let msg = format!(
                            "digest: \"{}\" is not 32 hex digits (an MD5 digest)",
                            w.text
                        );
                        self.error(w, msg);
                    }
                }
                _ => self.unknown(st, "url", &["path", "status_code", "digest"]),
            }
        }
        if u.path.is_empty() {
            self.error(&s.keyword, "url: path is missing");
            return None;
        }
        Some(u)
    }
}

impl Default for Reader {
    fn default() -> Self {
        Reader::new()
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

fn hex16(text: &str) -> Option<[u8; 16]> {
    if text.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}
