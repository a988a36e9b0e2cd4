//! IPVS: virtual servers, their groups and real servers, with keepalived's defaults.

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::check::Check;
use super::defaults;
use super::kept::Kept;
use crate::units::{opt_seconds, seconds};

fn is_false(b: &bool) -> bool {
    !*b
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
    /// NAT with the source rewritten to the box's own address ("full NAT", DPVS's
    /// `lb_kind FNAT`; keepalived has no such kind): replies come back to this box
    /// whatever the real server's gateway, and the real server does not see the client.
    Fnat,
}

impl LbKind {
    pub fn keyword(self) -> &'static str {
        match self {
            LbKind::Nat => "NAT",
            LbKind::Dr => "DR",
            LbKind::Tun => "TUN",
            LbKind::Fnat => "FNAT",
        }
    }

    pub fn from_keyword(word: &str) -> Option<LbKind> {
        [LbKind::Nat, LbKind::Dr, LbKind::Tun, LbKind::Fnat]
            .into_iter()
            .find(|k| k.keyword() == word)
    }
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

    /// keepalived reads `protocol` in any case (strcasecmp).
    pub fn from_keyword(word: &str) -> Option<Protocol> {
        [Protocol::Tcp, Protocol::Udp, Protocol::Sctp]
            .into_iter()
            .find(|p| p.keyword().eq_ignore_ascii_case(word))
    }
}

/// `ip_family inet|inet6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IpFamily {
    Inet,
    Inet6,
}

