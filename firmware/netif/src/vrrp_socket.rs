//! The sockets VRRP speaks through: raw IP protocol 112, joined to 224.0.0.18 or
//! ff02::12 (or keepalived's `mcast_dst_ip` / `vrrp_mcast_group4|6`) on one interface,
//! sending with TTL / hop limit 255 (RFC 5798 §5.1.1.3; keepalived's `unicast_ttl` for
//! unicast peers).

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::os::fd::AsRawFd;

use nix::sys::socket::{
    recvmsg, sendmsg, setsockopt, sockopt, ControlMessage, ControlMessageOwned, MsgFlags,
    SockaddrIn, SockaddrIn6,
};
use smoltcp::wire::Ipv4Packet;
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

pub const PROTOCOL: i32 = 112;
/// keepalived's `auth_type AH` wraps VRRPv2 in IPsec AH (protocol 51).
pub const PROTOCOL_AH: i32 = 51;
pub const GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
pub const GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// An advertisement is at most 8 + 255 × 16 bytes; with an IPv4 header and options,
/// 4.2 KB holds any of them.
const RECEIVE_BUFFER: usize = 4200;

/// A packet as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit, which §7.1 requires to be 255.
    pub ttl: u8,
    pub payload: Vec<u8>,
    /// IPv4: the whole datagram as it arrived, header included (AH's ICV covers the
    /// header). Empty for IPv6.
    pub datagram: Vec<u8>,
}

pub struct VrrpSocket {
    fd: AsyncFd<Socket>,
    ipv6: bool,
    /// IPv6: the source every advert is sent from, on this interface (IPV6_PKTINFO). The
    /// kernel's own choice could be another address (a second link-local, or a global
    /// one while the link-local is tentative), and the checksum covers the source.
    source_v6: Option<nix::libc::in6_pktinfo>,
    /// IPv4 without AH: the source and interface of every advert (IP_PKTINFO). On a
    /// macvlan (keepalived's use_vmac) the source is the parent's address, which the
    /// macvlan does not hold, so the kernel's own choice would be a VIP or nothing.
    source_v4: Option<nix::libc::in_pktinfo>,
}

/// Where one instance's socket speaks from and to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint<'a> {
    pub ifname: &'a str,
    pub ifindex: u32,
    /// The source of every advert.
    pub local: IpAddr,
    /// The multicast group joined and sent to; `None` is keepalived's unicast_peer mode.
    pub group: Option<IpAddr>,
    /// An IPv4 socket for protocol 51 that sends whole datagrams (IP_HDRINCL): AH's ICV
    /// covers the IP header, so lvsfw writes the header itself.
    pub ah: bool,
    /// TTL / hop limit of unicast adverts (keepalived's `unicast_ttl`).
    pub unicast_ttl: u8,
}

impl VrrpSocket {
    /// Opens the socket of one instance on interface `ifname` (index `ifindex`),
    /// sending from `local` to the standard group. `multicast` false is keepalived's
    /// unicast_peer mode.
    pub fn open(
        ifname: &str,
        ifindex: u32,
        local: IpAddr,
        multicast: bool,
    ) -> io::Result<VrrpSocket> {
        let group = match local {
            IpAddr::V4(_) => IpAddr::V4(GROUP_V4),
            IpAddr::V6(_) => IpAddr::V6(GROUP_V6),
        };
        VrrpSocket::open_with(&Endpoint {
            ifname,
            ifindex,
            local,
            group: multicast.then_some(group),
            ah: false,
            unicast_ttl: 255,
        })
    }

