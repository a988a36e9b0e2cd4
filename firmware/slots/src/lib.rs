//! The boot slots on the disk image's EFI system partition (the layout contract in
//! scripts/build-image): finding and mounting the ESP, each slot's version, grubenv,
//! writing an update into the slot that does not run, and marking a tried slot good.
//!
//! Everything below takes the ESP as a folder, so that the tests run on a temporary one.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use update::grubenv::{self, Env};
use update::keys::{Keyring, SIGNATURE_LEN};
use update::payload::{Error as Refusal, MAX_HEADER};
pub use update::trial::good_slot;
use update::verify::open_signed;
use update::Slot;

mod install;
mod this_box;
/// What one slot holds (the page, `/api/status` and `show slots` show the same).
pub use ::status::SlotStatus;
pub use install::{install_file, Installed, Installing, Target, SLOT_MANIFEST, SLOT_VERSION};
pub use this_box::{apply, ThisBox, Upload};

/// The GPT partition name of the ESP (`PARTNAME=` in sysfs).
pub const ESP_PARTNAME: &str = "lvsfw-esp";
pub(crate) const GRUBENV: &str = "grub/grubenv";
/// grubenv's lowest version this box takes (update::verify's floor); raised by an update
/// that carries a higher one, never lowered.
pub const MIN_VERSION: &str = "min_version";
/// The board loads nls_cp437 and nls_utf8 for these.
const FAT_OPTIONS: &str = "codepage=437,iocharset=utf8";

/// The running image's version: /etc/lvsfw/version, else the binary's own.
pub fn running_version() -> String {
    std::fs::read_to_string(paths::VERSION)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string())
}

/// `lvsfw.slot=` on this boot's kernel command line.
pub fn running_slot() -> Option<Slot> {
    std::fs::read_to_string("/proc/cmdline")
        .ok()
        .and_then(|c| Slot::from_cmdline(&c))
}

/// The ESP's device node, by its GPT partition name, from the block devices' uevents.
pub fn find_esp(class_block: &Path, dev: &Path) -> Option<PathBuf> {
    let mut entries: Vec<_> = std::fs::read_dir(class_block).ok()?.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    entries.iter().find_map(|entry| {
        let uevent = std::fs::read_to_string(entry.path().join("uevent")).ok()?;
        let field = |key: &str| {
            uevent
                .lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                .map(str::to_string)
        };
        if field("PARTNAME")? != ESP_PARTNAME {
            return None;
        }
        Some(dev.join(field("DEVNAME")?))
    })
}

fn is_mounted(target: &str) -> bool {
    std::fs::read_to_string("/proc/self/mounts")
        .is_ok_and(|m| m.lines().any(|l| l.split(' ').nth(1) == Some(target)))
}

/// Whether the ESP is mounted, or its partition is there to be mounted.
pub fn esp_present() -> bool {
    is_mounted(paths::ESP_MOUNT)
        || find_esp(Path::new("/sys/class/block"), Path::new("/dev")).is_some()
}

/// The ESP mounted read-only at [`paths::ESP_MOUNT`] (mounted now if it was not); `Err` says
/// why there is none. The vfat modules come from the board's module list.
pub fn mount_esp() -> Result<PathBuf, String> {
    if is_mounted(paths::ESP_MOUNT) {
        return Ok(paths::ESP_MOUNT.into());
    }
    let node = find_esp(Path::new("/sys/class/block"), Path::new("/dev")).ok_or_else(|| {
        format!("no boot slots: no disk partition is named {ESP_PARTNAME} (not booted from an lvsfw disk image)")
    })?;
    std::fs::create_dir_all(paths::ESP_MOUNT).map_err(|e| format!("{}: {e}", paths::ESP_MOUNT))?;
    use nix::mount::{mount, MsFlags};
    mount(
        Some(&node),
        paths::ESP_MOUNT,
        Some("vfat"),
        MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        // Named, not the kernel's default: Debian's is iso8859-1/ascii, whose modules
        // the board does not load.
        Some(FAT_OPTIONS),
    )
    .map_err(|e| {
        format!(
            "mounting {} (the ESP) on {}: {}",
            node.display(),
            paths::ESP_MOUNT,
            e.desc()
        )
    })?;
    Ok(paths::ESP_MOUNT.into())
}

/// The ESP where PID 1 mounted it at boot, for readers that should not mount it
/// themselves (the page).
pub fn esp_if_mounted() -> Result<PathBuf, String> {
    if is_mounted(paths::ESP_MOUNT) {
        Ok(paths::ESP_MOUNT.into())
    } else {
        Err("no boot slots: not booted from an lvsfw disk image (no ESP mounted)".into())
    }
}

fn remount(writable: bool) -> Result<(), String> {
    use nix::mount::{mount, MsFlags};
    let mut flags =
        MsFlags::MS_REMOUNT | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    if !writable {
        flags |= MsFlags::MS_RDONLY;
    }
    mount(
        None::<&str>,
        paths::ESP_MOUNT,
        None::<&str>,
        flags,
        Some(FAT_OPTIONS),
    )
    .map_err(|e| {
        let how = if writable { "read-write" } else { "read-only" };
        format!("remounting the ESP {how}: {}", e.desc())
    })
}

