use super::*;

const LB1: &str = r#"{
    "hostname": "lb1",
    "interfaces": [
        {"role": "ext", "addresses": ["192.168.0.101/24"], "mtu": 1500},
        {"role": "int", "addresses": ["192.168.33.20/24", "fd33::20/64"]}
    ],
    "routes": [ {"to": "0.0.0.0/0", "via": "192.168.0.1"} ]
}"#;

fn messages(text: &str) -> Vec<String> {
    from_json(text)
        .unwrap_err()
        .iter()
        .map(|i| i.to_string())
        .collect()
}

#[test]
fn reads_a_complete_config() {
    let c = from_json(LB1).unwrap();
    assert_eq!(c.hostname.as_deref(), Some("lb1"));
    let ext = c.interface(Role::Ext).unwrap();
    assert_eq!(ext.addresses, vec!["192.168.0.101/24".parse().unwrap()]);
    assert_eq!(ext.mtu, Some(1500));
    let int = c.interface(Role::Int).unwrap();
    assert_eq!(int.addresses.len(), 2);
    assert_eq!(int.mtu, None);
    assert!(c.interface(Role::Mgmt).is_none());
    assert_eq!(
        c.routes,
        vec![Route {
            to: "0.0.0.0/0".parse().unwrap(),
            via: "192.168.0.1".parse().unwrap()
        }]
    );
}

#[test]
fn empty_object_is_an_empty_config() {
    assert_eq!(from_json("{}").unwrap(), Config::default());
}

#[test]
fn syntax_errors_are_reported_with_what_was_expected() {
    let m = messages("{\n  \"hostname\": \"lb1\"\n  \"interfaces\": []\n}");
    assert_eq!(m, vec!["3:3: expected `,` or `}`"]);
}

#[test]
fn unknown_fields_are_named() {
    let m = messages(r#"{"hostnmae": "lb1"}"#);
    assert_eq!(
        m,
        vec!["1:11: unknown field `hostnmae`, expected one of `hostname`, `interfaces`, `routes`, `admin`, `keepalived`, `syslog`, `ntp_servers`"]
    );
}

#[test]
fn every_value_error_is_reported_with_its_path() {
    let m = messages(
        r#"{
        "hostname": "lb_1",
        "interfaces": [
            {"role": "ext", "addresses": ["192.168.0.300/24", "192.168.0.101/33"], "mtu": 40},
            {"role": "dmz"},
            {"role": "ext"}
        ],
        "routes": [
            {"to": "10.1.2.3/8", "via": "192.168.0.1"},
            {"to": "0.0.0.0/0", "via": "10.9.9.9"},
            {"to": "::/0", "via": "192.168.0.1"}
        ]
    }"#,
    );
    assert_eq!(
        m,
        vec![
            "hostname: \"lb_1\" is not a host name (letters, digits and '-', dot-separated, at most 64 characters)",
            "interfaces[0].addresses[0]: \"192.168.0.300\" is not an IPv4 or IPv6 address",
            "interfaces[0].addresses[1]: prefix length 33 is longer than 32",
            "interfaces[0].mtu: 40 is outside 68..65535",
            "interfaces[1].role: \"dmz\" is not a NIC role (expected ext, int or mgmt)",
            "interfaces[2].role: role ext is configured twice",
            "routes[0].to: 10.1.2.3/8 has host bits set (did you mean 10.0.0.0/8?)",
            "routes[1].via: gateway 10.9.9.9 is not inside any configured interface address",
            "routes[2].via: 192.168.0.1 is not of the same family as ::/0",
        ]
    );
}

#[test]
fn duplicate_addresses_across_interfaces_are_rejected() {
    let m = messages(
        r#"{"interfaces": [
            {"role": "ext", "addresses": ["192.168.0.101/24"]},
            {"role": "int", "addresses": ["192.168.0.101/24"]}
        ]}"#,
    );
    assert_eq!(
        m,
        vec!["interfaces[1].addresses[0]: address 192.168.0.101 is configured twice"]
    );
}

