//! Installs on a temporary ESP folder: a signed update lands in the other slot; every
//! refusal leaves both slots and grubenv byte for byte as they were.

use std::cell::Cell;
use std::collections::BTreeMap;

use super::*;
use crate::{mark_good, read, read_grubenv, read_trusting, slot_version, write_grubenv, GRUBENV};
use update::testing::{key, keyring, Update};
use update::verify::open_signed;

thread_local! {
    /// Free bytes the ESP reports in a test (`None`: the real file system's).
    pub static FREE: Cell<Option<u64>> = const { Cell::new(None) };
}

/// The version slot A runs in these tests; slot B holds the one before.
const RUNNING: &str = "1.0.0-1";
const OLDER: &str = "0.9.0-1";

/// A box's ESP in a folder, and a folder for its update files.
struct Bench {
    esp: tempfile::TempDir,
    work: tempfile::TempDir,
    keys: Keyring,
    lock: PathBuf,
}

impl Bench {
    /// Slot A runs 1.0.0-1 (good), slot B holds 0.9.0-1 with another kernel.
    fn new() -> Bench {
        let esp = tempfile::tempdir().unwrap();
        let put = |path: &str, bytes: &[u8]| {
            let path = esp.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        };
        put("A/vmlinuz", b"kernel");
        put("A/initrd", b"initrd A");
        put("A/version", format!("{RUNNING}\n").as_bytes());
        put("B/vmlinuz", b"older kernel");
        put("B/initrd", b"initrd B");
        put("B/version", format!("{OLDER}\n").as_bytes());
        let mut env = Env::default();
        env.set("slot", "A").unwrap();
        env.set("next", "").unwrap();
        put(GRUBENV, &env.to_block().unwrap());
        let work = tempfile::tempdir().unwrap();
        Bench {
            esp,
            lock: work.path().join("update.lock"),
            work,
            keys: keyring(&[1]),
        }
    }

    fn target(&self, running: Slot, allow_downgrade: bool) -> Target<'_> {
        Target {
            esp: self.esp.path(),
            running,
            board: "qemu-x86_64",
            running_version: RUNNING,
            keys: &self.keys,
            allow_downgrade,
            lock: &self.lock,
        }
    }

    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.work.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// Every file of the ESP with its bytes.
    fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, root, out);
                } else {
                    let rel = path.strip_prefix(root).unwrap().to_path_buf();
                    out.insert(rel, std::fs::read(&path).unwrap());
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(self.esp.path(), self.esp.path(), &mut out);
        out
    }

    /// Streams `bytes` in as an upload does, in pieces of `piece` bytes.
    fn upload(&self, bytes: &[u8], piece: usize, allow: bool) -> Result<Installed, String> {
        let mut installing = Installing::begin(&self.target(Slot::A, allow))?;
        for chunk in bytes.chunks(piece) {
            installing.push(chunk)?;
        }
        installing.finish()
    }
}

fn v2() -> Update {
    Update {
        version: "2.0.0-1".into(),
        kernel: b"new kernel".to_vec(),
        initrd: b"new initrd".to_vec(),
        ..Update::default()
    }
}

