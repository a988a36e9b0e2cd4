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

/// keepalived's routing protocol number (RTPROT_KEEPALIVED): its routes and rules carry
/// it unless `no_track` lets another be given.
pub const PROTOCOL_KEEPALIVED: u8 = 18;

/// The kernel's numbers for what a route or rule line names: `ip route`'s names
/// (iproute2's rt_tables, rt_scopes, rt_protos) or numbers, with keepalived's defaults.
impl IpRoute {
    /// `table`: a number or main, local, default; main when absent.
    pub fn table_id(&self) -> Result<u32, String> {
        table_id(self.table.as_deref())
    }

    /// `scope`: global (universe), site, link, host, nowhere or 0-255; keepalived's
    /// default is global whatever the route (`ip route` would pick link or host).
    pub fn scope_id(&self) -> Result<u8, String> {
        let Some(scope) = self.scope.as_deref() else {
            return Ok(0);
        };
        named(
            scope,
            &[
                ("global", 0),
                ("universe", 0),
                ("site", 200),
                ("link", 253),
                ("host", 254),
                ("nowhere", 255),
            ],
        )
        .ok_or_else(|| {
            format!("scope \"{scope}\" is not global, site, link, host, nowhere or 0-255")
        })
    }

    /// `protocol`: keepalived's own (18) unless `no_track` and another is given, as
    /// keepalived resets it on a tracked route.
    pub fn protocol_id(&self) -> Result<u8, String> {
        match self.protocol.as_deref() {
            Some(p) if self.no_track => protocol_id(p),
            _ => Ok(PROTOCOL_KEEPALIVED),
        }
    }

    /// The route type (RTN_*): unicast when absent.
    pub fn type_id(&self) -> Result<u8, String> {
        let kind = self.kind.as_deref().unwrap_or("unicast");
        const KERNEL: &[(&str, u8)] = &[
            ("unicast", 1),
            ("local", 2),
            ("broadcast", 3),
            ("anycast", 4),
            ("multicast", 5),
            ("blackhole", 6),
            ("unreachable", 7),
            ("prohibit", 8),
            ("throw", 9),
            ("nat", 10),
        ];
        KERNEL
            .iter()
            .find(|(name, _)| *name == kind)
            .map(|(_, n)| *n)
            .ok_or_else(|| format!("\"{kind}\" is not a route type ({})", ROUTE_TYPES.join(" ")))
    }

    /// Why the appliance cannot install this route as written: the first of the kernel
    /// numbers that does not parse, or an `ip route` option it does not act on.
    pub fn not_installable(&self) -> Option<String> {
        if let Some(option) = self.options.first() {
            return Some(format!(
                "route option \"{option}\" is not acted on by lvsfw (it installs type, src, via, dev, table, metric, scope, protocol and onlink); remove it or the route"
            ));
        }
        self.table_id()
            .and(self.scope_id())
            .and(self.protocol_id())
            .and(self.type_id())
            .err()
    }
}

impl IpRule {
    /// `table` / `lookup`: main when absent (as `ip rule add` does).
    pub fn table_id(&self) -> Result<u32, String> {
        table_id(self.table.as_deref())
    }

    /// `fwmark N` or `fwmark N/MASK` (decimal or 0x hex).
    pub fn fwmark_mask(&self) -> Result<Option<(u32, Option<u32>)>, String> {
        let Some(text) = self.fwmark.as_deref() else {
            return Ok(None);
        };
        let (mark, mask) = match text.split_once('/') {
            Some((mark, mask)) => (mark, Some(mask)),
            None => (text, None),
        };
        let bad = || format!("fwmark \"{text}\" is not N or N/MASK");
        let mark = number(mark).ok_or_else(bad)?;
        let mask = mask.map(|m| number(m).ok_or_else(bad)).transpose()?;
        Ok(Some((mark, mask)))
    }

    /// Whether the rule is for IPv6: its addresses say so, or `inet6`.
    pub fn is_ipv6(&self) -> bool {
        match self.from.or(self.to) {
            Some(p) => p.addr.is_ipv6(),
            None => self.options.iter().any(|o| o == "inet6"),
        }
    }

    /// Why the appliance cannot install this rule as written.
    pub fn not_installable(&self) -> Option<String> {
        // `inet` / `inet6` only say the family, which is_ipv6 takes.
        if let Some(option) = self
            .options
            .iter()
            .find(|o| !matches!(o.as_str(), "inet" | "inet6"))
        {
            return Some(format!(
                "rule option \"{option}\" is not acted on by lvsfw (it installs from, to, table, priority, fwmark, iif and oif); remove it or the rule"
            ));
        }
        self.table_id().and(self.fwmark_mask()).err()
    }
}

