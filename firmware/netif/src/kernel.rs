//! The rtnetlink shell: reads links, addresses and routes, and applies [`Op`]s.

use std::fmt;
use std::net::IpAddr;

use config::{IpPrefix, Route};
use futures::TryStreamExt;
use rtnetlink::packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage,
};
use rtnetlink::packet_route::link::{
    BondFailOverMac, BondMode as KernelBondMode, InfoBond, InfoData, InfoVlan, LinkAttribute,
    LinkExtentMask, LinkFlags, LinkInfo, LinkMessage,
};
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute, RouteMessage, RouteType};
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::{Handle, LinkBond, LinkUnspec, LinkVlan, RouteMessageBuilder};

use crate::{Actual, ActualLink, BondMode, FailOverMac, LinkKind, Op};

/// The main routing table (RT_TABLE_MAIN).
const MAIN_TABLE: u32 = 254;

#[derive(Debug)]
pub struct Error {
    pub what: String,
    pub source: rtnetlink::Error,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.source)
    }
}

impl std::error::Error for Error {}

impl Error {
    /// The errno the kernel answered with (EEXIST, ESRCH, ...), if it answered.
    pub fn errno(&self) -> Option<i32> {
        match &self.source {
            rtnetlink::Error::NetlinkError(message) => Some(-message.raw_code()),
            _ => None,
        }
    }
}

fn context(what: impl Into<String>) -> impl FnOnce(rtnetlink::Error) -> Error {
    let what = what.into();
    move |source| Error { what, source }
}

/// A connection to the kernel's routing netlink. Must be created inside a tokio runtime.
#[derive(Clone)]
pub struct Kernel {
    pub(crate) handle: Handle,
}

impl Kernel {
    pub fn connect() -> std::io::Result<Kernel> {
        let (connection, handle, _) = rtnetlink::new_connection()?;
        tokio::spawn(connection);
        Ok(Kernel { handle })
    }

