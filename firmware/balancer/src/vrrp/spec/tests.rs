use super::*;
use crate::vrrp::tracking::Object;

fn prefix(s: &str) -> IpPrefix {
    s.parse().unwrap()
}

fn link(index: u32, name: &str, addresses: &[&str]) -> LinkInfo {
    LinkInfo {
        index,
        name: name.into(),
        addresses: addresses.iter().map(|a| prefix(a)).collect(),
    }
}

/// What a member tracks: `name:index` for a link, `script:name`, each with its weight.
fn tracked(m: &MemberSpec) -> Vec<(String, i32)> {
    m.track
        .iter()
        .map(|t| {
            let what = match &t.object {
                Object::Link { name, index } => format!("{name}:{index}"),
                Object::Script(name) => format!("script:{name}"),
            };
            (
                what,
                if t.reverse {
                    -1000 + t.weight
                } else {
                    t.weight
                },
            )
        })
        .collect()
}

fn read(text: &str) -> Keepalived {
    config::keepalived::read_text(text, "test.conf")
        .unwrap()
        .config
}

fn seed_links() -> Vec<LinkInfo> {
    vec![
        link(1, "lo", &["127.0.0.1/8"]),
        // A VIP left behind by a crash comes first: it must not be the primary.
        link(
            2,
            "eth0",
            &["192.168.0.100/32", "192.168.0.101/24", "fe80::1/64"],
        ),
        link(3, "eth1", &["192.168.33.20/24"]),
        link(4, "eth2", &["192.168.0.102/24"]),
    ]
}

#[test]
fn the_seed_3_2_instance_with_vips_on_two_devices_and_ah() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../config/testdata/seed-3-2.conf"
    ))
    .unwrap();
    let k = read(&text);
    let links = seed_links();
    let (groups, problems) = groups(&k, &HostNames(&links));
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(groups.len(), 1);
    let m = &groups[0].members[0];
    assert_eq!(groups[0].name, None);
    assert_eq!(
        (m.name.as_str(), m.ifname.as_str(), m.ifindex),
        ("VI_1", "eth0", 2)
    );
    assert_eq!(m.settings.version, Version::V2);
    assert_eq!(m.settings.vrid, 51);
    assert_eq!(m.settings.priority, 100);
    assert_eq!(m.settings.advert_int, Duration::from_secs(3));
    assert_eq!(m.settings.auth, Auth::Ah);
    assert_eq!(m.ah_key, Some(Key::from_pass("sfjpvrrp")));
    assert_eq!(
        m.settings.primary_ip,
        "192.168.0.101".parse::<IpAddr>().unwrap()
    );
    assert!(m.settings.preempt);
    assert_eq!(
        m.vips,
        vec![
            Vip {
                prefix: prefix("192.168.0.100/32"),
                ifname: "eth2".into(),
                ifindex: 4,
                excluded: false,
                vmac: None
            },
            Vip {
                prefix: prefix("192.168.33.10/24"),
                ifname: "eth1".into(),
                ifindex: 3,
                excluded: false,
                vmac: None
            },
        ]
    );
    // keepalived tracks the interface and those of the VIPs: without one of them the
    // instance cannot hold its addresses.
    assert_eq!(
        tracked(m),
        vec![
            ("eth0:2".to_string(), 0),
            ("eth2:4".to_string(), 0),
            ("eth1:3".to_string(), 0)
        ]
    );
    // keepalived's defaults: the lower-priority announcements follow the master ones.
    assert_eq!(
        m.garp,
        GarpTiming {
            delay: Duration::from_secs(5),
            repeat: 5,
            refresh: None,
            refresh_repeat: 1,
            lower_prio_delay: Duration::from_secs(5),
            lower_prio_repeat: 5,
            interval: Duration::ZERO,
            na_interval: Duration::ZERO,
        }
    );
    assert_eq!(m.group, Some("224.0.0.18".parse().unwrap()));
    assert!(m.vmacs.is_empty() && m.fault.is_none() && m.warnings.is_empty());
    assert_eq!(m.vrids_here, vec![51]);
}

const TWO: &str = r#"
global_defs {
    vrrp_version 3
    vrrp_garp_master_refresh 60
}
vrrp_sync_group G {
    group {
        EXT
        INT
    }
}
vrrp_instance EXT {
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 0.1
    nopreempt
    track_interface {
        eth1
    }
    unicast_peer {
        192.168.0.102
    }
    garp_master_repeat 2
    virtual_ipaddress {
        192.168.0.100
    }
    virtual_ipaddress_excluded {
        192.168.0.200/24 dev eth2
    }
}
vrrp_instance INT {
    interface eth0
    virtual_router_id 52
    priority 150
    garp_master_refresh 30
    virtual_ipaddress {
        192.168.33.10/24 dev eth1
    }
}
vrrp_instance LONE {
    interface eth1
    virtual_router_id 51
    version 2
    authentication {
        auth_type PASS
        auth_pass secret
    }
    virtual_ipaddress {
        192.168.33.99
    }
}
"#;

