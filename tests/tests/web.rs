//! Issues 6 and 14: the management page, in the lab, over HTTPS. A factory-new box
//! refuses every login on the page until its first-boot setup at the serial console;
//! a real browser (Debian's chromium, headless, driven by chromedriver) in a namespace
//! on the management network then trusts the box's certificate by its SPKI pin only,
//! logs in, configures the seed's 3-1 and sets a real server's weight to 0 (the kernel
//! follows); a foreign Host is refused; the console's password change ends the page's
//! session; an operator's own certificate is installed and served; Prometheus' way in,
//! the metrics token, works with curl and nothing works without it.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use lvsfw_lab::browser::Browser;
use lvsfw_lab::http::{self, ApiSession};
use lvsfw_lab::seed::{web_lab, web_lb1_config, MGMT_LB};
use lvsfw_lab::{pinned, Appliance, ApplianceSpec, Error, Host, Lab};

const PASSWORD: &str = "correct horse";
/// Setup and a console login hash the password (PBKDF2, 600,000 rounds) under TCG.
const HASHING: Duration = Duration::from_secs(120);
const SHORT: Duration = Duration::from_secs(10);

struct WebLab {
    lab: Lab,
    client: Host,
    admin: Host,
    lb1: Appliance,
}

fn page() -> SocketAddr {
    SocketAddr::new(MGMT_LB.parse().unwrap(), 443)
}

fn url(path: &str) -> String {
    format!("https://{MGMT_LB}{path}")
}

