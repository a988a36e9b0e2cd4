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
    /// The configured (base) priority; tracked interfaces and scripts move the effective
    /// one ([`Event::Priority`]).
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
    /// keepalived's `skip_check_adv_addr`: an advert from the master we already follow
    /// is not checked against our address list again (one from another router still is).
    pub skip_check_adv_addr: bool,
    /// keepalived's `unicast_peer`; empty means multicast. Unicast adverts may cross a
    /// router (`unicast_ttl`), so keepalived does not require TTL 255 of them.
    pub unicast_peers: Vec<IpAddr>,
    /// keepalived's `check_unicast_src`: a unicast advert from an address that is not a
    /// unicast peer is dropped and counted.
    pub check_unicast_src: bool,
    /// keepalived's `lower_prio_no_advert`: a master does not answer a lower-priority
    /// advert with one of its own (RFC 5798 §6.4.3 discards it silently).
    pub lower_prio_no_advert: bool,
    /// keepalived's `higher_prio_send_advert`: a master that steps down for a higher
    /// priority sends one more advert first, so that the new master hears of it.
    pub higher_prio_send_advert: bool,
    /// keepalived's `down_timer_adverts`: adverts missed before a backup takes over, the
    /// 3 of RFC 5798 §6.1's Master_Down_Interval.
    pub down_timer_adverts: u32,
}

impl Settings {
    /// An instance with RFC 5798's and keepalived's defaults for everything but these.
    pub fn new(version: Version, vrid: u8, priority: u8, primary_ip: IpAddr) -> Settings {
        Settings {
            version,
            vrid,
            priority,
            advert_int: Duration::from_secs(1),
            preempt: true,
            preempt_delay: Duration::ZERO,
            addresses: Vec::new(),
            primary_ip,
            auth: Auth::None,
            skip_check_adv_addr: false,
            unicast_peers: Vec::new(),
            check_unicast_src: false,
            lower_prio_no_advert: false,
            higher_prio_send_advert: false,
            down_timer_adverts: DOWN_TIMER_ADVERTS,
        }
    }
}

/// Adverts a backup misses before it takes over (RFC 5798 §6.1).
pub const DOWN_TIMER_ADVERTS: u32 = 3;

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
        /// With keepalived's AH: the sequence number of a datagram whose ICV verified.
        ah_seq: Option<u32>,
    },
    /// A packet for this instance that failed a check before it could be parsed into an
    /// advertisement; it changes nothing and is counted (RFC 5798 §7.1).
    Invalid(Invalid),
    /// A tracked interface went down (true) or came back (false).
    Fault(bool),
    /// keepalived's sync group moves this member to the group's new state: MASTER
    /// with the others, BACKUP (leaving mastership without a priority-0 advert) or FAULT
    /// (with one, as for a fault of its own); see [`crate::SyncGroup`].
    Sync(State),
    /// The effective priority changed (keepalived's weighted track_interface and
    /// track_script). A master's next advert carries it; a backup's master-down timer
    /// moves by the change of its Skew_Time, as keepalived moves it.
    Priority(u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send an advertisement with this priority; with AH, under this sequence number.
    Send {
        priority: u8,
        ah_seq: Option<u32>,
    },
    /// Configure the virtual addresses.
    AddAddresses,
    RemoveAddresses,
    /// Gratuitous ARP / unsolicited neighbour advertisements for the virtual addresses.
    Announce,
    /// A master heard a lower priority: keepalived announces its addresses again
    /// (`garp_lower_prio_repeat` now and after `garp_lower_prio_delay`), so that hosts
    /// the lower router misled come back.
    AnnounceLowerPriority,
    Transition {
        from: State,
        to: State,
    },
}

/// Packet-level failures the shell finds before there is an advertisement to judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    /// Shorter than its header or its address count (§7.1: "all included fields").
    Length,
    /// A version other than 2 or 3 in the version field (§7.1 item 2).
    Version,
    /// Not an ADVERTISEMENT (§5.2.2).
    Type,
    /// The VRRP checksum does not verify (§7.1 item 3).
    Checksum,
    /// keepalived's AH: the ICV or SPI does not verify (RFC 3768 §7.1 authentication).
    Auth,
    /// A VRID that no instance on the receiving interface runs (§7.1 item 4).
    Vrid,
}

