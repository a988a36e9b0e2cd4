//! What the virtual services should be, and the IPVS table that follows from it and from
//! the real servers' health. Pure: the task feeds health changes in and sends the table
//! to the kernel.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::SystemTime;

use checks::CheckSpec;
use ipvs::{Destination, Encap, Forward, Service, ServiceKey, Table};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealServer {
    pub addr: IpAddr,
    pub port: u16,
    pub weight: u32,
    pub forward: Forward,
    /// A tunnel's encapsulation (`lb_kind TUN type gue port N`).
    pub encap: Encap,
    /// keepalived's `inhibit_on_failure`: a dead server stays with weight 0 (its
    /// established connections keep going) instead of being removed.
    pub inhibit_on_failure: bool,
    pub upper_threshold: u32,
    pub lower_threshold: u32,
    /// Every checker must be up for the server to be alive (keepalived); none means
    /// always alive.
    pub checks: Vec<CheckSpec>,
    /// Its own `smtp_alert`; absent, the global default decides whether its checkers'
    /// changes are mailed.
    pub smtp_alert: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualService {
    pub service: Service,
    pub real_servers: Vec<RealServer>,
    /// keepalived's `sorry_server`: takes the traffic while quorum is lost.
    pub sorry_server: Option<(IpAddr, u16)>,
    pub sorry_forward: Forward,
    /// keepalived's `sorry_server_inhibit`: while not in use the sorry server stays with
    /// weight 0 (its connections keep going) instead of being removed.
    pub sorry_inhibit: bool,
    /// keepalived's `quorum` (default 1) and `hysteresis` (default 0): the summed weight
    /// of live servers that keeps the service up.
    pub quorum: u32,
    pub hysteresis: u32,
    /// Its own `smtp_alert`: whether its quorum changes are mailed; absent, the global
    /// default decides.
    pub smtp_alert: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    pub services: Vec<VirtualService>,
}

/// One checker of one real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CheckId {
    pub service: ServiceKey,
    pub addr: IpAddr,
    pub port: u16,
    pub index: usize,
}

/// Health of every checker and quorum of every service, as they have evolved.
#[derive(Debug, Clone, Default)]
pub struct HealthBook {
    /// Checkers reported down; absent means up (keepalived's initial state).
    down: HashMap<CheckId, bool>,
    /// Services whose quorum is currently lost.
    quorum_lost: HashMap<ServiceKey, bool>,
    /// Each checker's last report: what it found, and when.
    last: HashMap<CheckId, LastCheck>,
    /// Reports so far: orders them when the clock cannot (two in one tick).
    reports: u64,
    /// Quorum changes not taken yet (for the mail alerts), at most [`QUORUM_CHANGES`].
    quorum_changes: Vec<QuorumChange>,
}

/// Quorum changes kept until taken: one per service and table, and the task takes them
/// after each table.
const QUORUM_CHANGES: usize = 1024;

/// A service that gained or lost quorum, or was judged for the first time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumChange {
    pub service: ServiceKey,
    pub up: bool,
    /// The service's first judgement (keepalived's "Starting with quorum ...").
    pub first: bool,
    pub quorum: u32,
    pub hysteresis: u32,
    /// The summed weight of its live real servers.
    pub live_weight: u64,
    pub smtp_alert: Option<bool>,
}

/// A checker's last report, for the status page: why a server is down (or up again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastCheck {
    pub up: bool,
    /// What was probed and what it found (`TCP_CHECK 192.168.33.11:80: connection refused`).
    pub reason: String,
    pub at: SystemTime,
    /// The report's place in the order they came.
    pub seq: u64,
}

/// One real server's check result, for the status page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHealth {
    pub service: ServiceKey,
    pub addr: IpAddr,
    pub port: u16,
    /// Whether the server has checkers at all (without, it is always alive).
    pub checked: bool,
    pub alive: bool,
    /// The newest report of its checkers; of a failing one while the server is down.
    pub last: Option<LastCheck>,
}

impl HealthBook {
    /// Every real server of `plan` and whether its checks say it is alive.
    pub fn snapshot(&self, plan: &Plan) -> Vec<ServerHealth> {
        plan.services
            .iter()
            .flat_map(|vs| {
                vs.real_servers.iter().map(|rs| ServerHealth {
                    service: vs.service.key,
                    addr: rs.addr,
                    port: rs.port,
                    checked: !rs.checks.is_empty(),
                    alive: self.alive(vs.service.key, rs),
                    last: self.last_of(vs.service.key, rs),
                })
            })
            .collect()
    }

    pub fn set(&mut self, id: CheckId, up: bool, reason: String) {
        self.down.insert(id, !up);
        self.reports += 1;
        self.last.insert(
            id,
            LastCheck {
                up,
                reason,
                at: SystemTime::now(),
                seq: self.reports,
            },
        );
    }

    /// The report that explains the server's state: a failing checker's while it is
    /// down, else the newest.
    fn last_of(&self, service: ServiceKey, rs: &RealServer) -> Option<LastCheck> {
        let reports = (0..rs.checks.len()).filter_map(|index| {
            self.last.get(&CheckId {
                service,
                addr: rs.addr,
                port: rs.port,
                index,
            })
        });
        let failing = reports.clone().filter(|l| !l.up).max_by_key(|l| l.seq);
        failing.or_else(|| reports.max_by_key(|l| l.seq)).cloned()
    }

