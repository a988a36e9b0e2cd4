//! Telling the segment where a virtual address now lives: gratuitous ARP for IPv4 and
//! unsolicited neighbour advertisements for IPv6, built with smoltcp's wire types.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd};

use nix::sys::socket::{bind, LinkAddr, SockaddrLike};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    EthernetRepr, Icmpv6Packet, Icmpv6Repr, NdiscNeighborFlags, NdiscRepr, RawHardwareAddress,
};

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

/// An ICMPv6 neighbour advertisement for `target` with the Override flag and our MAC,
/// sent unsolicited to all nodes (RFC 4861 §7.2.6). `src` is the sending interface's
/// link-local address, which the checksum covers.
pub fn unsolicited_na(mac: [u8; 6], target: Ipv6Addr, src: Ipv6Addr) -> Vec<u8> {
    let repr = Icmpv6Repr::Ndisc(NdiscRepr::NeighborAdvert {
        flags: NdiscNeighborFlags::OVERRIDE,
        target_addr: target,
        lladdr: Some(RawHardwareAddress::from_bytes(&mac)),
    });
    let mut bytes = vec![0u8; repr.buffer_len()];
    let mut packet = Icmpv6Packet::new_unchecked(&mut bytes[..]);
    repr.emit(
        &src,
        &ALL_NODES,
        &mut packet,
        &ChecksumCapabilities::default(),
    );
    bytes
}

/// Sends announcements out of one interface.
pub struct Announcer {
    /// AF_PACKET, bound to the interface with no protocol (it sends, never receives):
    /// gratuitous ARP is a link-layer frame.
    arp: Socket,
    /// Raw ICMPv6, bound to the interface; the kernel fills in the ICMPv6 checksum.
    icmp6: Option<Socket>,
    mac: [u8; 6],
    ifindex: u32,
    link_local: Option<Ipv6Addr>,
}

impl Announcer {
    pub fn open(
        ifname: &str,
        ifindex: u32,
        mac: [u8; 6],
        link_local: Option<Ipv6Addr>,
    ) -> io::Result<Announcer> {
        // Protocol 0, here and in the bind: the socket only sends, so it never joins the
        // receive path. With ETH_P_ARP it would get a copy of every ARP frame on the
        // segment, and its bind would have to unhook it first, which waits for an RCU
        // grace period (synchronize_net): 20 ms of lvsfw's start measured under strace,
        // more on a loaded machine, all before the Master_Down_Timer could start.
        let arp = Socket::new(Domain::PACKET, Type::RAW, None)?;
        bind_to_link(&arp, ifindex)?;
        let icmp6 = match link_local {
            Some(_) => {
                let s = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6))?;
                s.bind_device(Some(ifname.as_bytes()))?;
                s.set_multicast_hops_v6(255)?;
                s.set_multicast_if_v6(ifindex)?;
                Some(s)
            }
            None => None,
        };
        Ok(Announcer {
            arp,
            icmp6,
            mac,
            ifindex,
            link_local,
        })
    }

    /// One gratuitous ARP or unsolicited NA for `address`.
    pub fn announce(&self, address: IpAddr) -> io::Result<()> {
        match address {
            IpAddr::V4(ip) => self.arp.send(&gratuitous_arp(self.mac, ip)).map(|_| ()),
            IpAddr::V6(ip) => {
                let (Some(socket), Some(src)) = (&self.icmp6, self.link_local) else {
                    return Err(io::Error::new(
                        io::ErrorKind::Unsupported,
                        "no IPv6 on this interface",
                    ));
                };
                let to = SockAddr::from(SocketAddrV6::new(ALL_NODES, 0, 0, self.ifindex));
                socket
                    .send_to(&unsolicited_na(self.mac, ip, src), &to)
                    .map(|_| ())
            }
        }
    }
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
    fn neighbour_advertisement_parses_back_with_a_valid_checksum() {
        let src: Ipv6Addr = "fe80::5054:ff:fe00:10".parse().unwrap();
        let target: Ipv6Addr = "fd00::100".parse().unwrap();
        let bytes = unsolicited_na(MAC, target, src);
        assert_eq!(bytes.len(), 32);
        let packet = Icmpv6Packet::new_checked(&bytes[..]).unwrap();
        assert!(packet.verify_checksum(&src, &ALL_NODES));
        let repr =
            Icmpv6Repr::parse(&src, &ALL_NODES, &packet, &ChecksumCapabilities::default()).unwrap();
        assert_eq!(
            repr,
            Icmpv6Repr::Ndisc(NdiscRepr::NeighborAdvert {
                flags: NdiscNeighborFlags::OVERRIDE,
                target_addr: target,
                lladdr: Some(RawHardwareAddress::from_bytes(&MAC)),
            })
        );
    }
}
