//! The sockets of the datagram checks: raw ICMP(v6) sockets for PING_CHECK, unconnected UDP
//! sockets with IP_RECVERR for UDP_CHECK and DNS_CHECK.
//!
//! Why raw sockets for echo: the balancer runs as root, so it has CAP_NET_RAW, whereas an
//! unprivileged ICMP datagram socket needs `net.ipv4.ping_group_range` to include its group,
//! which it does not on a kernel left at its defaults (keepalived rewrites that sysctl for
//! itself). A raw socket sees every ICMP message the host receives, so it is given a filter
//! that lets only echo replies through (ICMP_FILTER, ICMP6_FILTER as RFC 3542 §3.2): a
//! flood of pings at a VIP does not wake the checker.
//!
//! Why one UDP socket for many servers: creating, connecting and closing a socket per
//! probe, as keepalived does, is most of a UDP probe's cost. An unconnected socket with
//! IP_RECVERR still learns of an ICMP port (host, network) unreachable, on its error queue,
//! with the destination it was about.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

use nix::sys::socket::{setsockopt, sockopt};
use socket2::{Domain, Protocol, Socket, Type};

use crate::icmp;

/// <linux/icmp.h> ICMP_FILTER and <linux/icmpv6.h> ICMPV6_FILTER.
const ICMP_FILTER: nix::libc::c_int = 1;
const ICMPV6_FILTER: nix::libc::c_int = 1;
/// Room for the replies of a few seconds of probes: one socket takes the answers of
/// thousands of servers (keepalived gives each of its per-checker ping sockets 128 KiB),
/// and a checker that a busy box keeps from reading for a moment must not lose them. A
/// queued reply costs a few hundred bytes of kernel memory; nothing is used while the
/// queue is empty.
const RECEIVE_BUFFER: usize = 4 * 1024 * 1024;

/// A raw ICMP (ICMPv6) socket that receives only echo replies, from `bindto` if given.
pub fn echo_socket(v6: bool, bindto: Option<IpAddr>) -> io::Result<UdpSocket> {
    let socket = if v6 {
        Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6))?
    } else {
        Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4))?
    };
    if v6 {
        // Linux: a set bit blocks that type.
        let mut blocked = [u32::MAX; 8];
        let reply = u32::from(icmp::ECHO_REPLY_V6);
        blocked[(reply >> 5) as usize] &= !(1 << (reply & 31));
        set_filter(&socket, nix::libc::IPPROTO_ICMPV6, ICMPV6_FILTER, &blocked)?;
    } else {
        let blocked: u32 = !(1 << icmp::ECHO_REPLY_V4);
        set_filter(&socket, nix::libc::SOL_RAW, ICMP_FILTER, &blocked)?;
    }
    finish(socket, v6, bindto)
}

/// An unconnected UDP socket on an ephemeral port that queues ICMP errors.
pub fn udp_socket(v6: bool, bindto: Option<IpAddr>) -> io::Result<UdpSocket> {
    let socket = if v6 {
        Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))?
    } else {
        Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?
    };
    if v6 {
        socket.set_only_v6(true)?;
        setsockopt(&socket, sockopt::Ipv6RecvErr, &true).map_err(io::Error::from)?;
    } else {
        setsockopt(&socket, sockopt::Ipv4RecvErr, &true).map_err(io::Error::from)?;
    }
    finish(socket, v6, bindto)
}

fn finish(socket: Socket, v6: bool, bindto: Option<IpAddr>) -> io::Result<UdpSocket> {
    socket.set_nonblocking(true)?;
    // Beyond net.core.rmem_max as root (the balancer is); else as much as that allows.
    if setsockopt(&socket, sockopt::RcvBufForce, &RECEIVE_BUFFER).is_err() {
        let _ = socket.set_recv_buffer_size(RECEIVE_BUFFER);
    }
    let any = if v6 {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    };
    let local = bindto.unwrap_or(any);
    if bindto.is_some() || socket.r#type()? == Type::DGRAM {
        socket.bind(&SocketAddr::new(local, 0).into())?;
    }
    Ok(socket.into())
}

fn set_filter<T>(
    socket: &Socket,
    level: nix::libc::c_int,
    name: nix::libc::c_int,
    filter: &T,
) -> io::Result<()> {
    let len = std::mem::size_of::<T>() as nix::libc::socklen_t;
    // SAFETY: `filter` is a live value of `len` bytes for the duration of the call, and
    // the kernel only reads it.
    let result = unsafe {
        nix::libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (filter as *const T).cast(),
            len,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// An ICMP error the kernel queued for a datagram we sent: where the datagram went, and
/// whether the error was a destination unreachable (and its code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuedError {
    pub to: SocketAddr,
    pub unreachable: Option<u8>,
    pub v6: bool,
}

/// The next error on `socket`'s error queue that names a destination; `Ok(None)` when
/// the queue is empty.
pub fn next_error(socket: &UdpSocket, v6: bool) -> io::Result<Option<QueuedError>> {
    loop {
        match queued_error(socket, v6)? {
            Queued::Empty => return Ok(None),
            // An error the kernel could not tie to a destination is of no use to anyone.
            Queued::Unaddressed => continue,
            Queued::Error(error) => return Ok(Some(error)),
        }
    }
}

enum Queued {
    Empty,
    Unaddressed,
    Error(QueuedError),
}

fn queued_error(socket: &UdpSocket, v6: bool) -> io::Result<Queued> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, SockaddrStorage};
    let mut data = [0u8; 64];
    let mut iov = [io::IoSliceMut::new(&mut data)];
    let mut control = nix::cmsg_space!(nix::libc::sock_extended_err, nix::libc::sockaddr_in6);
    let message = match recvmsg::<SockaddrStorage>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut control),
        MsgFlags::MSG_ERRQUEUE | MsgFlags::MSG_DONTWAIT,
    ) {
        Ok(message) => message,
        Err(nix::errno::Errno::EAGAIN) => return Ok(Queued::Empty),
        Err(error) => return Err(error.into()),
    };
    let to = message.address.as_ref().and_then(|address| {
        if let Some(v4) = address.as_sockaddr_in() {
            Some(SocketAddr::from((v4.ip(), v4.port())))
        } else {
            address
                .as_sockaddr_in6()
                .map(|v6| SocketAddr::from((v6.ip(), v6.port())))
        }
    });
    let mut unreachable = None;
    for cmsg in message.cmsgs().map_err(io::Error::from)? {
        let error = match cmsg {
            ControlMessageOwned::Ipv4RecvErr(error, _) => error,
            ControlMessageOwned::Ipv6RecvErr(error, _) => error,
            _ => continue,
        };
        let (origin, destination_unreachable) = if v6 {
            (nix::libc::SO_EE_ORIGIN_ICMP6, 1)
        } else {
            (nix::libc::SO_EE_ORIGIN_ICMP, 3)
        };
        if error.ee_origin == origin && error.ee_type == destination_unreachable {
            unreachable = Some(error.ee_code);
        }
    }
    Ok(match to {
        Some(to) => Queued::Error(QueuedError {
            to,
            unreachable,
            v6,
        }),
        None => Queued::Unaddressed,
    })
}
