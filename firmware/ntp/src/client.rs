//! Polling several servers: one round asks every usable server at once, waits at most
//! [`ANSWER_WAIT_MS`], and takes the answer with the smallest delay (the least
//! disturbed by the network, RFC 5905 §10's first criterion).
//!
//! What is done with it, in the manner of ntpd (its defaults, which keepalived users
//! run next to it): the first good answer steps the clock, whatever the offset; after
//! that an offset beyond [`STEP_THRESHOLD_NS`] (ntpd's `tinker step`, 128 ms) steps
//! again and a smaller one is slewed. ntpd's poll bounds too: 64 s (minpoll 6) doubling
//! to 1024 s (maxpoll 10) while answers come; without one, the next round follows after
//! 2 s, doubling to 64 s. A kiss-o'-death DENY or RSTR stops asking that server (RFC
//! 4330 §8); RATE doubles the interval.
//!
//! Times: `now_ms` is a monotonic clock in milliseconds (the schedule), `wall` the wall
//! clock as an [`NtpTime`] (the timestamps). Both come from the caller.

use std::net::SocketAddr;

use crate::packet::{self, NtpTime, Reject, Sample, PACKET_LEN};

/// How long a round waits for answers.
pub const ANSWER_WAIT_MS: u64 = 2_000;
/// Rounds without an answer: the first retry after this, doubling to [`MAX_RETRY_MS`].
pub const FIRST_RETRY_MS: u64 = 2_000;
pub const MAX_RETRY_MS: u64 = 64_000;
/// After a step, a round this soon confirms that the clock now agrees.
pub const CONFIRM_AFTER_STEP_MS: u64 = 8_000;
/// ntpd's minpoll 6 and maxpoll 10.
pub const MIN_POLL_MS: u64 = 64_000;
pub const MAX_POLL_MS: u64 = 1_024_000;
/// ntpd's step threshold: a larger offset is stepped, a smaller one slewed.
pub const STEP_THRESHOLD_NS: i64 = 128_000_000;
/// Without a good answer for this long the clock no longer counts as synchronised
/// (three of the longest polls).
pub const STALE_AFTER_MS: u64 = 3 * MAX_POLL_MS;
/// Servers asked; more in the configuration are refused there.
pub const MAX_SERVERS: usize = 8;

/// What to do to the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adjust {
    /// Set the clock to itself plus this many nanoseconds, at once.
    Step(i64),
    /// Move the clock by this many nanoseconds gradually.
    Slew(i64),
}

/// Something worth a log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A server's answer was refused.
    Rejected(SocketAddr, Reject),
    /// A DENY or RSTR kiss-o'-death: the server is not asked again.
    Denied(SocketAddr, String),
    /// A round ended without any good answer (the count of such rounds in a row, said
    /// at the 1st, 2nd, 4th, 8th, ... so that a dead server does not flood the log).
    NoAnswer(u32),
    /// The answer that was used.
    Used(SocketAddr, Sample, Adjust),
}

/// The last good answer used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Synced {
    pub server: SocketAddr,
    pub sample: Sample,
    /// The monotonic time of it.
    pub at_ms: u64,
    /// The wall clock of it, corrected by the offset.
    pub at_wall: NtpTime,
}

/// For `show time` and the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub synchronised: bool,
    pub last: Option<Synced>,
    /// Each server with what went wrong with it last, if anything.
    pub servers: Vec<(SocketAddr, Option<String>)>,
}

/// What a call asks the caller to do.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Output {
    /// Datagrams to send now.
    pub send: Vec<(SocketAddr, [u8; PACKET_LEN])>,
    pub adjust: Option<Adjust>,
    pub events: Vec<Event>,
}

struct Server {
    addr: SocketAddr,
    /// What went wrong last (cleared by a good answer).
    problem: Option<String>,
    denied: bool,
}

struct Pending {
    server: usize,
    nonce: NtpTime,
    sent: NtpTime,
}

struct Round {
    deadline_ms: u64,
    pending: Vec<Pending>,
    samples: Vec<(usize, Sample)>,
    rate_limited: bool,
}

pub struct Client {
    servers: Vec<Server>,
    round: Option<Round>,
    next_round_ms: u64,
    /// The poll interval while answers come.
    interval_ms: u64,
    /// The wait after a round without an answer.
    retry_ms: u64,
    failed_rounds: u32,
    stepped: bool,
    last: Option<Synced>,
}

impl Client {
    /// Asks `servers` (the first [`MAX_SERVERS`]), the first round at once.
    pub fn new(servers: &[SocketAddr], now_ms: u64) -> Client {
        Client {
            servers: servers
                .iter()
                .take(MAX_SERVERS)
                .map(|&addr| Server {
                    addr,
                    problem: None,
                    denied: false,
                })
                .collect(),
            round: None,
            next_round_ms: now_ms,
            interval_ms: MIN_POLL_MS,
            retry_ms: FIRST_RETRY_MS,
            failed_rounds: 0,
            stepped: false,
            last: None,
        }
    }

    /// Whether this client has set the clock (stepped it) already.
    pub fn clock_set(&self) -> bool {
        self.stepped
    }

    /// This client replaces `old` (the servers changed): the clock it set stays set
    /// (the first answer is slewed unless beyond the step threshold) and its last
    /// answer stays the last sync until a new one comes.
    pub fn following(mut self, old: &Client) -> Client {
        self.stepped = old.stepped;
        self.last = old.last;
        self
    }

