//! Host test (root): keepalived's routes and rules installed, read back as what was
//! wanted (so a second plan has nothing to do), and removed, over rtnetlink, inside a
//! network namespace of the test's own; the operator's route and rule stay.

use std::process::Command;

use netif::kernel::Kernel;
use netif::routes::{plan, RouteSpec, RuleSpec, UNICAST};

fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn route(to: &str, via: &str, table: u32, oif: Option<u32>) -> RouteSpec {
    RouteSpec {
        to: to.parse().unwrap(),
        table,
        kind: UNICAST,
        protocol: 18,
        scope: 0,
        metric: None,
        src: None,
        via: Some(via.parse().unwrap()),
        oif,
        onlink: false,
    }
}

#[test]
fn routes_and_rules_go_in_read_back_as_wanted_and_come_out() {
    std::thread::spawn(|| {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare: run as root");
        ip(&["link", "add", "int", "type", "veth", "peer", "name", "peer"]);
        ip(&["link", "set", "int", "up"]);
        ip(&["link", "set", "peer", "up"]);
        ip(&["addr", "add", "192.168.33.20/24", "dev", "int"]);
        ip(&["addr", "add", "fd00:33::20/64", "dev", "int", "nodad"]);
        // The operator's: the same destination in the main table by another protocol
        // is refused by the kernel (one key), so another destination, and a rule.
        ip(&["route", "add", "10.7.0.0/16", "via", "192.168.33.1", "proto", "static"]);
        ip(&["rule", "add", "from", "192.168.7.0/24", "table", "7", "priority", "700"]);
        let index: u32 = ip(&["-o", "link", "show", "int"])
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
            let mut metric = route("10.9.0.0/16", "192.168.33.1", 1000, Some(index));
            metric.metric = Some(9);
            let routes = vec![
                route("10.8.0.0/16", "192.168.33.1", 254, Some(index)),
                metric,
                route("fd00:8::/64", "fd00:33::1", 254, None),
            ];
            let rules = vec![
                RuleSpec {
                    ipv6: false,
                    priority: 16384,
                    from: Some("192.168.8.0/24".parse().unwrap()),
                    to: None,
                    table: 8,
                    fwmark: Some(16),
                    fwmask: Some(255),
                    iif: Some("int".into()),
                    oif: None,
                    protocol: 18,
                },
                RuleSpec {
                    ipv6: true,
                    priority: 16384,
                    from: None,
                    to: Some("fd00:8::/64".parse().unwrap()),
                    table: 1000,
                    fwmark: None,
                    fwmask: None,
                    iif: None,
                    oif: None,
                    protocol: 18,
                },
            ];
            let before = kernel.read_installed().await.unwrap();
            let p = plan(&routes, &before.routes, &[]);
            assert_eq!(p.add, routes);
            for r in &p.add {
                kernel.add_route(r).await.unwrap();
            }
            let q = plan(&rules, &before.rules, &[]);
            for r in &q.add {
                kernel.add_rule(r).await.unwrap();
            }
            let shown = ip(&["route", "show", "table", "1000"]);
            assert!(
                shown.contains("10.9.0.0/16 via 192.168.33.1 dev int proto keepalived metric 9"),
                "{shown}"
            );
            let shown = ip(&["-6", "route", "show", "fd00:8::/64"]);
            assert!(shown.contains("proto keepalived"), "{shown}");
            let shown = ip(&["rule", "show"]);
            assert!(
                shown.contains("16384:\tfrom 192.168.8.0/24 fwmark 0x10/0xff iif int lookup 8 proto keepalived"),
                "{shown}"
            );
            // Read back: the kernel holds what was wanted, nothing left to do.
            let now = kernel.read_installed().await.unwrap();
            assert!(plan(&routes, &now.routes, &routes).is_empty());
            assert!(plan(&rules, &now.rules, &rules).is_empty());
            // Added again: the kernel says it has them.
            let again = kernel.add_route(&routes[0]).await.unwrap_err();
            assert_eq!(again.errno(), Some(17), "{again}");
            // No longer wanted: out, and only ours.
            let out = plan(&[], &now.routes, &routes);
            assert_eq!(out.remove, routes);
            for r in &out.remove {
                kernel.del_route(r).await.unwrap();
            }
            for r in &plan(&[], &now.rules, &rules).remove {
                kernel.del_rule(r).await.unwrap();
            }
            let gone = kernel.del_route(&routes[0]).await.unwrap_err();
            assert_eq!(gone.errno(), Some(3), "{gone}");
            let left = ip(&["route", "show", "table", "all"]);
            assert!(!left.contains("proto keepalived"), "{left}");
            assert!(left.contains("10.7.0.0/16 via 192.168.33.1 dev int proto static"), "{left}");
            let left = ip(&["rule", "show"]);
            assert!(!left.contains("proto keepalived"), "{left}");
            assert!(left.contains("from 192.168.7.0/24 lookup 7"), "{left}");
        });
    })
    .join()
    .unwrap();
}
