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
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BgpPrefixStatus {
    pub prefix: String,
    /// Ready to serve: announced to every Established neighbor.
    pub ready: bool,
    /// Why it is (not) announced.
    pub why: String,
}
