//! Telling the segment where a virtual address now lives: gratuitous ARP for IPv4 and
//! unsolicited neighbour advertisements for IPv6, built with smoltcp's wire types.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsFd, AsRawFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use nix::sys::socket::{bind, LinkAddr, SockaddrLike};
use socket2::{Domain, Socket, Type};

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    EthernetRepr, Icmpv6Packet, Icmpv6Repr, IpProtocol, Ipv6Packet, Ipv6Repr, NdiscNeighborFlags,
    NdiscRepr, RawHardwareAddress,
};

use crate::link_probe::LinkProbe;

pub const GARP_FRAME_LEN: usize = 42;
/// The all-nodes group an unsolicited advertisement goes to (RFC 4861 §7.2.6).
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// A broadcast ARP request whose sender and target address are both `ip` (RFC 5227
/// §3's announcement), as keepalived sends it: every host on the segment updates its
/// cache entry for `ip` to `mac`.
pub fn gratuitous_arp(mac: [u8; 6], ip: Ipv4Addr) -> [u8; GARP_FRAME_LEN] {
    let mut frame_bytes = [0u8; GARP_FRAME_LEN];
    let mut frame = EthernetFrame::new_unchecked(&mut frame_bytes[..]);
    EthernetRepr {
        src_addr: EthernetAddress(mac),
        dst_addr: EthernetAddress::BROADCAST,
        ethertype: EthernetProtocol::Arp,
    }
    .emit(&mut frame);
    let mut arp = ArpPacket::new_unchecked(frame.payload_mut());
    ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Request,
        source_hardware_addr: EthernetAddress(mac),
        source_protocol_addr: ip,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: ip,
    }
    .emit(&mut arp);
    frame_bytes
}

/// The Ethernet, IPv6 and ICMPv6 headers, the target and its link-layer address option.
pub const NA_FRAME_LEN: usize = 14 + 40 + 32;

/// An unsolicited neighbour advertisement for `target` as a whole Ethernet frame
/// (RFC 4861 §7.2.6): to all nodes, hop limit 255, Override set and Solicited clear, our
/// MAC as the target's link-layer address and in the frame. Router is set when the
/// interface forwards (RFC 5798 §6.4.2 asks for it on a virtual router; keepalived sets
/// it from the interface's forwarding, as here). The source is `target` itself, as the
/// kernel, keepalived and FRR send it: an address of that interface whatever interface
/// the VRRP instance runs on, which need not have a link-local address of its own.
pub fn unsolicited_na(mac: [u8; 6], target: Ipv6Addr, router: bool) -> [u8; NA_FRAME_LEN] {
    let mut flags = NdiscNeighborFlags::OVERRIDE;
    if router {
        flags |= NdiscNeighborFlags::ROUTER;
    }
    let icmp = Icmpv6Repr::Ndisc(NdiscRepr::NeighborAdvert {
        flags,
        target_addr: target,
        lladdr: Some(RawHardwareAddress::from_bytes(&mac)),
    });
    let ip = Ipv6Repr {
        src_addr: target,
        dst_addr: ALL_NODES,
        next_header: IpProtocol::Icmpv6,
        payload_len: icmp.buffer_len(),
        hop_limit: 255,
    };
    let mut bytes = [0u8; NA_FRAME_LEN];
    let mut frame = EthernetFrame::new_unchecked(&mut bytes[..]);
    EthernetRepr {
        src_addr: EthernetAddress(mac),
        // 33:33 and the group's low 32 bits (RFC 2464 §7).
        dst_addr: EthernetAddress([0x33, 0x33, 0, 0, 0, 1]),
        ethertype: EthernetProtocol::Ipv6,
    }
    .emit(&mut frame);
    let mut packet = Ipv6Packet::new_unchecked(frame.payload_mut());
    ip.emit(&mut packet);
    icmp.emit(
        &target,
        &ALL_NODES,
        &mut Icmpv6Packet::new_unchecked(packet.payload_mut()),
        &ChecksumCapabilities::default(),
    );
    bytes
}

/// Sends announcements out of one interface as link-layer frames.
pub struct Announcer {
    /// AF_PACKET, bound to the interface with no protocol (it sends, never receives).
    socket: Socket,
    ifname: String,
    probe: LinkProbe,
    proc_sys: PathBuf,
    /// The MAC last seen, for [`Announcer::mac_changed`] (six bytes in a u64).
    last_mac: AtomicU64,
}

impl Announcer {
    pub fn open(ifname: &str, ifindex: u32) -> io::Result<Announcer> {
        // Protocol 0, here and in the bind: the socket only sends, so it never joins the
        // receive path. With ETH_P_ARP it would get a copy of every ARP frame on the
        // segment, and its bind would have to unhook it first, which waits for an RCU
        // grace period (synchronize_net): 20 ms of lvsfw's start measured under strace,
        // more on a loaded machine, all before the Master_Down_Timer could start.
        let socket = Socket::new(Domain::PACKET, Type::RAW, None)?;
        bind_to_link(&socket, ifindex)?;
        let probe = LinkProbe::new()?;
        // Fails early on an interface without a MAC.
        let mac = probe.mac(ifname)?;
        Ok(Announcer {
            socket,
            ifname: ifname.to_string(),
            probe,
            proc_sys: PathBuf::from("/proc/sys"),
            last_mac: AtomicU64::new(mac_bits(mac)),
        })
    }

