//! Figures one benchmark leaves for another later in the same `scripts/test` run, so
//! that one table can show both side by side without measuring the same thing twice:
//! bench-vrrp's pair-mode failover beside bench-scaleout's BGP figures (issue 18).
//! A plain text file per figure under the cargo target directory, and its age.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::command::Error;

/// bench-vrrp's hard failover of the master, at a client, lvsfw beside keepalived.
pub const PAIR_MODE_FAILOVER: &str = "vrrp-hard-failover";

fn dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")));
    target.join("bench-results")
}

/// Saves `text` as figure `name` (one line, replaced whole).
pub fn save(name: &str, text: &str) -> Result<(), Error> {
    let dir = dir();
    std::fs::create_dir_all(&dir)?;
    paths::write_atomic(&dir.join(name), text.as_bytes(), false)?;
    Ok(())
}

/// Figure `name` and how long ago it was saved, if it ever was.
pub fn load(name: &str) -> Option<(String, Duration)> {
    let path = dir().join(name);
    let text = std::fs::read_to_string(&path).ok()?;
    let age = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .unwrap_or_default();
    Some((text.trim().to_string(), age))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_saved_figure_is_read_back_with_its_age() {
        let name = format!("unit-test-{}", std::process::id());
        super::save(&name, "v2 3300 ms\n").unwrap();
        let (text, age) = super::load(&name).unwrap();
        assert_eq!(text, "v2 3300 ms");
        assert!(age < std::time::Duration::from_secs(60), "{age:?}");
        std::fs::remove_file(super::dir().join(&name)).unwrap();
        assert!(super::load(&name).is_none());
    }
}