/// Why an advertisement was dropped (RFC 5798 §7.1, RFC 3768 §7.1), one counter each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DropCounters {
    pub ttl: u64,
    pub version: u64,
    pub vrid: u64,
    pub auth: u64,
    pub interval: u64,
    pub addresses: u64,
    pub length: u64,
    pub checksum: u64,
    pub kind: u64,
    /// keepalived's `check_unicast_src`: from an address that is not a unicast peer.
    pub unicast_src: u64,
}

impl From<DropCounters> for status::Drops {
    fn from(d: DropCounters) -> status::Drops {
        status::Drops {
            ttl: d.ttl,
            version: d.version,
            vrid: d.vrid,
            auth: d.auth,
            interval: d.interval,
            addresses: d.addresses,
            length: d.length,
            checksum: d.checksum,
            kind: d.kind,
            unicast_src: d.unicast_src,
        }
    }
}

impl From<State> for status::VrrpState {
    fn from(s: State) -> status::VrrpState {
        match s {
            State::Initialize => status::VrrpState::Init,
            State::Backup => status::VrrpState::Backup,
            State::Master => status::VrrpState::Master,
            State::Fault => status::VrrpState::Fault,
        }
    }
}

impl DropCounters {
    pub fn total(&self) -> u64 {
        self.ttl
            + self.version
            + self.vrid
            + self.auth
            + self.interval
            + self.addresses
            + self.length
            + self.checksum
            + self.kind
            + self.unicast_src
    }
}

#[derive(Debug, Clone)]
pub struct Instance {
    settings: Settings,
    /// The priority advertised and compared: the base one moved by tracking.
    priority: u8,
    /// keepalived's `vrrp_startup_delay`: no backup takes over before this.
    start_not_before: Option<Instant>,
    state: State,
    /// Learned from the master's advertisements in v3 (§6.4.2); our own otherwise.
    master_adver_interval: Duration,
    master_down_at: Option<Instant>,
    adver_at: Option<Instant>,
    /// Before this, a lower-priority master is not preempted (preempt_delay).
    preempt_after: Option<Instant>,
    master_ip: Option<IpAddr>,
    since: Option<Instant>,
    /// keepalived's one AH counter per instance: the last sequence number sent or
    /// accepted. A received number must be above it (the replay check).
    ah_seq: u32,
    /// In a sync group: our master-down timer ran out, but the group held us back
    /// until every member is ready (keepalived's `wantstate` MASTER).
    wants_master: bool,
    pub drops: DropCounters,
    pub adverts_received: u64,
    pub adverts_sent: u64,
    pub became_master: u64,
}

