//! The balancer's heartbeat: /run/lvsfw/heartbeat rewritten about once a second,
//! `starting` until the configuration is applied and VRRP runs, then `ready`. PID 1
//! marks a tried boot slot good on `ready`, and takes a file that stops changing as a
//! balancer that hangs.

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::watch;

/// Written by the balancer, read by PID 1 (the boot-slot trial and the watchdog).
pub const PATH: &str = "/run/lvsfw/heartbeat";
const EVERY: Duration = Duration::from_secs(1);

/// Runs until the balancer ends; `ready` says what to write.
pub async fn run(path: PathBuf, mut ready: watch::Receiver<bool>) {
    let temporary = path.with_extension("tmp");
    // /run/lvsfw is PID 1's, but a balancer started by hand may be first.
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let mut ticker = tokio::time::interval(EVERY);
    let mut failing = false;
    loop {
        let text = if *ready.borrow_and_update() {
            "ready\n"
        } else {
            "starting\n"
        };
        // Replaced whole, so PID 1 never reads half a word.
        let written =
            std::fs::write(&temporary, text).and_then(|()| std::fs::rename(&temporary, &path));
        match written {
            Err(e) if !failing => {
                log::error!("{}: {e}", path.display());
                failing = true;
            }
            Err(_) => {}
            Ok(()) => failing = false,
        }
        tokio::select! {
            _ = ticker.tick() => {}
            // A change is written at once, not at the next tick.
            changed = ready.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}
