//! The interfaces as the configuration wants them: each role's NIC found on the board,
//! renamed, raised, addressed and routed, pass after pass.

use std::path::Path;

use config::keepalived::Keepalived;
use config::{Config, Role};
use netif::kernel::Kernel;
use netif::{nic, Actual, Desired, DesiredLink, DesiredVirtual, LinkKind, Op, Owned};

use config::board::Board;
use config::board::RoleLink;
use netif::roles;

mod statics;

/// The kernel's links, addresses and routes read once on a runtime of its own, for
/// `lvsfw show interfaces`. Here and not in the binary's front end: an async function is
/// compiled into each package that awaits it, and the balancer already awaits
/// `Kernel::read`, so one copy of it (and of what it inlines) serves both. The outer error:
/// no runtime; the inner: the kernel could not be read.
pub fn read_once() -> std::io::Result<Result<Actual, String>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(runtime.block_on(async {
        let kernel = Kernel::connect().map_err(|e| e.to_string())?;
        kernel.read().await.map_err(|e| e.to_string())
    }))
}

/// The loopback interface's index: the kernel creates it first in every namespace.
const LOOPBACK_INDEX: u32 = 1;

/// Roles whose VLANs and bonds lvsfw makes (named after the role), and so may remove.
const ROLE_NAMES: [&str; 3] = ["ext", "int", "mgmt"];

/// What the interfaces should be: each role's link as the configuration wants it, the
/// VLANs and bonds to make first, and what could not be mapped.
struct Wanted {
    desired: Desired,
    virtuals: Vec<DesiredVirtual>,
    problems: Vec<String>,
}

/// Maps each role to its link (a NIC of the board, a VLAN, a bond) and says what that
/// link should look like. A VLAN or bond that is not there yet has no link to describe;
/// the caller makes it and asks again.
fn desired(
    board: &Board,
    config: &Config,
    k: &Keepalived,
    class_net: &Path,
    actual: &Actual,
) -> Wanted {
    let mut wanted = Wanted {
        desired: Desired {
            routes: config.routes.clone(),
            ..Desired::default()
        },
        virtuals: Vec::new(),
        problems: Vec::new(),
    };
    // The loopback interface: the kernel leaves it down; local services need it up.
    wanted.desired.links.push(DesiredLink {
        index: LOOPBACK_INDEX,
        name: "lo".into(),
        mtu: None,
        addresses: Vec::new(),
        up: true,
    });
    let by_name = |role: Role| {
        actual
            .links
            .iter()
            .find(|l| l.name == role.name())
            .map(|l| l.index)
    };
    // A NIC's index from sysfs (by PCI address or MAC, renamed or not), a bond's by name.
    let index_of = |role: Role| -> Result<Option<u32>, String> {
        match roles::link(board, Some(config), role) {
            Some(RoleLink::Nic(matcher)) => nic::find(class_net, &matcher)
                .map(|f| Some(f.index))
                .ok_or_else(|| format!("{role}: no NIC at {matcher}")),
            Some(RoleLink::Bond(_)) => Ok(by_name(role)),
            Some(RoleLink::Vlan(_)) => Err(format!("{role} is itself a VLAN")),
            None => Err(format!("board {} has no {role} NIC", board.name)),
        }
    };
    for role in Role::ALL {
        let configured = config.interface(role);
        // A role that carries a VLAN is raised with it, even without addresses.
        let carries_vlan = Role::ALL.into_iter().any(|r| {
            matches!(roles::link(board, Some(config), r), Some(RoleLink::Vlan(v)) if v.on == role)
        });
        let index = match roles::link(board, Some(config), role) {
            None => {
                if configured.is_some() {
                    wanted.problems.push(format!(
                        "the configuration sets up {role}, but board {} has no {role} NIC",
                        board.name
                    ));
                }
                continue;
            }
            // Once renamed, the NIC is found under its role name; sysfs matching still
            // works. A NIC that is not there matters only when the configuration sets
            // its role up (a VRRP instance on it says so itself).
            Some(RoleLink::Nic(matcher)) => match nic::find(class_net, &matcher) {
                Some(found) => found.index,
                None => {
                    if configured.is_some() || carries_vlan {
                        wanted.problems.push(format!("{role}: no NIC at {matcher}"));
                    }
                    continue;
                }
            },
            Some(RoleLink::Vlan(vlan)) => {
                match index_of(vlan.on) {
                    Ok(Some(parent)) => wanted.virtuals.push(DesiredVirtual {
                        name: role.name().into(),
                        kind: LinkKind::Vlan {
                            parent,
                            id: vlan.id,
                        },
                        members: Vec::new(),
                    }),
                    Ok(None) => {}
                    Err(why) => wanted
                        .problems
                        .push(format!("{role}: VLAN {} on {}: {why}", vlan.id, vlan.on)),
                }
                match by_name(role) {
                    Some(index) => index,
                    None => continue,
                }
            }
            Some(RoleLink::Bond(bond)) => {
                let mut members = Vec::new();
                for member in &bond.members {
                    match nic::find(class_net, member) {
                        Some(found) => members.push(found.index),
                        None => wanted
                            .problems
                            .push(format!("{role}: bond member {member} is not there")),
                    }
                }
                wanted.virtuals.push(DesiredVirtual {
                    name: role.name().into(),
                    kind: LinkKind::Bond {
                        mode: Some(bond.mode),
                        miimon_ms: bond.miimon_ms,
                        fail_over_mac: Some(bond.fail_over_mac),
                    },
                    members,
                });
                match by_name(role) {
                    Some(index) => index,
                    None => continue,
                }
            }
        };
        wanted.desired.links.push(DesiredLink {
            // A role the configuration does not name stays down: a new box does not
            // appear on a network it was not given an address for.
            up: configured.is_some() || carries_vlan,
            index,
            name: role.name().to_string(),
            mtu: configured.and_then(|w| w.mtu),
            addresses: configured.map(|w| w.addresses.clone()).unwrap_or_default(),
        });
    }
    let problems = statics::addresses(k, &mut wanted.desired);
    wanted.problems.extend(problems);
    wanted
}

