//! What the page needs from the rest of the firmware, as a trait: the balancer implements
//! it (files, netlink, the reload channel), tests bring a fake.
//!
//! Every method may block (it runs on tokio's blocking pool, never on the balancer's
//! thread).

use std::net::IpAddr;

use config::Config;
use serde::Serialize;
// The status model every front end shares (the lvsfw-status crate), under the names the
// page has always used.
pub use status::bgp::{BfdNeighborStatus, BgpNeighborStatus, BgpPrefixStatus, BgpStatus};
pub use status::{Counters, SlotStatus, TimeStatus, VrrpState, VrrpStatus};

/// A change to put in service: each part that is `Some` is written whole (a temporary
/// file renamed over the old one) and the balancer reloads, as on SIGHUP. The caller has
/// validated every part; nothing is written if a part cannot be.
#[derive(Debug, Clone, Default)]
pub struct Change {
    /// The native configuration (`/etc/lvsfw/config.json`); its `keepalived` part is
    /// not used (keepalived.conf holds it).
    pub native: Option<Config>,
    /// keepalived.conf text (`/etc/lvsfw/keepalived.conf`).
    pub keepalived: Option<String>,
    /// Rolled back after this many minutes unless confirmed ("apply with automatic
    /// rollback"); `None`: only when the change needs it (the mgmt addresses, the
    /// page's management address, the gateway: the backend decides, the console's rule).
    pub rollback: Option<u32>,
    /// Who applied it, for the log and the pending rollback.
    pub who: String,
}

/// What the balancer did with a [`Change`]: it is in service; `not_running` names what
/// is configured but does not run now, and why (empty: everything runs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    pub said: String,
    pub not_running: Vec<String>,
}

/// The candidate as the page shows it, whoever staged it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pending {
    /// The candidate's keepalived.conf (the running one when only other parts changed).
    pub keepalived: String,
    /// Who changed it and how, oldest first.
    pub changes: Vec<String>,
}

/// Why the candidate was not put in service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotApplied {
    /// No change is staged.
    Nothing,
    /// Refused, and why (an invalid candidate, one the running configuration moved on
    /// from, a rollback pending); nothing changed.
    Refused(String),
}

/// The one candidate the console and the page share (the firmware keeps it on disk):
/// a change staged on either front end is the other's too, and an apply from either
/// puts all of it in service.
pub trait Candidates: Send + Sync {
    /// The candidate; `None` when nothing is staged.
    fn pending(&self) -> Result<Option<Pending>, String>;
    /// keepalived.conf text becomes the candidate's, checked first; `change` says what
    /// it is for the pending line ("page: admin: weight 1 -> 0"). What happened.
    fn stage(&self, keepalived: &str, who: &str, change: &str) -> Result<String, String>;
    /// Drops the candidate; whether there was one.
    fn discard(&self) -> Result<bool, String>;
    /// Puts the candidate in service and has the balancer reload.
    fn apply_candidate(&self, who: &str) -> Result<Applied, NotApplied>;
}

/// What every page says above its body, whichever page the operator looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Notices {
    /// The running configuration differs from the saved one: a reboot would lose it.
    pub unsaved: bool,
    /// What is configured but does not run now, and why.
    pub not_running: Vec<String>,
    /// A change waits for its confirmation: who, why and how long is left.
    pub rollback: Option<String>,
}

