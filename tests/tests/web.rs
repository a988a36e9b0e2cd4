//! Issue 6: the management page, in the lab. A real browser (Debian's chromium,
//! headless, driven by chromedriver) in a namespace on the management network logs in,
//! changes the factory password, configures the seed's 3-1 and sets a real server's
//! weight to 0, and the kernel's table follows. Misbehaving clients get 4xx answers or
//! closed connections while the balancer goes on balancing, and the page does not
//! answer on the ext side.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use lvsfw_lab::addresses::*;
use lvsfw_lab::browser::Browser;
use lvsfw_lab::http::{self, ApiSession};
use lvsfw_lab::{Appliance, ApplianceSpec, Error, Host, Lab, Net};

const MGMT_LB: &str = "10.10.0.1";
const MGMT_ADMIN: &str = "10.10.0.50";
const PASSWORD: &str = "correct horse";

struct WebLab {
    lab: Lab,
    client: Host,
    admin: Host,
    lb1: Appliance,
}

fn page() -> SocketAddr {
    SocketAddr::new(MGMT_LB.parse().unwrap(), 80)
}

fn url(path: &str) -> String {
    format!("http://{MGMT_LB}{path}")
}

/// The seed's 3-1 network with a management network, and lb1 on all three; with
/// `keepalived_conf` in place when given.
fn boot(test: &str, keepalived_conf: Option<&str>) -> Result<WebLab, Error> {
    let mut lab = Lab::new(test, true)?;
    let client = lab.add_host("client", Net::Ext, &format!("{CLIENT}/24"), None)?;
    let rs1 = lab.add_host("rs1", Net::Int, &format!("{RS1}/24"), Some(LB1_INT))?;
    let rs2 = lab.add_host("rs2", Net::Int, &format!("{RS2}/24"), Some(LB1_INT))?;
    let admin = lab.add_host("admin", Net::Mgmt, &format!("{MGMT_ADMIN}/24"), None)?;
    lab.serve_http(&rs1, &format!("{DOCKER1}\n"))?;
    lab.serve_http(&rs2, &format!("{DOCKER2}\n"))?;
    let config = format!(
        r#"{{"hostname": "lb1", "interfaces": [
            {{"role": "ext", "addresses": ["{LB1_EXT}/24", "{VIP}/24"]}},
            {{"role": "int", "addresses": ["{LB1_INT}/24"]}},
            {{"role": "mgmt", "addresses": ["{MGMT_LB}/24"]}}]}}"#
    );
    let files = keepalived_conf
        .map(|k| {
            vec![(
                "etc/lvsfw/keepalived.conf".to_string(),
                k.as_bytes().to_vec(),
            )]
        })
        .unwrap_or_default();
    let disk = lab.disk("lb1")?;
    let mut lb1 = lab.boot(ApplianceSpec {
        name: "lb1".into(),
        config_json: Some(config),
        files,
        mgmt: true,
        disk: Some(disk),
        ..ApplianceSpec::default()
    })?;
    lb1.wait_for("balancer: interfaces up", Duration::from_secs(60))?;
    lb1.wait_for(
        &format!("web: listening on http://{MGMT_LB}:80 on mgmt"),
        Duration::from_secs(20),
    )?;
    Ok(WebLab {
        lab,
        client,
        admin,
        lb1,
    })
}

