//! The seed's scenario 3-2 (issue 5): two appliances with the seed's keepalived.conf
//! (VRRP with AH on the third NIC, the external VIP and the internal gateway VIP in one
//! instance), real servers routed through the gateway VIP, and a client that keeps
//! asking. The master is killed; the backup takes over within the master-down interval
//! and an established connection survives through the kernel's connection sync.

mod common;

use std::time::Duration;

use common::*;
use lvsfw_lab::addresses::*;
use lvsfw_lab::programs::{ECHO_SERVER, LONG_CLIENT};
use lvsfw_lab::seed::{boot_3_2, hosts_3_2, Hosts32, LB1_ADDRS, LB2_ADDRS};
use lvsfw_lab::{Error, Lab};

#[test]
fn the_backup_takes_over_and_established_connections_survive() -> Result<(), Error> {
    let mut lab = Lab::new("seed32", true)?;
    let Hosts32 { client, rs1, rs2 } = hosts_3_2(&mut lab)?;
    for rs in [&rs1, &rs2] {
        lab.spawn(
            rs,
            &["python3", "-c", ECHO_SERVER],
            &format!("echo-{}", rs.name),
        )?;
    }

    let mut lb1 = boot_3_2(&mut lab, "lb1", "MASTER", None, LB1_ADDRS)?;
    lb1.wait_for("IPVS: 6 changes applied", Duration::from_secs(60))?;
    lb1.wait_for("VI_1: BACKUP -> MASTER", Duration::from_secs(30))?;
    lb1.wait_for("IPVS sync daemon: master on", Duration::from_secs(10))?;
    let mut lb2 = boot_3_2(&mut lab, "lb2", "BACKUP", None, LB2_ADDRS)?;
    lb2.wait_for("IPVS: 6 changes applied", Duration::from_secs(60))?;
    lb2.wait_for("IPVS sync daemon: backup on", Duration::from_secs(10))?;

    // Both real servers answer through the VIP, alternating.
    until(&client, Duration::from_secs(30), 20, alternating)?;

    // A long-lived connection through lb1, and a client asking every 20 ms.
    let flag = lab.log_path("failed-over");
    lab.spawn(
        &client,
        &["python3", "-c", LONG_CLIENT, VIP, &flag.to_string_lossy()],
        "long-client",
    )?;
    let long_log = lab.log_path("long-client");
    wait_file_line(&long_log, "first one", Duration::from_secs(20))?;
    // The connection reaches the backup's table before the master goes (sync interval).
    std::thread::sleep(Duration::from_secs(3));
    let stop_probe = probe(&mut lab, &client, &format!("http://{VIP}/"), "prober")?;
    std::thread::sleep(Duration::from_secs(3));

    // The master dies hard.
    lb1.monitor("quit")?;
    lb1.kill();
    let killed = std::time::Instant::now();
    lb2.wait_for("VI_1: BACKUP -> MASTER", Duration::from_secs(20))?;
    eprintln!(
        "lb2 MASTER {} ms after lb1 was quit",
        killed.elapsed().as_millis()
    );
    lb2.wait_for("IPVS sync daemon: master on", Duration::from_secs(10))?;
    std::thread::sleep(Duration::from_secs(5));
    let gap_ms = longest_gap(&lab, "prober", &stop_probe)?;
    // master-down = 3 x advert_int + (256 - priority) x advert_int / 256 = 9 + 1.83 s.
    let master_down_ms = 3 * 3000 + (256 - 100) * 3000 / 256;
    eprintln!("client's longest gap: {gap_ms} ms (master-down interval {master_down_ms} ms)");
    assert!(
        gap_ms < master_down_ms + 1000,
        "longest gap {gap_ms} ms, master-down {master_down_ms} ms + 1 s"
    );
    let answers = std::fs::read_to_string(lab.log_path("prober"))?;
    let last: Vec<String> = answers
        .lines()
        .filter_map(|l| l.strip_prefix("answer "))
        .map(str::to_string)
        .collect();
    assert!(
        alternating(&last) && last.len() >= 4,
        "answers after the takeover: {last:?}"
    );

    // The connection opened through lb1 goes on through lb2.
    std::fs::write(&flag, b"")?;
    wait_file_line(&long_log, "second two", Duration::from_secs(20))?;

    // lb1 comes back. Both have priority 100 in the seed: per RFC 5798 §6.4.2 a backup
    // stays backup while adverts of an equal priority arrive, so lb2 keeps the VIPs and
    // the client sees no gap.
    let stop_probe = probe(
        &mut lab,
        &client,
        &format!("http://{VIP}/"),
        "prober-return",
    )?;
    std::thread::sleep(Duration::from_secs(2));
    let mut lb1 = boot_3_2(&mut lab, "lb1b", "MASTER", None, LB1_ADDRS)?;
    lb1.wait_for("IPVS sync daemon: backup on", Duration::from_secs(60))?;
    // Three advert intervals and the skew pass without lb1 taking over.
    std::thread::sleep(Duration::from_millis(master_down_ms + 1000));
    let text = lb1.console.text();
    assert!(
        !text.contains("VI_1: BACKUP -> MASTER"),
        "lb1 took over an equal priority"
    );
    let gap_ms = longest_gap(&lab, "prober-return", &stop_probe)?;
    eprintln!("client's longest gap while lb1 returned: {gap_ms} ms");
    assert!(gap_ms < 1000, "longest gap {gap_ms} ms while lb1 returned");
    Ok(())
}

#[test]
fn a_returning_master_of_higher_priority_preempts_without_a_gap() -> Result<(), Error> {
    let mut lab = Lab::new("preempt", true)?;
    let Hosts32 { client, .. } = hosts_3_2(&mut lab)?;
    // The usual variant of the seed: the master's copy has the higher priority.
    let mut lb2 = boot_3_2(&mut lab, "lb2", "BACKUP", Some(100), LB2_ADDRS)?;
    lb2.wait_for("VI_1: BACKUP -> MASTER", Duration::from_secs(60))?;
    until(&client, Duration::from_secs(30), 10, alternating)?;

    let stop_probe = probe(&mut lab, &client, &format!("http://{VIP}/"), "prober")?;
    std::thread::sleep(Duration::from_secs(2));
    let mut lb1 = boot_3_2(&mut lab, "lb1", "MASTER", Some(150), LB1_ADDRS)?;
    lb1.wait_for("VI_1: BACKUP -> MASTER", Duration::from_secs(60))?;
    lb2.wait_for("VI_1: MASTER -> BACKUP", Duration::from_secs(10))?;
    std::thread::sleep(Duration::from_secs(3));
    let gap_ms = longest_gap(&lab, "prober", &stop_probe)?;
    eprintln!("client's longest gap while lb1 preempted: {gap_ms} ms");
    assert!(gap_ms < 1000, "longest gap {gap_ms} ms while lb1 preempted");
    until(&client, Duration::from_secs(10), 10, alternating)?;
    Ok(())
}
