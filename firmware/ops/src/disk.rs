//! Where the saved configuration lives: the GPT partition named `lvsfw-config` of the
//! disk image (board/IMAGE.md), found by name, never by probe order; without one (a
//! `-kernel` boot in the lab), the whole disk at the PCI address the board gives
//! (`store pci ADDR`) — but never a disk with a partition table, which would be a
//! disk image or someone's data.
//!
//! Layout (the partition or disk, any size from 64 KiB; the image has 2 MiB): slot 0
//! is the first half, slot 1 the second half; each slot holds one record
//! (magic `LVSFWCF1`, sequence, length, CRC-32, payload; see `store::Record`) whose
//! payload is [`super::saved`]'s bundle. A disk of zeros is "nothing saved". The
//! device's last eighth, at most 128 KiB (slot 1's tail, which no record may reach), is
//! the audit trail's area (`store::audit`).

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use store::Store;

/// How long to wait for the block device once its PCI device is there (the driver
/// binds while the modules load).
const APPEAR: Duration = Duration::from_secs(5);
/// The smallest disk taken: two slots of 32 KiB.
const MIN_LEN: u64 = 64 << 10;

/// The block device under a PCI device's sysfs folder (`.../virtio2/block/vda`).
fn block_name(pci_dir: &Path) -> Option<String> {
    fn search(dir: &Path, depth: u32) -> Option<String> {
        let entries = std::fs::read_dir(dir).ok()?;
        let mut dirs = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == "block" {
                let mut found: Vec<String> = std::fs::read_dir(entry.path())
                    .ok()?
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                found.sort();
                return found.into_iter().next();
            }
            // Child devices only (virtio0, host0, ...), not links back up the tree.
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if is_dir && depth > 0 {
                dirs.push(entry.path());
            }
        }
        dirs.sort();
        dirs.iter().find_map(|d| search(d, depth - 1))
    }
    search(pci_dir, 3)
}

/// The device node of the disk at `pci` (sysfs under `sys`, nodes under `dev`); waits a
/// little for the driver. `Ok(None)`: the board's disk is not attached.
pub fn find(sys: &Path, dev: &Path, pci: &str) -> Result<Option<PathBuf>, String> {
    let pci_dir = sys.join("bus/pci/devices").join(pci);
    if !pci_dir.exists() {
        return Ok(None);
    }
    let deadline = Instant::now() + APPEAR;
    loop {
        if let Some(name) = block_name(&pci_dir) {
            let node = dev.join(&name);
            if node.exists() {
                return Ok(Some(node));
            }
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "the configuration disk at pci {pci} has no block device after {} s",
                APPEAR.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// GPT partition name of the configuration partition.
pub const PARTITION_NAME: &str = "lvsfw-config";

/// The device node of the block device whose partition name is `name` (from
/// `/sys/class/block/*/uevent`'s `PARTNAME=`).
pub fn find_partition(sys: &Path, dev: &Path, name: &str) -> Option<PathBuf> {
    let mut found: Vec<String> = std::fs::read_dir(sys.join("class/block"))
        .ok()?
        .flatten()
        .filter(|entry| {
            std::fs::read_to_string(entry.path().join("uevent")).is_ok_and(|text| {
                text.lines()
                    .any(|l| l.strip_prefix("PARTNAME=") == Some(name))
            })
        })
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    found.into_iter().next().map(|block| dev.join(block))
}

/// Whether the disk `block` (e.g. `vda`) has partitions.
fn is_partitioned(sys: &Path, block: &str) -> bool {
    std::fs::read_dir(sys.join("class/block").join(block))
        .map(|entries| {
            entries
                .flatten()
                .any(|e| e.path().join("partition").exists())
        })
        .unwrap_or(false)
}

/// Opens a disk or file for the store, whatever its size is.
pub fn open_path(path: &Path) -> Result<Store, String> {
    let mut file: File = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let len = file
        .seek(SeekFrom::End(0))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if len < MIN_LEN {
        return Err(format!(
            "{}: {len} bytes is too small for the configuration (at least {MIN_LEN})",
            path.display()
        ));
    }
    Ok(Store::new(file, len))
}

/// Why there is no store to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiskError {
    /// This box has no configuration disk (a `-kernel` boot without one): nothing can
    /// have been saved, and nothing can be.
    Absent(String),
    /// There is one, but it cannot be used (no block device, unreadable, too small, a
    /// disk of someone else's): what was saved there is not known.
    Broken(String),
}

impl std::fmt::Display for DiskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DiskError::Absent(why) | DiskError::Broken(why) => f.write_str(why),
        }
    }
}

impl From<DiskError> for String {
    fn from(e: DiskError) -> String {
        e.to_string()
    }
}

