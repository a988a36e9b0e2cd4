//! The keepalived model back to keepalived.conf text, so that nobody is locked in.
//!
//! Normalized: one layout (4-space indents, blocks in model order), keepalived 2.x
//! keyword names (`retry`, not `nb_get_retry`), a setting written when it differs from
//! keepalived's default, and always the few that say what a block is (an instance's
//! state, interface, router id, priority and interval; a virtual server's delay_loop,
//! scheduler, method and protocol; a real server's weight; a check's timing). Reading the
//! text back gives the same model.

use std::fmt::Write;
use std::net::IpAddr;
use std::time::Duration;

use super::model::*;

/// keepalived.conf text for `k`.
pub fn to_keepalived_conf(k: &Keepalived) -> String {
    let mut out = Out::default();
    out.line("! keepalived.conf written by lvsfw (normalized)");
    global_defs(&mut out, &k.global);
    for i in &k.vrrp_instances {
        vrrp_instance(&mut out, i);
    }
    for g in &k.sync_groups {
        out.blank();
        out.open(format!("vrrp_sync_group {}", word(&g.name)));
        out.open("group");
        for m in &g.members {
            out.line(word(m));
        }
        out.close();
        notify(&mut out, &g.notify);
        out.close();
    }
    for g in &k.virtual_server_groups {
        out.blank();
        out.open(format!("virtual_server_group {}", word(&g.name)));
        for e in &g.entries {
            out.line(group_entry(e));
        }
        out.close();
    }
    for vs in &k.virtual_servers {
        virtual_server(&mut out, vs);
    }
    out.text
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
    if let Some(id) = &g.router_id {
        out.kv("router_id", word(id));
    }
    if g.vrrp_version != defaults::VRRP_VERSION {
        out.kv("vrrp_version", g.vrrp_version);
    }
    if g.garp_master_delay != defaults::GARP_MASTER_DELAY {
        out.kv("vrrp_garp_master_delay", secs(g.garp_master_delay));
    }
    if g.garp_master_repeat != defaults::GARP_MASTER_REPEAT {
        out.kv("vrrp_garp_master_repeat", g.garp_master_repeat);
    }
    out.opt("vrrp_garp_master_refresh", &g.garp_master_refresh.map(secs));
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
    out.close();
}

fn vrrp_instance(out: &mut Out, i: &VrrpInstance) {
    out.blank();
    out.open(format!("vrrp_instance {}", word(&i.name)));
    out.kv("state", i.state.keyword());
    out.kv("interface", word(&i.interface));
    out.kv("virtual_router_id", i.vrid);
    out.kv("priority", i.priority);
    out.kv("advert_int", secs(i.advert_int));
    out.opt("version", &i.version);
    if let Some(auth) = &i.auth {
        out.open("authentication");
        out.kv("auth_type", auth.auth_type.keyword());
        out.kv("auth_pass", word(&auth.auth_pass));
        out.close();
    }
    vips(out, "virtual_ipaddress", &i.vips);
    vips(out, "virtual_ipaddress_excluded", &i.excluded_vips);
    out.flag("nopreempt", i.nopreempt);
    if i.preempt_delay != Duration::ZERO {
        out.kv("preempt_delay", secs(i.preempt_delay));
    }
    if !i.track_interfaces.is_empty() {
        out.open("track_interface");
        for t in &i.track_interfaces {
            out.line(word(t));
        }
        out.close();
    }
    out.opt("unicast_src_ip", &i.unicast_src_ip);
    if !i.unicast_peers.is_empty() {
        out.open("unicast_peer");
        for p in &i.unicast_peers {
            out.line(p.to_string());
        }
        out.close();
    }
    out.opt("garp_master_delay", &i.garp_master_delay.map(secs));
    out.opt("garp_master_repeat", &i.garp_master_repeat);
    out.opt("garp_master_refresh", &i.garp_master_refresh.map(secs));
    match i.accept {
        Some(true) => out.line("accept"),
        Some(false) => out.line("no_accept"),
        None => {}
    }
    match i.strict_mode {
        Some(true) => out.line("strict_mode"),
        Some(false) => out.line("strict_mode off"),
        None => {}
    }
    notify(out, &i.notify);
    out.close();
}

