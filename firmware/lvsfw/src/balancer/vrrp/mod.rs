//! VRRP in the balancer: keepalived.conf's instances and sync groups, one task per sync
//! group (a lone instance is a group of one), and the status file for `lvsfw vrrp status`.

mod link;
pub mod spec;
pub mod status;
mod task;
mod timer;

use std::path::PathBuf;
use std::sync::Arc;

use config::keepalived::Keepalived;
use netif::kernel::Kernel;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use spec::{HostNames, LinkInfo, Resolve};

/// The running VRRP tasks.
pub struct Vrrp {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    board: Arc<task::Board>,
    /// The IPVS sync daemon following an instance (`lvs_sync_daemon`).
    sync_daemon: Option<JoinHandle<()>>,
}

impl Vrrp {
    /// Starts every instance of `k` that can run; each one that cannot is reported (and
    /// the others run).
    pub async fn start(k: &Keepalived, names: &dyn Resolve, status_path: PathBuf) -> Vrrp {
        let (stop, stop_rx) = watch::channel(false);
        let board = task::Board::new(status_path);
        let mut tasks = Vec::new();
        let (groups, problems) = spec::groups(k, names);
        for problem in problems {
            log::error!("{problem}; not started");
        }
        for group in groups {
            let names: Vec<String> = group.members.iter().map(|m| m.name.clone()).collect();
            let kernel = match Kernel::connect() {
                Ok(kernel) => kernel,
                Err(e) => {
                    log::error!("{}: rtnetlink: {e}; not started", names.join(", "));
                    continue;
                }
            };
            match task::GroupTask::open(group, kernel, board.clone()) {
                Ok(t) => {
                    log::info!("VRRP: {} started", names.join(", "));
                    tasks.push(tokio::spawn(t.run(stop_rx.clone())));
                }
                Err(e) => log::error!("{e}; not started"),
            }
        }
        let sync_daemon =
            k.global
                .lvs_sync_daemon
                .as_ref()
                .and_then(|sync| match names.link(&sync.interface) {
                    Ok(link) => Some(tokio::spawn(super::sync_daemon::run(
                        super::sync_daemon::Follow {
                            ifname: link.name.clone(),
                            instance: sync.vrrp_instance.clone(),
                            sync_id: sync_id(k, sync),
                        },
                        board.states(),
                    ))),
                    Err(e) => {
                        log::error!("lvs_sync_daemon: {e}; connections are not synchronised");
                        None
                    }
                });
        Vrrp {
            stop,
            tasks,
            board,
            sync_daemon,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Stops every instance (priority 0 from masters, VIPs removed) and waits for it.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        self.board.remove();
        // The last holder of the board: dropping it tells the sync daemon to stop.
        drop(self.board);
        // Bounded: a stop must end even if something still held the board.
        if let Some(follower) = self.sync_daemon {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), follower).await;
        }
    }
}

/// The appliance's names: a role (`ext`, `int`, `mgmt`) is the NIC the board maps it
/// to, found by PCI address or MAC (so also before it was renamed to its role).
pub struct RoleNames<'a> {
    pub board: Option<&'a crate::board::Board>,
    pub links: &'a [LinkInfo],
    pub class_net: &'a std::path::Path,
}

impl Resolve for RoleNames<'_> {
    fn link(&self, name: &str) -> Result<&LinkInfo, String> {
        let role: config::Role = name.parse().map_err(|why| {
            format!("interface {why}: on the appliance keepalived.conf names interfaces by role")
        })?;
        let board = self.board.ok_or("no usable board file")?;
        let matcher = board
            .nic(role)
            .ok_or_else(|| format!("board {} has no {role} NIC", board.name))?;
        let found = netif::nic::find(self.class_net, matcher)
            .ok_or_else(|| format!("{role}: no NIC at {matcher}"))?;
        self.links
            .iter()
            .find(|l| l.index == found.index)
            .ok_or_else(|| format!("{role}: link {} is gone", found.index))
    }
}

/// The kernel's links, for resolving names.
pub async fn links(kernel: &Kernel) -> Result<Vec<LinkInfo>, String> {
    let actual = kernel.read().await.map_err(|e| e.to_string())?;
    Ok(actual
        .links
        .into_iter()
        .map(|l| LinkInfo {
            index: l.index,
            name: l.name,
            addresses: l.addresses,
        })
        .collect())
}

/// keepalived's sync id: the one given, else the followed instance's virtual_router_id.
fn sync_id(k: &Keepalived, sync: &config::keepalived::LvsSyncDaemon) -> u32 {
    let vrid = || {
        k.vrrp_instances
            .iter()
            .find(|i| i.name == sync.vrrp_instance)
            .map_or(0, |i| i.vrid)
    };
    u32::from(sync.id.unwrap_or_else(vrid))
}

#[cfg(test)]
mod sync_id_tests {
    use super::*;

    #[test]
    fn the_sync_id_defaults_to_the_instance_s_router_id() {
        let read = |sync: &str| {
            config::keepalived::read_text(
                &format!("global_defs {{\n lvs_sync_daemon eth0 VI_1{sync}\n}}\nvrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n}}\n"),
                "k.conf",
            )
            .unwrap()
            .config
        };
        let k = read("");
        assert_eq!(sync_id(&k, k.global.lvs_sync_daemon.as_ref().unwrap()), 51);
        let k = read(" id 7");
        assert_eq!(sync_id(&k, k.global.lvs_sync_daemon.as_ref().unwrap()), 7);
    }
}
