//! VRRP instances, sync groups, vrrp_scripts, addresses, routes and rules back to text.

use std::fmt::Write;
use std::time::Duration;

use super::{kept, lvs, secs, word, Out};
use crate::keepalived::model::*;

pub(super) fn vrrp_instance(out: &mut Out, i: &VrrpInstance) {
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
    track_interfaces(out, &i.track_interfaces);
    track_scripts(out, &i.track_scripts);
    out.opt("unicast_src_ip", &i.unicast_src_ip);
    if !i.unicast_peers.is_empty() {
        out.open("unicast_peer");
        for p in &i.unicast_peers {
            out.line(p.to_string());
        }
        out.close();
    }
    out.opt_secs("garp_master_delay", i.garp_master_delay);
    out.opt("garp_master_repeat", &i.garp_master_repeat);
    out.opt_secs("garp_master_refresh", i.garp_master_refresh);
    match i.accept {
        Some(true) => out.line("accept"),
        Some(false) => out.line("no_accept"),
        None => {}
    }
    out.opt_flag("strict_mode", i.strict_mode);
    if let Some(v) = &i.use_vmac {
        let mut line = String::from("use_vmac");
        for part in [&v.name, &v.mac].into_iter().flatten() {
            line.push(' ');
            line.push_str(&word(part));
        }
        out.line(line);
    }
    out.flag("use_vmac_addr", i.use_vmac_addr);
    out.flag("vmac_xmit_base", i.vmac_xmit_base);
    out.opt("mcast_src_ip", &i.mcast_src_ip);
    out.opt("mcast_dst_ip", &i.mcast_dst_ip);
    out.opt("unicast_ttl", &i.unicast_ttl);
    out.opt_flag("check_unicast_src", i.check_unicast_src);
    out.flag("unicast_fault_no_peer", i.unicast_fault_no_peer);
    out.flag("dont_track_primary", i.dont_track_primary);
    routes(out, "virtual_routes", &i.virtual_routes);
    rules(out, "virtual_rules", &i.virtual_rules);
    out.opt_flag("smtp_alert", i.smtp_alert);
    out.opt("garp_master_refresh_repeat", &i.garp_master_refresh_repeat);
    out.opt_secs("garp_lower_prio_delay", i.garp_lower_prio_delay);
    out.opt("garp_lower_prio_repeat", &i.garp_lower_prio_repeat);
    out.opt_flag("lower_prio_no_advert", i.lower_prio_no_advert);
    out.opt_flag("higher_prio_send_advert", i.higher_prio_send_advert);
    out.opt_flag("skip_check_adv_addr", i.skip_check_adv_addr);
    out.opt_flag("owner_ignore_adverts", i.owner_ignore_adverts);
    out.opt_flag("v3_checksum_as_v2", i.v3_checksum_as_v2);
    out.flag("no_virtual_ipaddress", i.no_virtual_ipaddress);
    out.flag("native_ipv6", i.native_ipv6);
    out.flag("track_src_ip", i.track_src_ip);
    out.flag("promote_secondaries", i.promote_secondaries);
    out.opt("down_timer_adverts", &i.down_timer_adverts);
    kept(out, &i.noted);
    out.close();
}

pub(super) fn sync_group(out: &mut Out, g: &SyncGroup) {
    out.blank();
    out.open(format!("vrrp_sync_group {}", word(&g.name)));
    out.open("group");
    for m in &g.members {
        out.line(word(m));
    }
    out.close();
    track_interfaces(out, &g.track_interfaces);
    track_scripts(out, &g.track_scripts);
    out.opt_flag("smtp_alert", g.smtp_alert);
    out.flag("global_tracking", g.global_tracking);
    out.flag("sync_group_tracking_weight", g.sync_group_tracking_weight);
    kept(out, &g.noted);
    out.close();
}

