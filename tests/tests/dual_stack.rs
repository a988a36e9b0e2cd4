//! Issue 17: the seed's scenario 3-2 over both families. Two appliances with an IPv4 and
//! an IPv6 address on every NIC run the seed's IPv4 instance and an IPv6 one (VRRPv3,
//! link-local source) in one sync group, an IPv4 and an IPv6 virtual server (IPVS NAT,
//! HTTP_GET checks); the real servers route through the gateway VIP of each family.
//! One boot of each appliance serves every check: both families balanced; an IPv6 real
//! server taken out by its HTTP_GET and back while IPv4 goes on; the page on the IPv6
//! management address and never on ext; a configuration that mixes families in one
//! instance refused with keepalived's rule; then the master dies and IPv4 and IPv6
//! clients both keep getting answers from the backup.

mod common;

use std::time::{Duration, Instant};

use common::*;
use lvsfw_lab::addresses::*;
use lvsfw_lab::seed::{
    dual_stack_config, hosts_3_2_dual, lab_config_3_2_dual, Hosts32, LB1_ADDRS, LB1_ADDRS6,
    LB2_ADDRS, LB2_ADDRS6,
};
use lvsfw_lab::{Appliance, ApplianceSpec, Error, Lab, Net};

const BOOT: Duration = Duration::from_secs(90);
const SHORT: Duration = Duration::from_secs(10);

fn boot_dual(
    lab: &mut Lab,
    name: &str,
    state: &str,
    v4: (&str, &str, &str),
    v6: (&str, &str, &str),
) -> Result<Appliance, Error> {
    lab.boot(ApplianceSpec {
        name: name.into(),
        config_json: Some(dual_stack_config(name, v4, v6)),
        files: vec![(
            "etc/lvsfw/keepalived.conf".into(),
            lab_config_3_2_dual(state).into_bytes(),
        )],
        mgmt: true,
        ..ApplianceSpec::default()
    })
}

/// The weight `ipvs list` gives the real server `endpoint` (as ipvsadm prints it).
fn weight(lb: &mut Appliance, endpoint: &str) -> Result<Option<u32>, Error> {
    let listing = command_output(lb, "ipvs list")?;
    Ok(listing
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("-> {endpoint} ")))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|w| w.parse().ok()))
}

