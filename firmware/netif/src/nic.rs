use std::fmt;
use std::fs;
use std::path::Path;
use std::str::FromStr;

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

fn is_pci_address(text: &str) -> bool {
    let groups: Vec<&str> = text.split([':', '.']).collect();
    let widths = [4, 2, 2, 1];
    text.matches(':').count() == 2
        && groups.len() == 4
        && groups
            .iter()
            .zip(widths)
            .all(|(g, w)| g.len() == w && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn parse_mac(text: &str) -> Result<[u8; 6], String> {
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

/// A NIC found in sysfs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundNic {
    pub name: String,
    pub index: u32,
}

/// Looks for the NIC a match names under `class_net` (normally `/sys/class/net`).
///
/// A virtio NIC's `device` link points at the virtio device whose parent is the PCI
/// function, so the nearest PCI address on the resolved path is the one that counts.
pub fn find(class_net: &Path, wanted: &NicMatch) -> Option<FoundNic> {
    let mut entries: Vec<_> = fs::read_dir(class_net).ok()?.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    entries.into_iter().find_map(|entry| {
        let dir = entry.path();
        let matches = match wanted {
            NicMatch::Pci(addr) => fs::canonicalize(dir.join("device"))
                .ok()
                .and_then(|p| nearest_pci_address(&p))
                .is_some_and(|found| &found == addr),
            NicMatch::Mac(mac) => fs::read_to_string(dir.join("address"))
                .ok()
                .and_then(|t| parse_mac(t.trim()).ok())
                .is_some_and(|found| &found == mac),
        };
        if !matches {
            return None;
        }
        let index = fs::read_to_string(dir.join("ifindex"))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        Some(FoundNic {
            name: entry.file_name().to_string_lossy().into_owned(),
            index,
        })
    })
}

fn nearest_pci_address(device: &Path) -> Option<String> {
    device
        .components()
        .rev()
        .map(|c| c.as_os_str().to_string_lossy().to_ascii_lowercase())
        .find(|c| is_pci_address(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

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

    /// A sysfs look-alike: devices/pci0000:00/0000:00:1X.0/virtio/net/NAME, linked from class/net.
    fn fake_sysfs(nics: &[(&str, &str, &str, u32)]) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let class = root.path().join("class/net");
        fs::create_dir_all(&class).unwrap();
        for (i, (name, pci, mac, index)) in nics.iter().enumerate() {
            let virtio = root
                .path()
                .join(format!("devices/pci0000:00/{pci}/virtio{i}"));
            let netdir = virtio.join("net").join(name);
            fs::create_dir_all(&netdir).unwrap();
            fs::write(netdir.join("address"), format!("{mac}\n")).unwrap();
            fs::write(netdir.join("ifindex"), format!("{index}\n")).unwrap();
            symlink(&virtio, netdir.join("device")).unwrap();
            symlink(&netdir, class.join(name)).unwrap();
        }
        root
    }

    #[test]
    fn finds_nics_by_pci_address_through_the_virtio_device() {
        let sys = fake_sysfs(&[
            ("eth0", "0000:00:11.0", "52:54:00:00:00:11", 2),
            ("eth1", "0000:00:10.0", "52:54:00:00:00:10", 3),
        ]);
        let class = sys.path().join("class/net");
        let ext = find(&class, &"pci 0000:00:10.0".parse().unwrap()).unwrap();
        assert_eq!(
            ext,
            FoundNic {
                name: "eth1".into(),
                index: 3
            }
        );
        let int = find(&class, &"mac 52:54:00:00:00:11".parse().unwrap()).unwrap();
        assert_eq!(
            int,
            FoundNic {
                name: "eth0".into(),
                index: 2
            }
        );
        assert_eq!(find(&class, &"pci 0000:00:12.0".parse().unwrap()), None);
    }
}