pub(super) fn vrrp_script(out: &mut Out, s: &VrrpScript) {
    out.blank();
    out.open(format!("vrrp_script {}", word(&s.name)));
    if let Some(c) = &s.check {
        lvs::check(out, c, true);
    }
    kept(out, &s.noted);
    out.kv("interval", secs(s.interval));
    out.opt_secs("timeout", s.timeout);
    if s.weight != 0 || s.reverse {
        let reverse = if s.reverse { " reverse" } else { "" };
        out.line(format!("weight {}{reverse}", s.weight));
    }
    if s.rise != 1 {
        out.kv("rise", s.rise);
    }
    if s.fall != 1 {
        out.kv("fall", s.fall);
    }
    out.flag("init_fail", s.init_fail);
    out.close();
}

fn weight(line: &mut String, weight: Option<i32>, reverse: Option<bool>) {
    if let Some(w) = weight {
        let _ = write!(line, " weight {w}");
        match reverse {
            Some(true) => line.push_str(" reverse"),
            Some(false) => line.push_str(" noreverse"),
            None => {}
        }
    }
}

fn track_interfaces(out: &mut Out, list: &[TrackInterface]) {
    if list.is_empty() {
        return;
    }
    out.open("track_interface");
    for t in list {
        let mut line = word(&t.name);
        weight(&mut line, t.weight, t.reverse.then_some(true));
        out.line(line);
    }
    out.close();
}

fn track_scripts(out: &mut Out, list: &[TrackScript]) {
    if list.is_empty() {
        return;
    }
    out.open("track_script");
    for t in list {
        let mut line = word(&t.name);
        weight(&mut line, t.weight, t.reverse);
        out.line(line);
    }
    out.close();
}

pub(super) fn vips(out: &mut Out, keyword: &str, vips: &[Vip]) {
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

pub(super) fn routes(out: &mut Out, keyword: &str, routes: &[IpRoute]) {
    if routes.is_empty() {
        return;
    }
    out.open(keyword);
    for r in routes {
        out.line(route_line(r));
    }
    out.close();
}

/// One `static_routes` / `virtual_routes` line as keepalived.conf has it: also how logs
/// and reports name a route.
pub fn route_line(r: &IpRoute) -> String {
    let mut line = String::new();
    if let Some(kind) = &r.kind {
        let _ = write!(line, "{} ", word(kind));
    }
    if let Some(src) = r.src {
        let _ = write!(line, "src {src} ");
    }
    let _ = write!(line, "{}", r.to);
    if let Some(via) = r.via {
        let _ = write!(line, " via {via}");
    }
    for (option, value) in [
        ("dev", &r.dev),
        ("table", &r.table),
        ("scope", &r.scope),
        ("protocol", &r.protocol),
    ] {
        if let Some(v) = value {
            let _ = write!(line, " {option} {}", word(v));
        }
    }
    if let Some(m) = r.metric {
        let _ = write!(line, " metric {m}");
    }
    if r.onlink {
        line.push_str(" onlink");
    }
    if r.no_track {
        line.push_str(" no_track");
    }
    for o in &r.options {
        let _ = write!(line, " {}", word(o));
    }
    line
}

pub(super) fn rules(out: &mut Out, keyword: &str, rules: &[IpRule]) {
    if rules.is_empty() {
        return;
    }
    out.open(keyword);
    for r in rules {
        out.line(rule_line(r));
    }
    out.close();
}

/// One `static_rules` / `virtual_rules` line as keepalived.conf has it.
pub fn rule_line(r: &IpRule) -> String {
    let mut words: Vec<String> = Vec::new();
    for (option, value) in [("from", r.from), ("to", r.to)] {
        if let Some(p) = value {
            words.push(format!("{option} {p}"));
        }
    }
    for (option, value) in [
        ("table", &r.table),
        ("fwmark", &r.fwmark),
        ("iif", &r.iif),
        ("oif", &r.oif),
    ] {
        if let Some(v) = value {
            words.push(format!("{option} {}", word(v)));
        }
    }
    if let Some(p) = r.priority {
        words.push(format!("priority {p}"));
    }
    if r.no_track {
        words.push("no_track".into());
    }
    words.extend(r.options.iter().map(|o| word(o)));
    words.join(" ")
}
