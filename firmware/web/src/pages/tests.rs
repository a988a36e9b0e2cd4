use super::*;
use crate::backend::*;

#[test]
fn the_clock_is_one_sentence() {
    let mut t = TimeStatus::default();
    assert_eq!(
        time_text(&t),
        "Not kept by NTP (no ntp_servers configured)."
    );
    t.servers = vec!["192.0.2.9".into()];
    t.problems = vec!["192.0.2.9: no answer within 2 s".into()];
    assert_eq!(
        time_text(&t),
        "Not synchronised; 192.0.2.9: no answer within 2 s."
    );
    t = TimeStatus {
        servers: vec!["192.168.0.1".into()],
        synchronised: true,
        server: Some("192.168.0.1".into()),
        stratum: Some(8),
        offset_ms: Some(-0.5),
        delay_ms: Some(2.0),
        last_sync_ms: Some(1_796_429_000_000),
        last_step_ms: Some(1_796_428_990_000),
        last_step_by_ms: Some(31_536_000_000.0),
        problems: Vec::new(),
    };
    assert_eq!(
        time_text(&t),
        "Synchronised from 192.168.0.1 (stratum 8); last sync 2026-12-05 00:03:20Z from 192.168.0.1, offset -0.500 ms, delay 2.000 ms; clock stepped 2026-12-05 00:03:10Z by +31536000.000 s."
    );
}

static NO_NOTICES: Notices = Notices {
    unsaved: false,
    not_running: Vec::new(),
    rollback: None,
};

fn frame<'a>(messages: &'a [Message]) -> Frame<'a> {
    Frame {
        title: "Status",
        hostname: "lb1",
        nav: Nav::Status,
        csrf: "tok",
        messages,
        notices: &NO_NOTICES,
        refresh: 0,
    }
}

#[test]
fn every_template_compiles() {
    for t in [
        LAYOUT, LOGIN, PASSWORD, STATUS, CONFIG, LOG, SYSTEM, HISTORY,
    ] {
        let mut tt = TinyTemplate::new();
        tt.add_template("t", t).unwrap();
    }
}

#[test]
fn the_status_page_shows_vrrp_ipvs_and_interfaces_escaped() {
    let status = Status {
        version: "0.1.0".into(),
        hostname: "lb1".into(),
        uptime_s: 3725,
        balancer_uptime_s: 12,
        balancer_rss_kb: Some(3072),
        vrrp: vec![
            VrrpStatus {
                name: "VI_<1>".into(),
                state: crate::backend::VrrpState::Master,
                priority: 101,
                master: Some("192.168.0.101".into()),
                since_ms: Some(1_000),
                vips: vec!["192.168.0.100/24".into(), "192.168.33.10/24".into()],
                ..VrrpStatus::default()
            },
            VrrpStatus {
                name: "VI_INT".into(),
                state: crate::backend::VrrpState::NotRunning,
                reason: Some("VRRP socket on int: Address not available".into()),
                ..VrrpStatus::default()
            },
        ],
        services: vec![ServiceStatus {
            name: "TCP 192.168.0.100:80".into(),
            scheduler: "rr".into(),
            real_servers: vec![RealServerStatus {
                address: "192.168.33.11:80".into(),
                forward: "Masq".into(),
                weight: Some(0),
                health: "down".into(),
                last_check: Some("TCP_CHECK 192.168.33.11:80: connect timeout after 3 s".into()),
                last_check_ms: Some(31_000),
                ..RealServerStatus::default()
            }],
            ..ServiceStatus::default()
        }],
        interfaces: vec![InterfaceStatus {
            name: "ext".into(),
            state: "up".into(),
            addresses: vec!["192.168.0.101/24".into()],
            mtu: Some(1500),
            rx_bytes: 1536,
            ..InterfaceStatus::default()
        }],
        slots: vec![
            SlotStatus {
                slot: "A".into(),
                version: Some("1.0".into()),
                good: true,
                signed_by: Some("release-2026 (ed25519:ab12)".into()),
                ..SlotStatus::default()
            },
            SlotStatus {
                slot: "B".into(),
                version: Some("1.1".into()),
                running: true,
                ..SlotStatus::default()
            },
        ],
        ..Status::default()
    };
    let messages = [Message::ok("saved & sound")];
    let html = render(&frame(&messages), STATUS, &StatusView::new(&status, 61_000));
    for part in [
        "<title>Status - lb1</title>",
        "<a href=\"/status\" class=\"here\">Status</a>",
        "<input type=\"hidden\" name=\"csrf\" value=\"tok\">",
        "<p class=\"msg ok\">saved &amp; sound</p>",
        "up 1 h 2 min",
        "balancer memory 3.0 MiB",
        "<td>VI_&lt;1&gt;</td><td class=\"MASTER\">MASTER</td><td class=\"n\">101</td><td>192.168.0.101</td>",
        "<td>VI_INT</td><td class=\"NOT-RUNNING\">NOT RUNNING</td><td colspan=\"7\" class=\"wrap why\">VRRP socket on int: Address not available; tried again every second</td>",
        "1970-01-01 00:00:01Z (1 min 0 s ago)",
        "192.168.0.100/24, 192.168.33.10/24",
        "<h3>TCP 192.168.0.100:80 <small>rr &middot;",
        "<td>192.168.33.11:80</td><td class=\"wrap\"><span class=\"down\">down</span><br><small class=\"check\">TCP_CHECK 192.168.33.11:80: connect timeout after 3 s (1970-01-01 00:00:31Z, 30 s ago)</small></td><td class=\"n weight\">0</td><td>Masq</td>",
        "<tr><td>A</td><td>1.0</td><td>good</td><td class=\"wrap\">release-2026 (ed25519:ab12)</td></tr>",
        "<tr><td>B</td><td>1.1</td><td>running, on trial: marked good once the balancer is ready</td><td class=\"wrap\"></td></tr>",
        "<td>ext</td><td class=\"up\">up</td><td class=\"wrap\">192.168.0.101/24</td><td class=\"n\">1500</td><td></td><td class=\"n\">1.5 KiB</td>",
    ] {
        assert!(html.contains(part), "{part} missing from\n{html}");
    }
    assert!(!html.contains("template error"), "{html}");
    assert!(!html.contains("VI_<1>"));
}

#[test]
fn an_empty_status_says_so() {
    let html = render(&frame(&[]), STATUS, &StatusView::new(&Status::default(), 0));
    assert!(html.contains("<p>No VRRP instances.</p>"), "{html}");
    assert!(html.contains("No virtual services."), "{html}");
}

#[test]
fn units_read_well() {
    assert_eq!(duration_text(0), "0 s");
    assert_eq!(duration_text(250), "4 min 10 s");
    assert_eq!(duration_text(90_000), "1 d 1 h");
    assert_eq!(bytes_text(512), "512 B");
    assert_eq!(bytes_text(20 * 1024 * 1024), "20.0 MiB");
    assert_eq!(rate_text(0), "0 bit/s");
    assert_eq!(rate_text(1000), "8.0 kbit/s");
    assert_eq!(utc(0), "1970-01-01 00:00:00Z");
    assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00Z");
}
