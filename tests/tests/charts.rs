//! Issue 20, item 5: the status page's pictures. Ten minutes of client traffic through
//! the kernel's IPVS, a real server going down and one VRRP failover (a keepalived peer
//! of higher priority takes the instance over); then the page in chromium shows each
//! service's last hour as charts whose peaks match the traffic the client made, and a
//! strip with the transitions. The screenshot is kept as this test's artifact
//! (`target/lab-logs/charts.png`).

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use lvsfw_lab::addresses::*;
use lvsfw_lab::browser::Browser;
use lvsfw_lab::http;
use lvsfw_lab::peers::Keepalived;
use lvsfw_lab::seed::{web_lb1_config, MGMT_ADMIN, MGMT_LB};
use lvsfw_lab::{ApplianceSpec, Error, Lab, Net};

const PASSWORD: &str = "correct horse";
/// The client's traffic, as the issue asks.
const TRAFFIC: Duration = Duration::from_secs(600);
/// The instance the peer takes over; the balancing VIP stays a plain address of lb1.
const FAILOVER_VIP: &str = "192.168.0.200";

fn url(path: &str) -> String {
    format!("https://{MGMT_LB}{path}")
}

fn conf() -> String {
    format!(
        "{SEED_3_1}
vrrp_instance VI_C {{
    state BACKUP
    interface ext
    virtual_router_id 60
    priority 100
    advert_int 1
    virtual_ipaddress {{
        {FAILOVER_VIP}/24
    }}
}}
"
    )
}

fn peer_conf() -> String {
    format!(
        "vrrp_instance VI_C {{
    state BACKUP
    interface eth0
    virtual_router_id 60
    priority 200
    advert_int 1
    virtual_ipaddress {{
        {FAILOVER_VIP}/24
    }}
}}
"
    )
}

/// The peak a chart prints in its label (`...: peak 4.2/s`), for the chart titled `title`.
fn peak(source: &str, title: &str) -> Result<f64, Error> {
    let label = format!("aria-label=\"{title}: peak ");
    let rest = source
        .split(&label)
        .nth(1)
        .ok_or_else(|| Error(format!("no chart {title:?} with a peak in:\n{source}")))?;
    let number: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    number.parse().map_err(|_| {
        Error(format!(
            "chart {title:?}: no number in {:?}",
            &rest[..40.min(rest.len())]
        ))
    })
}

