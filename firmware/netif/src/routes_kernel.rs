//! The rtnetlink shell of [`crate::routes`]: every table's routes and every rule as
//! [`RouteSpec`]s / [`RuleSpec`]s, and adding and removing one.

use std::net::IpAddr;

use config::IpPrefix;
use futures::TryStreamExt;
use rtnetlink::packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteHeader, RouteMessage, RouteProtocol, RouteScope,
    RouteType,
};
use rtnetlink::packet_route::rule::{RuleAction, RuleAttribute, RuleMessage};
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::{IpVersion, RouteMessageBuilder};

use crate::kernel::{Error, Kernel};
use crate::routes::{route_words, rule_words, RouteSpec, RuleSpec, SCOPE_ANY};

/// Every route of every table and every rule, of both families.
#[derive(Debug, Clone, Default)]
pub struct Installed {
    pub routes: Vec<RouteSpec>,
    pub rules: Vec<RuleSpec>,
}

fn failed(what: String) -> impl FnOnce(rtnetlink::Error) -> Error {
    move |source| Error { what, source }
}

impl Kernel {
    pub async fn read_installed(&self) -> Result<Installed, Error> {
        self.read_installed_to(|_| true).await
    }

    /// [`Kernel::read_installed`], keeping only the routes `keep` wants (a box with a
    /// full routing table need not hold a copy of it to find a few of its own).
    pub async fn read_installed_to(
        &self,
        keep: impl Fn(&RouteSpec) -> bool,
    ) -> Result<Installed, Error> {
        let mut out = Installed::default();
        for family in [AddressFamily::Inet, AddressFamily::Inet6] {
            let mut query = RouteMessageBuilder::<IpAddr>::new().build();
            query.header.address_family = family;
            let routes: Vec<RouteMessage> = self
                .handle
                .route()
                .get(query)
                .execute()
                .try_collect()
                .await
                .map_err(failed("listing routes".into()))?;
            out.routes
                .extend(routes.iter().filter_map(route_of).filter(|r| keep(r)));
        }
        for version in [IpVersion::V4, IpVersion::V6] {
            let rules: Vec<RuleMessage> = self
                .handle
                .rule()
                .get(version)
                .execute()
                .try_collect()
                .await
                .map_err(failed("listing rules".into()))?;
            out.rules.extend(rules.iter().filter_map(rule_of));
        }
        Ok(out)
    }

    pub async fn add_route(&self, r: &RouteSpec) -> Result<(), Error> {
        self.handle
            .route()
            .add(route_message(r, false))
            .execute()
            .await
            .map_err(failed(format!("adding route {}", route_words(r))))
    }

    pub async fn del_route(&self, r: &RouteSpec) -> Result<(), Error> {
        self.handle
            .route()
            .del(route_message(r, true))
            .execute()
            .await
            .map_err(failed(format!("removing route {}", route_words(r))))
    }

    pub async fn add_rule(&self, r: &RuleSpec) -> Result<(), Error> {
        let mut request = self.handle.rule().add();
        *request.message_mut() = rule_message(r);
        request
            .execute()
            .await
            .map_err(failed(format!("adding rule {}", rule_words(r))))
    }

    pub async fn del_rule(&self, r: &RuleSpec) -> Result<(), Error> {
        self.handle
            .rule()
            .del(rule_message(r))
            .execute()
            .await
            .map_err(failed(format!("removing rule {}", rule_words(r))))
    }
}

fn address(a: IpAddr) -> RouteAddress {
    match a {
        IpAddr::V4(a) => RouteAddress::Inet(a),
        IpAddr::V6(a) => RouteAddress::Inet6(a),
    }
}

fn ip_of(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(a) => Some(IpAddr::V4(*a)),
        RouteAddress::Inet6(a) => Some(IpAddr::V6(*a)),
        _ => None,
    }
}

/// The request for a route. A delete names any scope, as keepalived's does: the kernel
/// then matches the rest.
fn route_message(r: &RouteSpec, delete: bool) -> RouteMessage {
    let mut m = RouteMessage::default();
    m.header.address_family = if r.ipv6() {
        AddressFamily::Inet6
    } else {
        AddressFamily::Inet
    };
    m.header.destination_prefix_length = r.to.len;
    m.header.kind = RouteType::from(r.kind);
    m.header.protocol = RouteProtocol::from(r.protocol);
    m.header.scope = RouteScope::from(if delete { SCOPE_ANY } else { r.scope });
    // Tables above 255 only fit in RTA_TABLE.
    m.header.table = u8::try_from(r.table).unwrap_or(RouteHeader::RT_TABLE_UNSPEC);
    m.attributes.push(RouteAttribute::Table(r.table));
    m.attributes
        .push(RouteAttribute::Destination(address(r.to.addr)));
    if r.onlink {
        m.header.flags.insert(RouteFlags::Onlink);
    }
    if let Some(via) = r.via {
        m.attributes.push(RouteAttribute::Gateway(address(via)));
    }
    if let Some(src) = r.src {
        m.attributes.push(RouteAttribute::PrefSource(address(src)));
    }
    if let Some(oif) = r.oif {
        m.attributes.push(RouteAttribute::Oif(oif));
    }
    if let Some(metric) = r.metric {
        m.attributes.push(RouteAttribute::Priority(metric));
    }
    m
}

