//! The boot slots on the disk image's EFI system partition (the layout contract in
//! scripts/build-image): finding and mounting the ESP, each slot's version, grubenv,
//! writing an update into the slot that does not run, and marking a tried slot good.
//!
//! Everything below takes the ESP as a folder, so that the tests run on a temporary one.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use update::grubenv::{self, Env};
use update::keys::Keyring;
use update::payload;
use update::trial::good_slot;
use update::verify::{self, Accepted, Event, Policy};
use update::version::Version;
use update::Slot;

/// The GPT partition name of the ESP (`PARTNAME=` in sysfs).
pub const ESP_PARTNAME: &str = "lvsfw-esp";
pub const ESP_MOUNT: &str = "/run/lvsfw/esp";
/// The running image's version, one line, put into the initramfs by build-image.
pub const VERSION_PATH: &str = "/etc/lvsfw/version";
const GRUBENV: &str = "grub/grubenv";
/// grubenv's lowest version this box takes (update::verify's floor); raised by an update
/// that carries a higher one, never lowered.
pub const MIN_VERSION: &str = "min_version";
/// The board loads nls_cp437 and nls_utf8 for these.
const FAT_OPTIONS: &str = "codepage=437,iocharset=utf8";
/// The file that says a slot is complete: written last by an update, removed first.
const SLOT_VERSION: &str = "version";

/// The running image's version: /etc/lvsfw/version, else the binary's own.
pub fn running_version() -> String {
    std::fs::read_to_string(VERSION_PATH)
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
    is_mounted(ESP_MOUNT) || find_esp(Path::new("/sys/class/block"), Path::new("/dev")).is_some()
}

/// The ESP mounted read-only at [`ESP_MOUNT`] (mounted now if it was not); `Err` says
/// why there is none. The vfat modules come from the board's module list.
pub fn mount_esp() -> Result<PathBuf, String> {
    if is_mounted(ESP_MOUNT) {
        return Ok(ESP_MOUNT.into());
    }
    let node = find_esp(Path::new("/sys/class/block"), Path::new("/dev")).ok_or_else(|| {
        format!("no boot slots: no disk partition is named {ESP_PARTNAME} (not booted from an lvsfw disk image)")
    })?;
    std::fs::create_dir_all(ESP_MOUNT).map_err(|e| format!("{ESP_MOUNT}: {e}"))?;
    use nix::mount::{mount, MsFlags};
    mount(
        Some(&node),
        ESP_MOUNT,
        Some("vfat"),
        MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        // Named, not the kernel's default: Debian's is iso8859-1/ascii, whose modules
        // the board does not load.
        Some(FAT_OPTIONS),
    )
    .map_err(|e| {
        format!(
            "mounting {} (the ESP) on {ESP_MOUNT}: {}",
            node.display(),
            e.desc()
        )
    })?;
    Ok(ESP_MOUNT.into())
}

/// The ESP where PID 1 mounted it at boot, for readers that should not mount it
/// themselves (the page).
pub fn esp_if_mounted() -> Result<PathBuf, String> {
    if is_mounted(ESP_MOUNT) {
        Ok(ESP_MOUNT.into())
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
        ESP_MOUNT,
        None::<&str>,
        flags,
        Some(FAT_OPTIONS),
    )
    .map_err(|e| {
        let how = if writable { "read-write" } else { "read-only" };
        format!("remounting the ESP {how}: {}", e.desc())
    })
}

