use std::fs;
use std::path::Path;

pub use config::board::NicMatch;
use config::board::{is_pci_address, parse_mac};

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
