//! The HTML pages: tinytemplate templates compiled into the binary, and the view models
//! they are rendered from. Every value goes through tinytemplate's HTML escaping; only
//! the style sheet and an already rendered page body are inserted as they are.

use serde::Serialize;
use tinytemplate::TinyTemplate;

use crate::backend::{Counters, Status};
// The one way every front end writes a time (the status model's).
use status::time::utc;

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
    /// The last hour's transitions as a strip, and the same as lines of text.
    timeline: Option<String>,
    transitions: Vec<String>,
    /// Why some services or servers have no chart.
    charts_note: Option<String>,
    time: String,
    time_class: &'static str,
    /// The BGP speaker, when the configuration has a `bgp` block.
    bgp: Option<bgp::BgpView>,
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
    /// The last hour's connections per second and throughput (inline SVG).
    chart_conns: Option<String>,
    chart_bytes: Option<String>,
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
    /// The last hour, small (inline SVG).
    spark_conns: Option<String>,
    spark_bytes: Option<String>,
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
                    state: i.state.to_string(),
                    state_class: i.state.as_str().replace(' ', "-"),
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
                        chart_conns: None,
                        chart_bytes: None,
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
                                    spark_conns: None,
                                    spark_bytes: None,
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
            timeline: None,
            transitions: Vec::new(),
            charts_note: None,
            time: time_text(&s.time),
            bgp: s.bgp.as_ref().map(|b| bgp::view(b, now_ms)),
            time_class: match (s.time.servers.is_empty(), s.time.synchronised) {
                (true, _) => "",
                (false, true) => "up",
                (false, false) => "down",
            },
        }
    }
}

/// The clock in one sentence: synchronised or not, from which server, with what offset.
fn time_text(t: &crate::backend::TimeStatus) -> String {
    if t.servers.is_empty() {
        return "Not kept by NTP (no ntp_servers configured).".into();
    }
    let mut text = match (&t.server, t.synchronised) {
        (Some(server), true) => format!(
            "Synchronised from {server} (stratum {})",
            t.stratum.unwrap_or(0)
        ),
        _ => "Not synchronised".into(),
    };
    if let (Some(offset), Some(delay), Some(at)) = (t.offset_ms, t.delay_ms, t.last_sync_ms) {
        text.push_str(&format!(
            "; last sync {} from {}, offset {offset:+.3} ms, delay {delay:.3} ms",
            utc(at),
            t.server.as_deref().unwrap_or("?")
        ));
    }
    if let (Some(at), Some(by)) = (t.last_step_ms, t.last_step_by_ms) {
        text.push_str(&format!(
            "; clock stepped {} by {:+.3} s",
            utc(at),
            by / 1000.0
        ));
    }
    for p in &t.problems {
        text.push_str(&format!("; {p}"));
    }
    text.push('.');
    text
}

#[path = "pages/bgp.rs"]
mod bgp;
#[path = "pages/charts.rs"]
mod charts;

#[cfg(test)]
#[path = "pages/tests.rs"]
mod tests;
