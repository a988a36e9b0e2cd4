//! The HTML pages: tinytemplate templates compiled into the binary, and the view models
//! they are rendered from. Every value goes through tinytemplate's HTML escaping; only
//! the style sheet and an already rendered page body are inserted as they are.

use serde::Serialize;
use tinytemplate::TinyTemplate;

use crate::backend::{Counters, Status};

const LAYOUT: &str = include_str!("templates/layout.html");
const CSS: &str = include_str!("templates/style.css");
pub const LOGIN: &str = include_str!("templates/login.html");
pub const PASSWORD: &str = include_str!("templates/password.html");
pub const STATUS: &str = include_str!("templates/status.html");
pub const CONFIG: &str = include_str!("templates/config.html");
pub const LOG: &str = include_str!("templates/log.html");
pub const SYSTEM: &str = include_str!("templates/system.html");
pub const HISTORY: &str = include_str!("templates/history.html");
/// A page that is only its messages (the closed page).
pub const EMPTY: &str = "";

/// Which part of the site a page belongs to, for the navigation bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// No navigation: the login page, the closed page.
    None,
    Status,
    Config,
    Log,
    System,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// "ok", "error" or "note": the CSS class.
    pub kind: &'static str,
    pub text: String,
}

impl Message {
    pub fn ok(text: impl Into<String>) -> Message {
        Message {
            kind: "ok",
            text: text.into(),
        }
    }
    pub fn error(text: impl Into<String>) -> Message {
        Message {
            kind: "error",
            text: text.into(),
        }
    }
    pub fn note(text: impl Into<String>) -> Message {
        Message {
            kind: "note",
            text: text.into(),
        }
    }
}

#[derive(Serialize)]
struct Layout<'a> {
    title: &'a str,
    hostname: &'a str,
    nav: bool,
    nav_status: bool,
    nav_config: bool,
    nav_log: bool,
    nav_system: bool,
    csrf: &'a str,
    messages: &'a [Message],
    /// `notices` in the frame; tinytemplate reads a name starting with "not" as `not`.
    banner: &'a crate::backend::Notices,
    body: &'a str,
    refresh: u32,
    css: &'static str,
}

/// What every page has around its body.
pub struct Frame<'a> {
    pub title: &'a str,
    pub hostname: &'a str,
    pub nav: Nav,
    pub csrf: &'a str,
    pub messages: &'a [Message],
    /// Shown above every page of a logged-in operator (unsaved changes, what does not
    /// run); none before the login.
    pub notices: &'a crate::backend::Notices,
    /// Seconds between automatic reloads; 0 for none.
    pub refresh: u32,
}

/// Renders `template` with `context`, then the layout around it.
pub fn render<C: Serialize>(frame: &Frame, template: &'static str, context: &C) -> String {
    // Made a Value here so that the rest is not instantiated once per page type.
    let value = serde_json::to_value(context).unwrap_or_default();
    render_value(frame, template, &value)
}

fn render_value(frame: &Frame, template: &'static str, context: &serde_json::Value) -> String {
    let body = render_one(template, context);
    let layout = Layout {
        title: frame.title,
        hostname: frame.hostname,
        nav: frame.nav != Nav::None,
        nav_status: frame.nav == Nav::Status,
        nav_config: frame.nav == Nav::Config,
        nav_log: frame.nav == Nav::Log,
        nav_system: frame.nav == Nav::System,
        csrf: frame.csrf,
        messages: frame.messages,
        banner: frame.notices,
        body: &body,
        refresh: frame.refresh,
        css: CSS,
    };
    render_one(LAYOUT, &serde_json::to_value(&layout).unwrap_or_default())
}

/// One template (null values print as nothing); a template error (a bug, caught by the tests) shows as a line of text
/// rather than a failed request.
fn render_one(template: &'static str, context: &serde_json::Value) -> String {
    let mut tt = TinyTemplate::new();
    if let Err(e) = tt.add_template("t", template) {
        log::error!("web: template: {e}");
        return format!("template error: {e}");
    }
    tt.render("t", context).unwrap_or_else(|e| {
        log::error!("web: rendering: {e}");
        format!("template error: {e}")
    })
}

