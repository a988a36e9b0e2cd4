//! After a boot: is this a trial of a new slot, and if so, is it good yet, still
//! coming up, or a failure to fall back from?
//!
//! grub boots `next` once (clearing it) and otherwise `slot`, the good one. A boot
//! whose slot (`lvsfw.slot=` on the kernel command line) is not grubenv's `slot` is a
//! trial. It is marked good (grubenv `slot=` the running one) once the balancer says
//! `ready` (configuration applied, VRRP running); it is given up (a reboot, which
//! lands on the good slot because `next` is already empty) when the balancer keeps
//! failing or is not ready in time.

use std::fmt;
use std::time::Duration;

/// Failed balancer starts after which a trial is given up (PID 1 restarts it with
/// back-off: 0.2, 0.4, 0.8 s, so this is a couple of seconds of trying).
pub const MAX_FAILED_STARTS: u32 = 3;
/// A trial not ready this long after boot is given up (TCG emulation is slow, and the
/// balancer first waits for its disks and links).
pub const READY_WITHIN: Duration = Duration::from_secs(180);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    A,
    B,
}

impl Slot {
    pub fn other(self) -> Slot {
        match self {
            Slot::A => Slot::B,
            Slot::B => Slot::A,
        }
    }

    pub fn letter(self) -> &'static str {
        match self {
            Slot::A => "A",
            Slot::B => "B",
        }
    }

    /// `A` or `B`; anything else (an empty `next`) is no slot.
    pub fn parse(text: &str) -> Option<Slot> {
        match text {
            "A" => Some(Slot::A),
            "B" => Some(Slot::B),
            _ => None,
        }
    }

    /// The slot from a kernel command line's `lvsfw.slot=`.
    pub fn from_cmdline(cmdline: &str) -> Option<Slot> {
        cmdline
            .split_whitespace()
            .find_map(|w| w.strip_prefix("lvsfw.slot="))
            .and_then(Slot::parse)
    }
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.letter())
    }
}

/// The good slot as grub.cfg chooses it: grubenv's `slot`, A when unset or odd.
pub fn good_slot(env_slot: Option<&str>) -> Slot {
    env_slot.and_then(Slot::parse).unwrap_or(Slot::A)
}

/// What the balancer's heartbeat file says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heartbeat {
    /// No file, or not rewritten lately.
    Absent,
    Starting,
    Ready,
}

impl Heartbeat {
    /// The file's content, and how long ago it was written: older than `stale` is
    /// as good as no heartbeat.
    pub fn read(content: &str, age: Duration, stale: Duration) -> Heartbeat {
        if age > stale {
            return Heartbeat::Absent;
        }
        match content.trim_end() {
            "ready" => Heartbeat::Ready,
            "starting" => Heartbeat::Starting,
            _ => Heartbeat::Absent,
        }
    }
}

/// What PID 1 knows at one moment of a boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation {
    /// `lvsfw.slot=` on the kernel command line; `None` off a disk image.
    pub running: Option<Slot>,
    /// grubenv's `slot` (the good one).
    pub good: Slot,
    pub heartbeat: Heartbeat,
    /// Balancer exits since boot that came before it was ever ready.
    pub failed_starts: u32,
    pub since_boot: Duration,
    /// The saved configuration could not be restored at this boot (unreadable, or in a
    /// format this version does not know): the balancer may well be ready, but with
    /// nothing of the operator's in service.
    pub restore_failed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not a trial (or not a disk image): nothing to do, now or later.
    Settled,
    /// A trial still coming up: look again soon.
    Wait,
    /// The trial worked: set grubenv `slot` to the running slot.
    MarkGood(Slot),
    /// The trial failed, for this reason: reboot to the good slot.
    GiveUp(String),
}

