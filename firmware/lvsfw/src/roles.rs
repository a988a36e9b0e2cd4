//! Where each role's link comes from: a NIC of the board (found by PCI address or MAC,
//! never by probe order), an 802.1Q VLAN on another role's link, or a bond of NICs. The
//! board says it (`nic ROLE ...`); the configuration may make a role a VLAN, which wins,
//! so that an operator can put management on a VLAN of a two-NIC box.
//!
//! A VLAN or bond is made by lvsfw and named after its role, so it is found by name; a
//! NIC is found in sysfs and renamed to its role.

use std::path::Path;

use config::{Config, Role, Vlan};
use netif::{BondMode, FailOverMac, NicMatch};

/// How a role's link is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleLink {
    Nic(NicMatch),
    Vlan(Vlan),
    Bond(Bond),
}

/// A bond of NICs (the kernel's bonding driver, Documentation/networking/bonding.rst).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bond {
    pub mode: BondMode,
    /// How often the members' carrier is looked at; bonding's own default is 0 (never),
    /// which would leave a dead member active, so lvsfw's is 100 ms.
    pub miimon_ms: u32,
    pub fail_over_mac: FailOverMac,
    pub members: Vec<NicMatch>,
}

/// The default `miimon` of a board's bond.
pub const MIIMON_MS: u32 = 100;

/// Reads the words after `nic ROLE` of a board file:
/// `pci ADDRESS`, `mac ADDRESS`, `vlan ID on ROLE` or
/// `bond MODE [miimon MS] [fail_over_mac none|active] pci|mac ADDRESS [pci|mac ADDRESS...]`. An error names the word
/// (its index in `words`) it is about.
pub fn parse_nic(role: Role, words: &[&str]) -> Result<RoleLink, (usize, String)> {
    match words {
        ["vlan", id, "on", on] => {
            let id: u16 = id
                .parse()
                .ok()
                .filter(|id| Vlan::IDS.contains(id))
                .ok_or((1, format!("\"{id}\" is not a VLAN ID (1 to 4094)")))?;
            let on: Role = on.parse().map_err(|why| (3, why))?;
            if on == role {
                return Err((3, format!("{role} cannot be a VLAN on itself")));
            }
            Ok(RoleLink::Vlan(Vlan { id, on }))
        }
        ["vlan", ..] => Err((0, "vlan: expected vlan ID on ROLE".into())),
        ["bond", mode, rest @ ..] => {
            let mode: BondMode = mode.parse().map_err(|why| (1, why))?;
            let mut miimon_ms = MIIMON_MS;
            let mut fail_over_mac = FailOverMac::None;
            let mut members = Vec::new();
            let mut at = 2;
            while at < words.len() {
                match &words[at..] {
                    ["miimon", ms, ..] => {
                        miimon_ms = ms
                            .parse()
                            .ok()
                            .filter(|ms| (1..=10_000).contains(ms))
                            .ok_or((at + 1, format!("miimon: \"{ms}\" is not 1 to 10000 ms")))?;
                    }
                    ["fail_over_mac", policy, ..] => {
                        fail_over_mac = policy.parse().map_err(|why| (at + 1, why))?;
                    }
                    [kind, value, ..] => {
                        members.push(NicMatch::parse(kind, value).map_err(|why| (at, why))?)
                    }
                    [_] => return Err((at, "bond: a member is pci ADDRESS or mac ADDRESS".into())),
                    [] => {}
                }
                at += 2;
            }
            if rest.is_empty() || members.is_empty() {
                return Err((
                    0,
                    "bond: expected bond MODE [miimon MS] [fail_over_mac none|active] pci|mac ADDRESS...".into(),
                ));
            }
            Ok(RoleLink::Bond(Bond {
                mode,
                miimon_ms,
                fail_over_mac,
                members,
            }))
        }
        [kind, value] => NicMatch::parse(kind, value)
            .map(RoleLink::Nic)
            .map_err(|why| (0, why)),
        _ => Err((
            0,
            "expected ROLE pci|mac ADDRESS, ROLE vlan ID on ROLE or ROLE bond MODE ...".into(),
        )),
    }
}

/// How `role`'s link is made on this box: the configuration's VLAN, else the board's.
pub fn link(board: &crate::board::Board, config: Option<&Config>, role: Role) -> Option<RoleLink> {
    if let Some(vlan) = config.and_then(|c| c.interface(role)).and_then(|i| i.vlan) {
        return Some(RoleLink::Vlan(vlan));
    }
    board.nic(role).cloned()
}

/// The roles this box has: the board's, and those the configuration makes VLANs.
pub fn present(board: &crate::board::Board, config: Option<&Config>) -> Vec<Role> {
    Role::ALL
        .into_iter()
        .filter(|r| link(board, config, *r).is_some())
        .collect()
}

