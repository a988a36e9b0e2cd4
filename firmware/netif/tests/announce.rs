//! Host test (root): a gratuitous ARP leaves one end of a veth pair, inside a network
//! namespace of the test's own, and arrives at the other end byte for byte.

use std::mem::MaybeUninit;
use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;
use std::time::{Duration, Instant};

use netif::announce::{gratuitous_arp, Announcer};
use socket2::{Domain, Protocol, Socket, Type};

fn ip(args: &[&str]) {
    let status = Command::new("ip").args(args).status().expect("ip");
    assert!(status.success(), "ip {args:?}");
}

/// The index of a link in the current thread's network namespace (sysfs follows the
/// mount namespace, so it would show the host's links).
fn link_index(name: &str) -> i32 {
    let out = Command::new("ip")
        .args(["-o", "link", "show", name])
        .output()
        .expect("ip");
    let text = String::from_utf8_lossy(&out.stdout);
    text.split(':')
        .next()
        .and_then(|n| n.trim().parse().ok())
        .expect("link index")
}

/// In a private network namespace: `lb` (52:54:00:00:00:10) and its peer `peer`.
fn veth_pair() {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare: run as root");
    ip(&[
        "link",
        "add",
        "name",
        "lb",
        "address",
        "52:54:00:00:00:10",
        "type",
        "veth",
        "peer",
        "name",
        "peer",
    ]);
}

#[test]
fn gratuitous_arp_reaches_the_segment() {
    std::thread::spawn(|| {
        veth_pair();
        ip(&["link", "set", "lb", "up"]);
        ip(&["link", "set", "peer", "up"]);
        let peer_index = link_index("peer");
        let lb_index = link_index("lb") as u32;

        let listener = Socket::new(
            Domain::PACKET,
            Type::RAW,
            Some(Protocol::from(i32::from(0x0806u16.to_be()))),
        )
        .unwrap();
        listener
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mac = [0x52, 0x54, 0, 0, 0, 0x10];
        let announcer = Announcer::open("lb", lb_index).unwrap();
        let vip = Ipv4Addr::new(192, 168, 0, 100);
        announcer.announce(IpAddr::V4(vip)).unwrap();

        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            assert!(
                Instant::now() < deadline,
                "no gratuitous ARP seen on the peer"
            );
            let mut buf = [MaybeUninit::<u8>::uninit(); 128];
            let (n, from) = listener.recv_from(&mut buf).expect("receive");
            // SAFETY: the first n bytes were written by recv_from.
            let frame: Vec<u8> = buf[..n]
                .iter()
                .map(|b| unsafe { b.assume_init() })
                .collect();
            // SAFETY: a packet socket's source address is a sockaddr_ll.
            let ll = unsafe { &*(from.as_ptr() as *const nix::libc::sockaddr_ll) };
            if ll.sll_ifindex == peer_index {
                assert_eq!(frame[..42], gratuitous_arp(mac, vip));
                break;
            }
        }
    })
    .join()
    .unwrap();
}

#[test]
fn a_changed_mac_is_noticed_once_and_announced_with() {
    std::thread::spawn(|| {
        veth_pair();
        let announcer = Announcer::open("lb", link_index("lb") as u32).unwrap();
        assert_eq!(announcer.mac_changed(), None);
        // A bond with fail_over_mac active takes its new active member's MAC.
        ip(&["link", "set", "lb", "address", "52:54:00:00:00:18"]);
        assert_eq!(announcer.mac_changed(), Some([0x52, 0x54, 0, 0, 0, 0x18]));
        assert_eq!(announcer.mac_changed(), None, "said once");
    })
    .join()
    .unwrap();
}
