//! IPVS requests and replies as generic-netlink payloads, both ways. No I/O.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_core::{DecodeError, Emitable, ParseableParametrized};
use netlink_packet_generic::{GenlFamily, GenlHeader};

use crate::attr::{self, Attr, Value};
use crate::constants::*;
use crate::model::*;

/// One IPVS generic-netlink payload: a command and its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpvsMessage {
    pub cmd: u8,
    /// What a request carries.
    pub attrs: Vec<Attr>,
    /// What a reply carried, undecoded: the decoders below read it.
    pub raw: Vec<u8>,
}

impl IpvsMessage {
    fn request(cmd: u8, attrs: Vec<Attr>) -> IpvsMessage {
        IpvsMessage {
            cmd,
            attrs,
            raw: Vec::new(),
        }
    }
}

impl GenlFamily for IpvsMessage {
    fn family_name() -> &'static str {
        FAMILY_NAME
    }

    fn command(&self) -> u8 {
        self.cmd
    }

    fn version(&self) -> u8 {
        GENL_VERSION
    }
}

impl Emitable for IpvsMessage {
    fn buffer_len(&self) -> usize {
        self.attrs.as_slice().buffer_len()
    }

    fn emit(&self, buffer: &mut [u8]) {
        self.attrs.as_slice().emit(buffer)
    }
}

impl ParseableParametrized<[u8], GenlHeader> for IpvsMessage {
    fn parse_with_param(buf: &[u8], header: GenlHeader) -> Result<Self, DecodeError> {
        Ok(IpvsMessage {
            cmd: header.cmd,
            attrs: Vec::new(),
            raw: buf.to_vec(),
        })
    }
}

// ---- requests ----------------------------------------------------------------------

pub fn new_service(service: &Service) -> IpvsMessage {
    IpvsMessage::request(cmd::NEW_SERVICE, vec![service_attr(service)])
}

/// Changes a service's scheduler, persistence or flags in place.
pub fn set_service(service: &Service) -> IpvsMessage {
    IpvsMessage::request(cmd::SET_SERVICE, vec![service_attr(service)])
}

pub fn del_service(key: &ServiceKey) -> IpvsMessage {
    IpvsMessage::request(cmd::DEL_SERVICE, vec![key_attr(key)])
}

/// With NLM_F_DUMP: every service.
pub fn get_services() -> IpvsMessage {
    IpvsMessage::request(cmd::GET_SERVICE, vec![])
}

pub fn new_dest(key: &ServiceKey, dest: &Destination) -> IpvsMessage {
    IpvsMessage::request(cmd::NEW_DEST, vec![key_attr(key), dest_attr(dest, true)])
}

/// Changes a destination's weight, thresholds or method in place: its connections stay.
pub fn set_dest(key: &ServiceKey, dest: &Destination) -> IpvsMessage {
    IpvsMessage::request(cmd::SET_DEST, vec![key_attr(key), dest_attr(dest, true)])
}

pub fn del_dest(key: &ServiceKey, addr: IpAddr, port: u16) -> IpvsMessage {
    let dest = Destination::new(addr, port, Forward::Masq, 0);
    IpvsMessage::request(cmd::DEL_DEST, vec![key_attr(key), dest_attr(&dest, false)])
}

/// With NLM_F_DUMP: the destinations of one service.
pub fn get_dests(key: &ServiceKey) -> IpvsMessage {
    IpvsMessage::request(cmd::GET_DEST, vec![key_attr(key)])
}

pub fn get_info() -> IpvsMessage {
    IpvsMessage::request(cmd::GET_INFO, vec![])
}

pub fn get_config() -> IpvsMessage {
    IpvsMessage::request(cmd::GET_CONFIG, vec![])
}

pub fn set_config(timeouts: &Timeouts) -> IpvsMessage {
    IpvsMessage::request(
        cmd::SET_CONFIG,
        vec![
            Attr::new(top::TIMEOUT_TCP, Value::U32(timeouts.tcp)),
            Attr::new(top::TIMEOUT_TCP_FIN, Value::U32(timeouts.tcp_fin)),
            Attr::new(top::TIMEOUT_UDP, Value::U32(timeouts.udp)),
        ],
    )
}

/// Removes every service and destination.
pub fn flush() -> IpvsMessage {
    IpvsMessage::request(cmd::FLUSH, vec![])
}

