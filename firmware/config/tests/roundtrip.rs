//! Round trips: keepalived.conf → model → keepalived.conf → model gives the same model,
//! and so does JSON → model → JSON, over both seeds (a table) and generated models
//! (a property).

use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use config::keepalived::*;
use config::{native, Config};
use proptest::prelude::*;

fn seed(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
}

/// Both ways, and the text settles after one trip (normalized).
fn assert_round_trips(k: &Keepalived) {
    let conf = to_keepalived_conf(k);
    let again = match read_text(&conf, "export.conf") {
        Ok(read) => read.config,
        Err(issues) => panic!("{conf}\n---\n{issues}"),
    };
    assert_eq!(&again, k, "keepalived.conf:\n{conf}");
    assert_eq!(to_keepalived_conf(&again), conf);

    let config = Config {
        keepalived: k.clone(),
        ..Config::default()
    };
    let json = native::to_json(&config);
    let back = match native::from_json(&json) {
        Ok(c) => c,
        Err(issues) => panic!("{json}\n---\n{issues}"),
    };
    assert_eq!(back, config, "JSON:\n{json}");
    assert_eq!(native::to_json(&back), json);
}

#[test]
fn both_seeds() {
    for name in ["seed-3-1.conf", "seed-3-2.conf"] {
        let read = read_file(&seed(name)).unwrap();
        assert_round_trips(&read.config);
    }
}

#[test]
fn a_native_configuration_with_everything() {
    let text = r#"{
        "hostname": "lb1",
        "interfaces": [
            {"role": "ext", "addresses": ["192.168.0.101/24"], "mtu": 1500},
            {"role": "int", "addresses": ["192.168.33.20/24"]},
            {"role": "mgmt", "addresses": ["10.9.0.2/24"]}
        ],
        "routes": [{"to": "0.0.0.0/0", "via": "192.168.0.1"}],
        "admin": {"management_address": "10.9.0.2",
                  "password_hash": "$pbkdf2-sha256$i=1000$73616c7473616c74$135f7a66144fcf0fb003ce048f31f024ed5cbff30525d3ba0bfb3199479362a6"}
    }"#;
    let mut config = native::from_json(text).unwrap();
    config.keepalived = read_file(&seed("seed-3-2.conf")).unwrap().config;
    let json = native::to_json(&config);
    let back = native::from_json(&json).unwrap();
    assert_eq!(back, config);
    assert!(back.admin.password.unwrap().verify("password"));
}

// ---- generated models -------------------------------------------------------------

fn centis(max_seconds: u64) -> impl Strategy<Value = Duration> {
    (0..=max_seconds * 100).prop_map(|c| Duration::from_millis(c * 10))
}

fn name() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9_.-]{0,7}"
}

/// Words that need quoting in keepalived.conf, too.
fn text() -> impl Strategy<Value = String> {
    "[a-z/#!{}]{0,4}( [a-z0-9]{1,4}){0,2}"
}

fn v4(a: u8) -> impl Strategy<Value = IpAddr> {
    any::<[u8; 3]>().prop_map(move |[b, c, d]| IpAddr::from([a, b, c, d]))
}

fn vip() -> impl Strategy<Value = Vip> {
    (
        any::<[u8; 2]>(),
        24u8..=32,
        proptest::option::of(v4(192)),
        proptest::option::of(name()),
        proptest::option::of(name()),
        proptest::option::of(prop_oneof![Just("global"), Just("link"), Just("host")]),
    )
        .prop_map(|([c, d], len, brd, dev, label, scope)| Vip {
            address: config::IpPrefix::new(IpAddr::from([192, 168, c, d]), len).unwrap(),
            brd,
            dev,
            label,
            scope: scope.map(String::from),
        })
}

fn excluded_vip() -> impl Strategy<Value = Vip> {
    (any::<u16>(), 64u8..=128).prop_map(|(n, len)| Vip {
        address: config::IpPrefix::new(
            IpAddr::from(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, n)),
            len,
        )
        .unwrap(),
        brd: None,
        dev: None,
        label: None,
        scope: None,
    })
}

fn notify() -> impl Strategy<Value = NotifyScript> {
    (proptest::sample::select(NotifyEvent::ALL.to_vec()), text())
        .prop_map(|(event, command)| NotifyScript { event, command })
}

fn sync_notify() -> impl Strategy<Value = NotifyScript> {
    let events = vec![
        NotifyEvent::Notify,
        NotifyEvent::NotifyMaster,
        NotifyEvent::NotifyBackup,
        NotifyEvent::NotifyFault,
        NotifyEvent::NotifyStop,
    ];
    (proptest::sample::select(events), text())
        .prop_map(|(event, command)| NotifyScript { event, command })
}

