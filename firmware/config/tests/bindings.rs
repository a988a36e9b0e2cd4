//! Issue 21: what keepalived.conf binds to is checked against the box before it is put
//! in service, each problem at its line and column.

use config::Role;

const NATIVE: &str = r#"{"interfaces": [
    {"role": "ext", "addresses": ["192.168.0.101/24"]},
    {"role": "int", "addresses": ["192.168.33.20/24"]},
    {"role": "mgmt", "addresses": ["10.0.2.16/24"]}]}"#;

fn problems(text: &str, roles: Option<&[Role]>) -> Vec<String> {
    let native = config::native::from_json(NATIVE).unwrap();
    let read = config::keepalived::read_text(text, "k.conf").unwrap();
    match read.check_bindings(&native, roles) {
        Ok(()) => Vec::new(),
        Err(issues) => issues.iter().map(|i| i.to_string()).collect(),
    }
}

fn instance(body: &str) -> String {
    format!("vrrp_instance VI_INT {{\n interface int\n virtual_router_id 52\n{body}\n}}\n")
}

#[test]
fn a_source_address_the_box_does_not_have_is_refused_at_its_line() {
    assert_eq!(
        problems(&instance(" unicast_src_ip 192.168.33.99\n unicast_peer {\n  192.168.33.21\n }"), None),
        ["k.conf:4:2: unicast_src_ip: 192.168.33.99 is not an address of interface int (it has 192.168.33.20/24)"]
    );
    // The box's own address of that interface is fine; another interface's is not.
    assert!(problems(&instance(" unicast_src_ip 192.168.33.20"), None).is_empty());
    assert_eq!(
        problems(&instance(" unicast_src_ip 192.168.0.101"), None),
        ["k.conf:4:2: unicast_src_ip: 192.168.0.101 is not an address of interface int (it has 192.168.33.20/24)"]
    );
}

#[test]
fn interfaces_are_roles_the_board_has() {
    let text = "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n track_interface {\n  mgmt\n }\n virtual_ipaddress {\n  192.168.0.100/24 dev ext1\n }\n}\n";
    assert_eq!(
        problems(text, Some(&[Role::Ext, Role::Int])),
        [
            "k.conf:2:2: interface: \"eth0\" is not an interface of this appliance (ext, int): keepalived.conf names them by role",
            "k.conf:5:3: track_interface: this board has no mgmt NIC",
            "k.conf:8:3: dev: \"ext1\" is not an interface of this appliance (ext, int): keepalived.conf names them by role",
        ]
    );
    let sync = "global_defs {\n lvs_sync_daemon eth1 V\n}\nvrrp_instance V {\n interface ext\n virtual_router_id 1\n}\n";
    assert_eq!(
        problems(sync, None),
        ["k.conf:2:2: lvs_sync_daemon: \"eth1\" is not an interface of this appliance (ext, int, mgmt): keepalived.conf names them by role"]
    );
}

#[test]
fn an_instance_needs_an_address_to_send_from_and_peers_of_its_family() {
    let native = r#"{"interfaces": [{"role": "ext", "addresses": ["192.168.0.101/24"]}, {"role": "int", "addresses": []}]}"#;
    let read = config::keepalived::read_text(&instance(""), "k.conf").unwrap();
    let got: Vec<String> = read
        .check_bindings(&config::native::from_json(native).unwrap(), None)
        .unwrap_err()
        .iter()
        .map(|i| i.to_string())
        .collect();
    assert_eq!(
        got,
        ["k.conf:2:2: interface: int has no IPv4 address in the configuration to send adverts from; give it one or set unicast_src_ip"]
    );
    assert_eq!(
        problems(
            &instance(" unicast_peer {\n  fd00::21\n  192.168.33.20\n }"),
            None
        ),
        [
            "k.conf:5:3: unicast_peer: fd00::21 is IPv6, but the instance sends IPv4",
            "k.conf:6:3: unicast_peer: 192.168.33.20 is this appliance's own address",
        ]
    );
}

#[test]
fn a_check_binds_to_an_address_of_the_box() {
    let text = "virtual_server 192.168.0.100 80 {\n protocol TCP\n real_server 192.168.33.11 80 {\n  TCP_CHECK {\n   bindto 192.168.33.99\n  }\n }\n}\n";
    assert_eq!(
        problems(text, None),
        ["k.conf:5:4: bindto: 192.168.33.99 is not an address of this appliance"]
    );
    assert!(problems(&text.replace(".99", ".20"), None).is_empty());
}