pub fn decide(o: &Observation) -> Verdict {
    let Some(running) = o.running else {
        return Verdict::Settled;
    };
    if running == o.good {
        return Verdict::Settled;
    }
    if o.restore_failed {
        return Verdict::GiveUp(
            "the saved configuration could not be restored (this version may not read it)".into(),
        );
    }
    // Ready wins over a count reached on the same turn: it did come up.
    if o.heartbeat == Heartbeat::Ready {
        return Verdict::MarkGood(running);
    }
    if o.failed_starts >= MAX_FAILED_STARTS {
        return Verdict::GiveUp(format!(
            "the balancer failed {} times before it was ready",
            o.failed_starts
        ));
    }
    if o.since_boot >= READY_WITHIN {
        return Verdict::GiveUp(format!(
            "the balancer was not ready within {} s of boot",
            READY_WITHIN.as_secs()
        ));
    }
    Verdict::Wait
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial_of_b() -> Observation {
        Observation {
            running: Some(Slot::B),
            good: Slot::A,
            heartbeat: Heartbeat::Starting,
            failed_starts: 0,
            since_boot: Duration::from_secs(10),
            restore_failed: false,
        }
    }

    #[test]
    fn a_trial_whose_restore_failed_is_never_marked_good() {
        let o = Observation {
            heartbeat: Heartbeat::Ready,
            restore_failed: true,
            ..trial_of_b()
        };
        assert_eq!(
            decide(&o),
            Verdict::GiveUp(
                "the saved configuration could not be restored (this version may not read it)"
                    .into()
            )
        );
        // Not on trial: nothing to give up.
        let settled = Observation {
            running: Some(Slot::A),
            ..o
        };
        assert_eq!(decide(&settled), Verdict::Settled);
    }

    #[test]
    fn a_boot_of_the_good_slot_or_without_slots_is_settled() {
        let good = Observation {
            running: Some(Slot::A),
            ..trial_of_b()
        };
        assert_eq!(decide(&good), Verdict::Settled);
        let failing_good = Observation {
            failed_starts: 10,
            since_boot: Duration::from_secs(999),
            ..good
        };
        assert_eq!(decide(&failing_good), Verdict::Settled);
        let no_image = Observation {
            running: None,
            ..trial_of_b()
        };
        assert_eq!(decide(&no_image), Verdict::Settled);
    }

    #[test]
    fn a_trial_waits_then_is_marked_good_when_ready() {
        assert_eq!(decide(&trial_of_b()), Verdict::Wait);
        let ready = Observation {
            heartbeat: Heartbeat::Ready,
            failed_starts: 2,
            ..trial_of_b()
        };
        assert_eq!(decide(&ready), Verdict::MarkGood(Slot::B));
        let a_trial = Observation {
            running: Some(Slot::A),
            good: Slot::B,
            heartbeat: Heartbeat::Ready,
            ..trial_of_b()
        };
        assert_eq!(decide(&a_trial), Verdict::MarkGood(Slot::A));
    }

    #[test]
    fn a_trial_is_given_up_after_failed_starts_or_time() {
        let crashing = Observation {
            failed_starts: MAX_FAILED_STARTS,
            ..trial_of_b()
        };
        assert_eq!(
            decide(&crashing),
            Verdict::GiveUp("the balancer failed 3 times before it was ready".into())
        );
        let slow = Observation {
            since_boot: READY_WITHIN,
            heartbeat: Heartbeat::Absent,
            ..trial_of_b()
        };
        assert_eq!(
            decide(&slow),
            Verdict::GiveUp("the balancer was not ready within 180 s of boot".into())
        );
        let almost = Observation {
            since_boot: READY_WITHIN - Duration::from_secs(1),
            failed_starts: MAX_FAILED_STARTS - 1,
            ..trial_of_b()
        };
        assert_eq!(decide(&almost), Verdict::Wait);
    }

    #[test]
    fn the_slot_comes_from_the_command_line_and_the_good_one_defaults_to_a() {
        let cmdline = "console=ttyS0,115200 panic=-1 lvsfw.slot=B\n";
        assert_eq!(Slot::from_cmdline(cmdline), Some(Slot::B));
        assert_eq!(Slot::from_cmdline("console=ttyS0 lvsfw.slot=C"), None);
        assert_eq!(Slot::from_cmdline("console=ttyS0"), None);
        assert_eq!(good_slot(None), Slot::A);
        assert_eq!(good_slot(Some("")), Slot::A);
        assert_eq!(good_slot(Some("B")), Slot::B);
    }

    #[test]
    fn a_heartbeat_counts_only_while_fresh() {
        let stale = Duration::from_secs(5);
        let now = Duration::from_secs(1);
        assert_eq!(Heartbeat::read("ready\n", now, stale), Heartbeat::Ready);
        assert_eq!(
            Heartbeat::read("starting\n", now, stale),
            Heartbeat::Starting
        );
        assert_eq!(
            Heartbeat::read("ready\n", Duration::from_secs(6), stale),
            Heartbeat::Absent
        );
        assert_eq!(Heartbeat::read("", now, stale), Heartbeat::Absent);
    }
}
