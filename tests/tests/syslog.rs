//! Issue 20, logs that leave the box: remote syslog to Debian's rsyslog in a lab namespace
//! (RFC 5424 over UDP, and over TCP with octet counting), the audit trail in its own ring
//! that 10,000 junk requests do not evict and that a reboot keeps (the configuration
//! disk's audit area), and a TCP syslog server that accepts and never reads: VRRP's
//! adverts keep their interval and PID 1's memory stays bounded.
//!
//! One boot (and one reboot) for all of it.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use lvsfw_lab::addresses::*;
use lvsfw_lab::http::{self, ApiSession};
use lvsfw_lab::seed::{web_lab, MGMT_LB};
use lvsfw_lab::{ApplianceSpec, Error, Net};

const PASSWORD: &str = "correct horse";
const SINK: &str = "192.168.0.26";
/// The TCP server that takes connections and never reads one byte.
const STUCK_PORT: u16 = 6514;
const JUNK: usize = 10_000;
const ARRIVAL: Duration = Duration::from_secs(30);
const BOOT: Duration = Duration::from_secs(120);

const STUCK_SERVER: &str = r#"
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(4)
print("listening", flush=True)
held = []
while True:
    c, peer = s.accept()
    held.append(c)
    print("accepted", peer, flush=True)
"#;

fn keepalived_conf() -> String {
    format!(
        "vrrp_instance VI_1 {{
    state BACKUP
    interface ext
    virtual_router_id 51
    priority 150
    advert_int 1
    virtual_ipaddress {{
        {VIP}/24
    }}
}}
"
    )
}

fn config_json() -> String {
    format!(
        r#"{{"hostname": "lb1", "interfaces": [
            {{"role": "ext", "addresses": ["{LB1_EXT}/24"]}},
            {{"role": "int", "addresses": ["{LB1_INT}/24"]}},
            {{"role": "mgmt", "addresses": ["{MGMT_LB}/24"]}}],
          "syslog": [
            {{"server": "{SINK}", "facility": "local0"}},
            {{"server": "{SINK}", "protocol": "tcp", "levels": {{"web": "none"}}}},
            {{"server": "{SINK}", "protocol": "tcp", "port": {STUCK_PORT}}}],
          {}}}"#,
        http::admin_json(PASSWORD)
    )
}

fn rsyslog_conf(dir: &std::path::Path) -> String {
    let d = dir.display();
    format!(
        r#"global(workDirectory="{d}")
module(load="imudp")
module(load="imtcp")
template(name="raw" type="string" string="%rawmsg%\n")
ruleset(name="udp") {{ action(type="omfile" file="{d}/syslog-udp.txt" template="raw") }}
ruleset(name="tcp") {{ action(type="omfile" file="{d}/syslog-tcp.txt" template="raw") }}
input(type="imudp" address="{SINK}" port="514" ruleset="udp")
input(type="imtcp" address="{SINK}" port="514" ruleset="tcp")
"#
    )
}

/// The lines of `file` that end a well-formed RFC 5424 header with `msgid` and contain
/// `text`: `<PRI>1 TIMESTAMP lb1 lvsfw PROCID MSGID - MSG`.
fn rfc5424(file: &std::path::Path, pri: u8, msgid: &str, text: &str) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter(|l| {
            let f: Vec<&str> = l.splitn(8, ' ').collect();
            f.len() == 8
                && f[0] == format!("<{pri}>1")
                && f[1].len() == 27
                && f[1].ends_with('Z')
                && f[1].as_bytes()[10] == b'T'
                && f[3] == "lvsfw"
                && f[4] == "1"
                && f[5] == msgid
                && f[6] == "-"
                && f[7].contains(text)
        })
        .map(String::from)
        .collect()
}

