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
//!     lvs_sync_daemon int id 7         # IPVS connection sync, every box master and backup
//!     neighbor 192.168.0.1 {
//!         remote_as 65000
//!         hold_time 90
//!         keepalive 30
//!         connect_retry 120
//!         source_ip 192.168.0.101
//!         next_hop_v6 2001:db8::101
//!         password S3cret              # TCP-MD5 (RFC 2385), the router's `password`
//!         bfd {                        # BFD (RFC 5880/5881) for this neighbor
//!             min_rx 300               # keepalived's bfd_instance keywords, in ms
//!             min_tx 300
//!             multiplier 3
//!         }
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
    /// `lvs_sync_daemon INTERFACE [id N]`: the kernel's IPVS connection sync between the
    /// boxes of the group, a second line behind `mh`: each box sends its connections
    /// (the master daemon) and takes the others' (the backup daemon) at once, so a box
    /// the router moves a flow to may know it already. keepalived's own (global_defs,
    /// INTERFACE VRRP_INSTANCE) follows one VRRP instance instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lvs_sync_daemon: Option<GroupSync>,
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
            lvs_sync_daemon: None,
            neighbors: Vec::new(),
            announce: Vec::new(),
        }
    }
}

/// The bgp block's `lvs_sync_daemon INTERFACE [id N]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSync {
    pub interface: String,
    /// The kernel's sync id (0 to 255): a box takes only the connections of senders
    /// with its own; 0 (the default) takes every sender's.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub id: u8,
}

fn is_zero(n: &u8) -> bool {
    *n == 0
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
    /// BFD to this neighbor (single hop, RFC 5881): its session going down resets the
    /// BGP session at once instead of at the hold timer's expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bfd: Option<BgpBfd>,
    /// The TCP-MD5 key of the session (RFC 2385), as the router's `neighbor X password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Md5Password>,
}

/// The kernel's TCP_MD5SIG_MAXKEYLEN: the longest key `setsockopt(TCP_MD5SIG)` takes.
pub const MD5_MAX_KEY: usize = 80;

/// A BGP neighbor's TCP-MD5 key (RFC 2385). Its `Debug` never shows it, and no error
/// about it quotes it, so that no log line, message or status file carries it; only the
/// configuration files themselves (keepalived.conf, a backup export asked for with its
/// secrets) hold it in clear. [`crate::Config::hide_secrets`] takes it out of the rest.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Md5Password(String);

impl Md5Password {
    /// 1 to [`MD5_MAX_KEY`] printable ASCII characters (space included, `"` not: a
    /// keepalived.conf word cannot hold it). The error never quotes the key.
    pub fn new(text: &str) -> Result<Md5Password, String> {
        if text.is_empty() {
            return Err("is empty (1 to 80 characters)".into());
        }
        if text.len() > MD5_MAX_KEY {
            return Err(format!(
                "is {} bytes long; the kernel takes at most {MD5_MAX_KEY} (TCP_MD5SIG_MAXKEYLEN)",
                text.len()
            ));
        }
        if let Some(at) = text
            .bytes()
            .position(|b| !(b' '..=b'~').contains(&b) || b == b'"')
        {
            return Err(format!(
                "character {} is not printable ASCII (or is a '\"')",
                at + 1
            ));
        }
        Ok(Md5Password(text.to_string()))
    }

    /// The key itself: for the socket option and the configuration file only.
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Md5Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Md5Password(hidden)")
    }
}

impl TryFrom<String> for Md5Password {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        Md5Password::new(&text).map_err(|why| format!("password: {why}"))
    }
}

impl From<Md5Password> for String {
    fn from(p: Md5Password) -> String {
        p.0
    }
}

/// A neighbor's BFD timers: keepalived's `bfd_instance` keywords, units and defaults
/// (keepalived/include/bfd.h). The neighbor's address and `source_ip` are the session's
/// `neighbor_ip` and `source_ip`; the TTL is always 255 (single hop, RFC 5881 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BgpBfd {
    /// Required Min RX Interval, milliseconds (1..=10000).
    #[serde(default = "bfd_defaults::min_rx")]
    pub min_rx: u32,
    /// Desired Min TX Interval while Up, milliseconds (1..=10000).
    #[serde(default = "bfd_defaults::min_tx")]
    pub min_tx: u32,
    /// Desired Min TX Interval while not Up, milliseconds (1000..=10000, RFC 5880 §6.8.3).
    #[serde(default = "bfd_defaults::idle_tx")]
    pub idle_tx: u32,
    /// Detect Mult (1..=255).
    #[serde(default = "bfd_defaults::multiplier")]
    pub multiplier: u8,
    /// Wait for the router to speak first (RFC 5880 §6.1).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub passive: bool,
}

pub mod bfd_defaults {
    /// keepalived's BFD_MINRX_DEFAULT, BFD_MINTX_DEFAULT, BFD_IDLETX_DEFAULT,
    /// BFD_MULTIPLIER_DEFAULT.
    pub const MIN_RX: u32 = 10;
    pub const MIN_TX: u32 = 10;
    pub const IDLE_TX: u32 = 1000;
    pub const MULTIPLIER: u8 = 5;
    /// keepalived's ranges: its "sensible" maxima (it warns above them; lvsfw refuses).
    pub const INTERVAL_MAX: u32 = 10_000;
    pub const IDLE_TX_MIN: u32 = 1000;

    pub fn min_rx() -> u32 {
        MIN_RX
    }
    pub fn min_tx() -> u32 {
        MIN_TX
    }
    pub fn idle_tx() -> u32 {
        IDLE_TX
    }
    pub fn multiplier() -> u8 {
        MULTIPLIER
    }
}

impl Default for BgpBfd {
    fn default() -> Self {
        BgpBfd {
            min_rx: bfd_defaults::MIN_RX,
            min_tx: bfd_defaults::MIN_TX,
            idle_tx: bfd_defaults::IDLE_TX,
            multiplier: bfd_defaults::MULTIPLIER,
            passive: false,
        }
    }
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
            bfd: None,
            password: None,
        }
    }
}