/// Zeroes the counters of every service.
pub fn zero() -> IpvsMessage {
    IpvsMessage::request(cmd::ZERO, vec![])
}

pub fn new_daemon(daemon: &SyncDaemon) -> IpvsMessage {
    let attrs = vec![
        Attr::new(daemon::STATE, Value::U32(state_code(daemon.state))),
        Attr::new(daemon::MCAST_IFN, Value::Str(daemon.interface.clone())),
        Attr::new(daemon::SYNC_ID, Value::U32(daemon.sync_id)),
    ];
    IpvsMessage::request(
        cmd::NEW_DAEMON,
        vec![Attr::new(top::DAEMON, Value::Nested(attrs))],
    )
}

pub fn del_daemon(state: SyncState) -> IpvsMessage {
    let attrs = vec![Attr::new(daemon::STATE, Value::U32(state_code(state)))];
    IpvsMessage::request(
        cmd::DEL_DAEMON,
        vec![Attr::new(top::DAEMON, Value::Nested(attrs))],
    )
}

/// With NLM_F_DUMP: the running sync daemons.
pub fn get_daemons() -> IpvsMessage {
    IpvsMessage::request(cmd::GET_DAEMON, vec![])
}

fn state_code(state: SyncState) -> u32 {
    match state {
        SyncState::Master => 1,
        SyncState::Backup => 2,
    }
}

fn family(ipv6: bool) -> u16 {
    if ipv6 {
        AF_INET6
    } else {
        AF_INET
    }
}

fn protocol_code(p: Protocol) -> u16 {
    match p {
        Protocol::Tcp => IPPROTO_TCP,
        Protocol::Udp => IPPROTO_UDP,
        Protocol::Sctp => IPPROTO_SCTP,
    }
}

/// union nf_inet_addr: 16 bytes whatever the family, as ipvsadm sends it.
fn address_bytes(addr: IpAddr) -> Vec<u8> {
    match addr {
        IpAddr::V4(a) => {
            let mut b = a.octets().to_vec();
            b.resize(16, 0);
            b
        }
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

fn key_attrs(key: &ServiceKey) -> Vec<Attr> {
    match key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => vec![
            Attr::new(svc::AF, Value::U16(family(addr.is_ipv6()))),
            Attr::new(svc::PROTOCOL, Value::U16(protocol_code(*protocol))),
            Attr::new(svc::ADDR, Value::Bytes(address_bytes(*addr))),
            Attr::new(svc::PORT, Value::Be16(*port)),
        ],
        ServiceKey::Fwmark { ipv6, mark } => vec![
            Attr::new(svc::AF, Value::U16(family(*ipv6))),
            Attr::new(svc::FWMARK, Value::U32(*mark)),
        ],
    }
}

fn key_attr(key: &ServiceKey) -> Attr {
    Attr::new(top::SERVICE, Value::Nested(key_attrs(key)))
}

fn service_flags(service: &Service) -> u32 {
    let mut flags = u32::from(service.sched_flags & 0x7) << 3;
    if service.persistence_timeout.is_some() {
        flags |= SVC_F_PERSISTENT;
    }
    if service.one_packet {
        flags |= SVC_F_ONEPACKET;
    }
    flags
}

/// The kernel wants scheduler, flags, timeout and netmask on every add or edit.
fn service_attr(service: &Service) -> Attr {
    let mut attrs = key_attrs(&service.key);
    let mut flags = service_flags(service).to_ne_bytes().to_vec();
    flags.extend(u32::MAX.to_ne_bytes()); // mask: every flag is as given
    attrs.push(Attr::new(
        svc::SCHED_NAME,
        Value::Str(service.scheduler.clone()),
    ));
    attrs.push(Attr::new(svc::FLAGS, Value::Bytes(flags)));
    attrs.push(Attr::new(
        svc::TIMEOUT,
        Value::U32(service.persistence_timeout.unwrap_or(0)),
    ));
    // An IPv4 netmask is a be32 mask; for IPv6 the kernel takes the prefix length itself.
    let netmask = if service.key.is_ipv6() {
        Value::U32(u32::from(service.persistence_prefix))
    } else {
        Value::Be32(prefix_to_mask(service.persistence_prefix))
    };
    attrs.push(Attr::new(svc::NETMASK, netmask));
    if let Some(pe) = &service.pe_name {
        attrs.push(Attr::new(svc::PE_NAME, Value::Str(pe.clone())));
    }
    Attr::new(top::SERVICE, Value::Nested(attrs))
}

fn prefix_to_mask(len: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(len.min(32)))
        .unwrap_or(0)
}

