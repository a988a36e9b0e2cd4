//! What `lvsfw vrrp status` shows. The running process writes one JSON file (by default
//! `/run/lvsfw/vrrp.json`): to a temporary name, then renamed over the old one, so a
//! reader never sees half a file. It is rewritten at once on every state change and at
//! most once a second for counters; the process removes it when it stops.
//!
//! A file rather than a socket: the reader needs no protocol, no connection to a busy
//! process and no permissions beyond reading /run; the snapshot survives a hung writer
//! (the pid in it tells a reader whether the writer still lives), and the same file can
//! feed the console and the page later.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
// The page's date format, so that the console and the page show the same.
use ::status::time::{ago, utc};
pub use ::status::{Drops, Instance, VrrpState};

/// An instance of keepalived.conf that does not run, and why.
pub fn not_running(
    instance: &config::keepalived::VrrpInstance,
    global: &config::keepalived::GlobalDefs,
    sync_group: Option<String>,
    reason: String,
) -> Instance {
    Instance {
        name: instance.name.clone(),
        sync_group,
        interface: instance.interface.clone(),
        vrid: instance.vrid,
        version: instance.effective_version(global),
        state: VrrpState::NotRunning,
        priority: instance.priority,
        master: None,
        since_ms: None,
        adverts_sent: 0,
        adverts_received: 0,
        became_master: 0,
        drops: Drops::default(),
        reason: Some(reason),
        fault: None,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusFile {
    pub pid: u32,
    pub written_ms: u64,
    pub instances: Vec<Instance>,
}

pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Writes `status` to `path` atomically ([`paths::write_atomic`]).
pub fn write(path: &Path, status: &StatusFile) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(status).map_err(std::io::Error::other)?;
    paths::write_atomic(path, (text + "\n").as_bytes(), false)
}

pub fn read(path: &Path) -> Result<StatusFile, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The table `lvsfw vrrp status` prints.
pub fn render(status: &StatusFile, now_ms: u64, alive: bool) -> String {
    let mut out = String::new();
    if !alive {
        out.push_str(&format!(
            "warning: the lvsfw process {} that wrote this is gone; last written {}\n",
            status.pid,
            utc(status.written_ms)
        ));
    }
    for i in &status.instances {
        let group = i
            .sync_group
            .as_ref()
            .map(|g| format!(", sync group {g}"))
            .unwrap_or_default();
        out.push_str(&format!(
            "{}: {} (VRRPv{} VRID {} on {}{group})\n",
            i.name, i.state, i.version, i.vrid, i.interface
        ));
        if let Some(reason) = &i.reason {
            out.push_str(&format!("  why: {reason}; tried again every second\n"));
            continue;
        }
        let master = i
            .master
            .map(|m| m.to_string())
            .unwrap_or_else(|| "unknown".into());
        out.push_str(&format!("  priority {}, master {master}\n", i.priority));
        if let Some(fault) = &i.fault {
            out.push_str(&format!("  fault: {fault}\n"));
        }
        if let Some(since) = i.since_ms {
            out.push_str(&format!(
                "  since {} ({})\n",
                utc(since),
                ago(now_ms, since)
            ));
        }
        out.push_str(&format!(
            "  adverts sent {}, received {}; became master {} times\n",
            i.adverts_sent, i.adverts_received, i.became_master
        ));
        let d = &i.drops;
        out.push_str(&format!(
            "  dropped: ttl {}, version {}, vrid {}, auth {}, interval {}, addresses {}, length {}, checksum {}, type {}, unicast_src {}\n",
            d.ttl, d.version, d.vrid, d.auth, d.interval, d.addresses, d.length, d.checksum, d.kind, d.unicast_src
        ));
    }
    if status.instances.is_empty() {
        out.push_str("no VRRP instances\n");
    }
    out
}

/// `lvsfw vrrp status [--json] [--status FILE]`
pub fn command(args: &[String]) -> std::process::ExitCode {
    use std::process::ExitCode;
    let mut path = PathBuf::from(paths::VRRP_STATUS);
    let mut json = false;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--json" => json = true,
            "--status" => match args.next() {
                Some(p) => path = p.into(),
                None => {
                    eprintln!("lvsfw vrrp status: --status needs a file");
                    return ExitCode::from(2);
                }
            },
            other => {
                eprintln!("lvsfw vrrp status: unknown argument \"{other}\"");
                return ExitCode::from(2);
            }
        }
    }
    let status = match read(&path) {
        Ok(s) => s,
        Err(e) if !path.exists() => {
            eprintln!("no VRRP is running here ({e})");
            return ExitCode::from(3);
        }
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let alive = Path::new(&format!("/proc/{}", status.pid)).exists();
    if json {
        match serde_json::to_string_pretty(&status) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        print!("{}", render(&status, unix_ms(SystemTime::now()), alive));
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(1_795_000_000_000), "2026-11-18 11:06:40Z");
    }

    #[test]
    fn renders_an_instance_and_round_trips_through_json() {
        let status = StatusFile {
            pid: 42,
            written_ms: 10_000,
            instances: vec![Instance {
                name: "VI_1".into(),
                sync_group: None,
                interface: "ext".into(),
                vrid: 51,
                version: 2,
                state: VrrpState::Master,
                priority: 100,
                master: Some("192.168.0.101".parse().unwrap()),
                since_ms: Some(4_000),
                adverts_sent: 6,
                adverts_received: 0,
                became_master: 1,
                drops: Drops {
                    ttl: 1,
                    ..Drops::default()
                },
                reason: None,
                fault: None,
            }],
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/vrrp.json");
        write(&path, &status).unwrap();
        assert_eq!(read(&path).unwrap(), status);
        assert_eq!(
            render(&status, 10_000, true),
            "VI_1: MASTER (VRRPv2 VRID 51 on ext)\n  priority 100, master 192.168.0.101\n  since 1970-01-01 00:00:04Z (6.0 s ago)\n  adverts sent 6, received 0; became master 1 times\n  dropped: ttl 1, version 0, vrid 0, auth 0, interval 0, addresses 0, length 0, checksum 0, type 0, unicast_src 0\n"
        );
    }
}