    /// The interface's MAC, if it changed since the last call (or since open): a bond
    /// with `fail_over_mac active` takes its new active member's MAC, and the segment
    /// must hear that the virtual addresses moved with it (keepalived issue #2298).
    pub fn mac_changed(&self) -> Option<[u8; 6]> {
        let now = self.probe.mac(&self.ifname).ok()?;
        (self.last_mac.swap(mac_bits(now), Ordering::Relaxed) != mac_bits(now)).then_some(now)
    }

    /// One gratuitous ARP or unsolicited NA for `address`, from the interface's MAC as
    /// it is now: a bond's MAC can change when its active member does.
    pub fn announce(&self, address: IpAddr) -> io::Result<()> {
        let mac = self.probe.mac(&self.ifname)?;
        match address {
            IpAddr::V4(ip) => self.socket.send(&gratuitous_arp(mac, ip)).map(|_| ()),
            IpAddr::V6(ip) => {
                let router = crate::sysctl::ipv6_forwarding(&self.proc_sys, &self.ifname);
                self.socket
                    .send(&unsolicited_na(mac, ip, router))
                    .map(|_| ())
            }
        }
    }
}

fn mac_bits(mac: [u8; 6]) -> u64 {
    mac.iter()
        .fold(0, |bits, byte| bits << 8 | u64::from(*byte))
}

fn bind_to_link(socket: &Socket, ifindex: u32) -> io::Result<()> {
    // SAFETY: sockaddr_ll is plain data; zeroed is a valid value before the fields are set.
    let mut ll: nix::libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    ll.sll_family = nix::libc::AF_PACKET as u16;
    // sll_protocol stays 0: bound to the link for sending, no receive hook. The kernel
    // takes each frame's protocol from its Ethernet header (packet_parse_headers).
    ll.sll_ifindex = ifindex as i32;
    let len = std::mem::size_of::<nix::libc::sockaddr_ll>() as nix::libc::socklen_t;
    // SAFETY: `ll` is a complete sockaddr_ll of `len` bytes.
    let address =
        unsafe { LinkAddr::from_raw((&ll as *const nix::libc::sockaddr_ll).cast(), Some(len)) }
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "sockaddr_ll"))?;
    bind(socket.as_fd().as_raw_fd(), &address).map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x00, 0x00, 0x10];

    #[test]
    fn gratuitous_arp_layout() {
        let f = gratuitous_arp(MAC, Ipv4Addr::new(192, 168, 0, 100));
        #[rustfmt::skip]
        let expected: [u8; 42] = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0, 0, 0, 0x10, 0x08, 0x06, // Ethernet
            0, 1, 0x08, 0, 6, 4, 0, 1,                                                 // ARP request
            0x52, 0x54, 0, 0, 0, 0x10, 192, 168, 0, 100,                               // sender
            0, 0, 0, 0, 0, 0, 192, 168, 0, 100,                                        // target
        ];
        assert_eq!(f, expected);
    }

    #[test]
    fn neighbour_advertisement_frame_parses_back_with_a_valid_checksum() {
        let target: Ipv6Addr = "fd00::100".parse().unwrap();
        for router in [false, true] {
            let bytes = unsolicited_na(MAC, target, router);
            let frame = EthernetFrame::new_checked(&bytes[..]).unwrap();
            assert_eq!(frame.dst_addr(), EthernetAddress([0x33, 0x33, 0, 0, 0, 1]));
            assert_eq!(frame.src_addr(), EthernetAddress(MAC));
            assert_eq!(frame.ethertype(), EthernetProtocol::Ipv6);
            let ip = Ipv6Packet::new_checked(frame.payload()).unwrap();
            let ip_repr = Ipv6Repr::parse(&ip).unwrap();
            assert_eq!(ip_repr.src_addr, target);
            assert_eq!(ip_repr.dst_addr, ALL_NODES);
            assert_eq!(ip_repr.hop_limit, 255);
            assert_eq!(ip_repr.next_header, IpProtocol::Icmpv6);
            let packet = Icmpv6Packet::new_checked(ip.payload()).unwrap();
            assert_eq!(ip_repr.payload_len, 32);
            assert!(packet.verify_checksum(&target, &ALL_NODES));
            let repr = Icmpv6Repr::parse(
                &target,
                &ALL_NODES,
                &packet,
                &ChecksumCapabilities::default(),
            )
            .unwrap();
            let mut flags = NdiscNeighborFlags::OVERRIDE;
            if router {
                flags |= NdiscNeighborFlags::ROUTER;
            }
            assert_eq!(
                repr,
                Icmpv6Repr::Ndisc(NdiscRepr::NeighborAdvert {
                    flags,
                    target_addr: target,
                    lladdr: Some(RawHardwareAddress::from_bytes(&MAC)),
                })
            );
        }
    }
}