fn dest_attr(dest: &Destination, full: bool) -> Attr {
    let mut attrs = vec![
        Attr::new(dest::ADDR, Value::Bytes(address_bytes(dest.addr))),
        Attr::new(dest::PORT, Value::Be16(dest.port)),
        Attr::new(dest::ADDR_FAMILY, Value::U16(family(dest.addr.is_ipv6()))),
    ];
    if full {
        let method = match dest.forward {
            Forward::Masq => FWD_MASQ,
            Forward::Local => FWD_LOCALNODE,
            Forward::Tunnel => FWD_TUNNEL,
            Forward::Route => FWD_DROUTE,
        };
        attrs.push(Attr::new(dest::FWD_METHOD, Value::U32(method)));
        attrs.push(Attr::new(dest::WEIGHT, Value::U32(dest.weight)));
        attrs.push(Attr::new(dest::U_THRESH, Value::U32(dest.upper_threshold)));
        attrs.push(Attr::new(dest::L_THRESH, Value::U32(dest.lower_threshold)));
        // Only when asked: a kernel before 5.2 refuses attributes it does not know.
        if dest.forward == Forward::Tunnel && dest.encap != Encap::default() {
            let (kind, flags) = encap_words(&dest.encap);
            attrs.push(Attr::new(dest::TUN_TYPE, Value::U8(kind)));
            attrs.push(Attr::new(dest::TUN_PORT, Value::Be16(dest.encap.port)));
            attrs.push(Attr::new(dest::TUN_FLAGS, Value::U16(flags)));
        }
    }
    Attr::new(top::DEST, Value::Nested(attrs))
}

fn encap_words(encap: &Encap) -> (u8, u16) {
    let kind = match encap.kind {
        EncapKind::Ipip => tunnel::TYPE_IPIP,
        EncapKind::Gue => tunnel::TYPE_GUE,
        EncapKind::Gre => tunnel::TYPE_GRE,
    };
    let flags = match encap.csum {
        EncapCsum::None => 0,
        EncapCsum::Csum => tunnel::FLAG_CSUM,
        EncapCsum::Remcsum => tunnel::FLAG_REMCSUM,
    };
    (kind, flags)
}

// ---- replies -----------------------------------------------------------------------

fn nested(raw: &[u8], kind: u16, what: &str) -> Result<Vec<u8>, DecodeError> {
    for a in attr::iter(raw) {
        let (k, v) = a?;
        if k == kind {
            return Ok(v.to_vec());
        }
    }
    Err(DecodeError::from(format!(
        "reply without its {what} attribute"
    )))
}

fn address_of(bytes: &[u8], ipv6: bool, what: &str) -> Result<IpAddr, DecodeError> {
    if ipv6 {
        let b: [u8; 16] = bytes
            .get(..16)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| DecodeError::from(format!("{what}: short IPv6 address")))?;
        Ok(IpAddr::V6(Ipv6Addr::from(b)))
    } else {
        let b: [u8; 4] = bytes
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| DecodeError::from(format!("{what}: short IPv4 address")))?;
        Ok(IpAddr::V4(Ipv4Addr::from(b)))
    }
}

fn decode_stats(raw: &[u8], wide: bool) -> Result<Stats, DecodeError> {
    let mut s = Stats::default();
    for a in attr::iter(raw) {
        let (kind, v) = a?;
        let n = if wide || kind == stats::INBYTES || kind == stats::OUTBYTES {
            attr::u64_of(v, "statistic")?
        } else {
            u64::from(attr::u32_of(v, "statistic")?)
        };
        match kind {
            stats::CONNS => s.conns = n,
            stats::INPKTS => s.in_packets = n,
            stats::OUTPKTS => s.out_packets = n,
            stats::INBYTES => s.in_bytes = n,
            stats::OUTBYTES => s.out_bytes = n,
            stats::CPS => s.cps = n,
            stats::INPPS => s.in_pps = n,
            stats::OUTPPS => s.out_pps = n,
            stats::INBPS => s.in_bps = n,
            stats::OUTBPS => s.out_bps = n,
            _ => {}
        }
    }
    Ok(s)
}