fn wait_rfc5424(file: &std::path::Path, pri: u8, msgid: &str, text: &str) -> Result<String, Error> {
    let deadline = Instant::now() + ARRIVAL;
    loop {
        if let Some(l) = rfc5424(file, pri, msgid, text).into_iter().next() {
            return Ok(l);
        }
        if Instant::now() >= deadline {
            let all = std::fs::read_to_string(file).unwrap_or_default();
            let tail: Vec<&str> = all.lines().rev().take(30).collect();
            return Err(Error(format!(
                "no <{pri}> {msgid} line with {text:?} in {} within {ARRIVAL:?}; its last lines:\n{}",
                file.display(),
                tail.join("\n")
            )));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `JUNK` requests for a foreign Host on port 80, each answered 421 and logged by the
/// page as a warning (so each pushes a line through the page's 500-line log ring),
/// sent over `connections` concurrent connections, pipelined where the server keeps
/// one open. Returns how many answers came back.
fn junk(addr: SocketAddr, connections: usize) -> usize {
    let per = JUNK.div_ceil(connections);
    let threads: Vec<_> = (0..connections)
        .map(|t| {
            std::thread::spawn(move || {
                let mut answered = 0;
                let mut sent = 0;
                let mut tries = 0;
                while answered < per && tries < 4 * per {
                    tries += 1;
                    let Ok(mut s) =
                        std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))
                    else {
                        std::thread::sleep(Duration::from_millis(50));
                        continue;
                    };
                    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                    let batch = (per - answered).min(50);
                    let mut text = String::new();
                    for i in 0..batch {
                        // The last of a batch closes, so that the read ends there.
                        let close = if i + 1 == batch {
                            "Connection: close\r\n"
                        } else {
                            ""
                        };
                        text.push_str(&format!(
                            "GET /junk-{t}-{sent}-{i} HTTP/1.1\r\nHost: junk.example\r\n{close}\r\n"
                        ));
                    }
                    sent += 1;
                    let _ = s.write_all(text.as_bytes());
                    let mut got = Vec::new();
                    let _ = s.read_to_end(&mut got);
                    let n = String::from_utf8_lossy(&got)
                        .matches("HTTP/1.1 421")
                        .count();
                    answered += n;
                }
                answered
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap_or(0)).sum()
}

/// PID 1's resident memory in KiB (`debug cat`, the box runs with lvsfw.debug).
fn pid1_rss_kb(lb: &mut lvsfw_lab::Appliance) -> Result<u64, Error> {
    let status = lb.command("debug cat /proc/1/status", Duration::from_secs(20))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| Error(format!("no VmRSS in:\n{status}")))
}

/// The longest time between two of lb1's VRRP adverts in tcpdump's `-tt` log, in ms,
/// and how many there were, after `from` (seconds since the epoch).
fn advert_gaps(log: &std::path::Path, from: f64) -> (u64, usize) {
    let times: Vec<f64> = std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&format!("{LB1_EXT} > 224.0.0.18")))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .filter(|&t| t >= from)
        .collect();
    let longest = times
        .windows(2)
        .map(|w| ((w[1] - w[0]) * 1000.0) as u64)
        .max()
        .unwrap_or(0);
    (longest, times.len())
}

fn epoch_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[test]
fn syslog_leaves_the_box_and_the_audit_trail_survives_junk_and_a_reboot() -> Result<(), Error> {
    let (mut lab, _client, admin) = web_lab("syslog")?;
    let sink = lab.add_host("sink", Net::Ext, &format!("{SINK}/24"), None)?;
    let dir = lab
        .log_path("x")
        .parent()
        .expect("the lab's folder")
        .to_path_buf();
    let conf = dir.join("rsyslog.conf");
    std::fs::write(&conf, rsyslog_conf(&dir))?;
    let conf_arg = conf.to_string_lossy().into_owned();
    let pid_arg = dir.join("rsyslog.pid").to_string_lossy().into_owned();
    lab.spawn(
        &sink,
        &["/usr/sbin/rsyslogd", "-n", "-f", &conf_arg, "-i", &pid_arg],
        "rsyslog",
    )?;
    let port = STUCK_PORT.to_string();
    lab.spawn(
        &sink,
        &["/usr/bin/python3", "-c", STUCK_SERVER, SINK, &port],
        "stuck",
    )?;
    lab.wait_log("stuck", "listening", Duration::from_secs(20))?;
    lab.spawn(
        &sink,
        &["tcpdump", "-i", "eth0", "-n", "-tt", "-l", "vrrp"],
        "adverts",
    )?;
    let udp = dir.join("syslog-udp.txt");
    let tcp = dir.join("syslog-tcp.txt");

    let disk = lab.disk("lb1")?;
    let spec = ApplianceSpec {
        name: "lb1".into(),
        config_json: Some(config_json()),
        files: vec![(
            "etc/lvsfw/keepalived.conf".into(),
            keepalived_conf().into_bytes(),
        )],
        mgmt: true,
        disk: Some(disk.clone()),
        extra_cmdline: "lvsfw.debug".into(),
        ..ApplianceSpec::default()
    };
    let mut lb1 = lab.boot(spec)?;
    lb1.wait_for("balancer: interfaces up", Duration::from_secs(60))?;
    lb1.console.wait_anywhere(
        &format!("web: listening on https://{MGMT_LB}:443 on mgmt"),
        Duration::from_secs(30),
    )?;

    // --- RFC 5424 lines for a VRRP transition, a login, a failed login, a change. ----
    // local0 (16) over UDP, daemon (3) over TCP; info (6) for VRRP, notice (5) for audit.
    lb1.wait_for("VI_1: BACKUP -> MASTER", Duration::from_secs(60))?;
    let vrrp_udp = wait_rfc5424(&udp, 16 * 8 + 6, "vrrp", "VI_1: BACKUP -> MASTER")?;
    println!("udp: {vrrp_udp}");
    wait_rfc5424(&tcp, 3 * 8 + 6, "vrrp", "VI_1: BACKUP -> MASTER")?;
    let booted = wait_rfc5424(&tcp, 3 * 8 + 5, "audit", "system: booted lvsfw")?;
    println!("tcp: {booted}");

    let (pin, _) = lb1.certificate()?;
    let tls = SocketAddr::new(MGMT_LB.parse().unwrap(), 443);
    let wrong = admin.in_netns(|| ApiSession::login(tls, &pin, "not the password"))?;
    assert!(wrong.is_err(), "a wrong password logged in");
    let api = admin.in_netns(|| ApiSession::login(tls, &pin, PASSWORD))??;
    let login = wait_rfc5424(&tcp, 29, "audit", "page: admin logged in from 10.10.0.50")?;
    println!("tcp: {login}");
    wait_rfc5424(&udp, 133, "audit", "page: admin logged in from 10.10.0.50")?;
    wait_rfc5424(&tcp, 29, "audit", "page: failed login from 10.10.0.50")?;

    lb1.command("set hostname lb1b", Duration::from_secs(30))?;
    lb1.command("config apply", Duration::from_secs(60))?;
    let change = wait_rfc5424(&tcp, 29, "audit", "console: config set hostname lb1b: done")?;
    println!("tcp: {change}");
    wait_rfc5424(&tcp, 29, "audit", "console: config apply: done")?;
    let saved = admin.in_netns(|| api.call("POST", "/api/config/save", b""))??;
    assert_eq!(saved.status, 200, "{}", saved.text());
    wait_rfc5424(&tcp, 29, "audit", "saved the configuration")?;
    // A kernel message (written to /dev/kmsg at error level by the debug command): read
    // by PID 1 and sent with the kernel's own severity, err (3).
    lb1.command("debug kmsg 3", Duration::from_secs(30))?;
    let kernel = wait_rfc5424(&tcp, 3 * 8 + 3, "kernel", "debug kmsg: flood line 3 of 3")?;
    println!("tcp: {kernel}");

    let shown = lb1.command("show audit", Duration::from_secs(20))?;
    for line in [
        "system: booted lvsfw",
        "page: failed login from 10.10.0.50",
        "page: admin logged in from 10.10.0.50",
        "console: config apply: done",
    ] {
        assert!(shown.contains(line), "no {line:?} in show audit:\n{shown}");
    }

    // --- 10,000 junk requests; the stuck TCP server meanwhile holds its queue full. --
    let rss_before = pid1_rss_kb(&mut lb1)?;
    let plain = SocketAddr::new(MGMT_LB.parse().unwrap(), 80);
    let started = Instant::now();
    // 6 connections: the page takes 8 from one address.
    let answered = admin.in_netns(|| junk(plain, 6))?;
    let took = started.elapsed();
    println!(
        "{answered} junk requests answered in {:.1} s ({:.0}/s)",
        took.as_secs_f64(),
        answered as f64 / took.as_secs_f64()
    );
    assert!(
        answered >= JUNK,
        "only {answered} of {JUNK} junk requests were answered"
    );
    // The page's own ring has only junk now; the audit trail still has everything.
    let page = admin.in_netns(|| api.call("GET", "/log", b""))??;
    let text = page.text();
    let everything = text.split("<h2>Everything</h2>").nth(1).unwrap_or("");
    assert!(
        !everything.contains("logged in from 10.10.0.50"),
        "the junk did not push the login out of the page's log ring; the test proves nothing"
    );
    let audit = text.split("id=\"audit\">").nth(1).unwrap_or("");
    for line in [
        "page: admin logged in from 10.10.0.50",
        "page: failed login from 10.10.0.50",
        "console: config apply: done",
    ] {
        assert!(
            audit.contains(line),
            "no {line:?} in the page's audit trail:\n{audit}"
        );
    }
    // Per-source levels: the TCP server on 514 takes no web lines, the UDP one does.
    assert!(!rfc5424(&udp, 16 * 8 + 4, "web", "not this box's name").is_empty());
    assert!(
        rfc5424(&tcp, 3 * 8 + 4, "web", "").is_empty(),
        "web lines went to the server that has web: none"
    );

    // The stuck server: its queue is full and dropping; VRRP adverts keep their
    // interval (advert_int 1) and PID 1's memory stays bounded.
    let quiet_from = epoch_secs();
    let mut flood = 0;
    while epoch_secs() - quiet_from < 12.0 {
        // More lines for the stuck server's queue while the adverts are timed.
        lb1.send_line("show audit")?;
        flood += 1;
        std::thread::sleep(Duration::from_millis(300));
    }
    let (longest, adverts) = advert_gaps(&lab.log_path("adverts"), quiet_from);
    let rss_after = pid1_rss_kb(&mut lb1)?;
    println!(
        "with a TCP syslog server that never reads: {adverts} adverts, longest gap {longest} ms; \
         PID 1 RSS {rss_before} KiB before the junk, {rss_after} KiB after ({flood} commands)"
    );
    let stuck_log = std::fs::read_to_string(lab.log_path("stuck")).unwrap_or_default();
    assert!(
        stuck_log.contains("accepted"),
        "the box never connected to the stuck server"
    );
    assert!(adverts >= 9, "{adverts} adverts in 12 s");
    assert!(
        longest < 1_600,
        "an advert came {longest} ms after the one before"
    );
    assert!(
        rss_after < rss_before + 4096,
        "PID 1 grew from {rss_before} KiB to {rss_after} KiB"
    );
    // Said once at the first drop (the console may be too far behind to show it).
    let dropped = wait_rfc5424(
        &udp,
        16 * 8 + 4,
        "init",
        &format!("lines to {SINK}:{STUCK_PORT} dropped"),
    )?;
    println!("udp: {dropped}");

    // --- A reboot: the audit trail comes back from the disk. --------------------------
    lb1.send_line("reboot")?;
    lb1.wait_for("init: rebooting", Duration::from_secs(30))?;
    lb1.wait_for("balancer: interfaces up", BOOT)?;
    lb1.wait_for("lvsfw> ", Duration::from_secs(30))?;
    let shown = lb1.command("show audit", Duration::from_secs(20))?;
    for line in [
        "page: admin logged in from 10.10.0.50",
        "console: config apply: done",
        "system: reboot",
    ] {
        assert!(
            shown.contains(line),
            "no {line:?} after the reboot:\n{shown}"
        );
    }
    assert!(
        shown.matches("system: booted lvsfw").count() >= 2,
        "both boots are in the trail:\n{shown}"
    );
    Ok(())
}
