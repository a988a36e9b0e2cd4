//! The flashable disk image (scripts/make-disk-image) in the lab: a copy per test, since
//! a boot writes to it (grubenv, the saved configuration), with test words added to the
//! kernel command line in the copy's grub.cfg (mtools on the ESP, nothing mounted).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::command::Error;

/// `out/BOARD`, where scripts/build-image BOARD left its files (LVSFW_OUT is for
/// qemu-x86_64 only).
pub fn board_dir(board: &str) -> PathBuf {
    if board == "qemu-x86_64" {
        return crate::image_dir();
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../out")
        .join(board)
}

/// The disk image scripts/build-image made in `dir`.
pub fn built_image(dir: &Path) -> Result<PathBuf, Error> {
    let name = std::fs::read_to_string(dir.join("image")).map_err(|e| {
        Error(format!(
            "{}/image: {e}; run scripts/build-image for this board",
            dir.display()
        ))
    })?;
    Ok(dir.join(name.trim()))
}

/// Byte offset of the ESP (GPT partition 2) in a disk image.
pub fn esp_offset(image: &Path) -> Result<u64, Error> {
    esp_range(&std::fs::read(image)?, image).map(|r| r.start as u64)
}

/// Where the ESP (GPT partition 2) lies in the bytes of a disk image.
fn esp_range(bytes: &[u8], image: &Path) -> Result<std::ops::Range<usize>, Error> {
    // LBA 1 is the GPT header ("EFI PART"); the entries start at the LBA it gives.
    if bytes.get(512..520) != Some(b"EFI PART".as_slice()) {
        return Err(Error(format!("{}: no GPT", image.display())));
    }
    let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    let entries = u64_at(512 + 72) as usize * 512;
    let entry_size = u32_at(512 + 84) as usize;
    let first_lba = u64_at(entries + entry_size + 32) as usize;
    let last_lba = u64_at(entries + entry_size + 40) as usize;
    Ok(first_lba * 512..(last_lba + 1) * 512)
}

/// The ESP's bytes in a disk image (slots, grubenv, grub): what a refused update must
/// leave as it found.
pub fn esp_bytes(image: &Path) -> Result<Vec<u8>, Error> {
    let bytes = std::fs::read(image)?;
    let range = esp_range(&bytes, image)?;
    Ok(bytes[range].to_vec())
}

fn mtools(args: &[&str]) -> Result<String, Error> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .env("MTOOLS_SKIP_CHECK", "1")
        .output()?;
    if !out.status.success() {
        return Err(Error(format!(
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A file of the ESP inside `image`.
pub fn read_esp_file(image: &Path, path: &str) -> Result<String, Error> {
    let target = format!("{}@@{}", image.display(), esp_offset(image)?);
    mtools(&["mtype", "-i", &target, &format!("::{path}")])
}

/// Replaces a file of the ESP inside `image`.
pub fn write_esp_file(image: &Path, path: &str, contents: &[u8]) -> Result<(), Error> {
    let target = format!("{}@@{}", image.display(), esp_offset(image)?);
    let local = image.with_extension("esp-file");
    std::fs::write(&local, contents)?;
    let result = mtools(&[
        "mcopy",
        "-o",
        "-i",
        &target,
        &local.to_string_lossy(),
        &format!("::{path}"),
    ]);
    let _ = std::fs::remove_file(&local);
    result.map(|_| ())
}

/// Copies `image` to `to` and adds `words` to the kernel command line of both slots.
pub fn copy_with_cmdline(image: &Path, to: &Path, words: &str) -> Result<(), Error> {
    std::fs::copy(image, to)?;
    if words.trim().is_empty() {
        return Ok(());
    }
    let cfg = read_esp_file(to, "/grub/grub.cfg")?;
    let marker = " lvsfw.slot=";
    if !cfg.contains(marker) {
        return Err(Error(format!(
            "{}: grub.cfg has no{marker}",
            image.display()
        )));
    }
    let changed = cfg.replace(marker, &format!(" {}{marker}", words.trim()));
    write_esp_file(to, "/grub/grub.cfg", changed.as_bytes())
}
