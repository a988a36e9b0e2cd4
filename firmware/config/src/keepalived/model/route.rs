//! `static_ipaddress`, `static_routes` / `virtual_routes` and `static_rules` /
//! `virtual_rules`, in keepalived's syntax (which is `ip route` / `ip rule`'s).
//!
//! The settings the appliance needs to install a route or rule have fields; the rest of
//! `ip route`'s options are kept word for word in `options`.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::IpPrefix;

/// The route types `ip route` takes before the destination.
pub const ROUTE_TYPES: &[&str] = &[
    "unicast",
    "blackhole",
    "unreachable",
    "prohibit",
    "throw",
    "local",
    "broadcast",
    "anycast",
    "multicast",
    "nat",
];

/// One line of `static_routes` or `virtual_routes`:
/// `[TYPE] [src ADDR] PREFIX [via ADDR] [dev IF] [table N] [metric N] [scope S] ...`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpRoute {
    /// `blackhole`, `unreachable`, ...; absent: unicast.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub to: IpPrefix,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<IpAddr>,
    /// `via` (keepalived also reads the old `gw`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// `metric` (also `priority`, `preference`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub onlink: bool,
    /// keepalived's `no_track`: the route's interface going down does not fault the
    /// instance.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_track: bool,
    /// The rest of the line, word for word (`mtu 1400`, `nexthop ...`, `or ADDR`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// One line of `static_rules` or `virtual_rules`:
/// `[from PREFIX] [to PREFIX] [table N] [priority N] [fwmark N] [iif IF] [oif IF] ...`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IpRule {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<IpPrefix>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<IpPrefix>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// `priority` (also `preference`, `order`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<u32>,
    /// `fwmark N` or `fwmark N/MASK`, as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fwmark: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iif: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oif: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_track: bool,
    /// The rest of the line, word for word (`tos`, `goto`, `uidrange`, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// One line of `static_ipaddress`: the same form as a `virtual_ipaddress` line.
pub use super::vrrp::Vip as StaticAddress;
