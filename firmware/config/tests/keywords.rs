//! Every keyword issue 3 lists, read into the model: one table row each.

mod common;

use common::*;
use config::keepalived::*;

type Field = fn(&Keepalived) -> String;

fn vrrp(k: &Keepalived) -> &VrrpInstance {
    &k.vrrp_instances[0]
}
fn vs(k: &Keepalived) -> &VirtualServer {
    &k.virtual_servers[0]
}
fn rs(k: &Keepalived) -> &RealServer {
    &vs(k).real_servers[0]
}
fn chk(k: &Keepalived) -> &Check {
    &rs(k).checks[0]
}

fn global(body: &str) -> String {
    format!("global_defs {{\n{body}\n}}\n")
}

/// (keyword, configuration, what the model holds, as Debug text)
fn cases() -> Vec<(&'static str, String, Field, &'static str)> {
    vec![
        // global_defs
        ("router_id", global("router_id lb1"), |k| format!("{:?}", k.global.router_id), "Some(\"lb1\")"),
        ("vrrp_version", global("vrrp_version 3"), |k| format!("{}", k.global.vrrp_version), "3"),
        ("vrrp_garp_master_delay", global("vrrp_garp_master_delay 10"), |k| format!("{:?}", k.global.garp_master_delay), "10s"),
        ("vrrp_garp_master_repeat", global("vrrp_garp_master_repeat 3"), |k| format!("{}", k.global.garp_master_repeat), "3"),
        ("vrrp_garp_master_refresh", global("vrrp_garp_master_refresh 60"), |k| format!("{:?}", k.global.garp_master_refresh), "Some(60s)"),
        ("vrrp_skip_check_adv_addr", global("vrrp_skip_check_adv_addr"), |k| format!("{}", k.global.skip_check_adv_addr), "true"),
        ("vrrp_strict", global("vrrp_strict"), |k| format!("{}", k.global.strict), "true"),
        ("lvs_sync_daemon", global("lvs_sync_daemon int V id 5") + &instance(""), |k| format!("{:?}", k.global.lvs_sync_daemon), "Some(LvsSyncDaemon { interface: \"int\", vrrp_instance: \"V\", id: Some(5) })"),
        ("enable_script_security", global("enable_script_security"), |k| format!("{:?}", k.global.noted.iter().map(|n| &n.keyword).collect::<Vec<_>>()), "[\"enable_script_security\"]"),
        ("notification_email", global("notification_email {\n a@b.c\n}\nnotification_email_from x@y.z"), |k| format!("{:?} {:?}", k.global.notification_email, k.global.notification_email_from), "[\"a@b.c\"] Some(\"x@y.z\")"),
        // vrrp_instance
        ("state", instance("state MASTER"), |k| format!("{:?}", vrrp(k).state), "Master"),
        ("interface", instance(""), |k| vrrp(k).interface.clone(), "ext"),
        ("virtual_router_id", instance(""), |k| format!("{}", vrrp(k).vrid), "1"),
        ("priority", instance("priority 150"), |k| format!("{}", vrrp(k).priority), "150"),
        ("advert_int", instance("advert_int 2"), |k| format!("{:?}", vrrp(k).advert_int), "2s"),
        ("version", instance("version 3\nadvert_int 0.5"), |k| format!("{:?} {:?}", vrrp(k).version, vrrp(k).advert_int), "Some(3) 500ms"),
        ("authentication PASS", instance("authentication {\n auth_type PASS\n auth_pass secret\n}"), |k| format!("{:?}", vrrp(k).auth), "Some(Authentication { auth_type: Pass, auth_pass: \"secret\" })"),
        ("authentication AH", instance("authentication {\n auth_type AH\n auth_pass 123456789\n}"), |k| format!("{:?}", vrrp(k).auth), "Some(Authentication { auth_type: Ah, auth_pass: \"12345678\" })"),
        ("virtual_ipaddress", instance("virtual_ipaddress {\n 192.168.0.100/24 brd 192.168.0.255 dev ext label ext:1 scope global\n 192.168.0.101\n}"), |k| format!("{:?}", vrrp(k).vips), "[Vip { address: IpPrefix { addr: 192.168.0.100, len: 24 }, brd: Some(192.168.0.255), dev: Some(\"ext\"), label: Some(\"ext:1\"), scope: Some(\"global\") }, Vip { address: IpPrefix { addr: 192.168.0.101, len: 32 }, brd: None, dev: None, label: None, scope: None }]"),
        ("virtual_ipaddress_excluded", instance("virtual_ipaddress_excluded {\n fd00::1/64\n}"), |k| format!("{}", vrrp(k).excluded_vips[0].address), "fd00::1/64"),
        ("nopreempt", instance("nopreempt"), |k| format!("{}", vrrp(k).nopreempt), "true"),
        ("preempt_delay", instance("preempt_delay 30"), |k| format!("{:?}", vrrp(k).preempt_delay), "30s"),
        ("track_interface", instance("track_interface {\n ext\n int\n}"), |k| format!("{:?}", vrrp(k).track_interfaces.iter().map(|t| &t.name).collect::<Vec<_>>()), "[\"ext\", \"int\"]"),
        ("unicast_src_ip", instance("unicast_src_ip 192.168.0.101"), |k| format!("{:?}", vrrp(k).unicast_src_ip), "Some(192.168.0.101)"),
        ("unicast_peer", instance("unicast_peer {\n 192.168.0.102\n 192.168.0.103\n}"), |k| format!("{:?}", vrrp(k).unicast_peers), "[192.168.0.102, 192.168.0.103]"),
        ("garp_master_delay", instance("garp_master_delay 2"), |k| format!("{:?}", vrrp(k).garp_master_delay), "Some(2s)"),
        ("garp_master_repeat", instance("garp_master_repeat 8"), |k| format!("{:?}", vrrp(k).garp_master_repeat), "Some(8)"),
        ("garp_master_refresh", instance("garp_master_refresh 30"), |k| format!("{:?}", vrrp(k).garp_master_refresh), "Some(30s)"),
        ("accept", instance("accept"), |k| format!("{:?}", vrrp(k).accept), "Some(true)"),
        ("no_accept", instance("no_accept"), |k| format!("{:?}", vrrp(k).accept), "Some(false)"),
        ("strict_mode", instance("strict_mode"), |k| format!("{:?}", vrrp(k).strict_mode), "Some(true)"),
        ("strict_mode off", instance("strict_mode off"), |k| format!("{:?}", vrrp(k).strict_mode), "Some(false)"),
        ("notify*", instance("notify /bin/n\nnotify_master \"/bin/m arg\"\nnotify_backup /bin/b x\nnotify_fault /bin/f\nnotify_stop /bin/s"), |k| vrrp(k).noted.iter().map(|n| format!("{}={}", n.keyword, n.args.join("|"))).collect::<Vec<_>>().join(","), "notify=/bin/n,notify_master=/bin/m arg,notify_backup=/bin/b|x,notify_fault=/bin/f,notify_stop=/bin/s"),
        // vrrp_sync_group
        ("vrrp_sync_group", instance("") + "vrrp_sync_group G {\n group {\n  V\n }\n notify_master /x\n}\n", |k| format!("{} {:?} {}", k.sync_groups[0].name, k.sync_groups[0].members, k.sync_groups[0].noted.len()), "G [\"V\"] 1"),
        // virtual_server
        ("virtual_server IP PORT", virtual_server(""), |k| format!("{:?}", vs(k).key), "Addr { ip: 10.0.0.1, port: 80 }"),
        ("virtual_server fwmark", "virtual_server fwmark 9 {\n}\n".into(), |k| format!("{:?}", vs(k).key), "Fwmark(9)"),
        ("virtual_server group", "virtual_server_group web {\n 192.168.1.10-20 80\n 10.0.0.5 443\n fd00::1-1f 80\n fwmark 7\n}\nvirtual_server group web {\n protocol TCP\n}\n".into(), |k| format!("{:?} {:?}", vs(k).key, k.virtual_server_groups[0].entries), "Group(\"web\") [Range { first: 192.168.1.10, last: 192.168.1.20, port: 80 }, Range { first: 10.0.0.5, last: 10.0.0.5, port: 443 }, Range { first: fd00::1, last: fd00::1f, port: 80 }, Fwmark(7)]"),
        ("delay_loop", virtual_server("delay_loop 6"), |k| format!("{:?}", vs(k).delay_loop), "6s"),
        ("lb_algo", virtual_server("lb_algo rr"), |k| vs(k).lb_algo.clone(), "rr"),
        ("lvs_sched", virtual_server("lvs_sched mh"), |k| vs(k).lb_algo.clone(), "mh"),
        ("lb_kind", virtual_server("lb_kind DR"), |k| format!("{:?}", vs(k).lb_kind), "Dr"),
        ("lvs_method", virtual_server("lvs_method TUN"), |k| format!("{:?}", vs(k).lb_kind), "Tun"),
        ("lb_kind TUN type gue", virtual_server("lb_kind TUN type gue port 6080 remcsum"), |k| format!("{:?}", vs(k).tunnel), "Some(Tunnel { kind: Gue, port: Some(6080), csum: Remcsum })"),
        ("real_server lvs_method TUN type gre", virtual_server("real_server 10.0.1.1 80 {\n lvs_method TUN type gre csum\n}"), |k| format!("{:?}", vs(k).real_servers[0].tunnel), "Some(Tunnel { kind: Gre, port: None, csum: Csum })"),
        ("protocol", "virtual_server 10.0.0.1 53 {\n protocol SCTP\n}\n".into(), |k| format!("{:?}", vs(k).protocol), "Sctp"),
        ("persistence_timeout", virtual_server("persistence_timeout 600"), |k| format!("{:?}", vs(k).persistence_timeout), "Some(600)"),
        ("persistence_granularity", virtual_server("persistence_timeout\npersistence_granularity 255.255.255.0"), |k| format!("{:?}", vs(k).persistence_granularity), "Some(24)"),
        ("sorry_server", virtual_server("sorry_server 10.0.9.9 8080"), |k| format!("{:?}", vs(k).sorry_server), "Some((10.0.9.9, 8080))"),
        ("quorum", virtual_server("quorum 3"), |k| format!("{}", vs(k).quorum), "3"),
        ("hysteresis", virtual_server("hysteresis 1"), |k| format!("{}", vs(k).hysteresis), "1"),
        ("alpha", virtual_server("alpha"), |k| format!("{}", vs(k).alpha), "true"),
        ("omega", virtual_server("omega"), |k| format!("{}", vs(k).omega), "true"),
        ("inhibit_on_failure (virtual_server)", virtual_server("inhibit_on_failure"), |k| format!("{}", vs(k).inhibit_on_failure), "true"),
        ("ha_suspend", virtual_server("ha_suspend"), |k| format!("{}", vs(k).ha_suspend), "true"),
        ("virtualhost (virtual_server)", virtual_server("virtualhost www.example.com"), |k| format!("{:?}", vs(k).virtualhost), "Some(\"www.example.com\")"),
        // real_server
        ("real_server", real_server(""), |k| format!("{} {}", rs(k).ip, rs(k).port), "10.0.1.1 80"),
        ("weight", real_server("weight 5"), |k| format!("{}", rs(k).weight), "5"),
        ("inhibit_on_failure (real_server)", real_server("inhibit_on_failure"), |k| format!("{:?}", rs(k).inhibit_on_failure), "Some(true)"),
        ("inhibit_on_failure off", real_server("inhibit_on_failure off"), |k| format!("{:?}", rs(k).inhibit_on_failure), "Some(false)"),
        // checks
        ("HTTP_GET", check("HTTP_GET", ""), |k| format!("{:?}", chk(k).kind), "HttpGet"),
        ("SSL_GET", check("SSL_GET", ""), |k| format!("{:?}", chk(k).kind), "SslGet"),
        ("TCP_CHECK", check("TCP_CHECK", ""), |k| format!("{:?}", chk(k).kind), "Tcp"),
        ("url path status_code digest", real_server("  HTTP_GET {\n   url {\n    path /health\n    status_code 204\n    digest 9b3a0c85a887a256d6939da88aabd8cd\n   }\n  }"), |k| format!("{} {:?} {:?}", chk(k).urls[0].path, chk(k).urls[0].status_code, chk(k).urls[0].digest), "/health Some(StatusCodes([(204, 204)])) Some([155, 58, 12, 133, 168, 135, 162, 86, 214, 147, 157, 168, 138, 171, 216, 205])"),
        ("connect_ip", check("HTTP_GET", "connect_ip 10.0.1.2"), |k| format!("{:?}", chk(k).connect_ip), "Some(10.0.1.2)"),
        ("connect_port", check("TCP_CHECK", "connect_port 8080"), |k| format!("{:?}", chk(k).connect_port), "Some(8080)"),
        ("bindto", check("SSL_GET", "bindto 10.0.1.254"), |k| format!("{:?}", chk(k).bindto), "Some(10.0.1.254)"),
        ("connect_timeout", check("TCP_CHECK", "connect_timeout 3"), |k| format!("{:?}", chk(k).connect_timeout), "3s"),
        ("retry", check("TCP_CHECK", "retry 4"), |k| format!("{}", chk(k).retry), "4"),
        ("nb_get_retry", check("HTTP_GET", "nb_get_retry 2"), |k| format!("{}", chk(k).retry), "2"),
        ("delay_before_retry", check("HTTP_GET", "delay_before_retry 0.5"), |k| format!("{:?}", chk(k).delay_before_retry), "Some(500ms)"),
        ("warmup", check("HTTP_GET", "warmup 10"), |k| format!("{:?}", chk(k).warmup), "Some(10s)"),
        ("virtualhost (check)", check("HTTP_GET", "virtualhost api.example.com"), |k| format!("{:?}", chk(k).virtualhost), "Some(\"api.example.com\")"),
        ("delay_loop (check)", check("TCP_CHECK", "delay_loop 2"), |k| format!("{:?}", chk(k).delay_loop), "Some(2s)"),
    ]
}