/// Runs `write` with the ESP writable only meanwhile: Linux marks a FAT volume dirty
/// while it is mounted read-write, so a power cut at any other time leaves it clean.
/// An `esp` other than [`ESP_MOUNT`] (the tests' folders) is written as it is.
pub fn writing<T>(esp: &Path, write: impl FnOnce(&Path) -> Result<T, String>) -> Result<T, String> {
    if esp != Path::new(ESP_MOUNT) {
        return write(esp);
    }
    remount(true)?;
    let result = write(esp);
    nix::unistd::sync();
    if let Err(e) = remount(false) {
        log::warn!("{e}; it stays writable until the next boot");
    }
    result
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

/// What one slot holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SlotState {
    pub slot: String,
    /// `None`: the slot is empty (or an update into it did not finish).
    pub version: Option<String>,
    pub running: bool,
    pub good: bool,
    /// grubenv's `next`: the next boot tries it once.
    pub next: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Slots {
    pub running_version: String,
    pub running: Option<String>,
    pub slots: Vec<SlotState>,
    /// Why there are no slots, or what is odd about them.
    pub note: Option<String>,
}

pub fn slot_version(esp: &Path, slot: Slot) -> Option<String> {
    let text = std::fs::read_to_string(esp.join(slot.letter()).join(SLOT_VERSION)).ok()?;
    Some(text.trim().to_string()).filter(|v| !v.is_empty())
}

/// Both slots as the ESP at `esp` has them (`Err`: why there is no ESP).
pub fn read(esp: Result<PathBuf, String>, running: Option<Slot>) -> Slots {
    let mut slots = Slots {
        running_version: running_version(),
        running: running.map(|s| s.letter().to_string()),
        slots: Vec::new(),
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
        slots.slots.push(SlotState {
            slot: slot.letter().into(),
            version: slot_version(&esp, slot),
            running: running == Some(slot),
            good: env.is_some() && good == slot,
            next: next == Some(slot),
        });
    }
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
            out.push_str(&format!(
                "slot {}  {:<20} {}\n",
                s.slot,
                s.version.as_deref().unwrap_or("(empty)"),
                words.join(", ")
            ));
        }
        if let Some(note) = &self.note {
            out.push_str(note);
            out.push('\n');
        }
        out
    }
}

/// What [`install`] did.
#[derive(Debug)]
pub struct Installed {
    pub accepted: Accepted,
    pub slot: Slot,
    pub bytes: u64,
    /// grubenv's `min_version` was raised to the update's floor.
    pub floor_raised: bool,
}

/// Where an update goes, and what this box asks of it besides a trusted signature.
pub struct Target<'a> {
    pub esp: &'a Path,
    pub running: Slot,
    pub board: &'a str,
    /// The running image's version (`running_version()` on the box).
    pub running_version: &'a str,
    pub keys: &'a Keyring,
    /// The operator's `--allow-downgrade`: an older version is taken (never one below
    /// the floor).
    pub allow_downgrade: bool,
}

impl Target<'_> {
    /// The verifier's policy for this box, from grubenv (its floor) and the running
    /// version. A box whose running slot is on trial takes no update: the other slot is
    /// then the only good one.
    fn policy(&self, env: &Env) -> Result<Policy, String> {
        let good = good_slot(env.get("slot"));
        if good != self.running {
            return Err(format!(
                "slot {} runs on trial and is not marked good yet, so slot {good} is the only good one; \
                 nothing changed (try again once slot {} is marked good)",
                self.running, self.running
            ));
        }
        let running = match Version::parse(self.running_version) {
            Ok(v) => Some(v),
            Err(_) if self.allow_downgrade => None,
            Err(e) => {
                return Err(format!(
                    "{e}: the running version has no order, so no update can be judged newer; \
                     nothing changed (update --allow-downgrade FILE takes it anyway)"
                ))
            }
        };
        let floor = match env.get(MIN_VERSION).filter(|v| !v.is_empty()) {
            None => None,
            Some(text) => Some(
                Version::parse(text)
                    .map_err(|e| format!("grubenv {MIN_VERSION}: {e}; nothing changed"))?,
            ),
        };
        Ok(Policy {
            keys: self.keys.clone(),
            board: Some(self.board.into()),
            running,
            floor,
            allow_downgrade: self.allow_downgrade,
            max_len: payload::MAX_LEN,
        })
    }
}

