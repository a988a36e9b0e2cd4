//! Host test (root): keepalived's use_vmac macvlan made, found again, corrected and
//! removed over rtnetlink, inside a network namespace of the test's own.

use std::path::Path;
use std::process::Command;

use netif::kernel::Kernel;
use netif::vmac::{virtual_mac, Vmac};

fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("ip");
    assert!(out.status.success(), "ip {args:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sysctl(path: &str) -> String {
    std::fs::read_to_string(Path::new("/proc/sys").join(path))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn a_macvlan_with_the_vrrp_mac_is_made_kept_corrected_and_removed() {
    std::thread::spawn(|| {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare: run as root");
        ip(&["link", "add", "lb", "type", "veth", "peer", "name", "peer"]);
        ip(&["link", "set", "lb", "up"]);
        ip(&["link", "set", "peer", "up"]);
        let parent: u32 = ip(&["-o", "link", "show", "lb"])
            .split(':')
            .next()
            .and_then(|n| n.trim().parse().ok())
            .expect("index");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let kernel = Kernel::connect().unwrap();
            let vmac = Vmac {
                name: "vrrp.51".into(),
                parent,
                parent_name: "lb".into(),
                mac: virtual_mac(51, false),
                ipv6: false,
            };
            let proc_sys = Path::new("/proc/sys");
            let index = kernel.ensure_vmac(&vmac, proc_sys).await.unwrap();
            let shown = ip(&["-d", "-o", "link", "show", "vrrp.51"]);
            assert!(shown.contains("link/ether 00:00:5e:00:01:33"), "{shown}");
            assert!(shown.contains("macvlan mode private"), "{shown}");
            assert!(
                shown.contains("state UP") || shown.contains(",UP"),
                "{shown}"
            );
            assert_eq!(sysctl("net/ipv4/conf/vrrp.51/arp_ignore"), "1");
            assert_eq!(sysctl("net/ipv4/conf/vrrp.51/rp_filter"), "0");
            assert_eq!(sysctl("net/ipv6/conf/vrrp.51/disable_ipv6"), "1");
            assert_eq!(sysctl("net/ipv4/conf/lb/arp_ignore"), "1");
            assert_eq!(sysctl("net/ipv4/conf/lb/arp_filter"), "1");
            assert_eq!(sysctl("net/ipv4/conf/lb/arp_announce"), "2");
            // Made again: the same link, untouched.
            assert_eq!(kernel.ensure_vmac(&vmac, proc_sys).await.unwrap(), index);
            // One left behind with another MAC is made right.
            ip(&["link", "set", "vrrp.51", "address", "02:00:00:00:00:01"]);
            kernel.ensure_vmac(&vmac, proc_sys).await.unwrap();
            let shown = ip(&["-o", "link", "show", "vrrp.51"]);
            assert!(shown.contains("00:00:5e:00:01:33"), "{shown}");
            // A link of that name that is not a macvlan is not ours to change.
            let dummy = Vmac {
                name: "peer".into(),
                ..vmac.clone()
            };
            let refused = kernel.ensure_vmac(&dummy, proc_sys).await.unwrap_err();
            assert!(refused.to_string().contains("not a macvlan"), "{refused}");
            // Removed: gone, and the parent's settings are back.
            kernel.remove_vmac(&vmac, proc_sys).await.unwrap();
            let out = Command::new("ip")
                .args(["link", "show", "vrrp.51"])
                .output()
                .unwrap();
            assert!(!out.status.success(), "vrrp.51 still exists");
            assert_eq!(sysctl("net/ipv4/conf/lb/arp_ignore"), "0");
            assert_eq!(sysctl("net/ipv4/conf/lb/arp_filter"), "0");
            assert_eq!(sysctl("net/ipv4/conf/lb/arp_announce"), "0");
        });
    })
    .join()
    .unwrap();
}