    pub fn open_with(endpoint: &Endpoint) -> io::Result<VrrpSocket> {
        let &Endpoint {
            ifname,
            ifindex,
            local,
            group,
            ah,
            unicast_ttl,
        } = endpoint;
        let ipv6 = local.is_ipv6();
        if group.is_some_and(|g| g.is_ipv6() != ipv6) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the multicast group is of another family than the source",
            ));
        }
        if ah && ipv6 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "AH authentication is VRRPv2 over IPv4 only",
            ));
        }
        let domain = if ipv6 { Domain::IPV6 } else { Domain::IPV4 };
        let protocol = if ah { PROTOCOL_AH } else { PROTOCOL };
        let socket = Socket::new(domain, Type::RAW, Some(Protocol::from(protocol)))?;
        if ah {
            socket.set_header_included_v4(true)?;
        }
        socket.set_nonblocking(true)?;
        socket.bind_device(Some(ifname.as_bytes()))?;
        match local {
            IpAddr::V4(local) => {
                socket.set_ttl_v4(u32::from(unicast_ttl))?;
                socket.set_multicast_ttl_v4(255)?;
                socket.set_multicast_loop_v4(false)?;
                // Internetwork control, as keepalived and most routers send VRRP.
                socket.set_tos_v4(0xc0)?;
                // A raw socket bound to an address receives only datagrams addressed to
                // it: bind for unicast peers only; for multicast the source is set per
                // advert (IP_PKTINFO).
                match group {
                    None => socket.bind(&SockAddr::from(SocketAddr::new(IpAddr::V4(local), 0)))?,
                    Some(IpAddr::V4(group)) => socket
                        .join_multicast_v4_n(&group, &InterfaceIndexOrAddress::Index(ifindex))?,
                    Some(IpAddr::V6(_)) => {}
                }
            }
            IpAddr::V6(local) => {
                socket.set_unicast_hops_v6(u32::from(unicast_ttl))?;
                socket.set_multicast_hops_v6(255)?;
                socket.set_multicast_loop_v6(false)?;
                setsockopt(&socket, sockopt::Ipv6RecvHopLimit, &true).map_err(io::Error::from)?;
                setsockopt(&socket, sockopt::Ipv6RecvPacketInfo, &true).map_err(io::Error::from)?;
                let scope = if local.is_unicast_link_local() {
                    ifindex
                } else {
                    0
                };
                match group {
                    None => socket.bind(&SockAddr::from(SocketAddrV6::new(local, 0, 0, scope)))?,
                    Some(IpAddr::V6(group)) => {
                        socket.set_multicast_if_v6(ifindex)?;
                        socket.join_multicast_v6(&group, ifindex)?;
                    }
                    Some(IpAddr::V4(_)) => {}
                }
            }
        }
        // SAFETY: `socket` owns its descriptor; AsyncFd takes the socket and nothing
        // else closes or replaces that descriptor while it is registered.
        let fd = unsafe { AsyncFd::register_with_interest(socket, Interest::READABLE)? };
        let source_v6 = match local {
            IpAddr::V6(local) => Some(nix::libc::in6_pktinfo {
                ipi6_addr: nix::libc::in6_addr {
                    s6_addr: local.octets(),
                },
                ipi6_ifindex: ifindex,
            }),
            IpAddr::V4(_) => None,
        };
        let source_v4 = match local {
            IpAddr::V4(local) if !ah => Some(nix::libc::in_pktinfo {
                ipi_ifindex: ifindex as nix::libc::c_int,
                ipi_spec_dst: nix::libc::in_addr {
                    s_addr: u32::from(local).to_be(),
                },
                ipi_addr: nix::libc::in_addr { s_addr: 0 },
            }),
            _ => None,
        };
        Ok(VrrpSocket {
            fd,
            ipv6,
            source_v6,
            source_v4,
        })
    }

    pub async fn recv(&self) -> io::Result<Received> {
        loop {
            let mut guard = self.fd.readable().await?;
            let result = if self.ipv6 {
                guard.try_io(|fd| receive_v6(fd.get_ref()))
            } else {
                guard.try_io(|fd| receive_v4(fd.get_ref()))
            };
            match result {
                Ok(Ok(Some(received))) => return Ok(received),
                Ok(Ok(None)) => continue,
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }

    /// Sends one advertisement; the caller computed its checksum for `dst`. On an AH
    /// socket `payload` is the whole IPv4 datagram.
    pub fn send(&self, payload: &[u8], dst: IpAddr) -> io::Result<()> {
        match (self.source_v6, self.source_v4, dst) {
            (Some(source), _, IpAddr::V6(dst)) => {
                let to = SockaddrIn6::from(SocketAddrV6::new(dst, 0, 0, source.ipi6_ifindex));
                let iov = [IoSlice::new(payload)];
                let control = [ControlMessage::Ipv6PacketInfo(&source)];
                sendmsg(
                    self.fd.get_ref().as_raw_fd(),
                    &iov,
                    &control,
                    MsgFlags::empty(),
                    Some(&to),
                )
                .map(|_| ())
                .map_err(io::Error::from)
            }
            (_, Some(source), IpAddr::V4(dst)) => {
                let to = SockaddrIn::from(std::net::SocketAddrV4::new(dst, 0));
                let iov = [IoSlice::new(payload)];
                let control = [ControlMessage::Ipv4PacketInfo(&source)];
                sendmsg(
                    self.fd.get_ref().as_raw_fd(),
                    &iov,
                    &control,
                    MsgFlags::empty(),
                    Some(&to),
                )
                .map(|_| ())
                .map_err(io::Error::from)
            }
            _ => {
                let to = SockAddr::from(SocketAddr::new(dst, 0));
                self.fd.get_ref().send_to(payload, &to).map(|_| ())
            }
        }
    }
}

/// IPv4 raw sockets deliver the IP header; smoltcp reads it. A packet whose header
/// does not parse is skipped (Ok(None)), not an error of the socket.
fn receive_v4(socket: &Socket) -> io::Result<Option<Received>> {
    let mut buffer = [MaybeUninit::<u8>::uninit(); RECEIVE_BUFFER];
    let (n, _) = socket.recv_from(&mut buffer)?;
    // SAFETY: recv_from initialised the first n bytes.
    let bytes: Vec<u8> = buffer[..n]
        .iter()
        .map(|b| unsafe { b.assume_init() })
        .collect();
    let Ok(ip) = Ipv4Packet::new_checked(&bytes[..]) else {
        return Ok(None);
    };
    Ok(Some(Received {
        src: IpAddr::V4(ip.src_addr()),
        dst: IpAddr::V4(ip.dst_addr()),
        ttl: ip.hop_limit(),
        payload: ip.payload().to_vec(),
        datagram: bytes.clone(),
    }))
}

/// IPv6 raw sockets deliver only the payload; hop limit and destination come as
/// control messages (IPV6_RECVHOPLIMIT, IPV6_RECVPKTINFO).
fn receive_v6(socket: &Socket) -> io::Result<Option<Received>> {
    let mut buffer = [0u8; RECEIVE_BUFFER];
    let mut iov = [IoSliceMut::new(&mut buffer)];
    let mut control = nix::cmsg_space!(libc_int, nix::libc::in6_pktinfo);
    let message = recvmsg::<SockaddrIn6>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut control),
        MsgFlags::empty(),
    )
    .map_err(io::Error::from)?;
    let Some(src) = message.address else {
        return Ok(None);
    };
    let mut ttl = 0u8;
    let mut dst = IpAddr::V6(GROUP_V6);
    for cmsg in message.cmsgs().map_err(io::Error::from)? {
        match cmsg {
            ControlMessageOwned::Ipv6HopLimit(hops) => ttl = hops.clamp(0, 255) as u8,
            ControlMessageOwned::Ipv6PacketInfo(info) => {
                dst = IpAddr::V6(Ipv6Addr::from(info.ipi6_addr.s6_addr))
            }
            _ => {}
        }
    }
    let n = message.bytes;
    Ok(Some(Received {
        src: IpAddr::V6(src.ip()),
        dst,
        ttl,
        payload: buffer[..n].to_vec(),
        datagram: Vec::new(),
    }))
}

#[allow(non_camel_case_types)]
type libc_int = nix::libc::c_int;