/// Writes the update in `file` into the slot that does not run and has grub try it
/// once at the next boot. The update is checked whole (signed by a trusted key, for
/// this board, not older than what runs unless allowed, never below the floor) before
/// anything is touched.
pub fn install(file: &Path, to: &Target) -> Result<Installed, String> {
    let (esp, running) = (to.esp, to.running);
    let open = || open_update(file);
    let mut env = read_grubenv(esp).map_err(|e| format!("{e}; nothing changed"))?;
    let policy = to.policy(&env)?;
    let damaged = |e: payload::Error| format!("{}: {e}; nothing changed", file.display());
    verify::verify(&mut open()?, policy.clone()).map_err(damaged)?;
    let target = running.other();
    let dir = esp.join(target.letter());
    let in_dir = |name: &str| dir.join(name);
    let fail = |what: &Path, e: &dyn std::fmt::Display| format!("{}: {e}", what.display());
    std::fs::create_dir_all(&dir).map_err(|e| fail(&dir, &e))?;
    // The version file goes first and comes back last: a slot without one is empty.
    for name in [SLOT_VERSION, "vmlinuz", "initrd"] {
        let path = in_dir(name);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(fail(&path, &e)),
        }
    }
    let mut outputs = Vec::new();
    for name in payload::FILES {
        let path = in_dir(&format!("{name}.new"));
        let out = File::create(&path).map_err(|e| fail(&path, &e))?;
        outputs.push((path, std::io::BufWriter::with_capacity(256 << 10, out)));
    }
    // Read again while writing: what lands on the disk is what this pass hashed.
    let unpacked = verify::read(&mut open()?, policy, &mut |event| match event {
        Event::Data { file, bytes } => outputs[file].1.write_all(bytes),
        _ => Ok(()),
    });
    let result = unpacked
        .map_err(|e| format!("{}: {e}", file.display()))
        .and_then(|accepted| {
            for (path, out) in &mut outputs {
                out.flush()
                    .and_then(|_| out.get_ref().sync_all())
                    .map_err(|e| fail(path, &e))?;
            }
            Ok(accepted)
        });
    let accepted = match result {
        Ok(m) => m,
        Err(e) => {
            for (path, _) in &outputs {
                let _ = std::fs::remove_file(path);
            }
            return Err(format!("{e}; slot {target} is left empty"));
        }
    };
    for name in payload::FILES {
        let from = in_dir(&format!("{name}.new"));
        std::fs::rename(&from, in_dir(name)).map_err(|e| fail(&from, &e))?;
    }
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| fail(&dir, &e))?;
    env.set("next", target.letter())
        .map_err(|e| format!("grubenv: {e}"))?;
    let floor = accepted.floor_after.as_ref().map(Version::as_str);
    let floor_raised = floor.is_some() && floor != env.get(MIN_VERSION);
    if let Some(floor) = floor.filter(|_| floor_raised) {
        env.set(MIN_VERSION, floor)
            .map_err(|e| format!("grubenv: {e}"))?;
    }
    write_grubenv(esp, &env)?;
    Ok(Installed {
        bytes: accepted.manifest.total_len(),
        accepted,
        slot: target,
        floor_raised,
    })
}

