//! The seed walkthrough's configurations as the lab uses them: its keepalived.conf
//! files, the real servers' pages, and the appliances' addresses.

use crate::addresses::*;
use crate::{Appliance, ApplianceSpec, Error, Host, Lab, Net};

pub const SEED_3_1: &str = include_str!("../../firmware/config/testdata/seed-3-1.conf");
pub const DOCKER1: &str = "<html><h1>Hello Docker1</h1></html>";
pub const DOCKER2: &str = "<html><h1>Hello Docker2</h1></html>";

pub const SEED_3_2: &str = include_str!("../../firmware/config/testdata/seed-3-2.conf");

/// The seed's file with the lab's names: its eth0 (the VRRP link) is the mgmt NIC,
/// eth1 the internal one, eth2 the external one, as the appliance names NICs by role.
/// Added for the test of connection sync: lvs_sync_daemon, and a TCP echo service.
pub fn lab_config_3_2(state: &str) -> String {
    let seed = SEED_3_2
        .replace("state MASTER # BACKUP", &format!("state {state}"))
        .replace("interface eth0", "interface mgmt")
        .replace("dev eth2", "dev ext")
        .replace("dev eth1", "dev int");
    assert!(!seed.contains("eth"), "every interface name mapped");
    format!(
        "global_defs {{\n    lvs_sync_daemon mgmt VI_1\n}}\n{seed}
virtual_server {VIP} 9000 {{
    delay_loop 6
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server {RS1} 9000 {{
        weight 1
        TCP_CHECK {{
            connect_timeout 3
        }}
    }}
    real_server {RS2} 9000 {{
        weight 1
        TCP_CHECK {{
            connect_timeout 3
        }}
    }}
}}
"
    )
}

pub fn three_nic_config(name: &str, ext: &str, int: &str, mgmt: &str) -> String {
    format!(
        r#"{{"hostname": "{name}", "interfaces": [
            {{"role": "ext", "addresses": ["{ext}/24"]}},
            {{"role": "int", "addresses": ["{int}/24"]}},
            {{"role": "mgmt", "addresses": ["{mgmt}/24"]}}]}}"#
    )
}

/// The hosts of scenario 3-2: a client outside, two real servers (Docker1, Docker2)
/// whose default route is the internal gateway VIP.
pub struct Hosts32 {
    pub client: Host,
    pub rs1: Host,
    pub rs2: Host,
}

pub fn hosts_3_2(lab: &mut Lab) -> Result<Hosts32, Error> {
    let client = lab.add_host("client", Net::Ext, &format!("{CLIENT}/24"), None)?;
    let rs1 = lab.add_host("rs1", Net::Int, &format!("{RS1}/24"), Some(GATEWAY_VIP))?;
    let rs2 = lab.add_host("rs2", Net::Int, &format!("{RS2}/24"), Some(GATEWAY_VIP))?;
    lab.serve_http(&rs1, &format!("{DOCKER1}\n"))?;
    lab.serve_http(&rs2, &format!("{DOCKER2}\n"))?;
    Ok(Hosts32 { client, rs1, rs2 })
}

/// lb1's addresses (ext, int, mgmt): its mgmt address is the higher of the two.
pub const LB1_ADDRS: (&str, &str, &str) = (LB1_EXT, LB1_INT, "10.0.2.16");
pub const LB2_ADDRS: (&str, &str, &str) = (LB2_EXT, LB2_INT, "10.0.2.15");

/// Boots an appliance of scenario 3-2 with the seed's file for `state`, its priority
/// replaced by `priority` when given.
pub fn boot_3_2(
    lab: &mut Lab,
    name: &str,
    state: &str,
    priority: Option<u8>,
    addrs: (&str, &str, &str),
) -> Result<Appliance, Error> {
    let mut conf = lab_config_3_2(state);
    if let Some(p) = priority {
        conf = conf.replace("priority 100", &format!("priority {p}"));
    }
    lab.boot(ApplianceSpec {
        name: name.into(),
        config_json: Some(three_nic_config(name, addrs.0, addrs.1, addrs.2)),
        files: vec![("etc/lvsfw/keepalived.conf".into(), conf.into_bytes())],
        mgmt: true,
        ..ApplianceSpec::default()
    })
}