impl IpFamily {
    pub fn keyword(self) -> &'static str {
        match self {
            IpFamily::Inet => "inet",
            IpFamily::Inet6 => "inet6",
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

/// The IPVS service flags keepalived.conf names one keyword each (keepalived's
/// `lvs_flags`): `sh-port`/`sh-fallback` for the sh scheduler, `mh-port`/`mh-fallback`
/// for mh, `flag-1..3` raw, `ops` one-packet scheduling for UDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LbFlags {
    #[serde(skip_serializing_if = "is_false")]
    pub ops: bool,
    #[serde(rename = "flag-1", skip_serializing_if = "is_false")]
    pub flag_1: bool,
    #[serde(rename = "flag-2", skip_serializing_if = "is_false")]
    pub flag_2: bool,
    #[serde(rename = "flag-3", skip_serializing_if = "is_false")]
    pub flag_3: bool,
    #[serde(rename = "sh-port", skip_serializing_if = "is_false")]
    pub sh_port: bool,
    #[serde(rename = "sh-fallback", skip_serializing_if = "is_false")]
    pub sh_fallback: bool,
    #[serde(rename = "mh-port", skip_serializing_if = "is_false")]
    pub mh_port: bool,
    #[serde(rename = "mh-fallback", skip_serializing_if = "is_false")]
    pub mh_fallback: bool,
}

impl LbFlags {
    /// Each flag with its keyword, in keepalived's order.
    pub fn keywords(&self) -> [(&'static str, bool); 8] {
        [
            ("ops", self.ops),
            ("flag-1", self.flag_1),
            ("flag-2", self.flag_2),
            ("flag-3", self.flag_3),
            ("sh-port", self.sh_port),
            ("sh-fallback", self.sh_fallback),
            ("mh-port", self.mh_port),
            ("mh-fallback", self.mh_fallback),
        ]
    }

    pub fn set(&mut self, keyword: &str) -> bool {
        let flag = match keyword {
            "ops" => &mut self.ops,
            "flag-1" => &mut self.flag_1,
            "flag-2" => &mut self.flag_2,
            "flag-3" => &mut self.flag_3,
            "sh-port" => &mut self.sh_port,
            "sh-fallback" => &mut self.sh_fallback,
            "mh-port" => &mut self.mh_port,
            "mh-fallback" => &mut self.mh_fallback,
            _ => return false,
        };
        *flag = true;
        true
    }
}

/// keepalived.conf's defaults for the checks below a virtual or real server: a check's
/// own setting wins, then the real server's, then the virtual server's. The reader
/// applies them to each check it reads (so a check in JSON carries its own values); they
/// are kept here so that an export writes them where they were.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CheckDefaults {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry: Option<u32>,
    #[serde(with = "opt_seconds", skip_serializing_if = "Option::is_none")]
    pub delay_before_retry: Option<Duration>,
    #[serde(with = "opt_seconds", skip_serializing_if = "Option::is_none")]
    pub warmup: Option<Duration>,
    #[serde(with = "opt_seconds", skip_serializing_if = "Option::is_none")]
    pub connect_timeout: Option<Duration>,
}

impl CheckDefaults {
    pub fn is_empty(&self) -> bool {
        *self == CheckDefaults::default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RealServer {
    pub ip: IpAddr,
    /// 0 for a real server written without a port (fwmark and port-0 services).
    pub port: u16,
    #[serde(default = "defaults::weight")]
    pub weight: u32,
    /// The real server's own setting; the virtual server's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inhibit_on_failure: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<Check>,
    /// For the checks below: see [`CheckDefaults`].
    #[serde(default, skip_serializing_if = "CheckDefaults::is_empty")]
    pub check_defaults: CheckDefaults,
    /// The checks' delay_loop unless they set one.
    #[serde(default, with = "opt_seconds", skip_serializing_if = "Option::is_none")]
    pub delay_loop: Option<Duration>,
    /// The checks' alpha unless they set one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<bool>,
    /// The HTTP checks' Host unless they set one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtualhost: Option<String>,
    // Set in the kernel per real server (balancer::lvs::from_config).
    /// The real server's own forwarding method; the virtual server's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lvs_method: Option<LbKind>,
    /// The tunnel options of its own `lvs_method TUN ...`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<super::Tunnel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uthreshold: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lthreshold: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_alert: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub noted: Vec<Kept>,
}

impl RealServer {
    pub fn new(ip: IpAddr, port: u16) -> RealServer {
        RealServer {
            ip,
            port,
            weight: defaults::WEIGHT,
            inhibit_on_failure: None,
            checks: Vec::new(),
            check_defaults: CheckDefaults::default(),
            delay_loop: None,
            alpha: None,
            virtualhost: None,
            lvs_method: None,
            tunnel: None,
            uthreshold: None,
            lthreshold: None,
            smtp_alert: None,
            noted: Vec::new(),
        }
    }
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
    /// `lb_kind TUN type gue port 6080 ...`; absent: IPIP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<super::Tunnel>,
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
    /// `ip_family`: which family a fwmark or group service is (and what a real server
    /// must be); absent: the real servers' family.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_family: Option<IpFamily>,
    /// keepalived.conf's `weight` here: the weight of each real server read after it that
    /// sets none (the real servers carry it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
    /// For the checks below: see [`CheckDefaults`].
    #[serde(default, skip_serializing_if = "CheckDefaults::is_empty")]
    pub check_defaults: CheckDefaults,
    #[serde(default)]
    pub real_servers: Vec<RealServer>,
    // Set in the kernel per virtual service (balancer::lvs::from_config).
    #[serde(default, skip_serializing_if = "is_default_flags")]
    pub lvs_flags: LbFlags,
    /// `persistence_engine sip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistence_engine: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub sorry_server_inhibit: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sorry_server_lvs_method: Option<LbKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_alert: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub noted: Vec<Kept>,
}

fn is_default_flags(f: &LbFlags) -> bool {
    *f == LbFlags::default()
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
            tunnel: None,
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
            ip_family: None,
            weight: None,
            check_defaults: CheckDefaults::default(),
            real_servers: Vec::new(),
            lvs_flags: LbFlags::default(),
            persistence_engine: None,
            sorry_server_inhibit: false,
            sorry_server_lvs_method: None,
            smtp_alert: None,
            noted: Vec::new(),
        }
    }
}
