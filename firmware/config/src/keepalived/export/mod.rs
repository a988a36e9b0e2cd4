//! The keepalived model back to keepalived.conf text, so that nobody is locked in.
//!
//! Normalized: one layout (4-space indents, blocks in model order), keepalived 2.x
//! keyword names (`retry`, not `nb_get_retry`), a setting written when it differs from
//! keepalived's default, and always the few that say what a block is (an instance's
//! state, interface, router id, priority and interval; a virtual server's delay_loop,
//! scheduler, method and protocol; a real server's weight; a check's timing). Reading the
//! text back gives the same model.

mod lvs;
mod vrrp;

pub use vrrp::{route_line, rule_line};

use std::fmt::Write;
use std::time::Duration;

use super::model::*;

/// keepalived.conf text for `k`.
pub fn to_keepalived_conf(k: &Keepalived) -> String {
    let mut out = Out::default();
    out.line("! keepalived.conf written by lvsfw (normalized)");
    global_defs(&mut out, &k.global);
    if !k.static_ipaddress.is_empty() {
        out.blank();
        vrrp::vips(&mut out, "static_ipaddress", &k.static_ipaddress);
    }
    vrrp::routes(&mut out, "static_routes", &k.static_routes);
    vrrp::rules(&mut out, "static_rules", &k.static_rules);
    for s in &k.vrrp_scripts {
        vrrp::vrrp_script(&mut out, s);
    }
    for i in &k.vrrp_instances {
        vrrp::vrrp_instance(&mut out, i);
    }
    for g in &k.sync_groups {
        vrrp::sync_group(&mut out, g);
    }
    for g in &k.virtual_server_groups {
        out.blank();
        out.open(format!("virtual_server_group {}", word(&g.name)));
        for e in &g.entries {
            out.line(lvs::group_entry(e));
        }
        out.close();
    }
    for vs in &k.virtual_servers {
        lvs::virtual_server(&mut out, vs);
    }
    if let Some(b) = &k.bgp {
        bgp(&mut out, b);
    }
    if !k.noted.is_empty() {
        out.blank();
        kept(&mut out, &k.noted);
    }
    out.text
}

/// lvsfw's `bgp` block: every setting that differs from its default.
fn bgp(out: &mut Out, b: &Bgp) {
    out.blank();
    out.open("bgp");
    out.kv("local_as", b.local_as);
    out.opt("router_id", &b.router_id);
    if b.graceful_shutdown_time != bgp_defaults::GRACEFUL_SHUTDOWN_TIME {
        out.kv("graceful_shutdown_time", secs(b.graceful_shutdown_time));
    }
    if b.quorum != bgp_defaults::QUORUM {
        out.kv("quorum", b.quorum);
    }
    out.flag("sloppy_tcp", b.sloppy_tcp);
    out.flag("sloppy_sctp", b.sloppy_sctp);
    if let Some(sync) = &b.lvs_sync_daemon {
        match sync.id {
            0 => out.kv("lvs_sync_daemon", &sync.interface),
            id => out.kv("lvs_sync_daemon", format!("{} id {id}", sync.interface)),
        }
    }
    for n in &b.neighbors {
        out.open(format!("neighbor {}", n.address));
        out.kv("remote_as", n.remote_as);
        if n.port != bgp_defaults::PORT {
            out.kv("port", n.port);
        }
        if n.hold_time != bgp_defaults::HOLD_TIME {
            out.kv("hold_time", n.hold_time);
        }
        out.opt("keepalive", &n.keepalive);
        out.opt_secs("connect_retry", n.connect_retry);
        out.opt("source_ip", &n.source_ip);
        out.opt("next_hop_v6", &n.next_hop_v6);
        if let Some(p) = &n.password {
            out.kv("password", word(p.reveal()));
        }
        if let Some(f) = &n.bfd {
            bgp_bfd(out, f);
        }
        out.close();
    }
    if !b.announce.is_empty() {
        out.open("announce");
        for p in &b.announce {
            out.line(p.to_string());
        }
        out.close();
    }
    out.close();
}

