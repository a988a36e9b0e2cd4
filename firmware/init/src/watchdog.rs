//! The board's hardware watchdog (`watchdog DEVICE SECONDS` in board.conf), fed by PID 1
//! only while the balancer shows it is alive: a hung balancer (or a hung PID 1) resets
//! the box, where a crashed one is simply restarted by PID 1.
//!
//! The balancer's sign of life is its heartbeat (`balancer::heartbeat`), rewritten about
//! once a second by a task on its runtime; a runtime that stops turning stops rewriting it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

/// A heartbeat older than this means the balancer is hung.
const STALE: Duration = Duration::from_secs(10);
/// A balancer (re)started this recently may not have written its heartbeat yet.
const START_GRACE: Duration = Duration::from_secs(20);

// WDIOC_SETTIMEOUT from linux/watchdog.h: _IOWR('W', 6, int).
nix::ioctl_readwrite!(set_timeout, b'W', 6, nix::libc::c_int);

/// Whether the balancer counts as alive: its heartbeat is fresh, or it started too
/// recently to have one, or it is not running at all (PID 1 restarts it; a reset would
/// not help a balancer that exits).
pub fn balancer_alive(heartbeat_age: Option<Duration>, running_for: Option<Duration>) -> bool {
    match running_for {
        None => true,
        Some(running) if running < START_GRACE => true,
        Some(_) => heartbeat_age.is_some_and(|age| age <= STALE),
    }
}

pub struct HardwareWatchdog {
    device: File,
    name: String,
    timeout: Duration,
    period: Duration,
    next_feed: Instant,
    starving: bool,
}

impl HardwareWatchdog {
    /// Opens and arms the device; `None` (logged) when it cannot.
    pub fn open(path: &str, timeout_s: u32) -> Option<HardwareWatchdog> {
        let device = match OpenOptions::new()
            .write(true)
            .custom_flags(nix::libc::O_CLOEXEC)
            .open(path)
        {
            Ok(f) => f,
            Err(e) => {
                log::error!("watchdog {path}: {e}; the box runs without one");
                return None;
            }
        };
        let mut granted = timeout_s as nix::libc::c_int;
        // SAFETY: the ioctl reads and writes one int, which `granted` is.
        let timeout_s = match unsafe { set_timeout(device.as_raw_fd(), &mut granted) } {
            Ok(_) if granted > 0 => granted as u32,
            Ok(_) => timeout_s,
            Err(e) => {
                log::warn!(
                    "watchdog {path}: cannot set a {timeout_s} s timeout ({}); using the driver's",
                    e.desc()
                );
                timeout_s
            }
        };
        let timeout = Duration::from_secs(timeout_s.into());
        log::info!(
            "watchdog {path} armed: the box resets {timeout_s} s after the balancer stops showing life"
        );
        Some(HardwareWatchdog {
            device,
            name: path.to_string(),
            timeout,
            period: (timeout / 4).max(Duration::from_millis(500)),
            next_feed: Instant::now(),
            starving: false,
        })
    }

    pub fn next_feed(&self) -> Instant {
        self.next_feed
    }

    /// Feeds the device if it is time and the balancer is alive.
    pub fn tick(&mut self, now: Instant, alive: bool) {
        if now < self.next_feed {
            return;
        }
        self.next_feed = now + self.period;
        if !alive {
            if !self.starving {
                log::error!(
                    "the balancer shows no life (heartbeat older than {} s): watchdog {} no longer fed, reset within {} s",
                    STALE.as_secs(),
                    self.name,
                    self.timeout.as_secs()
                );
                self.starving = true;
            }
            return;
        }
        if self.starving {
            log::warn!("the balancer shows life again: watchdog fed again");
            self.starving = false;
        }
        if let Err(e) = self.device.write_all(b"\0") {
            log::error!("watchdog {}: {e}", self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_heartbeat_or_a_young_balancer_is_alive() {
        let s = Duration::from_secs;
        assert!(balancer_alive(Some(s(1)), Some(s(300))));
        assert!(balancer_alive(Some(s(10)), Some(s(300))));
        assert!(!balancer_alive(Some(s(11)), Some(s(300))));
        assert!(!balancer_alive(None, Some(s(21))));
        // Just started: a heartbeat left by the previous run does not count against it.
        assert!(balancer_alive(Some(s(500)), Some(s(5))));
        assert!(balancer_alive(None, Some(s(19))));
        // Not running: PID 1 restarts it; no reset.
        assert!(balancer_alive(None, None));
    }
}
