//! `global_defs`.

use super::*;

const BLOCK: &str = "global_defs";

impl Reader {
    pub(super) fn global_defs(&mut self, s: &Stmt, at: Node, k: &mut Keepalived) {
        let g = &mut k.global;
        for st in self.block(s) {
            self.keyword(Some(at), BLOCK, st);
            match st.keyword.text.as_str() {
                "router_id" => g.router_id = self.text(st, "a name"),
                "vrrp_version" => g.vrrp_version = self.number(st, 2, 3).unwrap_or(2) as u8,
                "vrrp_garp_master_delay" => {
                    g.garp_master_delay = self.seconds(st, 86400.0).unwrap_or(g.garp_master_delay)
                }
                "vrrp_garp_master_repeat" => {
                    g.garp_master_repeat = self
                        .number(st, 1, 255)
                        .unwrap_or(defaults::GARP_MASTER_REPEAT.into())
                        as u32
                }
                "vrrp_garp_master_refresh" => g.garp_master_refresh = self.seconds(st, 86400.0),
                "vrrp_skip_check_adv_addr" => g.skip_check_adv_addr = self.flag(st),
                "vrrp_strict" => g.strict = self.flag(st),
                "lvs_sync_daemon" => g.lvs_sync_daemon = self.lvs_sync_daemon(st),
                "notification_email" => {
                    for line in self.block(st) {
                        g.notification_email.push(line.keyword.text.clone());
                        if let Some(extra) = line.args.first() {
                            self.error(extra, "notification_email: one address a line");
                        }
                    }
                }
                "notification_email_from" => {
                    g.notification_email_from = self.text(st, "an e-mail address")
                }
                "smtp_server" => g.smtp_server = self.smtp_server(st),
                "smtp_helo_name" => g.smtp_helo_name = self.text(st, "a host name"),
                "smtp_connect_timeout" => g.smtp_connect_timeout = self.seconds(st, 3600.0),
                "smtp_alert" => g.smtp_alert = Some(self.flag(st)),
                "smtp_alert_vrrp" => g.smtp_alert_vrrp = Some(self.flag(st)),
                "smtp_alert_checker" => g.smtp_alert_checker = Some(self.flag(st)),
                "no_email_faults" => g.no_email_faults = self.flag(st),
                "no_checker_emails" => g.no_checker_emails = self.flag(st),
                "max_auto_priority" => {
                    g.max_auto_priority = match st.args.as_slice() {
                        [] => Some(defaults::MAX_AUTO_PRIORITY),
                        [w] => self.int(st, w, -1, 99).map(|n| n as i32),
                        _ => self.one(st, "a priority from -1 to 99").and(None),
                    }
                }
                "min_auto_priority_delay" => {
                    g.min_auto_priority_delay = self.number(st, 1, 10_000_000).map(|n| n as u32)
                }
                "lvs_timeouts" => g.lvs_timeouts = self.lvs_timeouts(st),
                "vrrp_mcast_group4" => {
                    g.vrrp_mcast_group4 = self
                        .one(st, "an IPv4 multicast address")
                        .and_then(|w| self.parse(st, w, "an IPv4 multicast address"))
                }
                "vrrp_mcast_group6" => {
                    g.vrrp_mcast_group6 = self
                        .one(st, "an IPv6 multicast address")
                        .and_then(|w| self.parse(st, w, "an IPv6 multicast address"))
                }
                "vrrp_garp_master_refresh_repeat" => {
                    g.vrrp_garp_master_refresh_repeat = self.number(st, 1, 255).map(|n| n as u32)
                }
                "vrrp_garp_lower_prio_delay" => {
                    g.vrrp_garp_lower_prio_delay = self.seconds(st, 86400.0)
                }
                "vrrp_garp_lower_prio_repeat" => {
                    g.vrrp_garp_lower_prio_repeat = self.number(st, 1, 255).map(|n| n as u32)
                }
                "vrrp_garp_interval" => g.vrrp_garp_interval = self.seconds(st, 1.0),
                "vrrp_gna_interval" => g.vrrp_gna_interval = self.seconds(st, 1.0),
                "vrrp_min_garp" => g.vrrp_min_garp = self.flag(st),
                "vrrp_lower_prio_no_advert" => g.vrrp_lower_prio_no_advert = self.flag(st),
                "vrrp_higher_prio_send_advert" => g.vrrp_higher_prio_send_advert = self.flag(st),
                "vrrp_check_unicast_src" => g.vrrp_check_unicast_src = self.flag(st),
                "vrrp_startup_delay" => g.vrrp_startup_delay = self.seconds(st, 3600.0),
                "vrrp_delay_after_boot" => g.vrrp_delay_after_boot = self.seconds(st, 86400.0),
                "v3_checksum_as_v2" => g.v3_checksum_as_v2 = self.flag(st),
                "vrrp_owner_ignore_adverts" => g.vrrp_owner_ignore_adverts = self.flag(st),
                "checker_log_all_failures" => g.checker_log_all_failures = self.flag(st),
                "vrrp_down_timer_adverts" => {
                    g.vrrp_down_timer_adverts = self.number(st, 1, 100).map(|n| n as u32)
                }
                _ => self.other(BLOCK, st, &mut g.noted),
            }
        }
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

    /// `smtp_server HOST [PORT]`.
    fn smtp_server(&mut self, s: &Stmt) -> Option<SmtpServer> {
        match s.args.as_slice() {
            [host] => Some(SmtpServer {
                host: host.text.clone(),
                port: defaults::SMTP_PORT,
            }),
            [host, port] => Some(SmtpServer {
                host: host.text.clone(),
                port: self.port(s, port)?,
            }),
            _ => {
                self.error(&s.keyword, "smtp_server: expected HOST [PORT]");
                None
            }
        }
    }

    /// `lvs_timeouts [tcp N] [tcpfin N] [udp N]`, seconds up to 31 days (keepalived's
    /// LVS_MAX_TIMEOUT).
    fn lvs_timeouts(&mut self, s: &Stmt) -> Option<LvsTimeouts> {
        let mut t = LvsTimeouts::default();
        let mut words = s.args.iter();
        while let Some(name) = words.next() {
            let Some(value) = words.next() else {
                self.error(name, format!("lvs_timeouts: {} needs a value", name.text));
                return None;
            };
            let slot = match name.text.as_str() {
                "tcp" => &mut t.tcp,
                "tcpfin" => &mut t.tcpfin,
                "udp" => &mut t.udp,
                other => {
                    let message = format!("lvs_timeouts: \"{other}\" is not tcp, tcpfin or udp");
                    self.error(name, message);
                    return None;
                }
            };
            *slot = Some(self.int(s, value, 0, 86400 * 31)? as u32);
        }
        if t == LvsTimeouts::default() {
            self.error(
                &s.keyword,
                "lvs_timeouts: expected tcp N, tcpfin N or udp N",
            );
            return None;
        }
        Some(t)
    }
}
