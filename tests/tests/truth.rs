//! Issue 21: what the box says is what runs. A part that cannot start says why and starts
//! by itself once it can; apply and `show status` tell the truth; a factory-new box is
//! quiet; a reboot stops the balancer cleanly, so the peer takes over after its skew time.

use std::time::{Duration, Instant};

use lvsfw_lab::addresses::*;
use lvsfw_lab::programs::ROUTER_ADVERT;
use lvsfw_lab::seed::{boot_3_2, hosts_3_2, three_nic_config, LB1_ADDRS, LB2_ADDRS};
use lvsfw_lab::{Appliance, ApplianceSpec, Error, Lab, Net};

const BOOT: Duration = Duration::from_secs(90);
const SHORT: Duration = Duration::from_secs(10);

/// A sync group whose int member sends unicast from int's address to the peer.
const GROUP: &str = "global_defs {
    lvs_sync_daemon int VI_INT
}
vrrp_sync_group G {
    group {
        VI_EXT
        VI_INT
    }
}
vrrp_instance VI_EXT {
    state MASTER
    interface ext
    virtual_router_id 51
    priority 150
    advert_int 1
    virtual_ipaddress {
        192.168.0.100/24 dev ext
    }
}
vrrp_instance VI_INT {
    state MASTER
    interface int
    virtual_router_id 52
    priority 150
    advert_int 1
    unicast_src_ip 192.168.33.20
    unicast_peer {
        192.168.33.21
    }
    virtual_ipaddress {
        192.168.33.10/24 dev int
    }
}
";

/// Pastes `text` at `config import`; what the console answered.
fn import(lb: &mut Appliance, text: &str) -> Result<String, Error> {
    lb.send_line("config import")?;
    lb.wait_for("paste the keepalived.conf", SHORT)?;
    for line in text.lines() {
        lb.send_line(line)?;
    }
    lb.send_line(".")?;
    lb.console.wait_through("lvsfw> ", Duration::from_secs(30))
}

#[test]
fn a_part_that_cannot_start_says_why_and_starts_once_it_can() -> Result<(), Error> {
    let mut lab = Lab::new("truth", true)?;
    // Boots without its int NIC: the group's int member cannot run until it appears.
    // It is plugged into a PCIe root port (q35 hot-plugs only there), so the board
    // names int at the port's address.
    let mut spec = ApplianceSpec {
        unplugged: vec![Net::Int],
        ..ApplianceSpec::default()
    };
    let int_pci = spec
        .plugged_address(Net::Int)
        .ok_or_else(|| Error("no address for the plugged int NIC".into()))?;
    let board = include_str!("../../board/qemu-x86_64/board.conf").replace(
        "nic int  pci 0000:00:11.0",
        &format!("nic int  pci {int_pci}"),
    );
    assert!(
        board.contains(&int_pci),
        "the board's int line moved: {board}"
    );
    spec.board_conf = Some(board);
    let no_nic = format!("int: no NIC at pci {int_pci}");
    let mut lb1 = lab.boot(ApplianceSpec {
        name: "lb1".into(),
        config_json: Some(three_nic_config(
            "lb1",
            LB1_ADDRS.0,
            LB1_ADDRS.1,
            LB1_ADDRS.2,
        )),
        files: vec![(
            "etc/lvsfw/keepalived.conf".into(),
            GROUP.as_bytes().to_vec(),
        )],
        mgmt: true,
        ..spec
    })?;
    lb1.wait_for("VI_EXT, VI_INT: not running", BOOT)?;
    let vrrp = lb1.command("show vrrp", SHORT)?;
    for instance in ["VI_EXT", "VI_INT"] {
        assert!(
            vrrp.contains(&format!("{instance}: NOT RUNNING")),
            "{instance}: {vrrp}"
        );
    }
    assert!(
        vrrp.contains(&format!(
            "why: sync group G does not start: vrrp_instance VI_INT: {no_nic}"
        )),
        "{vrrp}"
    );
    let status = lb1.command("show status", SHORT)?;
    assert!(
        status.contains("not running (tried again until it runs):"),
        "{status}"
    );
    assert!(status.contains("VRRP VI_INT: not running"), "{status}");
    assert!(
        !lb1.console.text().contains("IPVS sync daemon: backup on"),
        "the sync daemon follows an instance that does not run"
    );

    // A source address the box does not have is refused at its line, nothing changes.
    let refused = import(
        &mut lb1,
        &GROUP.replace(
            "unicast_src_ip 192.168.33.20",
            "unicast_src_ip 192.168.33.99",
        ),
    )?;
    assert!(
        refused.contains("pasted:26:5: unicast_src_ip: 192.168.33.99 is not an address of interface int (it has 192.168.33.20/24)"),
        "{refused}"
    );
    assert!(refused.contains("1 error; nothing imported"), "{refused}");

    // Apply says what does not run.
    let said = lb1.command("set hostname lb1-truth", SHORT)?;
    assert!(said.contains("candidate changed"), "{said}");
    let applied = lb1.command("config apply", Duration::from_secs(60))?;
    // The NIC, both members of the group and the sync daemon that follows one.
    assert!(
        applied.contains("but 4 parts are not running:"),
        "{applied}"
    );
    for part in [
        format!("  interfaces: {no_nic}"),
        format!("  VRRP VI_EXT: not running: sync group G does not start: vrrp_instance VI_INT: {no_nic}"),
        "  VRRP VI_INT: not running: sync group G does not start".to_string(),
        format!("  IPVS sync daemon: not running: lvs_sync_daemon: {no_nic}"),
    ] {
        assert!(applied.contains(&part), "{part}: {applied}");
    }
    assert!(!applied.contains("everything configured runs"), "{applied}");

    // The NIC appears: the group starts by itself, the balancer is not restarted.
    let plugged = Instant::now();
    lb1.plug(Net::Int)?;
    lb1.wait_for("VRRP: VI_EXT, VI_INT started", Duration::from_secs(60))?;
    eprintln!(
        "the group started {} ms after the NIC was plugged in",
        plugged.elapsed().as_millis()
    );
    lb1.wait_for("IPVS sync daemon: ", SHORT)?;
    let vrrp = lb1.command("show vrrp", SHORT)?;
    assert!(!vrrp.contains("NOT RUNNING"), "{vrrp}");
    let status = lb1.command("show status", SHORT)?;
    assert!(
        status.contains("running: everything configured"),
        "{status}"
    );
    assert!(status.contains(", 0 restarts"), "{status}");
    Ok(())
}