/// Keeps the interfaces as the configuration wants them, pass after pass, and reports
/// a problem once rather than on every pass.
#[derive(Default)]
pub struct InterfaceReconciler {
    passes: u64,
    last_problems: Vec<String>,
    /// What the last pass could not do: a role without its NIC, a change the kernel
    /// refused.
    problems: Vec<String>,
    /// The static routes' and rules' problems as last logged (said once).
    last_route_problems: Vec<String>,
}

impl InterfaceReconciler {
    /// What the interfaces lack now, one line each.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }

    /// `k`: the running keepalived.conf, whose static addresses, routes and rules the
    /// interfaces carry.
    pub async fn pass(
        &mut self,
        kernel: &Kernel,
        board: &Board,
        config: &Config,
        k: Option<&Keepalived>,
    ) {
        let empty = Keepalived::default();
        let k = k.unwrap_or(&empty);
        let first = self.passes == 0;
        self.passes += 1;
        let class_net = Path::new("/sys/class/net");
        let mut actual = match kernel.read().await {
            Ok(actual) => actual,
            Err(e) => {
                log::error!("{e}");
                self.problems = vec![format!("interfaces: reading the kernel's: {e}")];
                return;
            }
        };
        // Before any link comes up (or is made: a new one takes the defaults): no router
        // advertisement may be taken in between.
        let proc_sys = Path::new("/proc/sys");
        let sysctls = netif::sysctl::wanted(config, &netif::sysctl::ipv6_interfaces(proc_sys));
        let sysctl_failed = match netif::sysctl::apply(proc_sys, &sysctls) {
            Ok(changed) if !changed.is_empty() => {
                log::info!("set {}", changed.join(", "));
                None
            }
            Ok(_) => None,
            Err(e) => Some(format!("sysctl {e}")),
        };
        let mut wanted = desired(board, config, k, class_net, &actual);
        // VLAN and bond support: PID 1 loads them after the NICs' drivers, so the first
        // pass loads what the roles need itself.
        let vlan = wanted
            .virtuals
            .iter()
            .any(|v| matches!(v.kind, LinkKind::Vlan { .. }));
        let bond = wanted
            .virtuals
            .iter()
            .any(|v| matches!(v.kind, LinkKind::Bond { .. }));
        let needed: Vec<String> = [("8021q", vlan), ("bonding", bond)]
            .into_iter()
            .filter(|&(name, wanted)| wanted && !Path::new("/sys/module").join(name).exists())
            .map(|(name, _)| name.to_string())
            .collect();
        if !needed.is_empty() {
            let (modules, options) = (board.modules.clone(), board.module_options.clone());
            let _ =
                tokio::task::spawn_blocking(move || modules::ensure(&modules, &options, &needed))
                    .await;
        }
        // VLANs and bonds first: the rest describes them by their index.
        let (made, mut problems) = netif::plan_virtual(&wanted.virtuals, &actual, &ROLE_NAMES);
        let mut failures = Vec::new();
        for op in &made {
            if let Err(e) = kernel.apply(op).await {
                failures.push(e.to_string());
            }
        }
        if !made.is_empty() {
            log::info!("interfaces: {}", made_summary(&made));
            match kernel.read().await {
                Ok(now) => {
                    actual = now;
                    wanted = desired(board, config, k, class_net, &actual);
                }
                Err(e) => failures.push(format!("reading the kernel's: {e}")),
            }
        }
        problems.extend(std::mem::take(&mut wanted.problems));
        problems.extend(failures);
        problems.extend(sysctl_failed);
        if problems != self.last_problems {
            for problem in &problems {
                log::error!("{problem}");
            }
            self.last_problems = problems.clone();
        }
        self.problems = problems
            .into_iter()
            .map(|p| format!("interfaces: {p}"))
            .collect();
        let desired = wanted.desired;
        let mut owned = Owned::load(Path::new(paths::NETIF_OWNED));
        let ops = netif::plan(&desired, &actual, &owned);
        let mut failures = 0;
        for op in &ops {
            if let Err(e) = kernel.apply(op).await {
                log::error!("{e}");
                if failures == 0 {
                    self.problems.push(format!("interfaces: {e}"));
                }
                failures += 1;
            }
        }
        // Once the links are up and addressed: a route needs its gateway's subnet.
        let statics = statics::routes_and_rules(kernel, board, config, k, &mut owned).await;
        if statics.problems != self.last_route_problems {
            for problem in &statics.problems {
                log::error!("{problem}");
            }
            self.last_route_problems = statics.problems.clone();
        }
        self.problems.extend(statics.problems);
        let record = Owned {
            ip_routes: owned.ip_routes,
            ip_rules: owned.ip_rules,
            ..Owned::from_desired(&desired)
        };
        if let Err(e) = record.save(Path::new(paths::NETIF_OWNED)) {
            log::error!("{e}");
        }
        if !first && statics.changes > 0 {
            log::info!(
                "static routes and rules reconciled: {} changes",
                statics.changes
            );
        }
        if first {
            let state = if failures == 0 { "up" } else { "partly up" };
            log::info!("interfaces {state} ({})", summary(&desired));
        } else if !ops.is_empty() {
            log::info!("interfaces reconciled: {} changes", ops.len());
        }
    }
}

fn summary(desired: &Desired) -> String {
    let links: Vec<String> = desired
        .links
        .iter()
        .filter(|l| l.index != LOOPBACK_INDEX)
        .map(|l| {
            let addrs: Vec<String> = l.addresses.iter().map(|a| a.to_string()).collect();
            let addrs = match (l.up, addrs.is_empty()) {
                (false, _) => "down (not in the configuration)".to_string(),
                (true, true) => "-".to_string(),
                (true, false) => addrs.join(" "),
            };
            format!("{} {addrs}", l.name)
        })
        .collect();
    links.join(", ")
}

/// "made VLAN 10 mgmt on link 3", "made bond ext, added link 2 to ext", ...
fn made_summary(ops: &[Op]) -> String {
    let said: Vec<String> = ops
        .iter()
        .map(|op| match op {
            Op::AddVlan { name, parent, id } => format!("made VLAN {id} {name} on link {parent}"),
            Op::AddBond { name, mode, .. } => format!("made bond {name} ({mode})"),
            Op::Enslave { index, bond } => format!("added link {index} to {bond}"),
            Op::DelLink { name, .. } => format!("removed {name}"),
            other => format!("{other:?}"),
        })
        .collect();
    said.join(", ")
}
