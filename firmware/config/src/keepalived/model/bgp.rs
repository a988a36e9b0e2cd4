//! lvsfw's own `bgp` block (keepalived has no BGP): the announce-only speaker that tells
//! the routers which VIPs this box is ready to serve (route health injection).
//!
//! ```text
//! bgp {
//!     local_as 65001
//!     router_id 192.168.0.101          # default: an IPv4 source_ip, else ext's address
//!     graceful_shutdown_time 3         # RFC 8326 wait before a withdraw (default 3 s)
//!     quorum 1                         # live real servers each virtual server needs
//!     sloppy_tcp                       # accept TCP flows whose SYN went to another box
//!     sloppy_sctp                      # the same for SCTP
//!     neighbor 192.168.0.1 {
//!         remote_as 65000
//!         hold_time 90
//!         keepalive 30
//!         connect_retry 120
//!         source_ip 192.168.0.101
//!         next_hop_v6 2001:db8::101
//!     }
//!     announce {
//!         192.168.0.100
//!         2001:db8::100/128
//!     }
//! }
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::units::{opt_seconds, seconds};
use crate::IpPrefix;

/// Routers one box speaks to.
pub const MAX_BGP_NEIGHBORS: usize = 16;
/// Prefixes one box announces.
pub const MAX_BGP_ANNOUNCE: usize = 255;

pub mod bgp_defaults {
    use std::time::Duration;

    /// RFC 4271 §10's suggested hold time.
    pub const HOLD_TIME: u16 = 90;
    /// RFC 4271 §10's ConnectRetryTime.
    pub const CONNECT_RETRY: Duration = Duration::from_secs(120);
    /// Long enough for a router to prefer another path (RFC 8326 §4 leaves it to the
    /// operator), short enough to fit in PID 1's 5 s for the balancer to stop.
    pub const GRACEFUL_SHUTDOWN_TIME: Duration = Duration::from_secs(3);
    pub const QUORUM: u32 = 1;
    pub const PORT: u16 = 179;

    pub fn hold_time() -> u16 {
        HOLD_TIME
    }
    pub fn graceful_shutdown_time() -> Duration {
        GRACEFUL_SHUTDOWN_TIME
    }
    pub fn quorum() -> u32 {
        QUORUM
    }
    pub fn port() -> u16 {
        PORT
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bgp {
    pub local_as: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router_id: Option<Ipv4Addr>,
    #[serde(default = "bgp_defaults::graceful_shutdown_time", with = "seconds")]
    pub graceful_shutdown_time: Duration,
    /// Live real servers each virtual server of a VIP needs for the VIP to be announced.
    #[serde(default = "bgp_defaults::quorum")]
    pub quorum: u32,
    /// The kernel's `net.ipv4.vs.sloppy_tcp`: IPVS takes up a TCP flow it sees first in
    /// mid-stream (its SYN went to another box of the group, which the router's ECMP
    /// now passes by), so a flow survives a box added or removed. keepalived has no
    /// keyword for it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub sloppy_tcp: bool,
    /// The same for SCTP (`net.ipv4.vs.sloppy_sctp`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub sloppy_sctp: bool,
    #[serde(default, rename = "neighbor", skip_serializing_if = "Vec::is_empty")]
    pub neighbors: Vec<BgpNeighbor>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub announce: Vec<IpPrefix>,
}

impl Bgp {
    pub fn new(local_as: u32) -> Bgp {
        Bgp {
            local_as,
            router_id: None,
            graceful_shutdown_time: bgp_defaults::GRACEFUL_SHUTDOWN_TIME,
            quorum: bgp_defaults::QUORUM,
            sloppy_tcp: false,
            sloppy_sctp: false,
            neighbors: Vec::new(),
            announce: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BgpNeighbor {
    pub address: IpAddr,
    pub remote_as: u32,
    /// The port the router listens on; 179 (RFC 4271 §8.2.1.2) unless a test says otherwise.
    #[serde(default = "bgp_defaults::port", skip_serializing_if = "is_179")]
    pub port: u16,
    /// 0 (no hold timer, no KEEPALIVEs) or 3 to 65535 s (RFC 4271 §4.2).
    #[serde(default = "bgp_defaults::hold_time")]
    pub hold_time: u16,
    /// Seconds between KEEPALIVEs; absent, a third of the negotiated hold time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepalive: Option<u16>,
    #[serde(default, with = "opt_seconds", skip_serializing_if = "Option::is_none")]
    pub connect_retry: Option<Duration>,
    /// The address the session is opened from, and the NEXT_HOP of what is announced;
    /// absent, the kernel's choice (the interface address towards the router).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<IpAddr>,
    /// The IPv6 next hop of IPv6 VIPs announced over an IPv4 session (RFC 4760 §3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop_v6: Option<Ipv6Addr>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_179(p: &u16) -> bool {
    *p == bgp_defaults::PORT
}

impl BgpNeighbor {
    pub fn new(address: IpAddr, remote_as: u32) -> BgpNeighbor {
        BgpNeighbor {
            address,
            remote_as,
            port: bgp_defaults::PORT,
            hold_time: bgp_defaults::HOLD_TIME,
            keepalive: None,
            connect_retry: None,
            source_ip: None,
            next_hop_v6: None,
        }
    }
}
