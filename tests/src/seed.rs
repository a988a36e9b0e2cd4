//! The seed walkthrough's configurations as the lab uses them: its keepalived.conf
//! files, the real servers' pages, and the appliances' addresses.

use crate::addresses::*;

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