/// A neighbor's `bfd`: alone with keepalived's defaults, else a block of what differs.
fn bgp_bfd(out: &mut Out, f: &BgpBfd) {
    if *f == BgpBfd::default() {
        out.line("bfd");
        return;
    }
    out.open("bfd");
    let d = BgpBfd::default();
    for (key, value, default) in [
        ("min_rx", f.min_rx, d.min_rx),
        ("min_tx", f.min_tx, d.min_tx),
        ("idle_tx", f.idle_tx, d.idle_tx),
        ("multiplier", f.multiplier.into(), d.multiplier.into()),
    ] {
        if value != default {
            out.kv(key, value);
        }
    }
    if f.passive {
        out.line("passive");
    }
    out.close();
}

#[derive(Default)]
struct Out {
    text: String,
    depth: usize,
}

impl Out {
    fn line(&mut self, line: impl AsRef<str>) {
        for _ in 0..self.depth {
            self.text.push_str("    ");
        }
        self.text.push_str(line.as_ref());
        self.text.push('\n');
    }

    fn blank(&mut self) {
        self.text.push('\n');
    }

    fn open(&mut self, head: impl AsRef<str>) {
        self.line(format!("{} {{", head.as_ref()));
        self.depth += 1;
    }

    fn close(&mut self) {
        self.depth -= 1;
        self.line("}");
    }

    fn kv(&mut self, keyword: &str, value: impl std::fmt::Display) {
        self.line(format!("{keyword} {value}"));
    }

    fn opt<T: std::fmt::Display>(&mut self, keyword: &str, value: &Option<T>) {
        if let Some(v) = value {
            self.kv(keyword, v);
        }
    }

    fn flag(&mut self, keyword: &str, on: bool) {
        if on {
            self.line(keyword);
        }
    }

    /// A switch that is on, off or left to its default: `keyword`, `keyword off`, nothing.
    fn opt_flag(&mut self, keyword: &str, value: Option<bool>) {
        match value {
            Some(true) => self.line(keyword),
            Some(false) => self.line(format!("{keyword} off")),
            None => {}
        }
    }

    fn opt_secs(&mut self, keyword: &str, value: Option<Duration>) {
        if let Some(d) = value {
            self.kv(keyword, secs(d));
        }
    }

    fn opt_word(&mut self, keyword: &str, value: &Option<String>) {
        if let Some(v) = value {
            self.kv(keyword, word(v));
        }
    }
}

/// Noted statements, word for word.
fn kept(out: &mut Out, statements: &[Kept]) {
    for k in statements {
        let mut line = word(&k.keyword);
        for a in &k.args {
            line.push(' ');
            line.push_str(&word(a));
        }
        match &k.block {
            None => out.line(line),
            Some(inner) => {
                out.open(line);
                kept(out, inner);
                out.close();
            }
        }
    }
}

/// A word as keepalived's lexer reads it back: quoted when it is empty or holds a space,
/// a brace or a comment sign. (Validation refuses `"` and control characters.)
fn word(text: &str) -> String {
    let plain = !text.is_empty()
        && !text.starts_with('"')
        && !text
            .chars()
            .any(|c| c.is_whitespace() || "{}!#".contains(c));
    if plain {
        text.to_string()
    } else {
        format!("\"{text}\"")
    }
}

