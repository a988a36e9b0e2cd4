//! Links lvsfw makes itself rather than finds: 802.1Q VLANs and bonds of NICs, each
//! named after the role it serves. Pure: the kernel's links come in, operations go out.

use crate::{Actual, Op};

pub use config::board::{BondMode, FailOverMac};

/// What a link lvsfw makes is, as the kernel reports it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// 802.1Q VLAN `id` on the link with index `parent`.
    Vlan { parent: u32, id: u16 },
    /// A bond; `mode` is `None` for a mode lvsfw does not make. `miimon_ms` is how often
    /// the members' carrier is looked at.
    Bond {
        mode: Option<BondMode>,
        miimon_ms: u32,
        fail_over_mac: Option<FailOverMac>,
    },
}

/// A link to make: its name, what it is, and for a bond the indexes of its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredVirtual {
    pub name: String,
    pub kind: LinkKind,
    pub members: Vec<u32>,
}

/// The operations that make the `desired` links exist as asked, in order, and what
/// cannot be done. A link of the wanted name but another kind or setting is removed
/// and made again if it is a VLAN or bond; a NIC of that name (a role that was a NIC
/// and is a VLAN now) is a problem, not something to delete. VLANs and bonds named
/// in `ours` that are no longer wanted are removed.
pub fn plan_virtual(
    desired: &[DesiredVirtual],
    actual: &Actual,
    ours: &[&str],
) -> (Vec<Op>, Vec<String>) {
    let mut ops = Vec::new();
    let mut problems = Vec::new();
    for stale in actual.links.iter().filter(|l| {
        l.kind.is_some()
            && ours.contains(&l.name.as_str())
            && !desired.iter().any(|d| d.name == l.name)
    }) {
        ops.push(Op::DelLink {
            index: stale.index,
            name: stale.name.clone(),
        });
    }
    for want in desired {
        let have = actual.links.iter().find(|l| l.name == want.name);
        let create = match have {
            None => true,
            Some(l) if l.kind == Some(want.kind) => false,
            Some(l) if l.kind.is_some() => {
                ops.push(Op::DelLink {
                    index: l.index,
                    name: l.name.clone(),
                });
                true
            }
            Some(_) => {
                problems.push(format!(
                    "{}: a NIC already has this name; it becomes a {} at the next boot",
                    want.name,
                    what(&want.kind)
                ));
                continue;
            }
        };
        if create {
            ops.push(match want.kind {
                LinkKind::Vlan { parent, id } => Op::AddVlan {
                    name: want.name.clone(),
                    parent,
                    id,
                },
                LinkKind::Bond {
                    mode,
                    miimon_ms,
                    fail_over_mac,
                } => Op::AddBond {
                    name: want.name.clone(),
                    mode: mode.unwrap_or(BondMode::ActiveBackup),
                    miimon_ms,
                    fail_over_mac: fail_over_mac.unwrap_or_default(),
                },
            });
        }
        let bond_index = have.filter(|_| !create).map(|l| l.index);
        for &member in &want.members {
            let enslaved = actual
                .links
                .iter()
                .any(|l| l.index == member && l.master.is_some() && l.master == bond_index);
            if !enslaved {
                ops.push(Op::Enslave {
                    index: member,
                    bond: want.name.clone(),
                });
            }
        }
    }
    (ops, problems)
}

