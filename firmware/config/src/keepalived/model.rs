//! The keepalived part of the configuration, with keepalived's defaults.

use std::net::IpAddr;
use std::time::Duration;

use crate::IpPrefix;

/// Lists are bounded; these are generous (a keepalived.conf with thousands of real
/// servers reads fine).
pub const MAX_VRRP_INSTANCES: usize = 255;
pub const MAX_VIPS: usize = 255;
pub const MAX_VIRTUAL_SERVERS: usize = 10_000;
pub const MAX_REAL_SERVERS: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalDefs {
    pub router_id: Option<String>,
    /// `vrrp_version`, 2 unless set.
    pub vrrp_version: u8,
    pub garp_master_delay: Duration,
    pub garp_master_repeat: u32,
    pub garp_master_refresh: Option<Duration>,
    pub skip_check_adv_addr: bool,
    pub strict: bool,
    /// `lvs_sync_daemon INTERFACE VRRP_INSTANCE [id N]`.
    pub lvs_sync_daemon: Option<(String, String, u32)>,
}

impl Default for GlobalDefs {
    fn default() -> Self {
        GlobalDefs {
            router_id: None,
            vrrp_version: 2,
            garp_master_delay: Duration::from_secs(5),
            garp_master_repeat: 5,
            garp_master_refresh: None,
            skip_check_adv_addr: false,
            strict: false,
            lvs_sync_daemon: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitialState {
    Master,
    Backup,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthType {
    Pass,
    Ah,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vip {
    pub prefix: IpPrefix,
    /// `dev IF`; the instance's interface when absent.
    pub dev: Option<String>,
    pub label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrrpInstance {
    pub name: String,
    pub state: InitialState,
    pub interface: String,
    pub vrid: u8,
    pub priority: u8,
    pub advert_int: Duration,
    /// `version` of the instance; the global `vrrp_version` when absent.
    pub version: Option<u8>,
    pub auth: Option<(AuthType, String)>,
    pub vips: Vec<Vip>,
    pub excluded_vips: Vec<Vip>,
    pub nopreempt: bool,
    pub preempt_delay: Duration,
    pub track_interfaces: Vec<String>,
    pub unicast_src_ip: Option<IpAddr>,
    pub unicast_peers: Vec<IpAddr>,
    pub garp_master_delay: Option<Duration>,
    pub garp_master_repeat: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroup {
    pub name: String,
    pub members: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LbKind {
    Nat,
    Dr,
    Tun,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VsKey {
    Addr(IpAddr, u16),
    Fwmark(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckKind {
    HttpGet,
    SslGet,
    Tcp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlCheck {
    pub path: String,
    pub status_code: Option<u16>,
    /// MD5 of the body, 32 hex digits.
    pub digest: Option<[u8; 16]>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub kind: CheckKind,
    pub urls: Vec<UrlCheck>,
    pub connect_ip: Option<IpAddr>,
    pub connect_port: Option<u16>,
    pub bindto: Option<IpAddr>,
    /// keepalived's default: 5 s.
    pub connect_timeout: Duration,
    /// `retry` (old name `nb_get_retry`); keepalived's default 1.
    pub retry: u32,
    /// keepalived's default: 3 s for HTTP_GET and SSL_GET, 1 s for TCP_CHECK.
    pub delay_before_retry: Duration,
    pub warmup: Option<Duration>,
    pub virtualhost: Option<String>,
    /// The checker's own `delay_loop`; the virtual server's when absent.
    pub delay_loop: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealServer {
    pub addr: IpAddr,
    pub port: u16,
    pub weight: u32,
    /// The real server's own setting; the virtual server's when absent.
    pub inhibit_on_failure: Option<bool>,
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualServer {
    pub key: VsKey,
    pub delay_loop: Duration,
    pub lb_algo: String,
    pub lb_kind: LbKind,
    pub protocol: Protocol,
    pub persistence_timeout: Option<u32>,
    /// A netmask (IPv4) or prefix length.
    pub persistence_granularity: Option<u8>,
    pub sorry_server: Option<(IpAddr, u16)>,
    pub quorum: u32,
    pub hysteresis: u32,
    pub alpha: bool,
    pub omega: bool,
    pub inhibit_on_failure: bool,
    pub ha_suspend: bool,
    pub virtualhost: Option<String>,
    pub real_servers: Vec<RealServer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Keepalived {
    pub global: GlobalDefs,
    pub vrrp_instances: Vec<VrrpInstance>,
    pub sync_groups: Vec<SyncGroup>,
    pub virtual_servers: Vec<VirtualServer>,
}
