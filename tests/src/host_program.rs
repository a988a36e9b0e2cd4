//! Programs of the build host carried into a test variant of the image: the binary and
//! the shared libraries `ldd` names, at the same paths, so that for instance Debian's
//! ipvsadm runs inside the appliance as an independent witness.

use std::path::Path;

use crate::command::{run, Error};

/// Files for [`crate::ApplianceSpec::files`]: `program` and everything it loads.
pub fn with_libraries(program: &str) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let out = run("ldd", &[program])?;
    let mut paths = vec![program.to_string()];
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        // "libnl-3.so.200 => /lib/x86_64-linux-gnu/libnl-3.so.200 (0x...)" or
        // "/lib64/ld-linux-x86-64.so.2 (0x...)"; the vdso has no file.
        let path = match line.split_once("=>") {
            Some((_, right)) => right.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(path) = path.filter(|p| p.starts_with('/')) {
            paths.push(path.to_string());
        }
    }
    paths
        .into_iter()
        .map(|path| {
            // Read through symlinks: the image gets the file's bytes at the linked name.
            let bytes =
                std::fs::read(Path::new(&path)).map_err(|e| Error(format!("{path}: {e}")))?;
            Ok((path.trim_start_matches('/').to_string(), bytes))
        })
        .collect()
}
