//! IPVS services and destinations as values, independent of the wire.

use std::fmt;
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

/// What identifies a virtual service in the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceKey {
    Addr {
        protocol: Protocol,
        addr: IpAddr,
        port: u16,
    },
    Fwmark {
        ipv6: bool,
        mark: u32,
    },
}

impl ServiceKey {
    pub fn is_ipv6(&self) -> bool {
        match self {
            ServiceKey::Addr { addr, .. } => addr.is_ipv6(),
            ServiceKey::Fwmark { ipv6, .. } => *ipv6,
        }
    }
}

impl fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceKey::Addr {
                protocol,
                addr: IpAddr::V6(a),
                port,
            } => {
                write!(f, "{} [{a}]:{port}", protocol.name())
            }
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            } => write!(f, "{} {addr}:{port}", protocol.name()),
            ServiceKey::Fwmark { ipv6, mark } => {
                write!(f, "FWM  {mark}{}", if *ipv6 { " IPv6" } else { "" })
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub key: ServiceKey,
    /// The kernel's scheduler module name without `ip_vs_`: rr, wrr, lc, wlc, sh, mh, ...
    pub scheduler: String,
    /// Seconds a client sticks to its real server; `None` is not persistent.
    pub persistence_timeout: Option<u32>,
    /// Persistence granularity as a prefix length (/32 or /128: each client on its own).
    pub persistence_prefix: u8,
    /// Schedule each packet, not each connection (UDP).
    pub one_packet: bool,
    /// The scheduler's own flags, IP_VS_SVC_F_SCHED1..3 as bits 0..2 (sh-fallback, sh-port, ...).
    pub sched_flags: u8,
    /// A persistence engine such as "sip".
    pub pe_name: Option<String>,
}

impl Service {
    /// A service with ipvsadm's defaults: not persistent, no flags.
    pub fn new(key: ServiceKey, scheduler: &str) -> Service {
        Service {
            key,
            scheduler: scheduler.to_string(),
            persistence_timeout: None,
            persistence_prefix: if key.is_ipv6() { 128 } else { 32 },
            one_packet: false,
            sched_flags: 0,
            pe_name: None,
        }
    }
}

/// How packets reach a real server (ipvsadm -m, -g, -i).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Forward {
    /// NAT: `Masq` in ipvsadm's listing.
    Masq,
    /// Direct routing: `Route`.
    Route,
    /// IP-in-IP: `Tunnel`.
    Tunnel,
    /// The director itself: `Local`.
    Local,
}

impl Forward {
    pub fn name(self) -> &'static str {
        match self {
            Forward::Masq => "Masq",
            Forward::Route => "Route",
            Forward::Tunnel => "Tunnel",
            Forward::Local => "Local",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub addr: IpAddr,
    pub port: u16,
    pub forward: Forward,
    pub weight: u32,
    /// Upper and lower connection thresholds; 0 means none.
    pub upper_threshold: u32,
    pub lower_threshold: u32,
    /// How a `Tunnel` destination encapsulates; the default for every other one.
    pub encap: Encap,
}

/// A tunnel's encapsulation (Linux 5.2/5.3: IPVS_DEST_ATTR_TUN_TYPE, _PORT, _FLAGS).
/// IPIP without options is the kernel's default and all an older kernel does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Encap {
    pub kind: EncapKind,
    /// GUE's UDP destination port; 0 for the others.
    pub port: u16,
    pub csum: EncapCsum,
}

/// IP_VS_CONN_F_TUNNEL_TYPE_*.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EncapKind {
    #[default]
    Ipip,
    Gue,
    Gre,
}

/// IP_VS_TUNNEL_ENCAP_FLAG_*.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EncapCsum {
    #[default]
    None,
    Csum,
    Remcsum,
}

impl Encap {
    /// As ipvsadm lists it after `Tunnel`: nothing for plain IPIP.
    pub fn describe(&self) -> String {
        match (self.kind, self.csum) {
            (EncapKind::Ipip, _) => String::new(),
            (EncapKind::Gue, csum) => format!(" gue port {}{}", self.port, csum.describe()),
            (EncapKind::Gre, csum) => format!(" gre{}", csum.describe()),
        }
    }
}

impl EncapCsum {
    fn describe(self) -> &'static str {
        match self {
            EncapCsum::None => "",
            EncapCsum::Csum => " csum",
            EncapCsum::Remcsum => " remcsum",
        }
    }
}

impl Destination {
    pub fn new(addr: IpAddr, port: u16, forward: Forward, weight: u32) -> Destination {
        Destination {
            addr,
            port,
            forward,
            weight,
            upper_threshold: 0,
            lower_threshold: 0,
            encap: Encap::default(),
        }
    }
}

/// Counters and rates, from the 64-bit statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub conns: u64,
    pub in_packets: u64,
    pub out_packets: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
    pub cps: u64,
    pub in_pps: u64,
    pub out_pps: u64,
    pub in_bps: u64,
    pub out_bps: u64,
}

impl From<Stats> for status::Counters {
    fn from(s: Stats) -> status::Counters {
        status::Counters {
            conns: s.conns,
            in_packets: s.in_packets,
            out_packets: s.out_packets,
            in_bytes: s.in_bytes,
            out_bytes: s.out_bytes,
            cps: s.cps,
            in_pps: s.in_pps,
            out_pps: s.out_pps,
            in_bps: s.in_bps,
            out_bps: s.out_bps,
        }
    }
}

/// A service as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceStatus {
    pub service: Service,
    pub stats: Stats,
}

/// A destination as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationStatus {
    pub destination: Destination,
    pub active_conns: u32,
    pub inactive_conns: u32,
    pub persistent_conns: u32,
    pub stats: Stats,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Info {
    /// 0x010201 is 1.2.1.
    pub version: u32,
    pub conn_table_size: u32,
}

impl Info {
    pub fn version_text(&self) -> String {
        format!(
            "{}.{}.{}",
            (self.version >> 16) & 0xff,
            (self.version >> 8) & 0xff,
            self.version & 0xff
        )
    }
}

/// Connection timeouts in seconds (ipvsadm --set); 0 leaves a value unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timeouts {
    pub tcp: u32,
    pub tcp_fin: u32,
    pub udp: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncState {
    Master,
    Backup,
}

/// The kernel's connection synchronisation daemon (ipvsadm --start-daemon).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncDaemon {
    pub state: SyncState,
    pub interface: String,
    pub sync_id: u32,
}