#[test]
fn ten_minutes_of_traffic_and_a_failover_show_as_charts_and_marks() -> Result<(), Error> {
    let mut lab = Lab::new("charts", true)?;
    let client = lab.add_host("client", Net::Ext, &format!("{CLIENT}/24"), None)?;
    let rs1 = lab.add_host("rs1", Net::Int, &format!("{RS1}/24"), Some(LB1_INT))?;
    let rs2 = lab.add_host("rs2", Net::Int, &format!("{RS2}/24"), Some(LB1_INT))?;
    let admin = lab.add_host("admin", Net::Mgmt, &format!("{MGMT_ADMIN}/24"), None)?;
    let httpd1 = lab.serve_http(&rs1, &format!("{DOCKER1}\n"))?;
    lab.serve_http(&rs2, &format!("{DOCKER2}\n"))?;
    let lb2 = lab.add_host("lb2", Net::Ext, &format!("{LB2_EXT}/24"), None)?;
    let mut lb1 = lab.boot(ApplianceSpec {
        name: "lb1".into(),
        config_json: Some(web_lb1_config(Some(&http::admin_json(PASSWORD)))),
        files: vec![("etc/lvsfw/keepalived.conf".into(), conf().into_bytes())],
        mgmt: true,
        ..ApplianceSpec::default()
    })?;
    lb1.wait_for("balancer: interfaces up", Duration::from_secs(60))?;
    lb1.wait_for("VI_C: BACKUP -> MASTER", Duration::from_secs(60))?;
    lb1.console
        .wait_anywhere("IPVS: 3 changes applied", Duration::from_secs(30))?;
    until(&client, Duration::from_secs(20), 10, alternating)?;

    // Ten minutes of requests, one at a time with a pause between them; each answer is a
    // line of the log, so the client's own rate is known.
    let answers = lab.log_path("answers");
    let script = format!(
        "end=$(( $(date +%s) + {} )); while [ $(date +%s) -lt $end ]; do \
         curl -s -m 2 http://{VIP}/ && echo; sleep 0.1; done >> {}",
        TRAFFIC.as_secs(),
        answers.display()
    );
    let started = Instant::now();
    let traffic = lab.spawn(&client, &["sh", "-c", &script], "traffic")?;

    // Half-way, real server 1 goes down; at eight minutes the peer takes VI_C over.
    std::thread::sleep(TRAFFIC / 2);
    lab.stop(httpd1);
    lb1.wait_for(
        "real server 192.168.33.11:80 of TCP 192.168.0.100:80: down",
        Duration::from_secs(40),
    )?;
    std::thread::sleep((TRAFFIC * 8 / 10).saturating_sub(started.elapsed()));
    let _peer = Keepalived::start(&mut lab, &lb2, "keepalived-lb2", &peer_conf())?;
    lb1.wait_for("VI_C: MASTER -> BACKUP", Duration::from_secs(30))?;
    std::thread::sleep(TRAFFIC.saturating_sub(started.elapsed()));
    // The loop ends by itself at its deadline; give it the last request's time.
    lab.wait_exit(traffic, Duration::from_secs(10));
    let elapsed = started.elapsed().as_secs_f64();
    let served = std::fs::read_to_string(&answers)?
        .lines()
        .filter(|l| l.contains("Hello Docker"))
        .count();
    let client_rate = served as f64 / elapsed;
    println!("the client had {served} answers in {elapsed:.0} s: {client_rate:.2}/s");
    assert!(served > 100, "only {served} answers");

    // --- The page, as an operator sees it (a 1,000-pixel-wide chromium). ----------------
    let (pin, _) = lb1.certificate()?;
    let b = Browser::start(&admin, &lab.dir, &pin)?;
    b.goto(&url("/login"))?;
    b.fill("#password", PASSWORD)?;
    b.submit("#login")?;
    b.goto(&url("/status"))?;
    let source = b.source()?;
    std::fs::write(lab.dir.join("../charts.png"), b.screenshot()?)?;

    // Two charts for the service, small ones for each server, a strip of transitions.
    let service = "TCP 192.168.0.100:80";
    let conns_peak = peak(
        &source,
        &format!("{service}: connections per second, last hour"),
    )?;
    let bytes_title = format!("{service}: throughput in and out, last hour");
    assert!(
        source.contains(&bytes_title),
        "no throughput chart:\n{source}"
    );
    // Steady traffic: the busiest 10-second step is near the client's average rate
    // (both real servers' answers count; a few steps carry a retry or a pause).
    assert!(
        conns_peak >= client_rate * 0.7 && conns_peak <= client_rate * 2.5,
        "the chart's peak {conns_peak}/s is not the client's {client_rate:.2}/s"
    );
    for server in ["192.168.33.11:80", "192.168.33.12:80"] {
        let title = format!("{server}: connections per second, last hour");
        assert!(source.contains(&title), "no chart for {server}");
    }
    // The strip marks the failover and the server going down, and lists them.
    let text = b.text("#transitions")?;
    let at = |line: &str| {
        text.find(line)
            .ok_or_else(|| Error(format!("no {line:?} in:\n{text}")))
    };
    // Newest first: the failover to BACKUP above the MASTER it left.
    let backup = at("VRRP VI_C \u{2192} BACKUP")?;
    assert!(backup < at("VRRP VI_C \u{2192} MASTER")?, "{text}");
    at("health TCP 192.168.0.100:80 192.168.33.11:80 \u{2192} down")?;
    let marks = source.matches("<g class=\"mark\">").count();
    assert!(marks >= 3, "{marks} marks on the strip");

    // Every table (the interfaces', the servers' with their small charts) fits the
    // 1,000-pixel window without scrolling, and so does the page.
    let overflow = b.script(
        "return [...document.querySelectorAll('table')] \
            .map(t => (t.id || t.className) + ' ' + (t.scrollWidth - t.clientWidth)) \
            .concat(['page ' + (document.documentElement.scrollWidth \
                                - document.documentElement.clientWidth)]);",
    )?;
    let overflow: Vec<String> =
        serde_json::from_value(overflow).map_err(|e| Error(format!("the overflow script: {e}")))?;
    assert!(
        overflow
            .iter()
            .all(|o| o.ends_with(" 0") || o.contains(" -")),
        "wider than the window, in px: {overflow:?}"
    );
    assert!(
        overflow.iter().any(|o| o.starts_with("interfaces ")),
        "{overflow:?}"
    );

    // The API still answers the status without the charts in it.
    let tls = SocketAddr::new(MGMT_LB.parse().unwrap(), 443);
    let api = admin.in_netns(|| http::ApiSession::login(tls, &pin, PASSWORD))??;
    let status = admin.in_netns(|| api.json("/api/status"))??;
    assert!(status.get("charts").is_none(), "{status}");
    println!(
        "balancer memory after ten minutes of charts: {} KiB",
        status["balancer_rss_kb"]
    );
    Ok(())
}