    pub async fn read(&self) -> Result<Actual, Error> {
        // Without their counters (RTEXT_FILTER_SKIP_STATS), which nothing here reads: about
        // half of each link's message, parsed on every pass.
        let links: Vec<LinkMessage> = self
            .handle
            .link()
            .get()
            .set_filter_mask(AddressFamily::Unspec, vec![LinkExtentMask::SkipStats])
            .execute()
            .try_collect()
            .await
            .map_err(context("listing links"))?;
        let addresses: Vec<AddressMessage> = self
            .handle
            .address()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(context("listing addresses"))?;
        let mut actual = Actual::default();
        for link in links {
            actual.links.push(actual_link(&link, &addresses));
        }
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
                .map_err(context("listing routes"))?;
            actual
                .routes
                .extend(routes.iter().filter_map(gateway_route));
        }
        Ok(actual)
    }

    /// Adds a virtual address (a VRRP VIP) to link `index`. An IPv6 one skips duplicate
    /// address detection (IFA_F_NODAD, as keepalived adds them): while tentative the
    /// kernel drops traffic to it for a second after every takeover, and the old master
    /// may still hold it for a moment, which would fail DAD for good.
    pub async fn add_virtual_address(&self, index: u32, prefix: IpPrefix) -> Result<(), Error> {
        let mut request = self.handle.address().add(index, prefix.addr, prefix.len);
        if prefix.addr.is_ipv6() {
            let message = request.message_mut();
            message.header.flags |= AddressHeaderFlags::Nodad;
            message
                .attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        request
            .execute()
            .await
            .map_err(context(format!("adding {prefix} to link {index}")))
    }

    pub async fn apply(&self, op: &Op) -> Result<(), Error> {
        let link = self.handle.link();
        match op {
            Op::Rename {
                index,
                from,
                to,
                up,
            } => {
                if *up {
                    let down = LinkUnspec::new_with_index(*index).down().build();
                    link.set(down)
                        .execute()
                        .await
                        .map_err(context(format!("taking {from} down to rename it")))?;
                }
                let rename = LinkUnspec::new_with_index(*index).name(to.clone()).build();
                link.set(rename)
                    .execute()
                    .await
                    .map_err(context(format!("renaming {from} to {to}")))
            }
            Op::SetMtu { index, mtu } => link
                .set(LinkUnspec::new_with_index(*index).mtu(*mtu).build())
                .execute()
                .await
                .map_err(context(format!("setting MTU {mtu} on link {index}"))),
            Op::SetUp { index } => link
                .set(LinkUnspec::new_with_index(*index).up().build())
                .execute()
                .await
                .map_err(context(format!("bringing link {index} up"))),
            Op::AddAddress { index, prefix } => self
                .handle
                .address()
                .add(*index, prefix.addr, prefix.len)
                .execute()
                .await
                .map_err(context(format!("adding {prefix} to link {index}"))),
            Op::DelAddress { index, prefix } => {
                let found: Vec<AddressMessage> = self
                    .handle
                    .address()
                    .get()
                    .set_link_index_filter(*index)
                    .set_address_filter(prefix.addr)
                    .set_prefix_length_filter(prefix.len)
                    .execute()
                    .try_collect()
                    .await
                    .map_err(context(format!("looking up {prefix} on link {index}")))?;
                for message in found {
                    self.handle
                        .address()
                        .del(message)
                        .execute()
                        .await
                        .map_err(context(format!("removing {prefix} from link {index}")))?;
                }
                Ok(())
            }
            Op::AddRoute(route) => self
                .handle
                .route()
                .add(route_message(route).map_err(context(format!("route {}", route.to)))?)
                .execute()
                .await
                .map_err(context(format!(
                    "adding route {} via {}",
                    route.to, route.via
                ))),
            Op::AddVlan { name, parent, id } => link
                .add(LinkVlan::new(name, *parent, *id).build())
                .execute()
                .await
                .map_err(context(format!("making VLAN {id} {name} on link {parent}"))),
            Op::AddBond {
                name,
                mode,
                miimon_ms,
                fail_over_mac,
            } => {
                let kernel_mode = match mode {
                    BondMode::ActiveBackup => KernelBondMode::ActiveBackup,
                    BondMode::Lacp => KernelBondMode::Ieee8023Ad,
                };
                let follow = match fail_over_mac {
                    FailOverMac::None => BondFailOverMac::None,
                    FailOverMac::Active => BondFailOverMac::Active,
                };
                link.add(
                    LinkBond::new(name)
                        .mode(kernel_mode)
                        .miimon(*miimon_ms)
                        .fail_over_mac(follow)
                        .build(),
                )
                .execute()
                .await
                .map_err(context(format!("making bond {name} ({mode})")))
            }
            Op::DelLink { index, name } => link
                .del(*index)
                .execute()
                .await
                .map_err(context(format!("removing {name}"))),
            Op::Enslave { index, bond } => {
                let found: Vec<LinkMessage> = link
                    .get()
                    .match_name(bond.clone())
                    .execute()
                    .try_collect()
                    .await
                    .map_err(context(format!("looking up bond {bond}")))?;
                let Some(master) = found.first().map(|l| l.header.index) else {
                    return Ok(());
                };
                let down = LinkUnspec::new_with_index(*index).down().build();
                link.set(down)
                    .execute()
                    .await
                    .map_err(context(format!("taking link {index} down for {bond}")))?;
                let join = LinkUnspec::new_with_index(*index)
                    .controller(master)
                    .build();
                link.set(join)
                    .execute()
                    .await
                    .map_err(context(format!("adding link {index} to bond {bond}")))
            }
            Op::DelRoute(route) => self
                .handle
                .route()
                .del(route_message(route).map_err(context(format!("route {}", route.to)))?)
                .execute()
                .await
                .map_err(context(format!(
                    "removing route {} via {}",
                    route.to, route.via
                ))),
        }
    }
}

fn actual_link(link: &LinkMessage, addresses: &[AddressMessage]) -> ActualLink {
    let mut name = String::new();
    let mut mtu = 0;
    let mut parent = None;
    let mut master = None;
    let mut infos: &[LinkInfo] = &[];
    for attribute in &link.attributes {
        match attribute {
            LinkAttribute::IfName(n) => name = n.clone(),
            LinkAttribute::Mtu(m) => mtu = *m,
            LinkAttribute::Link(p) => parent = Some(*p),
            LinkAttribute::Controller(m) => master = Some(*m),
            LinkAttribute::LinkInfo(i) => infos = i,
            _ => {}
        }
    }
    let index = link.header.index;
    let mine = || addresses.iter().filter(move |a| a.header.index == index);
    ActualLink {
        index,
        name,
        mtu,
        up: link.header.flags.contains(LinkFlags::Up),
        addresses: mine().filter_map(address_prefix).collect(),
        tentative: mine()
            .filter(|a| flags(a).contains(AddressFlags::Tentative))
            .filter_map(address_prefix)
            .collect(),
        dad_failed: mine()
            .filter(|a| flags(a).contains(AddressFlags::Dadfailed))
            .filter_map(address_prefix)
            .collect(),
        kind: link_kind(infos, parent),
        master,
    }
}

