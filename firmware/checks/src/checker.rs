//! One checker's up/down decision and its timers, as keepalived makes them. No sockets and
//! no clock: the caller passes every event with the current time, starts the probes this
//! returns, and wakes it again at [`Checker::next_deadline`].
//!
//! The rules, from keepalived's check_tcp.c `tcp_epilog`, check_http.c `epilog` and
//! `timeout_epilog`, check_data.c and check_api.c `register_checkers_thread` (2.2.7, which
//! Debian 12 ships, and 2.4; the one difference is noted below):
//!
//! - The first probe runs 1 s after start plus a random share of `warmup`.
//! - Each timer is started when the previous probe *finishes*: `delay_loop` after a pass,
//!   `delay_before_retry` after a failed attempt of an up server.
//! - An up server goes down after `retry` + 1 failed attempts in a row. At start (and only
//!   then) one failure is enough: keepalived starts its retry counter at `retry`.
//! - A down TCP_CHECK server is probed every `delay_loop` and comes up on its first pass.
//!   (keepalived before 2.3.3 probed it at `delay_before_retry` for `retry` tries between
//!   each `delay_loop`, a bug fixed upstream in "ipvs: fix delay_loop for TCP_CHECK".)
//! - PING_CHECK, UDP_CHECK and DNS_CHECK follow TCP_CHECK's rules (check_ping.c
//!   `icmp_epilog` and check_udp.c `udp_epilog` are `tcp_epilog`; check_dns.c `dns_final`
//!   differs only for a checker that has not run with fewer retries counted than `retry`,
//!   which the start, counting `retry`, never has).
//! - SMTP_CHECK (check_smtp.c `smtp_final`) counts the failures of one round only: each
//!   `delay_loop` starts afresh, a failure is retried `delay_before_retry` later while
//!   fewer than `retry` + 1 have failed, up or down, and the server is down once they
//!   have. So a down server is probed up to `retry` + 1 times per `delay_loop`, and one
//!   failure at start is not enough.
//! - HTTP_GET/SSL_GET probe one URL each time. While up, the URLs take turns, one per
//!   `delay_loop`. A down server is probed on the URL that failed, `max(delay_before_retry,
//!   delay_loop)` apart; once that URL passes, all URLs are checked again from the first,
//!   one per `delay_loop` (at once with `fast_recovery`), and the server is up when the
//!   last one passes. With one URL that is two passes, a `delay_loop` apart.

use std::fmt;
use std::time::{Duration, Instant};

use crate::outcome::{Failure, Passed, ProbeResult};
use crate::spec::{CheckKind, CheckSpec, Timing};