#[test]
fn a_signed_update_fills_the_other_slot_and_asks_grub_to_try_it_once() {
    let b = Bench::new();
    let file = b.file("v2.update", &v2().bytes());
    let done = install_file(&file, &b.target(Slot::A, false)).unwrap();
    assert_eq!(done.slot, Slot::B);
    assert_eq!(done.accepted.manifest.version.to_string(), "2.0.0-1");
    assert_eq!(done.accepted.signer.name, "key1");
    assert!(done.kept.is_empty());
    let esp = b.esp.path();
    assert_eq!(std::fs::read(esp.join("B/vmlinuz")).unwrap(), b"new kernel");
    assert_eq!(std::fs::read(esp.join("B/initrd")).unwrap(), b"new initrd");
    assert_eq!(slot_version(esp, Slot::B).as_deref(), Some("2.0.0-1"));
    // The slot keeps the signed header: who signed it can be shown later.
    let kept = std::fs::read(esp.join("B/manifest")).unwrap();
    assert_eq!(kept, done.accepted.signed_header);
    assert_eq!(open_signed(&kept, &b.keys).unwrap().1.name, "key1");
    let names: Vec<_> = std::fs::read_dir(esp.join("B"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(names, ["initrd", "manifest", "version", "vmlinuz"]);
    let env = read_grubenv(esp).unwrap();
    assert_eq!((env.get("slot"), env.get("next")), (Some("A"), Some("B")));
    assert_eq!(std::fs::metadata(esp.join(GRUBENV)).unwrap().len(), 1024);

    let shown = read(Ok(esp.into()), Some(Slot::A));
    assert_eq!(shown.slots[0].version.as_deref(), Some(RUNNING));
    assert!(shown.slots[0].running && shown.slots[0].good);
    assert!(shown.slots[1].next && !shown.slots[1].good);
    // `show slots` names the key that signed what a slot holds.
    let shown = read_trusting(Ok(esp.into()), Some(Slot::A), &b.keys);
    let id = key(1).id();
    assert_eq!(shown.slots[0].signed_by, None);
    assert_eq!(shown.slots[1].signed_by, Some(format!("key1 ({id})")));
    let text = shown.render();
    let line = |slot: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("slot {slot} ")))
            .unwrap()
            .to_string()
    };
    assert!(
        line("A").ends_with("running, good, no signature kept (not written by an update)"),
        "{text}"
    );
    assert!(
        line("B").ends_with(&format!(
            "the next boot tries it once, signed by key1 ({id})"
        )),
        "{text}"
    );
    let rotated = read_trusting(Ok(esp.into()), Some(Slot::A), &keyring(&[2]));
    assert_eq!(
        rotated.slots[1].signed_by,
        Some(format!("key {id}, which this firmware does not trust"))
    );
    let mut damaged = std::fs::read(esp.join("B/manifest")).unwrap();
    damaged[20] ^= 1;
    std::fs::write(esp.join("B/manifest"), &damaged).unwrap();
    let shown = read_trusting(Ok(esp.into()), Some(Slot::A), &b.keys);
    assert!(
        shown.slots[1]
            .signed_by
            .as_deref()
            .unwrap()
            .starts_with("unknown: its signed header does not verify"),
        "{:?}",
        shown.slots[1]
    );
    std::fs::write(esp.join("B/manifest"), &kept).unwrap();

    // The next boot runs B (grub cleared next); on trial it takes no update.
    let mut env = read_grubenv(esp).unwrap();
    env.set("next", "").unwrap();
    write_grubenv(esp, &env).unwrap();
    let before = b.snapshot();
    let on_trial = install_file(&file, &b.target(Slot::B, false)).unwrap_err();
    assert!(on_trial.contains("slot B runs on trial"), "{on_trial}");
    assert_eq!(b.snapshot(), before);
    mark_good(esp, Slot::B).unwrap();
    let env = read_grubenv(esp).unwrap();
    assert_eq!((env.get("slot"), env.get("next")), (Some("B"), Some("")));
}

/// Every kind of refusal, from a file and as an upload (cut into pieces; a cut at a
/// random byte): the ESP is the same bytes after it.
#[test]
fn every_refusal_leaves_both_slots_and_grubenv_byte_for_byte() {
    let b = Bench::new();
    let good = v2().bytes();
    let header_end = good.len() - 10 - 10 - 8;
    let flipped = |at: usize| {
        let mut bytes = good.clone();
        bytes[at] ^= 0x10;
        bytes
    };
    let unsigned = {
        // Format 1 (checksummed only), as the firmware before signing wrote it.
        let mut bytes = good.clone();
        bytes[8] = 1;
        bytes
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("unsigned", unsigned, "unsigned: an update of format 1"),
        (
            "unknown key",
            Update {
                signer: 2,
                carries: vec![2],
                ..v2()
            }
            .bytes(),
            "which this firmware does not trust",
        ),
        ("flip in the header", flipped(20), "damaged header"),
        (
            "flip in the signature",
            flipped(header_end - 3),
            "the signature does not verify",
        ),
        (
            "flip in the kernel",
            flipped(header_end + 2),
            "file vmlinuz is not what was signed",
        ),
        (
            "flip in the initrd",
            flipped(header_end + 15),
            "file initrd is not what was signed",
        ),
        (
            "flip in the version",
            flipped(good.len() - 1),
            "file version is not what was signed",
        ),
        (
            "cut in the header",
            good[..40].to_vec(),
            "truncated: the header",
        ),
        (
            "cut in the kernel",
            good[..header_end + 4].to_vec(),
            "truncated: file vmlinuz is 6 bytes short",
        ),
        (
            "cut in the version",
            good[..good.len() - 1].to_vec(),
            "truncated: file version is 1 byte short",
        ),
        (
            "other board",
            Update {
                board: "pc-x86_64".into(),
                ..v2()
            }
            .bytes(),
            "built for board \"pc-x86_64\"",
        ),
        (
            "older",
            Update {
                version: "0.9.5-1".into(),
                ..v2()
            }
            .bytes(),
            "is older than the running version 1.0.0-1",
        ),
        (
            "trailing bytes",
            [good.clone(), vec![0]].concat(),
            "bytes after the last file",
        ),
    ];
    let before = b.snapshot();
    for (what, bytes, says) in &cases {
        let file = b.file("bad.update", bytes);
        let err = install_file(&file, &b.target(Slot::A, false)).unwrap_err();
        assert!(err.contains(says), "{what} from a file: {err}");
        assert!(
            err.ends_with("; nothing changed"),
            "{what} from a file: {err}"
        );
        assert_eq!(b.snapshot(), before, "{what} from a file changed the ESP");
        for piece in [1000, 7] {
            let err = b.upload(bytes, piece, false).unwrap_err();
            assert!(err.contains(says), "{what} uploaded: {err}");
            assert!(err.ends_with("; nothing changed"), "{what} uploaded: {err}");
            assert_eq!(b.snapshot(), before, "{what} uploaded changed the ESP");
        }
    }
    // A connection cut at every byte: the upload is dropped unfinished.
    for cut in 0..good.len() {
        let mut installing = Installing::begin(&b.target(Slot::A, false)).unwrap();
        let _ = installing.push(&good[..cut]);
        drop(installing);
        assert_eq!(b.snapshot(), before, "cut at byte {cut}");
    }
}

