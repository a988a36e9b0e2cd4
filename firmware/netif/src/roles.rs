//! Where each role's link comes from: a NIC of the board (found by PCI address or MAC,
//! never by probe order), an 802.1Q VLAN on another role's link, or a bond of NICs. The
//! board says it (`nic ROLE ...`); the configuration may make a role a VLAN, which wins,
//! so that an operator can put management on a VLAN of a two-NIC box.
//!
//! A VLAN or bond is made by lvsfw and named after its role, so it is found by name; a
//! NIC is found in sysfs and renamed to its role.

use std::path::Path;

use config::board::{Board, RoleLink};
use config::{Config, Role, Vlan};

/// How `role`'s link is made on this box: the configuration's VLAN, else the board's.
pub fn link(board: &Board, config: Option<&Config>, role: Role) -> Option<RoleLink> {
    if let Some(vlan) = config.and_then(|c| c.interface(role)).and_then(|i| i.vlan) {
        return Some(RoleLink::Vlan(vlan));
    }
    board.nic(role).cloned()
}

/// The roles this box has: the board's, and those the configuration makes VLANs.
pub fn present(board: &Board, config: Option<&Config>) -> Vec<Role> {
    Role::ALL
        .into_iter()
        .filter(|r| link(board, config, *r).is_some())
        .collect()
}

/// The index of `role`'s link in the kernel now, given the kernel's links by index and
/// name: a NIC found in sysfs under `class_net`, a VLAN or bond by its name.
pub fn find(
    board: &Board,
    config: Option<&Config>,
    role: Role,
    class_net: &Path,
    links: &[(u32, &str)],
) -> Result<u32, String> {
    match link(board, config, role) {
        None => Err(format!("board {} has no {role} NIC", board.name)),
        Some(RoleLink::Nic(matcher)) => crate::nic::find(class_net, &matcher)
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

    #[test]
    fn the_configuration_s_vlan_wins_and_adds_a_role() {
        let board =
            config::board::parse("name two\nnic ext pci 0000:00:10.0\nnic int pci 0000:00:11.0\n")
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