impl Instance {
    pub fn new(settings: Settings) -> Instance {
        Instance {
            master_adver_interval: settings.advert_int,
            priority: settings.priority,
            start_not_before: None,
            settings,
            state: State::Initialize,
            master_down_at: None,
            adver_at: None,
            preempt_after: None,
            master_ip: None,
            since: None,
            ah_seq: 0,
            wants_master: false,
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

    /// The effective priority: what the adverts carry.
    pub fn priority(&self) -> u8 {
        self.priority
    }

    /// keepalived's `vrrp_startup_delay`: until `at` this instance does not become
    /// master, whatever its master-down timer says (the address owner included); adverts
    /// heard meanwhile are followed as usual. Set before [`Event::Startup`].
    pub fn delay_start(&mut self, at: Instant) {
        self.start_not_before = Some(at);
    }

    /// The current master's address, when known (ours when we are master).
    pub fn master_ip(&self) -> Option<IpAddr> {
        self.master_ip
    }

    /// When the current state was entered.
    pub fn since(&self) -> Option<Instant> {
        self.since
    }

    /// In a sync group: our master-down timer ran out and we wait for the others.
    pub fn wants_master(&self) -> bool {
        self.wants_master
    }

    /// A backup whose master-down timer has run out: the next Timer makes it master.
    pub fn master_down_due(&self, now: Instant) -> bool {
        self.state == State::Backup && self.master_down_at.is_some_and(|t| t <= now)
    }

    /// A sync group holds this member back: it wants MASTER, but not every member does
    /// yet. keepalived re-arms the master-down timer and waits as backup.
    pub fn defer_takeover(&mut self, now: Instant) {
        self.wants_master = true;
        self.master_down_at = Some(now + self.master_down_interval());
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
        let nanos = u128::from(256 - u32::from(self.priority)) * unit.as_nanos() / 256;
        Duration::from_nanos(nanos as u64)
    }

    /// Master_Down_Interval = 3 × Master_Adver_Interval + Skew_Time (RFC 5798 §6.1); the
    /// 3 is keepalived's `down_timer_adverts`.
    pub fn master_down_interval(&self) -> Duration {
        self.settings.down_timer_adverts * self.master_adver_interval + self.skew_time()
    }

    /// A backup's master-down deadline `wait` from now, or from the end of the startup
    /// delay while it lasts (keepalived's vrrp_init_instance_sands).
    fn down_at(&self, now: Instant, wait: Duration) -> Option<Instant> {
        let from = self.start_not_before.filter(|t| *t > now).unwrap_or(now);
        Some(from + wait)
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
                self.send_advert(self.priority, now, &mut actions)
            }
            (
                State::Backup | State::Master,
                Event::Advert {
                    src,
                    ttl,
                    advert,
                    ah_seq,
                },
            ) if self.accept(src, ttl, advert, ah_seq) => {
                self.adverts_received += 1;
                self.on_advert(src, advert, ah_seq, now, &mut actions);
            }
            (State::Backup, Event::Sync(State::Master)) => self.become_master(now, &mut actions),
            (State::Master, Event::Sync(State::Backup)) => {
                self.adver_at = None;
                self.master_down_at = self.down_at(now, self.master_down_interval());
                actions.push(Action::RemoveAddresses);
                self.enter(State::Backup, now, &mut actions);
            }
            (State::Fault, Event::Sync(State::Backup)) => self.start(now, &mut actions),
            (State::Master | State::Backup, Event::Sync(State::Fault)) => {
                self.leave_master(&mut actions);
                self.enter(State::Fault, now, &mut actions);
            }
            (_, Event::Priority(priority)) => self.set_priority(priority, now),
            (_, Event::Invalid(why)) => {
                let counter = match why {
                    Invalid::Length => &mut self.drops.length,
                    Invalid::Version => &mut self.drops.version,
                    Invalid::Type => &mut self.drops.kind,
                    Invalid::Checksum => &mut self.drops.checksum,
                    Invalid::Auth => &mut self.drops.auth,
                    Invalid::Vrid => &mut self.drops.vrid,
                };
                *counter += 1;
            }
            _ => {}
        }
        actions
    }

    /// §6.4.1: the owner becomes master at once; everyone else waits as backup. During
    /// keepalived's startup delay the owner waits too, as a backup whose timer ends
    /// with the delay.
    fn start(&mut self, now: Instant, actions: &mut Vec<Action>) {
        self.master_adver_interval = self.settings.advert_int;
        self.preempt_after = Some(now + self.settings.preempt_delay);
        let delayed = self.start_not_before.is_some_and(|t| t > now);
        if self.priority == OWNER_PRIORITY && !delayed {
            self.become_master(now, actions);
        } else {
            let wait = if self.priority == OWNER_PRIORITY {
                Duration::ZERO
            } else {
                self.master_down_interval()
            };
            self.master_down_at = self.down_at(now, wait);
            self.master_ip = None;
            self.enter(State::Backup, now, actions);
        }
    }

    /// keepalived's vrrp_set_effective_priority: a backup's timer moves by the change of
    /// its master-down interval (Skew_Time depends on the priority).
    fn set_priority(&mut self, priority: u8, now: Instant) {
        if priority == self.priority {
            return;
        }
        let before = self.master_down_interval();
        self.priority = priority;
        let after = self.master_down_interval();
        if self.state == State::Backup {
            if let Some(at) = self.master_down_at {
                let moved = (at + after).checked_sub(before).unwrap_or(now);
                self.master_down_at = Some(moved);
            }
        }
    }

