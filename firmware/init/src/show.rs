//! What PID 1 answers from what it knows itself: `show status`, `show version`,
//! `show time`.

use super::Pid1;

impl Pid1 {
    pub(super) fn status(&self) -> String {
        let balancer = match self.balancer.pid {
            Some(pid) => format!(
                "running, pid {pid}, up {} s",
                self.balancer.started.elapsed().as_secs()
            ),
            None => "not running".into(),
        };
        let paths = ops::Paths::appliance();
        let saved = match ops::saved::state(&paths) {
            ops::saved::State::Saved => "running as saved".to_string(),
            ops::saved::State::Unsaved => {
                "applied since the last save (\"config save\" keeps it; a reboot loses it)".into()
            }
            ops::saved::State::Unknown(why) => {
                format!("not known whether it is saved ({why})")
            }
        };
        let mut candidate = if ops::has_candidate(&paths) {
            "; a candidate differs from it (\"config diff\", \"config apply\")"
        } else {
            ""
        }
        .to_string();
        // Only whether the file is there: its texts are not parsed in PID 1.
        if paths.rollback.exists() {
            candidate.push_str("\nrollback: a change waits for its confirmation (\"show config\" says how long is left; \"config confirm\" keeps it)");
        }
        let hostname = nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default();
        let restarts = self.balancer.restarts;
        let mut out = format!(
            "lvsfw {} on {hostname}\nuptime: {} s\nbalancer: {balancer}, {}\nconfiguration: {saved}{candidate}\n",
            slots::running_version(),
            self.booted.elapsed().as_secs(),
            config::count(restarts as usize, "restart", "restarts"),
        );
        out.push_str(&not_running_lines());
        out
    }

    pub(super) fn version(&self) -> String {
        let kernel = nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default();
        let slot = slots::running_slot()
            .map(|s| format!(" (boot slot {s}; \"show slots\" for both)"))
            .unwrap_or_default();
        format!(
            "lvsfw {}{slot}\nkernel {kernel}\nboard {}\n",
            slots::running_version(),
            self.board_name.as_deref().unwrap_or("(unknown)")
        )
    }
}

/// What the balancer last said does not run, for `show status`; it rewrites the file
/// whenever that changes.
/// `show time`: the wall clock now, and what the balancer's time task last wrote.
pub(super) fn show_time() -> String {
    let status = std::fs::read_to_string(paths::TIME)
        .ok()
        .and_then(|t| serde_json::from_str::<::status::TimeStatus>(&t).ok());
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    status::time_text::render(status.as_ref(), now_ms)
}

fn not_running_lines() -> String {
    use std::io::Read as _;
    let mut text = String::new();
    let read = std::fs::File::open(paths::NOT_RUNNING)
        .and_then(|f| f.take(16 << 10).read_to_string(&mut text));
    match read {
        Err(_) => "running: not known (the balancer has not said yet)\n".into(),
        Ok(_) if text.trim().is_empty() => "running: everything configured\n".into(),
        Ok(_) => {
            let mut out = String::from("not running (tried again until it runs):\n");
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                out.push_str(&format!("  {line}\n"));
            }
            out
        }
    }
}
