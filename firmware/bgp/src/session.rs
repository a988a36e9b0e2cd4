//! One BGP session, RFC 4271 §8, as a pure state machine: `handle(event, now) ->
//! actions`, and `next_deadline()` for the shell's timer. It never reads a clock or a
//! socket, so every timer rule is testable with a simulated clock.
//!
//! The speaker only ever opens the connection (it never listens on port 179): the FSM
//! passes through Connect and Active as RFC 4271 §8.2.2 says, but with one connection at
//! a time there is never a second one to resolve, so connection collision detection
//! (RFC 4271 §6.8) has nothing to do and is left out.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use crate::notify::{self, Notification};
use crate::wire::update;
use crate::wire::{self, Open, Prefix, WireError, AFI_IPV4, AFI_IPV6, MAX_MESSAGE, SAFI_UNICAST};

mod open;
mod routes;

/// The hold timer in OpenSent: "a large value", 4 minutes suggested (RFC 4271 §8.2.2).
pub const OPEN_SENT_HOLD: Duration = Duration::from_secs(240);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub local_as: u32,
    pub remote_as: u32,
    pub router_id: Ipv4Addr,
    /// The hold time we offer, 0 or at least 3 s; 90 s by default (RFC 4271 §10).
    pub hold_time: u16,
    /// Seconds between KEEPALIVEs; by default a third of the negotiated hold time
    /// (RFC 4271 §4.4, §10). Never more than that third.
    pub keepalive: Option<u16>,
    /// ConnectRetryTime, 120 s by default (RFC 4271 §10).
    pub connect_retry: Duration,
    /// How long the session rests in Idle after an error before it starts again by
    /// itself (RFC 4271 §8.1.1's IdleHoldTimer, which damps a peer that keeps failing).
    pub idle_hold: Duration,
    /// Our address on the session: the NEXT_HOP of what we announce (RFC 4271 §5.1.3).
    pub local_addr: IpAddr,
    /// The next hop of IPv6 routes when the session runs over IPv4 (RFC 4760 §3).
    pub next_hop_v6: Option<Ipv6Addr>,
    /// LOCAL_PREF for an internal peer (RFC 4271 §5.1.5); 100 as in FRR and BIRD.
    pub local_pref: u32,
    /// Before a withdraw, re-announce the route with GRACEFUL_SHUTDOWN (RFC 8326 §4) and
    /// withdraw it this much later; zero withdraws at once.
    pub graceful_shutdown: Duration,
}

impl Settings {
    pub fn new(local_as: u32, remote_as: u32, router_id: Ipv4Addr, local_addr: IpAddr) -> Settings {
        Settings {
            local_as,
            remote_as,
            router_id,
            hold_time: 90,
            keepalive: None,
            connect_retry: Duration::from_secs(120),
            idle_hold: Duration::from_secs(5),
            local_addr,
            next_hop_v6: None,
            local_pref: 100,
            graceful_shutdown: Duration::ZERO,
        }
    }

    /// iBGP when both ends are in one AS (RFC 4271 §1.1, "internal peer").
    pub fn internal(&self) -> bool {
        self.local_as == self.remote_as
    }
}

/// The session states of RFC 4271 §8.2.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Idle,
    Connect,
    Active,
    OpenSent,
    OpenConfirm,
    Established,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// ManualStart (RFC 4271 §8.1.2, Event 1).
    Start,
    /// ManualStop (Event 2): Cease/Administrative Shutdown to an open session.
    Stop,
    /// The deadline from [`Session::next_deadline`] has come.
    Timer,
    /// The TCP connection we asked for is up (Event 16/17).
    Connected,
    /// The TCP connection failed or was closed (Event 18).
    Closed,
    /// Bytes read from the connection, as many as one read gave (taken a message's
    /// worth at a time, so the session never buffers more than two messages).
    Received(&'a [u8]),
    /// Announce this prefix (again, without GRACEFUL_SHUTDOWN if it was draining).
    Announce(Prefix),
    /// Withdraw this prefix, after the graceful-shutdown wait if one is set.
    Withdraw(Prefix),
    /// The BFD session to the peer went down after having been up: the session is
    /// reset at once (RFC 5882 §4.3), with Cease/BFD Down (RFC 9384) in case the path
    /// still carries it, and starts again after the idle hold time.
    BfdDown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Open a TCP connection to the peer's port 179.
    Connect,
    /// Write these bytes (one message) to the connection.
    Send(Vec<u8>),
    /// Close the connection, after writing what was sent before.
    Disconnect,
    State {
        from: State,
        to: State,
    },
    /// We sent this NOTIFICATION; the text says what was wrong.
    NotificationSent(Notification, String),
    NotificationReceived(Notification),
    /// Something worth a log line that changes nothing (a route discarded, a family the
    /// peer did not offer).
    Note(String),
}