    fn become_master(&mut self, now: Instant, actions: &mut Vec<Action>) {
        self.master_down_at = None;
        self.wants_master = false;
        self.master_ip = Some(self.settings.primary_ip);
        self.became_master += 1;
        actions.push(Action::AddAddresses);
        self.send_advert(self.priority, now, actions);
        actions.push(Action::Announce);
        self.enter(State::Master, now, actions);
    }

    fn leave_master(&mut self, actions: &mut Vec<Action>) {
        if self.state == State::Master {
            self.adver_at = None;
            let ah_seq = self.next_ah_seq();
            actions.push(Action::Send {
                priority: STOP_PRIORITY,
                ah_seq,
            });
            self.adverts_sent += 1;
            actions.push(Action::RemoveAddresses);
        }
        self.master_down_at = None;
        self.wants_master = false;
    }

    fn send_advert(&mut self, priority: u8, now: Instant, actions: &mut Vec<Action>) {
        let ah_seq = self.next_ah_seq();
        actions.push(Action::Send { priority, ah_seq });
        self.adverts_sent += 1;
        self.adver_at = Some(now + self.settings.advert_int);
    }

    fn enter(&mut self, to: State, now: Instant, actions: &mut Vec<Action>) {
        if to != State::Backup {
            self.wants_master = false;
        }
        if to != self.state {
            actions.push(Action::Transition {
                from: self.state,
                to,
            });
            self.state = to;
            self.since = Some(now);
        }
    }

    /// The sequence number of the next AH advertisement; `None` without AH. keepalived
    /// stops at 0xFFFFFFFD (136 years of one-second adverts); so do we.
    fn next_ah_seq(&mut self) -> Option<u32> {
        if self.settings.auth != Auth::Ah {
            return None;
        }
        self.ah_seq = self.ah_seq.saturating_add(1).min(0xffff_fffd);
        Some(self.ah_seq)
    }

    fn on_advert(
        &mut self,
        src: IpAddr,
        advert: &Repr,
        _ah_seq: Option<u32>,
        now: Instant,
        actions: &mut Vec<Action>,
    ) {
        let ours = self.priority;
        let s = &self.settings;
        // §6.4.3's tie-break: the higher primary address wins an equal priority.
        let higher = advert.priority > ours || (advert.priority == ours && src > s.primary_ip);
        let lower = advert.priority < ours || (advert.priority == ours && src < s.primary_ip);
        match self.state {
            State::Backup => {
                if advert.priority == STOP_PRIORITY {
                    // §6.4.2: the master is leaving; take over after Skew_Time.
                    self.master_down_at = self.down_at(now, self.skew_time());
                } else if !self.preempting(now) || advert.priority >= ours {
                    self.learn_interval(advert);
                    self.master_ip = Some(src);
                    self.master_down_at = self.down_at(now, self.master_down_interval());
                    self.wants_master = false;
                }
                // else: preempt a lower-priority master by letting the timer run out.
            }
            State::Master if advert.priority == STOP_PRIORITY => {
                self.send_advert(ours, now, actions);
            }
            State::Master if lower => {
                // RFC 5798 §6.4.3 discards this; keepalived answers a lower master at
                // once ("forcing new election") so that a split brain ends within one
                // round trip, unless lower_prio_no_advert. Either way it announces its
                // addresses again (garp_lower_prio_repeat). (With AH, accept() already
                // moved our counter past theirs.)
                if !s.lower_prio_no_advert {
                    self.send_advert(ours, now, actions);
                }
                actions.push(Action::AnnounceLowerPriority);
            }
            State::Master if higher => {
                if s.higher_prio_send_advert {
                    self.send_advert(ours, now, actions);
                }
                // §6.4.3: a better master exists; step down.
                self.adver_at = None;
                self.learn_interval(advert);
                self.master_ip = Some(src);
                self.master_down_at = self.down_at(now, self.master_down_interval());
                actions.push(Action::RemoveAddresses);
                self.enter(State::Backup, now, actions);
            }
            State::Master | State::Initialize | State::Fault => {}
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

mod receive;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_keepalived;