fn table_id(table: Option<&str>) -> Result<u32, String> {
    let Some(table) = table else {
        return Ok(254);
    };
    match table {
        "main" => Ok(254),
        "local" => Ok(255),
        "default" => Ok(253),
        n => match n.parse::<u32>() {
            Ok(0) | Err(_) => Err(format!(
                "table \"{table}\" is not main, local, default or 1-4294967295"
            )),
            Ok(n) => Ok(n),
        },
    }
}

fn protocol_id(protocol: &str) -> Result<u8, String> {
    named(
        protocol,
        &[
            ("unspec", 0),
            ("redirect", 1),
            ("kernel", 2),
            ("boot", 3),
            ("static", 4),
            ("gated", 8),
            ("ra", 9),
            ("mrt", 10),
            ("zebra", 11),
            ("bird", 12),
            ("dnrouted", 13),
            ("xorp", 14),
            ("ntk", 15),
            ("dhcp", 16),
            ("keepalived", 18),
            ("babel", 42),
            ("bgp", 186),
            ("isis", 187),
            ("ospf", 188),
            ("rip", 189),
            ("eigrp", 192),
        ],
    )
    .ok_or_else(|| format!("protocol \"{protocol}\" is not a routing protocol name or 0-255"))
}

/// A name from `names`, or a number 0-255.
fn named(text: &str, names: &[(&str, u8)]) -> Option<u8> {
    names
        .iter()
        .find(|(name, _)| *name == text)
        .map(|(_, n)| *n)
        .or_else(|| text.parse().ok())
}

/// Decimal, or hexadecimal after 0x.
fn number(text: &str) -> Option<u32> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(to: &str) -> IpRoute {
        IpRoute {
            kind: None,
            to: to.parse().unwrap(),
            src: None,
            via: None,
            dev: None,
            table: None,
            metric: None,
            scope: None,
            protocol: None,
            onlink: false,
            no_track: false,
            options: Vec::new(),
        }
    }

    #[test]
    fn route_numbers_take_keepalived_s_defaults_and_ip_route_s_names() {
        let mut r = route("10.8.0.0/16");
        assert_eq!(r.table_id(), Ok(254));
        assert_eq!(r.scope_id(), Ok(0));
        assert_eq!(r.protocol_id(), Ok(18));
        assert_eq!(r.type_id(), Ok(1));
        r.table = Some("local".into());
        r.scope = Some("link".into());
        r.kind = Some("blackhole".into());
        r.protocol = Some("bird".into());
        assert_eq!(r.table_id(), Ok(255));
        assert_eq!(r.scope_id(), Ok(253));
        assert_eq!(r.type_id(), Ok(6));
        // A tracked route is keepalived's whatever it says; no_track lets it be another.
        assert_eq!(r.protocol_id(), Ok(18));
        r.no_track = true;
        assert_eq!(r.protocol_id(), Ok(12));
        r.table = Some("1000".into());
        r.scope = Some("17".into());
        r.kind = Some("throw".into());
        assert_eq!(r.table_id(), Ok(1000));
        assert_eq!(r.scope_id(), Ok(17));
        assert_eq!(r.type_id(), Ok(9));
        assert_eq!(r.not_installable(), None);
        r.table = Some("0".into());
        assert!(r.not_installable().unwrap().contains("table \"0\""));
        r.table = Some("wan".into());
        assert!(r.not_installable().unwrap().contains("table \"wan\""));
    }

    #[test]
    fn an_option_lvsfw_does_not_act_on_is_named() {
        let mut r = route("10.8.0.0/16");
        r.options = vec!["mtu".into(), "1400".into()];
        let why = r.not_installable().unwrap();
        assert!(why.contains("\"mtu\""), "{why}");
        let mut rule = IpRule {
            from: Some("192.168.8.0/24".parse().unwrap()),
            ..IpRule::default()
        };
        assert_eq!(rule.not_installable(), None);
        rule.options = vec!["inet".into()];
        assert_eq!(rule.not_installable(), None);
        rule.options = vec!["tos".into(), "0x10".into()];
        assert!(rule.not_installable().unwrap().contains("\"tos\""));
    }

    #[test]
    fn fwmarks_and_rule_families() {
        let mut rule = IpRule {
            fwmark: Some("0x10/0xff".into()),
            ..IpRule::default()
        };
        assert_eq!(rule.fwmark_mask(), Ok(Some((16, Some(255)))));
        assert!(!rule.is_ipv6());
        rule.fwmark = Some("7".into());
        assert_eq!(rule.fwmark_mask(), Ok(Some((7, None))));
        rule.fwmark = Some("7/x".into());
        assert!(rule.not_installable().unwrap().contains("fwmark \"7/x\""));
        rule.fwmark = None;
        rule.options = vec!["inet6".into()];
        assert!(rule.is_ipv6());
        rule.to = Some("fd00::/64".parse().unwrap());
        assert!(rule.is_ipv6());
        assert_eq!(rule.table_id(), Ok(254));
    }
}
