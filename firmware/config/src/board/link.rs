//! How a board names each role's link: a NIC by PCI address or MAC, an 802.1Q VLAN on
//! another role's link, or a bond of NICs. Pure parsing; `netif` finds and makes them.

use std::fmt;
use std::str::FromStr;

use crate::{Role, Vlan};

/// How a board names the NIC of a role: by where it sits on the bus or by its burnt-in MAC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NicMatch {
    /// A PCI address in sysfs form, `0000:00:10.0`.
    Pci(String),
    Mac([u8; 6]),
}

impl NicMatch {
    /// Parses the two words of a board's `nic ROLE KIND VALUE` statement.
    pub fn parse(kind: &str, value: &str) -> Result<NicMatch, String> {
        match kind {
            "pci" if is_pci_address(value) => Ok(NicMatch::Pci(value.to_ascii_lowercase())),
            "pci" => Err(format!(
                "\"{value}\" is not a PCI address (expected DDDD:BB:DD.F, e.g. 0000:00:10.0)"
            )),
            "mac" => parse_mac(value).map(NicMatch::Mac),
            _ => Err(format!(
                "\"{kind}\" is not a NIC match (expected pci or mac)"
            )),
        }
    }
}

impl fmt::Display for NicMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NicMatch::Pci(a) => write!(f, "pci {a}"),
            NicMatch::Mac(m) => write!(
                f,
                "mac {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                m[0], m[1], m[2], m[3], m[4], m[5]
            ),
        }
    }
}

pub fn is_pci_address(text: &str) -> bool {
    let groups: Vec<&str> = text.split([':', '.']).collect();
    let widths = [4, 2, 2, 1];
    text.matches(':').count() == 2
        && groups.len() == 4
        && groups
            .iter()
            .zip(widths)
            .all(|(g, w)| g.len() == w && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

pub fn parse_mac(text: &str) -> Result<[u8; 6], String> {
    let err = || {
        format!("\"{text}\" is not a MAC address (expected six hex pairs like 52:54:00:12:34:56)")
    };
    let mut mac = [0u8; 6];
    let parts: Vec<&str> = text.split(':').collect();
    if parts.len() != 6 {
        return Err(err());
    }
    for (byte, part) in mac.iter_mut().zip(parts) {
        if part.len() != 2 {
            return Err(err());
        }
        *byte = u8::from_str_radix(part, 16).map_err(|_| err())?;
    }
    Ok(mac)
}

impl FromStr for NicMatch {
    type Err = String;

    /// `pci 0000:00:10.0` or `mac 52:54:00:12:34:56`.
    fn from_str(text: &str) -> Result<Self, String> {
        let mut words = text.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some(kind), Some(value), None) => NicMatch::parse(kind, value),
            _ => Err(format!(
                "\"{text}\" is not a NIC match (expected pci ADDRESS or mac ADDRESS)"
            )),
        }
    }
}

/// The bonding modes a role can use: one NIC carries the traffic and another takes
/// over when it fails, or IEEE 802.3ad link aggregation with the switch (LACP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BondMode {
    ActiveBackup,
    Lacp,
}

impl BondMode {
    /// The kernel's name (Documentation/networking/bonding.rst), as `ip link` uses it.
    pub fn name(self) -> &'static str {
        match self {
            BondMode::ActiveBackup => "active-backup",
            BondMode::Lacp => "802.3ad",
        }
    }
}

impl FromStr for BondMode {
    type Err = String;

    fn from_str(text: &str) -> Result<BondMode, String> {
        match text {
            "active-backup" => Ok(BondMode::ActiveBackup),
            "802.3ad" => Ok(BondMode::Lacp),
            _ => Err(format!(
                "\"{text}\" is not a bonding mode (expected active-backup or 802.3ad)"
            )),
        }
    }
}

impl fmt::Display for BondMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether a bond's MAC follows its active member (bonding's `fail_over_mac`): `None`
/// keeps one MAC on every member (the default); `Active` takes the active member's
/// own, for switches or hypervisors that do not let a MAC move between ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailOverMac {
    #[default]
    None,
    Active,
}

impl FromStr for FailOverMac {
    type Err = String;

    fn from_str(text: &str) -> Result<FailOverMac, String> {
        match text {
            "none" => Ok(FailOverMac::None),
            "active" => Ok(FailOverMac::Active),
            _ => Err(format!(
                "\"{text}\" is not a fail_over_mac policy (expected none or active)"
            )),
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<&str> {
        text.split_whitespace().collect()
    }

    #[test]
    fn parses_board_matches() {
        assert_eq!(
            "pci 0000:00:10.0".parse::<NicMatch>().unwrap(),
            NicMatch::Pci("0000:00:10.0".into())
        );
        assert_eq!(
            "mac 52:54:00:AB:cd:01".parse::<NicMatch>().unwrap(),
            NicMatch::Mac([0x52, 0x54, 0, 0xab, 0xcd, 1])
        );
        assert_eq!(
            "pci 00:10.0".parse::<NicMatch>().unwrap_err(),
            "\"00:10.0\" is not a PCI address (expected DDDD:BB:DD.F, e.g. 0000:00:10.0)"
        );
        assert_eq!(
            "mac 52:54:00:ab:cd".parse::<NicMatch>().unwrap_err(),
            "\"52:54:00:ab:cd\" is not a MAC address (expected six hex pairs like 52:54:00:12:34:56)"
        );
        assert_eq!(
            "slot 3".parse::<NicMatch>().unwrap_err(),
            "\"slot\" is not a NIC match (expected pci or mac)"
        );
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
}