/// The appliance's address on the management network of the page's tests.
pub const MGMT_LB: &str = "10.10.0.1";
/// The admin's host there.
pub const MGMT_ADMIN: &str = "10.10.0.50";

/// 3-1's network with a management network, for the page's tests and benchmark: a
/// client on ext, the two real servers serving their pages, an admin host on mgmt.
/// (the lab, the client, the admin)
pub fn web_lab(test: &str) -> Result<(Lab, Host, Host), Error> {
    let mut lab = Lab::new(test, true)?;
    let client = lab.add_host("client", Net::Ext, &format!("{CLIENT}/24"), None)?;
    let rs1 = lab.add_host("rs1", Net::Int, &format!("{RS1}/24"), Some(LB1_INT))?;
    let rs2 = lab.add_host("rs2", Net::Int, &format!("{RS2}/24"), Some(LB1_INT))?;
    let admin = lab.add_host("admin", Net::Mgmt, &format!("{MGMT_ADMIN}/24"), None)?;
    lab.serve_http(&rs1, &format!("{DOCKER1}\n"))?;
    lab.serve_http(&rs2, &format!("{DOCKER2}\n"))?;
    Ok((lab, client, admin))
}

/// lb1's config.json in [`web_lab`]: 3-1's addresses and the management address; with
/// `admin` (`"admin": {...}`, e.g. [`crate::http::admin_json`]) when given.
pub fn web_lb1_config(admin: Option<&str>) -> String {
    let admin = admin.map(|a| format!(", {a}")).unwrap_or_default();
    format!(
        r#"{{"hostname": "lb1", "interfaces": [
            {{"role": "ext", "addresses": ["{LB1_EXT}/24", "{VIP}/24"]}},
            {{"role": "int", "addresses": ["{LB1_INT}/24"]}},
            {{"role": "mgmt", "addresses": ["{MGMT_LB}/24"]}}]{admin}}}"#
    )
}

/// Scenario 3-2 over both families (issue 17): the seed's IPv4 instance VI_1 unchanged,
/// and beside it VI_6, VRRPv3 over IPv6 on the same mgmt link with the IPv6 VIP on ext
/// and the IPv6 gateway VIP on int, the two in one sync group so that both families
/// move together (keepalived's rule: an instance advertises one family). The IPv6
/// virtual server balances to the real servers' IPv6 web servers on port 8080, checked
/// by HTTP_GET every 2 s.
pub fn lab_config_3_2_dual(state: &str) -> String {
    format!(
        "{}
vrrp_sync_group DUAL {{
    group {{
        VI_1
        VI_6
    }}
}}

vrrp_instance VI_6 {{
    state {state}
    interface mgmt
    virtual_router_id 52
    version 3
    priority 100
    advert_int 1
    virtual_ipaddress {{
        {VIP6}/64 dev ext
        {GATEWAY_VIP6}/64 dev int
    }}
}}

virtual_server {VIP6} 80 {{
    delay_loop 2
    lb_algo rr
    lb_kind NAT
    protocol TCP
{}{}}}
",
        lab_config_3_2(state),
        checked_real_server(RS1_6),
        checked_real_server(RS2_6),
    )
}

/// A real server on port 8080 checked by HTTP_GET; inhibit_on_failure keeps it at weight 0
/// while it fails.
fn checked_real_server(address: &str) -> String {
    format!(
        "    real_server {address} 8080 {{
        weight 1
        inhibit_on_failure
        HTTP_GET {{
            url {{
              path /
              status_code 200
            }}
            connect_timeout 2
            retry 1
            delay_before_retry 1
        }}
    }}
"
    )
}

/// An appliance's native configuration with an IPv4 and an IPv6 address on each NIC.
pub fn dual_stack_config(name: &str, v4: (&str, &str, &str), v6: (&str, &str, &str)) -> String {
    format!(
        r#"{{"hostname": "{name}", "interfaces": [
            {{"role": "ext", "addresses": ["{}/24", "{}/64"]}},
            {{"role": "int", "addresses": ["{}/24", "{}/64"]}},
            {{"role": "mgmt", "addresses": ["{}/24", "{}/64"]}}]}}"#,
        v4.0, v6.0, v4.1, v6.1, v4.2, v6.2
    )
}

