//! The keepalived part of the configuration, with keepalived's defaults.
//!
//! In the native JSON each field is named by its keepalived keyword where there is one,
//! so that an operator reads the same words in both.

mod bgp;
mod check;
mod kept;
mod lvs;
mod route;
mod tunnel;
mod vrrp;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use bgp::*;
pub use check::*;
pub use kept::Kept;
pub use lvs::*;
pub use route::*;
pub use tunnel::{Tunnel, TunnelCsum, TunnelType};
pub use vrrp::*;

use crate::units::{opt_seconds, seconds};

/// Every list is bounded; the limits are generous (a keepalived.conf with tens of
/// thousands of real servers reads fine) and [`super::validate`] enforces them.
pub mod limits {
    pub const MAX_VRRP_INSTANCES: usize = 1_024;
    /// Per instance, in `virtual_ipaddress` and again in `virtual_ipaddress_excluded`.
    pub const MAX_VIPS: usize = 255;
    pub const MAX_TRACK_INTERFACES: usize = 32;
    pub const MAX_UNICAST_PEERS: usize = 255;
    pub const MAX_SYNC_GROUPS: usize = 255;
    pub const MAX_SYNC_GROUP_MEMBERS: usize = 255;
    pub const MAX_VIRTUAL_SERVER_GROUPS: usize = 1_024;
    pub const MAX_GROUP_ENTRIES: usize = 1_024;
    pub const MAX_VIRTUAL_SERVERS: usize = 10_000;
    pub const MAX_REAL_SERVERS_PER_VIRTUAL_SERVER: usize = 10_000;
    /// Real servers of all virtual servers together.
    pub const MAX_REAL_SERVERS: usize = 100_000;
    pub const MAX_CHECKS_PER_REAL_SERVER: usize = 8;
    pub const MAX_URLS_PER_CHECK: usize = 16;
    pub const MAX_VRRP_SCRIPTS: usize = 1_024;
    pub const MAX_TRACK_SCRIPTS: usize = 32;
    /// Per list: static_ipaddress, static_routes, static_rules, and an instance's
    /// virtual_routes and virtual_rules.
    pub const MAX_ROUTES: usize = 1_024;
    pub const MAX_NOTIFICATION_EMAILS: usize = 64;
    /// Statements kept word for word in one block, nested ones counted.
    pub const MAX_NOTED: usize = 1_024;
}

pub use limits::*;

/// keepalived's defaults, shared by the keepalived.conf reader and the JSON reader.
pub mod defaults {
    use std::time::Duration;

    pub const VRRP_VERSION: u8 = 2;
    pub const GARP_MASTER_DELAY: Duration = Duration::from_secs(5);
    pub const GARP_MASTER_REPEAT: u32 = 5;
    pub const PRIORITY: u8 = 100;
    pub const ADVERT_INT: Duration = Duration::from_secs(1);
    pub const DELAY_LOOP: Duration = Duration::from_secs(60);
    pub const LB_ALGO: &str = "wlc";
    /// `persistence_timeout` given without a value.
    pub const PERSISTENCE_TIMEOUT: u32 = 360;
    pub const QUORUM: u32 = 1;
    pub const WEIGHT: u32 = 1;
    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
    pub const RETRY: u32 = 1;
    pub const DELAY_BEFORE_RETRY_HTTP: Duration = Duration::from_secs(3);
    pub const DELAY_BEFORE_RETRY_TCP: Duration = Duration::from_secs(1);
    /// DNS_CHECK's own default `retry` (check_dns.h).
    pub const RETRY_DNS: u32 = 3;
    /// vrrp_script's `interval` (vrrp_track.h VRRP_SCRIPT_DI).
    pub const SCRIPT_INTERVAL: Duration = Duration::from_secs(1);
    /// `smtp_server` without a port.
    pub const SMTP_PORT: u16 = 25;
    /// `max_auto_priority` without a value: the highest SCHED_RR priority on Linux.
    pub const MAX_AUTO_PRIORITY: i32 = 99;