fn wait_weight(lb: &mut Appliance, endpoint: &str, wanted: u32) -> Result<Duration, Error> {
    let started = Instant::now();
    loop {
        let now = weight(lb, endpoint)?;
        if now == Some(wanted) {
            return Ok(started.elapsed());
        }
        if started.elapsed() > Duration::from_secs(30) {
            return Err(Error(format!(
                "{endpoint}: weight {now:?}, not {wanted}, after 30 s"
            )));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn dual_stack_3_2_balances_checks_and_fails_over_both_families() -> Result<(), Error> {
    let mut lab = Lab::new("dualstack", true)?;
    let (Hosts32 { client, rs1, .. }, [httpd6_rs1, _]) = hosts_3_2_dual(&mut lab)?;
    let admin = lab.add_host("admin", Net::Mgmt, "10.0.2.50/24", None)?;
    admin.add_ipv6(&format!("{ADMIN6}/64"))?;
    let url4 = format!("http://{VIP}/");
    let url6 = format!("http://[{VIP6}]/");

    // A sync group goes master when all its members' timers have run out (keepalived's
    // rule), so VI_1's (advert_int 3) sets the pace; the members change in their order.
    let mut lb1 = boot_dual(&mut lab, "lb1", "MASTER", LB1_ADDRS, LB1_ADDRS6)?;
    lb1.wait_for("VI_1: BACKUP -> MASTER", BOOT)?;
    lb1.wait_for("VI_6: BACKUP -> MASTER", SHORT)?;
    let mut lb2 = boot_dual(&mut lab, "lb2", "BACKUP", LB2_ADDRS, LB2_ADDRS6)?;
    lb2.wait_for("VI_6: INIT -> BACKUP", BOOT)?;

    // Both families balanced over their own real servers.
    until_at(&client, &url4, Duration::from_secs(30), 10, alternating)?;
    until_at(&client, &url6, Duration::from_secs(30), 10, alternating)?;

    // The page on the IPv6 management address, and never on ext (either family).
    let login = login_page(&mut lb1, &admin, LB1_MGMT6)?;
    assert!(is_the_page(&login), "{login}");
    for address in [LB1_EXT6, LB1_EXT] {
        assert!(
            page_refused(&client, address)?,
            "the page answered on ext at {address}"
        );
    }

    // The IPv6 real server 1 fails its HTTP_GET: weight 0 (inhibit_on_failure), the
    // IPv6 clients get server 2 only, IPv4 still alternates; back, it is balanced again.
    let rs1_6 = format!("[{RS1_6}]:8080");
    assert_eq!(weight(&mut lb1, &rs1_6)?, Some(1));
    lab.stop(httpd6_rs1);
    let took = wait_weight(&mut lb1, &rs1_6, 0)?;
    eprintln!("IPv6 real server 1 out after {} ms", took.as_millis());
    until_at(&client, &url6, SHORT, 6, |a| a.iter().all(|b| b == DOCKER2))?;
    until_at(&client, &url4, SHORT, 6, alternating)?;
    lab.serve_http_on(&rs1, &format!("[{RS1_6}]:8080"), &format!("{DOCKER1}\n"))?;
    let took = wait_weight(&mut lb1, &rs1_6, 1)?;
    eprintln!("IPv6 real server 1 back after {} ms", took.as_millis());
    until_at(&client, &url6, Duration::from_secs(20), 10, alternating)?;

    // keepalived's rule: an instance advertises one family. Mixed, the file is refused
    // at the line of the address, and nothing changes.
    lb2.send_line("config import")?;
    lb2.wait_for("paste the keepalived.conf", SHORT)?;
    for line in [
        "vrrp_instance MIXED {",
        "    interface mgmt",
        "    virtual_router_id 53",
        "    version 3",
        "    virtual_ipaddress {",
        "        192.168.0.200/24 dev ext",
        "        fd00::200/64 dev ext",
        "    }",
        "}",
        ".",
    ] {
        lb2.send_line(line)?;
    }
    let report = lb2.console.wait_through("nothing imported", SHORT)?;
    assert!(
        report.contains(
            "pasted:7:9: virtual_ipaddress: fd00::200 is IPv6 but 192.168.0.200 is IPv4; an instance advertises one family (put it in virtual_ipaddress_excluded)"
        ),
        "{report}"
    );
    lb2.wait_for("lvsfw> ", SHORT)?;

    // The master dies hard; both families go on through the backup.
    let stop4 = probe(&mut lab, &client, &url4, "prober4")?;
    let stop6 = probe(&mut lab, &client, &url6, "prober6")?;
    std::thread::sleep(Duration::from_secs(2));
    lb1.monitor("quit")?;
    lb1.kill();
    let killed = Instant::now();
    lb2.wait_for("VI_1: BACKUP -> MASTER", Duration::from_secs(30))?;
    lb2.wait_for("VI_6: BACKUP -> MASTER", SHORT)?;
    eprintln!(
        "lb2 MASTER {} ms after lb1 was quit",
        killed.elapsed().as_millis()
    );
    std::thread::sleep(Duration::from_secs(4));
    // The group takes over with VI_1's master-down interval (advert_int 3, priority 100).
    let master_down_ms = 3 * 3000 + (256 - 100) * 3000 / 256;
    for (log, stop, url) in [("prober4", &stop4, &url4), ("prober6", &stop6, &url6)] {
        let gap_ms = longest_gap(&lab, log, stop)?;
        eprintln!("{url}: the client's longest gap {gap_ms} ms (master-down {master_down_ms} ms)");
        assert!(
            gap_ms < master_down_ms + 1500,
            "{url}: longest gap {gap_ms} ms"
        );
        let answers: Vec<String> = std::fs::read_to_string(lab.log_path(log))?
            .lines()
            .filter_map(|l| l.strip_prefix("answer "))
            .map(str::to_string)
            .collect();
        assert!(
            alternating(&answers) && answers.len() >= 4,
            "{url}: answers after the takeover: {answers:?}"
        );
    }
    // The page follows the management address of the box that is up.
    let login = login_page(&mut lb2, &admin, LB2_MGMT6)?;
    assert!(is_the_page(&login), "{login}");
    Ok(())
}
