//! VRRP in the balancer: keepalived.conf's instances and sync groups, one task per sync
//! group (a lone instance is a group of one), and the status file for `lvsfw vrrp status`.

mod board;
mod pacer;
mod realtime;
mod scripts;
pub mod spec;
pub mod status;
mod task;
mod timer;
mod tracking;

use std::path::PathBuf;
use std::sync::Arc;

use config::keepalived::Keepalived;
use netif::kernel::Kernel;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use spec::{HostNames, LinkInfo, Resolve};

/// The VRRP tasks of one keepalived.conf: the groups that run, and those that could not
/// start with the reason, tried again by every [`Vrrp::reconcile`] until they run.
pub struct Vrrp {
    stop: watch::Sender<bool>,
    board: Arc<board::Board>,
    /// The tracked vrrp_scripts with a native check, each run once for all groups.
    scripts: scripts::Scripts,
    /// Tracked vrrp_scripts whose check does not run (logged once).
    script_problems: Vec<String>,
    /// Each running group's member names, and its task.
    running: Vec<(Vec<String>, JoinHandle<()>)>,
    /// What did not start at the last try, and why.
    unstartable: Vec<spec::Unstartable>,
    /// The IPVS sync daemon following an instance (`lvs_sync_daemon`), once it started.
    sync_daemon: Option<JoinHandle<()>>,
    /// Why the sync daemon's follower could not start.
    sync_problem: Option<String>,
    /// Reasons already in the log: a retry that fails the same way says nothing new.
    logged: Vec<String>,
}

/// How long a stop waits for each group to send its priority-0 adverts and leave.
const STOP_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

impl Vrrp {
    pub fn new(status_path: PathBuf) -> Vrrp {
        Vrrp {
            stop: watch::channel(false).0,
            board: board::Board::new(status_path),
            scripts: scripts::Scripts::default(),
            script_problems: Vec::new(),
            running: Vec::new(),
            unstartable: Vec::new(),
            sync_daemon: None,
            sync_problem: None,
            logged: Vec::new(),
        }
    }

    /// [`Vrrp::new`] and a first [`Vrrp::reconcile`].
    pub async fn start(k: &Keepalived, names: &dyn Resolve, status_path: PathBuf) -> Vrrp {
        let mut vrrp = Vrrp::new(status_path);
        vrrp.reconcile(k, names).await;
        vrrp
    }

    /// Starts every group of `k` that does not run yet. One that cannot start is kept
    /// with its reason (the status shows it) until a later call starts it: a sync group
    /// starts or fails as one.
    pub async fn reconcile(&mut self, k: &Keepalived, names: &dyn Resolve) {
        let (groups, mut unstartable) = spec::groups(k, names);
        let (scripts, problems) = scripts::specs(k);
        for problem in &problems {
            if !self.script_problems.contains(problem) {
                log::error!("{problem}");
            }
        }
        self.script_problems = problems;
        self.scripts.ensure(scripts);
        for group in groups {
            let members: Vec<String> = group.members.iter().map(|m| m.name.clone()).collect();
            if self.running.iter().any(|(running, _)| *running == members) {
                continue;
            }
            let name = group.name.clone();
            let opened = match Kernel::connect() {
                Ok(kernel) => {
                    task::GroupTask::open(group, kernel, self.board.clone(), &self.scripts)
                        .await
                        .map_err(|e| e.to_string())
                }
                Err(e) => Err(format!("{}: rtnetlink: {e}", members.join(", "))),
            };
            match opened {
                Ok(t) => {
                    log::info!("VRRP: {} started", members.join(", "));
                    let task = tokio::spawn(t.run(self.stop.subscribe()));
                    self.running.push((members, task));
                }
                Err(reason) => unstartable.push(spec::Unstartable {
                    name,
                    members,
                    reason,
                }),
            }
        }
        // A group that runs is not held back by what its spec says now (a link gone
        // for a moment): its task reports that as FAULT.
        unstartable.retain(|u| {
            !self
                .running
                .iter()
                .any(|(running, _)| *running == u.members)
        });
        let mut said = Vec::new();
        let mut entries = Vec::new();
        for u in &unstartable {
            let line = format!("{}: not running: {}", u.members.join(", "), u.reason);
            if !self.logged.contains(&line) {
                log::error!("{line}; tried again every second");
            }
            said.push(line);
            for member in &u.members {
                if let Some(instance) = k.vrrp_instances.iter().find(|i| i.name == *member) {
                    entries.push(status::not_running(
                        instance,
                        &k.global,
                        u.name.clone(),
                        u.reason_for(member),
                    ));
                }
            }
        }
        self.logged = said;
        self.unstartable = unstartable;
        self.board.update(entries);
        self.start_sync_daemon(k, names);
    }

