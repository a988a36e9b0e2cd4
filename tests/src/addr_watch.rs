//! Watches a namespace's IPv4 and IPv6 addresses through rtnetlink, in this process: every
//! address added or removed, time-stamped when the kernel's notification arrives. How a
//! benchmark sees when a VIP appears, without polling `ip addr` (which costs a process
//! per look and misses an address held for less than the polling period).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use nix::sys::socket::{
    bind, recv, setsockopt, socket, sockopt, AddressFamily, MsgFlags, NetlinkAddr, SockFlag,
    SockProtocol, SockType,
};
use nix::sys::time::{TimeVal, TimeValLike};

use crate::command::Error;
use crate::lab::Host;

/// rtnetlink's multicast groups for address changes (RTMGRP_IPV4_IFADDR and
/// RTMGRP_IPV6_IFADDR).
const GROUP_IPV4_IFADDR: u32 = 0x10;
const GROUP_IPV6_IFADDR: u32 = 0x100;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
/// How often the watching thread looks at its stop flag.
const POLL: Duration = Duration::from_millis(50);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddrEvent {
    pub at: SystemTime,
    pub added: bool,
    pub address: IpAddr,
    pub ifindex: u32,
}

/// The watch runs until dropped.
pub struct AddrWatch {
    events: Arc<Mutex<Vec<AddrEvent>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl AddrWatch {
    /// Starts watching `host`'s namespace; returns once the subscription is in place, so
    /// that every later change is seen.
    pub fn start(host: &Host) -> Result<AddrWatch, Error> {
        let socket = crate::netns::within(host, subscribe)?
            .map_err(|e| Error(format!("watching {}: {e}", host.name)))?;
        let events = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let events = events.clone();
            let stop = stop.clone();
            std::thread::spawn(move || watch(&socket, &events, &stop))
        };
        Ok(AddrWatch {
            events,
            stop,
            thread: Some(thread),
        })
    }

    /// Every change seen so far, oldest first.
    pub fn events(&self) -> Vec<AddrEvent> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// When `address` was first added at or after `since`.
    pub fn added_since(&self, address: IpAddr, since: SystemTime) -> Option<SystemTime> {
        self.events()
            .into_iter()
            .find(|e| e.added && e.address == address && e.at >= since)
            .map(|e| e.at)
    }

    /// Waits up to `limit` for `address` to be added at or after `since`.
    pub fn wait_added(
        &self,
        address: IpAddr,
        since: SystemTime,
        limit: Duration,
    ) -> Option<SystemTime> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(at) = self.added_since(address, since) {
                return Some(at);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for AddrWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn subscribe() -> Result<OwnedFd, String> {
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkRoute,
    )
    .map_err(|e| format!("netlink socket: {e}"))?;
    // A burst of changes must not overflow the queue between two reads.
    let _ = setsockopt(&fd, sockopt::RcvBuf, &(1 << 20));
    setsockopt(
        &fd,
        sockopt::ReceiveTimeout,
        &TimeVal::milliseconds(POLL.as_millis() as i64),
    )
    .map_err(|e| format!("SO_RCVTIMEO: {e}"))?;
    bind(
        fd.as_raw_fd(),
        &NetlinkAddr::new(0, GROUP_IPV4_IFADDR | GROUP_IPV6_IFADDR),
    )
    .map_err(|e| format!("netlink bind: {e}"))?;
    Ok(fd)
}

fn watch(socket: &OwnedFd, events: &Mutex<Vec<AddrEvent>>, stop: &AtomicBool) {
    let mut buffer = vec![0u8; 64 * 1024];
    while !stop.load(Ordering::SeqCst) {
        match recv(socket.as_raw_fd(), &mut buffer, MsgFlags::empty()) {
            Ok(n) => {
                let at = SystemTime::now();
                let fresh = parse(&buffer[..n], at);
                events
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend(fresh);
            }
            // The timeout (EAGAIN), an interrupted call, or ENOBUFS after an overflow.
            Err(_) => continue,
        }
    }
}

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(i..i + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(i..i + 4)?.try_into().ok()?))
}