/// lb1's and lb2's IPv6 addresses (ext, int, mgmt).
pub const LB1_ADDRS6: (&str, &str, &str) = (LB1_EXT6, LB1_INT6, LB1_MGMT6);
pub const LB2_ADDRS6: (&str, &str, &str) = (LB2_EXT6, LB2_INT6, LB2_MGMT6);

/// The hosts of scenario 3-2 with IPv6 as well: the client gets fd00::50, each real
/// server its IPv6 address with a default route via the IPv6 gateway VIP and a second
/// web server on [address]:8080 with the same page (so that the IPv6 one can be taken
/// out alone); their PIDs, real server 1's first.
pub fn hosts_3_2_dual(lab: &mut Lab) -> Result<(Hosts32, [u32; 2]), Error> {
    let hosts = hosts_3_2(lab)?;
    hosts.client.add_ipv6(&format!("{CLIENT6}/64"))?;
    let mut servers = [0; 2];
    for (i, (rs, address, body)) in [(&hosts.rs1, RS1_6, DOCKER1), (&hosts.rs2, RS2_6, DOCKER2)]
        .into_iter()
        .enumerate()
    {
        rs.add_ipv6(&format!("{address}/64"))?;
        rs.run(&["ip", "-6", "route", "add", "default", "via", GATEWAY_VIP6])?;
        servers[i] = lab.serve_http_on(rs, &format!("[{address}]:8080"), &format!("{body}\n"))?;
    }
    Ok((hosts, servers))
}

/// The two-NIC board (ext and int only; management on int or a VLAN of it).
pub const TWO_NIC_BOARD: &str = include_str!("../../board/qemu-2nic-x86_64/board.conf");
/// Its factory configuration (management on int).
pub const TWO_NIC_FACTORY: &str = include_str!("../../board/qemu-2nic-x86_64/config.json");
/// The management VLAN of the lab's two-NIC boxes, on int.
pub const MGMT_VLAN: u16 = 10;

/// A two-NIC box's native configuration: ext and int, and the mgmt role as VLAN
/// [`MGMT_VLAN`] on int with the mgmt address.
pub fn vlan_mgmt_config(name: &str, (ext, int, mgmt): (&str, &str, &str)) -> String {
    format!(
        r#"{{"hostname": "{name}", "interfaces": [
            {{"role": "ext", "addresses": ["{ext}/24"]}},
            {{"role": "int", "addresses": ["{int}/24"]}},
            {{"role": "mgmt", "vlan": {{"id": {MGMT_VLAN}, "on": "int"}}, "addresses": ["{mgmt}/24"]}}]}}"#
    )
}

/// Scenario 3-2 on the two-NIC board with management (and so VRRP and the IPVS sync
/// daemon, which the seed puts on its third NIC) on VLAN [`MGMT_VLAN`] of int.
pub fn boot_3_2_vlan(
    lab: &mut Lab,
    name: &str,
    state: &str,
    addrs: (&str, &str, &str),
) -> Result<Appliance, Error> {
    lab.boot(ApplianceSpec {
        name: name.into(),
        board_conf: Some(TWO_NIC_BOARD.into()),
        config_json: Some(vlan_mgmt_config(name, addrs)),
        files: vec![(
            "etc/lvsfw/keepalived.conf".into(),
            lab_config_3_2(state).into_bytes(),
        )],
        ..ApplianceSpec::default()
    })
}

/// The PCI slot of the second ext NIC of [`bonded_ext_board`].
pub const EXT_SECOND_SLOT: u8 = 0x18;

/// The qemu-x86_64 board with ext a bond of two NICs (active-backup, miimon 100 ms),
/// 0000:00:10.0 and 0000:00:18.0, whose MAC follows the active member
/// (`fail_over_mac active`).
pub fn bonded_ext_board() -> String {
    let board = include_str!("../../board/qemu-x86_64/board.conf");
    let bonded = format!(
        "nic ext  bond active-backup miimon 100 fail_over_mac active pci 0000:00:10.0 pci 0000:00:{EXT_SECOND_SLOT:02x}.0"
    );
    let out = board.replace("nic ext  pci 0000:00:10.0", &bonded);
    assert_ne!(out, board, "the qemu board's ext line changed");
    out
}