    fn start_sync_daemon(&mut self, k: &Keepalived, names: &dyn Resolve) {
        // keepalived's follows a VRRP instance; the bgp block's runs both ways (validation
        // allows one of the two).
        let group = k.bgp.as_ref().and_then(|b| b.lvs_sync_daemon.as_ref());
        let (interface, instance, sync_id) = match (&k.global.lvs_sync_daemon, group) {
            (Some(sync), _) => (
                &sync.interface,
                Some(sync.vrrp_instance.clone()),
                sync_id(k, sync),
            ),
            (None, Some(group)) => (&group.interface, None, u32::from(group.id)),
            (None, None) => return,
        };
        if self.sync_daemon.is_some() {
            return;
        }
        match names.link(interface) {
            Ok(link) => {
                self.sync_daemon = Some(tokio::spawn(super::sync_daemon::run(
                    super::sync_daemon::Follow {
                        ifname: link.name.clone(),
                        instance,
                        sync_id,
                    },
                    self.board.states(),
                )));
                self.sync_problem = None;
            }
            Err(e) => {
                let problem = format!("lvs_sync_daemon: {e}");
                if self.sync_problem.as_ref() != Some(&problem) {
                    log::error!("{problem}; connections are not synchronised until it can start");
                }
                self.sync_problem = Some(problem);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }

    /// Each instance's state word, until the instances stop (for the mail alerts).
    pub fn states(&self) -> watch::Receiver<Vec<(String, status::VrrpState)>> {
        self.board.states()
    }

    /// Something configured does not run: [`Vrrp::reconcile`] should try again.
    pub fn incomplete(&self) -> bool {
        !self.unstartable.is_empty() || self.sync_problem.is_some()
    }

    /// What does not run, one line each: `VI_1: not running: why`.
    pub fn problems(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .unstartable
            .iter()
            .flat_map(|u| {
                u.members
                    .iter()
                    .map(move |m| format!("VRRP {m}: not running: {}", u.reason_for(m)))
            })
            .collect();
        out.extend(
            self.sync_problem
                .iter()
                .map(|p| format!("IPVS sync daemon: not running: {p}")),
        );
        out.extend(self.script_problems.iter().map(|p| format!("VRRP {p}")));
        out
    }

    /// Stops every instance (priority 0 from masters, VIPs removed) and waits for it,
    /// a bounded time: a stopping balancer must not be killed before its adverts left.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for (_, task) in self.running {
            let _ = tokio::time::timeout(STOP_WAIT, task).await;
        }
        self.scripts.stop();
        self.board.remove();
        // The last holder of the board: dropping it tells the sync daemon to stop.
        drop(self.board);
        if let Some(follower) = self.sync_daemon {
            let _ = tokio::time::timeout(STOP_WAIT, follower).await;
        }
    }
}

/// The appliance's names: a role (`ext`, `int`, `mgmt`) is the link the board (or the
/// configuration, for a VLAN) gives it: a NIC found by PCI address or MAC (so also
/// before it was renamed to its role), a VLAN or bond by its name.
pub struct RoleNames<'a> {
    pub board: Option<&'a config::board::Board>,
    pub config: Option<&'a config::Config>,
    pub links: &'a [LinkInfo],
    pub class_net: &'a std::path::Path,
}

impl Resolve for RoleNames<'_> {
    fn link(&self, name: &str) -> Result<&LinkInfo, String> {
        let role: config::Role = name.parse().map_err(|why| {
            format!("interface {why}: on the appliance keepalived.conf names interfaces by role")
        })?;
        let board = self.board.ok_or("no usable board file")?;
        let names: Vec<(u32, &str)> = self
            .links
            .iter()
            .map(|l| (l.index, l.name.as_str()))
            .collect();
        let index = netif::roles::find(board, self.config, role, self.class_net, &names)?;
        self.links
            .iter()
            .find(|l| l.index == index)
            .ok_or_else(|| format!("{role}: link {index} is gone"))
    }
}

/// The kernel's links, for resolving names. An address that failed duplicate address
/// detection is left out; one still in it (an IPv6 link-local address for a second or
/// two after its link came up) comes last, so a usable one is preferred as an
/// instance's source, and a tentative one is taken rather than none: the instance
/// starts as backup, and its adverts leave once the kernel allows the address.
pub async fn links(kernel: &Kernel) -> Result<Vec<LinkInfo>, String> {
    let actual = kernel.read().await.map_err(|e| e.to_string())?;
    Ok(actual
        .links
        .into_iter()
        .map(|l| {
            let (mut usable, tentative): (Vec<_>, Vec<_>) = l
                .addresses
                .into_iter()
                .filter(|a| !l.dad_failed.contains(a))
                .partition(|a| !l.tentative.contains(a));
            usable.extend(tentative);
            LinkInfo {
                index: l.index,
                name: l.name,
                addresses: usable,
            }
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
