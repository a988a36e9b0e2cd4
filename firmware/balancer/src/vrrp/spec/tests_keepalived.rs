//! keepalived's VRRP keywords beyond the RFC, as the spec maps them: defaults, global
//! fallbacks, strict mode, use_vmac, tracking weights and sync-group rules.

use super::*;

fn link(index: u32, name: &str, addresses: &[&str]) -> LinkInfo {
    LinkInfo {
        index,
        name: name.into(),
        addresses: addresses.iter().map(|a| a.parse().unwrap()).collect(),
    }
}

fn links() -> Vec<LinkInfo> {
    vec![
        link(2, "eth0", &["192.168.0.101/24", "fe80::1/64"]),
        link(3, "eth1", &["192.168.33.20/24"]),
    ]
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The one group of `text` on [`links`], which must all start.
fn groups_of(text: &str) -> Vec<GroupSpec> {
    let k = config::keepalived::read_text(text, "test.conf")
        .unwrap()
        .config;
    let links = links();
    let (groups, problems) = groups(&k, &HostNames(&links));
    assert!(problems.is_empty(), "{problems:?}");
    groups
}

fn one(global: &str, body: &str) -> MemberSpec {
    let text = format!(
        "global_defs {{\n{global}\n}}\nvrrp_instance V {{\n interface eth0\n virtual_router_id 51\n{body}\n virtual_ipaddress {{\n  192.168.0.100/24\n }}\n}}\n"
    );
    groups_of(&text).remove(0).members.remove(0)
}

fn weights(m: &MemberSpec) -> Vec<(String, i32, bool)> {
    m.track
        .iter()
        .map(|t| {
            let what = match &t.object {
                Object::Link { name, .. } => name.clone(),
                Object::Script(name) => format!("script {name}"),
            };
            (what, t.weight, t.reverse)
        })
        .collect()
}

#[test]
fn answers_to_other_masters_follow_the_instance_then_the_global_then_strict_mode() {
    let m = one("", "");
    assert!(!m.settings.lower_prio_no_advert && !m.settings.higher_prio_send_advert);
    assert!(!m.settings.check_unicast_src && !m.settings.skip_check_adv_addr);
    assert_eq!(m.settings.down_timer_adverts, 3);
    assert_eq!(m.checksum, ChecksumMode::PseudoHeader);
    let m = one(
        " vrrp_lower_prio_no_advert\n vrrp_higher_prio_send_advert\n vrrp_check_unicast_src\n vrrp_skip_check_adv_addr\n v3_checksum_as_v2\n vrrp_down_timer_adverts 5",
        "",
    );
    assert!(m.settings.lower_prio_no_advert && m.settings.higher_prio_send_advert);
    assert!(m.settings.check_unicast_src && m.settings.skip_check_adv_addr);
    assert_eq!(m.settings.down_timer_adverts, 5);
    assert_eq!(m.checksum, ChecksumMode::WithoutPseudoHeader);
    let m = one(
        " vrrp_lower_prio_no_advert",
        " lower_prio_no_advert false\n down_timer_adverts 4\n skip_check_adv_addr",
    );
    assert!(!m.settings.lower_prio_no_advert, "the instance's own wins");
    assert_eq!(m.settings.down_timer_adverts, 4);
    assert!(m.settings.skip_check_adv_addr);
    // strict_mode: never an answer to a lower master, none before stepping down, and no
    // lower-priority announcements (keepalived's vrrp_complete_instance).
    let m = one(
        "",
        " strict_mode\n lower_prio_no_advert false\n higher_prio_send_advert\n garp_lower_prio_repeat 3",
    );
    assert!(m.settings.lower_prio_no_advert && !m.settings.higher_prio_send_advert);
    assert_eq!(m.garp.lower_prio_repeat, 0);
}

#[test]
fn multicast_group_source_and_unicast_ttl() {
    let m = one(
        " vrrp_mcast_group4 224.0.0.19",
        " mcast_src_ip 192.168.0.101",
    );
    assert_eq!(m.group, Some(ip("224.0.0.19")));
    assert_eq!(m.settings.primary_ip, ip("192.168.0.101"));
    let m = one(" vrrp_mcast_group4 224.0.0.19", " mcast_dst_ip 224.0.0.20");
    assert_eq!(m.group, Some(ip("224.0.0.20")), "the instance's own wins");
    assert_eq!(m.unicast_ttl, 255);
    let m = one(
        "",
        " unicast_peer {\n  192.168.0.102\n }\n unicast_ttl 2\n check_unicast_src",
    );
    assert_eq!((m.group, m.unicast_ttl), (None, 2));
    assert!(m.settings.check_unicast_src);
    assert_eq!(m.settings.unicast_peers, vec![ip("192.168.0.102")]);
    // Without peers keepalived ignores unicast_ttl, and says so.
    let m = one("", " unicast_ttl 2");
    assert_eq!(m.unicast_ttl, 255);
    assert_eq!(m.warnings.len(), 1);
}

#[test]
fn unicast_fault_no_peer_without_peers_is_a_fault_that_stays() {
    let m = one("", " unicast_fault_no_peer");
    assert!(m
        .fault
        .as_deref()
        .unwrap()
        .starts_with("unicast_fault_no_peer"));
    let m = one(
        "",
        " unicast_fault_no_peer\n unicast_peer {\n  192.168.0.102\n }",
    );
    assert_eq!(m.fault, None);
}

#[test]
fn gratuitous_arp_timing_with_its_global_defaults() {
    let m = one(
        " vrrp_garp_master_refresh 60\n vrrp_garp_master_refresh_repeat 2\n vrrp_garp_lower_prio_repeat 3\n vrrp_garp_lower_prio_delay 10\n vrrp_garp_interval 0.01\n vrrp_gna_interval 0.02",
        "",
    );
    assert_eq!(m.garp.refresh, Some(Duration::from_secs(60)));
    assert_eq!(m.garp.refresh_repeat, 2);
    assert_eq!(
        (m.garp.lower_prio_repeat, m.garp.lower_prio_delay),
        (3, Duration::from_secs(10))
    );
    assert_eq!(m.garp.interval, Duration::from_millis(10));
    assert_eq!(m.garp.na_interval, Duration::from_millis(20));
    let m = one(
        " vrrp_garp_lower_prio_repeat 3",
        " garp_lower_prio_repeat 1\n garp_lower_prio_delay 2\n garp_master_refresh_repeat 4",
    );
    assert_eq!(
        (
            m.garp.lower_prio_repeat,
            m.garp.lower_prio_delay,
            m.garp.refresh_repeat
        ),
        (1, Duration::from_secs(2), 4)
    );
    // vrrp_min_garp: one ARP, no second round, unless set otherwise; the lower-priority
    // ones follow (keepalived copies the global values after reading them).
    let m = one(" vrrp_min_garp", "");
    assert_eq!(
        (m.garp.repeat, m.garp.delay, m.garp.lower_prio_repeat),
        (1, Duration::ZERO, 1)
    );
    let m = one(" vrrp_min_garp\n vrrp_garp_master_repeat 3", "");
    assert_eq!(m.garp.repeat, 3);
}

#[test]
fn use_vmac_puts_the_instance_s_vips_on_a_macvlan_with_the_vrrp_mac() {
    let m = one("", " use_vmac");
    assert_eq!(
        m.vmacs,
        vec![Vmac {
            name: "vrrp.51".into(),
            parent: 2,
            parent_name: "eth0".into(),
            mac: [0, 0, 0x5e, 0, 1, 51],
            ipv6: false,
        }]
    );
    assert_eq!(m.vips[0].vmac, Some(0));
    assert!(!m.xmit_base);
    // The parent is tracked, not the macvlan lvsfw makes.
    assert_eq!(weights(&m), vec![("eth0".into(), 0, false)]);
    let m = one("", " use_vmac vmac51 00:00:5e:00:01:99\n vmac_xmit_base");
    assert_eq!(m.vmacs[0].name, "vmac51");
    assert_eq!(m.vmacs[0].mac, [0, 0, 0x5e, 0, 1, 0x99]);
    assert!(m.xmit_base);
    // keepalived sends unicast adverts from the parent, and says so.
    let m = one("", " use_vmac\n unicast_peer {\n  192.168.0.102\n }");
    assert!(m.xmit_base);
    assert_eq!(m.warnings.len(), 1);
}

#[test]
fn use_vmac_addr_gives_vips_on_other_interfaces_a_macvlan_of_their_own() {
    let text = "vrrp_instance V {\n interface eth0\n virtual_router_id 51\n use_vmac\n use_vmac_addr\n virtual_ipaddress {\n  192.168.0.100/24\n  192.168.33.10/24 dev eth1\n  192.168.33.11/24 dev eth1\n }\n}\n";
    let m = groups_of(text).remove(0).members.remove(0);
    let names: Vec<(&str, u32)> = m
        .vmacs
        .iter()
        .map(|v| (v.name.as_str(), v.parent))
        .collect();
    assert_eq!(names, vec![("vrrp.51", 2), ("vrrp1.51", 3)]);
    let on: Vec<Option<usize>> = m.vips.iter().map(|v| v.vmac).collect();
    assert_eq!(on, vec![Some(0), Some(1), Some(1)]);
    // Without use_vmac_addr those stay on eth1 itself.
    let plain = groups_of(&text.replace(" use_vmac_addr\n", ""))
        .remove(0)
        .members
        .remove(0);
    assert_eq!(plain.vmacs.len(), 1);
    assert_eq!(plain.vips[1].vmac, None);
}

#[test]
fn two_instances_never_share_a_default_macvlan_name() {
    let text = "vrrp_instance A {\n interface eth0\n virtual_router_id 51\n use_vmac\n virtual_ipaddress {\n  192.168.0.100/24\n }\n}\nvrrp_instance B {\n interface eth1\n virtual_router_id 51\n use_vmac\n virtual_ipaddress {\n  192.168.33.10/24\n }\n}\n";
    let groups = groups_of(text);
    assert_eq!(groups[0].members[0].vmacs[0].name, "vrrp.51");
    assert_eq!(groups[1].members[0].vmacs[0].name, "vrrp1.51");
}

#[test]
fn an_ipv6_macvlan_needs_vmac_xmit_base_for_now() {
    let text = "vrrp_instance V6 {\n interface eth0\n virtual_router_id 52\n version 3\n use_vmac\n virtual_ipaddress {\n  fd00::100/64\n }\n}\n";
    let k = config::keepalived::read_text(text, "t.conf")
        .unwrap()
        .config;
    let links = links();
    let (groups_now, problems) = groups(&k, &HostNames(&links));
    assert!(groups_now.is_empty());
    assert!(
        problems[0].reason.contains("vmac_xmit_base"),
        "{problems:?}"
    );
    let with_base = text.replace(" use_vmac\n", " use_vmac\n vmac_xmit_base\n");
    let m = groups_of(&with_base).remove(0).members.remove(0);
    assert_eq!(m.vmacs[0].mac, [0, 0, 0x5e, 0, 2, 52]);
}

const SCRIPT: &str = "vrrp_script gw {\n PING_CHECK {\n  connect_ip 192.168.0.1\n }\n weight -20\n}\nvrrp_script web {\n TCP_CHECK {\n  connect_ip 127.0.0.1\n  connect_port 80\n }\n}\n";

#[test]
fn weights_of_interfaces_and_scripts_and_dont_track_primary() {
    let m = one(
        "",
        &format!(
            " track_interface {{\n  eth1 weight 10\n  eth0 weight -5\n }}\n track_script {{\n  gw\n  web weight 5 reverse\n }}\n}}\n{}vrrp_instance W {{\n interface eth1\n virtual_router_id 9\n virtual_ipaddress {{\n  192.168.33.99/24\n }}",
            SCRIPT
        ),
    );
    // eth0 is the instance's own interface: unweighted whatever track_interface said.
    assert_eq!(
        weights(&m),
        vec![
            ("eth1".into(), 10, false),
            ("eth0".into(), 0, false),
            ("script gw".into(), -20, false),
            ("script web".into(), 5, true),
        ]
    );
    let m = one(
        "",
        " dont_track_primary\n track_interface {\n  eth0 weight -5\n }",
    );
    assert_eq!(weights(&m), vec![("eth0".into(), -5, false)]);
    let m = one("", " dont_track_primary");
    assert!(m.track.is_empty());
}

#[test]
fn sync_groups_drop_their_members_weights_unless_told_and_add_their_own() {
    let text = |extra: &str| {
        format!(
            "{SCRIPT}vrrp_sync_group G {{\n group {{\n  A\n  B\n }}\n track_script {{\n  gw\n }}\n track_interface {{\n  eth1 weight -30\n }}\n{extra}}}\nvrrp_instance A {{\n interface eth0\n virtual_router_id 51\n track_interface {{\n  eth1 weight 7\n }}\n track_script {{\n  web weight 5\n }}\n virtual_ipaddress {{\n  192.168.0.100/24\n }}\n}}\nvrrp_instance B {{\n interface eth0\n virtual_router_id 52\n virtual_ipaddress {{\n  192.168.0.200/24\n }}\n}}\n"
        )
    };
    let g = groups_of(&text("")).remove(0);
    let a = &g.members[0];
    // A's own weight on eth1 is dropped (FAULT when down), its weighted script is not
    // tracked at all; the group's eth1 keeps A's unweighted entry, its gw applies.
    assert_eq!(
        weights(a),
        vec![
            ("eth1".into(), 0, false),
            ("eth0".into(), 0, false),
            ("script gw".into(), -20, false),
        ]
    );
    assert_eq!(a.warnings.len(), 2, "{:?}", a.warnings);
    assert_eq!(
        weights(&g.members[1]),
        vec![
            ("eth0".into(), 0, false),
            ("eth1".into(), -30, false),
            ("script gw".into(), -20, false),
        ]
    );
    // sync_group_tracking_weight keeps the members' weights; the group's weight then
    // replaces A's weighted entry (keepalived's add_vrrp_to_interface).
    let g = groups_of(&text(" sync_group_tracking_weight\n")).remove(0);
    assert_eq!(
        weights(&g.members[0]),
        vec![
            ("eth1".into(), -30, false),
            ("eth0".into(), 0, false),
            ("script web".into(), 5, false),
            ("script gw".into(), -20, false),
        ]
    );
}

#[test]
fn the_address_owner_tracks_no_weights() {
    let m = one(
        "",
        &format!(
            " priority 255\n track_interface {{\n  eth1 weight 10\n }}\n track_script {{\n  gw\n }}\n}}\n{SCRIPT}vrrp_instance W {{\n interface eth1\n virtual_router_id 9\n virtual_ipaddress {{\n  192.168.33.99/24\n }}"
        ),
    );
    assert_eq!(weights(&m), vec![("eth0".into(), 0, false)]);
    assert_eq!(m.warnings.len(), 2);
}

#[test]
fn startup_delay_and_real_time_priority_come_from_global_defs() {
    let text = "global_defs {\n vrrp_startup_delay 5\n max_auto_priority 10\n min_auto_priority_delay 200000\n}\nvrrp_instance V {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  192.168.0.100/24\n }\n}\n";
    let g = groups_of(text).remove(0);
    assert_eq!(g.startup_delay, Duration::from_secs(5));
    assert_eq!(
        g.auto_priority,
        Some(AutoPriority {
            max: 10,
            delay: Duration::from_millis(200)
        })
    );
    let g =
        groups_of(&text.replace(" max_auto_priority 10\n", " max_auto_priority -1\n")).remove(0);
    assert_eq!(g.auto_priority, None);
}

#[test]
fn virtual_routes_and_rules_are_the_member_s_and_their_links_are_tracked_unless_no_track() {
    let m = one(
        "",
        " dont_track_primary\n virtual_routes {\n  10.8.0.0/16 via 192.168.33.1 dev eth1\n  10.9.0.0/16 via 192.168.33.1 dev eth1 metric 9 no_track\n  blackhole 10.66.0.0/16\n }\n virtual_rules {\n  from 192.168.8.0/24 table 8 iif eth0 no_track\n  fwmark 7 table 7\n }",
    );
    let to: Vec<String> = m.routes.iter().map(|r| r.to.to_string()).collect();
    assert_eq!(to, ["10.8.0.0/16", "10.9.0.0/16", "10.66.0.0/16"]);
    assert_eq!(m.routes[0].oif, Some(3));
    assert_eq!((m.routes[1].metric, m.routes[2].kind), (Some(9), 6));
    assert_eq!(m.rules.len(), 2);
    assert_eq!(m.rules[0].iif.as_deref(), Some("eth0"));
    // keepalived's numbering of rules without a priority.
    assert_eq!((m.rules[0].priority, m.rules[1].priority), (16384, 16383));
    // The tracked route's link is tracked (FAULT when down); the no_track ones are not,
    // and dont_track_primary keeps eth0 (the VIP's) out.
    assert_eq!(weights(&m), vec![("eth1".to_string(), 0, false)]);
}

#[test]
fn a_virtual_route_on_an_unknown_interface_keeps_the_instance_from_starting() {
    let k = config::keepalived::read_text(
        "vrrp_instance V {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  192.168.0.100/24\n }\n virtual_routes {\n  10.8.0.0/16 via 192.168.33.1 dev eth7\n }\n}\n",
        "test.conf",
    )
    .unwrap()
    .config;
    let links = links();
    let (groups, problems) = groups(&k, &HostNames(&links));
    assert!(groups.is_empty());
    assert!(
        problems[0].reason.contains(
            "virtual_routes \"10.8.0.0/16 via 192.168.33.1 dev eth7\": no interface \"eth7\""
        ),
        "{problems:?}"
    );
}
