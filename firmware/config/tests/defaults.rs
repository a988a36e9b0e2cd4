//! keepalived's defaults, each where the model holds it, and the same defaults from JSON.

mod common;

use std::time::Duration;

use common::*;
use config::keepalived::*;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn global_defs_defaults() {
    let g = model("").global;
    assert_eq!(g.router_id, None);
    assert_eq!(g.vrrp_version, 2);
    assert_eq!(g.garp_master_delay, secs(5));
    assert_eq!(g.garp_master_repeat, 5);
    assert_eq!(g.garp_master_refresh, None);
    assert!(!g.skip_check_adv_addr);
    assert!(!g.strict);
    assert_eq!(g.lvs_sync_daemon, None);
}

#[test]
fn vrrp_instance_defaults() {
    let k = model(&instance(""));
    let i = &k.vrrp_instances[0];
    assert_eq!(i.state, InitialState::Backup);
    assert_eq!(i.priority, 100);
    assert_eq!(i.advert_int, secs(1));
    assert_eq!(i.version, None);
    assert_eq!(i.effective_version(&k.global), 2);
    assert_eq!(i.auth, None);
    assert!(i.vips.is_empty() && i.excluded_vips.is_empty());
    assert!(!i.nopreempt);
    assert_eq!(i.preempt_delay, Duration::ZERO);
    assert!(i.track_interfaces.is_empty());
    assert_eq!(i.unicast_src_ip, None);
    assert!(i.unicast_peers.is_empty());
    assert_eq!(
        (
            i.garp_master_delay,
            i.garp_master_repeat,
            i.garp_master_refresh
        ),
        (None, None, None)
    );
    assert_eq!((i.accept, i.strict_mode), (None, None));
    assert!(i.noted.is_empty() && i.track_scripts.is_empty() && i.use_vmac.is_none());
}

#[test]
fn virtual_server_defaults() {
    let read = read("virtual_server 10.0.0.1 80 {\n}\n");
    let vs = &read.config.virtual_servers[0];
    assert_eq!(vs.delay_loop, secs(60));
    assert_eq!(vs.lb_algo, "wlc");
    assert_eq!(vs.lb_kind, LbKind::Nat);
    // keepalived 2.2.7: "no protocol set - defaulting to UDP"; lvsfw says so in a note.
    assert_eq!(vs.protocol, Protocol::Udp);
    assert_eq!(
        read.notes,
        vec!["k.conf:1:1: virtual_server 10.0.0.1 80: no protocol set, so UDP, as keepalived does (write \"protocol TCP\" for a TCP service)"]
    );
    assert_eq!(vs.persistence_timeout, None);
    assert_eq!(vs.persistence_granularity, None);
    assert_eq!(vs.sorry_server, None);
    assert_eq!((vs.quorum, vs.hysteresis), (1, 0));
    assert!(!vs.alpha && !vs.omega && !vs.inhibit_on_failure && !vs.ha_suspend);
    assert_eq!(vs.virtualhost, None);
}

#[test]
fn a_fwmark_service_needs_no_protocol_and_gets_no_note() {
    assert!(read("virtual_server fwmark 1 {\n}\n").notes.is_empty());
}

#[test]
fn persistence_timeout_without_a_value_is_360_s() {
    let k = model(&virtual_server("persistence_timeout"));
    assert_eq!(k.virtual_servers[0].persistence_timeout, Some(360));
}

#[test]
fn real_server_defaults() {
    let k = model(&real_server(""));
    let rs = &k.virtual_servers[0].real_servers[0];
    assert_eq!(rs.weight, 1);
    assert_eq!(rs.inhibit_on_failure, None);
    assert!(rs.checks.is_empty());
}

#[test]
fn keepalived_s_defaults_of_the_other_checks_and_of_a_vrrp_script() {
    for (kind, retry, delay_before_retry) in [
        ("PING_CHECK", 1, Some(1)),
        ("UDP_CHECK", 1, Some(1)),
        ("SMTP_CHECK", 1, Some(1)),
        // check_dns.h: 3 retries, waiting the delay_loop between them.
        ("DNS_CHECK", 3, None),
    ] {
        let k = model(&check(kind, ""));
        let c = &k.virtual_servers[0].real_servers[0].checks[0];
        assert_eq!(c.retry, retry, "{kind}");
        assert_eq!(
            c.delay_before_retry_or_default(),
            delay_before_retry.map(secs),
            "{kind}"
        );
    }
    let k = model("vrrp_script gw {\n PING_CHECK {\n  connect_ip 192.0.2.1\n }\n}\n");
    let s = &k.vrrp_scripts[0];
    assert_eq!(
        (s.interval, s.timeout, s.weight, s.rise, s.fall, s.init_fail),
        (secs(1), None, 0, 1, 1, false)
    );
    // The check's connect_timeout: the script's timeout, else its interval.
    assert_eq!(s.check.as_ref().unwrap().connect_timeout, secs(1));
}

#[test]
fn check_defaults_by_kind() {
    for (kind, delay_before_retry) in [("HTTP_GET", 3), ("SSL_GET", 3), ("TCP_CHECK", 1)] {
        let k = model(&check(kind, ""));
        let c = &k.virtual_servers[0].real_servers[0].checks[0];
        assert_eq!(c.connect_timeout, secs(5), "{kind}");
        assert_eq!(c.retry, 1, "{kind}");
        assert_eq!(c.delay_before_retry, None, "{kind}");
        assert_eq!(
            c.delay_before_retry_or_default(),
            Some(secs(delay_before_retry)),
            "{kind}"
        );
        assert_eq!((c.connect_ip, c.connect_port, c.bindto), (None, None, None));
        assert_eq!((c.warmup, c.delay_loop), (None, None));
        assert_eq!(c.virtualhost, None);
    }
    let k = model(&check("HTTP_GET", ""));
    let url = &k.virtual_servers[0].real_servers[0].checks[0].urls[0];
    assert_eq!((&url.status_code, url.digest), (&None, None));
}

/// The smallest JSON of each item has the same defaults as the smallest keepalived.conf.
#[test]
fn json_has_the_same_defaults() {
    let conf = model(
        "vrrp_instance V {\n interface ext\n virtual_router_id 1\n}\nvirtual_server 10.0.0.1 80 {\n real_server 10.0.1.1 80 {\n  TCP_CHECK {\n  }\n  HTTP_GET {\n   url {\n    path /\n   }\n  }\n }\n}\n",
    );
    let json = config::native::from_json(
        r#"{"keepalived": {
            "vrrp_instances": [{"name": "V", "interface": "ext", "virtual_router_id": 1}],
            "virtual_servers": [{"key": {"addr": {"ip": "10.0.0.1", "port": 80}},
                "real_servers": [{"ip": "10.0.1.1", "port": 80,
                    "checks": [{"kind": "TCP_CHECK"}, {"kind": "HTTP_GET", "url": [{"path": "/"}]}]}]}]
        }}"#,
    )
    .unwrap();
    assert_eq!(json.keepalived, conf);
}