/// The ESP writable while this lives: Linux marks a FAT volume dirty while it is
/// mounted read-write, so a power cut at any other time leaves it clean. An ESP other
/// than [`paths::ESP_MOUNT`] (the tests' folders) is written as it is.
pub struct WritableEsp {
    remounted: bool,
}

impl WritableEsp {
    pub fn new(esp: &Path) -> std::io::Result<WritableEsp> {
        let remounted = esp == Path::new(paths::ESP_MOUNT);
        if remounted {
            remount(true).map_err(std::io::Error::other)?;
        }
        Ok(WritableEsp { remounted })
    }
}

impl Drop for WritableEsp {
    fn drop(&mut self) {
        if self.remounted {
            nix::unistd::sync();
            if let Err(e) = remount(false) {
                log::warn!("{e}; it stays writable until the next boot");
            }
        }
    }
}

/// Runs `write` with the ESP writable only meanwhile ([`WritableEsp`]).
pub fn writing<T>(esp: &Path, write: impl FnOnce(&Path) -> Result<T, String>) -> Result<T, String> {
    let _writable = WritableEsp::new(esp).map_err(|e| e.to_string())?;
    write(esp)
}

pub fn read_grubenv(esp: &Path) -> Result<Env, String> {
    let path = esp.join(GRUBENV);
    let block = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Env::parse(&block).map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes `env` over the old block in place (same 1024 bytes, same sectors: grub's
/// save_env needs that) and waits until it is on the disk.
pub fn write_grubenv(esp: &Path, env: &Env) -> Result<(), String> {
    let path = esp.join(GRUBENV);
    let fail = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let block = env.to_block().map_err(|e| fail(&e))?;
    let mut file = OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(|e| fail(&e))?;
    let len = file.metadata().map_err(|e| fail(&e))?.len();
    if len != grubenv::SIZE as u64 {
        return Err(fail(&format!(
            "{len} bytes, not {}; left as it is",
            grubenv::SIZE
        )));
    }
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.write_all(&block))
        .and_then(|_| file.sync_all())
        .map_err(|e| fail(&e))
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Slots {
    pub running_version: String,
    pub running: Option<String>,
    pub slots: Vec<SlotStatus>,
    /// grubenv's `min_version`: no update below it is taken.
    pub min_version: Option<String>,
    /// Why there are no slots, or what is odd about them.
    pub note: Option<String>,
}

pub fn slot_version(esp: &Path, slot: Slot) -> Option<String> {
    let text = std::fs::read_to_string(esp.join(slot.letter()).join(SLOT_VERSION)).ok()?;
    Some(text.trim().to_string()).filter(|v| !v.is_empty())
}

/// Who signed the update `slot` holds, checked with `keys`: from its kept signed header.
pub fn slot_signer(esp: &Path, slot: Slot, keys: &Keyring) -> Option<String> {
    let path = esp.join(slot.letter()).join(SLOT_MANIFEST);
    let mut bytes = Vec::new();
    File::open(path)
        .ok()?
        .take((MAX_HEADER + SIGNATURE_LEN + 1) as u64)
        .read_to_end(&mut bytes)
        .ok()?;
    let version = slot_version(esp, slot);
    Some(match open_signed(&bytes, keys) {
        Ok((manifest, key)) if Some(manifest.version.as_str()) == version.as_deref() => {
            key.to_string()
        }
        Ok((manifest, key)) => format!("{key}, for version {}", manifest.version),
        Err(Refusal::UnknownKey(id, _)) => format!("key {id}, which this firmware does not trust"),
        Err(e) => format!("unknown: its signed header does not verify ({e})"),
    })
}

/// Both slots as the ESP at `esp` has them (`Err`: why there is no ESP).
pub fn read(esp: Result<PathBuf, String>, running: Option<Slot>) -> Slots {
    read_trusting(esp, running, &Keyring::compiled())
}

/// [`read`], naming the signers with `keys`.
fn read_trusting(esp: Result<PathBuf, String>, running: Option<Slot>, keys: &Keyring) -> Slots {
    let mut slots = Slots {
        running_version: running_version(),
        running: running.map(|s| s.letter().to_string()),
        slots: Vec::new(),
        min_version: None,
        note: None,
    };
    let esp = match esp {
        Ok(esp) => esp,
        Err(why) => {
            slots.note = Some(why);
            return slots;
        }
    };
    let env = match read_grubenv(&esp) {
        Ok(env) => Some(env),
        Err(e) => {
            slots.note = Some(e);
            None
        }
    };
    let good = good_slot(env.as_ref().and_then(|e| e.get("slot")));
    let next = env
        .as_ref()
        .and_then(|e| e.get("next"))
        .and_then(Slot::parse);
    for slot in [Slot::A, Slot::B] {
        slots.slots.push(SlotStatus {
            slot: slot.letter().into(),
            version: slot_version(&esp, slot),
            running: running == Some(slot),
            good: env.is_some() && good == slot,
            next: next == Some(slot),
            signed_by: slot_signer(&esp, slot, keys),
        });
    }
    slots.min_version = env
        .as_ref()
        .and_then(|e| e.get(MIN_VERSION))
        .filter(|v| !v.is_empty())
        .map(str::to_string);
    if running.is_none() && slots.note.is_none() {
        slots.note =
            Some("no lvsfw.slot= on the kernel command line: which slot runs is unknown".into());
    }
    slots
}

impl Slots {
    pub fn render(&self) -> String {
        let mut out = format!("running version {}", self.running_version);
        if let Some(slot) = &self.running {
            out.push_str(&format!(" from slot {slot}"));
        }
        out.push('\n');
        for s in &self.slots {
            let mut words = Vec::new();
            if s.running {
                words.push("running");
            }
            if s.good {
                words.push("good");
            } else if s.running {
                words.push("on trial: marked good once the balancer is ready");
            }
            if s.next {
                words.push("the next boot tries it once");
            }
            let signed = match (&s.version, &s.signed_by) {
                (None, _) => String::new(),
                (Some(_), Some(key)) => format!("signed by {key}"),
                (Some(_), None) => "no signature kept (not written by an update)".into(),
            };
            if !signed.is_empty() {
                words.push(&signed);
            }
            out.push_str(&format!(
                "slot {}  {:<26} {}\n",
                s.slot,
                s.version.as_deref().unwrap_or("(empty)"),
                words.join(", ")
            ));
        }
        if let Some(floor) = &self.min_version {
            out.push_str(&format!(
                "updates below version {floor} are refused (grubenv min_version)\n"
            ));
        }
        if let Some(note) = &self.note {
            out.push_str(note);
            out.push('\n');
        }
        out
    }
}

/// grubenv `slot=` the running slot, `next` empty: this slot is the good one now.
pub fn mark_good(esp: &Path, running: Slot) -> Result<(), String> {
    let mut env = read_grubenv(esp)?;
    env.set("slot", running.letter())
        .and_then(|()| env.set("next", ""))
        .map_err(|e| format!("grubenv: {e}"))?;
    write_grubenv(esp, &env)
}

/// Clears a `next` that names `running`: grub should have (its save_env), and a
/// failed trial must not be tried again and again.
pub fn clear_next(esp: &Path, running: Slot) -> Result<bool, String> {
    let mut env = read_grubenv(esp)?;
    if env.get("next") != Some(running.letter()) {
        return Ok(false);
    }
    env.set("next", "").map_err(|e| format!("grubenv: {e}"))?;
    write_grubenv(esp, &env).map(|()| true)
}

/// Reads at most `max` bytes of a small file.
pub fn read_small(path: &Path, max: u64) -> std::io::Result<String> {
    let mut text = String::new();
    File::open(path)?.take(max).read_to_string(&mut text)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esp_with_slot_a() -> tempfile::TempDir {
        let esp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(esp.path().join("grub")).unwrap();
        std::fs::create_dir_all(esp.path().join("A")).unwrap();
        std::fs::write(esp.path().join("A/version"), "1.0.0-1\n").unwrap();
        std::fs::write(esp.path().join("A/vmlinuz"), "old kernel").unwrap();
        let mut env = Env::default();
        env.set("slot", "A").unwrap();
        env.set("next", "").unwrap();
        std::fs::write(esp.path().join(GRUBENV), env.to_block().unwrap()).unwrap();
        esp
    }

    #[test]
    fn a_failed_trial_does_not_stay_next() {
        let esp = esp_with_slot_a();
        let mut env = read_grubenv(esp.path()).unwrap();
        env.set("next", "B").unwrap();
        write_grubenv(esp.path(), &env).unwrap();
        assert!(!clear_next(esp.path(), Slot::A).unwrap());
        assert!(clear_next(esp.path(), Slot::B).unwrap());
        assert_eq!(read_grubenv(esp.path()).unwrap().get("next"), Some(""));
    }

    #[test]
    fn the_esp_is_found_by_its_partition_name() {
        let sys = tempfile::tempdir().unwrap();
        for (dev, uevent) in [
            ("vda", "MAJOR=254\nMINOR=0\nDEVNAME=vda\nDEVTYPE=disk\n"),
            (
                "vda1",
                "DEVNAME=vda1\nDEVTYPE=partition\nPARTN=1\nPARTNAME=bios-boot\n",
            ),
            (
                "vda2",
                "DEVNAME=vda2\nDEVTYPE=partition\nPARTN=2\nPARTNAME=lvsfw-esp\n",
            ),
        ] {
            std::fs::create_dir(sys.path().join(dev)).unwrap();
            std::fs::write(sys.path().join(dev).join("uevent"), uevent).unwrap();
        }
        assert_eq!(
            find_esp(sys.path(), Path::new("/dev")),
            Some(PathBuf::from("/dev/vda2"))
        );
        std::fs::remove_dir_all(sys.path().join("vda2")).unwrap();
        assert_eq!(find_esp(sys.path(), Path::new("/dev")), None);
    }
}
