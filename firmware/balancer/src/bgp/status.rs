//! What `show bgp`, the page and /metrics show of the speaker: one JSON file
//! (`/run/lvsfw/bgp.json`), written whole (a temporary name renamed over the old one) by
//! the BGP task when something changed, like VRRP's status file.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use ::status::bgp::{BfdNeighborStatus, BgpNeighborStatus, BgpPrefixStatus, BgpStatus};
use bgp::Prefix;

use super::plan::{PeerSpec, Plan};
use crate::bfd_link::BfdStatus;
use crate::bgp_peer::PeerStatus;

pub const DEFAULT_PATH: &str = paths::BGP_STATUS;
/// A status file larger than this is not read (a full one is a few kilobytes).
const MAX_FILE: u64 = 1 << 20;

fn ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

pub fn snapshot(
    plan: &Plan,
    peers: &[(&PeerSpec, PeerStatus)],
    judged: &[(Prefix, bool, String)],
    drained: bool,
) -> BgpStatus {
    BgpStatus {
        local_as: plan.local_as,
        router_id: plan.router_id.to_string(),
        drained,
        neighbors: peers
            .iter()
            .map(|(spec, s)| BgpNeighborStatus {
                address: spec.address.to_string(),
                remote_as: spec.settings.remote_as,
                state: s.state.to_string(),
                since_ms: ms(s.since),
                established_since_ms: s.established_since.map(ms),
                advertised: s
                    .advertised
                    .iter()
                    .map(|(p, graceful)| {
                        if *graceful {
                            format!("{p} (graceful shutdown)")
                        } else {
                            p.to_string()
                        }
                    })
                    .collect(),
                last_notification: s.last_notification.as_ref().map(|n| n.0.clone()),
                last_notification_ms: s.last_notification.as_ref().map(|n| ms(n.1)),
                last_error: s.last_error.clone(),
                updates_sent: s.counters.updates_sent,
                updates_received: s.counters.updates_received,
                notifications_sent: s.counters.notifications_sent,
                notifications_received: s.counters.notifications_received,
                established: s.counters.established,
                bfd: s.bfd.as_ref().map(bfd_status),
            })
            .collect(),
        prefixes: judged
            .iter()
            .map(|(p, ready, why)| BgpPrefixStatus {
                prefix: p.to_string(),
                ready: *ready,
                why: why.clone(),
            })
            .collect(),
    }
}

fn bfd_status(b: &BfdStatus) -> BfdNeighborStatus {
    BfdNeighborStatus {
        state: b.state.to_string(),
        remote_state: b.remote_state.to_string(),
        diag: b.diag.name().to_string(),
        since_ms: ms(b.since),
        tx_interval_us: b.tx_interval_us,
        detection_us: b.detection_us,
        up_transitions: b.counters.up,
        down_transitions: b.counters.down,
        received: b.counters.received,
        sent: b.counters.sent,
        dropped: bfd::Drop::ALL
            .iter()
            .map(|d| (d.name().to_string(), b.counters.dropped(*d)))
            .filter(|(_, n)| *n > 0)
            .collect(),
        problem: b.problem.clone(),
    }
}

pub fn write(path: &Path, status: &BgpStatus) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(status).map_err(std::io::Error::other)?;
    // No fsync: a status in /run is gone at a reboot anyway.
    paths::write_atomic(path, &text, false)
}

