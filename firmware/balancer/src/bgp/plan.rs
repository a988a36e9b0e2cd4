//! Pure: the `bgp` block made into sessions to run ([`plan`]), and which prefixes this
//! box is ready to serve ([`judge`]): route health injection's rules in one place, tested
//! without a socket or a clock.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use bgp::{Prefix, Settings};
use config::keepalived::Bgp;
use config::{Config, Role};
use ipvs::ServiceKey;

use crate::lvs::ServerHealth;

/// One neighbor's session as it runs: a change to any of it restarts the session, an
/// unchanged one keeps it through a reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerSpec {
    pub address: IpAddr,
    pub port: u16,
    /// Bound before connecting: the NEXT_HOP of what is announced must be the address
    /// the router sees the session from.
    pub local: IpAddr,
    pub settings: Settings,
    /// BFD to the neighbor (from `local`), when configured.
    pub bfd: Option<bfd::Settings>,
    /// The TCP-MD5 key: a new one restarts the session like any other change.
    pub password: Option<config::keepalived::Md5Password>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub local_as: u32,
    pub router_id: Ipv4Addr,
    pub peers: Vec<PeerSpec>,
    pub announce: Vec<Prefix>,
    pub quorum: u32,
    pub graceful: Duration,
}

/// The sessions of `b`, with what the configuration leaves to the box filled in from
/// `native`: each session's source address (the box's address in the neighbor's subnet)
/// and the router id (an IPv4 source address, else ext's first IPv4 address). `Err`: a
/// line for each neighbor that cannot run, and why.
pub fn plan(b: &Bgp, native: Option<&Config>) -> Result<Plan, Vec<String>> {
    let mut problems = Vec::new();
    let addresses: Vec<config::IpPrefix> = native
        .map(|c| {
            c.interfaces
                .iter()
                .flat_map(|i| i.addresses.iter().copied())
                .collect()
        })
        .unwrap_or_default();
    let mut locals = Vec::new();
    for n in &b.neighbors {
        let local = n.source_ip.or_else(|| {
            addresses
                .iter()
                .find(|a| a.contains(n.address))
                .map(|a| a.addr)
        });
        match local {
            Some(local) => locals.push(local),
            None => problems.push(format!(
                "BGP neighbor {}: not running: no source_ip and no interface address in its subnet",
                n.address
            )),
        }
    }
    let ext_v4 = native
        .and_then(|c| c.interface(Role::Ext))
        .and_then(|i| i.addresses.iter().find_map(|a| v4(a.addr)));
    let router_id = b
        .router_id
        .or_else(|| locals.iter().find_map(|a| v4(*a)))
        .or(ext_v4);
    let Some(router_id) = router_id else {
        problems.push(
            "BGP: not running: no router_id (and no IPv4 address to take it from)".to_string(),
        );
        return Err(problems);
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    let peers = b
        .neighbors
        .iter()
        .zip(locals)
        .map(|(n, local)| {
            let mut settings = Settings::new(b.local_as, n.remote_as, router_id, local);
            settings.hold_time = n.hold_time;
            settings.keepalive = n.keepalive;
            if let Some(retry) = n.connect_retry {
                settings.connect_retry = retry.max(Duration::from_secs(1));
            }
            settings.next_hop_v6 = n.next_hop_v6;
            settings.graceful_shutdown = b.graceful_shutdown_time;
            PeerSpec {
                address: n.address,
                port: n.port,
                local,
                settings,
                bfd: n.bfd.map(|f| bfd::Settings {
                    min_rx: Duration::from_millis(f.min_rx.into()),
                    min_tx: Duration::from_millis(f.min_tx.into()),
                    idle_tx: Duration::from_millis(f.idle_tx.into()),
                    multiplier: f.multiplier,
                    passive: f.passive,
                }),
                password: n.password.clone(),
            }
        })
        .collect();
    let announce = b
        .announce
        .iter()
        .filter_map(|p| Prefix::new(p.addr, p.len).ok())
        .collect();
    Ok(Plan {
        local_as: b.local_as,
        router_id,
        peers,
        announce,
        quorum: b.quorum,
        graceful: b.graceful_shutdown_time,
    })
}

/// A reload's sessions: which running ones end (gone, or any setting changed) and which
/// start (new, or changed). One whose spec is the same keeps its session and its routes.
pub fn changes(
    running: &std::collections::BTreeMap<IpAddr, &PeerSpec>,
    wanted: &[PeerSpec],
) -> (Vec<IpAddr>, Vec<PeerSpec>) {
    let stop = running
        .iter()
        .filter(|(a, spec)| !wanted.iter().any(|w| w.address == **a && w == **spec))
        .map(|(a, _)| *a)
        .collect();
    let start = wanted
        .iter()
        .filter(|w| running.get(&w.address).is_none_or(|spec| *spec != *w))
        .cloned()
        .collect();
    (stop, start)
}

/// An address that can be a router id: IPv4 and unicast. Not a loopback address, which
/// every box has the same of (RFC 6286 §2.1: unique within the AS).
fn v4(a: IpAddr) -> Option<Ipv4Addr> {
    match a {
        IpAddr::V4(a)
            if !a.is_loopback()
                && !a.is_unspecified()
                && !a.is_multicast()
                && !a.is_broadcast() =>
        {
            Some(a)
        }
        _ => None,
    }
}

/// What the box knows of itself, beside its real servers' health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Box {
    /// keepalived.conf is in service (the balancer has its virtual servers).
    pub serving: bool,
    /// ext and int are up (an address on a link that is down serves nobody).
    pub links_up: bool,
    /// `drain`: withdraw everything, keep serving the flows there are.
    pub drained: bool,
}

