use std::net::IpAddr;
use std::time::Duration;

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn seed_file(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
}

fn seed_real_server(last: u8) -> RealServer {
    RealServer {
        ip: ip(&format!("192.168.33.{last}")),
        port: 80,
        weight: 1,
        inhibit_on_failure: Some(true),
        checks: vec![Check {
            kind: CheckKind::HttpGet,
            urls: vec![UrlCheck {
                path: "/".into(),
                status_code: Some(200),
                digest: None,
            }],
            connect_ip: None,
            connect_port: None,
            bindto: None,
            connect_timeout: Duration::from_secs(3),
            retry: 3,
            delay_before_retry: Duration::from_secs(3),
            warmup: None,
            virtualhost: None,
            delay_loop: None,
        }],
    }
}

fn seed_virtual_server() -> VirtualServer {
    VirtualServer {
        key: VsKey::Addr {
            ip: ip("192.168.0.100"),
            port: 80,
        },
        delay_loop: Duration::from_secs(6),
        lb_algo: "rr".into(),
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
        real_servers: vec![seed_real_server(11), seed_real_server(12)],
    }
}

/// The seed's 3-1 keepalived.conf, verbatim.
#[test]
fn seed_3_1() {
    let read = read_file(&seed_file("seed-3-1.conf")).unwrap();
    assert_eq!(
        read.config,
        Keepalived {
            virtual_servers: vec![seed_virtual_server()],
            ..Keepalived::default()
        }
    );
    assert!(read.notes.is_empty(), "{:?}", read.notes);
}

/// The seed's 3-2 keepalived.conf, verbatim (with its "# BACKUP" comment after MASTER).
#[test]
fn seed_3_2() {
    let read = read_file(&seed_file("seed-3-2.conf")).unwrap();
    let vip = |p: &str, dev: &str| Vip {
        address: p.parse().unwrap(),
        brd: None,
        dev: Some(dev.into()),
        label: None,
        scope: None,
    };
    assert_eq!(
        read.config.vrrp_instances,
        vec![VrrpInstance {
            name: "VI_1".into(),
            state: InitialState::Master,
            interface: "eth0".into(),
            vrid: 51,
            priority: 100,
            advert_int: Duration::from_secs(3),
            version: None,
            auth: Some(Authentication {
                auth_type: AuthType::Ah,
                auth_pass: "sfjpvrrp".into(),
            }),
            vips: vec![
                vip("192.168.0.100", "eth2"),
                vip("192.168.33.10/24", "eth1")
            ],
            excluded_vips: vec![],
            nopreempt: false,
            preempt_delay: Duration::ZERO,
            track_interfaces: vec![],
            unicast_src_ip: None,
            unicast_peers: vec![],
            garp_master_delay: None,
            garp_master_repeat: None,
            garp_master_refresh: None,
            accept: None,
            strict_mode: None,
            notify: vec![],
        }]
    );
    assert_eq!(read.config.virtual_servers, vec![seed_virtual_server()]);
    assert_eq!(read.config.global, GlobalDefs::default());
    assert!(read.config.sync_groups.is_empty());
    assert!(read.config.virtual_server_groups.is_empty());
    assert!(read.notes.is_empty(), "{:?}", read.notes);
}

fn errors(text: &str) -> Vec<String> {
    read_text(text, "k.conf")
        .unwrap_err()
        .iter()
        .map(|i| i.to_string())
        .collect()
}