/// Polls the page's source until `ok` holds (after a reload each time), for `limit`.
fn until_page(
    b: &Browser,
    path: &str,
    limit: Duration,
    ok: impl Fn(&str) -> bool,
) -> Result<String, Error> {
    let deadline = Instant::now() + limit;
    loop {
        b.goto(&url(path))?;
        let source = b.source()?;
        if ok(&source) {
            return Ok(source);
        }
        if Instant::now() >= deadline {
            return Err(Error(format!("after {limit:?} {path} shows:\n{source}")));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The weight `ipvs list` gives a real server, read from the appliance's console.
fn kernel_weight(lb1: &mut Appliance, server: &str) -> Result<String, Error> {
    let listing = command_output(lb1, "ipvs list")?;
    let line = listing
        .lines()
        .find(|l| l.contains(&format!("-> {server}")))
        .ok_or_else(|| Error(format!("{server} missing from:\n{listing}")))?;
    Ok(line.split_whitespace().nth(3).unwrap_or("").to_string())
}

#[test]
fn a_browser_logs_in_applies_the_seed_and_sets_a_weight_to_0() -> Result<(), Error> {
    let mut w = boot("webbrowser", None)?;
    let b = Browser::start(&w.admin, &w.lab.dir)?;

    // The factory password logs in and must be changed before anything else.
    b.goto(&url("/"))?;
    assert!(b.url()?.ends_with("/login"), "{}", b.url()?);
    b.fill("#password", "lvsfw")?;
    b.submit("#login")?;
    assert!(b.url()?.ends_with("/password"), "{}", b.url()?);
    assert!(b.body_text()?.contains("This is the factory password"));
    b.goto(&url("/status"))?;
    assert!(b.url()?.ends_with("/password"), "status before the change");
    b.fill("#new", PASSWORD)?;
    b.fill("#again", PASSWORD)?;
    let changing = Instant::now();
    b.submit("#change")?;
    eprintln!(
        "password changed in {} ms (PBKDF2, 600,000 iterations, under TCG)",
        changing.elapsed().as_millis()
    );
    assert!(b.url()?.ends_with("/status"), "{}", b.url()?);
    let text = b.body_text()?;
    assert!(text.contains("Password changed"), "{text}");
    assert!(text.contains("No vrrp_instance is configured."), "{text}");
    w.lb1
        .wait_for("web: admin from 10.10.0.50", Duration::from_secs(5))?;

    // A broken keepalived.conf: every error at its line:col, nothing changes.
    b.goto(&url("/config"))?;
    b.fill(
        "#text",
        "virtual_server 192.168.0.100 80 {\n    lb_algo rx\n    delay_lop 6\n}\n",
    )?;
    b.submit("#apply-text")?;
    let errors = b.text("#errors")?;
    for part in [
        "2 errors; nothing was changed.",
        "keepalived.conf:2:13: lb_algo: \"rx\" is not a scheduler",
        "keepalived.conf:3:5: unknown keyword \"delay_lop\" in virtual_server (did you mean \"delay_loop\"?)",
    ] {
        assert!(errors.contains(part), "{part} missing from\n{errors}");
    }
    w.lb1.wait_for(
        "pasted a keepalived.conf with 2 errors; nothing changed",
        Duration::from_secs(5),
    )?;

    // The seed's 3-1, pasted and applied: the kernel gets the service.
    b.fill("#text", SEED_3_1)?;
    b.submit("#apply-text")?;
    let text = b.body_text()?;
    assert!(text.contains("Applied:"), "{text}");
    w.lb1
        .wait_for("IPVS: 3 changes applied", Duration::from_secs(30))?;
    until(&w.client, Duration::from_secs(20), 10, alternating)?;
    let status = until_page(&b, "/status", Duration::from_secs(20), |s| {
        s.contains("192.168.33.11:80") && s.contains("192.168.33.12:80")
    })?;
    assert!(status.contains("TCP 192.168.0.100:80"), "{status}");

    // Real server 1's weight to 0 through its form, then Apply.
    b.goto(&url("/config"))?;
    b.fill("#rs-0-0 input[name=weight]", "0")?;
    b.submit("#rs-0-0 button.set")?;
    let text = b.body_text()?;
    assert!(
        text.contains("real_server 192.168.33.11 80: weight 1 -> 0"),
        "{text}"
    );
    assert_eq!(
        kernel_weight(&mut w.lb1, "192.168.33.11:80")?,
        "1",
        "not before Apply"
    );
    b.submit("#apply")?;
    assert!(b.body_text()?.contains("Applied:"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while kernel_weight(&mut w.lb1, "192.168.33.11:80")? != "0" {
        assert!(Instant::now() < deadline, "the kernel kept weight 1");
        std::thread::sleep(Duration::from_millis(500));
    }
    let proc = command_output(&mut w.lb1, "debug cat /proc/net/ip_vs")?;
    let line = proc
        .lines()
        .find(|l| l.contains(&format!("-> {}", proc_endpoint(RS1, 80))))
        .ok_or_else(|| Error(format!("server 1 missing from /proc/net/ip_vs:\n{proc}")))?;
    assert_eq!(line.split_whitespace().nth(3), Some("0"), "{line}");
    until(&w.client, Duration::from_secs(20), 6, |a| {
        a.iter().all(|x| x == DOCKER2)
    })?;

    // Save puts what is in service on the configuration disk.
    b.goto(&url("/config"))?;
    b.submit("#save")?;
    let text = b.body_text()?;
    assert!(
        text.contains("Saved: saved: the running configuration"),
        "{text}"
    );

    // The status page shows it; its screenshot is kept.
    // Real server 1's row: up (its check passes), weight 0 (the form).
    let row = |s: &str| -> String {
        s.split("<td>192.168.33.11:80</td>")
            .nth(1)
            .and_then(|rest| rest.split("</tr>").next())
            .unwrap_or_default()
            .to_string()
    };
    let status = until_page(&b, "/status", Duration::from_secs(20), |s| {
        let row = row(s);
        row.contains("<span class=\"up\">up</span>")
            && row.contains("<td class=\"n weight\">0</td>")
    })?;
    assert!(status.contains("<td class=\"n weight\">1</td>"), "{status}");
    let shot = w.lab.dir.join("status.png");
    std::fs::write(&shot, b.screenshot()?)?;
    eprintln!("status page screenshot: {}", shot.display());

    // The log names who changed what.
    b.goto(&url("/log"))?;
    let log = b.text("#log")?;
    for part in [
        "web: admin logged in from 10.10.0.50",
        "with the factory password",
        "changed the admin password",
        "applied keepalived.conf pasted: 1 virtual server, 0 VRRP instances",
        "changed the candidate: virtual_server 192.168.0.100 80: real_server 192.168.33.11 80: weight 1 -> 0",
        "applied keepalived.conf from the candidate",
        "saved the configuration: saved: the running configuration",
    ] {
        assert!(log.contains(part), "{part} missing from the log:\n{log}");
    }

    // Reboot asks PID 1, which stops the balancer cleanly and reboots.
    b.goto(&url("/system"))?;
    b.click("input[name=confirm]")?;
    b.submit("#reboot")?;
    assert!(b.body_text()?.contains("Rebooting"));
    w.lb1
        .wait_for("init: ctrl-alt-del", Duration::from_secs(10))?;
    w.lb1
        .wait_for("init: balancer stopped", Duration::from_secs(10))?;
    Ok(())
}

/// The balancer's resident memory as the API reports it, in KiB.
fn rss_kb(api: &ApiSession) -> Result<u64, Error> {
    let status = api.json("/api/status")?;
    status["balancer_rss_kb"]
        .as_u64()
        .ok_or_else(|| Error(format!("no balancer_rss_kb in {status}")))
}

fn status_of(answer: &str) -> &str {
    answer
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .unwrap_or("closed")
}

#[test]
fn bad_clients_get_4xx_or_closed_and_the_balancer_keeps_serving() -> Result<(), Error> {
    let mut w = boot("webabuse", Some(SEED_3_1))?;
    // The first IPVS pass may come before or after "web: listening", which boot waited for.
    w.lb1
        .console
        .wait_anywhere("IPVS: 3 changes applied", Duration::from_secs(30))?;
    until(&w.client, Duration::from_secs(20), 10, alternating)?;
    let addr = page();
    let api = w
        .admin
        .in_netns(|| ApiSession::first_login(addr, PASSWORD))??;
    let before = w.admin.in_netns(|| rss_kb(&api))??;

    let flood: String = (0..200).map(|i| format!("X-Flood-{i}: y\r\n")).collect();
    let cases: Vec<(&str, Vec<u8>, &[&str])> = vec![
        ("truncated, then closed", b"GET /status HTTP/1.1\r\nHo".to_vec(), &["closed"]),
        ("a 20 KB path", format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(20_000)).into_bytes(), &["431"]),
        ("a 100 MB body announced", b"POST /config/keepalived HTTP/1.1\r\nContent-Length: 100000000\r\n\r\n".to_vec(), &["413"]),
        ("an unknown method", b"BREW /status HTTP/1.1\r\nConnection: close\r\n\r\n".to_vec(), &["405"]),
        ("a known method on the wrong path", b"PUT /status HTTP/1.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(), &["405"]),
        ("200 header lines", format!("GET /status HTTP/1.1\r\n{flood}\r\n").into_bytes(), &["431"]),
        ("binary garbage", (0..=255u8).cycle().take(3000).collect(), &["400"]),
        ("a TLS hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec(), &["400"]),
        ("chunked upload", b"POST /api/config HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n".to_vec(), &["501"]),
        ("no session", b"GET /api/config HTTP/1.1\r\nConnection: close\r\n\r\n".to_vec(), &["401"]),
        ("a forged session", b"POST /config/apply HTTP/1.1\r\nCookie: lvsfw_session=00\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\nConnection: close\r\n\r\na=b".to_vec(), &["303"]),
    ];
    for (what, bytes, want) in &cases {
        let answer = w
            .admin
            .in_netns(|| http::raw(addr, bytes, Duration::from_secs(20)))??;
        let got = status_of(&answer);
        eprintln!("{what}: {got}");
        assert!(want.contains(&got), "{what}: {got}\n{answer}");
    }

    // A slow client: a header line a second. The head must be in within 10 s.
    let slow = w.admin.in_netns(|| -> Result<(String, Duration), Error> {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        s.set_read_timeout(Some(Duration::from_millis(100)))?;
        let started = Instant::now();
        let _ = s.write_all(b"GET /status HTTP/1.1\r\n");
        let mut out = Vec::new();
        for i in 0..30 {
            let _ = s.write_all(format!("X-Slow-{i}: y\r\n").as_bytes());
            let mut buf = [0u8; 4096];
            let deadline = Instant::now() + Duration::from_secs(1);
            while Instant::now() < deadline {
                match s.read(&mut buf) {
                    Ok(0) => return Ok((String::from_utf8_lossy(&out).into(), started.elapsed())),
                    Ok(n) => out.extend_from_slice(&buf[..n]),
                    Err(_) => {}
                }
            }
        }
        Ok((String::from_utf8_lossy(&out).into(), started.elapsed()))
    })??;
    eprintln!(
        "slow client: {} after {} ms",
        status_of(&slow.0),
        slow.1.as_millis()
    );
    assert_eq!(status_of(&slow.0), "408", "{}", slow.0);
    assert!(slow.1 < Duration::from_secs(20));

    // More connections than the limit, held open: the extra ones get 503.
    let statuses = w.admin.in_netns(|| -> Result<Vec<String>, Error> {
        use std::io::Read;
        let mut held = Vec::new();
        for _ in 0..100 {
            held.push(std::net::TcpStream::connect_timeout(
                &addr,
                Duration::from_secs(5),
            )?);
        }
        let mut out = Vec::new();
        for s in &mut held {
            s.set_read_timeout(Some(Duration::from_millis(300)))?;
            let mut text = Vec::new();
            let _ = s.read_to_end(&mut text);
            out.push(status_of(&String::from_utf8_lossy(&text)).to_string());
        }
        Ok(out)
    })??;
    let busy = statuses.iter().filter(|s| *s == "503").count();
    eprintln!("100 connections at once: {busy} answered 503");
    assert!(busy >= 30, "{statuses:?}");

    // Still serving: the page, the API, and the virtual service.
    std::thread::sleep(Duration::from_secs(1));
    let login = w
        .admin
        .in_netns(|| http::request(addr, "GET", "/login", &[], b""))??;
    assert_eq!(login.status, 200);
    let after = w.admin.in_netns(|| rss_kb(&api))??;
    let metrics = w.admin.in_netns(|| api.call("GET", "/metrics", b""))??;
    let metrics = metrics.text();
    for line in [
        "lvsfw_ipvs_server_weight{service=\"TCP 192.168.0.100:80\",server=\"192.168.33.11:80\"} 1",
        "lvsfw_check_up{service=\"TCP 192.168.0.100:80\",server=\"192.168.33.12:80\"} 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} missing from\n{metrics}"
        );
    }
    eprintln!("balancer memory: {before} KiB before, {after} KiB after");
    assert!(
        after < before + 16 * 1024,
        "memory grew from {before} to {after} KiB"
    );
    until(&w.client, Duration::from_secs(20), 10, alternating)?;
    let console = w.lb1.console.text();
    assert!(!console.contains("balancer exited"), "the balancer died");
    assert!(!console.contains("panicked"), "a panic");

    // Not on ext: the ext address refuses port 80, and so does the management address
    // reached through ext (the listener is bound to the mgmt NIC).
    let ext = SocketAddr::new(LB1_EXT.parse().unwrap(), 80);
    w.client
        .run(&["ip", "route", "add", "10.10.0.0/24", "via", LB1_EXT])?;
    let reached = w.client.in_netns(|| {
        [ext, addr].map(|a| {
            std::net::TcpStream::connect_timeout(&a, Duration::from_secs(3))
                .map(|_| "connected".to_string())
                .unwrap_or_else(|e| e.to_string())
        })
    })?;
    eprintln!("from ext: {reached:?}");
    for r in &reached {
        assert_ne!(
            r, "connected",
            "the page answers on the ext side: {reached:?}"
        );
    }
    Ok(())
}
