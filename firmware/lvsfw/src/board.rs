//! The board file: what one kind of box looks like (NIC roles, modules, console).
//!
//! One statement a line, `#` or `!` starts a comment, as in keepalived.conf:
//!
//! ```text
//! name qemu-x86_64
//! nic ext pci 0000:00:10.0
//! module ip_vs
//! store pci 0000:00:13.0
//! ```

use config::{did_you_mean, Issues, Role};
use netif::NicMatch;

use crate::roles::RoleLink;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Board {
    pub name: String,
    /// The hostname until a configuration sets one.
    pub hostname: Option<String>,
    pub console: Option<String>,
    pub kernel_package: Option<String>,
    pub cmdline: Option<String>,
    /// Each role's link: a NIC, a VLAN on another role's link, or a bond of NICs.
    pub nics: Vec<(Role, RoleLink)>,
    pub modules: Vec<String>,
    /// Parameters given to a module when it is loaded (`module bonding max_bonds=0`):
    /// the module's name and its `KEY=VALUE` words, as modprobe's options.
    pub module_options: Vec<(String, String)>,
    /// The configuration disk, by PCI address (`store pci ADDRESS`): the whole disk
    /// holds the saved configuration (see `ops::disk`).
    pub store: Option<String>,
    /// The hardware watchdog PID 1 feeds while the balancer is healthy
    /// (`watchdog DEVICE SECONDS`).
    pub watchdog: Option<Watchdog>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watchdog {
    pub device: String,
    /// The timeout set on the device: how long a hung balancer runs before the reset.
    pub timeout_s: u32,
}

impl Board {
    pub fn nic(&self, role: Role) -> Option<&RoleLink> {
        self.nics.iter().find(|(r, _)| *r == role).map(|(_, m)| m)
    }
}

const KEYWORDS: [&str; 10] = [
    "name",
    "hostname",
    "console",
    "kernel_package",
    "cmdline",
    "nic",
    "module",
    "store",
    "watchdog",
    // Build-time only (scripts/build-image): the disk image's partition sizes.
    "image",
];

/// Reads a board file; every problem is reported with its `line:col`.
pub fn parse(text: &str) -> Result<Board, Issues> {
    let mut board = Board::default();
    let mut issues = Issues::default();
    for (n, raw_line) in text.lines().enumerate() {
        let line = raw_line
            .find(['#', '!'])
            .map_or(raw_line, |at| &raw_line[..at]);
        let words = words_with_columns(line);
        let Some(&(col, keyword)) = words.first() else {
            continue;
        };
        let at = |col: usize| format!("{}:{}", n + 1, col);
        let args = &words[1..];
        let rest = line[col - 1 + keyword.len()..].trim();
        let want = |count: usize, issues: &mut Issues, usage: &str| {
            if args.len() == count {
                true
            } else {
                issues.push(at(col), format!("{keyword}: expected {usage}"));
                false
            }
        };
        match keyword {
            "name" if want(1, &mut issues, "one board name") => board.name = args[0].1.to_string(),
            "hostname" if want(1, &mut issues, "one host name") => {
                board.hostname = Some(args[0].1.to_string())
            }
            "console" if !args.is_empty() => board.console = Some(rest.to_string()),
            "kernel_package" if want(1, &mut issues, "one Debian package name") => {
                board.kernel_package = Some(args[0].1.to_string())
            }
            "cmdline" => board.cmdline = Some(rest.to_string()),
            "nic" if args.len() < 3 => issues.push(
                at(col),
                "nic: expected ROLE pci|mac ADDRESS, ROLE vlan ID on ROLE or ROLE bond MODE ...",
            ),
            "nic" => {
                let role = match args[0].1.parse::<Role>() {
                    Ok(role) => role,
                    Err(why) => {
                        issues.push(at(args[0].0), why);
                        continue;
                    }
                };
                let words: Vec<&str> = args[1..].iter().map(|(_, w)| *w).collect();
                match crate::roles::parse_nic(role, &words) {
                    Ok(_) if board.nic(role).is_some() => {
                        issues.push(at(args[0].0), format!("role {role} is mapped twice"))
                    }
                    Ok(link) => board.nics.push((role, link)),
                    Err((word, why)) => issues.push(at(args[1 + word].0), why),
                }
            }
            "module" if args.is_empty() => issues.push(
                at(col),
                "module: expected a module name and its KEY=VALUE options",
            ),
            "module" => {
                let name = args[0].1.to_string();
                let mut options = Vec::new();
                for &(option_col, option) in &args[1..] {
                    match option.split_once('=') {
                        Some((key, _)) if !key.is_empty() => options.push(option),
                        _ => issues.push(
                            at(option_col),
                            format!("module {name}: \"{option}\" is not a KEY=VALUE option"),
                        ),
                    }
                }
                if !options.is_empty() {
                    board.module_options.push((name.clone(), options.join(" ")));
                }
                board.modules.push(name);
            }
            "store" if want(2, &mut issues, "pci ADDRESS") => {
                if board.store.is_some() {
                    issues.push(at(col), "store: the board has one configuration disk");
                } else if args[0].1 != "pci" {
                    issues.push(
                        at(args[0].0),
                        format!(
                            "store: \"{}\" is not a disk match (expected pci)",
                            args[0].1
                        ),
                    );
                } else {
                    match NicMatch::parse("pci", args[1].1) {
                        Ok(NicMatch::Pci(address)) => board.store = Some(address),
                        Ok(NicMatch::Mac(_)) => {}
                        Err(why) => issues.push(at(args[1].0), why),
                    }
                }
            }
            "watchdog" if want(2, &mut issues, "DEVICE SECONDS") => {
                match args[1].1.parse::<u32>() {
                    Ok(timeout_s) if (2..=600).contains(&timeout_s) => {
                        board.watchdog = Some(Watchdog {
                            device: args[0].1.to_string(),
                            timeout_s,
                        })
                    }
                    _ => issues.push(
                        at(args[1].0),
                        format!(
                            "watchdog: timeout \"{}\" is not a number of seconds from 2 to 600",
                            args[1].1
                        ),
                    ),
                }
            }
            "image" if want(2, &mut issues, "KEY VALUE") => {}
            "console" => issues.push(at(col), "console: expected a device name"),
            k if KEYWORDS.contains(&k) => {}
            unknown => {
                let hint = did_you_mean(unknown, &KEYWORDS)
                    .map(|k| format!(" (did you mean \"{k}\"?)"))
                    .unwrap_or_default();
                issues.push(
                    at(col),
                    format!(
                        "unknown keyword \"{unknown}\"{hint}; expected one of {}",
                        KEYWORDS.join(", ")
                    ),
                );
            }
        }
    }
    if board.name.is_empty() && issues.is_empty() {
        issues.push("1:1", "the board has no \"name\" statement");
    }
    if issues.is_empty() {
        Ok(board)
    } else {
        Err(issues)
    }
}

/// Whitespace-separated words with their 1-based column.
fn words_with_columns(line: &str) -> Vec<(usize, &str)> {
    let mut words = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices().chain([(line.len(), ' ')]) {
        match (c.is_whitespace(), start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                words.push((s + 1, &line[s..i]));
                start = None;
            }
            _ => {}
        }
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    const QEMU: &str = "\
# lvsfw board
name qemu-x86_64
hostname lvsfw
console ttyS0 115200
kernel_package linux-image-cloud-amd64
cmdline console=ttyS0,115200 panic=-1   loglevel=4
nic ext  pci 0000:00:10.0   ! the first lab NIC
nic int  mac 52:54:00:00:00:11
nic mgmt vlan 10 on int
module virtio_net
module ip_vs
module bonding max_bonds=0
store pci 0000:00:13.0
";

    #[test]
    fn reads_every_statement() {
        let b = parse(QEMU).unwrap();
        assert_eq!(b.name, "qemu-x86_64");
        assert_eq!(b.hostname.as_deref(), Some("lvsfw"));
        assert_eq!(b.console.as_deref(), Some("ttyS0 115200"));
        assert_eq!(b.kernel_package.as_deref(), Some("linux-image-cloud-amd64"));
        assert_eq!(
            b.cmdline.as_deref(),
            Some("console=ttyS0,115200 panic=-1   loglevel=4")
        );
        assert_eq!(
            b.nic(Role::Ext),
            Some(&RoleLink::Nic(NicMatch::Pci("0000:00:10.0".into())))
        );
        assert_eq!(
            b.nic(Role::Int),
            Some(&RoleLink::Nic(NicMatch::Mac([0x52, 0x54, 0, 0, 0, 0x11])))
        );
        assert_eq!(
            b.nic(Role::Mgmt),
            Some(&RoleLink::Vlan(config::Vlan {
                id: 10,
                on: Role::Int
            }))
        );
        assert_eq!(b.modules, vec!["virtio_net", "ip_vs", "bonding"]);
        assert_eq!(
            b.module_options,
            vec![("bonding".to_string(), "max_bonds=0".to_string())]
        );
        assert_eq!(b.store.as_deref(), Some("0000:00:13.0"));
    }

    #[test]
    fn a_watchdog_has_a_device_and_a_timeout() {
        let board = parse("name x\nwatchdog /dev/watchdog 15\nimage esp_mib 28\n").unwrap();
        assert_eq!(
            board.watchdog,
            Some(Watchdog {
                device: "/dev/watchdog".into(),
                timeout_s: 15
            })
        );
        let issues = parse("name x\nwatchdog /dev/watchdog 1\nwatchdog /dev/watchdog\n")
            .unwrap_err()
            .to_string();
        assert!(
            issues
                .contains("2:24: watchdog: timeout \"1\" is not a number of seconds from 2 to 600"),
            "{issues}"
        );
        assert!(
            issues.contains("3:1: watchdog: expected DEVICE SECONDS"),
            "{issues}"
        );
    }

    #[test]
    fn the_store_is_one_disk_by_pci_address() {
        let messages = |text: &str| -> Vec<String> {
            parse(text)
                .unwrap_err()
                .iter()
                .map(|i| i.to_string())
                .collect()
        };
        assert_eq!(
            messages("name x\nstore mac 52:54:00:00:00:11\nstore pci 13.0\nstore\n"),
            vec![
                "2:7: store: \"mac\" is not a disk match (expected pci)",
                "3:11: \"13.0\" is not a PCI address (expected DDDD:BB:DD.F, e.g. 0000:00:10.0)",
                "4:1: store: expected pci ADDRESS",
            ]
        );
        assert_eq!(
            messages("name x\nstore pci 0000:00:13.0\nstore pci 0000:00:14.0\n"),
            vec!["3:1: store: the board has one configuration disk"]
        );
        assert_eq!(parse("name x\n").unwrap().store, None);
    }

    #[test]
    fn every_error_names_line_and_column() {
        let text = "name x\nnic dmz pci 0000:00:10.0\nnic ext pci 00:10.0\nmodul ip_vs\nnic ext pci 0000:00:10.0\nnic ext pci 0000:00:11.0\nmodule\nnic mgmt vlan 5000 on int\nnic int\nmodule bonding max_bonds\n";
        let messages: Vec<String> = parse(text)
            .unwrap_err()
            .iter()
            .map(|i| i.to_string())
            .collect();
        assert_eq!(
            messages,
            vec![
                "2:5: \"dmz\" is not a NIC role (expected ext, int or mgmt)",
                "3:9: \"00:10.0\" is not a PCI address (expected DDDD:BB:DD.F, e.g. 0000:00:10.0)",
                "4:1: unknown keyword \"modul\" (did you mean \"module\"?); expected one of name, hostname, console, kernel_package, cmdline, nic, module, store, watchdog, image",
                "6:5: role ext is mapped twice",
                "7:1: module: expected a module name and its KEY=VALUE options",
                "8:15: \"5000\" is not a VLAN ID (1 to 4094)",
                "9:1: nic: expected ROLE pci|mac ADDRESS, ROLE vlan ID on ROLE or ROLE bond MODE ...",
                "10:16: module bonding: \"max_bonds\" is not a KEY=VALUE option",
            ]
        );
    }

    #[test]
    fn a_board_needs_a_name() {
        let messages: Vec<String> = parse("module ip_vs\n")
            .unwrap_err()
            .iter()
            .map(|i| i.to_string())
            .collect();
        assert_eq!(messages, vec!["1:1: the board has no \"name\" statement"]);
    }
}
