//! The keepalived part of the configuration, with keepalived's defaults.
//!
//! In the native JSON each field is named by its keepalived keyword where there is one,
//! so that an operator reads the same words in both.

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::units::{opt_digest, opt_seconds, seconds};
use crate::IpPrefix;

/// Every list is bounded; the limits are generous (a keepalived.conf with tens of
/// thousands of real servers reads fine) and [`super::validate`] enforces them.
pub mod limits {
    pub const MAX_VRRP_INSTANCES: usize = 1_024;
    /// Per instance, in `virtual_ipaddress` and again in `virtual_ipaddress_excluded`.
    pub const MAX_VIPS: usize = 255;
    pub const MAX_TRACK_INTERFACES: usize = 32;
    pub const MAX_UNICAST_PEERS: usize = 255;
    pub const MAX_NOTIFY_SCRIPTS: usize = 16;
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum InitialState {
    Master,
    Backup,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AuthType {
    Pass,
    Ah,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authentication {
    pub auth_type: AuthType,
    /// At most 8 characters, as keepalived uses them (RFC 3768 §5.3.10).
    pub auth_pass: String,
}

/// One line of `virtual_ipaddress`: `ADDR[/LEN] [brd ADDR] [dev IF] [label L] [scope S]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vip {
    pub address: IpPrefix,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brd: Option<IpAddr>,
    /// `dev IF`; the instance's interface when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// When a `notify*` script would run. Accepted and kept (so that an export gives it back
/// to keepalived), never run: the appliance has no shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyEvent {
    /// `notify`: every state change.
    Notify,
    NotifyMaster,
    NotifyBackup,
    NotifyFault,
    NotifyStop,
    NotifyDeleted,
    NotifyMasterRxLowerPri,
}

impl NotifyEvent {
    pub const ALL: [NotifyEvent; 7] = [
        NotifyEvent::Notify,
        NotifyEvent::NotifyMaster,
        NotifyEvent::NotifyBackup,
        NotifyEvent::NotifyFault,
        NotifyEvent::NotifyStop,
        NotifyEvent::NotifyDeleted,
        NotifyEvent::NotifyMasterRxLowerPri,
    ];

    pub fn keyword(self) -> &'static str {
        match self {
            NotifyEvent::Notify => "notify",
            NotifyEvent::NotifyMaster => "notify_master",
            NotifyEvent::NotifyBackup => "notify_backup",
            NotifyEvent::NotifyFault => "notify_fault",
            NotifyEvent::NotifyStop => "notify_stop",
            NotifyEvent::NotifyDeleted => "notify_deleted",
            NotifyEvent::NotifyMasterRxLowerPri => "notify_master_rx_lower_pri",
        }
    }

    pub fn from_keyword(word: &str) -> Option<NotifyEvent> {
        NotifyEvent::ALL.into_iter().find(|e| e.keyword() == word)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyScript {
    pub event: NotifyEvent,
    /// The command line as written, words joined by one space.
    pub command: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VrrpInstance {
    pub name: String,
    #[serde(default = "backup")]
    pub state: InitialState,
    pub interface: String,
    #[serde(rename = "virtual_router_id")]
    pub vrid: u8,
    #[serde(default = "defaults::priority")]
    pub priority: u8,
    #[serde(default = "defaults::advert_int", with = "seconds")]
    pub advert_int: Duration,
    /// `version` of the instance; the global `vrrp_version` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u8>,
    #[serde(
        default,
        rename = "authentication",
        skip_serializing_if = "Option::is_none"
    )]
    pub auth: Option<Authentication>,
    #[serde(default, rename = "virtual_ipaddress")]
    pub vips: Vec<Vip>,
    #[serde(
        default,
        rename = "virtual_ipaddress_excluded",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub excluded_vips: Vec<Vip>,
    #[serde(default)]
    pub nopreempt: bool,
    #[serde(default, with = "seconds")]
    pub preempt_delay: Duration,
    #[serde(
        default,
        rename = "track_interface",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub track_interfaces: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unicast_src_ip: Option<IpAddr>,
    #[serde(
        default,
        rename = "unicast_peer",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub unicast_peers: Vec<IpAddr>,
    /// The instance's own; the global `vrrp_garp_master_*` when absent.
    #[serde(default, with = "opt_seconds", skip_serializing_if = "Option::is_none")]
    pub garp_master_delay: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub garp_master_repeat: Option<u32>,
    #[serde(default, with = "opt_seconds", skip_serializing_if = "Option::is_none")]
    pub garp_master_refresh: Option<Duration>,
    /// `accept` / `no_accept`; absent: keepalived's default (accept unless strict).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept: Option<bool>,
    /// `strict_mode`; the global `vrrp_strict` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict_mode: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<NotifyScript>,
}

fn backup() -> InitialState {
    InitialState::Backup
}

impl VrrpInstance {
    /// An instance with keepalived's defaults; `virtual_router_id` 0 stands for "not set".
    pub fn new(name: &str) -> VrrpInstance {
        VrrpInstance {
            name: name.into(),
            state: InitialState::Backup,
            interface: String::new(),
            vrid: 0,
            priority: defaults::PRIORITY,
            advert_int: defaults::ADVERT_INT,
            version: None,
            auth: None,
            vips: Vec::new(),
            excluded_vips: Vec::new(),
            nopreempt: false,
            preempt_delay: Duration::ZERO,
            track_interfaces: Vec::new(),
            unicast_src_ip: None,
            unicast_peers: Vec::new(),
            garp_master_delay: None,
            garp_master_repeat: None,
            garp_master_refresh: None,
            accept: None,
            strict_mode: None,
            notify: Vec::new(),
        }
    }

    /// The VRRP version the instance speaks: its own, else the global one.
    pub fn effective_version(&self, global: &GlobalDefs) -> u8 {
        self.version.unwrap_or(global.vrrp_version)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncGroup {
    pub name: String,
    /// The `group { ... }` block: names of vrrp_instances.
    #[serde(rename = "group")]
    pub members: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<NotifyScript>,
}

/// One line of a `virtual_server_group`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum GroupEntry {
    /// `IP PORT`, or `IP-LAST PORT` for a range in which only the last byte (IPv4) or the
    /// last 16-bit group (IPv6) counts up to `last`. A single address has `first == last`.
    Range {
        first: IpAddr,
        last: IpAddr,
        port: u16,
    },
    /// `fwmark N`.
    Fwmark(u32),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VirtualServerGroup {
    pub name: String,
    pub entries: Vec<GroupEntry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LbKind {
    Nat,
    Dr,
    Tun,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub fn keyword(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

impl LbKind {
    pub fn keyword(self) -> &'static str {
        match self {
            LbKind::Nat => "NAT",
            LbKind::Dr => "DR",
            LbKind::Tun => "TUN",
        }
    }
}

impl InitialState {
    pub fn keyword(self) -> &'static str {
        match self {
            InitialState::Master => "MASTER",
            InitialState::Backup => "BACKUP",
        }
    }
}

impl AuthType {
    pub fn keyword(self) -> &'static str {
        match self {
            AuthType::Pass => "PASS",
            AuthType::Ah => "AH",
        }
    }
}

/// What the virtual server is: `virtual_server IP PORT`, `fwmark N` or `group NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum VsKey {
    Addr { ip: IpAddr, port: u16 },
    Fwmark(u32),
    Group(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckKind {
    #[serde(rename = "HTTP_GET")]
    HttpGet,
    #[serde(rename = "SSL_GET")]
    SslGet,
    #[serde(rename = "TCP_CHECK")]
    Tcp,
}

impl CheckKind {
    pub fn keyword(self) -> &'static str {
        match self {
            CheckKind::HttpGet => "HTTP_GET",
            CheckKind::SslGet => "SSL_GET",
            CheckKind::Tcp => "TCP_CHECK",
        }
    }

    /// keepalived's `delay_before_retry` when none is given.
    pub fn default_delay_before_retry(self) -> Duration {
        match self {
            CheckKind::Tcp => defaults::DELAY_BEFORE_RETRY_TCP,
            _ => defaults::DELAY_BEFORE_RETRY_HTTP,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlCheck {
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// MD5 of the body, 32 hex digits.
    #[serde(default, with = "opt_digest", skip_serializing_if = "Option::is_none")]
    pub digest: Option<[u8; 16]>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "super::json::RawCheck")]
pub struct Check {
    pub kind: CheckKind,
    #[serde(rename = "url", skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<UrlCheck>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_ip: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bindto: Option<IpAddr>,
    /// keepalived's default: 5 s.
    #[serde(with = "seconds")]
    pub connect_timeout: Duration,
    /// `retry` (old name `nb_get_retry`); keepalived's default 1.
    pub retry: u32,
    /// keepalived's default: 3 s for HTTP_GET and SSL_GET, 1 s for TCP_CHECK.
    #[serde(with = "seconds")]
    pub delay_before_retry: Duration,
    #[serde(with = "opt_seconds", skip_serializing_if = "Option::is_none")]
    pub warmup: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub virtualhost: Option<String>,
    /// The checker's own `delay_loop`; the virtual server's when absent.
    #[serde(with = "opt_seconds", skip_serializing_if = "Option::is_none")]
    pub delay_loop: Option<Duration>,
}

impl Check {
    /// A check of `kind` with keepalived's defaults.
    pub fn new(kind: CheckKind) -> Check {
        Check {
            kind,
            urls: Vec::new(),
            connect_ip: None,
            connect_port: None,
            bindto: None,
            connect_timeout: defaults::CONNECT_TIMEOUT,
            retry: defaults::RETRY,
            delay_before_retry: kind.default_delay_before_retry(),
            warmup: None,
            virtualhost: None,
            delay_loop: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RealServer {
    pub ip: IpAddr,
    pub port: u16,
    #[serde(default = "defaults::weight")]
    pub weight: u32,
    /// The real server's own setting; the virtual server's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inhibit_on_failure: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VirtualServer {
    pub key: VsKey,
    #[serde(default = "defaults::delay_loop", with = "seconds")]
    pub delay_loop: Duration,
    #[serde(default = "defaults::lb_algo")]
    pub lb_algo: String,
    #[serde(default = "nat")]
    pub lb_kind: LbKind,
    /// keepalived (2.2) takes UDP when a virtual server by address names no protocol.
    #[serde(default = "udp")]
    pub protocol: Protocol,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistence_timeout: Option<u32>,
    /// A prefix length (keepalived.conf also takes an IPv4 netmask).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistence_granularity: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sorry_server: Option<(IpAddr, u16)>,
    #[serde(default = "defaults::quorum")]
    pub quorum: u32,
    #[serde(default)]
    pub hysteresis: u32,
    #[serde(default)]
    pub alpha: bool,
    #[serde(default)]
    pub omega: bool,
    #[serde(default)]
    pub inhibit_on_failure: bool,
    #[serde(default)]
    pub ha_suspend: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtualhost: Option<String>,
    #[serde(default)]
    pub real_servers: Vec<RealServer>,
}

fn nat() -> LbKind {
    LbKind::Nat
}

fn udp() -> Protocol {
    Protocol::Udp
}

impl VirtualServer {
    /// A virtual server with keepalived's defaults.
    pub fn new(key: VsKey) -> VirtualServer {
        VirtualServer {
            key,
            delay_loop: defaults::DELAY_LOOP,
            lb_algo: defaults::LB_ALGO.into(),
            lb_kind: LbKind::Nat,
            protocol: Protocol::Udp,
            persistence_timeout: None,
            persistence_granularity: None,
            sorry_server: None,
            quorum: defaults::QUORUM,
            hysteresis: 0,
            alpha: false,
            omega: false,
            inhibit_on_failure: false,
            ha_suspend: false,
            virtualhost: None,
            real_servers: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Keepalived {
    #[serde(rename = "global_defs")]
    pub global: GlobalDefs,
    pub vrrp_instances: Vec<VrrpInstance>,
    #[serde(rename = "vrrp_sync_groups")]
    pub sync_groups: Vec<SyncGroup>,
    pub virtual_server_groups: Vec<VirtualServerGroup>,
    pub virtual_servers: Vec<VirtualServer>,
}
