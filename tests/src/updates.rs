//! Other builds of the firmware for the update tests (issues 8 and 15): a second version,
//! a build whose balancer fails on purpose, and update files packed from a build with
//! other arguments (another board, version, key or initrd). Shared by the console's
//! tests (tests/update.rs) and the page's (tests/update_page.rs), so that both test the
//! same files.
//!
//! The builds are made with scripts/build-image (LVSFW_VERSION, LVSFW_TEST_BREAK_BALANCER)
//! into out/lab-update/BOARD-VERSION, signed with the build's key (the development key
//! scripts/setup made, or LVSFW_SIGNING_KEY); the version lives in the image's files, not
//! in the binary, so a second build costs an initramfs and a disk image, not a compile.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::disk_image::{board_dir, built_image, copy_with_cmdline, esp_offset};
use crate::Error;

/// The repository's top folder.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `command` to its end; its stdout, or an error with all it printed.
pub fn run(command: &mut Command) -> Result<String, Error> {
    let out = command
        .output()
        .map_err(|e| Error(format!("{command:?}: {e}")))?;
    if !out.status.success() {
        return Err(Error(format!(
            "{command:?}: {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The version `delta` builds after `built` (RELEASE-BUILD-LABEL), labelled `label`.
pub fn version_after(built: &str, delta: i64, label: &str) -> String {
    let mut parts = built.splitn(3, '-');
    let release = parts.next().unwrap_or_default();
    let build: i64 = parts
        .next()
        .and_then(|b| b.parse().ok())
        .unwrap_or_else(|| panic!("the built version {built} is not RELEASE-BUILD-LABEL"));
    format!("{release}-{}-{label}", build + delta)
}

/// A built image's folder and what it holds.
pub struct Build {
    pub dir: PathBuf,
    pub version: String,
}

impl Build {
    pub fn of(dir: PathBuf) -> Result<Build, Error> {
        let version = std::fs::read_to_string(dir.join("version"))?
            .trim()
            .to_string();
        Ok(Build { dir, version })
    }

    /// The signed update file build-image made.
    pub fn update(&self) -> PathBuf {
        self.dir.join(format!("lvsfw-{}.update", self.version))
    }

    /// `lvsfw update pack` of this build's slot files with other arguments (board
    /// qemu-x86_64 and this build's initrd unless `args` name others).
    pub fn pack(&self, to: &Path, args: &[&str], key: &Path) -> Result<PathBuf, Error> {
        let mut command = Command::new(self.dir.join("lvsfw"));
        command.args(["update", "pack"]).args(args);
        if !args.contains(&"--board") {
            command.args(["--board", "qemu-x86_64"]);
        }
        command
            .arg("--kernel")
            .arg(self.dir.join("vmlinuz"))
            .arg("--signing-key")
            .arg(key)
            .arg("-o")
            .arg(to);
        if !args.contains(&"--initrd") {
            command.arg("--initrd").arg(self.dir.join("initrd"));
        }
        run(&mut command)?;
        Ok(to.to_path_buf())
    }
}

/// Builds `board`'s image at `version` into out/lab-update/BOARD-VERSION;
/// `break_balancer`: a test image whose balancer fails at start.
pub fn build(board: &str, version: &str, break_balancer: bool) -> Result<Build, Error> {
    let out = repo()
        .join("out/lab-update")
        .join(format!("{board}-{version}"));
    let mut command = Command::new(repo().join("scripts/build-image"));
    // Not the variables cargo set for this test crate: ring's build script reruns when
    // CARGO_MANIFEST_DIR changes, and then the whole release binary is built again (with
    // LTO, minutes) here and once more at the next plain scripts/build-image.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let for_this_crate = name.starts_with("CARGO_PKG_")
            || matches!(
                name.as_ref(),
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_TMPDIR"
            );
        if for_this_crate {
            command.env_remove(name.as_ref());
        }
    }
    command
        .arg(board)
        .env("LVSFW_OUT", &out)
        .env("LVSFW_VERSION", version)
        .env(
            "LVSFW_TEST_BREAK_BALANCER",
            if break_balancer { "1" } else { "0" },
        );
    run(&mut command)?;
    Build::of(out)
}

/// The key build-image signs with.
pub fn signing_key() -> PathBuf {
    std::env::var_os("LVSFW_SIGNING_KEY")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".cache/update-keys/dev-signing.pem"))
}

/// A new Ed25519 key at `path` that no firmware trusts.
pub fn unknown_key(path: &Path) -> Result<PathBuf, Error> {
    run(Command::new(repo().join("scripts/signing-key"))
        .args(["new", "other"])
        .arg(path))?;
    Ok(path.to_path_buf())
}

/// A copy of `board`'s built disk image at `to` whose kernel command line has
/// `lvsfw.nologin` (the console opens at the prompt, as in the other system tests), and
/// the build it holds.
pub fn boot_disk(board: &str, to: &Path) -> Result<Build, Error> {
    let image_dir = board_dir(board);
    copy_with_cmdline(&built_image(&image_dir)?, to, "lvsfw.nologin")?;
    Build::of(image_dir)
}

/// The `show slots` line of `slot`.
pub fn slot_line(slots: &str, slot: &str) -> String {
    slots
        .lines()
        .find(|l| l.starts_with(&format!("slot {slot} ")))
        .unwrap_or_default()
        .to_string()
}

/// Every file on the ESP inside `image` (both slots, grubenv, grub), by path, with its
/// bytes: what a refused update must leave as it was. Unlike the ESP's raw bytes this
/// also holds after an update that wrote `.new` files and removed them again (FAT keeps
/// their deleted directory entries).
pub fn esp_files(
    image: &Path,
    scratch: &Path,
) -> Result<std::collections::BTreeMap<String, Vec<u8>>, Error> {
    let target = format!("{}@@{}", image.display(), esp_offset(image)?);
    let _ = std::fs::remove_dir_all(scratch);
    std::fs::create_dir_all(scratch)?;
    let out = Command::new("mcopy")
        .args(["-s", "-n", "-i", &target, "::*"])
        .arg(scratch)
        .env("MTOOLS_SKIP_CHECK", "1")
        .output()?;
    if !out.status.success() {
        return Err(Error(format!(
            "mcopy of the ESP of {}: {}",
            image.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let mut files = std::collections::BTreeMap::new();
    let mut folders = vec![scratch.to_path_buf()];
    // Bounded: the ESP holds grub, grubenv and two slots.
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let path = entry?.path();
            if path.is_dir() {
                folders.push(path);
            } else {
                let name = path
                    .strip_prefix(scratch)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .into_owned();
                files.insert(name, std::fs::read(&path)?);
            }
            if files.len() > 1000 {
                return Err(Error(format!(
                    "{}: over 1000 files on the ESP",
                    image.display()
                )));
            }
        }
    }
    let _ = std::fs::remove_dir_all(scratch);
    Ok(files)
}
