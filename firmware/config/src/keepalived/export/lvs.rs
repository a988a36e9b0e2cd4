//! Virtual servers, real servers and checks back to text.

use std::net::IpAddr;

use super::{kept, secs, word, Out};
use crate::keepalived::model::*;

pub(super) fn group_entry(e: &GroupEntry) -> String {
    match e {
        GroupEntry::Fwmark(mark) => format!("fwmark {mark}"),
        GroupEntry::Range { first, last, port } if first == last => format!("{first} {port}"),
        GroupEntry::Range { first, last, port } => match last {
            IpAddr::V4(l) => format!("{first}-{} {port}", l.octets()[3]),
            IpAddr::V6(l) => format!("{first}-{:x} {port}", l.segments()[7]),
        },
    }
}

fn check_defaults(out: &mut Out, d: &CheckDefaults) {
    out.opt_secs("connect_timeout", d.connect_timeout);
    out.opt("retry", &d.retry);
    out.opt_secs("delay_before_retry", d.delay_before_retry);
    out.opt_secs("warmup", d.warmup);
}

pub(super) fn virtual_server(out: &mut Out, vs: &VirtualServer) {
    out.blank();
    let head = match &vs.key {
        VsKey::Addr { ip, port } => format!("virtual_server {ip} {port}"),
        VsKey::Fwmark(mark) => format!("virtual_server fwmark {mark}"),
        VsKey::Group(name) => format!("virtual_server group {}", word(name)),
    };
    out.open(head);
    out.kv("delay_loop", secs(vs.delay_loop));
    out.kv("lb_algo", word(&vs.lb_algo));
    match vs.tunnel {
        Some(tunnel) => out.kv("lb_kind", format!("{} {tunnel}", vs.lb_kind.keyword())),
        None => out.kv("lb_kind", vs.lb_kind.keyword()),
    }
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
    out.opt_word("persistence_engine", &vs.persistence_engine);
    for (keyword, on) in vs.lvs_flags.keywords() {
        out.flag(keyword, on);
    }
    match vs.sorry_server {
        Some((ip, 0)) => out.line(format!("sorry_server {ip}")),
        Some((ip, port)) => out.line(format!("sorry_server {ip} {port}")),
        None => {}
    }
    out.flag("sorry_server_inhibit", vs.sorry_server_inhibit);
    if let Some(kind) = vs.sorry_server_lvs_method {
        out.kv("sorry_server_lvs_method", kind.keyword());
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
    out.opt_word("virtualhost", &vs.virtualhost);
    if let Some(f) = vs.ip_family {
        out.kv("ip_family", f.keyword());
    }
    out.opt_flag("smtp_alert", vs.smtp_alert);
    check_defaults(out, &vs.check_defaults);
    out.opt("weight", &vs.weight);
    kept(out, &vs.noted);
    for rs in &vs.real_servers {
        real_server(out, rs);
    }
    out.close();
}

fn real_server(out: &mut Out, rs: &RealServer) {
    out.blank();
    if rs.port == 0 {
        out.open(format!("real_server {}", rs.ip));
    } else {
        out.open(format!("real_server {} {}", rs.ip, rs.port));
    }
    out.kv("weight", rs.weight);
    out.opt_flag("inhibit_on_failure", rs.inhibit_on_failure);
    match (rs.lvs_method, rs.tunnel) {
        (Some(kind), Some(tunnel)) => out.kv("lvs_method", format!("{} {tunnel}", kind.keyword())),
        (Some(kind), None) => out.kv("lvs_method", kind.keyword()),
        (None, _) => {}
    }
    out.opt("uthreshold", &rs.uthreshold);
    out.opt("lthreshold", &rs.lthreshold);
    out.opt_flag("smtp_alert", rs.smtp_alert);
    out.opt_secs("delay_loop", rs.delay_loop);
    out.opt_flag("alpha", rs.alpha);
    out.opt_word("virtualhost", &rs.virtualhost);
    check_defaults(out, &rs.check_defaults);
    kept(out, &rs.noted);
    for c in &rs.checks {
        check(out, c, false);
    }
    out.close();
}

/// `in_script`: inside a vrrp_script, where retry is not written (interval, rise and
/// fall decide there).
pub(super) fn check(out: &mut Out, c: &Check, in_script: bool) {
    out.open(c.kind.keyword());
    for u in &c.urls {
        out.open("url");
        out.kv("path", word(&u.path));
        if let Some(codes) = &u.status_code {
            out.kv("status_code", codes);
        }
        if let Some(d) = &u.digest {
            out.kv("digest", crate::units::hex(d));
        }
        out.opt_word("virtualhost", &u.virtualhost);
        out.opt_word("regex", &u.regex);
        out.flag("regex_no_match", u.regex_no_match);
        if !u.regex_options.is_empty() {
            out.kv("regex_options", u.regex_options.join(" "));
        }
        out.opt("regex_min_offset", &u.regex_min_offset);
        out.opt("regex_max_offset", &u.regex_max_offset);
        out.flag("tls_compliant", u.tls_compliant);
        kept(out, &u.noted);
        out.close();
    }
    out.opt("connect_ip", &c.connect_ip);
    out.opt("connect_port", &c.connect_port);
    out.opt("bindto", &c.bindto);
    out.opt("bind_port", &c.bind_port);
    out.opt_word("bind_if", &c.bind_if);
    out.opt("fwmark", &c.fwmark);
    out.kv("connect_timeout", secs(c.connect_timeout));
    if !in_script {
        out.kv("retry", c.retry);
    }
    out.opt_secs("delay_before_retry", c.delay_before_retry);
    out.opt_secs("warmup", c.warmup);
    out.opt_secs("delay_loop", c.delay_loop);
    out.opt_flag("alpha", c.alpha);
    out.opt_flag("log_all_failures", c.log_all_failures);
    out.opt_word("virtualhost", &c.virtualhost);
    out.opt("http_protocol", &c.http_protocol);
    out.flag("enable_sni", c.enable_sni);
    out.opt_word("sni_name", &c.sni_name);
    out.flag("fast_recovery", c.fast_recovery);
    out.flag("tls_compliant", c.tls_compliant);
    if let Some(p) = &c.payload {
        out.kv("payload", p.as_str());
    }
    match &c.require_reply {
        Some(RequireReply { data: Some(d) }) => out.kv("require_reply", d.as_str()),
        Some(RequireReply { data: None }) => out.line("require_reply"),
        None => {}
    }
    out.opt("min_reply_length", &c.min_reply_length);
    out.opt("max_reply_length", &c.max_reply_length);
    out.opt("type", &c.dns_type);
    out.opt_word("name", &c.dns_name);
    out.opt_word("helo_name", &c.helo_name);
    kept(out, &c.noted);
    out.close();
}
