//! Writing an update into the slot that does not run, as its bytes come: from a file or
//! disk on the box (`lvsfw update FILE`, the console's `update`) or an upload.
//!
//! The bytes go through `update::verify::Verifier`. Nothing is written until the header
//! and signature verified and the update passed the box's policy (board, size, version,
//! floor): every refusal of that kind changes nothing, not even a remount. Then each
//! file of the update streams into `FILE.new` beside the slot's old one while it is
//! hashed; only when the whole update verified are the old files replaced (the slot's
//! `version` removed first and written last) and `next` set in grubenv. After a
//! refusal the `.new` files are removed: the slot and grubenv are what they were.
//!
//! Room: the ESP holds both slots and has less free space than a third (qemu-x86_64:
//! 40 MiB, slots of 16 MB). A file the slot already has with the same SHA-256 (the
//! kernel, in most updates) is not written again; when the new files still do not fit
//! beside the old ones, the old ones go first and a later refusal leaves the slot
//! empty (the running slot is never touched). A file or disk on the box is therefore
//! verified whole before anything is written ([`install_file`]); an upload, which
//! cannot be read twice, relies on the signed header for everything but damage on the
//! way.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use update::grubenv::Env;
use update::keys::Keyring;
use update::payload::{self, CHUNK, FILES};
use update::verify::{self, Accepted, Event, Policy, Verifier};
use update::version::Version;
use update::Slot;

use super::{read_grubenv, write_grubenv, WritableEsp, MIN_VERSION};
use crate::good_slot;

/// The signed header of the update a slot holds, as it came: who signed the slot.
pub const SLOT_MANIFEST: &str = "manifest";
/// The file that says a slot is complete: written last by an update, removed first.
pub const SLOT_VERSION: &str = "version";

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
    /// The lock file ([`LOCK`] on the box).
    pub lock: &'a Path,
}

/// What an install did.
#[derive(Debug)]
pub struct Installed {
    pub accepted: Accepted,
    pub slot: Slot,
    pub bytes: u64,
    /// grubenv's `min_version` was raised to the update's floor.
    pub floor_raised: bool,
    /// Files the slot already had with the same bytes, not written again.
    pub kept: Vec<&'static str>,
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
                     nothing changed (allowing a downgrade takes it anyway: update --allow-downgrade \
                     FILE, or the page's \"Take an older version\")"
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

/// An update being written, fed piece by piece ([`Installing::push`]); dropped before
/// [`Installing::finish`], it is abandoned and its `.new` files removed.
pub struct Installing {
    verifier: Verifier,
    policy: Policy,
    writer: SlotWriter,
    env: Env,
    _lock: Flock<File>,
}

impl Installing {
    /// Takes the lock and reads what the policy needs; nothing is written.
    pub fn begin(to: &Target) -> Result<Installing, String> {
        let lock = File::create(to.lock).map_err(|e| format!("{}: {e}", to.lock.display()))?;
        let lock = Flock::lock(lock, FlockArg::LockExclusiveNonblock).map_err(|_| {
            "another update is being written now; nothing changed (try again when it is done)"
                .to_string()
        })?;
        let env = read_grubenv(to.esp).map_err(|e| format!("{e}; nothing changed"))?;
        let policy = to.policy(&env)?;
        Ok(Installing {
            verifier: Verifier::new(policy.clone()),
            policy,
            writer: SlotWriter::new(to.esp, to.running.other()),
            env,
            _lock: lock,
        })
    }

    /// Reads a whole update from `input` without writing anything: for a source that
    /// can be read again, so that damage never costs the other slot.
    pub fn check_whole(&self, input: &mut dyn Read) -> Result<Accepted, String> {
        verify::verify(input, self.policy.clone()).map_err(|e| format!("{e}; nothing changed"))
    }

    /// The next bytes of the update. After an error the update is abandoned: the slot
    /// is what it was (unless the error says it had been emptied for room).
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), String> {
        let writer = &mut self.writer;
        let pushed = self.verifier.push(bytes, &mut |event| writer.on(event));
        pushed.map_err(|e| self.writer.abandon(&e.to_string()))
    }

    /// Reads `input` to its end into [`Installing::push`].
    pub fn push_all(&mut self, input: &mut dyn Read) -> Result<(), String> {
        let mut buf = vec![0u8; CHUNK];
        loop {
            match input.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => self.push(&buf[..n])?,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.writer.abandon(&e.to_string())),
            }
        }
    }

    /// The input ended: if the whole update verified, the slot gets its files and grub
    /// tries it at the next boot.
    pub fn finish(self) -> Result<Installed, String> {
        // The lock is held until the end of this function.
        let Installing {
            verifier,
            mut writer,
            mut env,
            _lock,
            ..
        } = self;
        let accepted = match verifier.finish() {
            Ok(a) => a,
            Err(e) => return Err(writer.abandon(&e.to_string())),
        };
        writer.commit(&accepted)?;
        let slot = writer.target;
        let floor = accepted.floor_after.as_ref().map(Version::as_str);
        let floor_raised = floor.is_some() && floor != env.get(MIN_VERSION);
        let grubenv = |e: update::grubenv::Error| format!("grubenv: {e}");
        env.set("next", slot.letter()).map_err(grubenv)?;
        if let Some(floor) = floor.filter(|_| floor_raised) {
            env.set(MIN_VERSION, floor).map_err(grubenv)?;
        }
        write_grubenv(&writer.esp, &env)?;
        writer.done = true;
        Ok(Installed {
            bytes: accepted.manifest.total_len(),
            kept: writer.kept(),
            accepted,
            slot,
            floor_raised,
        })
    }
}

