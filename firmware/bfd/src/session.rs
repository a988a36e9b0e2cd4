//! One BFD session in asynchronous mode (RFC 5880 §6.2, §6.8) as a pure state machine:
//! `handle(event, now) -> actions`, and `next_deadline()` for the shell's timer. It never
//! reads a clock, a socket or a random source: the shell gives it the discriminator and
//! a seed for the jitter, so every timer rule is testable with a simulated clock.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use crate::packet::{self, Control, Diag, Drop, State};

/// The slowest a session may send while not Up is at least this (RFC 5880 §6.8.3).
pub const SLOW_TX: Duration = Duration::from_secs(1);

/// The timers of one session; keepalived's `bfd_instance` names and defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// bfd.DesiredMinTxInterval while Up (keepalived's `min_tx`, 10 ms by default).
    pub min_tx: Duration,
    /// bfd.RequiredMinRxInterval (`min_rx`, 10 ms by default).
    pub min_rx: Duration,
    /// bfd.DesiredMinTxInterval while not Up (`idle_tx`, 1 s by default, never less:
    /// RFC 5880 §6.8.3).
    pub idle_tx: Duration,
    /// bfd.DetectMult (`multiplier`, 5 by default).
    pub multiplier: u8,
    /// Send nothing until the peer has spoken (`passive`, RFC 5880 §6.1).
    pub passive: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            min_tx: Duration::from_millis(10),
            min_rx: Duration::from_millis(10),
            idle_tx: SLOW_TX,
            multiplier: 5,
            passive: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// Begin: the first packet goes out now (unless passive).
    Start,
    /// The deadline from [`Session::next_deadline`] has come.
    Timer,
    /// A UDP payload from the peer and the TTL / hop limit it arrived with.
    Received { packet: &'a [u8], ttl: u8 },
    /// Administratively down (RFC 5880 §6.8.16): the peer is told, the session rests.
    AdminDown,
    /// Back from AdminDown to Down.
    AdminUp,
    /// New timers; while Up a change of an advertised interval runs a poll sequence
    /// (RFC 5880 §6.8.3).
    Configure(Settings),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this control packet to the peer's port 3784, TTL 255.
    Send([u8; packet::LEN]),
    State {
        from: State,
        to: State,
        diag: Diag,
    },
    /// A received packet was discarded, and why (also counted).
    Dropped(Drop),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub received: u64,
    pub sent: u64,
    /// Per [`Drop`] reason, in the order of [`Drop::ALL`].
    pub dropped: [u64; Drop::ALL.len()],
    /// Times the session reached Up.
    pub up: u64,
    /// Times it left Up.
    pub down: u64,
    pub polls: u64,
}

impl Counters {
    pub fn dropped(&self, why: Drop) -> u64 {
        self.dropped[why as usize]
    }
}

pub struct Session {
    settings: Settings,
    /// bfd.LocalDiscr: random and non-zero (RFC 5880 §6.8.1), the shell's choice.
    local_discr: u32,
    remote_discr: u32,
    state: State,
    remote_state: State,
    local_diag: Diag,
    /// bfd.RemoteMinRxInterval, 1 µs at the start (RFC 5880 §6.8.1).
    remote_min_rx: Duration,
    remote_min_tx: Duration,
    remote_mult: u8,
    remote_demand: bool,
    /// The DesiredMinTx our schedule uses, and the RequiredMinRx our detection time
    /// uses: they lag the advertised ones during a poll sequence (RFC 5880 §6.8.3).
    tx_used: Duration,
    rx_used: Duration,
    polling: bool,
    /// The timers changed again during a poll: poll again once it ends.
    repoll: bool,
    started: bool,
    next_tx: Option<Instant>,
    detect_at: Option<Instant>,
    rng: u64,
    counters: Counters,
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

fn from_micros(us: u32) -> Duration {
    Duration::from_micros(us.into())
}

impl Session {
    /// `discriminator`: random and unique among this system's sessions; `seed`: random,
    /// for the jitter.
    pub fn new(settings: Settings, discriminator: NonZeroU32, seed: u64) -> Session {
        let mut s = Session {
            settings,
            local_discr: discriminator.get(),
            remote_discr: 0,
            state: State::Down,
            remote_state: State::Down,
            local_diag: Diag::NONE,
            remote_min_rx: Duration::from_micros(1),
            remote_min_tx: Duration::ZERO,
            remote_mult: 0,
            remote_demand: false,
            tx_used: Duration::ZERO,
            rx_used: settings.min_rx,
            polling: false,
            repoll: false,
            started: false,
            next_tx: None,
            detect_at: None,
            // xorshift must not start at zero.
            rng: seed | 1,
            counters: Counters::default(),
        };
        s.tx_used = s.advertised_tx();
        s
    }