/// The address changes in one datagram of netlink messages (nlmsghdr, ifaddrmsg,
/// then rtattrs, each 4-byte aligned).
fn parse(datagram: &[u8], at: SystemTime) -> Vec<AddrEvent> {
    let mut out = Vec::new();
    let mut offset = 0;
    while let (Some(len), Some(kind)) = (u32_at(datagram, offset), u16_at(datagram, offset + 4)) {
        let len = len as usize;
        if len < 16 || offset + len > datagram.len() {
            break;
        }
        let message = &datagram[offset..offset + len];
        if kind == RTM_NEWADDR || kind == RTM_DELADDR {
            if let Some(event) = address_message(message, kind == RTM_NEWADDR, at) {
                out.push(event);
            }
        }
        offset += (len + 3) & !3;
    }
    out
}

fn address_message(message: &[u8], added: bool, at: SystemTime) -> Option<AddrEvent> {
    // ifaddrmsg: family, prefixlen, flags, scope (one byte each), then the index.
    let family = *message.get(16)?;
    let width = match family {
        AF_INET => 4,
        AF_INET6 => 16,
        _ => return None,
    };
    let ifindex = u32_at(message, 20)?;
    let (mut local, mut address) = (None, None);
    let mut offset = 24;
    while let (Some(len), Some(kind)) = (u16_at(message, offset), u16_at(message, offset + 2)) {
        let len = usize::from(len);
        if len < 4 || offset + len > message.len() {
            break;
        }
        let value = &message[offset + 4..offset + len];
        if value.len() == width {
            let ip = match <[u8; 4]>::try_from(value) {
                Ok(four) => IpAddr::V4(Ipv4Addr::from(four)),
                Err(_) => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(value).ok()?)),
            };
            match kind {
                IFA_LOCAL => local = Some(ip),
                IFA_ADDRESS => address = Some(ip),
                _ => {}
            }
        }
        offset += (len + 3) & !3;
    }
    Some(AddrEvent {
        at,
        added,
        address: local.or(address)?,
        ifindex,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One RTM_NEWADDR as the kernel sends it for 192.168.0.100/24 on index 2.
    fn new_addr() -> Vec<u8> {
        new_addr_of(AF_INET, &[192, 168, 0, 100])
    }

    fn new_addr_of(family: u8, address: &[u8]) -> Vec<u8> {
        let mut attrs = Vec::new();
        for kind in [IFA_ADDRESS, IFA_LOCAL] {
            attrs.extend_from_slice(&(4 + address.len() as u16).to_ne_bytes());
            attrs.extend_from_slice(&kind.to_ne_bytes());
            attrs.extend_from_slice(address);
        }
        // An attribute of another kind and an odd length, padded.
        attrs.extend_from_slice(&7u16.to_ne_bytes());
        attrs.extend_from_slice(&3u16.to_ne_bytes());
        attrs.extend_from_slice(b"eth\0");
        let len = 16 + 8 + attrs.len();
        let mut m = Vec::new();
        m.extend_from_slice(&(len as u32).to_ne_bytes());
        m.extend_from_slice(&RTM_NEWADDR.to_ne_bytes());
        m.extend_from_slice(&[0; 10]);
        m.extend_from_slice(&[family, 24, 0, 0]);
        m.extend_from_slice(&2u32.to_ne_bytes());
        m.extend_from_slice(&attrs);
        m
    }

    #[test]
    fn reads_an_added_address() {
        let at = SystemTime::UNIX_EPOCH;
        let mut two = new_addr();
        let mut del = new_addr();
        del[4..6].copy_from_slice(&RTM_DELADDR.to_ne_bytes());
        two.extend_from_slice(&del);
        let events = parse(&two, at);
        let vip = IpAddr::from([192, 168, 0, 100]);
        assert_eq!(
            events,
            vec![
                AddrEvent {
                    at,
                    added: true,
                    address: vip,
                    ifindex: 2
                },
                AddrEvent {
                    at,
                    added: false,
                    address: vip,
                    ifindex: 2
                }
            ]
        );
        // A truncated message ends the datagram without a panic.
        assert_eq!(parse(&two[..30], at).len(), 0);
        let vip6: Ipv6Addr = "fd00::100".parse().unwrap();
        let events = parse(&new_addr_of(AF_INET6, &vip6.octets()), at);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].address, IpAddr::V6(vip6));
    }
}