    // serde wants functions.
    pub fn vrrp_version() -> u8 {
        VRRP_VERSION
    }
    pub fn garp_master_delay() -> Duration {
        GARP_MASTER_DELAY
    }
    pub fn garp_master_repeat() -> u32 {
        GARP_MASTER_REPEAT
    }
    pub fn priority() -> u8 {
        PRIORITY
    }
    pub fn advert_int() -> Duration {
        ADVERT_INT
    }
    pub fn delay_loop() -> Duration {
        DELAY_LOOP
    }
    pub fn lb_algo() -> String {
        LB_ALGO.into()
    }
    pub fn quorum() -> u32 {
        QUORUM
    }
    pub fn weight() -> u32 {
        WEIGHT
    }
    pub fn connect_timeout() -> Duration {
        CONNECT_TIMEOUT
    }
    pub fn retry() -> u32 {
        RETRY
    }
    pub fn script_interval() -> Duration {
        SCRIPT_INTERVAL
    }
    pub fn one() -> u32 {
        1
    }
}

/// The schedulers IPVS has, as `lb_algo` names them.
pub const SCHEDULERS: &[&str] = &[
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GlobalDefs {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub router_id: Option<String>,
    /// `vrrp_version`, 2 unless set.
    pub vrrp_version: u8,
    #[serde(rename = "vrrp_garp_master_delay", with = "seconds")]
    pub garp_master_delay: Duration,
    #[serde(rename = "vrrp_garp_master_repeat")]
    pub garp_master_repeat: u32,
    #[serde(
        rename = "vrrp_garp_master_refresh",
        with = "opt_seconds",
        skip_serializing_if = "Option::is_none"
    )]
    pub garp_master_refresh: Option<Duration>,
    #[serde(rename = "vrrp_skip_check_adv_addr")]
    pub skip_check_adv_addr: bool,
    #[serde(rename = "vrrp_strict")]
    pub strict: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lvs_sync_daemon: Option<LvsSyncDaemon>,
    // From here on, KEYWORDS.md says which the appliance acts on yet (the VRRP ones
    // it does). Mail alerts: who gets them, through which server, and for what (an instance,
    // sync group, virtual or real server may say its own smtp_alert).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notification_email: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_email_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_server: Option<SmtpServer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_helo_name: Option<String>,
    #[serde(with = "opt_seconds", skip_serializing_if = "Option::is_none")]
    pub smtp_connect_timeout: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_alert: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_alert_vrrp: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_alert_checker: Option<bool>,
    #[serde(skip_serializing_if = "is_false")]
    pub no_email_faults: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub no_checker_emails: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lvs_timeouts: Option<LvsTimeouts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_auto_priority: Option<i32>,
    /// Microseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_auto_priority_delay: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrrp_mcast_group4: Option<Ipv4Addr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrrp_mcast_group6: Option<Ipv6Addr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrrp_garp_master_refresh_repeat: Option<u32>,
    #[serde(with = "opt_seconds", skip_serializing_if = "Option::is_none")]
    pub vrrp_garp_lower_prio_delay: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrrp_garp_lower_prio_repeat: Option<u32>,
    #[serde(with = "opt_seconds", skip_serializing_if = "Option::is_none")]
    pub vrrp_garp_interval: Option<Duration>,
    #[serde(with = "opt_seconds", skip_serializing_if = "Option::is_none")]
    pub vrrp_gna_interval: Option<Duration>,
    #[serde(skip_serializing_if = "is_false")]
    pub vrrp_min_garp: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub vrrp_lower_prio_no_advert: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub vrrp_higher_prio_send_advert: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub vrrp_check_unicast_src: bool,
    #[serde(with = "opt_seconds", skip_serializing_if = "Option::is_none")]
    pub vrrp_startup_delay: Option<Duration>,
    #[serde(with = "opt_seconds", skip_serializing_if = "Option::is_none")]
    pub vrrp_delay_after_boot: Option<Duration>,
    #[serde(skip_serializing_if = "is_false")]
    pub v3_checksum_as_v2: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub vrrp_owner_ignore_adverts: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub checker_log_all_failures: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrrp_down_timer_adverts: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub noted: Vec<Kept>,
}

