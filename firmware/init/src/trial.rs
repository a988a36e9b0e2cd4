//! PID 1's part of the A/B update: after a boot into a slot that is not grubenv's good
//! one (a trial), mark it good once the balancer's heartbeat says `ready`, or reboot
//! (grub then boots the good slot: it cleared `next` before this boot) when the
//! balancer keeps failing or is not ready in time. The decision is
//! `update::trial::decide`; this is the I/O around it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use update::trial::{decide, good_slot, Heartbeat, Observation, Verdict};
use update::Slot;

use crate::heartbeat_age;

/// How often a trial is looked at.
const EVERY: Duration = Duration::from_secs(1);
/// How long the ESP may take to appear (its driver binds while the modules load).
const ESP_WITHIN: Duration = Duration::from_secs(30);
/// A heartbeat not rewritten for this long is none.
const STALE: Duration = Duration::from_secs(5);

pub struct Trial {
    running: Slot,
    esp: Option<PathBuf>,
    started: Instant,
    pub next_check: Instant,
    announced: bool,
    /// The boot's restore failed: never marked good (update::trial::decide).
    restore_failed: bool,
}

/// What PID 1 does after a look.
pub enum Next {
    /// Look again at `next_check`.
    Wait,
    /// Nothing more to do this boot.
    Done,
    /// Reboot: the trial failed.
    Reboot,
}

impl Trial {
    /// `None` off a disk image (no `lvsfw.slot=`): then there are no slots to mind.
    pub fn at_boot(restore_failed: bool) -> Option<Trial> {
        let running = slots::running_slot()?;
        let now = Instant::now();
        Some(Trial {
            running,
            esp: None,
            started: now,
            next_check: now,
            announced: false,
            restore_failed,
        })
    }

    /// One look; `since_boot` and `failed_starts` from PID 1's own bookkeeping.
    pub fn check(&mut self, since_boot: Duration, failed_starts: u32) -> Next {
        self.next_check = Instant::now() + EVERY;
        let esp = match &self.esp {
            Some(esp) => esp.clone(),
            // Waited for only while its partition has not appeared; a mount that
            // fails is not tried again.
            None if !slots::esp_present() && self.started.elapsed() < ESP_WITHIN => {
                return Next::Wait
            }
            None => match slots::mount_esp() {
                Ok(esp) => {
                    self.esp = Some(esp.clone());
                    esp
                }
                Err(e) => {
                    log::error!("slot {}: {e}; whether it is on trial is unknown, so it is neither marked good nor left", self.running);
                    return Next::Done;
                }
            },
        };
        let env = match slots::read_grubenv(&esp) {
            Ok(env) => env,
            Err(e) => {
                log::error!(
                    "slot {}: {e}; it is neither marked good nor left",
                    self.running
                );
                return Next::Done;
            }
        };
        let good = good_slot(env.get("slot"));
        let version = slots::running_version();
        let observation = Observation {
            running: Some(self.running),
            good,
            heartbeat: heartbeat(),
            failed_starts,
            since_boot,
            restore_failed: self.restore_failed,
        };
        let verdict = decide(&observation);
        if !self.announced {
            self.announced = true;
            match verdict {
                Verdict::Settled => log::info!(
                    "running slot {} (version {version}), the good slot",
                    self.running
                ),
                _ => log::info!(
                    "trying slot {} (version {version}) once: it is marked good when the balancer is ready; slot {good} is the good one",
                    self.running
                ),
            }
        }
        match verdict {
            Verdict::Settled => Next::Done,
            Verdict::Wait => Next::Wait,
            Verdict::MarkGood(slot) => {
                match slots::writing(&esp, |esp| slots::mark_good(esp, slot)) {
                    Ok(()) => log::info!("slot {slot} marked good (version {version})"),
                    Err(e) => log::error!(
                        "slot {slot} is ready but could not be marked good: {e}; the next boot returns to slot {good}"
                    ),
                }
                Next::Done
            }
            Verdict::GiveUp(why) => {
                let old = slots::slot_version(&esp, good).unwrap_or_else(|| "unknown".into());
                log::error!(
                    "slot {} (version {version}) failed its trial: {why}; rebooting to slot {good} (version {old})",
                    self.running
                );
                // grub cleared it before this boot; if it could not, do it here so
                // that the failed slot is not tried again and again.
                if let Err(e) = slots::writing(&esp, |esp| slots::clear_next(esp, self.running)) {
                    log::error!("{e}");
                }
                Next::Reboot
            }
        }
    }
}

fn heartbeat() -> Heartbeat {
    let path = std::path::Path::new(paths::HEARTBEAT);
    let Some(age) = heartbeat_age::age(path) else {
        return Heartbeat::Absent;
    };
    let content = slots::read_small(path, 64).unwrap_or_default();
    Heartbeat::read(&content, age, STALE)
}