fn vips(out: &mut Out, keyword: &str, vips: &[Vip]) {
    if vips.is_empty() {
        return;
    }
    out.open(keyword);
    for v in vips {
        let host = if v.address.addr.is_ipv4() { 32 } else { 128 };
        let mut line = if v.address.len == host {
            v.address.addr.to_string()
        } else {
            v.address.to_string()
        };
        if let Some(brd) = v.brd {
            let _ = write!(line, " brd {brd}");
        }
        for (option, value) in [("dev", &v.dev), ("label", &v.label), ("scope", &v.scope)] {
            if let Some(value) = value {
                let _ = write!(line, " {option} {}", word(value));
            }
        }
        out.line(line);
    }
    out.close();
}

fn notify(out: &mut Out, scripts: &[NotifyScript]) {
    for n in scripts {
        out.kv(n.event.keyword(), word(&n.command));
    }
}

fn group_entry(e: &GroupEntry) -> String {
    match e {
        GroupEntry::Fwmark(mark) => format!("fwmark {mark}"),
        GroupEntry::Range { first, last, port } if first == last => format!("{first} {port}"),
        GroupEntry::Range { first, last, port } => match last {
            IpAddr::V4(l) => format!("{first}-{} {port}", l.octets()[3]),
            IpAddr::V6(l) => format!("{first}-{:x} {port}", l.segments()[7]),
        },
    }
}

fn virtual_server(out: &mut Out, vs: &VirtualServer) {
    out.blank();
    let head = match &vs.key {
        VsKey::Addr { ip, port } => format!("virtual_server {ip} {port}"),
        VsKey::Fwmark(mark) => format!("virtual_server fwmark {mark}"),
        VsKey::Group(name) => format!("virtual_server group {}", word(name)),
    };
    out.open(head);
    out.kv("delay_loop", secs(vs.delay_loop));
    out.kv("lb_algo", word(&vs.lb_algo));
    out.kv("lb_kind", vs.lb_kind.keyword());
    out.kv("protocol", vs.protocol.keyword());
    out.opt("persistence_timeout", &vs.persistence_timeout);
    if let Some(g) = vs.persistence_granularity {
        let v6 = matches!(
            vs.key,
            VsKey::Addr {
                ip: IpAddr::V6(_),
                ..
            }
        );
        if v6 || g > 32 {
            out.kv("persistence_granularity", g);
        } else {
            // keepalived takes an IPv4 granularity as a netmask.
            let mask = u32::MAX.checked_shl(32 - u32::from(g)).unwrap_or(0);
            out.kv("persistence_granularity", std::net::Ipv4Addr::from(mask));
        }
    }
    if let Some((ip, port)) = vs.sorry_server {
        out.line(format!("sorry_server {ip} {port}"));
    }
    if vs.quorum != defaults::QUORUM {
        out.kv("quorum", vs.quorum);
    }
    if vs.hysteresis != 0 {
        out.kv("hysteresis", vs.hysteresis);
    }
    out.flag("alpha", vs.alpha);
    out.flag("omega", vs.omega);
    out.flag("inhibit_on_failure", vs.inhibit_on_failure);
    out.flag("ha_suspend", vs.ha_suspend);
    if let Some(host) = &vs.virtualhost {
        out.kv("virtualhost", word(host));
    }
    for rs in &vs.real_servers {
        out.blank();
        out.open(format!("real_server {} {}", rs.ip, rs.port));
        out.kv("weight", rs.weight);
        match rs.inhibit_on_failure {
            Some(true) => out.line("inhibit_on_failure"),
            Some(false) => out.line("inhibit_on_failure off"),
            None => {}
        }
        for c in &rs.checks {
            check(out, c);
        }
        out.close();
    }
    out.close();
}

fn check(out: &mut Out, c: &Check) {
    out.open(c.kind.keyword());
    for u in &c.urls {
        out.open("url");
        out.kv("path", word(&u.path));
        out.opt("status_code", &u.status_code);
        if let Some(d) = &u.digest {
            out.kv("digest", crate::units::hex(d));
        }
        out.close();
    }
    out.opt("connect_ip", &c.connect_ip);
    out.opt("connect_port", &c.connect_port);
    out.opt("bindto", &c.bindto);
    out.kv("connect_timeout", secs(c.connect_timeout));
    out.kv("retry", c.retry);
    out.kv("delay_before_retry", secs(c.delay_before_retry));
    out.opt("warmup", &c.warmup.map(secs));
    if let Some(host) = &c.virtualhost {
        out.kv("virtualhost", word(host));
    }
    out.opt("delay_loop", &c.delay_loop.map(secs));
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
