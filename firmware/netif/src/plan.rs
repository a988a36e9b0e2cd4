//! Desired interfaces against what the kernel has: the operations that close the gap.

use std::collections::BTreeSet;

use config::{IpPrefix, Route};

use crate::virtual_link::{BondMode, FailOverMac, LinkKind};
use crate::Owned;

/// One NIC as the configuration wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredLink {
    pub index: u32,
    /// The role name the NIC is given, so that `ip link` shows `ext`, `int`, `mgmt`.
    pub name: String,
    pub mtu: Option<u32>,
    pub addresses: Vec<IpPrefix>,
    /// Raised when down. A link not wanted up is left as it is (renamed, never raised).
    pub up: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Desired {
    pub links: Vec<DesiredLink>,
    pub routes: Vec<Route>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ActualLink {
    pub index: u32,
    pub name: String,
    pub mtu: u32,
    pub up: bool,
    pub addresses: Vec<IpPrefix>,
    /// Those of `addresses` the kernel does not send from yet: IPv6 ones still in
    /// duplicate address detection (tentative), for a second or two after the link
    /// came up.
    pub tentative: Vec<IpPrefix>,
    /// Those of `addresses` that failed duplicate address detection: never usable.
    pub dad_failed: Vec<IpPrefix>,
    /// A VLAN or bond (what lvsfw makes); `None` for a NIC and anything else.
    pub kind: Option<LinkKind>,
    /// The bond this link is a member of.
    pub master: Option<u32>,
}

/// What the kernel reports: every link, and the gateway routes of the main table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Actual {
    pub links: Vec<ActualLink>,
    pub routes: Vec<Route>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// The kernel renames only a link that is down: the kernel shell takes an `up` one
    /// down first (a SetUp follows when it is wanted up). One that is down, as every NIC
    /// is at boot, costs one request, not two.
    Rename {
        index: u32,
        from: String,
        to: String,
        up: bool,
    },
    SetMtu {
        index: u32,
        mtu: u32,
    },
    SetUp {
        index: u32,
    },
    DelAddress {
        index: u32,
        prefix: IpPrefix,
    },
    AddAddress {
        index: u32,
        prefix: IpPrefix,
    },
    DelRoute(Route),
    AddRoute(Route),
    AddVlan {
        name: String,
        parent: u32,
        id: u16,
    },
    AddBond {
        name: String,
        mode: BondMode,
        miimon_ms: u32,
        fail_over_mac: FailOverMac,
    },
    DelLink {
        index: u32,
        name: String,
    },
    /// Makes link `index` a member of the bond named `bond` (taken down first, as the
    /// bonding driver wants; the bond raises its members itself).
    Enslave {
        index: u32,
        bond: String,
    },
}

