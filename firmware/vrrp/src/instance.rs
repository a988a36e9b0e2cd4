//! One virtual router, RFC 5798 §6 with keepalived's extensions, as a pure state machine:
//! `handle(event, now) -> actions`, and `next_deadline()` for the shell's timer. It never
//! reads a clock or a socket, so every timing rule is testable to the microsecond.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::packet::{Auth, Repr, Version};

/// The priority of the router that owns the virtual addresses (RFC 5798 §6.1).
pub const OWNER_PRIORITY: u8 = 255;
/// Priority 0: the master is leaving (RFC 5798 §6.4.3).
pub const STOP_PRIORITY: u8 = 0;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub version: Version,
    pub vrid: u8,
    pub priority: u8,
    pub advert_int: Duration,
    /// keepalived's `nopreempt` sets this false (RFC 5798 §6.1 Preempt_Mode).
    pub preempt: bool,
    /// keepalived's `preempt_delay`: after start-up, a lower-priority master is tolerated
    /// this long before being preempted.
    pub preempt_delay: Duration,
    /// The addresses the advertisements carry (keepalived: `virtual_ipaddress`).
    pub addresses: Vec<IpAddr>,
    /// Our own primary address on the instance's interface, the tie-breaker of §6.4.3.
    pub primary_ip: IpAddr,
    pub auth: Auth,
    /// keepalived's `vrrp_skip_check_adv_addr`: accept adverts whose address list differs.
    pub skip_check_adv_addr: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Initialize,
    Backup,
    Master,
    /// keepalived: a tracked interface is down; the instance neither claims nor backs up.
    Fault,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    Startup,
    Shutdown,
    /// The deadline from [`Instance::next_deadline`] has come.
    Timer,
    Advert {
        src: IpAddr,
        /// IPv4 TTL or IPv6 hop limit as received.
        ttl: u8,
        advert: &'a Repr,
    },
    /// A tracked interface went down (true) or came back (false).
    Fault(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send an advertisement with this priority.
    Send {
        priority: u8,
    },
    /// Configure the virtual addresses.
    AddAddresses,
    RemoveAddresses,
    /// Gratuitous ARP / unsolicited neighbour advertisements for the virtual addresses.
    Announce,
    Transition {
        from: State,
        to: State,
    },
}

/// Why an advertisement was dropped (RFC 5798 §7.1), one counter each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DropCounters {
    pub ttl: u64,
    pub version: u64,
    pub vrid: u64,
    pub auth: u64,
    pub interval: u64,
    pub addresses: u64,
}

#[derive(Debug, Clone)]
pub struct Instance {
    settings: Settings,
    state: State,
    /// Learned from the master's advertisements in v3 (§6.4.2); our own otherwise.
    master_adver_interval: Duration,
    master_down_at: Option<Instant>,
    adver_at: Option<Instant>,
    /// Before this, a lower-priority master is not preempted (preempt_delay).
    preempt_after: Option<Instant>,
    master_ip: Option<IpAddr>,
    since: Option<Instant>,
    pub drops: DropCounters,
    pub adverts_received: u64,
    pub adverts_sent: u64,
    pub became_master: u64,
}

