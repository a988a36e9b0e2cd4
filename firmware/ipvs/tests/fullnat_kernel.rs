//! The FNAT transaction against the running kernel's nf_tables, in a network namespace
//! of the test's own (root, as the other kernel tests). The appliance's lab test
//! (tests/tests/fullnat.rs) shows the traffic.

use std::net::IpAddr;

use ipvs::fullnat::{apply, SourceNat};
use ipvs::{Protocol, ServiceKey};

#[test]
fn the_kernel_takes_the_table_replaces_it_and_removes_it() {
    // A thread of its own: unshare moves only the calling thread.
    std::thread::spawn(|| {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("a network namespace");
        let vip: IpAddr = "192.168.0.100".parse().unwrap();
        let v6: IpAddr = "fd00::100".parse().unwrap();
        let rules = [
            SourceNat {
                service: ServiceKey::Addr {
                    protocol: Protocol::Tcp,
                    addr: vip,
                    port: 80,
                },
                real_server: None,
            },
            SourceNat {
                service: ServiceKey::Addr {
                    protocol: Protocol::Udp,
                    addr: v6,
                    port: 0,
                },
                real_server: Some(("fd01::5".parse().unwrap(), 53)),
            },
            SourceNat {
                service: ServiceKey::Fwmark {
                    ipv6: false,
                    mark: 9,
                },
                real_server: None,
            },
        ];
        apply(&rules).expect("the kernel takes the FNAT table");
        // Again (replaced whole), then fewer, then none at all.
        apply(&rules).expect("replaced");
        apply(&rules[..1]).expect("one rule");
        apply(&[]).expect("removed");
        apply(&[]).expect("removing an absent table is no error");
    })
    .join()
    .unwrap();
}