/// What the session's OPEN exchange settled (RFC 4271 §4.2, RFC 4760 §8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    pub peer_id: Ipv4Addr,
    /// Zero: neither hold timer nor KEEPALIVEs (RFC 4271 §4.4).
    pub hold_time: u16,
    pub keepalive: u16,
    pub ipv4: bool,
    pub ipv6: bool,
    /// The peer has the 4-octet AS capability (RFC 6793 §2): a NEW speaker.
    pub four_octet_as: bool,
}

/// Counts for the status page; received routes are counted, never kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub updates_received: u64,
    pub prefixes_received: u64,
    pub withdrawals_received: u64,
    pub treated_as_withdraw: u64,
    pub updates_sent: u64,
    pub notifications_sent: u64,
    pub notifications_received: u64,
    pub established: u64,
}

pub struct Session {
    settings: Settings,
    state: State,
    /// Started by hand and not stopped: an error's Idle restarts after `idle_hold`.
    started: bool,
    connect_retry_at: Option<Instant>,
    hold_at: Option<Instant>,
    keepalive_at: Option<Instant>,
    idle_until: Option<Instant>,
    /// Bytes of a message not yet complete: less than one message plus one read.
    rx: Vec<u8>,
    negotiated: Option<Negotiated>,
    established_at: Option<Instant>,
    /// What we want the peer to have.
    desired: BTreeSet<Prefix>,
    /// What the peer has from us in this session; true while tagged GRACEFUL_SHUTDOWN.
    sent: BTreeMap<Prefix, bool>,
    /// Prefixes tagged GRACEFUL_SHUTDOWN, withdrawn at their instant.
    draining: BTreeMap<Prefix, Instant>,
    counters: Counters,
}

impl Session {
    pub fn new(settings: Settings) -> Session {
        Session {
            settings,
            state: State::Idle,
            started: false,
            connect_retry_at: None,
            hold_at: None,
            keepalive_at: None,
            idle_until: None,
            rx: Vec::new(),
            negotiated: None,
            established_at: None,
            desired: BTreeSet::new(),
            sent: BTreeMap::new(),
            draining: BTreeMap::new(),
            counters: Counters::default(),
        }
    }