impl Default for GlobalDefs {
    fn default() -> Self {
        GlobalDefs {
            router_id: None,
            vrrp_version: defaults::VRRP_VERSION,
            garp_master_delay: defaults::GARP_MASTER_DELAY,
            garp_master_repeat: defaults::GARP_MASTER_REPEAT,
            garp_master_refresh: None,
            skip_check_adv_addr: false,
            strict: false,
            lvs_sync_daemon: None,
            notification_email: Vec::new(),
            notification_email_from: None,
            smtp_server: None,
            smtp_helo_name: None,
            smtp_connect_timeout: None,
            smtp_alert: None,
            smtp_alert_vrrp: None,
            smtp_alert_checker: None,
            no_email_faults: false,
            no_checker_emails: false,
            lvs_timeouts: None,
            max_auto_priority: None,
            min_auto_priority_delay: None,
            vrrp_mcast_group4: None,
            vrrp_mcast_group6: None,
            vrrp_garp_master_refresh_repeat: None,
            vrrp_garp_lower_prio_delay: None,
            vrrp_garp_lower_prio_repeat: None,
            vrrp_garp_interval: None,
            vrrp_gna_interval: None,
            vrrp_min_garp: false,
            vrrp_lower_prio_no_advert: false,
            vrrp_higher_prio_send_advert: false,
            vrrp_check_unicast_src: false,
            vrrp_startup_delay: None,
            vrrp_delay_after_boot: None,
            v3_checksum_as_v2: false,
            vrrp_owner_ignore_adverts: false,
            checker_log_all_failures: false,
            vrrp_down_timer_adverts: None,
            noted: Vec::new(),
        }
    }
}

/// `lvs_sync_daemon INTERFACE VRRP_INSTANCE [id N]`: IPVS connection sync follows the
/// instance's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LvsSyncDaemon {
    pub interface: String,
    pub vrrp_instance: String,
    /// The sync id; absent, the instance's virtual_router_id (as keepalived does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u8>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// `smtp_server HOST [PORT]`; HOST an address or a name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpServer {
    pub host: String,
    #[serde(default = "smtp_port")]
    pub port: u16,
}

fn smtp_port() -> u16 {
    defaults::SMTP_PORT
}

/// `lvs_timeouts [tcp N] [tcpfin N] [udp N]`: IPVS's connection timeouts in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LvsTimeouts {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcpfin: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub udp: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Keepalived {
    #[serde(rename = "global_defs")]
    pub global: GlobalDefs,
    pub vrrp_instances: Vec<VrrpInstance>,
    #[serde(rename = "vrrp_sync_groups")]
    pub sync_groups: Vec<SyncGroup>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vrrp_scripts: Vec<VrrpScript>,
    pub virtual_server_groups: Vec<VirtualServerGroup>,
    pub virtual_servers: Vec<VirtualServer>,
    // Installed at start and kept, whatever the VRRP state.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub static_ipaddress: Vec<StaticAddress>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub static_routes: Vec<IpRoute>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub static_rules: Vec<IpRule>,
    /// Noted top-level blocks (vrrp_track_process, track_file, SSL, ...), word for word.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub noted: Vec<Kept>,
    /// lvsfw's own: the VIPs announced to routers by BGP while this box can serve them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bgp: Option<Bgp>,
}

impl Keepalived {
    /// The vrrp_scripts with a native check that `tracks` (an instance's or a sync
    /// group's track_script) names, with the weight and direction that apply: what the
    /// VRRP task runs and how each moves the priority (see [`Tracked::effect`] and
    /// [`effective_priority`]). A script without a check (a shell `script`, never run)
    /// is left out.
    pub fn tracked_scripts<'a>(&'a self, tracks: &'a [TrackScript]) -> Vec<Tracked<'a>> {
        tracks
            .iter()
            .filter_map(|t| {
                let script = self.vrrp_scripts.iter().find(|s| s.name == t.name)?;
                script.check.as_ref()?;
                Some(Tracked {
                    script,
                    weight: t.weight.unwrap_or(script.weight),
                    reverse: t.reverse.unwrap_or(script.reverse),
                })
            })
            .collect()
    }
}