/// An instance; `n` makes its name and VRID unique, `v3` says which interval it needs.
fn instance(n: usize, v3_global: bool) -> impl Strategy<Value = VrrpInstance> {
    let basics = (
        name(),
        prop_oneof![Just(InitialState::Master), Just(InitialState::Backup)],
        prop_oneof![Just("ext"), Just("int"), Just("eth0")],
        1u8..=254,
        prop_oneof![Just(None), Just(Some(2u8)), Just(Some(3u8))],
        0u64..=4095,
        proptest::option::of((
            prop_oneof![Just(AuthType::Pass), Just(AuthType::Ah)],
            "[a-z0-9]{1,8}",
        )),
    );
    let lists = (
        proptest::collection::vec(vip(), 0..3),
        proptest::collection::vec(excluded_vip(), 0..2),
        proptest::collection::vec(name(), 0..3),
        proptest::option::of(v4(192)),
        proptest::collection::vec(v4(192), 0..3),
        proptest::collection::vec(notify(), 0..3),
    );
    let switches = (
        any::<bool>(),
        centis(1000),
        proptest::option::of(centis(100)),
        proptest::option::of(1u32..=255),
        proptest::option::of(centis(100)),
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
    );
    (basics, lists, switches).prop_map(move |(b, l, s)| {
        let (prefix, state, interface, priority, version, interval, auth) = b;
        let v3 = version.map_or(v3_global, |v| v == 3);
        let advert_int = if v3 {
            Duration::from_millis(10 * (interval % 4095 + 1))
        } else {
            Duration::from_secs(interval % 255 + 1)
        };
        VrrpInstance {
            name: format!("{prefix}_{n}"),
            state,
            interface: interface.into(),
            vrid: n as u8 + 1,
            priority,
            advert_int,
            version,
            auth: auth.map(|(auth_type, auth_pass)| Authentication {
                auth_type,
                auth_pass,
            }),
            vips: l.0,
            excluded_vips: l.1,
            nopreempt: s.0,
            preempt_delay: s.1,
            track_interfaces: l.2,
            unicast_src_ip: l.3,
            unicast_peers: l.4,
            garp_master_delay: s.2,
            garp_master_repeat: s.3,
            garp_master_refresh: s.4,
            accept: s.5,
            strict_mode: s.6,
            notify: l.5,
        }
    })
}

fn check() -> impl Strategy<Value = Check> {
    let url = (
        "/[a-z]{0,6}",
        proptest::option::of(100u16..=599),
        proptest::option::of(any::<[u8; 16]>()),
    )
        .prop_map(|(path, status_code, digest)| UrlCheck {
            path,
            status_code,
            digest,
        });
    (
        prop_oneof![
            Just(CheckKind::HttpGet),
            Just(CheckKind::SslGet),
            Just(CheckKind::Tcp)
        ],
        proptest::collection::vec(url, 1..3),
        (
            proptest::option::of(v4(10)),
            proptest::option::of(1u16..),
            proptest::option::of(v4(10)),
        ),
        (centis(3600), 0u32..=1000, centis(3600)),
        (
            proptest::option::of(centis(86400)),
            proptest::option::of("[a-z]{1,8}\\.example"),
            proptest::option::of(centis(86400)),
        ),
    )
        .prop_map(|(kind, urls, addrs, timing, rest)| {
            let http = kind != CheckKind::Tcp;
            Check {
                kind,
                urls: if http { urls } else { Vec::new() },
                connect_ip: addrs.0,
                connect_port: addrs.1,
                bindto: addrs.2,
                connect_timeout: timing.0,
                retry: timing.1,
                delay_before_retry: timing.2,
                warmup: rest.0,
                virtualhost: if http { rest.1 } else { None },
                delay_loop: rest.2,
            }
        })
}

fn real_server(v: usize, r: usize) -> impl Strategy<Value = RealServer> {
    (
        1u16..,
        0u32..=65535,
        proptest::option::of(any::<bool>()),
        proptest::collection::vec(check(), 0..3),
    )
        .prop_map(
            move |(port, weight, inhibit_on_failure, checks)| RealServer {
                ip: IpAddr::from([10, (v / 250) as u8, (v % 250) as u8, r as u8 + 1]),
                port,
                weight,
                inhibit_on_failure,
                checks,
            },
        )
}