/// The appliance's store: the `lvsfw-config` partition, else the board's disk. An error
/// says why there is none, and whether there is a disk at all.
pub fn open() -> Result<Store, DiskError> {
    let node = locate(Path::new("/sys"), Path::new("/dev"))?;
    open_path(&node).map_err(DiskError::Broken)
}

fn locate(sys: &Path, dev: &Path) -> Result<PathBuf, DiskError> {
    if let Some(node) = find_partition(sys, dev, PARTITION_NAME) {
        return Ok(node);
    }
    let board = std::fs::read_to_string(paths::BOARD)
        .ok()
        .and_then(|text| config::board::parse(&text).ok())
        .ok_or_else(|| {
            DiskError::Absent("no usable board file, so no configuration disk".into())
        })?;
    let pci = board.store.ok_or_else(|| {
        DiskError::Absent(format!(
            "no {PARTITION_NAME} partition and board {} has no configuration disk",
            board.name
        ))
    })?;
    let node = find(sys, dev, &pci)
        .map_err(DiskError::Broken)?
        .ok_or_else(|| {
            DiskError::Absent(format!(
                "no {PARTITION_NAME} partition and no configuration disk attached (pci {pci})"
            ))
        })?;
    let block = node.file_name().map(|n| n.to_string_lossy().into_owned());
    if block.is_some_and(|b| is_partitioned(sys, &b)) {
        // The partitions of a disk that just appeared may have been read meanwhile.
        return find_partition(sys, dev, PARTITION_NAME).ok_or_else(|| {
            DiskError::Broken(format!(
                "the disk at pci {pci} ({}) has partitions but none named {PARTITION_NAME}; \
                 it is not used whole for the configuration",
                node.display()
            ))
        });
    }
    Ok(node)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_block_device_is_found_under_its_pci_device() {
        let dir = tempfile::tempdir().unwrap();
        let sys = dir.path().join("sys");
        let dev = dir.path().join("dev");
        let pci = sys.join("bus/pci/devices/0000:00:13.0");
        std::fs::create_dir_all(pci.join("virtio2/block/vdb/queue")).unwrap();
        std::fs::create_dir_all(pci.join("driver")).unwrap();
        std::fs::create_dir_all(&dev).unwrap();
        std::fs::write(dev.join("vdb"), b"").unwrap();
        assert_eq!(
            find(&sys, &dev, "0000:00:13.0").unwrap(),
            Some(dev.join("vdb"))
        );
        // Not attached: at once, no waiting.
        let started = Instant::now();
        assert_eq!(find(&sys, &dev, "0000:00:14.0").unwrap(), None);
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    fn fake_block(sys: &Path, name: &str, uevent: &str, partition: bool) {
        let dir = sys.join("class/block").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("uevent"), uevent).unwrap();
        if partition {
            std::fs::write(dir.join("partition"), "3\n").unwrap();
        }
    }

    #[test]
    fn the_config_partition_is_found_by_its_gpt_name() {
        let dir = tempfile::tempdir().unwrap();
        let (sys, dev) = (dir.path().join("sys"), dir.path().join("dev"));
        fake_block(&sys, "vda", "MAJOR=254\nDEVNAME=vda\nDEVTYPE=disk\n", false);
        fake_block(&sys, "vda2", "DEVNAME=vda2\nPARTNAME=lvsfw-esp\n", true);
        assert_eq!(find_partition(&sys, &dev, PARTITION_NAME), None);
        fake_block(&sys, "vda3", "DEVNAME=vda3\nPARTNAME=lvsfw-config\n", true);
        assert_eq!(
            find_partition(&sys, &dev, PARTITION_NAME),
            Some(dev.join("vda3"))
        );
        // A name that only starts the same is not it.
        assert_eq!(find_partition(&sys, &dev, "lvsfw-conf"), None);
    }

    #[test]
    fn a_disk_with_partitions_is_seen_as_one() {
        let dir = tempfile::tempdir().unwrap();
        let sys = dir.path().join("sys");
        fake_block(&sys, "vdb", "DEVNAME=vdb\n", false);
        assert!(!is_partitioned(&sys, "vdb"));
        let part = sys.join("class/block/vdb/vdb1");
        std::fs::create_dir_all(&part).unwrap();
        std::fs::write(part.join("partition"), "1\n").unwrap();
        assert!(is_partitioned(&sys, "vdb"));
    }

    #[test]
    fn a_disk_too_small_is_refused() {
        let file = tempfile::NamedTempFile::new().unwrap();
        file.as_file().set_len(1024).unwrap();
        let err = open_path(file.path()).err().unwrap();
        assert!(
            err.ends_with("1024 bytes is too small for the configuration (at least 65536)"),
            "{err}"
        );
        file.as_file().set_len(MIN_LEN).unwrap();
        let store = open_path(file.path()).unwrap();
        assert_eq!(store.load().unwrap(), None);
    }
}