    /// The quorum changes since the last call.
    pub fn take_quorum_changes(&mut self) -> Vec<QuorumChange> {
        std::mem::take(&mut self.quorum_changes)
    }

    /// Starts a checker as down (keepalived's `alpha`).
    pub fn start_down(&mut self, id: CheckId) {
        self.down.entry(id).or_insert(true);
    }

    /// Whether a checker is up now (never reported: up, keepalived's initial state).
    pub fn checker_up(&self, id: CheckId) -> bool {
        !self.down.get(&id).copied().unwrap_or(false)
    }

    pub fn alive(&self, service: ServiceKey, rs: &RealServer) -> bool {
        (0..rs.checks.len()).all(|index| {
            let id = CheckId {
                service,
                addr: rs.addr,
                port: rs.port,
                index,
            };
            !self.down.get(&id).copied().unwrap_or(false)
        })
    }

    /// Forgets checkers and services that the plan no longer has.
    pub fn retain(&mut self, plan: &Plan) {
        let live: std::collections::HashSet<CheckId> =
            plan.check_ids().into_iter().map(|(id, _)| id).collect();
        self.down.retain(|id, _| live.contains(id));
        self.last.retain(|id, _| live.contains(id));
        self.quorum_lost
            .retain(|key, _| plan.services.iter().any(|s| s.service.key == *key));
    }
}

impl Plan {
    /// The real server a checker checks.
    pub fn real_server(&self, id: CheckId) -> Option<&RealServer> {
        self.services
            .iter()
            .filter(|vs| vs.service.key == id.service)
            .flat_map(|vs| vs.real_servers.iter())
            .find(|rs| rs.addr == id.addr && rs.port == id.port)
    }

    /// Every checker of every real server, with its id.
    pub fn check_ids(&self) -> Vec<(CheckId, &CheckSpec)> {
        let mut ids = Vec::new();
        for vs in &self.services {
            for rs in &vs.real_servers {
                for (index, spec) in rs.checks.iter().enumerate() {
                    let id = CheckId {
                        service: vs.service.key,
                        addr: rs.addr,
                        port: rs.port,
                        index,
                    };
                    ids.push((id, spec));
                }
            }
        }
        ids
    }

    /// The IPVS table this plan asks for given `health`; updates the quorum state.
    pub fn desired(&self, health: &mut HealthBook) -> Table {
        let mut table = Table::default();
        for vs in &self.services {
            let key = vs.service.key;
            table.insert_service(vs.service.clone());
            let mut live_weight = 0u64;
            let keep_dead = ipvs::keeps_order(&vs.service);
            for rs in &vs.real_servers {
                let alive = health.alive(key, rs);
                if alive {
                    live_weight += u64::from(rs.weight);
                }
                // `mh` builds its lookup table from the kernel's destination list in list
                // order: a server removed and added back would go to the end of the list
                // on this box only, and the boxes of a group would pick different real
                // servers for the same flow. A dead one stays with weight 0 (ip_vs_mh
                // skips it), as with inhibit_on_failure.
                if alive || rs.inhibit_on_failure || keep_dead {
                    let mut dest = Destination::new(
                        rs.addr,
                        rs.port,
                        rs.forward,
                        if alive { rs.weight } else { 0 },
                    );
                    dest.encap = rs.encap;
                    dest.upper_threshold = rs.upper_threshold;
                    dest.lower_threshold = rs.lower_threshold;
                    table.insert_destination(&key, dest);
                }
            }
            let was_lost = health.quorum_lost.get(&key).copied();
            let lost = quorum_lost(
                was_lost,
                live_weight,
                u64::from(vs.quorum),
                u64::from(vs.hysteresis),
            );
            health.quorum_lost.insert(key, lost);
            if was_lost != Some(lost) && health.quorum_changes.len() < QUORUM_CHANGES {
                health.quorum_changes.push(QuorumChange {
                    service: key,
                    up: !lost,
                    first: was_lost.is_none(),
                    quorum: vs.quorum,
                    hysteresis: vs.hysteresis,
                    live_weight,
                    smtp_alert: vs.smtp_alert,
                });
            }
            if let Some((addr, port)) = vs.sorry_server {
                let shared = vs
                    .real_servers
                    .iter()
                    .any(|r| (r.addr, r.port) == (addr, port));
                if lost || (vs.sorry_inhibit && !shared) {
                    let weight = u32::from(lost);
                    let sorry = Destination::new(addr, port, vs.sorry_forward, weight);
                    table.insert_destination(&key, sorry);
                }
            }
        }
        table
    }
}

/// keepalived's quorum with hysteresis (ipwrapper.c): at start quorum holds if the live
/// weight reaches quorum + hysteresis; once up it is lost below quorum − hysteresis (or
/// at no live weight); once lost it is gained again at quorum + hysteresis.
fn quorum_lost(was_lost: Option<bool>, live: u64, quorum: u64, hysteresis: u64) -> bool {
    let up_at = quorum + hysteresis;
    let down_below = quorum.saturating_sub(hysteresis);
    match was_lost {
        None | Some(true) => live < up_at,
        Some(false) => live == 0 || live < down_below,
    }
}

#[cfg(test)]
mod tests;
