//! Statements into the model: keepalived's keywords, defaults and units. Every problem is
//! collected with its `file:line:col`; keywords lvsfw accepts but does not act on are
//! returned as notes.

use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use super::model::*;
use super::spans::{Node, Spans};
use super::tree::{Stmt, Word};
use crate::suggest::did_you_mean;
use crate::units::hex16;
use crate::{IpPrefix, Issues};

pub struct Reader {
    pub issues: Issues,
    pub notes: Vec<String>,
    /// Where each item came from, by its JSON path.
    pub spans: Spans,
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
            spans: Spans::default(),
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
                "{}: {} accepted and kept for export, but the appliance runs no scripts (it has no shell); the same holds for every other script keyword",
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

    /// A switch: the keyword alone means on; keepalived also takes on/off, true/false,
    /// yes/no after it.
    fn flag(&mut self, s: &Stmt) -> bool {
        match s.args.as_slice() {
            [] => true,
            [w] => match w.text.as_str() {
                "on" | "true" | "yes" => true,
                "off" | "false" | "no" => false,
                other => {
                    let msg = format!(
                        "{}: \"{other}\" is not on, off, true, false, yes or no",
                        s.keyword.text
                    );
                    self.error(w, msg);
                    true
                }
            },
            [_, extra, ..] => {
                let msg = format!("{}: takes at most one value (on or off)", s.keyword.text);
                self.error(extra, msg);
                true
            }
        }
    }

    fn address(&mut self, s: &Stmt, w: &Word) -> Option<IpAddr> {
        self.parse(s, w, "an IPv4 or IPv6 address")
    }

