//! Every class of error, with its exact message and place: first what reading finds,
//! then what validation finds (keepalived.conf and JSON), then what needs the native
//! configuration.

mod common;

use common::*;

fn check_table(cases: &[(&str, String, &[&str])]) {
    let mut failures = Vec::new();
    for (name, text, expected) in cases {
        let got = match config::keepalived::read_text(text, "k.conf") {
            Ok(_) => vec!["(no error)".to_string()],
            Err(issues) => issues.iter().map(|i| i.to_string()).collect(),
        };
        if got != *expected {
            failures.push(format!(
                "{name}:\n  got      {got:?}\n  expected {expected:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn reading() {
    check_table(&[
        ("unbalanced {", "global_defs {\n".into(), &["k.conf:1:13: '{' is never closed"]),
        ("unbalanced }", "}\n".into(), &["k.conf:1:1: '}' without a matching '{'"]),
        ("unterminated quote", "global_defs {\n router_id \"lb\n}\n".into(), &["k.conf:2:12: unterminated quoted string", "k.conf:2:2: router_id: expected a name"]),
        // Text (not a file) includes nothing; a file's missing include: tree.rs's tests.
        ("include in text", "include nothing-here.conf\n".into(), &["k.conf:1:1: include is not allowed in pasted text (it would read the appliance's files): paste the included text itself"]),
        ("unknown keyword with a hint", instance("priorty 100"), &["k.conf:4:1: unknown keyword \"priorty\" in vrrp_instance (did you mean \"priority\"?)"]),
        ("unknown keyword without a hint", "frobnicate\n".into(), &["k.conf:1:1: unknown keyword \"frobnicate\" in the top level"]),
        ("number out of range", instance("priority 256"), &["k.conf:4:10: priority: \"256\" is not a whole number from 1 to 255"]),
        ("missing value", instance("priority"), &["k.conf:4:1: priority: expected a whole number from 1 to 255"]),
        ("bad seconds", instance("advert_int soon"), &["k.conf:4:12: advert_int: \"soon\" is not a number of seconds up to 255"]),
        ("bad switch value", instance("nopreempt maybe"), &["k.conf:4:11: nopreempt: \"maybe\" is not on, off, true, false, yes or no"]),
        ("state without a value", instance("state"), &["k.conf:4:1: state: expected MASTER or BACKUP"]),
        ("missing interface and id", "vrrp_instance V {\n}\n".into(), &["k.conf:1:1: vrrp_instance V: interface is missing", "k.conf:1:1: vrrp_instance V: virtual_router_id (1 to 255) is missing"]),
        ("bad auth_type", instance("authentication {\n auth_type MD5\n auth_pass x\n}"), &["k.conf:5:12: auth_type: \"MD5\" is not PASS or AH", "k.conf:4:1: authentication: needs both auth_type and auth_pass"]),
        ("bad VIP", instance("virtual_ipaddress {\n 192.168.0.300\n}"), &["k.conf:5:2: virtual_ipaddress: \"192.168.0.300\" is not an IPv4 or IPv6 address"]),
        ("bad VIP option", instance("virtual_ipaddress {\n 192.168.0.1 device ext\n}"), &["k.conf:5:14: virtual_ipaddress: \"device\" is not an address option (expected dev, brd, label or scope, each with a value)"]),
        ("bad address", instance("unicast_src_ip 10.0.0"), &["k.conf:4:16: unicast_src_ip: \"10.0.0\" is not an IPv4 or IPv6 address"]),
        ("refused keyword", instance("track_bfd {\n bfd1\n}"), &["k.conf:4:1: track_bfd: not supported: lvsfw has no BFD; use track_script with a PING_CHECK of the peer"]),
        ("refused keyword inside a noted block", "SSL {\n password x\n certificat /c\n}\n".into(), &["k.conf:3:2: unknown keyword \"certificat\" in SSL (did you mean \"certificate\"?)"]),
        ("a block expected", instance("track_interface ext"), &["k.conf:4:1: track_interface: expected a { block }"]),
        ("lvs_sync_daemon shape", "global_defs {\n lvs_sync_daemon int\n}\n".into(), &["k.conf:2:2: lvs_sync_daemon: expected INTERFACE VRRP_INSTANCE [id N]"]),
        ("vrrp_script", "vrrp_script chk {\n}\n".into(), &["k.conf:1:1: vrrp_script chk: holds neither a check nor a script (put PING_CHECK, TCP_CHECK, HTTP_GET, ... in it)"]),
        ("vrrp_script check without a target", "vrrp_script chk {\n TCP_CHECK {\n  retry 2\n }\n}\n".into(), &["k.conf:2:2: TCP_CHECK: retry is not for a check in a vrrp_script (its interval, rise and fall decide)"]),
        ("static_routes", "static_routes {\n 10.0.0.0/8 via\n}\n".into(), &["k.conf:2:13: static_routes: via needs a value"]),
        ("virtual_server shape", "virtual_server 10.0.0.1 {\n}\n".into(), &["k.conf:1:1: virtual_server: expected IP PORT, fwmark N or group NAME"]),
        ("bad port", "virtual_server 10.0.0.1 http {\n}\n".into(), &["k.conf:1:25: virtual_server: \"http\" is not a port (0 to 65535)"]),
        ("scheduler without a value", virtual_server("lb_algo"), &["k.conf:3:1: lb_algo: expected a scheduler"]),
        ("tunnel options after DR", virtual_server("lb_kind DR type gue port 6080"), &["k.conf:3:12: lb_kind: tunnel options (type, port, csum) follow TUN"]),
        ("a gue tunnel without its port", virtual_server("lb_kind TUN type gue"), &["k.conf:3:13: lb_kind TUN: a gue tunnel needs port PORT"]),
        ("a tunnel type keepalived does not have", virtual_server("lb_kind TUN type vxlan"), &["k.conf:3:18: lb_kind TUN: \"vxlan\" is not a tunnel type (ipip, gue or gre)"]),
        ("a real server's bad tunnel port", virtual_server("real_server 10.0.1.1 80 {\n lvs_method TUN type gue port 70000\n}"), &["k.conf:4:31: lvs_method TUN: \"70000\" is not a port (1 to 65535)"]),
        ("a sorry server's tunnel options", virtual_server("sorry_server 10.0.9.9 80\nsorry_server_lvs_method TUN type gre"), &["k.conf:4:29: sorry_server_lvs_method: tunnel options (type, port, csum) follow TUN of a real server"]),
        ("protocol without a value", virtual_server("protocol"), &["k.conf:3:1: protocol: expected TCP, UDP or SCTP"]),
        ("bad granularity", virtual_server("persistence_granularity 255.0.255.0"), &["k.conf:3:25: persistence_granularity: \"255.0.255.0\" is not a netmask"]),
        ("sorry_server shape", virtual_server("sorry_server 10.0.0.9 80 x"), &["k.conf:3:1: sorry_server: expected IP [PORT]"]),
        ("sorry_server without a port", virtual_server("sorry_server 10.0.0.9"), &["k.conf:3:1: sorry_server: port 0 is only for a fwmark or port-0 virtual_server"]),
        ("real_server shape", virtual_server("real_server 10.0.1.1 80 x {\n}"), &["k.conf:3:1: real_server: expected IP [PORT]"]),
        ("real_server without a port", virtual_server("real_server 10.0.1.1 {\n}"), &["k.conf:3:1: real_server: port 0 is only for a fwmark or port-0 virtual_server"]),
        ("weight out of range", real_server("weight 70000"), &["k.conf:4:8: weight: \"70000\" is not a whole number from 0 to 65535"]),
        ("BFD checks", real_server("BFD_CHECK {\n}"), &["k.conf:4:1: BFD_CHECK: not supported: lvsfw has no BFD; use PING_CHECK"]),
        ("status_code", check("HTTP_GET", "").replace("path /", "path /\n status_code 200-299 42"), &["k.conf:7:22: status_code: \"42\" is not a status code or range from 100 to 599 (such as 200 or 200-299)"]),
        ("HTTP_GET without url", real_server("HTTP_GET {\n}"), &["k.conf:4:1: HTTP_GET: needs at least one url { path ... }"]),
        ("url without path", real_server("HTTP_GET {\n url {\n  status_code 200\n }\n}"), &["k.conf:5:2: url: path is missing", "k.conf:4:1: HTTP_GET: needs at least one url { path ... }"]),
        ("bad digest", check("HTTP_GET", "").replace("path /", "path /\n digest abc"), &["k.conf:7:9: digest: \"abc\" is not 32 hex digits (an MD5 digest)"]),
        ("url keyword in TCP_CHECK", check("TCP_CHECK", "url {\n}"), &["k.conf:5:1: unknown keyword \"url\" in TCP_CHECK"]),
        ("bad group entry", "virtual_server_group g {\n 10.0.0.1-x 80\n}\n".into(), &["k.conf:2:2: virtual_server_group: \"10.0.0.1-x\" is not an address or a range such as 192.168.1.10-20"]),
        ("group entry shape", "virtual_server_group g {\n 10.0.0.1\n}\n".into(), &["k.conf:2:2: virtual_server_group: expected IP PORT, IP-LAST PORT or fwmark N"]),
    ]);
}

#[test]
fn validation_of_keepalived_conf() {
    let two = |a: &str, b: &str| format!("{a}{b}");
    check_table(&[
        ("advert_int v2", instance("advert_int 0.5"), &["k.conf:4:1: advert_int: 0.5 is not whole seconds from 1 to 255 (VRRPv2; version 3 allows hundredths)"]),
        ("advert_int v3", instance("version 3\nadvert_int 0.005"), &["k.conf:5:1: advert_int: 0.005 is not hundredths of a second from 0.01 to 40.95 (VRRPv3)"]),
        ("advert_int v3 too long", instance("version 3\nadvert_int 41"), &["k.conf:5:1: advert_int: 41 is not hundredths of a second from 0.01 to 40.95 (VRRPv3)"]),
        ("advert_int v3 from global_defs", "global_defs {\n vrrp_version 3\n}\n".to_string() + &instance("advert_int 0.01"), &["(no error)"]),
        (
            "duplicate VRID on one interface and family",
            two(&instance(""), &instance("").replace("vrrp_instance V", "vrrp_instance W")),
            &["k.conf:8:2: virtual_router_id: 1 is already used on interface ext by vrrp_instance V (IPv4)"],
        ),
        (
            "the same VRID in another family is fine",
            two(&instance(""), &instance("virtual_ipaddress {\n fd00::1\n}").replace("vrrp_instance V", "vrrp_instance W")),
            &["(no error)"],
        ),
        ("duplicate instance name", two(&instance(""), &instance("").replace("virtual_router_id 1", "virtual_router_id 2")), &["k.conf:6:1: vrrp_instance: V is defined twice"]),
        ("VIP families mixed", instance("virtual_ipaddress {\n 192.168.0.1\n fd00::1\n}"), &["k.conf:6:2: virtual_ipaddress: fd00::1 is IPv6 but 192.168.0.1 is IPv4; an instance advertises one family (put it in virtual_ipaddress_excluded)"]),
        (
            "VIP as a real server",
            two(&instance("virtual_ipaddress {\n 10.0.1.1\n}"), &real_server("")),
            &["k.conf:10:2: real_server: 10.0.1.1 is a virtual_ipaddress of vrrp_instance V; a real server cannot be a VIP"],
        ),
        ("port 0 without persistence", "virtual_server 10.0.0.1 0 {\n}\n".into(), &["k.conf:1:25: virtual_server: port 0 (every port) needs persistence_timeout"]),
        ("port 0 with persistence", "virtual_server 10.0.0.1 0 {\n persistence_timeout\n real_server 10.0.1.1 0 {\n }\n}\n".into(), &["(no error)"]),
        ("real server port 0", virtual_server(" real_server 10.0.1.1 0 {\n }"), &["k.conf:3:23: real_server: port 0 is only for a fwmark or port-0 virtual_server"]),
        ("real server port 0 under fwmark", "virtual_server fwmark 1 {\n real_server 10.0.1.1 0 {\n }\n}\n".into(), &["(no error)"]),
        ("sorry server port 0", virtual_server("sorry_server 10.0.9.9 0"), &["k.conf:3:1: sorry_server: port 0 is only for a fwmark or port-0 virtual_server"]),
        ("connect_port 0", check("TCP_CHECK", "connect_port 0"), &["k.conf:5:1: connect_port: 0 is not a port (1 to 65535)"]),
        ("real server listed twice", virtual_server(" real_server 10.0.1.1 80 {\n }\n real_server 10.0.1.1 80 {\n }"), &["k.conf:5:2: real_server: 10.0.1.1 80 is listed twice in this virtual_server"]),
        ("real server of another family", virtual_server(" real_server fd00::5 80 {\n }"), &["k.conf:3:2: real_server: fd00::5 is IPv6 but the virtual_server is IPv4 (only TUN crosses families)"]),
        ("virtual server twice", two(&virtual_server(""), &virtual_server("")), &["k.conf:5:1: virtual_server: 10.0.0.1 80 TCP is defined twice"]),
        ("group that does not exist", "virtual_server_group web {\n 10.0.0.1 80\n}\nvirtual_server group wbe {\n protocol TCP\n}\n".into(), &["k.conf:4:1: virtual_server: virtual_server_group \"wbe\" does not exist (did you mean \"web\"?)"]),
        ("group range backwards", "virtual_server_group web {\n 10.0.0.20-10 80\n}\n".into(), &["k.conf:2:2: virtual_server_group web: the range 10.0.0.20 to 10.0.0.10 ends before it starts"]),
        ("group port 0 without persistence", "virtual_server_group web {\n 10.0.0.1 0\n}\nvirtual_server group web {\n protocol TCP\n}\n".into(), &["k.conf:4:1: virtual_server: virtual_server_group web has port 0 (every port), which needs persistence_timeout"]),
        ("sync group member missing", instance("") + "vrrp_sync_group G {\n group {\n  V\n  V2\n }\n}\n", &["k.conf:9:3: group: vrrp_instance \"V2\" does not exist (did you mean \"V\"?)"]),
        (
            "instance in two sync groups",
            instance("") + "vrrp_sync_group G {\n group {\n  V\n }\n}\nvrrp_sync_group H {\n group {\n  V\n }\n}\n",
            &["k.conf:13:3: group: vrrp_instance V is already in vrrp_sync_group G (an instance can be in one group only)"],
        ),
        ("lvs_sync_daemon instance missing", "global_defs {\n lvs_sync_daemon int VI_9\n}\n".to_string() + &instance(""), &["k.conf:2:2: lvs_sync_daemon: vrrp_instance \"VI_9\" does not exist"]),
    ]);
}

#[test]
fn too_many_items_is_an_error_naming_the_limit() {
    let vips: String = (0..=config::keepalived::MAX_VIPS)
        .map(|n| format!(" 10.1.{}.{}\n", n / 256, n % 256))
        .collect();
    assert_eq!(
        errors(&instance(&format!("virtual_ipaddress {{\n{vips}}}"))),
        vec!["k.conf:4:1: virtual_ipaddress: more than 255 (there are 256)"]
    );
}

fn json_errors(text: &str) -> Vec<String> {
    match config::native::from_json(text) {
        Ok(_) => vec!["(no error)".into()],
        Err(issues) => issues.iter().map(|i| i.to_string()).collect(),
    }
}

/// JSON carries what keepalived.conf's grammar would have refused; validation catches it
/// and names the JSON path.
#[test]
fn validation_of_json_names_the_path() {
    let instance = |fields: &str| {
        format!(
            r#"{{"keepalived": {{"vrrp_instances": [{{"name": "V", "interface": "ext", "virtual_router_id": 1 {fields}}}]}}}}"#
        )
    };
    let server = |fields: &str| {
        format!(
            r#"{{"keepalived": {{"virtual_servers": [{{"key": {{"addr": {{"ip": "10.0.0.1", "port": 80}}}}, "protocol": "TCP", "real_servers": [{{"ip": "10.0.1.1", "port": 80 {fields}}}]}}]}}}}"#
        )
    };
    let cases: Vec<(String, Vec<&str>)> = vec![
        (instance(r#", "virtual_router_id": 0"#).replace(r#""virtual_router_id": 1 ,"#, ""), vec!["keepalived.vrrp_instances[0].virtual_router_id: virtual_router_id: 0 is not from 1 to 255"]),
        (instance(r#", "priority": 0"#), vec!["keepalived.vrrp_instances[0].priority: priority: 0 is not from 1 to 255 (0 is what a stopping master sends)"]),
        (instance(r#", "version": 4"#), vec!["keepalived.vrrp_instances[0].version: version: 4 is not 2 or 3"]),
        (instance(r#", "authentication": {"auth_type": "PASS", "auth_pass": "123456789"}"#), vec!["keepalived.vrrp_instances[0].authentication: authentication: auth_pass must have 1 to 8 characters"]),
        (instance(r#", "track_interface": ["a\"b"]"#), vec!["keepalived.vrrp_instances[0].track_interface: track_interface: \"a\\\"b\" cannot hold a double quote or a control character"]),
        (server(r#", "weight": 65536"#), vec!["keepalived.virtual_servers[0].real_servers[0].weight: weight: 65536 is not from 0 to 65535"]),
        (server(r#", "checks": [{"kind": "HTTP_GET"}]"#), vec!["keepalived.virtual_servers[0].real_servers[0].checks[0]: HTTP_GET: needs at least one url { path ... }"]),
        (server(r#", "checks": [{"kind": "HTTP_GET", "url": [{"path": "/", "status_code": 42}]}]"#), vec!["1:226: \"42\" is not a status code or range from 100 to 599 (such as 200 or 200-299)"]),
        (server(r#", "checks": [{"kind": "TCP_CHECK", "retry": 5000}]"#), vec!["keepalived.virtual_servers[0].real_servers[0].checks[0].retry: retry: 5000 is not from 0 to 1000"]),
        (r#"{"keepalived": {"virtual_servers": [{"key": {"fwmark": 1}, "lb_algo": "fastest"}]}}"#.into(), vec!["keepalived.virtual_servers[0].lb_algo: lb_algo: \"fastest\" is not a scheduler (expected one of rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh)"]),
        (r#"{"keepalived": {"virtual_server_groups": [{"name": "g", "entries": [{"range": {"first": "10.0.0.1", "last": "10.0.1.5", "port": 80}}]}]}}"#.into(), vec!["keepalived.virtual_server_groups[0].entries[0]: virtual_server_group g: 10.0.0.1 and 10.0.1.5 differ before the last byte (a range counts only that)"]),
        (r#"{"keepalived": {"global_defs": {"vrrp_version": 1}}}"#.into(), vec!["keepalived.global_defs.vrrp_version: vrrp_version: 1 is not 2 or 3"]),
        (r#"{"keepalived": {"vrrp_instances": [{"name": "V"}]}}"#.into(), vec!["1:48: missing field `interface`"]),
        (r#"{"keepalived": {"virtual_servers": [{"key": {"port": 80}}]}}"#.into(), vec!["1:51: unknown variant `port`, expected one of `addr`, `fwmark`, `group`"]),
        (r#"{"keepalived": {"global_defs": {"vrrp_garp_master_delay": -1}}}"#.into(), vec!["1:61: -1 is not a number of seconds from 0 to 31536000"]),
    ];
    let mut failures = Vec::new();
    for (text, expected) in cases {
        let got = json_errors(&text);
        if got != expected {
            failures.push(format!(
                "{text}\n  got      {got:?}\n  expected {expected:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

const NATIVE: &str = r#"{
    "interfaces": [
        {"role": "ext", "addresses": ["192.168.0.101/24"]},
        {"role": "int", "addresses": ["192.168.33.20/24"]},
        {"role": "mgmt", "addresses": ["10.9.0.2/24"]}
    ],
    "routes": [{"to": "10.50.0.0/16", "via": "192.168.33.1"}]
}"#;

/// What needs the appliance's addresses: the address owner and NAT reachability.
#[test]
fn validation_with_the_native_configuration() {
    let native = config::native::from_json(NATIVE).unwrap();
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            "vrrp_instance V {\n interface ext\n virtual_router_id 1\n priority 255\n virtual_ipaddress {\n  192.168.0.100\n }\n}\n".into(),
            vec!["k.conf:4:2: priority: 255 is only for the address owner (a virtual_ipaddress that is an address of interface ext); use 1 to 254"],
        ),
        (
            "vrrp_instance V {\n interface ext\n virtual_router_id 1\n priority 255\n virtual_ipaddress {\n  192.168.0.101\n }\n}\n".into(),
            vec![],
        ),
        (
            "virtual_server 192.168.0.100 80 {\n protocol TCP\n real_server 192.168.33.11 80 {\n }\n real_server 10.50.3.4 80 {\n }\n real_server 10.60.0.1 80 {\n }\n}\n".into(),
            vec!["k.conf:7:2: real_server: 10.60.0.1 is not reachable through an int address (int has 192.168.33.20/24); a NAT real server must be in an int network or behind a route via one"],
        ),
        (
            "virtual_server 192.168.0.100 80 {\n protocol TCP\n lb_kind DR\n real_server 10.60.0.1 80 {\n }\n}\n".into(),
            vec![],
        ),
    ];
    for (text, expected) in cases {
        let read = config::keepalived::read_text(&text, "k.conf").unwrap();
        let got: Vec<String> = match read.validate_with(&native) {
            Ok(()) => vec![],
            Err(issues) => issues.iter().map(|i| i.to_string()).collect(),
        };
        assert_eq!(got, expected, "{text}");
    }
}

#[test]
fn admin_settings_in_json() {
    let with_admin = |admin: &str| NATIVE.replacen('{', &format!("{{\"admin\": {admin},"), 1);
    assert_eq!(
        json_errors(&with_admin(r#"{"management_address": "192.168.0.101", "password_hash": "secret"}"#)),
        vec![
            "admin.management_address: 192.168.0.101 is not an address of the mgmt interface",
            "admin.password_hash: not a password hash (expected $pbkdf2-sha256$i=ITERATIONS$SALT$HASH, salt and hash in hex)",
        ]
    );
    let hash = config::PasswordHash::new("pw", b"saltsalt", 1000).unwrap();
    let config = config::native::from_json(&with_admin(&format!(
        r#"{{"management_address": "10.9.0.2", "password_hash": "{hash}"}}"#
    )))
    .unwrap();
    assert_eq!(
        config.admin.management_address,
        Some("10.9.0.2".parse().unwrap())
    );
    assert!(config.admin.password.unwrap().verify("pw"));
}