fn virtual_server(v: usize, groups: usize) -> impl Strategy<Value = VirtualServer> {
    let key = (0u8..3, 1u16..).prop_map(move |(kind, port)| match kind {
        1 => VsKey::Fwmark(v as u32 + 1),
        2 if v < groups => VsKey::Group(format!("VSG{v}")),
        _ => VsKey::Addr {
            ip: IpAddr::from([172, 16, (v / 250) as u8, (v % 250) as u8 + 1]),
            port,
        },
    });
    let settings = (
        centis(86400),
        proptest::sample::select(SCHEDULERS.to_vec()),
        prop_oneof![Just(LbKind::Nat), Just(LbKind::Dr), Just(LbKind::Tun)],
        prop_oneof![
            Just(Protocol::Tcp),
            Just(Protocol::Udp),
            Just(Protocol::Sctp)
        ],
        proptest::option::of(1u32..=2_678_400),
        proptest::option::of(0u8..=32),
        proptest::option::of((v4(10), 1u16..)),
    );
    let more = (
        1u32..=10,
        0u32..=5,
        any::<[bool; 4]>(),
        proptest::option::of("[a-z]{1,8}\\.example"),
        (0..4usize).prop_flat_map(move |n| (0..n).map(|r| real_server(v, r)).collect::<Vec<_>>()),
    );
    (key, settings, more).prop_map(|(key, s, m)| VirtualServer {
        key,
        delay_loop: s.0,
        lb_algo: s.1.to_string(),
        lb_kind: s.2,
        protocol: s.3,
        persistence_timeout: s.4,
        persistence_granularity: s.5,
        sorry_server: s.6,
        quorum: m.0,
        hysteresis: m.1,
        alpha: m.2[0],
        omega: m.2[1],
        inhibit_on_failure: m.2[2],
        ha_suspend: m.2[3],
        virtualhost: m.3,
        real_servers: m.4,
    })
}

fn group(g: usize) -> impl Strategy<Value = VirtualServerGroup> {
    let entry = prop_oneof![
        (any::<u8>(), any::<u8>(), 1u16..).prop_map(move |(a, b, port)| GroupEntry::Range {
            first: IpAddr::from([172, 20, g as u8, a.min(b)]),
            last: IpAddr::from([172, 20, g as u8, a.max(b)]),
            port,
        }),
        (1u32..).prop_map(GroupEntry::Fwmark),
    ];
    proptest::collection::vec(entry, 0..4).prop_map(move |entries| VirtualServerGroup {
        name: format!("VSG{g}"),
        entries,
    })
}

fn keepalived() -> impl Strategy<Value = Keepalived> {
    (any::<bool>(), 0..4usize, 0..3usize, 0..5usize)
        .prop_flat_map(|(v3, instances, groups, servers)| {
            let global = (
                proptest::option::of(name()),
                centis(1000),
                1u32..=255,
                proptest::option::of(centis(1000)),
                any::<[bool; 2]>(),
                proptest::option::of((name(), any::<u8>(), proptest::option::of(any::<u8>()))),
            );
            (
                Just(v3),
                global,
                (0..instances).map(|n| instance(n, v3)).collect::<Vec<_>>(),
                proptest::collection::vec(proptest::option::of(0..2usize), instances),
                (0..groups).map(group).collect::<Vec<_>>(),
                (0..servers)
                    .map(|v| virtual_server(v, groups))
                    .collect::<Vec<_>>(),
                proptest::collection::vec(sync_notify(), 0..2),
            )
        })
        .prop_map(
            |(
                v3,
                g,
                vrrp_instances,
                membership,
                virtual_server_groups,
                virtual_servers,
                notify,
            )| {
                let lvs_sync_daemon = g.5.and_then(|(interface, pick, id)| {
                    let target = vrrp_instances.get(pick as usize % vrrp_instances.len().max(1))?;
                    Some(LvsSyncDaemon {
                        interface,
                        vrrp_instance: target.name.clone(),
                        id,
                    })
                });
                // Each instance in at most one sync group.
                let sync_groups = (0..2)
                    .map(|s| SyncGroup {
                        name: format!("SG{s}"),
                        members: vrrp_instances
                            .iter()
                            .zip(&membership)
                            .filter(|(_, m)| **m == Some(s))
                            .map(|(i, _)| i.name.clone())
                            .collect(),
                        notify: notify.clone(),
                    })
                    .filter(|g| !g.members.is_empty())
                    .collect();
                Keepalived {
                    global: GlobalDefs {
                        router_id: g.0,
                        vrrp_version: if v3 { 3 } else { 2 },
                        garp_master_delay: g.1,
                        garp_master_repeat: g.2,
                        garp_master_refresh: g.3,
                        skip_check_adv_addr: g.4[0],
                        strict: g.4[1],
                        lvs_sync_daemon,
                    },
                    vrrp_instances,
                    sync_groups,
                    virtual_server_groups,
                    virtual_servers,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn generated_models_round_trip(k in keepalived()) {
        // The generator makes valid models only; say so if it ever does not.
        let findings = validate(&k, None);
        prop_assert!(findings.is_empty(), "{findings:?}");
        assert_round_trips(&k);
    }
}

#[test]
fn an_ipv6_group_range_round_trips() {
    let k = Keepalived {
        virtual_server_groups: vec![VirtualServerGroup {
            name: "v6".into(),
            entries: vec![GroupEntry::Range {
                first: IpAddr::from(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x10)),
                last: IpAddr::from(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x1f)),
                port: 443,
            }],
        }],
        virtual_servers: vec![VirtualServer::new(VsKey::Group("v6".into()))],
        ..Keepalived::default()
    };
    assert_round_trips(&k);
}