impl Instance {
    pub fn new(settings: Settings) -> Instance {
        Instance {
            master_adver_interval: settings.advert_int,
            settings,
            state: State::Initialize,
            master_down_at: None,
            adver_at: None,
            preempt_after: None,
            master_ip: None,
            since: None,
            drops: DropCounters::default(),
            adverts_received: 0,
            adverts_sent: 0,
            became_master: 0,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The current master's address, when known (ours when we are master).
    pub fn master_ip(&self) -> Option<IpAddr> {
        self.master_ip
    }

    /// When the current state was entered.
    pub fn since(&self) -> Option<Instant> {
        self.since
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        match self.state {
            State::Backup => self.master_down_at,
            State::Master => self.adver_at,
            State::Initialize | State::Fault => None,
        }
    }

    /// Skew_Time: v3 ((256 − Priority) × Master_Adver_Interval) / 256 (RFC 5798 §6.1);
    /// v2 (256 − Priority) / 256 s (RFC 3768 §6.1). In nanoseconds, so that it never
    /// rounds to zero at high priorities or short intervals.
    pub fn skew_time(&self) -> Duration {
        let unit = match self.settings.version {
            Version::V3 => self.master_adver_interval,
            Version::V2 => Duration::from_secs(1),
        };
        let nanos = u128::from(256 - u32::from(self.settings.priority)) * unit.as_nanos() / 256;
        Duration::from_nanos(nanos as u64)
    }

    /// Master_Down_Interval = 3 × Master_Adver_Interval + Skew_Time (RFC 5798 §6.1).
    pub fn master_down_interval(&self) -> Duration {
        3 * self.master_adver_interval + self.skew_time()
    }

    pub fn handle(&mut self, event: Event<'_>, now: Instant) -> Vec<Action> {
        let mut actions = Vec::new();
        match (self.state, event) {
            (State::Initialize, Event::Startup) => self.start(now, &mut actions),
            (State::Fault, Event::Fault(false)) => self.start(now, &mut actions),
            (_, Event::Fault(true)) => {
                self.leave_master(&mut actions);
                self.enter(State::Fault, now, &mut actions);
            }
            (State::Master, Event::Shutdown) => {
                // §6.4.3: stop the timer, send priority 0, leave.
                self.leave_master(&mut actions);
                self.enter(State::Initialize, now, &mut actions);
            }
            (_, Event::Shutdown) => self.enter(State::Initialize, now, &mut actions),
            (State::Backup, Event::Timer) if self.master_down_at.is_some_and(|t| t <= now) => {
                self.become_master(now, &mut actions)
            }
            (State::Master, Event::Timer) if self.adver_at.is_some_and(|t| t <= now) => {
                self.send_advert(self.settings.priority, now, &mut actions)
            }
            (State::Backup | State::Master, Event::Advert { src, ttl, advert })
                if self.accept(ttl, advert) =>
            {
                self.adverts_received += 1;
                self.on_advert(src, advert, now, &mut actions);
            }
            _ => {}
        }
        actions
    }

    /// §6.4.1: the owner becomes master at once; everyone else waits as backup.
    fn start(&mut self, now: Instant, actions: &mut Vec<Action>) {
        self.master_adver_interval = self.settings.advert_int;
        self.preempt_after = Some(now + self.settings.preempt_delay);
        if self.settings.priority == OWNER_PRIORITY {
            self.become_master(now, actions);
        } else {
            self.master_down_at = Some(now + self.master_down_interval());
            self.master_ip = None;
            self.enter(State::Backup, now, actions);
        }
    }

    fn become_master(&mut self, now: Instant, actions: &mut Vec<Action>) {
        self.master_down_at = None;
        self.master_ip = Some(self.settings.primary_ip);
        self.became_master += 1;
        actions.push(Action::AddAddresses);
        self.send_advert(self.settings.priority, now, actions);
        actions.push(Action::Announce);
        self.enter(State::Master, now, actions);
    }

    fn leave_master(&mut self, actions: &mut Vec<Action>) {
        if self.state == State::Master {
            self.adver_at = None;
            actions.push(Action::Send {
                priority: STOP_PRIORITY,
            });
            self.adverts_sent += 1;
            actions.push(Action::RemoveAddresses);
        }
        self.master_down_at = None;
    }

    fn send_advert(&mut self, priority: u8, now: Instant, actions: &mut Vec<Action>) {
        actions.push(Action::Send { priority });
        self.adverts_sent += 1;
        self.adver_at = Some(now + self.settings.advert_int);
    }

    fn enter(&mut self, to: State, now: Instant, actions: &mut Vec<Action>) {
        if to != self.state {
            actions.push(Action::Transition {
                from: self.state,
                to,
            });
            self.state = to;
            self.since = Some(now);
        }
    }

    /// The receive checks of RFC 5798 §7.1 that depend on the instance's settings; the
    /// packet checks (length, version field, checksum) were done by [`Repr::parse`].
    fn accept(&mut self, ttl: u8, advert: &Repr) -> bool {
        let s = &self.settings;
        let drop = if ttl != 255 {
            &mut self.drops.ttl
        } else if advert.version != s.version {
            &mut self.drops.version
        } else if advert.vrid != s.vrid {
            &mut self.drops.vrid
        } else if s.version == Version::V2 && advert.auth != s.auth {
            &mut self.drops.auth
        } else if s.version == Version::V2 && advert.advert_int_cs != centiseconds(s.advert_int) {
            // RFC 3768 §7.1: a v2 router MUST discard an advert with another interval.
            &mut self.drops.interval
        } else if !s.skip_check_adv_addr && !same_addresses(&advert.addresses, &s.addresses) {
            &mut self.drops.addresses
        } else {
            return true;
        };
        *drop += 1;
        false
    }

    fn on_advert(&mut self, src: IpAddr, advert: &Repr, now: Instant, actions: &mut Vec<Action>) {
        let ours = self.settings.priority;
        match self.state {
            State::Backup => {
                if advert.priority == STOP_PRIORITY {
                    // §6.4.2: the master is leaving; take over after Skew_Time.
                    self.master_down_at = Some(now + self.skew_time());
                } else if !self.preempting(now) || advert.priority >= ours {
                    self.learn_interval(advert);
                    self.master_ip = Some(src);
                    self.master_down_at = Some(now + self.master_down_interval());
                }
                // else: preempt a lower-priority master by letting the timer run out.
            }
            State::Master => {
                if advert.priority == STOP_PRIORITY {
                    self.send_advert(ours, now, actions);
                } else if advert.priority > ours
                    || (advert.priority == ours && src > self.settings.primary_ip)
                {
                    // §6.4.3: a better master exists; step down.
                    self.adver_at = None;
                    self.learn_interval(advert);
                    self.master_ip = Some(src);
                    self.master_down_at = Some(now + self.master_down_interval());
                    actions.push(Action::RemoveAddresses);
                    self.enter(State::Backup, now, actions);
                }
            }
            State::Initialize | State::Fault => {}
        }
    }

    fn preempting(&self, now: Instant) -> bool {
        self.settings.preempt && self.preempt_after.is_none_or(|t| t <= now)
    }

    /// v3 backups follow the master's interval (RFC 5798 §6.4.2); v2 intervals must match.
    fn learn_interval(&mut self, advert: &Repr) {
        if self.settings.version == Version::V3 && advert.advert_int_cs > 0 {
            self.master_adver_interval =
                Duration::from_millis(u64::from(advert.advert_int_cs) * 10);
        }
    }
}

fn centiseconds(d: Duration) -> u16 {
    (d.as_millis() / 10).min(u128::from(u16::MAX)) as u16
}

fn same_addresses(a: &[IpAddr], b: &[IpAddr]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort();
    b.sort();
    a == b
}

#[cfg(test)]
mod tests;