/// The update's bytes. A disk holding an update (the console's `update /dev/vdb`) is
/// longer than the update by its last sector's rest: read only as far as the header
/// says the update goes.
fn open_update(file: &Path) -> Result<Box<dyn Read>, String> {
    use std::os::unix::fs::FileTypeExt as _;
    let fail = |e: std::io::Error| format!("{}: {e}", file.display());
    let f = File::open(file).map_err(fail)?;
    let is_disk = f.metadata().map_err(fail)?.file_type().is_block_device();
    let reader = std::io::BufReader::with_capacity(256 << 10, f);
    if !is_disk {
        return Ok(Box::new(reader));
    }
    let mut peek = File::open(file).map_err(fail)?;
    match payload::read_total_len(&mut peek) {
        Ok(len) => Ok(Box::new(reader.take(len))),
        // What is wrong with it is said when it is read.
        Err(_) => Ok(Box::new(reader)),
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
    use update::testing::{keyring, Update};

    /// The version slot A runs in these tests.
    const RUNNING: &str = "1.0.0-1";

    fn to<'a>(
        esp: &'a Path,
        running: Slot,
        keys: &'a Keyring,
        allow_downgrade: bool,
    ) -> Target<'a> {
        Target {
            esp,
            running,
            board: "qemu-x86_64",
            running_version: RUNNING,
            keys,
            allow_downgrade,
        }
    }

    fn esp_with_slot_a() -> tempfile::TempDir {
        let esp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(esp.path().join("grub")).unwrap();
        std::fs::create_dir_all(esp.path().join("A")).unwrap();
        std::fs::write(esp.path().join("A/version"), format!("{RUNNING}\n")).unwrap();
        std::fs::write(esp.path().join("A/vmlinuz"), "old kernel").unwrap();
        let mut env = Env::default();
        env.set("slot", "A").unwrap();
        env.set("next", "").unwrap();
        std::fs::write(esp.path().join(GRUBENV), env.to_block().unwrap()).unwrap();
        esp
    }

    fn update_file(dir: &Path, board: &str, version: &str) -> PathBuf {
        let path = dir.join(format!("{version}.update"));
        let update = Update {
            board: board.into(),
            version: version.into(),
            ..Update::default()
        };
        std::fs::write(&path, update.bytes()).unwrap();
        path
    }

    #[test]
    fn an_update_fills_the_other_slot_and_asks_grub_to_try_it_once() {
        let esp = esp_with_slot_a();
        let work = tempfile::tempdir().unwrap();
        let file = update_file(work.path(), "qemu-x86_64", "2.0.0-1");
        let keys = keyring(&[1]);
        let done = install(&file, &to(esp.path(), Slot::A, &keys, false)).unwrap();
        assert_eq!(done.slot, Slot::B);
        assert_eq!(done.accepted.manifest.version.to_string(), "2.0.0-1");
        assert_eq!(done.accepted.signer.name, "key1");
        assert_eq!(
            std::fs::read(esp.path().join("B/vmlinuz")).unwrap(),
            b"kernel"
        );
        assert_eq!(
            std::fs::read(esp.path().join("B/initrd")).unwrap(),
            b"initrd"
        );
        assert_eq!(
            slot_version(esp.path(), Slot::B).as_deref(),
            Some("2.0.0-1")
        );
        assert!(!esp.path().join("B/initrd.new").exists());
        let env = read_grubenv(esp.path()).unwrap();
        assert_eq!((env.get("slot"), env.get("next")), (Some("A"), Some("B")));
        assert_eq!(
            std::fs::metadata(esp.path().join(GRUBENV)).unwrap().len(),
            1024
        );

        let shown = read(Ok(esp.path().into()), Some(Slot::A));
        assert_eq!(shown.slots[0].version.as_deref(), Some(RUNNING));
        assert!(shown.slots[0].running && shown.slots[0].good);
        assert!(shown.slots[1].next && !shown.slots[1].good);

        // The next boot runs B (grub cleared next); once ready it is marked good.
        let mut env = read_grubenv(esp.path()).unwrap();
        env.set("next", "").unwrap();
        write_grubenv(esp.path(), &env).unwrap();
        let on_trial = install(&file, &to(esp.path(), Slot::B, &keys, false)).unwrap_err();
        assert!(on_trial.contains("slot B runs on trial"), "{on_trial}");
        mark_good(esp.path(), Slot::B).unwrap();
        let env = read_grubenv(esp.path()).unwrap();
        assert_eq!((env.get("slot"), env.get("next")), (Some("B"), Some("")));
    }

    #[test]
    fn a_bad_update_changes_nothing() {
        let esp = esp_with_slot_a();
        let before = std::fs::read(esp.path().join(GRUBENV)).unwrap();
        let work = tempfile::tempdir().unwrap();
        let other_board = update_file(work.path(), "pc-x86_64", "2.0.0-1");
        let keys = keyring(&[1]);
        let err = install(&other_board, &to(esp.path(), Slot::A, &keys, false)).unwrap_err();
        assert!(
            err.ends_with(
                "built for board \"pc-x86_64\", but this is board \"qemu-x86_64\"; nothing changed"
            ),
            "{err}"
        );
        let damaged = update_file(work.path(), "qemu-x86_64", "3.0.0-1");
        let mut bytes = std::fs::read(&damaged).unwrap();
        // A byte of the initrd (then 8 bytes of version file).
        let at = bytes.len() - 10;
        bytes[at] ^= 1;
        std::fs::write(&damaged, bytes).unwrap();
        let err = install(&damaged, &to(esp.path(), Slot::A, &keys, false)).unwrap_err();
        assert!(err.contains("file initrd is not what was signed"), "{err}");
        assert!(!esp.path().join("B").exists());
        assert_eq!(std::fs::read(esp.path().join(GRUBENV)).unwrap(), before);
    }

    #[test]
    fn older_needs_allow_downgrade_the_floor_holds_and_an_update_raises_it() {
        let esp = esp_with_slot_a();
        let work = tempfile::tempdir().unwrap();
        let keys = keyring(&[1]);
        let older = update_file(work.path(), "qemu-x86_64", "0.9.0-1");
        let before = std::fs::read(esp.path().join(GRUBENV)).unwrap();
        let err = install(&older, &to(esp.path(), Slot::A, &keys, false)).unwrap_err();
        assert!(
            err.ends_with(
                "version 0.9.0-1 is older than the running version 1.0.0-1; to go back on \
                 purpose: update --allow-downgrade FILE; nothing changed"
            ),
            "{err}"
        );
        assert_eq!(std::fs::read(esp.path().join(GRUBENV)).unwrap(), before);
        let done = install(&older, &to(esp.path(), Slot::A, &keys, true)).unwrap();
        assert_eq!(done.accepted.manifest.version.to_string(), "0.9.0-1");
        assert!(!done.floor_raised);
        assert_eq!(read_grubenv(esp.path()).unwrap().get(MIN_VERSION), None);

        // An update that carries a floor raises grubenv's.
        let raising = work.path().join("raising.update");
        let update = Update {
            version: "2.0.0-1".into(),
            floor: Some("1.5.0-0".into()),
            ..Update::default()
        };
        std::fs::write(&raising, update.bytes()).unwrap();
        let done = install(&raising, &to(esp.path(), Slot::A, &keys, false)).unwrap();
        assert!(done.floor_raised);
        assert_eq!(
            read_grubenv(esp.path()).unwrap().get(MIN_VERSION),
            Some("1.5.0-0")
        );
        // Below it nothing goes, not even allowed; the running 1.0.0-1 itself is below.
        let err = install(&older, &to(esp.path(), Slot::A, &keys, true)).unwrap_err();
        assert!(
            err.contains("version 0.9.0-1 is below 1.5.0-0, the lowest version this box may run"),
            "{err}"
        );
        // An update without a floor does not lower it.
        let plain = update_file(work.path(), "qemu-x86_64", "2.1.0-1");
        let done = install(&plain, &to(esp.path(), Slot::A, &keys, false)).unwrap();
        assert!(!done.floor_raised);
        assert_eq!(
            read_grubenv(esp.path()).unwrap().get(MIN_VERSION),
            Some("1.5.0-0")
        );
    }

    #[test]
    fn a_running_version_without_order_takes_updates_only_when_allowed() {
        let esp = esp_with_slot_a();
        let work = tempfile::tempdir().unwrap();
        let keys = keyring(&[1]);
        let file = update_file(work.path(), "qemu-x86_64", "2.0.0-1");
        let old_style = Target {
            running_version: "0.1.0-633566c",
            ..to(esp.path(), Slot::A, &keys, false)
        };
        let err = install(&file, &old_style).unwrap_err();
        assert!(
            err.contains("the build \"633566c\" is not a number")
                && err.contains("update --allow-downgrade FILE takes it anyway"),
            "{err}"
        );
        let allowed = Target {
            allow_downgrade: true,
            ..old_style
        };
        assert!(install(&file, &allowed).is_ok());
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
