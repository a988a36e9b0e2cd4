//! `vrrp_instance`, `vrrp_sync_group`, `vrrp_script` and the lines they hold.

use super::*;
use crate::IpPrefix;

const INSTANCE: &str = "vrrp_instance";
const SYNC_GROUP: &str = "vrrp_sync_group";
const SCRIPT: &str = "vrrp_script";

impl Reader {
    /// The address lines of `s` (virtual_ipaddress, static_ipaddress), recorded as
    /// `at.field[start + n]`.
    pub(super) fn vips(
        &mut self,
        s: &Stmt,
        at: Node,
        field: &'static str,
        start: usize,
    ) -> Vec<Vip> {
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
            self.item(at, field, Some(start + vips.len()), line);
            vips.push(vip);
        }
        vips
    }

    pub(super) fn vrrp_instance(
        &mut self,
        s: &Stmt,
        at: Node,
        global: &mut GlobalDefs,
    ) -> Option<VrrpInstance> {
        let name = self.one(s, "an instance name")?.text.clone();
        let mut i = VrrpInstance::new(&name);
        let mut vrid_given = false;
        for st in self.block(s) {
            self.keyword(Some(at), INSTANCE, st);
            match st.keyword.text.as_str() {
                "state" => match self.one(st, "MASTER or BACKUP") {
                    Some(w) if w.text == "MASTER" => i.state = InitialState::Master,
                    Some(w) if w.text == "BACKUP" => i.state = InitialState::Backup,
                    // keepalived: "unknown state, defaulting to BACKUP".
                    Some(w) => {
                        let message = format!(
                            "\"{}\" is not MASTER or BACKUP; BACKUP, as keepalived does",
                            w.text
                        );
                        self.lenient(st, &message);
                        i.state = InitialState::Backup;
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
                "virtual_ipaddress" => {
                    let vips = self.vips(st, at, "virtual_ipaddress", i.vips.len());
                    i.vips.extend(vips)
                }
                "virtual_ipaddress_excluded" => {
                    let start = i.excluded_vips.len();
                    let vips = self.vips(st, at, "virtual_ipaddress_excluded", start);
                    i.excluded_vips.extend(vips)
                }
                "nopreempt" => i.nopreempt = self.flag(st),
                "preempt" => i.nopreempt = !self.flag(st),
                "preempt_delay" => {
                    i.preempt_delay = self.seconds(st, 1000.0).unwrap_or(Duration::ZERO)
                }
                "track_interface" => {
                    let start = i.track_interfaces.len();
                    let tracked = self.track_interfaces(st, Some((at, start)));
                    i.track_interfaces.extend(tracked)
                }
                "track_script" => {
                    let tracked = self.track_script_lines(st);
                    i.track_scripts.extend(tracked)
                }
                "unicast_src_ip" => {
                    i.unicast_src_ip = self.one(st, "an address").and_then(|w| self.address(st, w))
                }
                "unicast_peer" => {
                    for peer in self.block(st) {
                        if let Some(extra) = peer.args.first() {
                            self.error(
                                extra,
                                "unicast_peer: options after the address (min_ttl, max_ttl) are not supported",
                            );
                        }
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
                "lvs_sync_daemon_interface" => {
                    // keepalived: deprecated, the global lvs_sync_daemon with this instance.
                    if let Some(ifname) = self.text(st, "an interface name") {
                        if global.lvs_sync_daemon.is_none() {
                            global.lvs_sync_daemon = Some(LvsSyncDaemon {
                                interface: ifname,
                                vrrp_instance: name.clone(),
                                id: None,
                            });
                            self.note_once(st, "deprecated in keepalived; read (and written back) as global_defs' lvs_sync_daemon INTERFACE INSTANCE");
                        } else {
                            self.lenient(st, "global_defs already has an lvs_sync_daemon; this one is ignored, as keepalived does");
                        }
                    }
                }
                "use_vmac" => i.use_vmac = self.use_vmac(st),
                "use_vmac_addr" => i.use_vmac_addr = self.flag(st),
                "vmac_xmit_base" => i.vmac_xmit_base = self.flag(st),
                "mcast_src_ip" => {
                    i.mcast_src_ip = self.one(st, "an address").and_then(|w| self.address(st, w))
                }
                "mcast_dst_ip" => {
                    i.mcast_dst_ip = self.one(st, "an address").and_then(|w| self.address(st, w))
                }
                "unicast_ttl" => i.unicast_ttl = self.number(st, 1, 255).map(|n| n as u8),
                "check_unicast_src" => i.check_unicast_src = Some(self.flag(st)),
                "unicast_fault_no_peer" => i.unicast_fault_no_peer = self.flag(st),
                "dont_track_primary" => i.dont_track_primary = self.flag(st),
                "virtual_routes" => {
                    let routes = self.routes(st, at, "virtual_routes");
                    i.virtual_routes.extend(routes)
                }
                "virtual_rules" => {
                    let rules = self.rules(st, at, "virtual_rules");
                    i.virtual_rules.extend(rules)
                }
                "smtp_alert" => i.smtp_alert = Some(self.flag(st)),
                "garp_master_refresh_repeat" => {
                    i.garp_master_refresh_repeat = self.number(st, 1, 255).map(|n| n as u32)
                }
                "garp_lower_prio_delay" => i.garp_lower_prio_delay = self.seconds(st, 86400.0),
                "garp_lower_prio_repeat" => {
                    i.garp_lower_prio_repeat = self.number(st, 1, 255).map(|n| n as u32)
                }
                "lower_prio_no_advert" => i.lower_prio_no_advert = Some(self.flag(st)),
                "higher_prio_send_advert" => i.higher_prio_send_advert = Some(self.flag(st)),
                "skip_check_adv_addr" => i.skip_check_adv_addr = Some(self.flag(st)),
                "owner_ignore_adverts" => i.owner_ignore_adverts = Some(self.flag(st)),
                "v3_checksum_as_v2" => i.v3_checksum_as_v2 = Some(self.flag(st)),
                "no_virtual_ipaddress" => i.no_virtual_ipaddress = self.flag(st),
                "native_ipv6" => i.native_ipv6 = self.flag(st),
                "track_src_ip" => i.track_src_ip = self.flag(st),
                "promote_secondaries" => i.promote_secondaries = self.flag(st),
                "down_timer_adverts" => {
                    i.down_timer_adverts = self.number(st, 1, 100).map(|n| n as u32)
                }
                _ => self.other(INSTANCE, st, &mut i.noted),
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

    /// keepalived only warns here and carries on: a note (an error under --strict).
    pub(super) fn lenient(&mut self, st: &Stmt, message: &str) {
        self.notes.push(format!(
            "{}: {}: {message}",
            st.keyword.pos, st.keyword.text
        ));
    }

    /// `use_vmac [IFNAME] [MAC]`: a word with ':' is the MAC (interface names have none).
    fn use_vmac(&mut self, st: &Stmt) -> Option<UseVmac> {
        let mut vmac = UseVmac::default();
        for w in &st.args {
            if w.text.contains(':') {
                let octets: Vec<&str> = w.text.split(':').collect();
                let ok = octets.len() == 6
                    && octets
                        .iter()
                        .all(|o| (1..=2).contains(&o.len()) && u8::from_str_radix(o, 16).is_ok());
                if !ok || vmac.mac.is_some() {
                    let message = format!(
                        "use_vmac: \"{}\" is not a MAC address (six hex octets, xx:xx:xx:xx:xx:xx)",
                        w.text
                    );
                    self.error(w, message);
                    return None;
                }
                vmac.mac = Some(w.text.to_ascii_lowercase());
            } else if vmac.name.is_none() {
                vmac.name = Some(w.text.clone());
            } else {
                self.error(w, "use_vmac: expected [INTERFACE] [MAC]");
                return None;
            }
        }
        Some(vmac)
    }

    /// `track_interface { IF [weight N [reverse]] ... }`; each line recorded as
    /// `at.track_interface[start + n]` when `at` is given.
    fn track_interfaces(&mut self, st: &Stmt, at: Option<(Node, usize)>) -> Vec<TrackInterface> {
        let mut out = Vec::new();
        for line in self.block(st) {
            if let Some((at, start)) = at {
                self.item(at, "track_interface", Some(start + out.len()), line);
            }
            let Some((weight, reverse)) = self.track_weight(line, false) else {
                continue;
            };
            out.push(TrackInterface {
                name: line.keyword.text.clone(),
                weight,
                reverse: reverse.unwrap_or(false),
            });
        }
        out
    }

    /// `track_script { NAME [weight N [reverse|noreverse]] ... }`.
    fn track_script_lines(&mut self, st: &Stmt) -> Vec<TrackScript> {
        let mut out = Vec::new();
        for line in self.block(st) {
            let Some((weight, reverse)) = self.track_weight(line, true) else {
                continue;
            };
            out.push(TrackScript {
                name: line.keyword.text.clone(),
                weight,
                reverse,
            });
        }
        out
    }

    /// The `weight N [reverse]` after a tracked name (-253 to 253, as keepalived takes
    /// it); `noreverse` too where keepalived takes it (track_script).
    fn track_weight(
        &mut self,
        line: &Stmt,
        noreverse: bool,
    ) -> Option<(Option<i32>, Option<bool>)> {
        match line.args.as_slice() {
            [] => Some((None, None)),
            [w, n, rest @ ..] if w.text == "weight" => {
                let weight = self.int(line, n, -253, 253)? as i32;
                let reverse = match rest {
                    [] => None,
                    [r] if r.text == "reverse" => Some(true),
                    [r] if noreverse && r.text == "noreverse" => Some(false),
                    [r, ..] => {
                        let message = format!(
                            "{}: \"{}\" is not reverse{}",
                            line.keyword.text,
                            r.text,
                            if noreverse { " or noreverse" } else { "" }
                        );
                        self.error(r, message);
                        return None;
                    }
                };
                Some((Some(weight), reverse))
            }
            [w, ..] => {
                let message = format!(
                    "{}: expected \"weight N\" after the name",
                    line.keyword.text
                );
                self.error(w, message);
                None
            }
        }
    }

    fn authentication(&mut self, s: &Stmt) -> Option<Authentication> {
        const BLOCK: &str = "vrrp_instance/authentication";
        let mut kind = None;
        let mut pass = None;
        let mut kept = Vec::new();
        for st in self.block(s) {
            match st.keyword.text.as_str() {
                "auth_type" => match self.one(st, "PASS or AH") {
                    Some(w) if w.text == "PASS" => kind = Some(AuthType::Pass),
                    Some(w) if w.text == "AH" => kind = Some(AuthType::Ah),
                    Some(w) => {
                        let msg = format!("auth_type: \"{}\" is not PASS or AH", w.text);
                        self.error(w, msg)
                    }
                    None => {}
                },
                "auth_pass" => pass = self.text(st, "a password"),
                _ => self.other(BLOCK, st, &mut kept),
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

    pub(super) fn sync_group(&mut self, s: &Stmt, at: Node) -> Option<SyncGroup> {
        let name = self.one(s, "a group name")?.text.clone();
        let mut g = SyncGroup::new(&name);
        for st in self.block(s) {
            self.seen(SYNC_GROUP, st);
            match st.keyword.text.as_str() {
                "group" => {
                    for m in self.block(st) {
                        self.item(at, "group", Some(g.members.len()), m);
                        g.members.push(m.keyword.text.clone());
                    }
                }
                "track_interface" => {
                    self.mark(at, SYNC_GROUP, st);
                    let tracked = self.track_interfaces(st, None);
                    g.track_interfaces.extend(tracked)
                }
                "track_script" => {
                    self.mark(at, SYNC_GROUP, st);
                    let tracked = self.track_script_lines(st);
                    g.track_scripts.extend(tracked)
                }
                "smtp_alert" => g.smtp_alert = Some(self.flag(st)),
                "global_tracking" => g.global_tracking = self.flag(st),
                "sync_group_tracking_weight" => g.sync_group_tracking_weight = self.flag(st),
                _ => self.other(SYNC_GROUP, st, &mut g.noted),
            }
        }
        Some(g)
    }

    /// `vrrp_script NAME { ... }`: keepalived's `script` is kept (noted); a native check
    /// in its place is lvsfw's (KEYWORDS.md).
    pub(super) fn vrrp_script(&mut self, s: &Stmt, at: Node) -> Option<VrrpScript> {
        let quiet = !acted("-", "vrrp_script");
        self.quietly(quiet, |r| r.vrrp_script_block(s, at))
    }

    fn vrrp_script_block(&mut self, s: &Stmt, at: Node) -> Option<VrrpScript> {
        let name = self.one(s, "a script name")?.text.clone();
        let mut script = VrrpScript::new(&name);
        let mut own_timeout = None;
        for st in self.block(s) {
            self.keyword(Some(at), SCRIPT, st);
            if let Some(kind) = CheckKind::from_keyword(&st.keyword.text) {
                if script.check.is_some() {
                    self.error(&st.keyword, "vrrp_script: holds one check");
                    continue;
                }
                let check_at = self.spans.child(at, "check", None, Some(&st.keyword.pos));
                let (mut checks, mut timings) = (Vec::new(), Vec::new());
                self.check(st, kind, check_at, (&mut checks, &mut timings));
                if let (Some(c), Some(timing)) = (checks.first().cloned(), timings.first().cloned())
                {
                    if checks.len() > 1 {
                        self.error(&st.keyword, "vrrp_script: holds one check (one host)");
                    }
                    for (given, keyword) in [
                        (timing.retry.is_some(), "retry"),
                        (timing.delay_before_retry.is_some(), "delay_before_retry"),
                        (timing.warmup.is_some(), "warmup"),
                        (c.delay_loop.is_some(), "delay_loop"),
                    ] {
                        if given {
                            self.error(&st.keyword, format!(
                                "{}: {keyword} is not for a check in a vrrp_script (its interval, rise and fall decide)",
                                st.keyword.text
                            ));
                        }
                    }
                    own_timeout = timing.connect_timeout;
                    script.check = Some(c);
                }
                continue;
            }
            match st.keyword.text.as_str() {
                "interval" => {
                    script.interval = self.seconds(st, 86400.0).unwrap_or(script.interval)
                }
                "timeout" => script.timeout = self.seconds(st, 86400.0),
                "weight" => match st.args.as_slice() {
                    [n] => script.weight = self.int(st, n, -253, 253).unwrap_or(0) as i32,
                    [n, r] if r.text == "reverse" => {
                        script.weight = self.int(st, n, -253, 253).unwrap_or(0) as i32;
                        script.reverse = true;
                    }
                    _ => self.error(
                        &st.keyword,
                        "weight: expected N [reverse], N from -253 to 253",
                    ),
                },
                "rise" => script.rise = self.number(st, 1, i32::MAX as u64).unwrap_or(1) as u32,
                "fall" => script.fall = self.number(st, 1, i32::MAX as u64).unwrap_or(1) as u32,
                "init_fail" => {
                    self.bare(st);
                    script.init_fail = true
                }
                _ => self.other(SCRIPT, st, &mut script.noted),
            }
        }
        // The check's own connect_timeout, else the script's timeout, else its interval.
        let timeout = own_timeout.or(script.timeout).unwrap_or(script.interval);
        if let Some(c) = &mut script.check {
            c.connect_timeout = timeout;
        }
        Some(script)
    }

    /// keepalived ignores a track_script naming no vrrp_script ("not found, ignoring"):
    /// so does lvsfw, with a note. Run once the whole file is read (a vrrp_script may come
    /// after the instance that tracks it).
    pub(super) fn track_scripts_exist(&mut self, k: &mut Keepalived) {
        let names: HashSet<String> = k.vrrp_scripts.iter().map(|s| s.name.clone()).collect();
        let shell: HashSet<String> = k
            .vrrp_scripts
            .iter()
            .filter(|s| s.check.is_none())
            .map(|s| s.name.clone())
            .collect();
        let mut gone = Vec::new();
        let lists = k
            .vrrp_instances
            .iter_mut()
            .map(|i| (i.name.clone(), &mut i.track_scripts))
            .chain(
                k.sync_groups
                    .iter_mut()
                    .map(|g| (g.name.clone(), &mut g.track_scripts)),
            );
        for (owner, list) in lists {
            for t in list.iter().filter(|t| shell.contains(&t.name)) {
                gone.push(format!(
                    "track_script: {owner}: vrrp_script \"{}\" runs keepalived's script, which the appliance does not run: the priority does not follow it (give the vrrp_script a native check)",
                    t.name
                ));
            }
            list.retain(|t| {
                let known = names.contains(&t.name);
                if !known {
                    gone.push(format!(
                        "track_script: {owner}: vrrp_script \"{}\" does not exist; ignored, as keepalived does",
                        t.name
                    ));
                }
                known
            });
        }
        self.notes.extend(gone);
    }
}
