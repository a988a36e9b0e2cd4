//! Issue 20, items 3 and 4 on the page in a real browser (Debian's chromium): the
//! history of ten saves listed, an old revision diffed and restored (bad revisions
//! refused with nothing changed), and the mgmt address changed with "apply with
//! automatic rollback": unconfirmed, the box is back on the old address by itself
//! within the minute and the page answers there; confirmed at the new address, the
//! change stays.

use std::time::{Duration, Instant};

use lvsfw_lab::browser::Browser;
use lvsfw_lab::seed::{MGMT_ADMIN, MGMT_LB};
use lvsfw_lab::{ApplianceSpec, Error, Host, Lab, Net};

const PASSWORD: &str = "correct horse";
const BOOT: Duration = Duration::from_secs(90);
const SHORT: Duration = Duration::from_secs(30);
const APPLY: Duration = Duration::from_secs(60);
/// The password's hash at the console, emulated.
const HASHING: Duration = Duration::from_secs(120);
const MOVED: &str = "10.10.0.2";

fn url(address: &str, path: &str) -> String {
    format!("https://{address}{path}")
}

fn wait_ping(host: &Host, address: &str, limit: Duration) -> Result<(), Error> {
    let started = Instant::now();
    while !host.ping(address) {
        if started.elapsed() > limit {
            return Err(Error(format!("{address} does not answer within {limit:?}")));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    Ok(())
}

fn login(b: &Browser, address: &str) -> Result<(), Error> {
    b.goto(&url(address, "/login"))?;
    b.fill("#password", PASSWORD)?;
    b.submit("#login")?;
    assert!(b.url()?.ends_with("/status"), "{}", b.url()?);
    Ok(())
}

/// [`login`], again until the page answers there (it moves with the address).
fn login_when_there(b: &Browser, address: &str) -> Result<(), Error> {
    let deadline = Instant::now() + APPLY;
    loop {
        match login(b, address) {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() > deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_secs(1)),
        }
    }
}

/// The native settings with the mgmt address moved, applied with a rollback of one
/// minute from the page's form (the text set by a script: typing it and a WebDriver
/// click now and then left the form unsent). The answer cannot come back: the box moves
/// the address the request came to; the browser stops waiting for it after 3 s (before,
/// every next command waited for it up to the 60 s page-load timeout, past the rollback:
/// the cause of this test's earlier failures).
fn apply_moved(b: &Browser, from: &str) -> Result<(), Error> {
    b.goto(&url(from, "/config"))?;
    let js = format!(
        "const t = document.querySelector('#native'); \
         t.value = t.value.split({old}).join({new}); \
         document.querySelector('#rollback-minutes').value = '1'; \
         return t.value;",
        old = serde_json::to_string(MGMT_LB).unwrap(),
        new = serde_json::to_string(MOVED).unwrap(),
    );
    let text = b.script(&js)?;
    let text = text.as_str().unwrap_or_default();
    assert!(text.contains(MOVED), "{text}");
    b.send_without_answer("#apply-rollback", Duration::from_secs(3))?;
    println!("applied with rollback from {from}");
    Ok(())
}

/// Until `show config` has the mgmt address moved (the box's side; the admin host's
/// ping of the new address failed in some runs although the box had it and listened
/// on it: see the report).
fn wait_moved(lb1: &mut lvsfw_lab::Appliance) -> Result<(), Error> {
    let deadline = Instant::now() + APPLY;
    loop {
        if lb1
            .command("show config", SHORT)?
            .contains(&format!("mgmt  {MOVED}/24"))
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(Error(format!("the mgmt address did not move to {MOVED}")));
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// What the box says when the address did not move.
fn diagnose(lb1: &mut lvsfw_lab::Appliance) -> Result<(), Error> {
    let shown = lb1.command("show config", SHORT)?;
    let log = lb1.command("show log", SHORT)?;
    let tail: Vec<&str> = log.lines().rev().take(25).collect();
    println!(
        "show config:\n{shown}\nshow log (newest first):\n{}",
        tail.join("\n")
    );
    Ok(())
}

#[test]
fn history_diff_restore_and_a_rollback_of_the_mgmt_address_in_a_browser() -> Result<(), Error> {
    let mut lab = Lab::new("histpage", true)?;
    let admin = lab.add_host("admin", Net::Mgmt, &format!("{MGMT_ADMIN}/24"), None)?;
    let disk = lab.disk("lb1")?;
    let mut lb1 = lab.boot(ApplianceSpec {
        name: "lb1".into(),
        mgmt: true,
        disk: Some(disk),
        config_json: Some(format!(
            r#"{{"hostname": "lb0", "interfaces": [{{"role": "mgmt", "addresses": ["{MGMT_LB}/24"]}}]}}"#
        )),
        ..ApplianceSpec::default()
    })?;
    lb1.wait_for("init: balancer started", BOOT)?;
    lb1.wait_for("lvsfw> ", SHORT)?;
    lb1.send_line("set password")?;
    lb1.wait_for("New admin password: ", SHORT)?;
    lb1.send_line(PASSWORD)?;
    lb1.wait_for("New admin password again: ", SHORT)?;
    lb1.send_line(PASSWORD)?;
    lb1.wait_for("lvsfw> ", HASHING)?;
    lb1.command("config apply", APPLY)?;
    // Ten saves (revisions 1 to 10), hostnames lb1 to lb10.
    for i in 1..=10 {
        lb1.command(&format!("set hostname lb{i}"), SHORT)?;
        lb1.command("config apply", APPLY)?;
        let said = lb1.command("config save", APPLY)?;
        assert!(said.contains(&format!("as revision {i}: ")), "{said}");
    }
    lb1.console.wait_anywhere(
        &format!("web: listening on https://{MGMT_LB}:443 on mgmt"),
        SHORT,
    )?;
    let (pin, _) = lb1.certificate()?;
    let b = Browser::start(&admin, &lab.dir, &pin)?;
    login(&b, MGMT_LB)?;

    // --- History, diff and restore on the page. ---------------------------------------
    b.goto(&url(MGMT_LB, "/config/history"))?;
    let listing = b.text("#history")?;
    assert!(listing.contains("10 revisions kept"), "{listing}");
    b.fill("#diff-rev", "3")?;
    b.submit("#diff")?;
    let diff = b.text("#diff-text")?;
    assert!(diff.contains("+  \"hostname\": \"lb3\""), "{diff}");
    b.goto(&url(MGMT_LB, "/config/history?rev=99999"))?;
    let said = b.body_text()?;
    assert!(said.contains("no revision 99999"), "{said}");
    b.goto(&url(MGMT_LB, "/config/history"))?;
    b.fill("#restore-rev", "abc")?;
    b.submit("#restore")?;
    let said = b.body_text()?;
    assert!(said.contains("is not a revision number"), "{said}");
    let shown = lb1.command("show config", SHORT)?;
    assert!(shown.contains("hostname: lb10"), "{shown}");
    b.fill("#restore-rev", "3")?;
    b.submit("#restore")?;
    let said = b.body_text()?;
    assert!(said.contains("revision 3 restored"), "{said}");
    let shown = lb1.command("show config", SHORT)?;
    assert!(shown.contains("hostname: lb3"), "{shown}");
    b.goto(&url(MGMT_LB, "/config"))?;
    b.submit("#save")?;
    let said = b.body_text()?;
    assert!(said.contains("the same as revision 3 (restored)"), "{said}");
    let history = lb1.command("config history", SHORT)?;
    assert!(history.contains("page: admin from"), "{history}");

    // --- Apply with automatic rollback, not confirmed: back by itself. ------------------
    let applied = Instant::now();
    apply_moved(&b, MGMT_LB)?;
    if let Err(e) = wait_moved(&mut lb1) {
        diagnose(&mut lb1)?;
        return Err(e);
    }
    let shown = lb1.command("show config", SHORT)?;
    assert!(
        shown.contains("rollback: a change by page: admin from"),
        "{shown}"
    );
    // A restore while a confirmation is pending: refused, nothing changed.
    let said = lb1.command("config restore 5", SHORT)?;
    assert!(said.contains("config restore is refused"), "{said}");
    let deadline = Instant::now() + Duration::from_secs(120);
    while lb1.command("show config", SHORT)?.contains("rollback:") {
        assert!(Instant::now() < deadline, "no rollback within 120 s");
        std::thread::sleep(Duration::from_secs(2));
    }
    wait_ping(&admin, MGMT_LB, SHORT)?;
    login_when_there(&b, MGMT_LB)?;
    let took = applied.elapsed();
    println!(
        "page rollback: the page answers on {MGMT_LB} again {:.1} s after the apply (1 minute asked)",
        took.as_secs_f64()
    );
    assert!(took < Duration::from_secs(60 + 60), "{took:?}");
    let log = lb1.command("show log", SHORT)?;
    assert!(log.contains("was not confirmed within 1 min"), "{log}");

    // --- The same, confirmed at the new address: kept. ----------------------------------
    apply_moved(&b, MGMT_LB)?;
    if let Err(e) = wait_moved(&mut lb1) {
        diagnose(&mut lb1)?;
        return Err(e);
    }
    login_when_there(&b, MOVED)?;
    let banner = b.text("#rollback")?;
    assert!(banner.contains("rolls back by itself in"), "{banner}");
    b.submit("#confirm")?;
    let said = b.body_text()?;
    assert!(said.contains("confirmed: the change stays"), "{said}");
    let shown = lb1.command("show config", SHORT)?;
    assert!(!shown.contains("rollback:"), "{shown}");
    assert!(shown.contains(&format!("mgmt  {MOVED}/24")), "{shown}");
    Ok(())
}
