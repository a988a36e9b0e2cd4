use super::*;
use crate::vrrp::{HostNames, LinkInfo};

fn links() -> Vec<LinkInfo> {
    vec![
        LinkInfo {
            index: 2,
            name: "ext".into(),
            addresses: vec![],
        },
        LinkInfo {
            index: 3,
            name: "int".into(),
            addresses: vec![],
        },
    ]
}

fn read(text: &str) -> Keepalived {
    config::keepalived::read_text(text, "k.conf")
        .unwrap()
        .config
}

#[test]
fn a_route_line_becomes_the_kernel_s_route_with_keepalived_s_defaults() {
    let k = read("static_routes {\n 10.9.0.0/16 via 192.168.33.1 dev int\n 10.7.0.0/16 via 192.168.33.1 dev int table 7 metric 5 no_track protocol bird\n}\n");
    let links = links();
    let names = HostNames(&links);
    let r = route("static_routes", &k.static_routes[0], &names).unwrap();
    assert_eq!(
        (r.table, r.kind, r.protocol, r.scope, r.metric, r.oif),
        (254, 1, 18, 0, None, Some(3))
    );
    assert_eq!(r.via, Some("192.168.33.1".parse().unwrap()));
    let r = route("static_routes", &k.static_routes[1], &names).unwrap();
    assert_eq!((r.table, r.protocol, r.metric), (7, 12, Some(5)));
}

#[test]
fn errors_name_the_line_as_written() {
    let k = read("static_routes {\n 10.9.0.0/16 via 192.168.33.1 dev eth7\n 10.8.0.0/16 via 192.168.33.1 table wan\n}\nstatic_rules {\n from 192.168.9.0/24 table 9 iif eth9\n}\n");
    let links = links();
    let names = HostNames(&links);
    let priorities = rule_priorities(&k);
    let got = resolve_all(
        ("static_routes", &k.static_routes),
        ("static_rules", &k.static_rules, &priorities[0]),
        &names,
    );
    assert!(got.routes.is_empty() && got.rules.is_empty());
    // A table the kernel has no number for is not installable: skipped, named.
    assert_eq!(got.skipped.len(), 1, "{:?}", got.skipped);
    assert!(
        got.skipped[0].contains("table \"wan\""),
        "{}",
        got.skipped[0]
    );
    let problems = got.unresolved;
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].starts_with("static_routes \"10.9.0.0/16 via 192.168.33.1 dev eth7\": "),
        "{}",
        problems[0]
    );
    assert!(problems[0].contains("eth7"), "{}", problems[0]);
    assert!(
        problems[1].starts_with("static_rules \"from 192.168.9.0/24 table 9 iif eth9\""),
        "{}",
        problems[1]
    );
}

#[test]
fn rules_without_a_priority_get_keepalived_s_per_family_count_down() {
    let k = read(concat!(
        "static_rules {\n from 192.168.9.0/24 table 9\n from fd00:9::/64 table 9\n to 10.1.0.0/16 table 9 priority 77\n}\n",
        "vrrp_instance A {\n interface int\n virtual_router_id 1\n virtual_rules {\n  from 192.168.8.0/24 table 8\n }\n}\n",
        "vrrp_instance B {\n interface int\n virtual_router_id 2\n virtual_rules {\n  fwmark 0x10/0xff table 8\n  fwmark 7 table 7 iif int\n }\n}\n",
    ));
    assert_eq!(
        rule_priorities(&k),
        vec![vec![16384, 16384, 77], vec![16383], vec![16382, 16381]]
    );
    let links = links();
    let names = HostNames(&links);
    let r = rule(
        "virtual_rules",
        &k.vrrp_instances[1].virtual_rules[0],
        16382,
        &names,
    )
    .unwrap();
    assert_eq!(
        (r.fwmark, r.fwmask, r.table, r.protocol),
        (Some(16), Some(255), 8, 18)
    );
    let r = rule(
        "virtual_rules",
        &k.vrrp_instances[1].virtual_rules[1],
        16381,
        &names,
    )
    .unwrap();
    // A mark alone: the kernel reports a mask of all ones; interfaces by name.
    assert_eq!((r.fwmark, r.fwmask), (Some(7), Some(u32::MAX)));
    assert_eq!(r.iif.as_deref(), Some("int"));
}

#[test]
fn a_line_with_an_option_lvsfw_does_not_act_on_is_skipped_and_named() {
    let k = read("static_routes {\n 10.9.0.0/16 via 192.168.33.1 dev int mtu 1400\n 10.8.0.0/16 via 192.168.33.1\n}\nstatic_rules {\n from 192.168.9.0/24 table 9 tos 0x10\n}\n");
    let links = links();
    let got = resolve_all(
        ("static_routes", &k.static_routes),
        ("static_rules", &k.static_rules, &rule_priorities(&k)[0]),
        &HostNames(&links),
    );
    assert_eq!(got.routes.len(), 1);
    assert!(got.rules.is_empty() && got.unresolved.is_empty());
    assert_eq!(got.skipped.len(), 2);
    assert!(
        got.skipped[0].starts_with(
            "static_routes \"10.9.0.0/16 via 192.168.33.1 dev int mtu 1400\": route option \"mtu\""
        ),
        "{}",
        got.skipped[0]
    );
    assert!(got.skipped[1].contains("\"tos\""), "{}", got.skipped[1]);
}
