//! The `bgp` block's `lvs_sync_daemon int id N` (issue 18's connection sync in a group,
//! the second line behind `mh`): every box runs the kernel's sync daemon as master and
//! backup at once, so a connection that only one box forwards is known to the other
//! before any of its packets reaches it.

mod common;

use std::time::{Duration, Instant};

use common::*;
use lvsfw_lab::addresses::*;
use lvsfw_lab::programs::LONG_CLIENT;
use lvsfw_lab::{Appliance, ApplianceSpec, Error};

const SYNC_ID: u8 = 5;

fn conf() -> String {
    format!(
        "
virtual_server {VIP} 9000 {{
    delay_loop 3
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server {RS1} 9000 {{
        TCP_CHECK {{
            connect_timeout 2
        }}
    }}
    real_server {RS2} 9000 {{
        TCP_CHECK {{
            connect_timeout 2
        }}
    }}
}}
bgp {{
    local_as 65002
    lvs_sync_daemon int id {SYNC_ID}
}}
"
    )
}

/// The connections `lb` has from the client (`/proc/net/ip_vs_conn` lines).
fn client_connections(lb: &mut Appliance) -> Result<usize, Error> {
    let table = command_output(lb, "debug cat /proc/net/ip_vs_conn")?;
    let client = proc_endpoint(CLIENT, 0);
    let client = &client[..client.len() - 5];
    Ok(table
        .lines()
        .filter(|l| l.contains(client) && l.contains("ESTABLISHED"))
        .count())
}

#[test]
fn a_connection_one_box_forwards_is_known_to_the_other() -> Result<(), Error> {
    let mut s = scenario("syncgrp")?;
    s.serve_echo()?;
    let mut lb1 = s.boot_lb1(&conf(), vec![], "")?;
    // lb2 does not hold the VIP: no client packet ever reaches it.
    let mut lb2 = s.lab.boot(ApplianceSpec {
        name: "lb2".into(),
        config_json: Some(format!(
            r#"{{"hostname": "lb2", "interfaces": [
                {{"role": "ext", "addresses": ["{LB2_EXT}/24"]}},
                {{"role": "int", "addresses": ["{LB2_INT}/24"]}}]}}"#
        )),
        files: vec![("etc/lvsfw/keepalived.conf".into(), conf().into_bytes())],
        ..ApplianceSpec::default()
    })?;
    let both =
        format!("IPVS sync daemon: master and backup on int (id {SYNC_ID}), for the bgp group");
    for lb in [&mut lb1, &mut lb2] {
        lb.wait_for(&both, Duration::from_secs(60))?;
    }
    assert_eq!(client_connections(&mut lb2)?, 0, "nothing to sync yet");

    let flag = s.lab.log_path("done-flag");
    let client = s.client.clone();
    s.lab.spawn(
        &client,
        &["python3", "-c", LONG_CLIENT, VIP, &flag.to_string_lossy()],
        "long-client",
    )?;
    let client_log = s.lab.log_path("long-client");
    wait_file_line(&client_log, "first one", Duration::from_secs(30))?;
    assert_eq!(
        client_connections(&mut lb1)?,
        1,
        "lb1 forwards the connection"
    );

    // The master daemon sends a connection once it has seen a few packets of it.
    let started = Instant::now();
    let mut known = 0;
    while started.elapsed() < Duration::from_secs(20) {
        known = client_connections(&mut lb2)?;
        if known > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(
        known, 1,
        "lb2 learned lb1's connection from the sync daemon"
    );
    eprintln!(
        "lb2 knew the connection {:?} after lb1 forwarded it",
        started.elapsed()
    );
    std::fs::write(&flag, "")?;
    Ok(())
}