#[test]
fn below_the_floor_too_big_and_a_second_update_are_refused_changing_nothing() {
    let b = Bench::new();
    let mut env = read_grubenv(b.esp.path()).unwrap();
    env.set(MIN_VERSION, "1.0.0-0").unwrap();
    write_grubenv(b.esp.path(), &env).unwrap();
    let before = b.snapshot();
    let below = Update {
        version: "0.9.9-9".into(),
        ..v2()
    }
    .bytes();
    let err = b.upload(&below, 4096, true).unwrap_err();
    assert!(
        err.contains("version 0.9.9-9 is below 1.0.0-0, the lowest version this box may run"),
        "{err}"
    );
    assert_eq!(b.snapshot(), before);

    // More than the ESP has, even with slot B's old files gone.
    FREE.with(|f| f.set(Some(4096 * 4)));
    let big = Update {
        kernel: vec![1; 200_000],
        ..v2()
    }
    .bytes();
    let err = b.upload(&big, 4096, false);
    FREE.with(|f| f.set(None));
    let err = err.unwrap_err();
    assert!(
        err.contains("and the ESP has 16384 free and 12288 in slot B's files to replace: too big for this box; nothing changed"),
        "{err}"
    );
    assert_eq!(b.snapshot(), before);

    // One update at a time.
    let first = Installing::begin(&b.target(Slot::A, false)).unwrap();
    let err = b.upload(&v2().bytes(), 4096, false).unwrap_err();
    assert_eq!(
        err,
        "another update is being written now; nothing changed (try again when it is done)"
    );
    drop(first);
    assert_eq!(b.snapshot(), before);
    assert!(b.upload(&v2().bytes(), 4096, false).is_ok());
}

#[test]
fn an_upload_streams_into_new_files_and_renames_only_when_all_verified() {
    let b = Bench::new();
    let bytes = Update {
        kernel: (0..300_000u32).map(|i| (i % 253) as u8).collect(),
        ..v2()
    }
    .bytes();
    let mut installing = Installing::begin(&b.target(Slot::A, false)).unwrap();
    let half = bytes.len() / 2;
    installing.push(&bytes[..half]).unwrap();
    // Half way: the kernel is being written beside the old one, which is still there.
    let esp = b.esp.path();
    assert!(esp.join("B/vmlinuz.new").exists());
    assert_eq!(
        std::fs::read(esp.join("B/vmlinuz")).unwrap(),
        b"older kernel"
    );
    assert_eq!(slot_version(esp, Slot::B).as_deref(), Some(OLDER));
    installing.push(&bytes[half..]).unwrap();
    let done = installing.finish().unwrap();
    assert_eq!(done.slot, Slot::B);
    assert_eq!(std::fs::read(esp.join("B/vmlinuz")).unwrap().len(), 300_000);
    assert!(!esp.join("B/vmlinuz.new").exists());
    assert_eq!(slot_version(esp, Slot::B).as_deref(), Some("2.0.0-1"));
}

#[test]
fn a_file_the_slot_has_already_is_not_written_again() {
    let b = Bench::new();
    // Slot B's kernel is the one the update brings.
    let same_kernel = Update {
        kernel: b"older kernel".to_vec(),
        ..v2()
    };
    let done = b.upload(&same_kernel.bytes(), 5, false).unwrap();
    assert_eq!(done.kept, ["vmlinuz"]);
    let esp = b.esp.path();
    assert_eq!(
        std::fs::read(esp.join("B/vmlinuz")).unwrap(),
        b"older kernel"
    );
    assert_eq!(std::fs::read(esp.join("B/initrd")).unwrap(), b"new initrd");
    assert_eq!(slot_version(esp, Slot::B).as_deref(), Some("2.0.0-1"));
}