    pub fn state(&self) -> State {
        self.state
    }
    pub fn remote_state(&self) -> State {
        self.remote_state
    }
    pub fn local_diag(&self) -> Diag {
        self.local_diag
    }
    pub fn local_discriminator(&self) -> u32 {
        self.local_discr
    }
    pub fn remote_discriminator(&self) -> u32 {
        self.remote_discr
    }
    pub fn settings(&self) -> &Settings {
        &self.settings
    }
    pub fn counters(&self) -> Counters {
        self.counters
    }
    pub fn polling(&self) -> bool {
        self.polling
    }

    /// The interval between our periodic packets, before jitter (RFC 5880 §6.8.7: the
    /// larger of our DesiredMinTx and the peer's RequiredMinRx).
    pub fn tx_interval(&self) -> Duration {
        self.tx_used.max(self.remote_min_rx)
    }

    /// Detection time in asynchronous mode (RFC 5880 §6.8.4): the peer's Detect Mult
    /// times the larger of our RequiredMinRx and the peer's DesiredMinTx.
    pub fn detection_time(&self) -> Duration {
        self.rx_used.max(self.remote_min_tx) * u32::from(self.remote_mult.max(1))
    }

    /// When the shell must deliver [`Event::Timer`] next.
    pub fn next_deadline(&self) -> Option<Instant> {
        [self.next_tx, self.detect_at].into_iter().flatten().min()
    }

    pub fn handle(&mut self, event: Event<'_>, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        match event {
            Event::Start => {
                if !self.started {
                    self.started = true;
                    self.send(false, now, &mut out);
                }
            }
            Event::Timer => self.timers(now, &mut out),
            Event::Received { packet, ttl } => self.received(packet, ttl, now, &mut out),
            Event::AdminDown => {
                if self.state != State::AdminDown {
                    self.detect_at = None;
                    self.set_state(State::AdminDown, Diag::ADMINISTRATIVELY_DOWN, now, &mut out);
                    self.send(false, now, &mut out);
                }
            }
            Event::AdminUp => {
                if self.state == State::AdminDown {
                    self.set_state(State::Down, Diag::NONE, now, &mut out);
                    self.send(false, now, &mut out);
                }
            }
            Event::Configure(settings) => self.configure(settings, now, &mut out),
        }
        out
    }

    /// bfd.DesiredMinTxInterval as advertised now: `idle_tx` (at least 1 s) while not
    /// Up (RFC 5880 §6.8.3).
    fn advertised_tx(&self) -> Duration {
        if self.state == State::Up {
            self.settings.min_tx
        } else {
            self.settings.min_tx.max(self.settings.idle_tx).max(SLOW_TX)
        }
    }

    /// A change of the advertised intervals (RFC 5880 §6.8.3): while Up it is announced
    /// by a poll sequence, and a slower TX or a faster RX applies only once the peer
    /// answered; what cannot hurt (a faster TX, a slower RX) applies at once.
    fn intervals_changed(&mut self, old_tx: Duration, old_rx: Duration) {
        let tx = self.advertised_tx();
        let rx = self.settings.min_rx;
        if tx == old_tx && rx == old_rx {
            return;
        }
        if self.state != State::Up {
            self.tx_used = tx;
            self.rx_used = rx;
            return;
        }
        if tx < self.tx_used {
            self.tx_used = tx;
        }
        if rx > self.rx_used {
            self.rx_used = rx;
        }
        if self.polling {
            self.repoll = true;
        } else {
            self.polling = true;
            self.counters.polls += 1;
        }
    }

