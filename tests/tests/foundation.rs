//! Issue 2's acceptance: one appliance in the lab, booted from the image, with its
//! interfaces, forwarding, power-off, supervision and bad-input behaviour.

use std::time::{Duration, Instant};

use lvsfw_lab::addresses::*;
use lvsfw_lab::{Appliance, ApplianceSpec, Error, Lab, Net};

const BOOT: Duration = Duration::from_secs(60);

fn lb1_config() -> String {
    format!(
        r#"{{
  "hostname": "lb1",
  "interfaces": [
    {{"role": "ext", "addresses": ["{LB1_EXT}/24"]}},
    {{"role": "int", "addresses": ["{LB1_INT}/24"]}}
  ]
}}"#
    )
}

fn boot_lb1(lab: &mut Lab) -> Result<Appliance, Error> {
    let mut lb1 = lab.boot(ApplianceSpec {
        name: "lb1".into(),
        config_json: Some(lb1_config()),
        ..ApplianceSpec::default()
    })?;
    lb1.wait_for("balancer: interfaces up", BOOT)?;
    Ok(lb1)
}

#[test]
fn interfaces_come_up_and_the_appliance_forwards() -> Result<(), Error> {
    let mut lab = Lab::new("forward", false)?;
    let client = lab.add_host("client", Net::Ext, &format!("{CLIENT}/24"), Some(LB1_EXT))?;
    let rs1 = lab.add_host("rs1", Net::Int, &format!("{RS1}/24"), Some(LB1_INT))?;
    let _lb1 = boot_lb1(&mut lab)?;
    assert!(
        client.ping(LB1_EXT),
        "the client cannot reach ext {LB1_EXT}"
    );
    assert!(
        rs1.ping(LB1_INT),
        "the real server cannot reach int {LB1_INT}"
    );
    // Client -> real server crosses the appliance: forwarding is on.
    assert!(
        client.ping(RS1),
        "a packet from the client does not reach the real server"
    );
    lab.serve_http(&rs1, "<html><h1>Hello Docker1</h1></html>\n")?;
    // The server may need a moment to listen; bounded retries.
    let url = format!("http://{RS1}/");
    let mut body = client.http_get(&url);
    for _ in 0..20 {
        if body.is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        body = client.http_get(&url);
    }
    let body = body?;
    assert_eq!(
        body.trim(),
        "<html><h1>Hello Docker1</h1></html>",
        "TCP through the appliance"
    );
    Ok(())
}

#[test]
fn system_powerdown_powers_off_cleanly_within_10_s() -> Result<(), Error> {
    let mut lab = Lab::new("powerdown", false)?;
    let mut lb1 = boot_lb1(&mut lab)?;
    let pressed = Instant::now();
    lb1.monitor("system_powerdown")?;
    let status = lb1.wait_exit(Duration::from_secs(10))?;
    let took = pressed.elapsed();
    assert!(
        status.is_some(),
        "QEMU still running 10 s after system_powerdown"
    );
    lb1.wait_for("init: power button pressed", Duration::ZERO)?;
    lb1.wait_for("init: balancer stopped (exit code 0)", Duration::ZERO)?;
    lb1.wait_for("init: powering off", Duration::ZERO)?;
    lb1.wait_for("reboot: Power down", Duration::from_secs(1))?;
    eprintln!("system_powerdown to QEMU exit: {} ms", took.as_millis());
    Ok(())
}

