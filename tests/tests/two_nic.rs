//! Issue 17: the two-NIC box (board qemu-2nic-x86_64: ext and int only), management on
//! int. Seed 3-2 with management (and with it the seed's VRRP link and the IPVS sync
//! daemon) on an 802.1Q VLAN of int that the configuration makes the mgmt role, made by
//! the boxes at boot (rtnetlink); the lab's kernel has no VLAN driver, so the admin
//! host's tagging is done by a small program on its port. Seed 3-1 on a box whose
//! first-boot setup put management on int's own network. The page is never on ext.

mod common;

use std::time::{Duration, Instant};

use common::*;
use lvsfw_lab::addresses::*;
use lvsfw_lab::seed::{
    boot_3_2_vlan, hosts_3_2, Hosts32, LB1_ADDRS, LB2_ADDRS, MGMT_VLAN, TWO_NIC_BOARD,
    TWO_NIC_FACTORY,
};
use lvsfw_lab::{Error, Lab, Net};

const BOOT: Duration = Duration::from_secs(90);
const SHORT: Duration = Duration::from_secs(10);

#[test]
fn seed_3_2_with_management_on_a_vlan_of_int() -> Result<(), Error> {
    let mut lab = Lab::new("vlanmgmt", false)?;
    let Hosts32 { client, rs1, .. } = hosts_3_2(&mut lab)?;
    // The admin host sits on int: untagged in the real servers' network, and on the
    // management VLAN.
    let admin = lab.add_host("admin", Net::Int, "192.168.33.50/24", None)?;
    lab.add_vlan(&admin, MGMT_VLAN, "10.0.2.50/24")?;

    let mut lb1 = boot_3_2_vlan(&mut lab, "lb1", "MASTER", LB1_ADDRS)?;
    lb1.wait_for("made VLAN 10 mgmt on link", BOOT)?;
    lb1.wait_for("VI_1: BACKUP -> MASTER", BOOT)?;
    let mut lb2 = boot_3_2_vlan(&mut lab, "lb2", "BACKUP", LB2_ADDRS)?;
    lb2.wait_for("IPVS sync daemon: backup on mgmt", BOOT)?;
    until(&client, Duration::from_secs(30), 10, alternating)?;

    // VRRP runs over the VLAN: lb2 hears lb1 (an advert every 3 s) and stays backup.
    let deadline = Instant::now() + SHORT;
    loop {
        let vrrp = lb2.command("show vrrp", SHORT)?;
        if vrrp.contains("BACKUP") && vrrp.contains(&format!("master {}", LB1_ADDRS.2)) {
            break;
        }
        assert!(Instant::now() < deadline, "lb2 does not hear lb1: {vrrp}");
        std::thread::sleep(Duration::from_millis(500));
    }
    // The page answers on the VLAN, and not on int untagged (nor on ext).
    let (lb1_mgmt, lb2_mgmt) = (LB1_ADDRS.2, LB2_ADDRS.2);
    let login = login_page(&mut lb1, &admin, lb1_mgmt)?;
    assert!(is_the_page(&login), "{login}");
    for (from, address) in [(&admin, LB1_INT), (&rs1, LB1_INT), (&client, LB1_EXT)] {
        assert!(
            page_refused(from, address)?,
            "the page answered on {address} to {}",
            from.name
        );
    }
    let interfaces = lb1.command("show interfaces", SHORT)?;
    assert!(
        interfaces
            .lines()
            .any(|l| l.starts_with("mgmt") && l.contains(&format!("{lb1_mgmt}/24"))),
        "{interfaces}"
    );

    // The master dies; the backup takes over over the VLAN and serves the page there.
    let stop = probe(&mut lab, &client, &format!("http://{VIP}/"), "prober")?;
    std::thread::sleep(Duration::from_secs(2));
    lb1.monitor("quit")?;
    lb1.kill();
    let killed = Instant::now();
    lb2.wait_for("VI_1: BACKUP -> MASTER", Duration::from_secs(20))?;
    eprintln!(
        "lb2 MASTER {} ms after lb1 was quit",
        killed.elapsed().as_millis()
    );
    std::thread::sleep(Duration::from_secs(4));
    let gap_ms = longest_gap(&lab, "prober", &stop)?;
    let master_down_ms = 3 * 3000 + (256 - 100) * 3000 / 256;
    eprintln!("the client's longest gap: {gap_ms} ms (master-down {master_down_ms} ms)");
    assert!(gap_ms < master_down_ms + 1500, "longest gap {gap_ms} ms");
    let login = login_page(&mut lb2, &admin, lb2_mgmt)?;
    assert!(is_the_page(&login), "{login}");
    Ok(())
}