/// The file, when the speaker runs (no file: no `bgp` block, or the balancer is down).
pub fn read(path: &Path) -> Result<Option<BgpStatus>, String> {
    use std::io::Read as _;
    let mut text = String::new();
    match std::fs::File::open(path) {
        Ok(f) => f
            .take(MAX_FILE)
            .read_to_string(&mut text)
            .map_err(|e| format!("{}: {e}", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// `h:mm:ss`, or `Nd hh:mm:ss` past a day.
fn uptime(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d {h:02}:{m:02}:{s:02}")
    } else {
        format!("{h}:{m:02}:{s:02}")
    }
}

/// `show bgp`: the neighbors, their state and uptime, what each has from us, the last
/// NOTIFICATION, and every prefix with why it is (not) announced.
pub fn render(s: &BgpStatus, now: SystemTime) -> String {
    let now = ms(now);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "BGP AS {}, router id {}{}",
        s.local_as,
        s.router_id,
        if s.drained {
            " — DRAINED (every prefix withdrawn; `drain off` ends it)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "{:<26} {:>10}  {:<12} {:>12}  {:>9}",
        "neighbor", "AS", "state", "up/down for", "upd s/r"
    );
    for n in &s.neighbors {
        let since = n.established_since_ms.unwrap_or(n.since_ms);
        let _ = writeln!(
            out,
            "{:<26} {:>10}  {:<12} {:>12}  {:>9}",
            n.address,
            n.remote_as,
            n.state,
            uptime(now.saturating_sub(since) / 1000),
            format!("{}/{}", n.updates_sent, n.updates_received),
        );
        let advertised = if n.advertised.is_empty() {
            "-".to_string()
        } else {
            n.advertised.join(", ")
        };
        let _ = writeln!(out, "    announced: {advertised}");
        if let Some(text) = &n.last_notification {
            let ago = n
                .last_notification_ms
                .map(|t| format!(" ({} ago)", uptime(now.saturating_sub(t) / 1000)))
                .unwrap_or_default();
            let _ = writeln!(out, "    last NOTIFICATION: {text}{ago}");
        }
        if let Some(why) = &n.last_error {
            let _ = writeln!(out, "    last error: {why}");
        }
        if let Some(b) = &n.bfd {
            let _ = writeln!(out, "    BFD: {}", bfd_line(b, now));
        }
    }
    let _ = writeln!(out, "{:<26} {:<9} why", "prefix", "ready");
    for p in &s.prefixes {
        let _ = writeln!(
            out,
            "{:<26} {:<9} {}",
            p.prefix,
            if p.ready { "yes" } else { "no" },
            p.why
        );
    }
    out
}

/// One neighbor's BFD session for `show bgp`.
fn bfd_line(b: &BfdNeighborStatus, now: u64) -> String {
    if let Some(p) = &b.problem {
        return format!("not running: {p}");
    }
    let mut line = format!(
        "{} for {} (router: {}), up {} times",
        b.state,
        uptime(now.saturating_sub(b.since_ms) / 1000),
        b.remote_state,
        b.up_transitions
    );
    if b.state == "Up" {
        let _ = write!(
            line,
            ", tx every {} ms, detection {} ms",
            b.tx_interval_us / 1000,
            b.detection_us / 1000
        );
    }
    if b.diag != "No Diagnostic" {
        let _ = write!(line, ", last down: {}", b.diag);
    }
    if !b.dropped.is_empty() {
        let d: Vec<String> = b.dropped.iter().map(|(w, n)| format!("{w} {n}")).collect();
        let _ = write!(line, ", dropped: {}", d.join(", "));
    }
    line
}

/// Connections IPVS holds for the services the box's prefixes cover (active, inactive):
/// what a drain leaves to end by itself.
fn held_connections(s: &BgpStatus) -> Result<(u64, u64), String> {
    let prefixes: Vec<Prefix> = s
        .prefixes
        .iter()
        .filter_map(|p| p.prefix.parse().ok())
        .collect();
    let table = ipvs::Client::connect()
        .and_then(|mut c| c.status())
        .map_err(|e| e.to_string())?;
    let mut held = (0, 0);
    for (service, dests) in &table {
        let ipvs::ServiceKey::Addr { addr, .. } = service.service.key else {
            continue;
        };
        if prefixes.iter().any(|p| super::plan::in_prefix(*p, addr)) {
            for d in dests {
                held.0 += u64::from(d.active_conns);
                held.1 += u64::from(d.inactive_conns);
            }
        }
    }
    Ok(held)
}

/// While drained: since when (the drain file's time), and the connections still held.
fn drain_line(
    since: Option<SystemTime>,
    held: Result<(u64, u64), String>,
    now: SystemTime,
) -> String {
    let since = since
        .and_then(|t| now.duration_since(t).ok())
        .map(|d| format!("drained for {}", uptime(d.as_secs())))
        .unwrap_or_else(|| "drained".into());
    match held {
        Ok((active, inactive)) => format!(
            "{since}: IPVS still holds {active} active and {inactive} inactive connections for these prefixes (they end by themselves or time out; the router sends no new flow here)"
        ),
        Err(e) => format!("{since}: the connections still held are unknown ({e})"),
    }
}

/// `lvsfw bgp status [--file FILE]`: the console's `show bgp`.
pub fn command(args: &[String]) -> std::process::ExitCode {
    let path = match args {
        [] => std::path::PathBuf::from(DEFAULT_PATH),
        [flag, file] if flag == "--file" => file.into(),
        _ => {
            eprintln!("usage: lvsfw bgp status [--file FILE]");
            return std::process::ExitCode::from(2);
        }
    };
    match read(&path) {
        Ok(Some(s)) => {
            print!("{}", render(&s, SystemTime::now()));
            if s.drained {
                let since = std::fs::metadata(paths::DRAIN)
                    .and_then(|m| m.modified())
                    .ok();
                println!(
                    "{}",
                    drain_line(since, held_connections(&s), SystemTime::now())
                );
            }
        }
        Ok(None) => println!(
            "BGP does not run (no bgp block in keepalived.conf, or the balancer is stopped)"
        ),
        Err(e) => {
            println!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    }
    std::process::ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_drain_says_for_how_long_and_what_is_still_held() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        let line = drain_line(Some(now - Duration::from_secs(62)), Ok((12, 3)), now);
        assert!(
            line.starts_with("drained for 0:01:02: IPVS still holds 12 active and 3 inactive"),
            "{line}"
        );
        let line = drain_line(None, Err("no IPVS".into()), now);
        assert_eq!(
            line,
            "drained: the connections still held are unknown (no IPVS)"
        );
    }

    #[test]
    fn show_bgp_names_each_neighbor_and_prefix_with_its_reason() {
        let s = BgpStatus {
            local_as: 65001,
            router_id: "192.168.0.101".into(),
            drained: false,
            neighbors: vec![BgpNeighborStatus {
                address: "192.168.0.1".into(),
                remote_as: 65000,
                state: "Established".into(),
                since_ms: 1_000,
                established_since_ms: Some(1_000),
                advertised: vec!["192.168.0.100/32 (graceful shutdown)".into()],
                last_notification: Some("received Cease/Administrative Shutdown (6/2)".into()),
                last_notification_ms: Some(0),
                updates_sent: 3,
                updates_received: 1,
                last_error: Some("connecting to port 179: setting the TCP-MD5 key (TCP_MD5SIG) for 192.168.0.1: Invalid argument (os error 22)".into()),
                ..BgpNeighborStatus::default()
            }],
            prefixes: vec![BgpPrefixStatus {
                prefix: "192.168.0.100/32".into(),
                ready: false,
                why: "TCP 192.168.0.100:80: 0 live real server(s), quorum 1".into(),
            }],
        };
        let text = render(&s, UNIX_EPOCH + Duration::from_secs(3_661 + 1));
        assert_eq!(
            text,
            "BGP AS 65001, router id 192.168.0.101\n\
             neighbor                           AS  state         up/down for    upd s/r\n\
             192.168.0.1                     65000  Established       1:01:01        3/1\n\
             \x20   announced: 192.168.0.100/32 (graceful shutdown)\n\
             \x20   last NOTIFICATION: received Cease/Administrative Shutdown (6/2) (1:01:02 ago)\n\
             \x20   last error: connecting to port 179: setting the TCP-MD5 key (TCP_MD5SIG) for 192.168.0.1: Invalid argument (os error 22)\n\
             prefix                     ready     why\n\
             192.168.0.100/32           no        TCP 192.168.0.100:80: 0 live real server(s), quorum 1\n"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bgp.json");
        assert_eq!(read(&path), Ok(None));
        write(&path, &s).unwrap();
        assert_eq!(read(&path), Ok(Some(s)));
        assert_eq!(uptime(90_061), "1d 01:01:01");
    }

    #[test]
    fn show_bgp_has_a_bfd_line_per_neighbor_with_bfd() {
        let mut n = BgpNeighborStatus {
            address: "192.168.0.1".into(),
            state: "Idle".into(),
            bfd: Some(BfdNeighborStatus {
                state: "Up".into(),
                remote_state: "Up".into(),
                diag: "Control Detection Time Expired".into(),
                since_ms: 2_000,
                tx_interval_us: 300_000,
                detection_us: 900_000,
                up_transitions: 2,
                down_transitions: 1,
                dropped: vec![("ttl".into(), 4)],
                ..Default::default()
            }),
            ..BgpNeighborStatus::default()
        };
        let s = |n: &BgpNeighborStatus| BgpStatus {
            neighbors: vec![n.clone()],
            ..BgpStatus::default()
        };
        let text = render(&s(&n), UNIX_EPOCH + Duration::from_secs(62));
        assert!(
            text.contains("    BFD: Up for 0:01:00 (router: Up), up 2 times, tx every 300 ms, detection 900 ms, last down: Control Detection Time Expired, dropped: ttl 4\n"),
            "{text}"
        );
        n.bfd.as_mut().unwrap().problem = Some("listening on port 3784: in use".into());
        let text = render(&s(&n), UNIX_EPOCH + Duration::from_secs(62));
        assert!(
            text.contains("    BFD: not running: listening on port 3784: in use\n"),
            "{text}"
        );
    }
}