/// The seed's 3-1 network with a management network, and lb1 on all three without an
/// admin password (a factory-new box as the operator cabled it), the console asking for
/// setup.
fn boot(test: &str) -> Result<WebLab, Error> {
    let (mut lab, client, admin) = web_lab(test)?;
    let config = web_lb1_config(None);
    let disk = lab.disk("lb1")?;
    let mut lb1 = lab.boot(ApplianceSpec {
        name: "lb1".into(),
        config_json: Some(config),
        mgmt: true,
        disk: Some(disk),
        login: true,
        ..ApplianceSpec::default()
    })?;
    // The console holds log lines back while setup asks its questions: whether the page
    // listens is seen from the admin's side.
    lb1.wait_for("First-boot setup", Duration::from_secs(90))?;
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

/// First-boot setup at the console with the defaults the box offers and `PASSWORD`;
/// the SPKI pin setup prints.
fn setup_at_the_console(lb1: &mut Appliance) -> Result<String, Error> {
    lb1.wait_for(
        &format!("Management address/prefix [{MGMT_LB}/24]: "),
        SHORT,
    )?;
    lb1.send_line("")?;
    lb1.wait_for("Default gateway", SHORT)?;
    lb1.send_line("")?;
    lb1.wait_for("Hostname [lb1]: ", SHORT)?;
    lb1.send_line("")?;
    lb1.wait_for("Admin password", SHORT)?;
    lb1.send_line(PASSWORD)?;
    lb1.wait_for("Admin password again: ", SHORT)?;
    lb1.send_line(PASSWORD)?;
    let said = lb1.console.wait_through(
        &format!("the page: https://{MGMT_LB}/ (pin its certificate: above)"),
        HASHING,
    )?;
    lb1.wait_for("lvsfw> ", SHORT)?;
    said.lines()
        .find_map(|l| l.trim().strip_prefix("SPKI pin (sha256, base64): "))
        .map(|p| p.trim().to_string())
        .ok_or_else(|| Error(format!("setup printed no pin:\n{said}")))
}

#[test]
fn a_factory_new_box_is_set_up_at_the_console_then_reached_over_pinned_https() -> Result<(), Error>
{
    let mut w = boot("webbrowser")?;
    let addr = page();

    // --- Before setup: no password exists, every login is refused. -------------------
    let first_pin = w.admin.in_netns(|| {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match pinned::first_use(addr, Duration::from_secs(30)) {
                Ok(pin) => return Ok(pin),
                Err(e) if Instant::now() >= deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(500)),
            }
        }
    })??;
    let before = w
        .admin
        .in_netns(|| -> Result<Vec<(String, u16, String)>, Error> {
            let origin = ApiSession::origin(addr);
            let mut seen = Vec::new();
            for (method, path, body, kind) in [
                ("GET", "/login", "", ""),
                (
                    "POST",
                    "/api/login",
                    r#"{"password": "lvsfw"}"#,
                    "application/json",
                ),
                (
                    "POST",
                    "/login",
                    "login_token=x&password=lvsfw",
                    "application/x-www-form-urlencoded",
                ),
                ("GET", "/metrics", "", ""),
            ] {
                let mut headers = vec![("Origin", origin.as_str())];
                if !kind.is_empty() {
                    headers.push(("Content-Type", kind));
                }
                let r =
                    http::request_tls(addr, &first_pin, method, path, &headers, body.as_bytes())?;
                seen.push((format!("{method} {path}"), r.status, r.text()));
            }
            Ok(seen)
        })??;
    for (what, status, body) in &before {
        assert_eq!(*status, 503, "{what}: {body}");
        assert!(body.contains("first-boot setup"), "{what}: {body}");
    }

    // --- Setup at the console; its certificate is the one made at first boot. --------
    let pin = setup_at_the_console(&mut w.lb1)?;
    assert_eq!(pin, first_pin, "the key changed at setup");
    let (shown_pin, pem) = w.lb1.certificate()?;
    assert_eq!(shown_pin, pin);

    // Plain HTTP only redirects; a foreign Host (DNS rebinding) gets nothing.
    let plain = w.admin.in_netns(|| {
        http::request(
            SocketAddr::new(addr.ip(), 80),
            "GET",
            "/status?refresh=5",
            &[],
            b"",
        )
    })??;
    assert_eq!(plain.status, 308);
    assert_eq!(
        plain.header("Location"),
        Some("https://10.10.0.1/status?refresh=5")
    );
    let foreign = w.admin.in_netns(|| {
        http::request_tls(
            addr,
            &pin,
            "GET",
            "/login",
            &[("Host", "evil.example")],
            b"",
        )
    })??;
    assert_eq!(foreign.status, 421, "{}", foreign.text());

    // --- A browser that trusts this key only. ----------------------------------------
    let b = Browser::start(&w.admin, &w.lab.dir, &pin)?;
    b.goto(&format!("http://{MGMT_LB}/"))?;
    assert!(b.url()?.starts_with("https://"), "{}", b.url()?);
    assert!(b.url()?.ends_with("/login"), "{}", b.url()?);
    b.fill("#password", PASSWORD)?;
    b.submit("#login")?;
    assert!(b.url()?.ends_with("/status"), "{}", b.url()?);
    w.lb1
        .console
        .wait_anywhere("web: admin logged in from 10.10.0.50", SHORT)?;

    // A broken keepalived.conf: every error at its line:col, nothing changes.
    b.goto(&url("/config"))?;
    b.fill(
        "#text",
        "virtual_server 192.168.0.100 80 {\n    lb_algo rr\n    delay_lop 6\n    persistence_timeot 50\n}\n",
    )?;
    b.submit("#apply-text")?;
    let errors = b.text("#errors")?;
    for part in [
        "2 errors; nothing was changed.",
        "keepalived.conf:3:5: unknown keyword \"delay_lop\" in virtual_server (did you mean \"delay_loop\"?)",
        "keepalived.conf:4:5: unknown keyword \"persistence_timeot\" in virtual_server",
    ] {
        assert!(errors.contains(part), "{part} missing from\n{errors}");
    }

    // The seed's 3-1, pasted and applied: the kernel gets the service.
    b.fill("#text", SEED_3_1)?;
    b.submit("#apply-text")?;
    let text = b.body_text()?;
    assert!(text.contains("Applied"), "{text}");
    w.lb1
        .console
        .wait_anywhere("IPVS: 3 changes applied", Duration::from_secs(30))?;
    until(&w.client, Duration::from_secs(20), 10, alternating)?;

    // Real server 1's weight to 0 through its form, then Apply.
    b.goto(&url("/config"))?;
    b.fill("#rs-0-0 input[name=weight]", "0")?;
    b.submit("#rs-0-0 button.set")?;
    b.submit("#apply")?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while kernel_weight(&mut w.lb1, "192.168.33.11:80")? != "0" {
        assert!(Instant::now() < deadline, "the kernel kept weight 1");
        std::thread::sleep(Duration::from_millis(500));
    }
    until(&w.client, Duration::from_secs(20), 6, |a| {
        a.iter().all(|x| x == DOCKER2)
    })?;
    // Issue 21: an up server shows its last check too (its first result, a delay_loop
    // after the checks start), not only a server that went down.
    let status = until_page(&b, "/status", Duration::from_secs(30), |s| {
        s.contains("<td class=\"n weight\">0</td>")
            && s.contains("<small class=\"check\">HTTP_GET 192.168.33.12:80/: HTTP status 200 (")
    })?;
    assert!(status.contains("TCP 192.168.0.100:80"), "{status}");
    std::fs::write(w.lab.dir.join("status.png"), b.screenshot()?)?;

    // --- Issue 21: applied but not saved says so on every page and at the console; the
    // tables fit a 1,000-pixel window (the browser's). ---------------------------------
    for path in ["/status", "/config", "/log", "/system"] {
        b.goto(&url(path))?;
        let source = b.source()?;
        assert!(
            source.contains("id=\"unsaved\""),
            "{path}: no unsaved banner"
        );
        let overflow = b.script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
        )?;
        assert!(
            overflow.as_i64().is_some_and(|px| px <= 0),
            "{path} is {overflow} px wider than the 1,000 px window"
        );
    }
    let status = w.lb1.command("show status", SHORT)?;
    assert!(status.contains("applied since the last save"), "{status}");

    // --- The metrics token, made on the page, read by curl as Prometheus would. ------
    b.goto(&url("/system"))?;
    b.submit("#new-token")?;
    let shown = b.body_text()?;
    let token = shown
        .split("only its SHA-256 is kept): ")
        .nth(1)
        .and_then(|rest| rest.get(..64))
        .ok_or_else(|| Error(format!("no token shown:\n{shown}")))?
        .to_string();
    let cacert = w.lab.dir.join("lb1-certificate.pem");
    std::fs::write(&cacert, &pem)?;
    let curl = |auth: Option<&str>| -> Result<(String, String), Error> {
        let mut args = vec![
            "curl".to_string(),
            "-sS".into(),
            "--max-time".into(),
            "20".into(),
            "--cacert".into(),
            cacert.display().to_string(),
            "--pinnedpubkey".into(),
            format!("sha256//{pin}"),
            "-w".into(),
            "\n%{http_code}".into(),
        ];
        if let Some(token) = auth {
            args.push("-H".into());
            args.push(format!("Authorization: Bearer {token}"));
        }
        args.push(url("/metrics"));
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = w.admin.output(&argv)?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or((&text, ""));
        Ok((
            code.to_string(),
            format!("{body}{}", String::from_utf8_lossy(&out.stderr)),
        ))
    };
    let (code, body) = curl(Some(&token))?;
    assert_eq!(code, "200", "{body}");
    assert!(
        body.lines()
            .any(|l| l.starts_with("lvsfw_check_up{service=\"TCP 192.168.0.100:80\"")),
        "{body}"
    );
    let (code, body) = curl(None)?;
    assert_eq!(code, "401", "{body}");
    let (code, body) = curl(Some(&"0".repeat(64)))?;
    assert_eq!(code, "401", "{body}");

    // --- The console changes the password: the page's session ends. -----------------
    w.lb1.send_line("set password")?;
    w.lb1.wait_for("New admin password: ", SHORT)?;
    w.lb1.send_line("another horse")?;
    w.lb1.wait_for("New admin password again: ", SHORT)?;
    w.lb1.send_line("another horse")?;
    w.lb1.wait_for("lvsfw> ", HASHING)?;
    let applied = w.lb1.command("config apply", Duration::from_secs(60))?;
    assert!(applied.contains("applied"), "{applied}");
    b.goto(&url("/status"))?;
    assert!(
        b.url()?.ends_with("/login"),
        "still logged in: {}",
        b.url()?
    );
    // The console that changed it is still in.
    let version = w.lb1.command("show version", SHORT)?;
    assert!(version.starts_with("lvsfw "), "{version}");

    // --- An operator's own certificate, made with openssl, installed on the page. ----
    b.fill("#password", "another horse")?;
    b.submit("#login")?;
    let key = w.lab.dir.join("own.key");
    let crt = w.lab.dir.join("own.crt");
    let other = w.lab.dir.join("other.key");
    let san = format!("subjectAltName=DNS:lb1.example,IP:{MGMT_LB}");
    let (key_path, crt_path, other_path) = (
        key.display().to_string(),
        crt.display().to_string(),
        other.display().to_string(),
    );
    lvsfw_lab::run(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "30",
            "-subj",
            "/CN=lb1.example",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-addext",
            &san,
            "-keyout",
            &key_path,
            "-out",
            &crt_path,
        ],
    )?;
    lvsfw_lab::run(
        "openssl",
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-out",
            &other_path,
        ],
    )?;
    let own_chain = std::fs::read_to_string(&crt)?;
    let own_key = std::fs::read_to_string(&key)?;
    // Another key than the certificate's: refused, with the reason.
    b.goto(&url("/system"))?;
    b.fill("#chain", &own_chain)?;
    b.fill("#key", &std::fs::read_to_string(&other)?)?;
    b.submit("#install-certificate")?;
    let said = b.body_text()?;
    assert!(
        said.contains("Not installed: the key does not belong to the certificate"),
        "{said}"
    );
    b.fill("#chain", &own_chain)?;
    b.fill("#key", &own_key)?;
    b.submit("#install-certificate")?;
    let said = b.body_text()?;
    assert!(said.contains("Installed: SHA-256"), "{said}");
    let new_pin = said
        .split("SPKI pin ")
        .nth(1)
        .and_then(|rest| rest.get(..44))
        .ok_or_else(|| Error(format!("no new pin:\n{said}")))?
        .to_string();
    drop(b);
    // New connections get it; the old key is not served any more.
    let served = w
        .admin
        .in_netns(|| http::request_tls(addr, &new_pin, "GET", "/login", &[], b""))??;
    assert_eq!(served.status, 200);
    let old = w
        .admin
        .in_netns(|| http::request_tls(addr, &pin, "GET", "/login", &[], b""))?;
    assert!(old.is_err(), "the old key is still served");
    let (console_pin, _) = w.lb1.certificate()?;
    assert_eq!(console_pin, new_pin);

    // --- At the console: back to the box's own, then the same certificate pasted. ---
    let own = w.lb1.command("certificate own", Duration::from_secs(60))?;
    assert!(
        own.contains("the box's own certificate is served again"),
        "{own}"
    );
    assert_eq!(w.lb1.certificate()?.0, pin);
    w.lb1.send_line("certificate import")?;
    w.lb1.wait_for("paste the certificate chain", SHORT)?;
    for line in own_chain.lines().chain(own_key.lines()) {
        w.lb1.send_line(line)?;
    }
    w.lb1.send_line(".")?;
    w.lb1.wait_for(
        "installed; \"config save\" keeps it across a reboot",
        Duration::from_secs(60),
    )?;
    w.lb1.wait_for("lvsfw> ", Duration::from_secs(60))?;
    let key_line = own_key.lines().nth(1).unwrap_or("-");
    assert!(
        !w.lb1.console.text().contains(key_line),
        "the pasted key was echoed"
    );
    assert_eq!(w.lb1.certificate()?.0, new_pin);
    let served = w
        .admin
        .in_netns(|| http::request_tls(addr, &new_pin, "GET", "/login", &[], b""))??;
    assert_eq!(served.status, 200);

    // --- Issue 21: nothing of this was saved; a reboot brings back what setup saved:
    // the first password, the box's own certificate, no keepalived.conf, no banner. ---
    w.lb1.send_line("reboot")?;
    w.lb1.wait_for("init: rebooting", Duration::from_secs(20))?;
    w.lb1
        .wait_for("log in with the admin password", Duration::from_secs(90))?;
    let b = Browser::start(&w.admin, &w.lab.dir, &pin)?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if b.goto(&url("/login")).is_ok() && b.find("#password").is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "the page did not come back");
        std::thread::sleep(Duration::from_millis(500));
    }
    b.fill("#password", PASSWORD)?;
    b.submit("#login")?;
    assert!(
        b.url()?.ends_with("/status"),
        "the saved password: {}",
        b.url()?
    );
    let source = b.source()?;
    assert!(
        !source.contains("id=\"unsaved\""),
        "a banner after the reboot"
    );
    assert!(
        !source.contains("TCP 192.168.0.100:80"),
        "3-1 was never saved"
    );
    Ok(())
}