/// The index of `role`'s link in the kernel now, given the kernel's links by index and
/// name: a NIC found in sysfs under `class_net`, a VLAN or bond by its name.
pub fn find(
    board: &crate::board::Board,
    config: Option<&Config>,
    role: Role,
    class_net: &Path,
    links: &[(u32, &str)],
) -> Result<u32, String> {
    match link(board, config, role) {
        None => Err(format!("board {} has no {role} NIC", board.name)),
        Some(RoleLink::Nic(matcher)) => netif::nic::find(class_net, &matcher)
            .map(|found| found.index)
            .ok_or_else(|| format!("{role}: no NIC at {matcher}")),
        Some(RoleLink::Vlan(Vlan { id, on })) => by_name(role, links)
            .ok_or_else(|| format!("{role}: VLAN {id} on {on} is not there (yet)")),
        Some(RoleLink::Bond(_)) => {
            by_name(role, links).ok_or_else(|| format!("{role}: its bond is not there (yet)"))
        }
    }
}

fn by_name(role: Role, links: &[(u32, &str)]) -> Option<u32> {
    links
        .iter()
        .find(|(_, name)| *name == role.name())
        .map(|(index, _)| *index)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<&str> {
        text.split_whitespace().collect()
    }

    #[test]
    fn a_role_is_a_nic_a_vlan_or_a_bond() {
        assert_eq!(
            parse_nic(Role::Ext, &words("pci 0000:00:10.0")),
            Ok(RoleLink::Nic(NicMatch::Pci("0000:00:10.0".into())))
        );
        assert_eq!(
            parse_nic(Role::Mgmt, &words("vlan 10 on int")),
            Ok(RoleLink::Vlan(Vlan {
                id: 10,
                on: Role::Int
            }))
        );
        assert_eq!(
            parse_nic(
                Role::Ext,
                &words("bond active-backup pci 0000:00:10.0 mac 52:54:00:00:00:14")
            ),
            Ok(RoleLink::Bond(Bond {
                mode: BondMode::ActiveBackup,
                miimon_ms: MIIMON_MS,
                fail_over_mac: FailOverMac::None,
                members: vec![
                    NicMatch::Pci("0000:00:10.0".into()),
                    NicMatch::Mac([0x52, 0x54, 0, 0, 0, 0x14])
                ],
            }))
        );
        assert_eq!(
            parse_nic(
                Role::Ext,
                &words(
                    "bond 802.3ad miimon 50 fail_over_mac active pci 0000:00:10.0 pci 0000:00:14.0"
                )
            )
            .map(|l| match l {
                RoleLink::Bond(b) => (b.mode, b.miimon_ms, b.fail_over_mac, b.members.len()),
                _ => panic!(),
            }),
            Ok((BondMode::Lacp, 50, FailOverMac::Active, 2))
        );
    }

    #[test]
    fn each_mistake_names_its_word() {
        let err = |role, text| parse_nic(role, &words(text)).unwrap_err();
        assert_eq!(
            err(Role::Mgmt, "vlan 4095 on int"),
            (1, "\"4095\" is not a VLAN ID (1 to 4094)".into())
        );
        assert_eq!(
            err(Role::Mgmt, "vlan 10 on dmz"),
            (
                3,
                "\"dmz\" is not a NIC role (expected ext, int or mgmt)".into()
            )
        );
        assert_eq!(
            err(Role::Int, "vlan 10 on int"),
            (3, "int cannot be a VLAN on itself".into())
        );
        assert_eq!(
            err(Role::Mgmt, "vlan 10 int"),
            (0, "vlan: expected vlan ID on ROLE".into())
        );
        assert_eq!(
            err(Role::Ext, "bond balance-rr pci 0000:00:10.0"),
            (
                1,
                "\"balance-rr\" is not a bonding mode (expected active-backup or 802.3ad)".into()
            )
        );
        assert_eq!(
            err(Role::Ext, "bond active-backup miimon 0 pci 0000:00:10.0"),
            (3, "miimon: \"0\" is not 1 to 10000 ms".into())
        );
        assert_eq!(
            err(Role::Ext, "bond active-backup"),
            (
                0,
                "bond: expected bond MODE [miimon MS] [fail_over_mac none|active] pci|mac ADDRESS...".into()
            )
        );
        assert_eq!(
            err(Role::Ext, "bond active-backup pci 0000:00:10.0 pci"),
            (4, "bond: a member is pci ADDRESS or mac ADDRESS".into())
        );
    }

    #[test]
    fn the_configuration_s_vlan_wins_and_adds_a_role() {
        let board =
            crate::board::parse("name two\nnic ext pci 0000:00:10.0\nnic int pci 0000:00:11.0\n")
                .unwrap();
        assert_eq!(present(&board, None), vec![Role::Ext, Role::Int]);
        let config = config::native::from_json(
            r#"{"interfaces": [{"role": "mgmt", "vlan": {"id": 10, "on": "int"}}]}"#,
        )
        .unwrap();
        assert_eq!(
            present(&board, Some(&config)),
            vec![Role::Ext, Role::Int, Role::Mgmt]
        );
        let links = [(2, "ext"), (3, "int"), (7, "mgmt")];
        assert_eq!(
            find(
                &board,
                Some(&config),
                Role::Mgmt,
                Path::new("/nonexistent"),
                &links
            ),
            Ok(7)
        );
        assert_eq!(
            find(
                &board,
                Some(&config),
                Role::Mgmt,
                Path::new("/nonexistent"),
                &links[..2]
            ),
            Err("mgmt: VLAN 10 on int is not there (yet)".into())
        );
        assert_eq!(
            find(&board, None, Role::Mgmt, Path::new("/nonexistent"), &links),
            Err("board two has no mgmt NIC".into())
        );
    }
}