    /// A port from 0 to 65535; whether 0 is allowed there is for validation to judge
    /// (keepalived takes it for fwmark and persistent services).
    fn port(&mut self, s: &Stmt, w: &Word) -> Option<u16> {
        match w.text.parse::<u16>() {
            Ok(p) => Some(p),
            _ => {
                self.error(
                    w,
                    format!(
                        "{}: \"{}\" is not a port (0 to 65535)",
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
                "global_defs" => {
                    let at = self.item(Spans::ROOT, "global_defs", None, s);
                    k.global = self.global_defs(s, at)
                }
                "vrrp_instance" => {
                    let n = k.vrrp_instances.len();
                    let at = self.item(Spans::ROOT, "vrrp_instances", Some(n), s);
                    if let Some(i) = self.vrrp_instance(s, at) {
                        k.vrrp_instances.push(i);
                    }
                }
                "vrrp_sync_group" => {
                    let n = k.sync_groups.len();
                    let at = self.item(Spans::ROOT, "vrrp_sync_groups", Some(n), s);
                    if let Some(g) = self.sync_group(s, at) {
                        k.sync_groups.push(g);
                    }
                }
                "virtual_server_group" => {
                    let n = k.virtual_server_groups.len();
                    let at = self.item(Spans::ROOT, "virtual_server_groups", Some(n), s);
                    if let Some(g) = self.virtual_server_group(s, at) {
                        k.virtual_server_groups.push(g);
                    }
                }
                "virtual_server" => {
                    let n = k.virtual_servers.len();
                    let at = self.item(Spans::ROOT, "virtual_servers", Some(n), s);
                    if let Some(vs) = self.virtual_server(s, at) {
                        k.virtual_servers.push(vs);
                    }
                }
                "static_ipaddress" | "static_routes" => self.error(
                    &s.keyword,
                    format!(
                        "{} is not supported by lvsfw: give the interfaces' addresses and routes in the native configuration",
                        s.keyword.text
                    ),
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

    /// Records that the item `at.field[index]` is the statement `st`.
    fn item(&mut self, at: Node, field: &'static str, index: Option<usize>, st: &Stmt) -> Node {
        self.spans.child(at, field, index, Some(&st.keyword.pos))
    }

    /// Records where the setting `st` of `at` is, by its keyword (one of `known`).
    fn mark(&mut self, at: Node, st: &Stmt, known: &[&'static str]) {
        if let Some(keyword) = known.iter().find(|k| **k == st.keyword.text) {
            self.spans.child(at, keyword, None, Some(&st.keyword.pos));
        }
    }

    fn global_defs(&mut self, s: &Stmt, at: Node) -> GlobalDefs {
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
            self.mark(at, s, KNOWN);
            match s.keyword.text.as_str() {
                "router_id" => g.router_id = self.one(s, "a name").map(|w| w.text.clone()),
                "vrrp_version" => g.vrrp_version = self.number(s, 2, 3).unwrap_or(2) as u8,
                "vrrp_garp_master_delay" => {
                    g.garp_master_delay = self.seconds(s, 86400.0).unwrap_or(g.garp_master_delay)
                }
                "vrrp_garp_master_repeat" => {
                    g.garp_master_repeat = self
                        .number(s, 1, 255)
                        .unwrap_or(defaults::GARP_MASTER_REPEAT.into())
                        as u32
                }
                "vrrp_garp_master_refresh" => g.garp_master_refresh = self.seconds(s, 86400.0),
                "vrrp_skip_check_adv_addr" => g.skip_check_adv_addr = self.flag(s),
                "vrrp_strict" => g.strict = self.flag(s),
                "lvs_sync_daemon" => g.lvs_sync_daemon = self.lvs_sync_daemon(s),
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

    fn lvs_sync_daemon(&mut self, s: &Stmt) -> Option<LvsSyncDaemon> {
        const EXPECTED: &str = "lvs_sync_daemon: expected INTERFACE VRRP_INSTANCE [id N]";
        let [ifname, instance, rest @ ..] = s.args.as_slice() else {
            self.error(&s.keyword, EXPECTED);
            return None;
        };
        let id = match rest {
            [] => None,
            [w, v] if w.text == "id" => Some(self.parse(s, v, "a sync id (0 to 255)")?),
            _ => {
                self.error(&s.keyword, EXPECTED);
                return None;
            }
        };
        Some(LvsSyncDaemon {
            interface: ifname.text.clone(),
            vrrp_instance: instance.text.clone(),
            id,
        })
    }

    /// The lines of `s`, recorded as `at.field[n]`.
    fn vips(&mut self, s: &Stmt, at: Node, field: &'static str) -> Vec<Vip> {
        let mut vips = Vec::new();
        for line in self.block(s) {
            let address = match line.keyword.text.parse::<IpPrefix>() {
                Ok(p) => p,
                Err(why) => {
                    self.error(&line.keyword, format!("{}: {why}", s.keyword.text));
                    continue;
                }
            };
            let mut vip = Vip {
                address,
                brd: None,
                dev: None,
                label: None,
                scope: None,
            };
            let mut args = line.args.iter();
            while let Some(option) = args.next() {
                let value = args.next();
                match (option.text.as_str(), value) {
                    ("dev", Some(v)) => vip.dev = Some(v.text.clone()),
                    ("label", Some(v)) => vip.label = Some(v.text.clone()),
                    ("scope", Some(v)) => vip.scope = Some(v.text.clone()),
                    ("brd", Some(v)) => vip.brd = self.address(line, v),
                    (_, _) => self.error(option, format!(
                        "{}: \"{}\" is not an address option (expected dev, brd, label or scope, each with a value)",
                        s.keyword.text, option.text
                    )),
                }
            }
            self.item(at, field, Some(vips.len()), line);
            vips.push(vip);
        }
        vips
    }

    fn vrrp_instance(&mut self, s: &Stmt, at: Node) -> Option<VrrpInstance> {
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
            "notify_deleted",
            "notify_master_rx_lower_pri",
            "smtp_alert",
        ];
        let name = self.one(s, "an instance name")?.text.clone();
        let mut i = VrrpInstance::new(&name);
        let mut vrid_given = false;
        for st in self.block(s) {
            self.mark(at, st, KNOWN);
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
                "virtual_router_id" => {
                    vrid_given = true;
                    i.vrid = self.number(st, 1, 255).unwrap_or(0) as u8
                }
                "priority" => {
                    i.priority = self.number(st, 1, 255).unwrap_or(defaults::PRIORITY.into()) as u8
                }
                "advert_int" => i.advert_int = self.seconds(st, 255.0).unwrap_or(i.advert_int),
                "version" => i.version = self.number(st, 2, 3).map(|v| v as u8),
                "authentication" => i.auth = self.authentication(st),
                "virtual_ipaddress" => i.vips = self.vips(st, at, "virtual_ipaddress"),
                "virtual_ipaddress_excluded" => {
                    i.excluded_vips = self.vips(st, at, "virtual_ipaddress_excluded")
                }
                "nopreempt" => i.nopreempt = self.flag(st),
                "preempt_delay" => {
                    i.preempt_delay = self.seconds(st, 1000.0).unwrap_or(Duration::ZERO)
                }
                "track_interface" => {
                    let names: Vec<&Stmt> = self.block(st).iter().collect();
                    for (n, t) in names.iter().enumerate() {
                        self.item(at, "track_interface", Some(n), t);
                    }
                    i.track_interfaces = names.iter().map(|t| t.keyword.text.clone()).collect()
                }
                "unicast_src_ip" => {
                    i.unicast_src_ip = self.one(st, "an address").and_then(|w| self.address(st, w))
                }
                "unicast_peer" => {
                    for peer in self.block(st) {
                        if let Some(a) = self.address(st, &peer.keyword) {
                            self.item(at, "unicast_peer", Some(i.unicast_peers.len()), peer);
                            i.unicast_peers.push(a);
                        }
                    }
                }
                "garp_master_delay" => i.garp_master_delay = self.seconds(st, 86400.0),
                "garp_master_repeat" => {
                    i.garp_master_repeat = self.number(st, 1, 255).map(|n| n as u32)
                }
                "garp_master_refresh" => i.garp_master_refresh = self.seconds(st, 86400.0),
                "accept" => i.accept = Some(self.flag(st)),
                "no_accept" => i.accept = Some(!self.flag(st)),
                "strict_mode" => i.strict_mode = Some(self.flag(st)),
                "smtp_alert" => {
                    self.flag(st);
                }
                k => match NotifyEvent::from_keyword(k) {
                    Some(event) => i.notify.extend(self.notify(st, event)),
                    None => self.unknown(st, "vrrp_instance", KNOWN),
                },
            }
        }
        if i.interface.is_empty() {
            self.error(
                &s.keyword,
                format!("vrrp_instance {}: interface is missing", i.name),
            );
        }
        if !vrid_given {
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

    /// `notify_master /path/script arg…`: kept for export, never run.
    fn notify(&mut self, st: &Stmt, event: NotifyEvent) -> Option<NotifyScript> {
        self.note_scripts(st);
        if st.args.is_empty() {
            self.error(
                &st.keyword,
                format!("{}: expected a script", st.keyword.text),
            );
            return None;
        }
        let command = st
            .args
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        Some(NotifyScript { event, command })
    }

    fn authentication(&mut self, s: &Stmt) -> Option<Authentication> {
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
            (Some(auth_type), Some(p)) => {
                // keepalived uses the first 8 characters (RFC 3768 §5.3.10) and says so.
                if p.chars().count() > 8 {
                    self.notes.push(format!(
                        "{}: auth_pass is cut to its first 8 characters, as keepalived does",
                        s.keyword.pos
                    ));
                }
                Some(Authentication {
                    auth_type,
                    auth_pass: p.chars().take(8).collect(),
                })
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

    fn sync_group(&mut self, s: &Stmt, at: Node) -> Option<SyncGroup> {
        const KNOWN: &[&str] = &[
            "group",
            "notify",
            "notify_master",
            "notify_backup",
            "notify_fault",
            "notify_stop",
            "smtp_alert",
            "global_tracking",
        ];
        let name = self.one(s, "a group name")?.text.clone();
        let mut g = SyncGroup {
            name,
            members: Vec::new(),
            notify: Vec::new(),
        };
        for st in self.block(s) {
            match st.keyword.text.as_str() {
                "group" => {
                    for m in self.block(st) {
                        self.item(at, "group", Some(g.members.len()), m);
                        g.members.push(m.keyword.text.clone());
                    }
                }
                "smtp_alert" | "global_tracking" => {
                    self.flag(st);
                }
                k => match NotifyEvent::from_keyword(k).filter(|e| KNOWN.contains(&e.keyword())) {
                    Some(event) => g.notify.extend(self.notify(st, event)),
                    None => self.unknown(st, "vrrp_sync_group", KNOWN),
                },
            }
        }
        Some(g)
    }

    /// `virtual_server_group NAME { IP PORT | IP-LAST PORT | fwmark N … }`.
    fn virtual_server_group(&mut self, s: &Stmt, at: Node) -> Option<VirtualServerGroup> {
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

    fn virtual_server(&mut self, s: &Stmt, at: Node) -> Option<VirtualServer> {
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
        for st in self.block(s) {
            if st.keyword.text != "real_server" {
                self.mark(at, st, KNOWN);
            }
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
                "protocol" => {
                    protocol_given = true;
                    match self
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
                    _ => self.error(&st.keyword, "sorry_server: expected IP PORT"),
                },
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
                "virtualhost" => {
                    vs.virtualhost = self.one(st, "a host name").map(|w| w.text.clone())
                }
                "real_server" => {
                    let rs_at = self.item(at, "real_servers", Some(vs.real_servers.len()), st);
                    if let Some(rs) = self.real_server(st, rs_at) {
                        vs.real_servers.push(rs);
                    }
                }
                _ => self.unknown(st, "virtual_server", KNOWN),
            }
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

    fn real_server(&mut self, s: &Stmt, at: Node) -> Option<RealServer> {
        const KNOWN: &[&str] = &[
            "weight",
            "inhibit_on_failure",
            "HTTP_GET",
            "SSL_GET",
            "TCP_CHECK",
        ];
        let (ip, port) = match s.args.as_slice() {
            [ip, port] => {
                let pair = (self.address(s, ip)?, self.port(s, port)?);
                self.spans.child(at, "port", None, Some(&port.pos));
                pair
            }
            _ => {
                self.error(&s.keyword, "real_server: expected IP PORT");
                return None;
            }
        };
        let mut rs = RealServer {
            ip,
            port,
            weight: defaults::WEIGHT,
            inhibit_on_failure: None,
            checks: Vec::new(),
        };
        for st in self.block(s) {
            let kind = match st.keyword.text.as_str() {
                "weight" => {
                    self.mark(at, st, KNOWN);
                    rs.weight = self.number(st, 0, 65535).unwrap_or(1) as u32;
                    None
                }
                "inhibit_on_failure" => {
                    rs.inhibit_on_failure = Some(self.flag(st));
                    None
                }
                "HTTP_GET" => Some(CheckKind::HttpGet),
                "SSL_GET" => Some(CheckKind::SslGet),
                "TCP_CHECK" => Some(CheckKind::Tcp),
                "MISC_CHECK" | "SMTP_CHECK" | "DNS_CHECK" | "BFD_CHECK" | "FILE_CHECK" => {
                    self.error(
                        &st.keyword,
                        format!("{} is not supported: the appliance has no shell to run scripts; use HTTP_GET, SSL_GET or TCP_CHECK", st.keyword.text),
                    );
                    None
                }
                _ => {
                    self.unknown(st, "real_server", KNOWN);
                    None
                }
            };
            if let Some(kind) = kind {
                let check_at = self.item(at, "checks", Some(rs.checks.len()), st);
                if let Some(c) = self.check(st, kind, check_at) {
                    rs.checks.push(c);
                }
            }
        }
        Some(rs)
    }

    fn check(&mut self, s: &Stmt, kind: CheckKind, at: Node) -> Option<Check> {
        let http = kind != CheckKind::Tcp;
        let mut c = Check::new(kind);
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
                    self.mark(at, st, known);
                    c.connect_port = self.one(st, "a port").and_then(|w| self.port(st, w))
                }
                "bindto" => {
                    self.mark(at, st, known);
                    c.bindto = self.one(st, "an address").and_then(|w| self.address(st, w))
                }
                "connect_timeout" => {
                    c.connect_timeout = self.seconds(st, 3600.0).unwrap_or(c.connect_timeout)
                }
                "retry" | "nb_get_retry" => {
                    c.retry = self.number(st, 0, 1000).unwrap_or(defaults::RETRY.into()) as u32
                }
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
