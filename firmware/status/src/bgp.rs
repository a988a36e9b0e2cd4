//! The BGP speaker (route health injection): written by the balancer's BGP task to
//! `paths::BGP_STATUS`, read by the page, `/api/status`, `/metrics` and the console's
//! `show bgp`.

use serde::{Deserialize, Serialize};

/// The speaker: its AS and router id, the drain, each neighbor and each prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BgpStatus {
    pub local_as: u32,
    pub router_id: String,
    /// `drain`: every prefix withdrawn, existing flows still served.
    pub drained: bool,
    pub neighbors: Vec<BgpNeighborStatus>,
    pub prefixes: Vec<BgpPrefixStatus>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BgpNeighborStatus {
    pub address: String,
    pub remote_as: u32,
    /// RFC 4271's state name (Idle ... Established), or why it does not run.
    pub state: String,
    /// When the state last changed, in milliseconds since the epoch.
    pub since_ms: u64,
    pub established_since_ms: Option<u64>,
    /// What the router has from us now; "(graceful shutdown)" after one being withdrawn.
    pub advertised: Vec<String>,
    pub last_notification: Option<String>,
    pub last_notification_ms: Option<u64>,
    pub updates_sent: u64,
    pub updates_received: u64,
    pub notifications_sent: u64,
    pub notifications_received: u64,
    /// Times the session came up.
    pub established: u64,
    /// The BFD session to the neighbor, when configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bfd: Option<BfdNeighborStatus>,
    /// Why the last connection attempt failed, until one succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// One neighbor's BFD session (RFC 5880).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BfdNeighborStatus {
    /// AdminDown, Down, Init or Up; the router's as it last said.
    pub state: String,
    pub remote_state: String,
    /// Why it last left Up (RFC 5880 §4.1's diagnostic).
    pub diag: String,
    pub since_ms: u64,
    /// The negotiated interval between our packets, and the detection time (0: not Up).
    pub tx_interval_us: u64,
    pub detection_us: u64,
    /// Times it came up, and went down after being up.
    pub up_transitions: u64,
    pub down_transitions: u64,
    pub received: u64,
    pub sent: u64,
    /// Received packets dropped, by reason (RFC 5880 §6.8.6, RFC 5881 §5); only non-zero.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dropped: Vec<(String, u64)>,
    /// Why it does not run, when it cannot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BgpPrefixStatus {
    pub prefix: String,
    /// Ready to serve: announced to every Established neighbor.
    pub ready: bool,
    /// Why it is (not) announced.
    pub why: String,
}