    fn configure(&mut self, settings: Settings, now: Instant, out: &mut Vec<Action>) {
        let (old_tx, old_rx) = (self.advertised_tx(), self.settings.min_rx);
        self.settings = settings;
        self.intervals_changed(old_tx, old_rx);
        if self.polling && self.started {
            // The poll goes out now rather than at the next periodic packet.
            self.send(false, now, out);
        }
    }

    fn set_state(&mut self, to: State, diag: Diag, now: Instant, out: &mut Vec<Action>) {
        let from = self.state;
        if from == to {
            return;
        }
        let (old_tx, old_rx) = (self.advertised_tx(), self.settings.min_rx);
        self.state = to;
        self.local_diag = diag;
        if to == State::Up {
            self.counters.up += 1;
        }
        if from == State::Up {
            self.counters.down += 1;
            // A poll ends with the session (RFC 5880 §6.5: only while Up).
            self.polling = false;
            self.repoll = false;
        }
        self.intervals_changed(old_tx, old_rx);
        out.push(Action::State { from, to, diag });
        // A state change is told at once rather than at the next periodic packet (RFC
        // 5880 §6.8.7 allows packets beyond the schedule); it speeds up the three-way
        // handshake, and a poll started by going Up goes out with it.
        self.send(false, now, out);
    }

    fn timers(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.detect_at.is_some_and(|t| t <= now) {
            self.detect_at = None;
            // Detection time passed without a packet (RFC 5880 §6.8.4): Down, diag 1,
            // and the peer's discriminator is forgotten (§6.8.1, bfd.RemoteDiscr).
            self.remote_discr = 0;
            self.remote_state = State::Down;
            self.remote_min_rx = Duration::from_micros(1);
            self.remote_demand = false;
            if matches!(self.state, State::Init | State::Up) {
                self.set_state(State::Down, Diag::DETECTION_TIME_EXPIRED, now, out);
            }
        }
        if self.next_tx.is_some_and(|t| t <= now) {
            self.send(false, now, out);
        }
    }

    /// Whether periodic packets go out now (RFC 5880 §6.8.7).
    fn may_send(&self) -> bool {
        if !self.started {
            return false;
        }
        // Passive: "MUST NOT begin sending ... until it has received a BFD packet".
        if self.settings.passive && self.remote_discr == 0 && self.state != State::AdminDown {
            return false;
        }
        // "MUST NOT periodically transmit ... if bfd.RemoteMinRxInterval is zero."
        if self.remote_min_rx.is_zero() {
            return false;
        }
        // The peer in demand mode, both Up and no poll: periodic packets stop.
        !(self.remote_demand
            && self.state == State::Up
            && self.remote_state == State::Up
            && !self.polling)
    }

    /// Sends a packet now if one may go (an answer with F always may) and schedules the
    /// next periodic one with jitter.
    fn send(&mut self, final_: bool, now: Instant, out: &mut Vec<Action>) {
        if final_ || self.may_send() {
            let c = Control {
                diag: self.local_diag,
                state: self.state,
                // "A system MUST NOT set both the Poll and Final bits" (§6.8.7).
                poll: self.polling && !final_,
                final_,
                cpi: false,
                demand: false,
                detect_mult: self.settings.multiplier,
                my_discriminator: self.local_discr,
                your_discriminator: self.remote_discr,
                desired_min_tx: micros(self.advertised_tx()),
                required_min_rx: micros(self.settings.min_rx),
                required_min_echo_rx: 0,
            };
            self.counters.sent += 1;
            out.push(Action::Send(c.emit()));
        }
        self.schedule(now);
    }