/// A service from a GET_SERVICE dump reply.
pub fn decode_service(message: &IpvsMessage) -> Result<ServiceStatus, DecodeError> {
    let raw = nested(&message.raw, top::SERVICE, "service")?;
    let (mut af, mut protocol, mut addr, mut port, mut fwmark) = (0, 0, Vec::new(), 0, None);
    let (mut scheduler, mut flags, mut timeout, mut netmask, mut pe) =
        (String::new(), 0, 0, u32::MAX, None);
    let (mut stats32, mut stats64) = (None, None);
    for a in attr::iter(&raw) {
        let (kind, v) = a?;
        match kind {
            svc::AF => af = attr::u16_of(v, "service family")?,
            svc::PROTOCOL => protocol = attr::u16_of(v, "service protocol")?,
            svc::ADDR => addr = v.to_vec(),
            svc::PORT => port = attr::be16_of(v, "service port")?,
            svc::FWMARK => fwmark = Some(attr::u32_of(v, "service fwmark")?),
            svc::SCHED_NAME => scheduler = attr::string_of(v),
            svc::FLAGS => flags = attr::u32_of(v, "service flags")?,
            svc::TIMEOUT => timeout = attr::u32_of(v, "service timeout")?,
            svc::NETMASK => netmask = attr::u32_of(v, "service netmask")?,
            svc::PE_NAME => pe = Some(attr::string_of(v)),
            svc::STATS => stats32 = Some(decode_stats(v, false)?),
            svc::STATS64 => stats64 = Some(decode_stats(v, true)?),
            _ => {}
        }
    }
    let ipv6 = af == AF_INET6;
    let key = match fwmark.filter(|&m| m != 0) {
        Some(mark) => ServiceKey::Fwmark { ipv6, mark },
        None => ServiceKey::Addr {
            protocol: match protocol {
                IPPROTO_TCP => Protocol::Tcp,
                IPPROTO_UDP => Protocol::Udp,
                IPPROTO_SCTP => Protocol::Sctp,
                other => {
                    return Err(DecodeError::from(format!(
                        "service protocol {other} is unknown"
                    )))
                }
            },
            addr: address_of(&addr, ipv6, "service address")?,
            port,
        },
    };
    let persistence_prefix = if ipv6 {
        netmask.min(128) as u8
    } else {
        u32::from_be(netmask).count_ones() as u8
    };
    let service = Service {
        key,
        scheduler,
        persistence_timeout: (flags & SVC_F_PERSISTENT != 0).then_some(timeout),
        persistence_prefix,
        one_packet: flags & SVC_F_ONEPACKET != 0,
        sched_flags: ((flags >> 3) & 0x7) as u8,
        pe_name: pe,
    };
    Ok(ServiceStatus {
        service,
        stats: stats64.or(stats32).unwrap_or_default(),
    })
}

