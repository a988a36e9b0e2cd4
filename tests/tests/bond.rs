//! Issue 17: ext as a bond of two NICs (active-backup, miimon 100 ms, the MAC following
//! the active member). On the master, one member's cable is cut (QEMU `set_link`): the
//! bond goes on over the other, VRRP does not move (the bond's carrier never drops), and
//! the master announces the VIP again with the bond's new MAC, which the client takes.
//! Then the other member's cable is cut: ext is down, the instance (tracking ext)
//! faults, and the backup takes over.

mod common;

use std::time::{Duration, Instant};

use common::*;
use lvsfw_lab::addresses::*;
use lvsfw_lab::seed::{
    bonded_ext_board, hosts_3_2, lab_config_3_2, three_nic_config, Hosts32, EXT_SECOND_SLOT,
    LB1_ADDRS, LB2_ADDRS,
};
use lvsfw_lab::{Appliance, ApplianceSpec, Error, Lab, Net};

const BOOT: Duration = Duration::from_secs(90);

fn boot_bonded(
    lab: &mut Lab,
    name: &str,
    state: &str,
    addrs: (&str, &str, &str),
) -> Result<Appliance, Error> {
    // The seed's instance runs on mgmt; here it also tracks ext, as a box whose clients
    // are on ext should.
    let conf = lab_config_3_2(state).replace(
        "    virtual_ipaddress {",
        "    track_interface {\n        ext\n    }\n    virtual_ipaddress {",
    );
    lab.boot(ApplianceSpec {
        name: name.into(),
        board_conf: Some(bonded_ext_board()),
        config_json: Some(three_nic_config(name, addrs.0, addrs.1, addrs.2)),
        files: vec![("etc/lvsfw/keepalived.conf".into(), conf.into_bytes())],
        mgmt: true,
        extra_nics: vec![(Net::Ext, EXT_SECOND_SLOT)],
        ..ApplianceSpec::default()
    })
}

#[test]
fn a_bond_member_fails_without_a_failover_then_both_and_the_pair_fails_over() -> Result<(), Error> {
    let mut lab = Lab::new("bondext", true)?;
    let Hosts32 { client, .. } = hosts_3_2(&mut lab)?;
    let mut lb1 = boot_bonded(&mut lab, "lb1", "MASTER", LB1_ADDRS)?;
    lb1.wait_for("made bond ext (active-backup)", BOOT)?;
    lb1.wait_for("VI_1: BACKUP -> MASTER", BOOT)?;
    let mut lb2 = boot_bonded(&mut lab, "lb2", "BACKUP", LB2_ADDRS)?;
    lb2.wait_for("IPVS sync daemon: backup on mgmt", BOOT)?;
    until(&client, Duration::from_secs(30), 10, alternating)?;
    // lb1 is the lab's first appliance: its NICs' MACs are 52:54:00:01:00:SLOT.
    let first = "52:54:00:01:00:10";
    let second = format!("52:54:00:01:00:{EXT_SECOND_SLOT:02x}");
    client.wait_neighbour(VIP, first, Duration::from_secs(5))?;

    // One member's cable cut: the bond carries on over the other.
    let stop = probe(&mut lab, &client, &format!("http://{VIP}/"), "prober-one")?;
    std::thread::sleep(Duration::from_secs(2));
    lb1.set_link("ext", false)?;
    let cut = Instant::now();
    lb1.wait_for(
        "VI_1: the MAC of ext changed; announcing the virtual addresses again",
        Duration::from_secs(10),
    )?;
    client.wait_neighbour(VIP, &second, Duration::from_secs(5))?;
    eprintln!(
        "the client has the bond's new MAC {} ms after the cut",
        cut.elapsed().as_millis()
    );
    // Longer than VI_1's master-down interval (10.8 s): a flap would show.
    std::thread::sleep(Duration::from_secs(12));
    let gap_ms = longest_gap(&lab, "prober-one", &stop)?;
    eprintln!("the client's longest gap with one member cut: {gap_ms} ms");
    assert!(gap_ms < 2000, "longest gap {gap_ms} ms with one member cut");
    for (lb, line) in [(&lb1, "VI_1: MASTER ->"), (&lb2, "VI_1: BACKUP -> MASTER")] {
        assert!(
            !lb.console.text().contains(line),
            "{}: \"{line}\" with one bond member still up",
            lb.name
        );
    }

    // The other one too: ext is down, lb1 faults, lb2 takes over.
    let stop = probe(&mut lab, &client, &format!("http://{VIP}/"), "prober-both")?;
    std::thread::sleep(Duration::from_secs(2));
    lb1.set_link(&format!("ext{EXT_SECOND_SLOT:x}"), false)?;
    let cut = Instant::now();
    lb1.wait_for("VI_1: MASTER -> FAULT", Duration::from_secs(10))?;
    lb2.wait_for("VI_1: BACKUP -> MASTER", Duration::from_secs(20))?;
    eprintln!(
        "lb2 MASTER {} ms after the second cut",
        cut.elapsed().as_millis()
    );
    std::thread::sleep(Duration::from_secs(4));
    let gap_ms = longest_gap(&lab, "prober-both", &stop)?;
    let master_down_ms = 3 * 3000 + (256 - 100) * 3000 / 256;
    eprintln!("the client's longest gap with both members cut: {gap_ms} ms");
    assert!(gap_ms < master_down_ms + 1500, "longest gap {gap_ms} ms");
    until(&client, Duration::from_secs(10), 10, alternating)?;
    Ok(())
}