    fn schedule(&mut self, now: Instant) {
        self.next_tx = if self.may_send() {
            Some(now + self.jittered(self.tx_interval()))
        } else {
            None
        };
    }

    /// 75–100 % of the interval, 75–90 % with a Detect Mult of 1 (RFC 5880 §6.8.7).
    fn jittered(&mut self, interval: Duration) -> Duration {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let (low, high): (u32, u32) = if self.settings.multiplier == 1 {
            (75, 90)
        } else {
            (75, 100)
        };
        let percent = low + (self.rng % u64::from(high - low + 1)) as u32;
        interval * percent / 100
    }

    fn drop(&mut self, why: Drop, out: &mut Vec<Action>) {
        self.counters.dropped[why as usize] += 1;
        out.push(Action::Dropped(why));
    }

    /// Reception, RFC 5880 §6.8.6.
    fn received(&mut self, bytes: &[u8], ttl: u8, now: Instant, out: &mut Vec<Action>) {
        if ttl != crate::TTL {
            return self.drop(Drop::Ttl, out);
        }
        let c = match Control::parse(bytes) {
            Ok(c) => c,
            Err(why) => return self.drop(why, out),
        };
        if c.your_discriminator != 0 && c.your_discriminator != self.local_discr {
            return self.drop(Drop::UnknownDiscriminator, out);
        }
        if self.state == State::AdminDown {
            return self.drop(Drop::AdminDown, out);
        }
        self.counters.received += 1;
        let first = self.remote_discr == 0;
        self.remote_discr = c.my_discriminator;
        self.remote_state = c.state;
        self.remote_demand = c.demand;
        self.remote_mult = c.detect_mult;
        self.remote_min_tx = from_micros(c.desired_min_tx);
        let old_interval = self.tx_interval();
        // Required Min Echo RX is not looked at: we run no echo function.
        self.remote_min_rx = from_micros(c.required_min_rx);
        if c.final_ && self.polling {
            // The poll sequence ends (§6.5): the advertised values are in force.
            self.polling = false;
            self.tx_used = self.advertised_tx();
            self.rx_used = self.settings.min_rx;
            if std::mem::take(&mut self.repoll) {
                self.polling = true;
                self.counters.polls += 1;
            }
        }
        // The state machine (§6.8.6, the figure of §6.2).
        let before = self.state;
        if c.state == State::AdminDown {
            if self.state != State::Down {
                self.set_state(State::Down, Diag::NEIGHBOR_SIGNALED_DOWN, now, out);
            }
        } else {
            match (self.state, c.state) {
                (State::Down, State::Down) => self.set_state(State::Init, Diag::NONE, now, out),
                (State::Down, State::Init) => self.set_state(State::Up, Diag::NONE, now, out),
                (State::Init, State::Init | State::Up) => {
                    self.set_state(State::Up, Diag::NONE, now, out)
                }
                (State::Up, State::Down) => {
                    self.set_state(State::Down, Diag::NEIGHBOR_SIGNALED_DOWN, now, out)
                }
                _ => {}
            }
        }
        // The detection timer restarts with every packet, while it matters.
        self.detect_at =
            matches!(self.state, State::Init | State::Up).then(|| now + self.detection_time());
        if c.poll {
            // "MUST transmit a BFD Control packet with the Poll (P) bit clear and the
            // Final (F) bit set as soon as practicable, without respect to the
            // transmission timer" (§6.8.7).
            self.send(true, now, out);
        } else if self.state == before
            && (first || self.next_tx.is_none() || self.tx_interval() < old_interval)
        {
            // A passive session's first packet, or the peer asks for packets sooner
            // than the one scheduled: the schedule follows at once.
            let sooner = now + self.tx_interval();
            if self.next_tx.is_none_or(|t| t > sooner) {
                if first && self.next_tx.is_none() {
                    self.send(false, now, out);
                } else {
                    self.schedule(now);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