/// keepalived's BOOTSTRAP_DELAY (lib/scheduler.h): the first probe never runs before it.
pub const BOOTSTRAP_DELAY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Health {
    Up,
    Down,
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Health::Up => "up",
            Health::Down => "down",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A timer set for [`Checker::next_deadline`] went off (early calls do nothing).
    Timer,
    /// The probe this checker asked for has finished.
    Probed(ProbeResult),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Start one probe now and report its result with [`Event::Probed`].
    Probe(Probe),
    /// The server changed state, or its first result confirmed the state it started in.
    Report(Transition),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// For HTTP_GET/SSL_GET, the index of the URL to fetch; `None` for TCP_CHECK.
    pub url: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub health: Health,
    pub cause: Cause,
    /// The URL whose probe decided it (HTTP_GET/SSL_GET).
    pub url: Option<usize>,
    /// False for the first result when it only confirms the starting state: nothing
    /// changes, but the status can show what the check found (keepalived logs and
    /// notifies only changes, and so should the caller).
    pub changed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// The last probe of a full round passed; `urls` URLs were checked in that round.
    Passed { last: Passed, urls: usize },
    /// `attempts` probes failed in a row; this is the last one's reason.
    Failed { failure: Failure, attempts: u32 },
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Passed { last, urls } if *urls > 1 => {
                write!(f, "{last}; all {urls} URLs passed")
            }
            Cause::Passed { last, .. } => write!(f, "{last}"),
            Cause::Failed { failure, attempts } if *attempts > 1 => {
                write!(f, "{failure} ({attempts} attempts)")
            }
            Cause::Failed { failure, .. } => write!(f, "{failure}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    /// TCP_CHECK, PING_CHECK, UDP_CHECK, DNS_CHECK.
    Tcp,
    Http {
        urls: usize,
        fast_recovery: bool,
    },
    Smtp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Waiting { due: Instant },
    Probing,
}

/// The state of one checker (keepalived's checker_t fields of the same meaning).
#[derive(Debug, Clone)]
pub struct Checker {
    timing: Timing,
    flavor: Flavor,
    /// keepalived `is_up`.
    up: bool,
    /// keepalived `has_run`: a decision has been made since start.
    has_run: bool,
    /// A result has been reported since start (the first is, even when it changes
    /// nothing, so the status can say what the check found).
    reported: bool,
    /// keepalived `retry_it`: failed attempts counted toward `retry`.
    retries: u32,
    /// Failed attempts in a row, for the report only.
    failed_in_row: u32,
    /// HTTP: the URL the next probe fetches (keepalived `url_it`).
    url: usize,
    /// HTTP: the URL that took the server down (keepalived `failed_url`).
    failed_url: Option<usize>,
    phase: Phase,
}

impl Checker {
    /// A checker as at keepalived's start: up unless `alpha`, first probe after
    /// [`BOOTSTRAP_DELAY`] plus `random / u32::MAX` of `warmup`.
    pub fn new(spec: &CheckSpec, now: Instant, random: u32) -> Self {
        let health = if spec.timing.alpha {
            Health::Down
        } else {
            Health::Up
        };
        Self::resume(spec, now, random, health)
    }

    /// A checker that starts from a known state, for a changed check on reload: like a
    /// fresh start (one failure takes it down, one full pass brings it up), but from
    /// `health` rather than from `alpha`, so that a reload does not flap the server.
    pub fn resume(spec: &CheckSpec, now: Instant, random: u32, health: Health) -> Self {
        let flavor = match &spec.kind {
            CheckKind::Tcp | CheckKind::Ping | CheckKind::Udp(_) | CheckKind::Dns(_) => Flavor::Tcp,
            CheckKind::Http(http) => Flavor::Http {
                urls: http.urls.len().max(1),
                fast_recovery: http.fast_recovery,
            },
            CheckKind::Smtp(_) => Flavor::Smtp,
        };
        Checker {
            timing: spec.timing,
            flavor,
            up: health == Health::Up,
            has_run: false,
            reported: false,
            // check_data.c: "For non alpha mode, one failure is enough initially"; SMTP's
            // first round starts its count at 0, as every round does.
            retries: match flavor {
                Flavor::Smtp => 0,
                _ => spec.timing.retry,
            },
            failed_in_row: 0,
            url: 0,
            failed_url: None,
            phase: Phase::Waiting {
                due: now + BOOTSTRAP_DELAY + warmup_share(spec.timing.warmup, random),
            },
        }
    }

    pub fn health(&self) -> Health {
        if self.up {
            Health::Up
        } else {
            Health::Down
        }
    }

    /// When to send [`Event::Timer`]; `None` while a probe is out (its result comes first).
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Waiting { due } => Some(due),
            Phase::Probing => None,
        }
    }

    pub fn is_probing(&self) -> bool {
        self.phase == Phase::Probing
    }

    /// Feeds one event. A timer yields at most a probe; a probe result at most a report.
    pub fn on_event(&mut self, event: Event, now: Instant) -> Option<Action> {
        match (event, self.phase) {
            (Event::Timer, Phase::Waiting { due }) if now >= due => {
                self.phase = Phase::Probing;
                let url = match self.flavor {
                    Flavor::Tcp | Flavor::Smtp => None,
                    Flavor::Http { .. } => Some(self.url),
                };
                Some(Action::Probe(Probe { url }))
            }
            (Event::Probed(result), Phase::Probing) => {
                let (delay, transition) = match self.flavor {
                    Flavor::Tcp => self.tcp_result(result),
                    Flavor::Http {
                        urls,
                        fast_recovery,
                    } => self.http_result(result, urls, fast_recovery),
                    Flavor::Smtp => self.smtp_result(result),
                };
                self.phase = Phase::Waiting { due: now + delay };
                transition.map(Action::Report)
            }
            // An early timer, or a result nobody asked for: nothing to do.
            _ => None,
        }
    }

    /// check_tcp.c `tcp_epilog`: a pass brings the server up at once; an up server's
    /// failure is retried `delay_before_retry` later until `retry` are used up.
    fn tcp_result(&mut self, result: ProbeResult) -> (Duration, Option<Transition>) {
        let t = self.timing;
        let mut delay = t.delay_loop;
        let mut transition = None;
        let may_go_down = self.up || !self.has_run;
        match result {
            ProbeResult::Passed(passed) => {
                self.retries = 0;
                self.failed_in_row = 0;
                transition = self.come_up(passed, 1, None);
            }
            ProbeResult::Failed(failure) => {
                self.failed_in_row = self.failed_in_row.saturating_add(1);
                if may_go_down && self.retries >= t.retry {
                    self.retries = 0;
                    transition = self.go_down(failure, None);
                } else if self.up {
                    delay = t.delay_before_retry;
                    self.retries += 1;
                } else {
                    // A down server's failure changes nothing: next try a delay_loop
                    // later (reported once, for a server down since start).
                    transition = self.go_down(failure, None);
                }
            }
        }
        self.has_run = true;
        (delay, transition)
    }

    /// check_smtp.c `smtp_final`: a pass brings the server up; a failure is retried
    /// `delay_before_retry` later until `retry` + 1 have failed in this round, then the
    /// server is down (if it was not) and the next round starts a `delay_loop` later.
    fn smtp_result(&mut self, result: ProbeResult) -> (Duration, Option<Transition>) {
        let t = self.timing;
        let transition = match result {
            ProbeResult::Passed(passed) => {
                self.failed_in_row = 0;
                self.come_up(passed, 1, None)
            }
            ProbeResult::Failed(failure) => {
                self.failed_in_row = self.failed_in_row.saturating_add(1);
                self.retries = self.retries.saturating_add(1);
                if self.retries <= t.retry {
                    return (t.delay_before_retry, None);
                }
                self.go_down(failure, None)
            }
        };
        self.has_run = true;
        // smtp_start_check_thread: every round counts its failures from 0.
        self.retries = 0;
        (t.delay_loop, transition)
    }

    /// check_http.c `epilog` (REGISTER_CHECKER_NEW after a pass, _RETRY after a failure
    /// while up or before the first decision, _FAILED after a failure while down).
    fn http_result(
        &mut self,
        result: ProbeResult,
        urls: usize,
        fast_recovery: bool,
    ) -> (Duration, Option<Transition>) {
        let t = self.timing;
        let probed = self.url;
        let mut transition = None;
        let delay = match result {
            ProbeResult::Passed(passed) => {
                self.retries = 0;
                self.failed_in_row = 0;
                let round_done = probed + 1 == urls;
                if self.failed_url.is_some() {
                    // The URL that failed passes again: check them all from the first.
                    self.failed_url = None;
                    self.url = 0;
                } else if round_done {
                    transition = self.come_up(passed, urls, Some(probed));
                    self.has_run = true;
                    self.url = 0;
                } else {
                    self.url = probed + 1;
                }
                if !self.has_run {
                    // In the first round after start, one failure is still enough.
                    self.retries = t.retry;
                }
                let recovering = !self.has_run || (!self.up && self.failed_url.is_none());
                if fast_recovery && recovering {
                    Duration::ZERO
                } else {
                    t.delay_loop
                }
            }
            ProbeResult::Failed(failure) => {
                self.failed_in_row = self.failed_in_row.saturating_add(1);
                if self.up || !self.has_run {
                    self.has_run = true;
                    self.retries = self.retries.saturating_add(1);
                    if self.retries > t.retry {
                        transition = self.go_down(failure, Some(probed));
                        self.failed_url = Some(probed);
                    }
                } else {
                    // Reported once, for a server down since start (`alpha`).
                    transition = self.go_down(failure, Some(probed));
                }
                // keepalived also retries at once here with fast_recovery when a down
                // server fails during its recovery round; that busy-loops against a
                // refusing server, so lvsfw waits as without fast_recovery.
                if self.failed_url.is_some() {
                    t.delay_before_retry.max(t.delay_loop)
                } else {
                    t.delay_before_retry
                }
            }
        };
        (delay, transition)
    }

    /// A pass that brings a down server up; for one that is up, the first report since
    /// start says so (unchanged), later passes nothing.
    fn come_up(&mut self, last: Passed, urls: usize, url: Option<usize>) -> Option<Transition> {
        let changed = !self.up;
        if !changed && self.reported {
            return None;
        }
        self.up = true;
        self.reported = true;
        Some(self.passed(last, urls, url, changed))
    }

    /// A failure that takes an up server down; for one that is down (`alpha`), the first
    /// report since start says so (unchanged), later failures nothing.
    fn go_down(&mut self, failure: Failure, url: Option<usize>) -> Option<Transition> {
        let changed = self.up;
        if !changed && self.reported {
            return None;
        }
        self.up = false;
        self.reported = true;
        Some(self.failed(failure, url, changed))
    }

    fn passed(&self, last: Passed, urls: usize, url: Option<usize>, changed: bool) -> Transition {
        Transition {
            health: Health::Up,
            cause: Cause::Passed { last, urls },
            url,
            changed,
        }
    }

    fn failed(&self, failure: Failure, url: Option<usize>, changed: bool) -> Transition {
        Transition {
            health: Health::Down,
            cause: Cause::Failed {
                failure,
                attempts: self.failed_in_row,
            },
            url,
            changed,
        }
    }
}

/// keepalived: `warmup * random() / RAND_MAX`, here with a full-range u32.
fn warmup_share(warmup: Duration, random: u32) -> Duration {
    let nanos = warmup.as_nanos() * u128::from(random) / u128::from(u32::MAX);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests;