#[test]
fn sync_groups_unicast_tracking_excluded_addresses_and_defaults() {
    let k = read(TWO);
    let links = seed_links();
    let (groups, problems) = groups(&k, &HostNames(&links));
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].name.as_deref(), Some("G"));
    let names: Vec<&str> = groups[0].members.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, vec!["EXT", "INT"]);
    let ext = &groups[0].members[0];
    assert_eq!(ext.settings.version, Version::V3);
    assert_eq!(ext.settings.advert_int, Duration::from_millis(100));
    assert!(!ext.settings.preempt);
    assert_eq!(
        ext.settings.unicast_peers,
        vec!["192.168.0.102".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(
        tracked(ext),
        vec![
            ("eth1:3".to_string(), 0),
            ("eth0:2".to_string(), 0),
            ("eth2:4".to_string(), 0)
        ]
    );
    assert_eq!(ext.group, None, "unicast peers: no multicast group");
    // Excluded addresses are configured but never advertised.
    assert_eq!(
        ext.settings.addresses,
        vec!["192.168.0.100".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(ext.vips.len(), 2);
    assert!(ext.vips[1].excluded);
    assert_eq!(ext.garp.repeat, 2);
    assert_eq!(ext.garp.refresh, Some(Duration::from_secs(60)));
    // The instance's own refresh wins over vrrp_garp_master_refresh.
    assert_eq!(
        groups[0].members[1].garp.refresh,
        Some(Duration::from_secs(30))
    );
    assert_eq!(ext.vrids_here, vec![51, 52]);
    let lone = &groups[1].members[0];
    assert_eq!(lone.settings.version, Version::V2);
    assert_eq!(lone.settings.auth, Auth::Pass(*b"secret\0\0"));
    assert_eq!(
        lone.settings.primary_ip,
        "192.168.33.20".parse::<IpAddr>().unwrap()
    );
    assert_eq!(lone.vrids_here, vec![51]);
}

#[test]
fn a_sync_group_fails_as_one_and_a_lone_instance_alone() {
    let k = read(TWO);
    let links = vec![link(2, "eth0", &["192.168.0.101/24"]), link(3, "eth1", &[])];
    let (groups, unstartable) = groups(&k, &HostNames(&links));
    // INT of group G could run; EXT cannot (no eth2 for its excluded address), so G
    // does not start at all: its members move together or not at all.
    assert!(groups.is_empty(), "{groups:?}");
    assert_eq!(
        unstartable,
        vec![
            Unstartable {
                name: Some("G".into()),
                members: vec!["EXT".into(), "INT".into()],
                reason: "vrrp_instance EXT: no interface \"eth2\"".into(),
            },
            Unstartable {
                name: None,
                members: vec!["LONE".into()],
                reason: "vrrp_instance LONE: interface eth1 has no IPv4 address to send from"
                    .into(),
            },
        ]
    );
    // Each member's status names the cause, and for a group the member that caused it.
    assert_eq!(
        unstartable[0].reason_for("INT"),
        "sync group G does not start: vrrp_instance EXT: no interface \"eth2\""
    );
    assert_eq!(
        unstartable[1].reason_for("LONE"),
        "interface eth1 has no IPv4 address to send from"
    );
}

#[test]
fn an_ipv6_instance_sends_from_the_link_local_address_or_does_not_start() {
    let k = read(
        "vrrp_instance V6 {\n interface eth0\n virtual_router_id 52\n version 3\n virtual_ipaddress {\n  fd00::100/64\n  fd00:33::10/64 dev eth1\n }\n}\n",
    );
    // Without a link-local address (none, or only failed ones: `links` leaves those
    // out) the global address is not taken instead (RFC 5798 §5.1.2.1).
    let links = vec![
        link(2, "eth0", &["192.168.0.101/24", "fd00::101/64"]),
        link(3, "eth1", &[]),
    ];
    let (groups_now, unstartable) = groups(&k, &HostNames(&links));
    assert!(groups_now.is_empty());
    assert_eq!(
        unstartable[0].reason_for("V6"),
        "interface eth0 has no IPv6 link-local address to send from (none, or only ones that failed duplicate address detection)"
    );
    let links = vec![
        link(2, "eth0", &["fd00::101/64", "fe80::5054:ff:fe00:10/64"]),
        link(3, "eth1", &[]),
    ];
    let (groups, unstartable) = groups(&k, &HostNames(&links));
    assert!(unstartable.is_empty(), "{unstartable:?}");
    let m = &groups[0].members[0];
    assert_eq!(
        m.settings.primary_ip,
        "fe80::5054:ff:fe00:10".parse::<IpAddr>().unwrap()
    );
    // The gateway VIP lives on eth1, which is where its announcements go.
    assert_eq!(
        m.vips
            .iter()
            .map(|v| (v.prefix.to_string(), v.ifindex))
            .collect::<Vec<_>>(),
        vec![
            ("fd00::100/64".to_string(), 2),
            ("fd00:33::10/64".to_string(), 3)
        ]
    );
}