/// Types an answer at first-boot setup and waits for what comes next.
fn answer(lb: &mut lvsfw_lab::Appliance, text: &str, then: &str) -> Result<(), Error> {
    lb.send_line(text)?;
    lb.wait_for(then, SHORT).map(|_| ())
}

#[test]
fn seed_3_1_on_a_two_nic_box_managed_on_int() -> Result<(), Error> {
    let mut lab = Lab::new("twonic31", false)?;
    let client = lab.add_host("client", Net::Ext, &format!("{CLIENT}/24"), None)?;
    for (name, address, body) in [("rs1", RS1, DOCKER1), ("rs2", RS2, DOCKER2)] {
        let rs = lab.add_host(name, Net::Int, &format!("{address}/24"), Some(LB1_INT))?;
        lab.serve_http(&rs, &format!("{body}\n"))?;
    }
    let admin = lab.add_host("admin", Net::Int, "192.168.33.50/24", None)?;
    let mut lb1 = lab.boot(lvsfw_lab::ApplianceSpec {
        name: "lb1".into(),
        board_conf: Some(TWO_NIC_BOARD.into()),
        config_json: Some(TWO_NIC_FACTORY.into()),
        login: true,
        ..lvsfw_lab::ApplianceSpec::default()
    })?;

    // First-boot setup says where management lives on this box and asks how.
    lb1.wait_for("First-boot setup", BOOT)?;
    lb1.wait_for("This box has two NICs", SHORT)?;
    lb1.wait_for(
        "Management VLAN on int (1 to 4094, or \"none\") [none]: ",
        SHORT,
    )?;
    answer(&mut lb1, "5000", "error: \"5000\" is not a VLAN ID")?;
    answer(&mut lb1, "", "Management address/prefix [10.0.2.15/24]: ")?;
    answer(&mut lb1, &format!("{LB1_INT}/24"), "Default gateway")?;
    answer(&mut lb1, "none", "Hostname")?;
    answer(&mut lb1, "lb1", "Admin password")?;
    answer(&mut lb1, "s3cret-pass", "Admin password again: ")?;
    answer(&mut lb1, "s3cret-pass", "setting up")?;
    lb1.wait_for(
        &format!("the management address is {LB1_INT}/24; the page: https://{LB1_INT}/"),
        Duration::from_secs(120),
    )?;
    lb1.wait_for("lvsfw> ", SHORT)?;

    // 3-1 on it: ext gets its address and the VIP, the seed's file is imported.
    let said = lb1.command(
        &format!("set interface ext address {LB1_EXT}/24 {VIP}/24"),
        SHORT,
    )?;
    assert!(said.contains("candidate changed"), "{said}");
    let applied = import_and_apply(&mut lb1, SEED_3_1)?;
    assert!(applied.contains("1 virtual server"), "{applied}");
    until(&client, Duration::from_secs(30), 10, alternating)?;

    // The page on int, where management is, and never on ext.
    let login = login_page(&mut lb1, &admin, LB1_INT)?;
    assert!(login.contains("action=\"/login\""), "{login}");
    assert!(page_refused(&client, LB1_EXT)?, "the page answered on ext");
    Ok(())
}