fn what(kind: &LinkKind) -> String {
    match kind {
        LinkKind::Vlan { id, .. } => format!("VLAN {id}"),
        LinkKind::Bond { .. } => "bond".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ActualLink;

    fn nic(index: u32, name: &str) -> ActualLink {
        ActualLink {
            index,
            name: name.into(),
            mtu: 1500,
            ..Default::default()
        }
    }

    fn vlan_on_int(id: u16) -> DesiredVirtual {
        DesiredVirtual {
            name: "mgmt".into(),
            kind: LinkKind::Vlan { parent: 3, id },
            members: vec![],
        }
    }

    #[test]
    fn a_missing_vlan_is_made_and_one_that_matches_is_left() {
        let mut actual = Actual {
            links: vec![nic(2, "ext"), nic(3, "int")],
            routes: vec![],
        };
        let (ops, problems) = plan_virtual(&[vlan_on_int(10)], &actual, &["mgmt"]);
        assert_eq!(
            ops,
            vec![Op::AddVlan {
                name: "mgmt".into(),
                parent: 3,
                id: 10
            }]
        );
        assert!(problems.is_empty());
        actual.links.push(ActualLink {
            kind: Some(LinkKind::Vlan { parent: 3, id: 10 }),
            ..nic(5, "mgmt")
        });
        assert_eq!(
            plan_virtual(&[vlan_on_int(10)], &actual, &["mgmt"]),
            (vec![], vec![])
        );
        // Another VLAN ID: removed and made again; no VLAN wanted: removed.
        assert_eq!(
            plan_virtual(&[vlan_on_int(20)], &actual, &["mgmt"]).0,
            vec![
                Op::DelLink {
                    index: 5,
                    name: "mgmt".into()
                },
                Op::AddVlan {
                    name: "mgmt".into(),
                    parent: 3,
                    id: 20
                }
            ]
        );
        assert_eq!(
            plan_virtual(&[], &actual, &["mgmt"]).0,
            vec![Op::DelLink {
                index: 5,
                name: "mgmt".into()
            }]
        );
        // An operator's VLAN with another name is not ours to remove.
        assert_eq!(plan_virtual(&[], &actual, &["ext"]).0, vec![]);
    }

    #[test]
    fn a_nic_in_the_way_is_a_problem_not_a_deletion() {
        let actual = Actual {
            links: vec![nic(3, "int"), nic(4, "mgmt")],
            routes: vec![],
        };
        let (ops, problems) = plan_virtual(&[vlan_on_int(10)], &actual, &["mgmt"]);
        assert_eq!(ops, vec![]);
        assert_eq!(
            problems,
            vec!["mgmt: a NIC already has this name; it becomes a VLAN 10 at the next boot"]
        );
    }

    #[test]
    fn a_bond_is_made_and_its_members_enslaved_once() {
        let bond = DesiredVirtual {
            name: "ext".into(),
            kind: LinkKind::Bond {
                mode: Some(BondMode::ActiveBackup),
                miimon_ms: 100,
                fail_over_mac: Some(FailOverMac::None),
            },
            members: vec![2, 6],
        };
        let mut actual = Actual {
            links: vec![nic(2, "eth0"), nic(6, "eth3")],
            routes: vec![],
        };
        assert_eq!(
            plan_virtual(std::slice::from_ref(&bond), &actual, &["ext"]).0,
            vec![
                Op::AddBond {
                    name: "ext".into(),
                    mode: BondMode::ActiveBackup,
                    miimon_ms: 100,
                    fail_over_mac: FailOverMac::None,
                },
                Op::Enslave {
                    index: 2,
                    bond: "ext".into()
                },
                Op::Enslave {
                    index: 6,
                    bond: "ext".into()
                },
            ]
        );
        actual.links.push(ActualLink {
            kind: Some(bond.kind),
            ..nic(7, "ext")
        });
        actual.links[0].master = Some(7);
        assert_eq!(
            plan_virtual(std::slice::from_ref(&bond), &actual, &["ext"]).0,
            vec![Op::Enslave {
                index: 6,
                bond: "ext".into()
            }]
        );
        actual.links[1].master = Some(7);
        assert_eq!(plan_virtual(&[bond], &actual, &["ext"]), (vec![], vec![]));
    }

    #[test]
    fn bonding_modes_by_the_kernel_s_names() {
        assert_eq!("802.3ad".parse(), Ok(BondMode::Lacp));
        assert_eq!("active-backup".parse(), Ok(BondMode::ActiveBackup));
        assert_eq!(
            "balance-rr".parse::<BondMode>(),
            Err("\"balance-rr\" is not a bonding mode (expected active-backup or 802.3ad)".into())
        );
    }
}
