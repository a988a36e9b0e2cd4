//! Issue 20, items 3 and 4 at the serial console, in one boot and a reboot: bad input
//! refused with nothing changed, ten saves kept as revisions, a diff of an old one, a
//! change of the mgmt address that is not confirmed rolling itself back within its
//! minute (the old address answers again), the same change confirmed and kept, a
//! restore refused while a confirmation is pending, an old revision restored and saved,
//! and after a reboot the restored one runs.

use std::time::{Duration, Instant};

use lvsfw_lab::{ApplianceSpec, Error, Host, Lab, Net};

const BOOT: Duration = Duration::from_secs(90);
const SHORT: Duration = Duration::from_secs(20);
/// `config apply` waits for the balancer to say what runs.
const APPLY: Duration = Duration::from_secs(60);
const MGMT: &str = "10.0.8.1";
const MOVED: &str = "10.0.8.2";
const ADMIN_HOST: &str = "10.0.8.50";

fn wait_ping(host: &Host, address: &str, limit: Duration) -> Result<Duration, Error> {
    let started = Instant::now();
    while !host.ping(address) {
        if started.elapsed() > limit {
            return Err(Error(format!(
                "{address} does not answer {} within {limit:?}",
                host.name
            )));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    Ok(started.elapsed())
}

fn config_json() -> String {
    format!(
        r#"{{"hostname": "lb0", "interfaces": [{{"role": "mgmt", "addresses": ["{MGMT}/24"]}}]}}"#
    )
}

#[test]
fn ten_saves_a_diff_a_rollback_a_confirm_and_a_restore_that_survives_a_reboot() -> Result<(), Error>
{
    let mut lab = Lab::new("confirm", true)?;
    let admin = lab.add_host("admin", Net::Mgmt, &format!("{ADMIN_HOST}/24"), None)?;
    let disk = lab.disk("lb1")?;
    let spec = ApplianceSpec {
        name: "lb1".into(),
        mgmt: true,
        disk: Some(disk),
        config_json: Some(config_json()),
        ..ApplianceSpec::default()
    };
    let mut lb1 = lab.boot(spec)?;
    lb1.wait_for("init: balancer started", BOOT)?;
    wait_ping(&admin, MGMT, Duration::from_secs(60))?;

    // --- Bad input: a clear error, nothing changed. ------------------------------------
    let said = lb1.command("config diff 99999", SHORT)?;
    assert!(
        said.contains("no revision 99999: the history is empty"),
        "{said}"
    );
    let said = lb1.command("config restore abc", SHORT)?;
    assert!(said.contains("\"abc\" is not a revision number"), "{said}");
    let said = lb1.command("config apply confirm 0", SHORT)?;
    assert!(
        said.contains("not a number of minutes from 1 to 60"),
        "{said}"
    );
    let said = lb1.command("config confirm", SHORT)?;
    assert!(said.contains("nothing to confirm"), "{said}");

    // --- Ten saves, ten revisions. -----------------------------------------------------
    for i in 1..=10 {
        lb1.command(&format!("set hostname lb{i}"), SHORT)?;
        let said = lb1.command("config apply", APPLY)?;
        assert!(said.contains("in service"), "{said}");
        assert!(
            !said.contains("rolls back"),
            "a hostname needs no confirmation: {said}"
        );
        let said = lb1.command("config save", APPLY)?;
        assert!(said.contains(&format!("as revision {i}: ")), "{said}");
    }
    let history = lb1.command("config history", SHORT)?;
    assert!(history.contains("10 revisions kept"), "{history}");
    assert!(history.contains("config.json: hostname"), "{history}");
    let diff = lb1.command("config diff 3", SHORT)?;
    assert!(diff.contains("+++ revision 3 config.json"), "{diff}");
    assert!(diff.contains("-  \"hostname\": \"lb10\""), "{diff}");
    assert!(diff.contains("+  \"hostname\": \"lb3\""), "{diff}");
    let said = lb1.command("config diff 99999", SHORT)?;
    assert!(
        said.contains("no revision 99999: the history holds revisions 1 to 10"),
        "{said}"
    );

    // --- Commit-confirmed, not confirmed: back on the old address by itself. ----------
    lb1.command(&format!("set interface mgmt address {MOVED}/24"), SHORT)?;
    let said = lb1.command("config apply confirm 1", APPLY)?;
    assert!(said.contains("rolls back by itself in 1 min"), "{said}");
    let applied = Instant::now();
    wait_ping(&admin, MOVED, Duration::from_secs(30))?;
    assert!(!admin.ping(MGMT), "{MGMT} still answers after the change");
    // Refused while pending, with nothing changed.
    let said = lb1.command("config restore 3", SHORT)?;
    assert!(
        said.contains("config restore is refused while a change waits for its confirmation"),
        "{said}"
    );
    let said = lb1.command("config save", SHORT)?;
    assert!(said.contains("config save is refused"), "{said}");
    let shown = lb1.command("show config", SHORT)?;
    assert!(shown.contains("hostname: lb10"), "{shown}");
    assert!(shown.contains("rollback: a change by console"), "{shown}");
    // The balancer looks every second; bounded by the minute and a margin.
    let deadline = Instant::now() + Duration::from_secs(120);
    while lb1.command("show config", SHORT)?.contains("rollback:") {
        assert!(Instant::now() < deadline, "no rollback within 120 s");
        std::thread::sleep(Duration::from_secs(2));
    }
    wait_ping(&admin, MGMT, Duration::from_secs(60))?;
    let took = applied.elapsed();
    println!(
        "rolled back: {MGMT} answers again {:.1} s after the apply (1 minute asked)",
        took.as_secs_f64()
    );
    assert!(
        took >= Duration::from_secs(55),
        "rolled back early: {took:?}"
    );
    assert!(
        took < Duration::from_secs(60 + 45),
        "rolled back late: {took:?}"
    );
    let log = lb1.command("show log", SHORT)?;
    assert!(log.contains("was not confirmed within 1 min"), "{log}");

    // --- The same change by default (it moves the mgmt address), confirmed: kept. -----
    lb1.command(&format!("set interface mgmt address {MOVED}/24"), SHORT)?;
    let said = lb1.command("config apply", APPLY)?;
    assert!(said.contains("rolls back by itself in 10 min"), "{said}");
    assert!(said.contains("the mgmt interface"), "{said}");
    let said = lb1.command("config confirm", SHORT)?;
    assert!(said.contains("confirmed: the change stays"), "{said}");
    wait_ping(&admin, MOVED, Duration::from_secs(30))?;
    let shown = lb1.command("show config", SHORT)?;
    assert!(!shown.contains("rollback:"), "{shown}");

    // --- Restore revision 3 (hostname lb3, the mgmt address 10.0.8.1 of then). --------
    let said = lb1.command("config restore 3", APPLY)?;
    assert!(said.contains("revision 3 restored: in service"), "{said}");
    // It moves the mgmt address back: a change like any other, confirmed by default.
    assert!(said.contains("rolls back by itself in 10 min"), "{said}");
    lb1.command("config confirm", SHORT)?;
    let said = lb1.command("config save", APPLY)?;
    assert!(said.contains("the same as revision 3 (restored)"), "{said}");
    wait_ping(&admin, MGMT, Duration::from_secs(30))?;

    // --- Reboot: the restored one runs. -------------------------------------------------
    lb1.send_line("reboot")?;
    lb1.wait_for("init: rebooting", Duration::from_secs(30))?;
    lb1.wait_for("init: balancer started", BOOT)?;
    let shown = lb1.command("show config", SHORT)?;
    assert!(shown.contains("hostname: lb3"), "{shown}");
    let history = lb1.command("config history", SHORT)?;
    assert!(history.contains("11 revisions kept"), "{history}");
    wait_ping(&admin, MGMT, Duration::from_secs(60))?;
    Ok(())
}
