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
        inhibit_on_failure: Some(true),
        checks: vec![Check {
            urls: vec![UrlCheck {
                status_code: Some("200".parse().unwrap()),
                ..UrlCheck::new("/")
            }],
            connect_timeout: Duration::from_secs(3),
            retry: 3,
            delay_before_retry: Some(Duration::from_secs(3)),
            ..Check::new(CheckKind::HttpGet)
        }],
        ..RealServer::new(ip(&format!("192.168.33.{last}")), 80)
    }
}

fn seed_virtual_server() -> VirtualServer {
    VirtualServer {
        delay_loop: Duration::from_secs(6),
        lb_algo: "rr".into(),
        protocol: Protocol::Tcp,
        real_servers: vec![seed_real_server(11), seed_real_server(12)],
        ..VirtualServer::new(VsKey::Addr {
            ip: ip("192.168.0.100"),
            port: 80,
        })
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
            state: InitialState::Master,
            interface: "eth0".into(),
            vrid: 51,
            advert_int: Duration::from_secs(3),
            auth: Some(Authentication {
                auth_type: AuthType::Ah,
                auth_pass: "sfjpvrrp".into(),
            }),
            vips: vec![
                vip("192.168.0.100", "eth2"),
                vip("192.168.33.10/24", "eth1")
            ],
            ..VrrpInstance::new("VI_1")
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
        c.delay_before_retry_or_default(),
        Some(Duration::from_secs(1))
    );
    assert_eq!(
        (c.connect_timeout, c.retry, c.delay_before_retry),
        (Duration::from_secs(5), 1, None)
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
        "vrrp_instance VI_1 {\n  interface ext\n  virtual_router_id 300\n  priorty 100\n  advert_int fast\n}\nvirtual_server 192.168.0.100 80 {\n  lb_algo random\n  real_server 192.168.33.11 80 {\n    BFD_CHECK {\n    }\n  }\n}\n",
    );
    assert_eq!(
        m,
        vec![
            "k.conf:3:21: virtual_router_id: \"300\" is not a whole number from 1 to 255",
            "k.conf:4:3: unknown keyword \"priorty\" in vrrp_instance (did you mean \"priority\"?)",
            "k.conf:5:14: advert_int: \"fast\" is not a number of seconds up to 255",
            "k.conf:10:5: BFD_CHECK: not supported: lvsfw has no BFD; use PING_CHECK",
        ]
    );
}

#[test]
fn scripts_are_kept_word_for_word_and_noted_once_each() {
    let read = read_text(
        "global_defs {\n checker_log_all_failures\n enable_script_security\n}\nvrrp_instance V { interface ext\n virtual_router_id 7\n notify_master \"/x.sh arg\" > /tmp/f\n notify_backup /y.sh\n notify_master /z.sh\n}\n",
        "k.conf",
    )
    .unwrap();
    let notes = &read.notes;
    assert_eq!(notes.len(), 4, "{notes:?}");
    assert!(notes[0].starts_with("k.conf:2:2: checker_log_all_failures: read and kept, but the appliance does not act on it yet"), "{notes:?}");
    assert!(notes[1].starts_with("k.conf:3:2: enable_script_security: accepted and kept for export, no effect here: the appliance runs no scripts"), "{notes:?}");
    assert!(
        notes[2].starts_with("k.conf:7:2: notify_master: accepted and kept"),
        "{notes:?}"
    );
    assert!(
        notes[3].starts_with("k.conf:8:2: notify_backup: accepted and kept"),
        "{notes:?}"
    );
    let noted = &read.config.vrrp_instances[0].noted;
    assert_eq!(noted.len(), 3);
    assert_eq!(noted[0].args, vec!["/x.sh arg", ">", "/tmp/f"]);
    let text = to_keepalived_conf(&read.config);
    assert!(
        text.contains("    notify_master \"/x.sh arg\" > /tmp/f\n"),
        "{text}"
    );
}

#[test]
fn where_keepalived_warns_lvsfw_notes_and_takes_its_fallback() {
    let read = read_text(
        "vrrp_instance V { interface ext\n virtual_router_id 7\n state EQUAL\n}\nvirtual_server 10.0.0.1 80 {\n protocol tcp\n lb_algo rr\n lb_algo random\n lb_kind MASQ\n}\n",
        "k.conf",
    )
    .unwrap();
    assert_eq!(read.config.vrrp_instances[0].state, InitialState::Backup);
    let vs = &read.config.virtual_servers[0];
    assert_eq!(
        (vs.lb_algo.as_str(), vs.lb_kind, vs.protocol),
        ("rr", LbKind::Nat, Protocol::Tcp)
    );
    assert_eq!(
        read.notes,
        vec![
            "k.conf:3:2: state: \"EQUAL\" is not MASTER or BACKUP; BACKUP, as keepalived does",
            "k.conf:8:2: lb_algo: \"random\" is not a scheduler IPVS has (rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh); ignored, as keepalived does, so rr stays",
            "k.conf:9:2: lb_kind: \"MASQ\" is not NAT, DR, TUN or FNAT; ignored, as keepalived does, so NAT stays",
        ]
    );
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
