//! The configuration disk: found by the PCI address the board gives (`store pci ADDR`),
//! never by probe order, and used whole by the `store` crate.
//!
//! Layout (the whole block device, any size from 64 KiB; the qemu-x86_64 board uses
//! 16 MiB): slot 0 is the first half, slot 1 the second half; each slot holds one record
//! (magic `LVSFWCF1`, sequence, length, CRC-32, payload; see `store::Record`) whose
//! payload is [`super::saved`]'s bundle. A disk of zeros is "nothing saved".

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

/// The appliance's store: the board's disk. An error says why there is none.
pub fn open() -> Result<Store, String> {
    let board = std::fs::read_to_string(crate::board::PATH)
        .ok()
        .and_then(|text| crate::board::parse(&text).ok())
        .ok_or("no usable board file, so no configuration disk")?;
    let pci = board
        .store
        .ok_or_else(|| format!("board {} has no configuration disk", board.name))?;
    match find(Path::new("/sys"), Path::new("/dev"), &pci)? {
        Some(node) => open_path(&node),
        None => Err(format!("no configuration disk attached (pci {pci})")),
    }
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
