//! Issue 17: the two-NIC box (board qemu-2nic-x86_64: ext and int only). Management, and
//! with it the seed's VRRP link and the IPVS sync daemon, lives on an 802.1Q VLAN of int
//! that the configuration makes the mgmt role; the boxes themselves make the VLAN at
//! boot (rtnetlink). The lab's kernel has no VLAN driver, so the admin host's tagging
//! is done by a small program on its port.

mod common;

use std::time::{Duration, Instant};

use common::*;
use lvsfw_lab::addresses::*;
use lvsfw_lab::seed::{boot_3_2_vlan, hosts_3_2, Hosts32, LB1_ADDRS, LB2_ADDRS, MGMT_VLAN};
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
