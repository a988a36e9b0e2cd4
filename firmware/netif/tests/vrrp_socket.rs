//! Host test (root): a VRRP socket in a network namespace of the test's own, on its
//! loopback, sends and receives real protocol-112 packets.

use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;

use netif::vrrp_socket::VrrpSocket;

/// Moves this test's thread into a fresh network namespace (namespaces are per thread),
/// so nothing it sends can leave it; the namespace dies with the thread.
fn private_network() {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
        .expect("unshare(CLONE_NEWNET): run as root");
    let status = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .expect("ip");
    assert!(status.success());
}

#[test]
fn sends_and_receives_protocol_112_with_ttl_255() {
    std::thread::spawn(|| {
        private_network();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let local = IpAddr::V4(Ipv4Addr::LOCALHOST);
            let receiver = VrrpSocket::open("lo", 1, local, false).unwrap();
            let sender = VrrpSocket::open("lo", 1, local, false).unwrap();
            let payload = [
                0x31, 0x34, 0x96, 0x01, 0x00, 0x32, 0xd5, 0xee, 0xc0, 0xa8, 0x00, 0x64,
            ];
            sender.send(&payload, local).unwrap();
            let got = tokio::time::timeout(std::time::Duration::from_secs(5), receiver.recv())
                .await
                .expect("no packet within 5 s")
                .unwrap();
            assert_eq!(got.payload, payload);
            assert_eq!(got.ttl, 255);
            assert_eq!((got.src, got.dst), (local, local));
        });
    })
    .join()
    .unwrap();
}

#[test]
fn ipv6_reports_hop_limit_and_destination_from_control_messages() {
    std::thread::spawn(|| {
        private_network();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let local = IpAddr::V6(std::net::Ipv6Addr::LOCALHOST);
            let receiver = VrrpSocket::open("lo", 1, local, false).unwrap();
            let sender = VrrpSocket::open("lo", 1, local, false).unwrap();
            let payload = [0x31, 0x35, 0xc8, 0x00, 0x00, 0x64, 0x00, 0x00];
            sender.send(&payload, local).unwrap();
            let got = tokio::time::timeout(std::time::Duration::from_secs(5), receiver.recv())
                .await
                .expect("no packet within 5 s")
                .unwrap();
            assert_eq!(got.payload, payload);
            assert_eq!(got.ttl, 255);
            assert_eq!((got.src, got.dst), (local, local));
        });
    })
    .join()
    .unwrap();
}
