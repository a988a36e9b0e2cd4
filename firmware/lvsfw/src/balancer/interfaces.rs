//! The interfaces as the configuration wants them: each role's NIC found on the board,
//! renamed, raised, addressed and routed, pass after pass.

use std::path::Path;

use config::{Config, Role};
use netif::kernel::Kernel;
use netif::{nic, Desired, DesiredLink, Owned};

use crate::board::Board;

/// What lvsfw added to the kernel, kept on tmpfs across restarts of the balancer.
const OWNED_PATH: &str = "/run/lvsfw/netif.owned";
/// The loopback interface's index: the kernel creates it first in every namespace.
const LOOPBACK_INDEX: u32 = 1;

/// Maps each role the board knows to its NIC and says what that NIC should look like;
/// also says what could not be mapped.
fn desired(board: &Board, config: &Config, class_net: &Path) -> (Desired, Vec<String>) {
    let mut desired = Desired {
        routes: config.routes.clone(),
        ..Desired::default()
    };
    let mut problems = Vec::new();
    // The loopback interface: the kernel leaves it down; local services need it up.
    desired.links.push(DesiredLink {
        index: LOOPBACK_INDEX,
        name: "lo".into(),
        mtu: None,
        addresses: Vec::new(),
        up: true,
    });
    for role in Role::ALL {
        let wanted = config.interface(role);
        let Some(matcher) = board.nic(role) else {
            if wanted.is_some() {
                problems.push(format!(
                    "the configuration sets up {role}, but board {} has no {role} NIC",
                    board.name
                ));
            }
            continue;
        };
        // Once renamed, the NIC is found under its role name; sysfs matching still works.
        // A NIC that is not there matters only when the configuration sets its role up
        // (a VRRP instance on it says so itself).
        let Some(found) = nic::find(class_net, matcher) else {
            if wanted.is_some() {
                problems.push(format!("{role}: no NIC at {matcher}"));
            }
            continue;
        };
        desired.links.push(DesiredLink {
            // A role the configuration does not name stays down: a new box does not
            // appear on a network it was not given an address for.
            up: wanted.is_some(),
            index: found.index,
            name: role.name().to_string(),
            mtu: wanted.and_then(|w| w.mtu),
            addresses: wanted.map(|w| w.addresses.clone()).unwrap_or_default(),
        });
    }
    (desired, problems)
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
}

impl InterfaceReconciler {
    /// What the interfaces lack now, one line each.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }

    pub async fn pass(&mut self, kernel: &Kernel, board: &Board, config: &Config) {
        let first = self.passes == 0;
        self.passes += 1;
        let (desired, problems) = desired(board, config, Path::new("/sys/class/net"));
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
        let actual = match kernel.read().await {
            Ok(actual) => actual,
            Err(e) => {
                log::error!("{e}");
                self.problems
                    .push(format!("interfaces: reading the kernel's: {e}"));
                return;
            }
        };
        // Before any link comes up: no router advertisement may be taken in between.
        let proc_sys = Path::new("/proc/sys");
        let sysctls = netif::sysctl::wanted(config, &netif::sysctl::ipv6_interfaces(proc_sys));
        match netif::sysctl::apply(proc_sys, &sysctls) {
            Ok(changed) if !changed.is_empty() => log::info!("set {}", changed.join(", ")),
            Ok(_) => {}
            Err(e) => {
                log::error!("sysctl {e}");
                self.problems.push(format!("interfaces: sysctl {e}"));
            }
        }
        let owned = Owned::load(Path::new(OWNED_PATH));
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
        if let Err(e) = Owned::from_desired(&desired).save(Path::new(OWNED_PATH)) {
            log::error!("{OWNED_PATH}: {e}");
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