fn route_of(m: &RouteMessage) -> Option<RouteSpec> {
    let ipv6 = match m.header.address_family {
        AddressFamily::Inet => false,
        AddressFamily::Inet6 => true,
        _ => return None,
    };
    let unspecified = if ipv6 {
        IpAddr::from([0u16; 8])
    } else {
        IpAddr::from([0u8; 4])
    };
    let mut r = RouteSpec {
        to: IpPrefix {
            addr: unspecified,
            len: m.header.destination_prefix_length,
        },
        table: u32::from(m.header.table),
        kind: u8::from(m.header.kind),
        protocol: u8::from(m.header.protocol),
        scope: u8::from(m.header.scope),
        metric: Some(0),
        src: None,
        via: None,
        oif: None,
        onlink: m.header.flags.contains(RouteFlags::Onlink),
    };
    for a in &m.attributes {
        match a {
            RouteAttribute::Table(t) => r.table = *t,
            RouteAttribute::Destination(d) => r.to.addr = ip_of(d)?,
            RouteAttribute::Gateway(g) => r.via = ip_of(g),
            RouteAttribute::PrefSource(s) => r.src = ip_of(s),
            RouteAttribute::Oif(o) => r.oif = Some(*o),
            RouteAttribute::Priority(p) => r.metric = Some(*p),
            _ => {}
        }
    }
    Some(r)
}

fn rule_message(r: &RuleSpec) -> RuleMessage {
    let mut m = RuleMessage::default();
    m.header.family = if r.ipv6 {
        AddressFamily::Inet6
    } else {
        AddressFamily::Inet
    };
    m.header.action = RuleAction::ToTable;
    m.header.table = u8::try_from(r.table).unwrap_or(RouteHeader::RT_TABLE_UNSPEC);
    m.attributes.push(RuleAttribute::Table(r.table));
    m.attributes.push(RuleAttribute::Priority(r.priority));
    m.attributes
        .push(RuleAttribute::Protocol(RouteProtocol::from(r.protocol)));
    if let Some(p) = r.from {
        m.header.src_len = p.len;
        m.attributes.push(RuleAttribute::Source(p.addr));
    }
    if let Some(p) = r.to {
        m.header.dst_len = p.len;
        m.attributes.push(RuleAttribute::Destination(p.addr));
    }
    if let Some(mark) = r.fwmark {
        m.attributes.push(RuleAttribute::FwMark(mark));
    }
    if let Some(mask) = r.fwmask {
        m.attributes.push(RuleAttribute::FwMask(mask));
    }
    if let Some(name) = &r.iif {
        m.attributes.push(RuleAttribute::Iifname(name.clone()));
    }
    if let Some(name) = &r.oif {
        m.attributes.push(RuleAttribute::Oifname(name.clone()));
    }
    m
}

/// A rule that looks up a table; other actions (goto, blackhole, ...) are nobody's
/// lvsfw made.
fn rule_of(m: &RuleMessage) -> Option<RuleSpec> {
    if m.header.action != RuleAction::ToTable {
        return None;
    }
    let mut r = RuleSpec {
        ipv6: m.header.family == AddressFamily::Inet6,
        priority: 0,
        from: None,
        to: None,
        table: u32::from(m.header.table),
        fwmark: None,
        fwmask: None,
        iif: None,
        oif: None,
        protocol: 0,
    };
    for a in &m.attributes {
        match a {
            RuleAttribute::Table(t) => r.table = *t,
            RuleAttribute::Priority(p) => r.priority = *p,
            RuleAttribute::Source(s) => {
                r.from = Some(IpPrefix {
                    addr: *s,
                    len: m.header.src_len,
                })
            }
            RuleAttribute::Destination(d) => {
                r.to = Some(IpPrefix {
                    addr: *d,
                    len: m.header.dst_len,
                })
            }
            RuleAttribute::FwMark(v) => r.fwmark = Some(*v),
            // The kernel reports a mask of all ones for a mark given without one.
            RuleAttribute::FwMask(v) => r.fwmask = Some(*v),
            RuleAttribute::Iifname(n) => r.iif = Some(n.clone()),
            RuleAttribute::Oifname(n) => r.oif = Some(n.clone()),
            RuleAttribute::Protocol(p) => r.protocol = u8::from(*p),
            _ => {}
        }
    }
    Some(r)
}