#[test]
fn a_factory_new_box_is_quiet_and_takes_no_routes_from_the_network() -> Result<(), Error> {
    let mut lab = Lab::new("quiet", false)?;
    let router = lab.add_host("rtr", Net::Ext, "192.168.0.1/24", None)?;
    // The image's own configuration: nothing given to ext and int.
    let mut lb1 = lab.boot(ApplianceSpec {
        name: "lb1".into(),
        ..ApplianceSpec::default()
    })?;
    lb1.wait_for("balancer: interfaces up", BOOT)?;
    let interfaces = lb1.command("show interfaces", SHORT)?;
    let line = |text: &str, name: &str| -> String {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_default()
            .to_string()
    };
    for role in ["ext", "int"] {
        let l = line(&interfaces, role);
        assert!(l.contains(" down "), "{role} is not down: {interfaces}");
        assert!(
            !l.contains("192.168."),
            "{role} has an address: {interfaces}"
        );
    }
    assert!(line(&interfaces, "lo").contains(" up "), "{interfaces}");

    // Given an address, ext comes up; router advertisements on it change nothing.
    lb1.command("set interface ext address 192.168.0.101/24", SHORT)?;
    let applied = lb1.command("config apply", Duration::from_secs(60))?;
    assert!(applied.contains("applied:"), "{applied}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !router.ping(LB1_EXT) {
        assert!(Instant::now() < deadline, "ext {LB1_EXT} does not answer");
        std::thread::sleep(Duration::from_millis(500));
    }
    let sent = router.output(&["python3", "-c", ROUTER_ADVERT, "5"])?;
    assert!(
        String::from_utf8_lossy(&sent.stdout).contains("sent"),
        "{sent:?}"
    );
    std::thread::sleep(Duration::from_secs(2));
    let interfaces = lb1.command("show interfaces", SHORT)?;
    assert!(
        !interfaces.contains("2001:db8:21:"),
        "an address from the RA: {interfaces}"
    );
    assert!(
        !interfaces.contains("::/0"),
        "a default route from the RA: {interfaces}"
    );
    assert!(
        line(&interfaces, "ext").contains("192.168.0.101/24"),
        "{interfaces}"
    );
    Ok(())
}

#[test]
fn a_rebooting_master_stops_cleanly_and_the_peer_takes_over_at_once() -> Result<(), Error> {
    let mut lab = Lab::new("rebootmaster", true)?;
    let _hosts = hosts_3_2(&mut lab)?;
    let mut lb1 = boot_3_2(&mut lab, "lb1", "MASTER", Some(150), LB1_ADDRS)?;
    lb1.wait_for("VI_1: BACKUP -> MASTER", BOOT)?;
    let mut lb2 = boot_3_2(&mut lab, "lb2", "BACKUP", None, LB2_ADDRS)?;
    lb2.wait_for("IPVS sync daemon: backup on", BOOT)?;
    std::thread::sleep(Duration::from_secs(4));

    let rebooted = Instant::now();
    lb1.send_line("reboot")?;
    lb2.wait_for("VI_1: BACKUP -> MASTER", Duration::from_secs(30))?;
    let took = rebooted.elapsed();
    lb1.wait_for("init: rebooting", Duration::from_secs(20))?;
    let text = lb1.console.text();
    assert!(
        !text.contains("did not stop"),
        "the balancer was killed:\n{text}"
    );
    let stopped = text
        .lines()
        .find(|l| l.contains("balancer: stopped in"))
        .unwrap_or("no 'stopped in' line");
    // The seed is VRRPv2 with advert_int 3; lb2 has priority 100. Without lb1's
    // priority-0 advert it would wait Master_Down_Interval, 3 x 3 s + skew; with it, the
    // skew only (RFC 3768 §6.1, §6.4.2: Skew_Time = (256 - Priority) / 256 seconds).
    let skew_ms = (256 - 100) * 1000 / 256;
    let master_down_ms = 3 * 3000 + skew_ms;
    eprintln!(
        "reboot -> peer MASTER: {} ms (skew {skew_ms} ms, master-down {master_down_ms} ms); {stopped}",
        took.as_millis()
    );
    assert!(
        (took.as_millis() as u64) < master_down_ms as u64,
        "the peer waited for master-down: {} ms",
        took.as_millis()
    );
    Ok(())
}