/// Seconds as keepalived writes them: `3`, `0.1`, `1.25`.
fn secs(d: Duration) -> String {
    let micros = d.as_micros();
    let whole = micros / 1_000_000;
    let fraction = micros % 1_000_000;
    if fraction == 0 {
        return whole.to_string();
    }
    let digits = format!("{fraction:06}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

fn global_defs(out: &mut Out, g: &GlobalDefs) {
    if *g == GlobalDefs::default() {
        return;
    }
    out.blank();
    out.open("global_defs");
    out.opt_word("router_id", &g.router_id);
    if g.vrrp_version != defaults::VRRP_VERSION {
        out.kv("vrrp_version", g.vrrp_version);
    }
    if g.garp_master_delay != defaults::GARP_MASTER_DELAY {
        out.kv("vrrp_garp_master_delay", secs(g.garp_master_delay));
    }
    if g.garp_master_repeat != defaults::GARP_MASTER_REPEAT {
        out.kv("vrrp_garp_master_repeat", g.garp_master_repeat);
    }
    out.opt_secs("vrrp_garp_master_refresh", g.garp_master_refresh);
    out.flag("vrrp_skip_check_adv_addr", g.skip_check_adv_addr);
    out.flag("vrrp_strict", g.strict);
    if let Some(s) = &g.lvs_sync_daemon {
        let mut line = format!(
            "lvs_sync_daemon {} {}",
            word(&s.interface),
            word(&s.vrrp_instance)
        );
        if let Some(id) = s.id {
            let _ = write!(line, " id {id}");
        }
        out.line(line);
    }
    if !g.notification_email.is_empty() {
        out.open("notification_email");
        for e in &g.notification_email {
            out.line(word(e));
        }
        out.close();
    }
    out.opt_word("notification_email_from", &g.notification_email_from);
    if let Some(s) = &g.smtp_server {
        out.line(format!("smtp_server {} {}", word(&s.host), s.port));
    }
    out.opt_word("smtp_helo_name", &g.smtp_helo_name);
    out.opt_secs("smtp_connect_timeout", g.smtp_connect_timeout);
    out.opt_flag("smtp_alert", g.smtp_alert);
    out.opt_flag("smtp_alert_vrrp", g.smtp_alert_vrrp);
    out.opt_flag("smtp_alert_checker", g.smtp_alert_checker);
    out.flag("no_email_faults", g.no_email_faults);
    out.flag("no_checker_emails", g.no_checker_emails);
    out.opt("max_auto_priority", &g.max_auto_priority);
    out.opt("min_auto_priority_delay", &g.min_auto_priority_delay);
    if let Some(t) = &g.lvs_timeouts {
        let mut line = String::from("lvs_timeouts");
        for (name, value) in [("tcp", t.tcp), ("tcpfin", t.tcpfin), ("udp", t.udp)] {
            if let Some(v) = value {
                let _ = write!(line, " {name} {v}");
            }
        }
        out.line(line);
    }
    out.opt("vrrp_mcast_group4", &g.vrrp_mcast_group4);
    out.opt("vrrp_mcast_group6", &g.vrrp_mcast_group6);
    out.opt(
        "vrrp_garp_master_refresh_repeat",
        &g.vrrp_garp_master_refresh_repeat,
    );
    out.opt_secs("vrrp_garp_lower_prio_delay", g.vrrp_garp_lower_prio_delay);
    out.opt(
        "vrrp_garp_lower_prio_repeat",
        &g.vrrp_garp_lower_prio_repeat,
    );
    out.opt_secs("vrrp_garp_interval", g.vrrp_garp_interval);
    out.opt_secs("vrrp_gna_interval", g.vrrp_gna_interval);
    out.flag("vrrp_min_garp", g.vrrp_min_garp);
    out.flag("vrrp_lower_prio_no_advert", g.vrrp_lower_prio_no_advert);
    out.flag(
        "vrrp_higher_prio_send_advert",
        g.vrrp_higher_prio_send_advert,
    );
    out.flag("vrrp_check_unicast_src", g.vrrp_check_unicast_src);
    out.opt_secs("vrrp_startup_delay", g.vrrp_startup_delay);
    out.opt_secs("vrrp_delay_after_boot", g.vrrp_delay_after_boot);
    out.flag("v3_checksum_as_v2", g.v3_checksum_as_v2);
    out.flag("vrrp_owner_ignore_adverts", g.vrrp_owner_ignore_adverts);
    out.flag("checker_log_all_failures", g.checker_log_all_failures);
    out.opt("vrrp_down_timer_adverts", &g.vrrp_down_timer_adverts);
    kept(out, &g.noted);
    out.close();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_written_as_keepalived_writes_them() {
        assert_eq!(secs(Duration::from_secs(3)), "3");
        assert_eq!(secs(Duration::from_millis(100)), "0.1");
        assert_eq!(secs(Duration::from_millis(1250)), "1.25");
        assert_eq!(secs(Duration::ZERO), "0");
    }

    #[test]
    fn words_are_quoted_only_when_needed() {
        assert_eq!(word("VI_1"), "VI_1");
        assert_eq!(word("/bin/x arg"), "\"/bin/x arg\"");
        assert_eq!(word(""), "\"\"");
        assert_eq!(word("a#b"), "\"a#b\"");
    }
}