#[test]
fn every_listed_keyword_reads_into_the_model() {
    let mut failures = Vec::new();
    for (keyword, text, field, expected) in cases() {
        match config::keepalived::read_text(&text, "k.conf") {
            Ok(read) => {
                let got = field(&read.config);
                if got != expected {
                    failures.push(format!("{keyword}: got {got}, expected {expected}"));
                }
            }
            Err(issues) => failures.push(format!("{keyword}: {issues}")),
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn script_keywords_are_noted_once_each_with_what_to_use_instead() {
    let text =
        global("enable_script_security\nscript_user nobody\nscript_user root\nchecker_log_all_failures\nvrrp_version 2\nrouter_id x")
            + &instance("notify_master /m\nnotify_backup /b\nnotify_master /m2");
    let notes = read(&text).notes;
    assert_eq!(
        notes,
        vec![
            "k.conf:2:1: enable_script_security: accepted and kept for export, no effect here: the appliance runs no scripts (it has no shell)",
            "k.conf:3:1: script_user: accepted and kept for export, no effect here: the appliance runs no scripts (it has no shell)",
            "k.conf:5:1: checker_log_all_failures: read and kept, but the appliance does not act on it yet",
            "k.conf:12:1: notify_master: accepted and kept for export, no effect here: the appliance runs no scripts (it has no shell); state changes are on the status page, in syslog and mailed with smtp_alert",
            "k.conf:13:1: notify_backup: accepted and kept for export, no effect here: the appliance runs no scripts (it has no shell); state changes are on the status page, in syslog and mailed with smtp_alert",
        ]
    );
}

#[test]
fn switches_take_keepalived_s_optional_value() {
    for (value, expected) in [
        ("", true),
        (" on", true),
        (" yes", true),
        (" true", true),
        (" off", false),
        (" no", false),
        (" false", false),
    ] {
        let k = model(&virtual_server(&format!("alpha{value}")));
        assert_eq!(vs(&k).alpha, expected, "alpha{value}");
    }
}

#[test]
fn includes_bring_in_blocks_from_other_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("vs.d")).unwrap();
    std::fs::write(dir.path().join("vs.d/a.conf"), virtual_server("")).unwrap();
    std::fs::write(dir.path().join("main.conf"), "include vs.d/*.conf\n").unwrap();
    let read = config::keepalived::read_file(&dir.path().join("main.conf")).unwrap();
    assert_eq!(read.config.virtual_servers.len(), 1);
}