pub trait Backend: Send + Sync + 'static {
    /// A snapshot of everything the status page shows.
    fn status(&self) -> Status;
    /// Each VRRP instance's name and state, for a page that shows no more of the status
    /// (the configuration page); by default taken from [`Backend::status`].
    fn vrrp_states(&self) -> Vec<(String, VrrpState)> {
        self.status()
            .vrrp
            .into_iter()
            .map(|i| (i.name, i.state))
            .collect()
    }
    /// The native configuration the balancer runs with; `None` when it has none (no
    /// config.json, or an invalid one).
    fn native(&self) -> Option<Config>;
    /// The keepalived.conf in service as text; `Ok(None)` when there is none.
    fn keepalived_text(&self) -> Result<Option<String>, String>;
    /// Writes `change` and has the balancer reload; what the balancer did. `Err`: the
    /// change is not in service.
    fn apply(&self, change: Change) -> Result<Applied, String>;
    /// The candidate shared with the console; `None`: this backend keeps none, and the
    /// page keeps its own in memory (the unit tests' and the demo's backends).
    fn candidates(&self) -> Option<&dyn Candidates> {
        None
    }
    /// What every page shows above its body.
    fn notices(&self) -> Notices;
    /// The firmware's version, as every page and the console give it.
    fn version(&self) -> String;
    /// Persists what is in service (`lvsfw config save`); `Err` says why not.
    fn save(&self) -> Result<String, String>;
    /// Persists what is in service as a new revision saved by `who`.
    fn save_by(&self, who: &str) -> Result<String, String> {
        let _ = who;
        self.save()
    }
    /// The change waiting for its confirmation stays.
    fn confirm(&self, who: &str) -> Result<String, String> {
        let _ = who;
        Err("nothing to confirm here".into())
    }
    /// The saved revisions, as `config history` lists them.
    fn history(&self) -> Result<String, String> {
        Err("no configuration history here".into())
    }
    /// Revision `rev` against what runs, as `config diff REV` shows it.
    fn history_diff(&self, rev: u64) -> Result<String, String> {
        let _ = rev;
        Err("no configuration history here".into())
    }
    /// Revision `rev` back into service, as `config restore REV`.
    fn restore_revision(&self, rev: u64, who: &str) -> Result<Applied, String> {
        let _ = (rev, who);
        Err("no configuration history here".into())
    }
    /// Asks PID 1 to reboot.
    fn reboot(&self) -> Result<(), String>;
    /// `drain` (true) or its end: BGP withdraws every prefix, flows keep going. What it
    /// did, for the page.
    fn drain(&self, _on: bool, _who: &str) -> Result<String, String> {
        Err("this appliance runs no BGP".into())
    }
    /// The newest lines of the balancer's log, oldest first.
    fn log_lines(&self) -> Vec<String>;
    /// The newest errors and warnings, kept apart so that a flood of other lines
    /// cannot push them out; oldest first.
    fn log_problems(&self) -> Vec<String>;
    /// The audit trail (logins, changes, updates, reboots), oldest first: its own ring,
    /// kept across reboots, that no flood of other lines can push out.
    fn audit_lines(&self) -> Vec<String> {
        Vec::new()
    }
    /// The names the page may be reached by (a request's Host must be one of them).
    fn names(&self) -> Names;
    /// Why the page must stay closed whatever the password, if it must: the saved
    /// configuration could not be read at boot, so what runs is not the operator's.
    fn page_closed(&self) -> Option<String>;
    /// The certificate chain the page serves (PEM), and whether an operator installed it.
    fn certificate(&self) -> Result<(String, bool), String>;
    /// An operator's chain and key, checked by the box's clock, then served from the
    /// next connection on; `None`: the box's own again. What happened, or why not.
    fn install_certificate(&self, pair: Option<crate::certificate::Pair>)
        -> Result<String, String>;
    /// The last hour of traffic and transitions for the status page's charts; `None`
    /// where nothing keeps one.
    fn charts(&self) -> Option<std::sync::Arc<std::sync::Mutex<crate::history::History>>> {
        None
    }
    /// Starts writing an update into the slot that does not run (the same checks as the
    /// console's `update`: one at a time, signed by a trusted key, this board, not older
    /// unless `allow_downgrade`, never below the floor). `Err`: why not; nothing changed.
    fn begin_update(&self, allow_downgrade: bool) -> Result<Box<dyn UpdateSink>, String> {
        let _ = allow_downgrade;
        Err("this box takes no update here".into())
    }
}

/// An update being written as its bytes arrive. Dropped before [`UpdateSink::finish`]
/// (the upload broke off or was refused), it is abandoned: the slots and grubenv are
/// what they were.
pub trait UpdateSink: Send {
    /// The next bytes; `Err`: refused (the update is abandoned), and why.
    fn push(&mut self, bytes: &[u8]) -> Result<(), String>;
    /// The whole update arrived: verified and in place; what was installed, or why not.
    fn finish(self: Box<Self>) -> Result<String, String>;
}

/// The box's own names: its host name, its management addresses, and the DNS names of
/// the certificate it serves (an operator who installed one for `lb1.example.com`
/// reaches the page by that name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    pub hostname: String,
    pub addresses: Vec<IpAddr>,
    pub certificate: Vec<String>,
}

/// The status page and `/api/status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Status {
    pub version: String,
    pub hostname: String,
    /// Since the kernel started.
    pub uptime_s: u64,
    /// Since this balancer process started (PID 1 restarts it after a crash).
    pub balancer_uptime_s: u64,
    /// The balancer's resident memory.
    pub balancer_rss_kb: Option<u64>,
    /// What is configured but does not run now, and why; empty when everything runs.
    pub not_running: Vec<String>,
    pub vrrp: Vec<VrrpStatus>,
    /// Why there is no VRRP table, when there is none ("no vrrp_instance configured").
    pub vrrp_note: Option<String>,
    pub services: Vec<ServiceStatus>,
    /// Why there is no IPVS table ("IPVS is not available").
    pub ipvs_note: Option<String>,
    pub interfaces: Vec<InterfaceStatus>,
    /// The boot slots A and B (empty off a disk image).
    pub slots: Vec<SlotStatus>,
    /// Why there are no slots, or what is odd about them.
    pub slots_note: Option<String>,
    /// The clock and its NTP servers.
    pub time: TimeStatus,
    /// The BGP speaker, when the configuration has a `bgp` block.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bgp: Option<BgpStatus>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServiceStatus {
    /// As ipvsadm names it: `TCP 192.168.0.100:80`, `FWM 5`.
    pub name: String,
    pub scheduler: String,
    pub persistence_timeout: Option<u32>,
    pub stats: Counters,
    pub real_servers: Vec<RealServerStatus>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RealServerStatus {
    /// `192.168.33.11:80`
    pub address: String,
    /// `Masq`, `Route`, `Tunnel`, `Local`; empty when the kernel does not hold it.
    pub forward: String,
    /// The kernel's weight; `None` when the server is not in the kernel's table (down,
    /// without inhibit_on_failure).
    pub weight: Option<u32>,
    /// "up", "down" or "not checked".
    pub health: String,
    /// The check result that explains `health`, and when it came (milliseconds since
    /// the Unix epoch); none until a checker reported.
    pub last_check: Option<String>,
    pub last_check_ms: Option<u64>,
    pub active_conns: u32,
    pub inactive_conns: u32,
    pub stats: Counters,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct InterfaceStatus {
    pub name: String,
    /// The kernel's operstate: up, down, unknown.
    pub state: String,
    pub mac: String,
    pub mtu: Option<u32>,
    pub addresses: Vec<String>,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
}