#[test]
fn ipv6_needs_an_mtu_of_at_least_1280() {
    let m =
        messages(r#"{"interfaces": [{"role": "int", "addresses": ["fd00::1/64"], "mtu": 1000}]}"#);
    assert_eq!(m, vec!["interfaces[0].mtu: 1000 is outside 1280..65535"]);
}

#[test]
fn wrong_types_are_named_with_their_position() {
    let m = messages(r#"{"interfaces": [{"role": "ext", "mtu": "big"}]}"#);
    assert_eq!(m, vec!["1:44: invalid type: string \"big\", expected u32"]);
}

#[test]
fn the_metrics_token_hash_and_the_console_timeout_are_checked() {
    let hash = "a".repeat(64);
    let c = from_json(&format!(
        r#"{{"admin": {{"metrics_token_sha256": "{hash}", "console_idle_timeout": 300}}}}"#
    ))
    .unwrap();
    assert_eq!(c.admin.metrics_token_sha256.as_deref(), Some(hash.as_str()));
    assert_eq!(
        c.admin.console_idle_limit(),
        Some(std::time::Duration::from_secs(300))
    );
    assert_eq!(from_json(&to_json(&c)).unwrap(), c);
    assert_eq!(
        Admin::default().console_idle_limit(),
        Some(std::time::Duration::from_secs(900))
    );
    let never = from_json(r#"{"admin": {"console_idle_timeout": 0}}"#).unwrap();
    assert_eq!(never.admin.console_idle_limit(), None);
    let m = messages(r#"{"admin": {"metrics_token_sha256": "secret", "console_idle_timeout": 5}}"#);
    assert_eq!(
        m,
        vec![
            "admin.metrics_token_sha256: not a SHA-256 in lower-case hex (64 characters); the page makes it",
            "admin.console_idle_timeout: 5: seconds from 60 to 86400, or 0 for never"
        ]
    );
}

#[test]
fn escaped_strings_are_unescaped() {
    let c = from_json(r#"{"hostname": "lb\u0031"}"#).unwrap();
    assert_eq!(c.hostname.as_deref(), Some("lb1"));
}

#[test]
fn oversized_input_is_refused_before_parsing() {
    let big = " ".repeat(MAX_TEXT_LEN + 1);
    assert_eq!(
        messages(&big),
        vec![format!("larger than {MAX_TEXT_LEN} bytes")]
    );
}

#[test]
fn too_many_routes_is_an_error() {
    let routes: Vec<String> = (0..=MAX_ROUTES)
        .map(|i| {
            format!(
                r#"{{"to": "10.{}.{}.0/24", "via": "192.168.0.1"}}"#,
                i / 256,
                i % 256
            )
        })
        .collect();
    let text = format!(
        r#"{{"interfaces": [{{"role": "ext", "addresses": ["192.168.0.2/24"]}}], "routes": [{}]}}"#,
        routes.join(",")
    );
    assert_eq!(
        messages(&text),
        vec![format!("routes: more than {MAX_ROUTES} routes")]
    );
}

#[test]
fn a_role_can_be_a_vlan_on_another_role() {
    let text = r#"{"interfaces": [
        {"role": "int", "addresses": ["192.168.33.20/24"]},
        {"role": "mgmt", "vlan": {"id": 10, "on": "int"}, "addresses": ["10.0.2.16/24"]}
    ]}"#;
    let c = from_json(text).unwrap();
    assert_eq!(
        c.interface(Role::Mgmt).unwrap().vlan,
        Some(Vlan {
            id: 10,
            on: Role::Int
        })
    );
    assert_eq!(from_json(&to_json(&c)).unwrap(), c);
    assert!(to_json(&c).contains("\"vlan\": {"));
    let m = messages(
        r#"{"interfaces": [
            {"role": "int", "vlan": {"id": 20, "on": "ext"}},
            {"role": "mgmt", "vlan": {"id": 10, "on": "int"}},
            {"role": "ext", "vlan": {"id": 4095, "on": "mgmt"}}
        ]}"#,
    );
    assert_eq!(
        m,
        vec![
            "interfaces[2].vlan.id: VLAN ID 4095 is outside 1..4094 (0 and 4095 are reserved)",
            "interfaces[1].vlan.on: int is itself a VLAN; a VLAN sits on a NIC's link",
        ]
    );
    let m = messages(r#"{"interfaces": [{"role": "mgmt", "vlan": {"id": 10, "on": "mgmt"}}]}"#);
    assert_eq!(
        m,
        vec!["interfaces[0].vlan.on: mgmt cannot be a VLAN on itself"]
    );
}

#[test]
fn without_mgmt_the_management_address_is_one_of_int() {
    let text = |address: &str| {
        format!(
            r#"{{"interfaces": [
                {{"role": "ext", "addresses": ["192.168.0.101/24"]}},
                {{"role": "int", "addresses": ["10.0.2.15/24"]}}],
              "admin": {{"management_address": "{address}"}}}}"#
        )
    };
    let c = from_json(&text("10.0.2.15")).unwrap();
    assert_eq!(
        c.admin.management_address,
        Some("10.0.2.15".parse().unwrap())
    );
    assert_eq!(
        messages(&text("192.168.0.101")),
        vec!["admin.management_address: 192.168.0.101 is not an address of the int interface"]
    );
}

#[test]
fn ntp_servers_are_addresses_read_and_written_back() {
    let text = r#"{"interfaces": [], "ntp_servers": ["192.168.0.1", "2001:db8::123"]}"#;
    let c = from_json(text).unwrap();
    assert_eq!(
        c.ntp_servers,
        vec![
            "192.168.0.1".parse::<IpAddr>().unwrap(),
            "2001:db8::123".parse().unwrap()
        ]
    );
    assert_eq!(from_json(&to_json(&c)).unwrap(), c);
    assert!(to_json(&c).contains("\"ntp_servers\""));
    // None configured: the key is not written.
    let none = from_json(r#"{"interfaces": []}"#).unwrap();
    assert!(none.ntp_servers.is_empty());
    assert!(!to_json(&none).contains("ntp_servers"));
}

#[test]
fn bad_ntp_servers_are_named_with_their_place() {
    let m = messages(
        r#"{"ntp_servers": ["pool.ntp.org", "0.0.0.0", "224.0.1.1", "192.0.2.1", "192.0.2.1"]}"#,
    );
    assert_eq!(
        m,
        [
            "ntp_servers[0]: \"pool.ntp.org\" is not an IP address (names are not looked up: give the server's address)",
            "ntp_servers[1]: 0.0.0.0 cannot be an NTP server; give a server's unicast address",
            "ntp_servers[2]: 224.0.1.1 cannot be an NTP server; give a server's unicast address",
            "ntp_servers[4]: 192.0.2.1 is given twice",
        ]
    );
    let many: Vec<String> = (1..=9).map(|n| format!("\"192.0.2.{n}\"")).collect();
    let m = messages(&format!(r#"{{"ntp_servers": [{}]}}"#, many.join(",")));
    assert_eq!(m, ["ntp_servers: more than 8 NTP servers"]);
}
