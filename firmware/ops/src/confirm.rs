//! Commit-confirmed: a change that rolls itself back unless confirmed in time.
//!
//! `config apply confirm MINUTES` at the console, "apply with automatic rollback" on the
//! page, and by default every change that touches what reaches the box (the mgmt
//! addresses, the page's management address, a default gateway)
//! first leaves the running texts as they were, with a deadline, in
//! `/run/lvsfw/rollback.json` ([`Pending`]). `config confirm` (or the page's button)
//! removes it; otherwise the balancer, which checks it every second, puts the previous
//! texts back and reloads ([`roll_back_if_due`]).
//!
//! Who owns the timer: the balancer (it owns the running configuration, and the page
//! runs in it); the state is the file, not its memory, so a balancer that crashes and
//! is restarted by PID 1 finds the pending rollback again and carries it out. The
//! deadline is in CLOCK_BOOTTIME seconds: an NTP step of the wall clock does not move
//! it, and /run (a tmpfs) lives exactly as long as that clock counts.
//!
//! While a rollback is pending, `config save` and `config restore REV` are refused: the
//! saved configuration is therefore always a confirmed one, and a reboot before
//! confirmation boots it, which is the rollback too. Another apply is taken and joins
//! the pending rollback (as a Junos commit does inside a commit-confirmed window): the
//! deadline stays and the rollback brings back what ran before the first unconfirmed
//! change, so an operator can fix a mistake without waiting for it to undo itself.

use std::fmt::Write as _;

use config::{Config, Role};
use serde::{Deserialize, Serialize};

use super::{read_optional, remove_optional, write, Paths, Texts};

/// The rollback time when the operator gives none (Junos's default too).
pub const DEFAULT_MINUTES: u32 = 10;
/// The longest a change may wait for its confirmation.
pub const MAX_MINUTES: u32 = 60;

/// A change in service that rolls back unless confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pending {
    /// The running texts before the change.
    pub native: String,
    pub keepalived: Option<String>,
    /// CLOCK_BOOTTIME seconds at which the previous texts come back.
    pub deadline: u64,
    pub minutes: u32,
    /// Who applied it ("console", "page: admin from 10.0.0.5").
    pub who: String,
    /// Why a rollback is pending ("asked for", "the mgmt addresses changed").
    pub why: String,
}

/// Where a pending rollback stands at `now` (CLOCK_BOOTTIME seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// Seconds left until the rollback.
    Left(u64),
    Due,
}

impl Pending {
    pub fn timer(&self, now: u64) -> Timer {
        match self.deadline.checked_sub(now) {
            Some(left) if left > 0 => Timer::Left(left),
            _ => Timer::Due,
        }
    }

    /// One line for the console, the page and `show status`.
    pub fn describe(&self, now: u64) -> String {
        match self.timer(now) {
            Timer::Left(s) => format!(
                "a change by {} ({}) rolls back by itself in {} unless confirmed (\"config confirm\", or Confirm on the page)",
                self.who,
                self.why,
                duration(s)
            ),
            Timer::Due => format!(
                "a change by {} ({}) is being rolled back now",
                self.who, self.why
            ),
        }
    }
}

fn duration(secs: u64) -> String {
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s} s"),
        (m, 0) => format!("{m} min"),
        (m, s) => format!("{m} min {s} s"),
    }
}

/// Seconds since boot, suspend included (the deadline's clock).
pub fn boot_now() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME)
        .map(|t| t.tv_sec().max(0) as u64)
        .unwrap_or(0)
}

/// `MINUTES` as typed: 1 to [`MAX_MINUTES`].
pub fn parse_minutes(text: &str) -> Result<u32, String> {
    text.parse::<u32>()
        .ok()
        .filter(|m| (1..=MAX_MINUTES).contains(m))
        .ok_or_else(|| {
            format!(
                "\"{text}\" is not a number of minutes from 1 to {MAX_MINUTES}; nothing applied"
            )
        })
}

/// Why a change from `old` to `new` needs a confirmation by default: it touches what
/// reaches the box. `None`: it does not.
pub fn required(old: &Config, new: &Config) -> Option<String> {
    let mut why = Vec::new();
    // Only when there was an access to lose: a mgmt interface without addresses, or no
    // default gateway, reached nobody before.
    let mgmt_reached = old
        .interface(Role::Mgmt)
        .is_some_and(|i| !i.addresses.is_empty());
    if mgmt_reached && old.interface(Role::Mgmt) != new.interface(Role::Mgmt) {
        why.push("the mgmt interface");
    }
    if old.admin.management_address != new.admin.management_address {
        why.push("the management address");
    }
    let defaults = |c: &Config| {
        let mut d: Vec<String> = c
            .routes
            .iter()
            .filter(|r| r.to.len == 0)
            .map(|r| format!("{} {}", r.to, r.via))
            .collect();
        d.sort();
        d
    };
    if !defaults(old).is_empty() && defaults(old) != defaults(new) {
        why.push("the default gateway");
    }
    if why.is_empty() {
        None
    } else {
        Some(format!("it changes {}", why.join(", ")))
    }
}