/// `3 d 4 h`, `2 h 5 min`, `4 min 10 s`, `12 s`.
pub fn duration_text(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d} d {h} h")
    } else if h > 0 {
        format!("{h} h {m} min")
    } else if m > 0 {
        format!("{m} min {s} s")
    } else {
        format!("{s} s")
    }
}

/// Bytes in powers of 1024: `512 B`, `1.5 KiB`, `20.0 MiB`.
pub fn bytes_text(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A rate in bits per second, as network people read it: `0 bit/s`, `8.0 kbit/s`.
pub fn rate_text(bytes_per_s: u64) -> String {
    const UNITS: [&str; 4] = ["bit/s", "kbit/s", "Mbit/s", "Gbit/s"];
    let mut value = bytes_per_s as f64 * 8.0;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} {}", UNITS[0])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `2026-11-25 12:31:36Z`, from milliseconds since the epoch (UTC; the appliance has no
/// time zone).
pub fn utc(ms: u64) -> String {
    let t = Civil::from_unix(ms / 1000);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// A moment in UTC as the calendar says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    /// 1 to 12.
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    /// 0 is Sunday.
    pub weekday: u8,
}

impl Civil {
    pub fn from_unix(secs: u64) -> Civil {
        let (days, rest) = (secs / 86400, secs % 86400);
        // Howard Hinnant's days-to-civil algorithm.
        let z = days as i64 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        Civil {
            year: yoe + era * 400 + i64::from(month <= 2),
            month: month as u8,
            day: day as u8,
            hour: (rest / 3600) as u8,
            minute: (rest / 60 % 60) as u8,
            second: (rest % 60) as u8,
            // 1970-01-01 was a Thursday.
            weekday: ((days + 4) % 7) as u8,
        }
    }
}

#[derive(Serialize)]
pub struct StatusView {
    version: String,
    uptime: String,
    balancer_uptime: String,
    memory: Option<String>,
    vrrp: Vec<VrrpView>,
    vrrp_note: String,
    services: Vec<ServiceView>,
    ipvs_note: String,
    interfaces: Vec<InterfaceView>,
    slots: Vec<SlotView>,
    slots_note: Option<String>,
}

#[derive(Serialize)]
struct SlotView {
    slot: String,
    version: String,
    state: String,
    signed_by: String,
}

impl SlotView {
    fn new(s: &crate::backend::SlotStatus) -> SlotView {
        let mut state = Vec::new();
        if s.running {
            state.push("running");
        }
        if s.good {
            state.push("good");
        } else if s.running {
            state.push("on trial: marked good once the balancer is ready");
        }
        if s.next {
            state.push("the next boot tries it once");
        }
        SlotView {
            slot: s.slot.clone(),
            version: s.version.clone().unwrap_or_else(|| "(empty)".into()),
            state: state.join(", "),
            signed_by: s.signed_by.clone().unwrap_or_default(),
        }
    }
}

#[derive(Serialize)]
struct VrrpView {
    name: String,
    sync_group: Option<String>,
    state: String,
    /// `state` as a CSS class (no spaces).
    state_class: String,
    reason: Option<String>,
    priority: u8,
    master: String,
    since: String,
    vips: String,
    interface: String,
    vrid: u8,
    became_master: u64,
}

#[derive(Serialize)]
struct ServiceView {
    name: String,
    scheduler: String,
    persistence: Option<u32>,
    conns: u64,
    in_rate: String,
    out_rate: String,
    real_servers: Vec<RealServerView>,
}

#[derive(Serialize)]
struct RealServerView {
    address: String,
    health: String,
    /// What the last check found and when, e.g. `connection refused (12:01:03Z, 2 min ago)`.
    last_check: Option<String>,
    weight: String,
    forward: String,
    active: u32,
    inactive: u32,
    conns: u64,
    cps: u64,
    in_rate: String,
    out_rate: String,
}

#[derive(Serialize)]
struct InterfaceView {
    name: String,
    state: String,
    addresses: String,
    mtu: Option<u32>,
    mac: String,
    rx: String,
    tx: String,
}

fn rates(c: &Counters) -> (String, String) {
    (rate_text(c.in_bps), rate_text(c.out_bps))
}

impl StatusView {
    pub fn new(s: &Status, now_ms: u64) -> StatusView {
        StatusView {
            version: s.version.clone(),
            uptime: duration_text(s.uptime_s),
            balancer_uptime: duration_text(s.balancer_uptime_s),
            memory: s.balancer_rss_kb.map(|kb| bytes_text(kb * 1024)),
            vrrp: s
                .vrrp
                .iter()
                .map(|i| VrrpView {
                    name: i.name.clone(),
                    sync_group: i.sync_group.clone(),
                    state: i.state.clone(),
                    state_class: i.state.replace(' ', "-"),
                    reason: i.reason.clone(),
                    priority: i.priority,
                    master: i.master.clone().unwrap_or_else(|| "unknown".into()),
                    since: i
                        .since_ms
                        .map(|ms| {
                            format!(
                                "{} ({} ago)",
                                utc(ms),
                                duration_text(now_ms.saturating_sub(ms) / 1000)
                            )
                        })
                        .unwrap_or_default(),
                    vips: i.vips.join(", "),
                    interface: i.interface.clone(),
                    vrid: i.vrid,
                    became_master: i.became_master,
                })
                .collect(),
            vrrp_note: s
                .vrrp_note
                .clone()
                .unwrap_or_else(|| "No VRRP instances.".into()),
            services: s
                .services
                .iter()
                .map(|v| {
                    let (in_rate, out_rate) = rates(&v.stats);
                    ServiceView {
                        name: v.name.clone(),
                        scheduler: v.scheduler.clone(),
                        persistence: v.persistence_timeout,
                        conns: v.stats.conns,
                        in_rate,
                        out_rate,
                        real_servers: v
                            .real_servers
                            .iter()
                            .map(|r| {
                                let (in_rate, out_rate) = rates(&r.stats);
                                RealServerView {
                                    address: r.address.clone(),
                                    health: r.health.clone(),
                                    last_check: r.last_check.as_ref().map(|why| {
                                        match r.last_check_ms {
                                            Some(ms) => format!(
                                                "{why} ({}, {} ago)",
                                                utc(ms),
                                                duration_text(now_ms.saturating_sub(ms) / 1000)
                                            ),
                                            None => why.clone(),
                                        }
                                    }),
                                    weight: r
                                        .weight
                                        .map(|w| w.to_string())
                                        .unwrap_or_else(|| "removed".into()),
                                    forward: r.forward.clone(),
                                    active: r.active_conns,
                                    inactive: r.inactive_conns,
                                    conns: r.stats.conns,
                                    cps: r.stats.cps,
                                    in_rate,
                                    out_rate,
                                }
                            })
                            .collect(),
                    }
                })
                .collect(),
            ipvs_note: s
                .ipvs_note
                .clone()
                .unwrap_or_else(|| "No virtual services.".into()),
            interfaces: s
                .interfaces
                .iter()
                .map(|n| InterfaceView {
                    name: n.name.clone(),
                    state: n.state.clone(),
                    addresses: n.addresses.join(", "),
                    mtu: n.mtu,
                    mac: n.mac.clone(),
                    rx: bytes_text(n.rx_bytes),
                    tx: bytes_text(n.tx_bytes),
                })
                .collect(),
            slots: s.slots.iter().map(SlotView::new).collect(),
            slots_note: s.slots_note.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::*;

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
                    state: "MASTER".into(),
                    priority: 101,
                    master: Some("192.168.0.101".into()),
                    since_ms: Some(1_000),
                    vips: vec!["192.168.0.100/24".into(), "192.168.33.10/24".into()],
                    ..VrrpStatus::default()
                },
                VrrpStatus {
                    name: "VI_INT".into(),
                    state: "NOT RUNNING".into(),
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
                    last_check: Some(
                        "TCP_CHECK 192.168.33.11:80: connect timeout after 3 s".into(),
                    ),
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
}