/// For each prefix: whether it is announced now, and why (or why not). A prefix is ready
/// when the box serves, its links are up, it is not drained, and every virtual server
/// whose address the prefix holds has at least `quorum` live real servers, each
/// checked one having been checked once (before that its health is keepalived's
/// initial "up", which is not known: announcing then could draw traffic to a box
/// whose real servers it cannot reach).
pub fn judge(
    announce: &[Prefix],
    quorum: u32,
    health: &[ServerHealth],
    state: Box,
) -> Vec<(Prefix, bool, String)> {
    announce
        .iter()
        .map(|&p| {
            let (ready, why) = judge_one(p, quorum, health, state);
            (p, ready, why)
        })
        .collect()
}

fn judge_one(p: Prefix, quorum: u32, health: &[ServerHealth], state: Box) -> (bool, String) {
    if state.drained {
        return (false, "drained".into());
    }
    if !state.serving {
        return (false, "the virtual servers are not in service".into());
    }
    if !state.links_up {
        return (false, "ext or int is down".into());
    }
    let mut services: Vec<ServiceKey> = health
        .iter()
        .map(|h| h.service)
        .filter(|k| matches!(k, ServiceKey::Addr { addr, .. } if in_prefix(p, *addr)))
        .collect();
    services.dedup();
    if services.is_empty() {
        return (
            false,
            "no virtual server with real servers at this address".into(),
        );
    }
    for key in &services {
        let servers = health.iter().filter(|h| h.service == *key);
        let unknown = servers
            .clone()
            .filter(|h| h.checked && h.last.is_none())
            .count();
        if unknown > 0 {
            return (
                false,
                format!("{key}: waiting for the first check of {unknown} real server(s)"),
            );
        }
        let alive = servers.filter(|h| h.alive).count();
        if (alive as u64) < u64::from(quorum) {
            return (
                false,
                format!("{key}: {alive} live real server(s), quorum {quorum}"),
            );
        }
    }
    (
        true,
        format!("{} virtual server(s) with quorum", services.len()),
    )
}

pub(crate) fn in_prefix(p: Prefix, addr: IpAddr) -> bool {
    config::IpPrefix {
        addr: p.addr(),
        len: p.prefix_len(),
    }
    .contains(addr)
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