/// The pending rollback, if there is one.
pub fn pending(paths: &Paths) -> Result<Option<Pending>, String> {
    let Some(text) = read_optional(&paths.rollback)? else {
        return Ok(None);
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| format!("{}: {e}", paths.rollback.display()))
}

/// An error when a rollback is pending: `what` is refused until it is settled.
pub fn refuse_while_pending(paths: &Paths, what: &str) -> Result<(), String> {
    match pending(paths)? {
        None => Ok(()),
        Some(p) => Err(format!(
            "{what} is refused while a change waits for its confirmation: {}; nothing changed\n",
            p.describe(boot_now())
        )),
    }
}

/// Before a change goes into service: the running texts as they are now, kept to come
/// back in `minutes` unless confirmed. Refused while another rollback is pending.
pub fn arm(paths: &Paths, minutes: u32, who: &str, why: &str) -> Result<Pending, String> {
    refuse_while_pending(paths, "another change")?;
    if !(1..=MAX_MINUTES).contains(&minutes) {
        return Err(format!(
            "a rollback time is 1 to {MAX_MINUTES} minutes ({minutes} given); nothing applied\n"
        ));
    }
    let Texts { native, keepalived } = super::running(paths)?;
    let pending = Pending {
        native,
        keepalived,
        deadline: boot_now() + u64::from(minutes) * 60,
        minutes,
        who: who.into(),
        why: why.into(),
    };
    let text = serde_json::to_string(&pending).expect("strings always serialize");
    write(&paths.rollback, &text)?;
    Ok(pending)
}

/// What a change asks for: a rollback time typed (`asked`), else the default one when
/// the change from `old` to `new` needs it ([`required`]). Arms it; `None`: the change
/// goes into service without one. With a rollback already pending the change joins it
/// (that one is returned, unchanged). The console's `config apply` and the page both
/// come here, so the rule and the state are the same whichever front end applied.
pub fn arm_for(
    paths: &Paths,
    asked: Option<u32>,
    old: Option<&Config>,
    new: Option<&Config>,
    who: &str,
) -> Result<Option<Pending>, String> {
    if let Some(p) = pending(paths)? {
        return Ok(Some(p));
    }
    let wanted = match (asked, old, new) {
        (Some(m), _, _) => Some((m, "rollback asked for".to_string())),
        (None, Some(old), Some(new)) => required(old, new).map(|why| (DEFAULT_MINUTES, why)),
        _ => None,
    };
    match wanted {
        Some((minutes, why)) => arm(paths, minutes, who, &why).map(Some),
        None => Ok(None),
    }
}

/// What the operator is told right after a change with a rollback went into service.
pub fn announce(p: &Pending) -> String {
    match p.timer(boot_now()) {
        Timer::Left(left) if left + 2 < u64::from(p.minutes) * 60 => format!(
            "this change joins the one waiting for its confirmation: both roll back by themselves in {} unless confirmed (\"config confirm\" at the console, Confirm on the page)\n",
            duration(left)
        ),
        _ => format!(
            "this change rolls back by itself in {} min unless confirmed (\"config confirm\" at the console, Confirm on the page): {}\n",
            p.minutes, p.why
        ),
    }
}

/// The change stays: the pending rollback goes.
pub fn confirm(paths: &Paths, who: &str) -> Result<String, String> {
    let Some(p) = pending(paths)? else {
        return Err("nothing to confirm: no change waits for its confirmation\n".into());
    };
    remove_optional(&paths.rollback)?;
    log::info!("{who} confirmed the change by {} ({})", p.who, p.why);
    Ok("confirmed: the change stays; \"config save\" keeps it across a reboot\n".into())
}

/// Drops a rollback armed for a change that then did not go into service.
pub fn disarm(paths: &Paths) {
    let _ = remove_optional(&paths.rollback);
}

/// When the pending rollback is due at `now`: the previous texts are the running ones
/// again and the pending state is gone; what happened, for the log. The caller has the
/// balancer read its files again.
pub fn roll_back_if_due(paths: &Paths, now: u64) -> Result<Option<String>, String> {
    let Some(p) = pending(paths)? else {
        return Ok(None);
    };
    if p.timer(now) != Timer::Due {
        return Ok(None);
    }
    write(&paths.running_json, &p.native)?;
    match &p.keepalived {
        Some(text) => write(&paths.running_conf, text)?,
        None => remove_optional(&paths.running_conf)?,
    }
    remove_optional(&paths.rollback)?;
    let mut said = String::new();
    let _ = write!(
        said,
        "rollback: the change by {} ({}) was not confirmed within {} min; the previous running configuration is restored",
        p.who, p.why, p.minutes
    );
    Ok(Some(said))
}

#[cfg(test)]
mod tests;
