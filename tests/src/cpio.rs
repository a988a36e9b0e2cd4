//! A newc cpio writer, enough to give an appliance its own files: Linux unpacks
//! archives concatenated after the image's initramfs over it, later files winning.

/// Files (path without leading '/', contents) as one archive; parent folders are added.
pub fn newc(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut inode = 1;
    let mut folders: Vec<String> = Vec::new();
    for (path, _) in files {
        let mut parent = String::new();
        for part in path
            .split('/')
            .rev()
            .skip(1)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
        {
            parent = if parent.is_empty() {
                part.to_string()
            } else {
                format!("{parent}/{part}")
            };
            if !folders.contains(&parent) {
                folders.push(parent.clone());
            }
        }
    }
    for folder in &folders {
        entry(&mut out, inode, folder, 0o040755, &[]);
        inode += 1;
    }
    for (path, data) in files {
        // Programs and shared objects (ELF) must be executable: ld.so and the program
        // itself are opened for exec by the kernel.
        let mode = if data.starts_with(b"\x7fELF") {
            0o100755
        } else {
            0o100644
        };
        entry(&mut out, inode, path, mode, data);
        inode += 1;
    }
    entry(&mut out, 0, "TRAILER!!!", 0, &[]);
    out
}

fn pad4(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

fn entry(out: &mut Vec<u8>, inode: u32, name: &str, mode: u32, data: &[u8]) {
    let nlink = if mode & 0o040000 != 0 { 2 } else { 1 };
    let fields = [
        inode,
        mode,
        0, // uid
        0, // gid
        nlink,
        0, // mtime
        data.len() as u32,
        0, // devmajor
        0, // devminor
        0, // rdevmajor
        0, // rdevminor
        name.len() as u32 + 1,
        0, // check
    ];
    out.extend_from_slice(b"070701");
    for field in fields {
        out.extend_from_slice(format!("{field:08X}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    pad4(out);
    out.extend_from_slice(data);
    pad4(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_back_with_gnu_cpio() {
        let archive = newc(&[("etc/lvsfw/config.json", b"{}\n")]);
        assert_eq!(archive.len() % 4, 0);
        let dir = std::env::temp_dir().join(format!("lvsfw-cpio-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("a.cpio");
        std::fs::write(&file, &archive).unwrap();
        let listing = std::process::Command::new("cpio")
            .args(["-it", "-F", file.to_str().unwrap()])
            .output()
            .expect("cpio (scripts/setup installs it)");
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            listing.status.success(),
            "{}",
            String::from_utf8_lossy(&listing.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&listing.stdout),
            "etc\netc/lvsfw\netc/lvsfw/config.json\n"
        );
    }

    #[test]
    fn header_fields_are_eight_hex_digits() {
        let archive = newc(&[("x", b"abc")]);
        assert_eq!(&archive[..6], b"070701");
        // file size field (7th) of the first entry, "x" at inode 1
        assert_eq!(&archive[6 + 6 * 8..6 + 7 * 8], b"00000003");
    }
}