    pub fn state(&self) -> State {
        self.state
    }
    pub fn settings(&self) -> &Settings {
        &self.settings
    }
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_ref()
    }
    pub fn established_at(&self) -> Option<Instant> {
        self.established_at
    }
    pub fn counters(&self) -> Counters {
        self.counters
    }
    /// The prefixes the peer has from us now, and whether each is tagged GRACEFUL_SHUTDOWN.
    pub fn advertised(&self) -> impl Iterator<Item = (&Prefix, &bool)> {
        self.sent.iter()
    }

    /// When the shell must deliver [`Event::Timer`] next.
    pub fn next_deadline(&self) -> Option<Instant> {
        [
            self.connect_retry_at,
            self.hold_at,
            self.keepalive_at,
            self.idle_until,
            self.draining.values().min().copied(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn handle(&mut self, event: Event<'_>, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        match event {
            Event::Start => {
                self.started = true;
                if self.state == State::Idle {
                    self.start(now, &mut out);
                }
            }
            Event::Stop => {
                self.started = false;
                self.idle_until = None;
                if matches!(
                    self.state,
                    State::OpenSent | State::OpenConfirm | State::Established
                ) {
                    let n = Notification::new(notify::CEASE, notify::ADMINISTRATIVE_SHUTDOWN, &[]);
                    self.notify(n, "stopped".into(), &mut out);
                }
                self.go_idle(&mut out);
            }
            Event::Timer => self.timers(now, &mut out),
            Event::Connected => self.connected(now, &mut out),
            Event::Closed => self.closed(now, &mut out),
            Event::Received(bytes) => self.received(bytes, now, &mut out),
            Event::Announce(prefix) => self.announce(prefix, &mut out),
            Event::Withdraw(prefix) => self.withdraw(prefix, now, &mut out),
            Event::BfdDown => {
                if matches!(
                    self.state,
                    State::OpenSent | State::OpenConfirm | State::Established
                ) {
                    let n = Notification::new(notify::CEASE, notify::BFD_DOWN, &[]);
                    self.notify(n, "the BFD session went down".into(), &mut out);
                }
                if self.state != State::Idle {
                    self.go_idle_restart(now, &mut out);
                }
            }
        }
        out
    }

    fn set_state(&mut self, to: State, out: &mut Vec<Action>) {
        if self.state != to {
            out.push(Action::State {
                from: self.state,
                to,
            });
            self.state = to;
        }
    }

    /// Idle → Connect: start the ConnectRetryTimer and connect (RFC 4271 §8.2.2, Idle,
    /// Events 1 and 3).
    fn start(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.idle_until = None;
        self.connect_retry_at = Some(now + self.settings.connect_retry);
        out.push(Action::Connect);
        self.set_state(State::Connect, out);
    }

    /// Back to Idle: drop the connection, the timers and what the peer had from us
    /// (RFC 4271 §8.2.2: "releases all BGP resources"); a started session comes back by
    /// itself after the idle hold time (§8.1.1).
    fn go_idle(&mut self, out: &mut Vec<Action>) {
        if self.state != State::Idle {
            out.push(Action::Disconnect);
        }
        self.connect_retry_at = None;
        self.hold_at = None;
        self.keepalive_at = None;
        self.rx.clear();
        self.negotiated = None;
        self.established_at = None;
        self.sent.clear();
        self.draining.clear();
        self.set_state(State::Idle, out);
    }

    fn go_idle_restart(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.go_idle(out);
        if self.started {
            self.idle_until = Some(now + self.settings.idle_hold);
        }
    }

    fn notify(&mut self, n: Notification, why: String, out: &mut Vec<Action>) {
        self.counters.notifications_sent += 1;
        out.push(Action::Send(wire::notification(&n)));
        out.push(Action::NotificationSent(n, why));
    }

    /// Send a NOTIFICATION for an error and go to Idle (RFC 4271 §6: "the BGP connection
    /// is closed").
    fn fail(&mut self, err: WireError, now: Instant, out: &mut Vec<Action>) {
        self.notify(err.notification, err.detail, out);
        self.go_idle_restart(now, out);
    }

    fn timers(&mut self, now: Instant, out: &mut Vec<Action>) {
        let due = |t: Option<Instant>| t.is_some_and(|t| t <= now);
        if due(self.idle_until) {
            // AutomaticStart after the IdleHoldTimer (RFC 4271 §8.1.1, Event 3).
            self.start(now, out);
            return;
        }
        if due(self.hold_at) {
            // Hold timer expired: NOTIFICATION Hold Timer Expired (RFC 4271 §6.5, §8.2.2).
            self.fail(
                WireError::new(
                    notify::HOLD_TIMER_EXPIRED,
                    0,
                    &[],
                    "nothing heard from the peer within the hold time",
                ),
                now,
                out,
            );
            return;
        }
        if due(self.connect_retry_at) {
            self.connect_retry_at = Some(now + self.settings.connect_retry);
            match self.state {
                // Connect: drop the attempt and try again (§8.2.2, Connect, Event 9).
                State::Connect => out.extend([Action::Disconnect, Action::Connect]),
                // Active: try again (§8.2.2, Active, Event 9).
                State::Active => {
                    out.push(Action::Connect);
                    self.set_state(State::Connect, out);
                }
                _ => self.connect_retry_at = None,
            }
        }
        if due(self.keepalive_at) {
            self.send_keepalive(now, out);
        }
        if self.state == State::Established {
            self.drain_due(now, out);
        }
    }

    fn send_keepalive(&mut self, now: Instant, out: &mut Vec<Action>) {
        out.push(Action::Send(wire::keepalive()));
        self.restart_keepalive(now);
    }

    /// The KeepaliveTimer restarts with every KEEPALIVE or UPDATE sent (RFC 4271 §8.2.2,
    /// Established); with a hold time of zero there is none (§4.4).
    fn restart_keepalive(&mut self, now: Instant) {
        if let Some(n) = &self.negotiated {
            if n.keepalive > 0 {
                self.keepalive_at = Some(now + Duration::from_secs(n.keepalive.into()));
            }
        }
    }

    fn restart_hold(&mut self, now: Instant) {
        if let Some(n) = &self.negotiated {
            self.hold_at = (n.hold_time > 0).then(|| now + Duration::from_secs(n.hold_time.into()));
        }
    }

    fn connected(&mut self, now: Instant, out: &mut Vec<Action>) {
        if !matches!(self.state, State::Connect | State::Active) {
            return;
        }
        // TcpConnectionConfirmed: stop the ConnectRetryTimer, send OPEN, and hold for
        // the large OpenSent value (RFC 4271 §8.2.2, Connect, Event 16/17).
        self.connect_retry_at = None;
        let mut families = vec![(AFI_IPV4, SAFI_UNICAST)];
        families.push((AFI_IPV6, SAFI_UNICAST));
        let open = Open {
            asn: self.settings.local_as,
            hold_time: self.settings.hold_time,
            bgp_id: self.settings.router_id,
            four_octet_as: true,
            families,
        };
        out.push(Action::Send(open.emit()));
        self.hold_at = Some(now + OPEN_SENT_HOLD);
        self.set_state(State::OpenSent, out);
    }

    fn closed(&mut self, now: Instant, out: &mut Vec<Action>) {
        match self.state {
            State::Idle | State::Active => {}
            // The attempt failed: wait out the ConnectRetryTimer in Active (§8.2.2,
            // Connect, Event 18); OpenSent does the same (§8.2.2, OpenSent, Event 18).
            State::Connect | State::OpenSent => {
                self.hold_at = None;
                self.rx.clear();
                self.connect_retry_at = Some(now + self.settings.connect_retry);
                if self.state == State::OpenSent {
                    out.push(Action::Note(
                        "the peer closed the connection before its OPEN".into(),
                    ));
                }
                self.set_state(State::Active, out);
            }
            State::OpenConfirm | State::Established => {
                out.push(Action::Note(format!(
                    "the peer closed the connection in {}",
                    self.state
                )));
                self.go_idle_restart(now, out);
            }
        }
    }

    fn received(&mut self, bytes: &[u8], now: Instant, out: &mut Vec<Action>) {
        if !matches!(
            self.state,
            State::OpenSent | State::OpenConfirm | State::Established
        ) {
            return;
        }
        // Bounded: `rx` holds less than one message before each piece, and every
        // complete message is taken out before the next, so it never holds more than
        // two messages' worth however much the shell passes at once.
        for piece in bytes.chunks(MAX_MESSAGE) {
            if self.state == State::Idle {
                return;
            }
            self.rx.extend_from_slice(piece);
            let mut at = 0;
            while self.state != State::Idle {
                match wire::frame(&self.rx[at..]) {
                    Ok(None) => break,
                    Ok(Some((kind, len))) => {
                        let msg = self.rx[at..at + len].to_vec();
                        at += len;
                        self.message(kind, &msg, now, out);
                    }
                    Err(err) => {
                        self.fail(err, now, out);
                        return;
                    }
                }
            }
            if self.state != State::Idle {
                self.rx.drain(..at);
            }
        }
    }

    fn message(&mut self, kind: u8, msg: &[u8], now: Instant, out: &mut Vec<Action>) {
        if kind == wire::NOTIFICATION {
            // A NOTIFICATION closes the session in any state (RFC 4271 §6.4, §8.2.2).
            self.counters.notifications_received += 1;
            out.push(Action::NotificationReceived(wire::parse_notification(msg)));
            self.go_idle_restart(now, out);
            return;
        }
        match (self.state, kind) {
            (State::OpenSent, wire::OPEN) => match self.check_open(msg) {
                Ok(n) => {
                    // Answer with a KEEPALIVE and run the negotiated timers (RFC 4271
                    // §8.2.2, OpenSent, Event 19).
                    self.negotiated = Some(n);
                    self.send_keepalive(now, out);
                    self.restart_hold(now);
                    if self.negotiated.as_ref().is_some_and(|n| n.hold_time == 0) {
                        self.hold_at = None;
                    }
                    self.set_state(State::OpenConfirm, out);
                }
                Err(err) => self.fail(err, now, out),
            },
            (State::OpenConfirm, wire::KEEPALIVE) => {
                self.restart_hold(now);
                self.counters.established += 1;
                self.established_at = Some(now);
                self.set_state(State::Established, out);
                self.announce_all(now, out);
            }
            (State::Established, wire::KEEPALIVE) => self.restart_hold(now),
            (State::Established, wire::UPDATE) => {
                self.restart_hold(now);
                self.counters.updates_received += 1;
                let four_octet = self.negotiated.as_ref().is_none_or(|n| n.four_octet_as);
                match update::check_from(msg, four_octet) {
                    Ok(got) => {
                        self.counters.prefixes_received += got.announced as u64;
                        self.counters.withdrawals_received += got.withdrawn as u64;
                        if let Some(why) = got.treat_as_withdraw {
                            self.counters.treated_as_withdraw += 1;
                            out.push(Action::Note(format!(
                                "UPDATE treated as withdraw (RFC 7606): {why}"
                            )));
                        }
                    }
                    Err(err) => self.fail(err, now, out),
                }
            }
            // Any other message in these states is an FSM error (RFC 4271 §8.2.2,
            // subcodes RFC 6608 §3).
            (state, kind) => {
                let subcode = match state {
                    State::OpenSent => notify::FSM_UNEXPECTED_IN_OPEN_SENT,
                    State::OpenConfirm => notify::FSM_UNEXPECTED_IN_OPEN_CONFIRM,
                    _ => notify::FSM_UNEXPECTED_IN_ESTABLISHED,
                };
                let err = WireError::new(
                    notify::FSM,
                    subcode,
                    &[],
                    format!("message type {kind} in {state}"),
                );
                self.fail(err, now, out);
            }
        }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_routes;