    /// When [`Client::poll`] has something to do; `None`: nothing ever (no usable server).
    pub fn wake_at(&self) -> Option<u64> {
        match &self.round {
            Some(r) => Some(r.deadline_ms),
            None => self
                .servers
                .iter()
                .any(|s| !s.denied)
                .then_some(self.next_round_ms),
        }
    }

    /// Ends a round whose time is up, starts one that is due. `nonce` gives a fresh
    /// random value for each request.
    pub fn poll(&mut self, now_ms: u64, wall: NtpTime, nonce: impl FnMut() -> u64) -> Output {
        let mut out = Output::default();
        if self.round.as_ref().is_some_and(|r| now_ms >= r.deadline_ms) {
            self.finish_round(now_ms, wall, &mut out);
        }
        if self.round.is_none() && now_ms >= self.next_round_ms {
            self.start_round(now_ms, wall, nonce, &mut out);
        }
        out
    }

    fn start_round(
        &mut self,
        now_ms: u64,
        wall: NtpTime,
        mut nonce: impl FnMut() -> u64,
        out: &mut Output,
    ) {
        let mut pending = Vec::new();
        for (i, s) in self.servers.iter().enumerate().filter(|(_, s)| !s.denied) {
            let n = NtpTime(nonce());
            out.send.push((s.addr, packet::request(n)));
            pending.push(Pending {
                server: i,
                nonce: n,
                sent: wall,
            });
        }
        if !pending.is_empty() {
            self.round = Some(Round {
                deadline_ms: now_ms + ANSWER_WAIT_MS,
                pending,
                samples: Vec::new(),
                rate_limited: false,
            });
        }
    }

    /// A datagram from `from`, received at `wall`.
    pub fn receive(
        &mut self,
        from: SocketAddr,
        bytes: &[u8],
        now_ms: u64,
        wall: NtpTime,
    ) -> Output {
        let mut out = Output::default();
        let Some(round) = &mut self.round else {
            return out;
        };
        let Some(at) = round
            .pending
            .iter()
            .position(|p| self.servers[p.server].addr == from)
        else {
            return out;
        };
        let p = &round.pending[at];
        let server = p.server;
        match packet::answer(bytes, p.nonce, p.sent, wall) {
            Ok(sample) => {
                round.pending.swap_remove(at);
                round.samples.push((server, sample));
                self.servers[server].problem = None;
            }
            // Not an answer to our request: the real one may still come.
            Err(Reject::NotOurs) => {
                out.events.push(Event::Rejected(from, Reject::NotOurs));
                return out;
            }
            Err(why) => {
                round.pending.swap_remove(at);
                let s = &mut self.servers[server];
                s.problem = Some(why.to_string());
                match &why {
                    Reject::KissOfDeath(code) if code == "DENY" || code == "RSTR" => {
                        s.denied = true;
                        out.events.push(Event::Denied(from, code.clone()));
                    }
                    Reject::KissOfDeath(code) if code == "RATE" => {
                        round.rate_limited = true;
                        out.events.push(Event::Rejected(from, why));
                    }
                    _ => out.events.push(Event::Rejected(from, why)),
                }
            }
        }
        if self.round.as_ref().is_some_and(|r| r.pending.is_empty()) {
            self.finish_round(now_ms, wall, &mut out);
        }
        out
    }

    fn finish_round(&mut self, now_ms: u64, wall: NtpTime, out: &mut Output) {
        let Some(round) = self.round.take() else {
            return;
        };
        for p in &round.pending {
            let s = &mut self.servers[p.server];
            s.problem = Some(format!("no answer within {} s", ANSWER_WAIT_MS / 1000));
        }
        let best = round
            .samples
            .iter()
            .min_by_key(|(_, s)| s.delay_ns)
            .copied();
        let Some((server, sample)) = best else {
            self.failed_rounds += 1;
            if self.failed_rounds.is_power_of_two() {
                out.events.push(Event::NoAnswer(self.failed_rounds));
            }
            let wait = if round.rate_limited {
                (self.interval_ms * 2).min(MAX_POLL_MS)
            } else {
                self.retry_ms
            };
            self.retry_ms = (self.retry_ms * 2).min(MAX_RETRY_MS);
            self.next_round_ms = now_ms + wait;
            return;
        };
        self.failed_rounds = 0;
        self.retry_ms = FIRST_RETRY_MS;
        let adjust = if !self.stepped || sample.offset_ns.abs() > STEP_THRESHOLD_NS {
            self.stepped = true;
            self.interval_ms = MIN_POLL_MS;
            self.next_round_ms = now_ms + CONFIRM_AFTER_STEP_MS;
            Adjust::Step(sample.offset_ns)
        } else {
            // The interval grows while the clock stays close; a rate limit doubles it too.
            let wait = self.interval_ms;
            self.interval_ms = (self.interval_ms * 2).min(MAX_POLL_MS);
            self.next_round_ms = now_ms + wait;
            Adjust::Slew(sample.offset_ns)
        };
        let addr = self.servers[server].addr;
        self.last = Some(Synced {
            server: addr,
            sample,
            at_ms: now_ms,
            at_wall: wall.plus(sample.offset_ns),
        });
        out.adjust = Some(adjust);
        out.events.push(Event::Used(addr, sample, adjust));
    }

    pub fn status(&self, now_ms: u64) -> Status {
        Status {
            synchronised: self
                .last
                .is_some_and(|l| now_ms.saturating_sub(l.at_ms) < STALE_AFTER_MS),
            last: self.last,
            servers: self
                .servers
                .iter()
                .map(|s| (s.addr, s.problem.clone()))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests;
