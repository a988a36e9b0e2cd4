//! What every front end shows, as one set of types: the page and `/api/status`, the
//! console's `show` commands, `/metrics`, the VRRP status file and the alerts all read
//! the same [`Instance`], [`VrrpState`], [`Counters`], [`Drops`], [`SlotStatus`] and
//! [`TimeStatus`].
//!
//! Serde only, no I/O: the crates that know the kernel and the protocols (`ipvs`,
//! `vrrp`) depend on this one and say how their own records become these (`From`), so
//! that no crate copies another's fields by hand.

pub mod bgp;
pub mod time;
pub mod time_text;

use std::fmt;

use serde::{Deserialize, Serialize};

/// A VRRP instance's state in keepalived's words; [`VrrpState::NotRunning`] is lvsfw's
/// own: the instance could not start (it is tried again until it runs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum VrrpState {
    #[default]
    #[serde(rename = "INIT")]
    Init,
    #[serde(rename = "BACKUP")]
    Backup,
    #[serde(rename = "MASTER")]
    Master,
    #[serde(rename = "FAULT")]
    Fault,
    #[serde(rename = "NOT RUNNING")]
    NotRunning,
}

impl VrrpState {
    pub const ALL: [VrrpState; 5] = [
        VrrpState::Init,
        VrrpState::Backup,
        VrrpState::Master,
        VrrpState::Fault,
        VrrpState::NotRunning,
    ];

    /// The word the console, the page, the log and keepalived's notify use.
    pub const fn as_str(self) -> &'static str {
        match self {
            VrrpState::Init => "INIT",
            VrrpState::Backup => "BACKUP",
            VrrpState::Master => "MASTER",
            VrrpState::Fault => "FAULT",
            VrrpState::NotRunning => "NOT RUNNING",
        }
    }

    /// The state as a number, for `/metrics` (a graph or an alert needs no label
    /// matching): 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT, 4 NOT RUNNING.
    pub fn number(self) -> u8 {
        match self {
            VrrpState::Init => 0,
            VrrpState::Backup => 1,
            VrrpState::Master => 2,
            VrrpState::Fault => 3,
            VrrpState::NotRunning => 4,
        }
    }
}

impl fmt::Display for VrrpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for VrrpState {
    type Err = String;

    fn from_str(s: &str) -> Result<VrrpState, String> {
        VrrpState::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("\"{s}\" is no VRRP state (INIT, BACKUP, MASTER, FAULT)"))
    }
}

/// Packets an instance dropped, by reason (keepalived's counters).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Drops {
    pub ttl: u64,
    pub version: u64,
    pub vrid: u64,
    pub auth: u64,
    pub interval: u64,
    pub addresses: u64,
    pub length: u64,
    pub checksum: u64,
    #[serde(rename = "type")]
    pub kind: u64,
    /// keepalived's check_unicast_src: from an address that is not a unicast peer.
    #[serde(default)]
    pub unicast_src: u64,
}

/// One VRRP instance as the running process reports it (the VRRP status file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    pub name: String,
    pub sync_group: Option<String>,
    pub interface: String,
    pub vrid: u8,
    pub version: u8,
    pub state: VrrpState,
    pub priority: u8,
    /// The current master's address when known (ours when MASTER).
    pub master: Option<std::net::IpAddr>,
    /// When the current state was entered, milliseconds since the Unix epoch.
    pub since_ms: Option<u64>,
    pub adverts_sent: u64,
    pub adverts_received: u64,
    pub became_master: u64,
    pub drops: Drops,
    /// Why the instance does not run (state [`VrrpState::NotRunning`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// In FAULT: what tracking found (an interface down, a vrrp_script failing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
}

/// One VRRP instance as the page and `/api/status` show it: the [`Instance`] with the
/// configured virtual addresses, without the drop counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VrrpStatus {
    pub name: String,
    pub sync_group: Option<String>,
    pub interface: String,
    pub vrid: u8,
    pub version: u8,
    pub state: VrrpState,
    /// Why the instance does not run.
    pub reason: Option<String>,
    pub priority: u8,
    pub master: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub since_ms: Option<u64>,
    pub adverts_sent: u64,
    pub adverts_received: u64,
    pub became_master: u64,
    pub vips: Vec<String>,
}

impl VrrpStatus {
    /// `instance` with its configured virtual addresses.
    pub fn new(i: Instance, vips: Vec<String>) -> VrrpStatus {
        VrrpStatus {
            vips,
            name: i.name,
            sync_group: i.sync_group,
            interface: i.interface,
            vrid: i.vrid,
            version: i.version,
            state: i.state,
            reason: i.reason,
            priority: i.priority,
            master: i.master.map(|m| m.to_string()),
            since_ms: i.since_ms,
            adverts_sent: i.adverts_sent,
            adverts_received: i.adverts_received,
            became_master: i.became_master,
        }
    }
}

/// IPVS traffic counters and rates of a service or a real server (the kernel's).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    pub conns: u64,
    pub in_packets: u64,
    pub out_packets: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
    pub cps: u64,
    pub in_pps: u64,
    pub out_pps: u64,
    pub in_bps: u64,
    pub out_bps: u64,
}

/// One boot slot of the A/B update: the page, `/api/status` and `show slots`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SlotStatus {
    pub slot: String,
    /// `None`: the slot is empty (or an update into it did not finish).
    pub version: Option<String>,
    pub running: bool,
    /// grubenv's good slot: the one grub boots.
    pub good: bool,
    /// grubenv's `next`: the next boot tries it once.
    pub next: bool,
    /// Who signed what the slot holds (`NAME (ID)` when this firmware trusts the key),
    /// from the signed header the update left beside it; `None`: it has none.
    pub signed_by: Option<String>,
}

/// The clock as NTP keeps it: the page, `/api/status`, and the console's `show time`
/// (which reads it from the file the balancer writes).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TimeStatus {
    /// The configured NTP servers; empty: the clock is not kept by NTP.
    pub servers: Vec<String>,
    pub synchronised: bool,
    /// The server whose answer was used last, its stratum, the offset it measured
    /// (positive: the clock was behind) and the round trip.
    pub server: Option<String>,
    pub stratum: Option<u8>,
    pub offset_ms: Option<f64>,
    pub delay_ms: Option<f64>,
    /// When that answer was used, in milliseconds since the epoch (after correction).
    pub last_sync_ms: Option<u64>,
    /// The last step of the clock: when (ms since the epoch, after it) and by how much.
    pub last_step_ms: Option<u64>,
    pub last_step_by_ms: Option<f64>,
    /// What went wrong with each server that has a problem: "192.0.2.1: no answer".
    pub problems: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_is_the_same_word_in_json_in_text_and_back() {
        for state in VrrpState::ALL {
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(json, format!("\"{state}\""));
            assert_eq!(serde_json::from_str::<VrrpState>(&json).unwrap(), state);
            assert_eq!(state.as_str().parse::<VrrpState>().unwrap(), state);
        }
        assert_eq!(VrrpState::NotRunning.to_string(), "NOT RUNNING");
        assert!("master".parse::<VrrpState>().is_err());
        let numbers: Vec<u8> = VrrpState::ALL.iter().map(|s| s.number()).collect();
        assert_eq!(numbers, [0, 1, 2, 3, 4]);
    }
}
