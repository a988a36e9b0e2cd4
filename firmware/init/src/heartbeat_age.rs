//! How old the balancer's heartbeat is: the balancer rewrites its file about once a
//! second (`balancer::heartbeat`), PID 1 reads its age (the watchdog, the boot-slot
//! trial). Here so that PID 1 needs nothing of the balancer but the file's name.

use std::path::Path;
use std::time::{Duration, SystemTime};

/// How long ago the heartbeat at `path` was last rewritten; `None` when there is none.
pub fn age(path: &Path) -> Option<Duration> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    Some(
        SystemTime::now()
            .duration_since(modified)
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heartbeat_age_comes_from_the_file_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("heartbeat");
        assert_eq!(age(&path), None);
        std::fs::write(&path, "ready\n").unwrap();
        assert!(age(&path).unwrap() < Duration::from_secs(5));
        let old = SystemTime::now() - Duration::from_secs(120);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert!(age(&path).unwrap() >= Duration::from_secs(119));
    }
}