/// A destination from a GET_DEST dump reply; `ipv6` is the service's family, used when
/// the kernel does not say the destination's own.
pub fn decode_dest(message: &IpvsMessage, ipv6: bool) -> Result<DestinationStatus, DecodeError> {
    let raw = nested(&message.raw, top::DEST, "destination")?;
    let mut d = DestinationStatus {
        destination: Destination::new(IpAddr::from([0u8; 4]), 0, Forward::Masq, 0),
        active_conns: 0,
        inactive_conns: 0,
        persistent_conns: 0,
        stats: Stats::default(),
    };
    let (mut addr, mut af, mut stats32, mut stats64) = (Vec::new(), None, None, None);
    for a in attr::iter(&raw) {
        let (kind, v) = a?;
        let dest = &mut d.destination;
        match kind {
            dest::ADDR => addr = v.to_vec(),
            dest::PORT => dest.port = attr::be16_of(v, "destination port")?,
            dest::FWD_METHOD => {
                dest.forward = match attr::u32_of(v, "forwarding method")? & FWD_MASK {
                    FWD_MASQ => Forward::Masq,
                    FWD_LOCALNODE => Forward::Local,
                    FWD_TUNNEL => Forward::Tunnel,
                    FWD_DROUTE => Forward::Route,
                    other => {
                        return Err(DecodeError::from(format!(
                            "forwarding method {other} is unknown"
                        )))
                    }
                }
            }
            dest::WEIGHT => dest.weight = attr::u32_of(v, "weight")?,
            dest::U_THRESH => dest.upper_threshold = attr::u32_of(v, "upper threshold")?,
            dest::L_THRESH => dest.lower_threshold = attr::u32_of(v, "lower threshold")?,
            dest::ACTIVE_CONNS => d.active_conns = attr::u32_of(v, "active connections")?,
            dest::INACT_CONNS => d.inactive_conns = attr::u32_of(v, "inactive connections")?,
            dest::PERSIST_CONNS => d.persistent_conns = attr::u32_of(v, "persistent connections")?,
            dest::ADDR_FAMILY => af = Some(attr::u16_of(v, "destination family")?),
            dest::STATS => stats32 = Some(decode_stats(v, false)?),
            dest::STATS64 => stats64 = Some(decode_stats(v, true)?),
            dest::TUN_TYPE => {
                dest.encap.kind = match v.first().copied() {
                    Some(tunnel::TYPE_IPIP) => EncapKind::Ipip,
                    Some(tunnel::TYPE_GUE) => EncapKind::Gue,
                    Some(tunnel::TYPE_GRE) => EncapKind::Gre,
                    other => {
                        return Err(DecodeError::from(format!(
                            "tunnel type {other:?} is unknown"
                        )))
                    }
                }
            }
            dest::TUN_PORT => dest.encap.port = attr::be16_of(v, "tunnel port")?,
            dest::TUN_FLAGS => {
                let flags = attr::u16_of(v, "tunnel flags")?;
                dest.encap.csum = if flags & tunnel::FLAG_REMCSUM != 0 {
                    EncapCsum::Remcsum
                } else if flags & tunnel::FLAG_CSUM != 0 {
                    EncapCsum::Csum
                } else {
                    EncapCsum::None
                };
            }
            _ => {}
        }
    }
    let ipv6 = af.map_or(ipv6, |f| f == AF_INET6);
    d.destination.addr = address_of(&addr, ipv6, "destination address")?;
    d.stats = stats64.or(stats32).unwrap_or_default();
    Ok(d)
}

pub fn decode_info(message: &IpvsMessage) -> Result<Info, DecodeError> {
    let mut info = Info {
        version: 0,
        conn_table_size: 0,
    };
    for a in attr::iter(&message.raw) {
        let (kind, v) = a?;
        match kind {
            info::VERSION => info.version = attr::u32_of(v, "version")?,
            info::CONN_TAB_SIZE => info.conn_table_size = attr::u32_of(v, "connection table size")?,
            _ => {}
        }
    }
    Ok(info)
}

pub fn decode_config(message: &IpvsMessage) -> Result<Timeouts, DecodeError> {
    let mut t = Timeouts::default();
    for a in attr::iter(&message.raw) {
        let (kind, v) = a?;
        match kind {
            top::TIMEOUT_TCP => t.tcp = attr::u32_of(v, "tcp timeout")?,
            top::TIMEOUT_TCP_FIN => t.tcp_fin = attr::u32_of(v, "tcpfin timeout")?,
            top::TIMEOUT_UDP => t.udp = attr::u32_of(v, "udp timeout")?,
            _ => {}
        }
    }
    Ok(t)
}

pub fn decode_daemon(message: &IpvsMessage) -> Result<SyncDaemon, DecodeError> {
    let raw = nested(&message.raw, top::DAEMON, "daemon")?;
    let mut d = SyncDaemon {
        state: SyncState::Master,
        interface: String::new(),
        sync_id: 0,
    };
    for a in attr::iter(&raw) {
        let (kind, v) = a?;
        match kind {
            daemon::STATE => {
                d.state = if attr::u32_of(v, "daemon state")? == 2 {
                    SyncState::Backup
                } else {
                    SyncState::Master
                }
            }
            daemon::MCAST_IFN => d.interface = attr::string_of(v),
            daemon::SYNC_ID => d.sync_id = attr::u32_of(v, "sync id")?,
            _ => {}
        }
    }
    Ok(d)
}

#[cfg(test)]
mod tests;
