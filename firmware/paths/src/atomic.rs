//! Replacing a file whole: a reader (another process, or the next boot) sees the old
//! content or the new one, never a part.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// The most one call writes (64 MiB): every file of the contract is far smaller, and
/// the box's memory is the real limit.
pub const MAX_LEN: usize = 64 << 20;

/// Writes `bytes` to `path` atomically: a temporary file in the same directory (made if
/// missing), synced when `sync` asks, renamed over `path`, and the directory synced
/// when `sync` asks (so the rename itself survives a power cut on a real disk).
/// On any error the temporary file is removed and `path` is as it was; the error names
/// `path` and keeps the cause's kind.
pub fn write_atomic(path: &Path, bytes: &[u8], sync: bool) -> io::Result<()> {
    write(path, bytes, sync, None)
}

/// [`write_atomic`] for a secret: the file is made 0600 from the start (never readable
/// by others, not even for a moment), its directory 0700, and both are synced.
pub fn write_secret(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write(path, bytes, true, Some(0o600))
}

fn write(path: &Path, bytes: &[u8], sync: bool, mode: Option<u32>) -> io::Result<()> {
    let named = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    if bytes.len() > MAX_LEN {
        return Err(named(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} bytes is more than {MAX_LEN} to write at once",
                bytes.len()
            ),
        )));
    }
    let (dir, name) = match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) => (dir, name),
        _ => {
            return Err(named(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a file name",
            )))
        }
    };
    // `dir` is "" for a bare file name: the current directory.
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    fs::create_dir_all(dir).map_err(named)?;
    if mode.is_some() {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(named)?;
    }
    let temporary = temporary_name(dir, name);
    let written =
        write_temporary(&temporary, bytes, sync, mode).and_then(|()| fs::rename(&temporary, path));
    if let Err(e) = written {
        let _ = fs::remove_file(&temporary);
        return Err(named(e));
    }
    if sync {
        File::open(dir).and_then(|d| d.sync_all()).map_err(named)?;
    }
    Ok(())
}

/// A name no other writer uses at the same time: two processes (or two threads) writing
/// the same file each rename their own whole file, never one the other is still
/// writing. Hidden, so a listing of the directory does not show it.
fn temporary_name(dir: &Path, name: &std::ffi::OsStr) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut file = std::ffi::OsString::from(".");
    file.push(name);
    file.push(format!(".{}.{n}.tmp", std::process::id()));
    dir.join(file)
}

fn write_temporary(path: &Path, bytes: &[u8], sync: bool, mode: Option<u32>) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode.unwrap_or(0o666))
        .open(path)?;
    file.write_all(bytes)?;
    if sync {
        file.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn writes_a_new_file_and_replaces_an_old_one_leaving_nothing_else() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("made/here/file.json");
        write_atomic(&path, b"one\n", false).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"one\n");
        write_atomic(&path, b"two\n", true).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two\n");
        assert_eq!(names(path.parent().unwrap()), ["file.json"]);
    }

    #[test]
    fn a_failed_rename_leaves_the_old_file_and_no_temporary() {
        let tmp = tempfile::tempdir().unwrap();
        // A non-empty directory where the file should go: the temporary is written,
        // the rename fails.
        let path = tmp.path().join("busy");
        fs::create_dir(&path).unwrap();
        fs::write(path.join("old"), b"old").unwrap();
        let e = write_atomic(&path, b"new", true).unwrap_err();
        assert!(
            e.to_string().starts_with(&format!("{}: ", path.display())),
            "{e}"
        );
        assert_eq!(fs::read(path.join("old")).unwrap(), b"old");
        assert_eq!(names(tmp.path()), ["busy"]);
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("file");
        fs::write(&path, b"old").unwrap();
        let e = write_atomic(&path, &vec![0; MAX_LEN + 1], true).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("file: "), "{e}");
        // A directory that cannot be made (a file is in the way).
        let blocked = path.join("below");
        let e = write_atomic(&blocked, b"new", false).unwrap_err();
        assert!(
            e.to_string().starts_with(&blocked.display().to_string()),
            "{e}"
        );
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(names(tmp.path()), ["file"]);
    }

    #[test]
    fn a_secret_is_private_from_the_start() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("tls/own.key");
        write_secret(&path, b"key").unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        assert_eq!(fs::read(&path).unwrap(), b"key");
    }

    #[test]
    fn a_path_without_a_file_name_is_refused() {
        assert_eq!(
            write_atomic(Path::new("/"), b"", false).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }
}