#[test]
fn without_room_beside_the_old_files_they_go_first_and_a_file_is_verified_before() {
    let b = Bench::new();
    // Room for the small files only: the new kernel needs slot B's old one gone.
    FREE.with(|f| f.set(Some(4096 * 3)));
    let bytes = v2().bytes();
    let cut = &bytes[..bytes.len() - 3];
    let before = b.snapshot();
    // From a file the whole update is checked first: the cut changes nothing.
    let file = b.file("cut.update", cut);
    let err = install_file(&file, &b.target(Slot::A, false)).unwrap_err();
    assert!(
        err.ends_with("truncated: file version is 3 bytes short; nothing changed"),
        "{err}"
    );
    assert_eq!(b.snapshot(), before);
    // An upload cannot be read twice: slot B is emptied for room, and stays so.
    let err = b.upload(cut, 4096, false).unwrap_err();
    assert!(
        err.ends_with(
            "truncated: file version is 3 bytes short; slot B had been emptied to make room \
             for the new files and stays empty (the running slot is untouched)"
        ),
        "{err}"
    );
    let after = b.snapshot();
    let untouched = |m: &BTreeMap<PathBuf, Vec<u8>>| {
        m.iter()
            .filter(|(p, _)| !p.starts_with("B"))
            .map(|(p, b)| (p.clone(), b.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(untouched(&after), untouched(&before));
    assert_eq!(slot_version(b.esp.path(), Slot::B), None);
    assert!(after.keys().all(|p| !p.to_string_lossy().ends_with(".new")));
    // The whole update goes in (the old files' room is free now).
    FREE.with(|f| f.set(Some(4096 * 6)));
    let done = b.upload(&bytes, 4096, false);
    FREE.with(|f| f.set(None));
    assert_eq!(done.unwrap().slot, Slot::B);
    assert_eq!(
        slot_version(b.esp.path(), Slot::B).as_deref(),
        Some("2.0.0-1")
    );
}

#[test]
fn older_needs_allow_downgrade_and_an_update_raises_the_floor() {
    let b = Bench::new();
    let older = b.file(
        "older.update",
        &Update {
            version: "0.9.0-1".into(),
            ..v2()
        }
        .bytes(),
    );
    let before = b.snapshot();
    let err = install_file(&older, &b.target(Slot::A, false)).unwrap_err();
    assert!(
        err.ends_with(
            "version 0.9.0-1 is older than the running version 1.0.0-1; to go back on \
             purpose, allow a downgrade (update --allow-downgrade FILE at the console, the \
             box \"Take an older version\" on the page, ?allow_downgrade=yes on PUT \
             /api/update); nothing changed"
        ),
        "{err}"
    );
    assert_eq!(b.snapshot(), before);
    let done = install_file(&older, &b.target(Slot::A, true)).unwrap();
    assert_eq!(done.accepted.manifest.version.to_string(), "0.9.0-1");
    assert!(!done.floor_raised);
    assert_eq!(read_grubenv(b.esp.path()).unwrap().get(MIN_VERSION), None);

    let raising = Update {
        floor: Some("1.5.0-0".into()),
        ..v2()
    };
    let done = b.upload(&raising.bytes(), 4096, false).unwrap();
    assert!(done.floor_raised);
    let floor = || {
        read_grubenv(b.esp.path())
            .unwrap()
            .get(MIN_VERSION)
            .map(str::to_string)
    };
    assert_eq!(floor().as_deref(), Some("1.5.0-0"));
    let text = read(Ok(b.esp.path().into()), Some(Slot::A)).render();
    assert!(
        text.ends_with("updates below version 1.5.0-0 are refused (grubenv min_version)\n"),
        "{text}"
    );
    // Below it nothing goes, not even allowed (the running 1.0.0-1 itself is below).
    let err = install_file(&older, &b.target(Slot::A, true)).unwrap_err();
    assert!(
        err.contains("version 0.9.0-1 is below 1.5.0-0, the lowest version this box may run"),
        "{err}"
    );
    // An update without a floor does not lower it.
    let done = b.upload(&v2().bytes(), 4096, false).unwrap();
    assert!(!done.floor_raised);
    assert_eq!(floor().as_deref(), Some("1.5.0-0"));
}

#[test]
fn a_running_version_without_order_takes_updates_only_when_allowed() {
    let b = Bench::new();
    let file = b.file("v2.update", &v2().bytes());
    let old_style = Target {
        running_version: "0.1.0-633566c",
        ..b.target(Slot::A, false)
    };
    let err = install_file(&file, &old_style).unwrap_err();
    assert!(
        err.contains("the build \"633566c\" is not a number")
            && err.contains(
                "allowing a downgrade takes it anyway: update --allow-downgrade FILE, or \
                 the page's \"Take an older version\""
            ),
        "{err}"
    );
    let allowed = Target {
        allow_downgrade: true,
        ..old_style
    };
    assert!(install_file(&file, &allowed).is_ok());
}