/// A VLAN (its parent and ID) or a bond (its mode and MII interval) from IFLA_LINKINFO.
fn link_kind(infos: &[LinkInfo], parent: Option<u32>) -> Option<LinkKind> {
    let data = infos.iter().find_map(|i| match i {
        LinkInfo::Data(d) => Some(d),
        _ => None,
    });
    match data? {
        InfoData::Vlan(vlan) => Some(LinkKind::Vlan {
            parent: parent?,
            id: vlan.iter().find_map(|v| match v {
                InfoVlan::Id(id) => Some(*id),
                _ => None,
            })?,
        }),
        InfoData::Bond(bond) => Some(LinkKind::Bond {
            mode: bond.iter().find_map(|b| match b {
                InfoBond::Mode(KernelBondMode::ActiveBackup) => Some(BondMode::ActiveBackup),
                InfoBond::Mode(KernelBondMode::Ieee8023Ad) => Some(BondMode::Lacp),
                _ => None,
            }),
            miimon_ms: bond
                .iter()
                .find_map(|b| match b {
                    InfoBond::MiiMon(ms) => Some(*ms),
                    _ => None,
                })
                .unwrap_or(0),
            fail_over_mac: bond.iter().find_map(|b| match b {
                InfoBond::FailOverMac(BondFailOverMac::None) => Some(FailOverMac::None),
                InfoBond::FailOverMac(BondFailOverMac::Active) => Some(FailOverMac::Active),
                _ => None,
            }),
        }),
        _ => None,
    }
}

/// An address's flags: the 32-bit IFA_FLAGS when present (the whole truth), else the
/// header's byte.
fn flags(message: &AddressMessage) -> AddressFlags {
    message
        .attributes
        .iter()
        .find_map(|a| match a {
            AddressAttribute::Flags(f) => Some(*f),
            _ => None,
        })
        .unwrap_or_else(|| AddressFlags::from_bits_retain(u32::from(message.header.flags.bits())))
}

/// For IPv4 the local address is IFA_LOCAL (IFA_ADDRESS is the peer on point-to-point links).
fn address_prefix(message: &AddressMessage) -> Option<IpPrefix> {
    let mut address = None;
    for attribute in &message.attributes {
        match attribute {
            AddressAttribute::Local(a) => {
                return Some(IpPrefix {
                    addr: *a,
                    len: message.header.prefix_len,
                })
            }
            AddressAttribute::Address(a) => address = Some(*a),
            _ => {}
        }
    }
    address.map(|addr| IpPrefix {
        addr,
        len: message.header.prefix_len,
    })
}

fn gateway_route(message: &RouteMessage) -> Option<Route> {
    if message.header.kind != RouteType::Unicast {
        return None;
    }
    let mut table = u32::from(message.header.table);
    let mut destination = None;
    let mut gateway = None;
    for attribute in &message.attributes {
        match attribute {
            RouteAttribute::Table(t) => table = *t,
            RouteAttribute::Destination(d) => destination = ip_of(d),
            RouteAttribute::Gateway(g) => gateway = ip_of(g),
            _ => {}
        }
    }
    if table != MAIN_TABLE {
        return None;
    }
    let via = gateway?;
    let unspecified = if via.is_ipv4() {
        IpAddr::from([0u8; 4])
    } else {
        IpAddr::from([0u16; 8])
    };
    Some(Route {
        to: IpPrefix {
            addr: destination.unwrap_or(unspecified),
            len: message.header.destination_prefix_length,
        },
        via,
    })
}

fn ip_of(address: &RouteAddress) -> Option<IpAddr> {
    match address {
        RouteAddress::Inet(a) => Some(IpAddr::V4(*a)),
        RouteAddress::Inet6(a) => Some(IpAddr::V6(*a)),
        _ => None,
    }
}

fn route_message(route: &Route) -> Result<RouteMessage, rtnetlink::Error> {
    Ok(RouteMessageBuilder::<IpAddr>::new()
        .destination_prefix(route.to.addr, route.to.len)
        .map_err(|e| rtnetlink::Error::InvalidNla(e.to_string()))?
        .gateway(route.via)
        .map_err(|e| rtnetlink::Error::InvalidNla(e.to_string()))?
        .build())
}
