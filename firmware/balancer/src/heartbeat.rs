//! The balancer's heartbeat: /run/lvsfw/heartbeat rewritten about once a second,
//! `starting` until the configuration is applied and VRRP runs, then `ready`. PID 1
//! marks a tried boot slot good on `ready`, and takes a file that stops changing as a
//! balancer that hangs.

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::watch;

const EVERY: Duration = Duration::from_secs(1);

/// Runs until the balancer ends; `ready` says what to write.
pub async fn run(path: PathBuf, mut ready: watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(EVERY);
    let mut failing = false;
    loop {
        let text = if *ready.borrow_and_update() {
            "ready\n"
        } else {
            "starting\n"
        };
        // Replaced whole, so PID 1 never reads half a word; /run/lvsfw is PID 1's, but
        // a balancer started by hand may be first (write_atomic makes it).
        let written = paths::write_atomic(&path, text.as_bytes(), false);
        match written {
            Err(e) if !failing => {
                log::error!("{e}");
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
