//! The update keys this firmware trusts, compiled in: `LVSFW_TRUSTED_KEYS` names a
//! text file (an absolute path; scripts/build-image sets it), one key a line:
//!
//! ```text
//! # comment
//! NAME 64-HEX-DIGITS-OF-THE-ED25519-PUBLIC-KEY
//! ```
//!
//! Without it the firmware trusts no key and refuses every update (a plain `cargo
//! build` or `cargo test`). The generated file holds the keys only, never the path, so
//! two builds with the same keys are the same bytes wherever the checkout lies.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const VAR: &str = "LVSFW_TRUSTED_KEYS";

fn main() {
    println!("cargo:rerun-if-env-changed={VAR}");
    println!("cargo:rerun-if-changed=build.rs");
    let keys = match std::env::var_os(VAR) {
        Some(path) if !path.is_empty() => {
            let path = PathBuf::from(path);
            println!("cargo:rerun-if-changed={}", path.display());
            read(&path).unwrap_or_else(|e| panic!("{VAR}={}: {e}", path.display()))
        }
        _ => Vec::new(),
    };
    let mut code = String::from("&[\n");
    for (name, key) in &keys {
        let _ = writeln!(code, "    ({name:?}, {key:?}),");
    }
    code.push_str("]\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("trusted_keys.rs"), code).expect("writing trusted_keys.rs");
}

/// The file's keys; an error names the line and what is wrong with it.
fn read(path: &Path) -> Result<Vec<(String, [u8; 32])>, String> {
    if !path.is_absolute() {
        return Err("give an absolute path (cargo runs this from the crate's folder)".into());
    }
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let mut keys: Vec<(String, [u8; 32])> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let at = |why: String| format!("line {}: {why}", n + 1);
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let [name, hex] = words[..] else {
            return Err(at("want NAME and 64 hex digits".into()));
        };
        let name_ok = name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b));
        if !name_ok {
            return Err(at(format!(
                "key name \"{name}\": use 1 to 64 of A-Z a-z 0-9 . _ + -"
            )));
        }
        let key = parse_hex(hex)
            .ok_or_else(|| at(format!("\"{hex}\" is not 64 hex digits (an Ed25519 key)")))?;
        if keys.iter().any(|(n, k)| n == name || *k == key) {
            return Err(at(format!(
                "key {name} is listed twice (by name or by key)"
            )));
        }
        keys.push((name.to_string(), key));
    }
    if keys.len() > 16 {
        return Err("more than 16 keys".into());
    }
    Ok(keys)
}

fn parse_hex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(key)
}