/// Writes the update in `file` (a file or a disk holding one) into the slot that does
/// not run and has grub try it once at the next boot: verified whole first, then read
/// again and written as it is verified a second time.
pub fn install_file(file: &Path, to: &Target) -> Result<Installed, String> {
    let named = |e: String| format!("{}: {e}", file.display());
    let mut installing = Installing::begin(to)?;
    installing
        .check_whole(&mut open_update(file)?)
        .map_err(named)?;
    installing
        .push_all(&mut open_update(file)?)
        .map_err(named)?;
    installing.finish().map_err(named)
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

/// The slot side of an install: plans at the verified header, writes `.new` files,
/// renames them into place at the end or removes them.
struct SlotWriter {
    esp: PathBuf,
    target: Slot,
    dir: PathBuf,
    /// Per update file: where its bytes go (`None`: the slot has it already, or nothing
    /// was planned yet).
    outputs: Vec<Option<(PathBuf, BufWriter<File>)>>,
    kept: [bool; 3],
    /// The old files were removed for room before the new ones verified.
    emptied: bool,
    writable: Option<WritableEsp>,
    done: bool,
}

impl SlotWriter {
    fn new(esp: &Path, target: Slot) -> SlotWriter {
        SlotWriter {
            esp: esp.into(),
            target,
            dir: esp.join(target.letter()),
            outputs: Vec::new(),
            kept: [false; 3],
            emptied: false,
            writable: None,
            done: false,
        }
    }

    fn kept(&self) -> Vec<&'static str> {
        FILES
            .iter()
            .zip(self.kept)
            .filter_map(|(name, kept)| kept.then_some(*name))
            .collect()
    }

    fn on(&mut self, event: Event) -> std::io::Result<()> {
        match event {
            Event::Accepted(accepted) => self.plan(accepted),
            Event::Data { file, bytes } => match &mut self.outputs[file] {
                Some((_, out)) => out.write_all(bytes),
                None => Ok(()),
            },
            Event::FileVerified(_) => Ok(()),
        }
    }

    /// At the verified header: which files the slot has already, whether the new ones
    /// fit beside the old, then the `.new` files.
    fn plan(&mut self, accepted: &Accepted) -> std::io::Result<()> {
        let files = &accepted.manifest.files;
        // Read while the ESP is still read-only (reading does not change a FAT volume
        // then, not even an access date).
        for (i, entry) in files.iter().enumerate() {
            // The version file is the slot's completeness mark: always rewritten.
            self.kept[i] = entry.name != SLOT_VERSION
                && same_bytes(&self.dir.join(&entry.name), entry.len, &entry.sha256);
        }
        let (free, cluster) = free_space(&self.esp)?;
        let on_disk = |len: u64| len.div_ceil(cluster) * cluster;
        let size = |path: &Path| std::fs::metadata(path).map_or(0, |m| on_disk(m.len()));
        let mut need = on_disk(accepted.signed_header.len() as u64);
        let mut replaced = size(&self.dir.join(SLOT_MANIFEST));
        for (entry, kept) in files.iter().zip(self.kept) {
            let old = self.dir.join(&entry.name);
            replaced += size(&old.with_extension("new"));
            if !kept {
                need += on_disk(entry.len);
                replaced += size(&old);
            }
        }
        if need > free + replaced {
            return Err(std::io::Error::other(format!(
                "the slot's new files need {need} bytes, and the ESP has {free} free and \
                 {replaced} in slot {}'s files to replace: too big for this box",
                self.target
            )));
        }
        self.writable = Some(WritableEsp::new(&self.esp)?);
        std::fs::create_dir_all(&self.dir)?;
        for name in FILES.iter().chain(&[SLOT_MANIFEST]) {
            remove_if_there(&self.dir.join(format!("{name}.new")))?;
        }
        if need > free {
            // The version file goes first: a slot without one is empty.
            self.emptied = true;
            remove_if_there(&self.dir.join(SLOT_VERSION))?;
            remove_if_there(&self.dir.join(SLOT_MANIFEST))?;
            for (entry, kept) in files.iter().zip(self.kept) {
                if !kept {
                    remove_if_there(&self.dir.join(&entry.name))?;
                }
            }
        }
        self.outputs = Vec::new();
        for (entry, kept) in files.iter().zip(self.kept) {
            self.outputs.push(if kept {
                None
            } else {
                let path = self.dir.join(format!("{}.new", entry.name));
                let out = BufWriter::with_capacity(256 << 10, File::create(&path)?);
                Some((path, out))
            });
        }
        Ok(())
    }

    /// The whole update verified: the `.new` files become the slot's, version last.
    fn commit(&mut self, accepted: &Accepted) -> Result<(), String> {
        let fail = |path: &Path, e: std::io::Error| {
            format!(
                "{}: {e}; slot {} is left empty",
                path.display(),
                self.target
            )
        };
        for (path, out) in self.outputs.iter_mut().flatten() {
            out.flush()
                .and_then(|()| out.get_ref().sync_all())
                .map_err(|e| fail(path, e))?;
        }
        let manifest = self.dir.join(format!("{SLOT_MANIFEST}.new"));
        write_synced(&manifest, &accepted.signed_header).map_err(|e| fail(&manifest, e))?;
        let version = self.dir.join(SLOT_VERSION);
        remove_if_there(&version).map_err(|e| fail(&version, e))?;
        let mut renames: Vec<PathBuf> = self
            .outputs
            .iter()
            .flatten()
            .map(|(p, _)| p.clone())
            .collect();
        renames.push(manifest);
        // The version file came in the update (its last file): its rename is the last.
        renames.sort_by_key(|p| p.file_stem() == Some(SLOT_VERSION.as_ref()));
        for from in &renames {
            std::fs::rename(from, from.with_extension("")).map_err(|e| fail(from, e))?;
        }
        self.outputs.clear();
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| fail(&self.dir, e))
    }

    /// Removes the `.new` files; the message for the operator, `why` first.
    fn abandon(&mut self, why: &str) -> String {
        for (path, _) in self.outputs.drain(..).flatten() {
            let _ = std::fs::remove_file(path);
        }
        if self.emptied {
            format!(
                "{why}; slot {} had been emptied to make room for the new files and stays \
                 empty (the running slot is untouched)",
                self.target
            )
        } else {
            format!("{why}; nothing changed")
        }
    }
}

impl Drop for SlotWriter {
    fn drop(&mut self) {
        if !self.done {
            self.abandon("");
        }
    }
}

/// Whether `path` has `len` bytes whose SHA-256 is `sha256`.
fn same_bytes(path: &Path, len: u64, sha256: &[u8; 32]) -> bool {
    let Ok(mut file) = File::open(path) else {
        return false;
    };
    if file.metadata().map(|m| m.len()).ok() != Some(len) {
        return false;
    }
    let mut hash = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; CHUNK];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hash.update(&buf[..n]),
            Err(_) => return false,
        }
    }
    hash.finish().as_ref() == sha256
}

fn remove_if_there(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Free bytes on the file system of `path`, and its allocation unit (a FAT cluster).
fn free_space(path: &Path) -> std::io::Result<(u64, u64)> {
    #[cfg(test)]
    if let Some(free) = tests::FREE.with(|f| f.get()) {
        return Ok((free, 4096));
    }
    let stat = nix::sys::statvfs::statvfs(path).map_err(std::io::Error::from)?;
    let unit = stat.fragment_size().max(1);
    Ok((stat.blocks_available() * unit, unit))
}

#[cfg(test)]
mod tests;
