//! Round trips: keepalived.conf → model → keepalived.conf → model gives the same model,
//! and so does JSON → model → JSON, over both seeds (a table) and generated models
//! (a property).

use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use config::keepalived::*;
use config::{native, Config};
use proptest::prelude::*;

#[path = "roundtrip/bgp.rs"]
mod bgp;
#[path = "roundtrip/lvs.rs"]
mod lvs;
use lvs::*;

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

/// A noted statement of `keyword`, its words ones that need quoting too.
fn noted(keywords: &'static [&'static str]) -> impl Strategy<Value = Kept> {
    (
        proptest::sample::select(keywords.to_vec()),
        proptest::collection::vec(text(), 1..3),
    )
        .prop_map(|(keyword, args)| Kept {
            keyword: keyword.into(),
            args,
            block: None,
        })
}

const INSTANCE_NOTES: &[&str] = &[
    "notify",
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
    "debug",
];
const GROUP_NOTES: &[&str] = &[
    "notify",
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
];

fn track_weight() -> impl Strategy<Value = (Option<i32>, Option<bool>)> {
    proptest::option::of((-253i32..=253, proptest::option::of(any::<bool>()))).prop_map(|w| match w
    {
        Some((w, r)) => (Some(w), r),
        None => (None, None),
    })
}

fn track_interface() -> impl Strategy<Value = TrackInterface> {
    (name(), track_weight()).prop_map(|(name, (weight, reverse))| TrackInterface {
        name,
        weight,
        reverse: weight.is_some() && reverse == Some(true),
    })
}

/// Tracks some of the scripts S0, S1 (which the generated model defines).
fn track_script() -> impl Strategy<Value = TrackScript> {
    (0..2usize, track_weight()).prop_map(|(s, (weight, reverse))| TrackScript {
        name: format!("S{s}"),
        weight,
        reverse,
    })
}

fn route() -> impl Strategy<Value = IpRoute> {
    (
        v4(10),
        8u8..=32,
        proptest::option::of(v4(192)),
        proptest::option::of(name()),
        proptest::option::of(1u32..1000),
        proptest::option::of(prop_oneof![Just("blackhole"), Just("unreachable")]),
        any::<[bool; 2]>(),
    )
        .prop_map(|(to, len, via, dev, metric, kind, flags)| IpRoute {
            kind: kind.map(String::from),
            to: config::IpPrefix::new(to, len).unwrap(),
            src: None,
            via: if kind.is_some() { None } else { via },
            dev,
            table: metric.map(|m| (m % 250).to_string()),
            metric,
            scope: None,
            protocol: None,
            onlink: flags[0],
            no_track: flags[1],
            options: if flags[0] {
                vec!["mtu".into(), "1400".into()]
            } else {
                Vec::new()
            },
        })
}

fn rule() -> impl Strategy<Value = IpRule> {
    (
        v4(10),
        8u8..=32,
        1u32..250,
        proptest::option::of(1u32..30000),
    )
        .prop_map(|(from, len, table, priority)| IpRule {
            from: Some(config::IpPrefix::new(from, len).unwrap()),
            table: Some(table.to_string()),
            priority,
            ..IpRule::default()
        })
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
        proptest::collection::vec(track_interface(), 0..3),
        proptest::option::of(v4(192)),
        proptest::collection::vec(v4(192), 0..3),
        proptest::collection::vec(noted(INSTANCE_NOTES), 0..3),
        proptest::collection::vec(track_script(), 0..2),
    );
    let more = (
        proptest::option::of((proptest::option::of("vrrp\\.[0-9]{1,3}"), any::<bool>())),
        proptest::option::of(1u8..=255),
        proptest::option::of(any::<bool>()),
        proptest::collection::vec(route(), 0..2),
        proptest::collection::vec(rule(), 0..2),
        proptest::option::of(centis(100)),
        any::<[bool; 4]>(),
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
    (basics, lists, switches, more).prop_map(move |(b, l, s, m)| {
        let (prefix, state, interface, priority, version, interval, auth) = b;
        let v3 = version.map_or(v3_global, |v| v == 3);
        let advert_int = if v3 {
            Duration::from_millis(10 * (interval % 4095 + 1))
        } else {
            Duration::from_secs(interval % 255 + 1)
        };
        let (vmac, ttl, check_unicast_src, routes, rules, lower_delay, flags) = m;
        let mut tracked = l.6;
        tracked.dedup_by(|a, b| a.name == b.name);
        VrrpInstance {
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
            use_vmac: vmac.as_ref().map(|(name, _)| UseVmac {
                name: name.clone(),
                mac: None,
            }),
            vmac_xmit_base: vmac.as_ref().is_some_and(|(_, x)| *x),
            unicast_ttl: ttl,
            check_unicast_src,
            virtual_routes: routes,
            virtual_rules: rules,
            garp_lower_prio_delay: lower_delay,
            dont_track_primary: flags[0],
            lower_prio_no_advert: flags[1].then_some(true),
            higher_prio_send_advert: flags[2].then_some(false),
            promote_secondaries: flags[3],
            track_scripts: tracked,
            noted: l.5,
            ..VrrpInstance::new(&format!("{prefix}_{n}"))
        }
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
                proptest::collection::vec(noted(GROUP_NOTES), 0..2),
                (
                    proptest::collection::vec("[a-z]{1,6}@example\\.com", 0..3),
                    proptest::option::of(("[a-z]{1,6}\\.example", 1u16..)),
                    proptest::option::of(any::<bool>()),
                    proptest::option::of(centis(100)),
                    proptest::collection::vec(route(), 0..2),
                    proptest::collection::vec(rule(), 0..2),
                    proptest::collection::vec(
                        noted(&["script_user", "enable_script_security"]),
                        0..2,
                    ),
                ),
                proptest::collection::vec(script_check(), 2),
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
                more,
                script_checks,
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
                        members: vrrp_instances
                            .iter()
                            .zip(&membership)
                            .filter(|(_, m)| **m == Some(s))
                            .map(|(i, _)| i.name.clone())
                            .collect(),
                        noted: notify.clone(),
                        ..SyncGroup::new(&format!("SG{s}"))
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
                        notification_email: more.0,
                        smtp_server: more.1.map(|(host, port)| SmtpServer { host, port }),
                        smtp_alert: more.2,
                        vrrp_startup_delay: more.3,
                        noted: more.6,
                        ..GlobalDefs::default()
                    },
                    vrrp_instances,
                    sync_groups,
                    vrrp_scripts: script_checks
                        .into_iter()
                        .enumerate()
                        .map(|(n, (check, weight, rise))| VrrpScript {
                            check: Some(check),
                            weight,
                            rise,
                            ..VrrpScript::new(&format!("S{n}"))
                        })
                        .collect(),
                    virtual_server_groups,
                    virtual_servers,
                    static_routes: more.4,
                    static_rules: more.5,
                    ..Keepalived::default()
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn generated_models_round_trip(k in bgp::with_bgp(keepalived())) {
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