#[test]
fn defaults_are_keepalived_s() {
    let read = read_text(
        "virtual_server 10.0.0.1 443 {\n real_server 10.0.1.1 443 {\n  TCP_CHECK {\n  }\n }\n persistence_timeout\n}\nvrrp_instance V { interface ext\n virtual_router_id 7 }\n",
        "k.conf",
    )
    .unwrap();
    let vs = &read.config.virtual_servers[0];
    assert_eq!(
        (vs.delay_loop, vs.lb_algo.as_str(), vs.lb_kind, vs.protocol),
        // keepalived 2.2 takes UDP when no protocol is given (and says so).
        (Duration::from_secs(60), "wlc", LbKind::Nat, Protocol::Udp)
    );
    assert_eq!(vs.persistence_timeout, Some(360));
    let c = &vs.real_servers[0].checks[0];
    assert_eq!(
        (c.connect_timeout, c.retry, c.delay_before_retry),
        (Duration::from_secs(5), 1, Duration::from_secs(1))
    );
    assert_eq!(vs.real_servers[0].weight, 1);
    let i = &read.config.vrrp_instances[0];
    assert_eq!(
        (i.state, i.priority, i.advert_int),
        (InitialState::Backup, 100, Duration::from_secs(1))
    );
    let g = &read.config.global;
    assert_eq!(
        (g.vrrp_version, g.garp_master_delay, g.garp_master_repeat),
        (2, Duration::from_secs(5), 5)
    );
}

#[test]
fn every_error_of_a_file_at_once_with_place_and_hint() {
    let m = errors(
        "vrrp_instance VI_1 {\n  interface ext\n  virtual_router_id 300\n  priorty 100\n  advert_int fast\n}\nvirtual_server 192.168.0.100 80 {\n  lb_algo random\n  real_server 192.168.33.11 80 {\n    MISC_CHECK {\n    }\n  }\n}\n",
    );
    assert_eq!(
        m,
        vec![
            "k.conf:3:21: virtual_router_id: \"300\" is not a whole number from 1 to 255",
            "k.conf:4:3: unknown keyword \"priorty\" in vrrp_instance (did you mean \"priority\"?)",
            "k.conf:5:14: advert_int: \"fast\" is not a number of seconds up to 255",
            "k.conf:8:11: lb_algo: \"random\" is not a scheduler (expected one of rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh)",
            "k.conf:10:5: MISC_CHECK is not supported: the appliance has no shell to run scripts; use HTTP_GET, SSL_GET or TCP_CHECK",
        ]
    );
}

#[test]
fn scripts_and_mail_are_accepted_with_a_note() {
    let read = read_text(
        "global_defs {\n notification_email { a@b }\n enable_script_security\n}\nvrrp_instance V { interface ext\n virtual_router_id 7\n notify_master /x.sh\n notify_backup /y.sh\n}\n",
        "k.conf",
    )
    .unwrap();
    assert_eq!(read.notes.len(), 2, "{:?}", read.notes);
    assert!(read.notes[0].contains("notification_email accepted and ignored"));
    assert!(read.notes[1].contains("runs no scripts"));
    assert_eq!(read.config.vrrp_instances[0].notify.len(), 2);
}

#[test]
fn addresses_options_and_units() {
    let read = read_text(
        "vrrp_instance V {\n interface ext\n virtual_router_id 9\n advert_int 0.1\n version 3\n virtual_ipaddress {\n  fd00::100/64 dev int label x\n }\n unicast_peer {\n  192.168.0.102\n }\n}\nvirtual_server fwmark 5 {\n persistence_granularity 255.255.255.0\n real_server 10.0.0.1 80 {\n  HTTP_GET {\n   url {\n    path /health\n    digest 9b3a0c85a887a256d6939da88aabd8cd\n   }\n   nb_get_retry 2\n  }\n }\n}\n",
        "k.conf",
    )
    .unwrap();
    let i = &read.config.vrrp_instances[0];
    assert_eq!(i.advert_int, Duration::from_millis(100));
    assert_eq!(i.vips[0].dev.as_deref(), Some("int"));
    assert_eq!(i.unicast_peers, vec![ip("192.168.0.102")]);
    let vs = &read.config.virtual_servers[0];
    assert_eq!(
        (vs.key.clone(), vs.persistence_granularity),
        (VsKey::Fwmark(5), Some(24))
    );
    let c = &vs.real_servers[0].checks[0];
    assert_eq!((c.retry, c.urls[0].digest.unwrap()[0]), (2, 0x9b));
}
