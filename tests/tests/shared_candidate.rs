//! Issue 19, item 1: one candidate for the console and the page. A real server's weight
//! staged on the page (real chromium over pinned HTTPS) shows in the console's `config
//! diff`; a hostname staged at the console shows in the page's pending-changes line;
//! Apply on the page puts both in service and the console then has nothing pending. The
//! other way round: a change staged on the page, applied at the console, and the page
//! has nothing pending.

use std::time::{Duration, Instant};

use lvsfw_lab::browser::Browser;
use lvsfw_lab::http;
use lvsfw_lab::seed::{web_lab, web_lb1_config, MGMT_LB, SEED_3_1};
use lvsfw_lab::{Appliance, ApplianceSpec, Error};

const PASSWORD: &str = "correct horse";
const BOOT: Duration = Duration::from_secs(90);
const SHORT: Duration = Duration::from_secs(30);
const APPLY: Duration = Duration::from_secs(60);
const NOTHING_PENDING: &str = "no changes: the candidate is the running configuration";
const PAGE_PENDING: &str = "has changes that are not in service yet";
const PAGE_CLEAN: &str = "The candidate is the configuration in service.";

fn url(path: &str) -> String {
    format!("https://{MGMT_LB}{path}")
}

/// The page's candidate section, fresh.
fn candidate_section(b: &Browser) -> Result<String, Error> {
    b.goto(&url("/config"))?;
    b.text("#candidate")
}

/// Real server `rs` of the first virtual server to `weight` through its form: staged.
fn stage_weight(b: &Browser, rs: usize, weight: &str) -> Result<(), Error> {
    b.goto(&url("/config"))?;
    b.fill(&format!("#rs-0-{rs} input[name=weight]"), weight)?;
    b.submit(&format!("#rs-0-{rs} button.set"))?;
    let said = b.body_text()?;
    assert!(said.contains("Apply puts it in service"), "{said}");
    Ok(())
}

/// Whether `diff` adds a line holding `text`.
fn adds(diff: &str, text: &str) -> bool {
    diff.lines().any(|l| l.starts_with('+') && l.contains(text))
}

/// The weight keepalived.conf gives real server `ip` in `show config`.
fn running_weight(lb1: &mut Appliance, ip: &str) -> Result<String, Error> {
    let shown = lb1.command("show config", SHORT)?;
    let mut lines = shown
        .lines()
        .skip_while(|l| !l.contains(&format!("real_server {ip} ")));
    let weight = lines
        .find(|l| l.trim_start().starts_with("weight "))
        .map(|l| l.trim().trim_start_matches("weight ").to_string());
    weight.ok_or_else(|| Error(format!("no weight of {ip} in\n{shown}")))
}

#[test]
fn a_change_staged_on_the_page_or_the_console_is_the_others_to_see_and_apply() -> Result<(), Error>
{
    let (mut lab, _client, admin) = web_lab("sharedcand")?;
    let mut lb1 = lab.boot(ApplianceSpec {
        name: "lb1".into(),
        config_json: Some(web_lb1_config(Some(&http::admin_json(PASSWORD)))),
        files: vec![(
            "etc/lvsfw/keepalived.conf".into(),
            SEED_3_1.as_bytes().to_vec(),
        )],
        mgmt: true,
        ..ApplianceSpec::default()
    })?;
    lb1.wait_for("balancer: interfaces up", BOOT)?;
    lb1.console.wait_anywhere(
        &format!("web: listening on https://{MGMT_LB}:443 on mgmt"),
        SHORT,
    )?;
    lb1.wait_for("lvsfw> ", SHORT)?;
    let started = Instant::now();
    let (pin, _) = lb1.certificate()?;
    let b = Browser::start(&admin, &lab.dir, &pin)?;
    b.goto(&url("/login"))?;
    b.fill("#password", PASSWORD)?;
    b.submit("#login")?;
    assert!(b.url()?.ends_with("/status"), "{}", b.url()?);

    let diff = lb1.command("config diff", SHORT)?;
    assert!(diff.contains(NOTHING_PENDING), "{diff}");
    assert!(candidate_section(&b)?.contains(PAGE_CLEAN));

    // --- Staged on the page: the console's diff shows it. --------------------------------
    stage_weight(&b, 0, "0")?;
    let diff = lb1.command("config diff", SHORT)?;
    assert!(diff.contains("candidate keepalived.conf"), "{diff}");
    assert!(adds(&diff, "weight 0"), "{diff}");

    // --- Staged at the console: the page's pending line shows it (and the page's). ----
    let said = lb1.command("set hostname lbshared", SHORT)?;
    assert!(said.contains("hostname: lbshared"), "{said}");
    let section = candidate_section(&b)?;
    assert!(section.contains(PAGE_PENDING), "{section}");
    assert!(section.contains("console: hostname: lbshared"), "{section}");
    assert!(section.contains("page: admin from "), "{section}");
    let diff = lb1.command("config diff", SHORT)?;
    assert!(adds(&diff, "\"hostname\": \"lbshared\""), "{diff}");
    assert!(adds(&diff, "weight 0"), "{diff}");

    // --- Applied on the page: both in service; nothing pending at the console. --------
    b.goto(&url("/config"))?;
    b.submit("#apply")?;
    let said = b.body_text()?;
    assert!(said.contains("Applied"), "{said}");
    let diff = lb1.command("config diff", SHORT)?;
    assert!(diff.contains(NOTHING_PENDING), "{diff}");
    let shown = lb1.command("show config", SHORT)?;
    assert!(shown.contains("hostname: lbshared"), "{shown}");
    assert_eq!(running_weight(&mut lb1, "192.168.33.11")?, "0");
    assert!(candidate_section(&b)?.contains(PAGE_CLEAN));

    // --- Staged on the page, applied at the console: nothing pending on the page. -----
    stage_weight(&b, 0, "1")?;
    let diff = lb1.command("config diff", SHORT)?;
    assert!(adds(&diff, "weight 1"), "{diff}");
    let said = lb1.command("config apply", APPLY)?;
    assert!(said.contains("in service:"), "{said}");
    let section = candidate_section(&b)?;
    assert!(section.contains(PAGE_CLEAN), "{section}");
    assert_eq!(running_weight(&mut lb1, "192.168.33.11")?, "1");

    // --- Staged at the console, discarded on the page: gone at the console too. -------
    lb1.command("set hostname lbgone", SHORT)?;
    let section = candidate_section(&b)?;
    assert!(section.contains("console: hostname: lbgone"), "{section}");
    b.submit("#discard")?;
    let diff = lb1.command("config diff", SHORT)?;
    assert!(diff.contains(NOTHING_PENDING), "{diff}");
    let shown = lb1.command("show config", SHORT)?;
    assert!(shown.contains("hostname: lbshared"), "{shown}");
    println!(
        "shared candidate: page -> console -> page in {:.1} s after boot",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