/// The operations that turn `actual` into `desired`, in the order they must run.
///
/// Addresses and routes that lvsfw does not own (not in `owned`) are never removed, so an
/// operator's or another component's additions survive; owned ones that are no longer
/// wanted are. Nothing that already matches is touched.
pub fn plan(desired: &Desired, actual: &Actual, owned: &Owned) -> Vec<Op> {
    let mut links = Vec::new();
    let mut del_addresses = Vec::new();
    let mut add_addresses = Vec::new();

    for want in &desired.links {
        let Some(have) = actual.links.iter().find(|l| l.index == want.index) else {
            continue;
        };
        if have.name != want.name {
            links.push(Op::Rename {
                index: want.index,
                from: have.name.clone(),
                to: want.name.clone(),
                up: have.up,
            });
        }
        if let Some(mtu) = want.mtu.filter(|&m| m != have.mtu) {
            links.push(Op::SetMtu {
                index: want.index,
                mtu,
            });
        }
        if want.up && (!have.up || have.name != want.name) {
            links.push(Op::SetUp { index: want.index });
        }
        for prefix in &want.addresses {
            if !have.addresses.contains(prefix) {
                add_addresses.push(Op::AddAddress {
                    index: want.index,
                    prefix: *prefix,
                });
            }
        }
    }

    let wanted_addresses: BTreeSet<(&str, IpPrefix)> = desired
        .links
        .iter()
        .flat_map(|l| l.addresses.iter().map(move |p| (l.name.as_str(), *p)))
        .collect();
    for (name, prefix) in &owned.addresses {
        if wanted_addresses.contains(&(name.as_str(), *prefix)) {
            continue;
        }
        // An owned address is found by the link's name at the time it was added, which
        // the role naming keeps stable across restarts of the balancer.
        let holder = actual
            .links
            .iter()
            .find(|l| &l.name == name && l.addresses.contains(prefix));
        if let Some(link) = holder {
            del_addresses.push(Op::DelAddress {
                index: link.index,
                prefix: *prefix,
            });
        }
    }

    let mut ops = links;
    ops.extend(del_addresses);
    ops.extend(add_addresses);
    for route in &owned.routes {
        if !desired.routes.contains(route) && actual.routes.contains(route) {
            ops.push(Op::DelRoute(*route));
        }
    }
    for route in &desired.routes {
        if !actual.routes.contains(route) {
            ops.push(Op::AddRoute(*route));
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> IpPrefix {
        text.parse().unwrap()
    }

    fn route(to: &str, via: &str) -> Route {
        Route {
            to: p(to),
            via: via.parse().unwrap(),
        }
    }

    fn fresh_boot() -> Actual {
        Actual {
            links: vec![
                ActualLink {
                    index: 1,
                    name: "lo".into(),
                    mtu: 65536,
                    up: true,
                    addresses: vec![p("127.0.0.1/8")],
                    ..Default::default()
                },
                ActualLink {
                    index: 2,
                    name: "eth0".into(),
                    mtu: 1500,
                    up: false,
                    addresses: vec![],
                    ..Default::default()
                },
                ActualLink {
                    index: 3,
                    name: "eth1".into(),
                    mtu: 1500,
                    up: false,
                    addresses: vec![],
                    ..Default::default()
                },
            ],
            routes: vec![],
        }
    }

    fn lb1() -> Desired {
        Desired {
            links: vec![
                DesiredLink {
                    index: 3,
                    name: "ext".into(),
                    mtu: None,
                    addresses: vec![p("192.168.0.101/24")],
                    up: true,
                },
                DesiredLink {
                    index: 2,
                    name: "int".into(),
                    mtu: Some(9000),
                    addresses: vec![p("192.168.33.20/24")],
                    up: true,
                },
            ],
            routes: vec![route("10.0.0.0/8", "192.168.0.1")],
        }
    }

    /// What the kernel looks like once `plan(lb1(), fresh_boot())` has been applied.
    fn applied() -> Actual {
        Actual {
            links: vec![
                ActualLink {
                    index: 1,
                    name: "lo".into(),
                    mtu: 65536,
                    up: true,
                    addresses: vec![p("127.0.0.1/8")],
                    ..Default::default()
                },
                ActualLink {
                    index: 2,
                    name: "int".into(),
                    mtu: 9000,
                    up: true,
                    addresses: vec![p("192.168.33.20/24")],
                    ..Default::default()
                },
                ActualLink {
                    index: 3,
                    name: "ext".into(),
                    mtu: 1500,
                    up: true,
                    addresses: vec![p("192.168.0.101/24")],
                    ..Default::default()
                },
            ],
            routes: vec![route("10.0.0.0/8", "192.168.0.1")],
        }
    }

    fn owned_after_lb1() -> Owned {
        Owned::from_desired(&lb1())
    }

    #[test]
    fn first_boot_renames_raises_and_addresses_in_order() {
        let ops = plan(&lb1(), &fresh_boot(), &Owned::default());
        assert_eq!(
            ops,
            vec![
                Op::Rename {
                    index: 3,
                    from: "eth1".into(),
                    to: "ext".into(),
                    up: false
                },
                Op::SetUp { index: 3 },
                Op::Rename {
                    index: 2,
                    from: "eth0".into(),
                    to: "int".into(),
                    up: false
                },
                Op::SetMtu {
                    index: 2,
                    mtu: 9000
                },
                Op::SetUp { index: 2 },
                Op::AddAddress {
                    index: 3,
                    prefix: p("192.168.0.101/24")
                },
                Op::AddAddress {
                    index: 2,
                    prefix: p("192.168.33.20/24")
                },
                Op::AddRoute(route("10.0.0.0/8", "192.168.0.1")),
            ]
        );
    }

    #[test]
    fn a_link_renamed_while_up_is_said_up_and_raised_again() {
        let mut running = fresh_boot();
        running.links[1].up = true;
        let ops = plan(&lb1(), &running, &Owned::default());
        let rename = ops.iter().position(|op| {
            *op == Op::Rename {
                index: 2,
                from: "eth0".into(),
                to: "int".into(),
                up: true,
            }
        });
        let raise = ops.iter().position(|op| *op == Op::SetUp { index: 2 });
        assert!(
            matches!((rename, raise), (Some(r), Some(u)) if r < u),
            "{ops:?}"
        );
    }

    #[test]
    fn a_link_not_wanted_up_is_named_but_never_raised() {
        let mut quiet = lb1();
        quiet.links[1] = DesiredLink {
            addresses: Vec::new(),
            mtu: None,
            up: false,
            ..quiet.links[1].clone()
        };
        quiet.routes.clear();
        let ops = plan(&quiet, &fresh_boot(), &Owned::default());
        assert!(ops.contains(&Op::Rename {
            index: 2,
            from: "eth0".into(),
            to: "int".into(),
            up: false
        }));
        assert!(!ops.contains(&Op::SetUp { index: 2 }), "{ops:?}");
        assert!(ops.contains(&Op::SetUp { index: 3 }));
    }

    #[test]
    fn nothing_to_do_when_the_kernel_already_matches() {
        assert_eq!(plan(&lb1(), &applied(), &owned_after_lb1()), vec![]);
    }

    #[test]
    fn addresses_not_owned_are_left_alone() {
        let mut actual = applied();
        actual.links[2].addresses.push(p("192.168.0.100/32")); // a VIP another component added
        actual.links[1].addresses.push(p("fe80::1/64"));
        actual.routes.push(route("172.16.0.0/12", "192.168.33.1"));
        assert_eq!(plan(&lb1(), &actual, &owned_after_lb1()), vec![]);
    }

    #[test]
    fn owned_addresses_and_routes_no_longer_wanted_are_removed() {
        let mut desired = lb1();
        desired.links[0].addresses = vec![p("192.168.0.102/24")];
        desired.routes.clear();
        assert_eq!(
            plan(&desired, &applied(), &owned_after_lb1()),
            vec![
                Op::DelAddress {
                    index: 3,
                    prefix: p("192.168.0.101/24")
                },
                Op::AddAddress {
                    index: 3,
                    prefix: p("192.168.0.102/24")
                },
                Op::DelRoute(route("10.0.0.0/8", "192.168.0.1")),
            ]
        );
    }

    #[test]
    fn a_role_dropped_from_the_config_loses_its_owned_addresses() {
        let mut desired = lb1();
        desired.links.remove(1);
        assert_eq!(
            plan(&desired, &applied(), &owned_after_lb1()),
            vec![Op::DelAddress {
                index: 2,
                prefix: p("192.168.33.20/24")
            }]
        );
    }

    #[test]
    fn a_link_that_went_down_is_raised_again_without_other_changes() {
        let mut actual = applied();
        actual.links[1].up = false;
        assert_eq!(
            plan(&lb1(), &actual, &owned_after_lb1()),
            vec![Op::SetUp { index: 2 }]
        );
    }

    #[test]
    fn a_missing_route_is_restored() {
        let mut actual = applied();
        actual.routes.clear();
        assert_eq!(
            plan(&lb1(), &actual, &owned_after_lb1()),
            vec![Op::AddRoute(route("10.0.0.0/8", "192.168.0.1"))]
        );
    }

    #[test]
    fn links_the_kernel_does_not_have_are_skipped() {
        let mut desired = lb1();
        desired.links[0].index = 42;
        let ops = plan(&desired, &applied(), &owned_after_lb1());
        assert_eq!(ops, vec![]);
    }
}