#[test]
fn a_killed_balancer_is_restarted_and_the_interfaces_stay_up() -> Result<(), Error> {
    let mut lab = Lab::new("supervise", false)?;
    let client = lab.add_host("client", Net::Ext, &format!("{CLIENT}/24"), Some(LB1_EXT))?;
    let mut lb1 = lab.boot(ApplianceSpec {
        name: "lb1".into(),
        config_json: Some(lb1_config()),
        ..ApplianceSpec::default()
    })?;
    // The first balancer is the restore's process going on (init/src/first_start.rs); a
    // fall-back to two processes started anew would still boot, only slower.
    lb1.wait_for_all(
        &["the restore's process going on)", "balancer: interfaces up"],
        BOOT,
    )?;
    // RCU grace periods are expedited through PID 1's start only: by the time the
    // console answers, the kernel decides again.
    let rcu = lb1.command(
        "debug cat /sys/kernel/rcu_expedited",
        Duration::from_secs(10),
    )?;
    assert!(
        rcu.lines().any(|l| l.trim() == "0") && !rcu.lines().any(|l| l.trim() == "1"),
        "/sys/kernel/rcu_expedited after the start: {rcu:?}"
    );
    // The kernel's module requests go to the image's modprobe once PID 1 has started.
    let modprobe = lb1.command(
        "debug cat /proc/sys/kernel/modprobe",
        Duration::from_secs(10),
    )?;
    assert!(
        modprobe.lines().any(|l| l.trim() == "/lib/lvsfw/modprobe"),
        "/proc/sys/kernel/modprobe: {modprobe:?}"
    );
    lb1.send_line("debug kill-balancer")?;
    lb1.wait_for(
        "init: error: balancer exited (killed by SIGKILL), restarting in",
        Duration::from_secs(10),
    )?;
    lb1.wait_for("init: balancer started", Duration::from_secs(10))?;
    lb1.wait_for("balancer: interfaces up", Duration::from_secs(20))?;
    assert!(
        client.ping(LB1_EXT),
        "ext is no longer reachable after the restart"
    );
    lb1.send_line("status")?;
    lb1.wait_for(", 1 restart", Duration::from_secs(10))?;
    Ok(())
}

#[test]
fn a_broken_config_is_reported_once_and_the_console_stays_usable() -> Result<(), Error> {
    let mut lab = Lab::new("badconfig", false)?;
    let mut lb1 = lab.boot(ApplianceSpec {
        name: "lb1".into(),
        config_json: Some("{\n  \"interfaces\": [\n    {\"role\": \"ext\", \"addresses\": [\"192.168.0.300/24\"]}\n  ]\n}\n".into()),
        ..ApplianceSpec::default()
    })?;
    // The whole line: the console may hold only its start when the words are seen.
    let line = lb1
        .console
        .wait_for_line("balancer: error: /etc/lvsfw/config.json", BOOT)?;
    assert!(
        line.ends_with("/etc/lvsfw/config.json: interfaces[0].addresses[0]: \"192.168.0.300\" is not an IPv4 or IPv6 address"),
        "{line}"
    );
    lb1.wait_for(
        "interfaces left as they are: no usable configuration",
        Duration::from_secs(10),
    )?;
    lb1.send_line("status")?;
    lb1.wait_for("balancer: running", Duration::from_secs(10))?;
    let text = lb1.console.text();
    assert_eq!(
        text.matches("config.json").count(),
        1,
        "the error is reported once:\n{text}"
    );

    // Syntax errors name line and column.
    let mut lb2 = lab.boot(ApplianceSpec {
        name: "lb2".into(),
        config_json: Some("{\n  \"hostname\": \"lb2\"\n  \"interfaces\": []\n}\n".into()),
        ..ApplianceSpec::default()
    })?;
    let line = lb2
        .console
        .wait_for_line("balancer: error: /etc/lvsfw/config.json", BOOT)?;
    assert!(
        line.ends_with("/etc/lvsfw/config.json:3:3: expected `,` or `}`"),
        "{line}"
    );
    Ok(())
}

#[test]
fn a_broken_board_file_is_reported_and_the_console_stays_usable() -> Result<(), Error> {
    let mut lab = Lab::new("badboard", false)?;
    let mut lb1 = lab.boot(ApplianceSpec {
        name: "lb1".into(),
        board_conf: Some("name qemu-x86_64\nnic ext pci 00:10.0\n".into()),
        ..ApplianceSpec::default()
    })?;
    // The whole line: the console may hold only its start when the words are seen.
    let line = lb1
        .console
        .wait_for_line("init: error: /etc/lvsfw/board.conf:", BOOT)?;
    assert!(
        line.ends_with("/etc/lvsfw/board.conf:2:9: \"00:10.0\" is not a PCI address (expected DDDD:BB:DD.F, e.g. 0000:00:10.0)"),
        "{line}"
    );
    lb1.wait_for("init: balancer started", Duration::from_secs(20))?;
    lb1.send_line("help")?;
    lb1.wait_for("debug kill-balancer", Duration::from_secs(10))?;
    lb1.send_line("no-such-command")?;
    lb1.wait_for(
        "error: unknown command \"no-such-command\"",
        Duration::from_secs(10),
    )?;
    Ok(())
}
