//! Two sessions against each other on a simulated clock and a simulated link (1 ms one
//! way, each direction can be cut), and single packets fed by hand.

use std::collections::VecDeque;

use super::*;

const MS: Duration = Duration::from_millis(1);

fn fast() -> Settings {
    Settings {
        min_tx: 100 * MS,
        min_rx: 100 * MS,
        idle_tx: SLOW_TX,
        multiplier: 3,
        passive: false,
    }
}

fn discr(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

struct Pair {
    s: [Session; 2],
    t0: Instant,
    now: Instant,
    /// Packets on their way: when they arrive, to which side.
    wire: VecDeque<(Instant, usize, [u8; packet::LEN])>,
    /// Whether packets from side i get through.
    link: [bool; 2],
    /// Every state change: when, which side, to what, with which diag.
    changes: Vec<(Duration, usize, State, Diag)>,
    sent: [Vec<(Duration, Control)>; 2],
}

impl Pair {
    fn new(a: Settings, b: Settings) -> Pair {
        let t0 = Instant::now();
        let mut p = Pair {
            s: [
                Session::new(a, discr(0x1111), 1),
                Session::new(b, discr(0x2222), 2),
            ],
            t0,
            now: t0,
            wire: VecDeque::new(),
            link: [true, true],
            changes: Vec::new(),
            sent: [Vec::new(), Vec::new()],
        };
        for i in 0..2 {
            let out = p.s[i].handle(Event::Start, t0);
            p.take(i, out);
        }
        p
    }

    fn take(&mut self, i: usize, out: Vec<Action>) {
        for a in out {
            match a {
                Action::Send(b) => {
                    self.sent[i].push((self.now - self.t0, Control::parse(&b).unwrap()));
                    if self.link[i] {
                        self.wire.push_back((self.now + MS, 1 - i, b));
                    }
                }
                Action::State { to, diag, .. } => {
                    self.changes.push((self.now - self.t0, i, to, diag))
                }
                // What an AdminDown session hears is discarded (§6.8.6), by design.
                Action::Dropped(Drop::AdminDown) => {}
                Action::Dropped(why) => panic!("side {i} dropped a packet: {why}"),
            }
        }
    }

    fn handle(&mut self, i: usize, e: Event<'_>) {
        let out = self.s[i].handle(e, self.now);
        self.take(i, out);
    }

    /// Runs the simulation until `t` after the start.
    fn run_to(&mut self, t: Duration) {
        let end = self.t0 + t;
        for _ in 0..1_000_000 {
            let wire = self.wire.front().map(|w| w.0);
            let next = [wire, self.s[0].next_deadline(), self.s[1].next_deadline()]
                .into_iter()
                .flatten()
                .min();
            let Some(next) = next.filter(|n| *n <= end) else {
                self.now = end;
                return;
            };
            self.now = next;
            if wire == Some(next) {
                let (_, to, b) = self.wire.pop_front().unwrap();
                self.handle(
                    to,
                    Event::Received {
                        packet: &b,
                        ttl: 255,
                    },
                );
            }
            for i in 0..2 {
                if self.s[i].next_deadline().is_some_and(|d| d <= self.now) {
                    self.handle(i, Event::Timer);
                }
            }
        }
        panic!("the simulation did not reach {t:?}");
    }

    fn first(&self, side: usize, to: State) -> Option<(Duration, Diag)> {
        self.changes
            .iter()
            .find(|c| c.1 == side && c.2 == to)
            .map(|c| (c.0, c.3))
    }
}

#[test]
fn comes_up_against_a_second_instance_then_runs_fast() {
    let mut p = Pair::new(fast(), fast());
    p.run_to(Duration::from_secs(1));
    assert_eq!(p.s[0].state(), State::Up);
    assert_eq!(p.s[1].state(), State::Up);
    // Down -> Init -> Up on both sides: the three-way handshake (RFC 5880 §6.2).
    for i in 0..2 {
        let path: Vec<State> = p.changes.iter().filter(|c| c.1 == i).map(|c| c.2).collect();
        assert!(
            path == [State::Init, State::Up] || path == [State::Up],
            "side {i}: {path:?}"
        );
        assert_eq!(p.s[i].remote_discriminator(), [0x2222, 0x1111][i]);
    }
    // Going Up changed DesiredMinTx from 1 s to 100 ms: a poll sequence, answered.
    assert!(p.s[0].counters().polls >= 1);
    assert!(!p.s[0].polling() && !p.s[1].polling());
    assert!(p.sent[1].iter().any(|(_, c)| c.final_));
    // Up, the packets come every 75-100 ms.
    let t = Duration::from_secs(5);
    p.run_to(t);
    let late: Vec<Duration> = p.sent[0]
        .iter()
        .filter(|(at, c)| *at > Duration::from_secs(2) && !c.final_)
        .map(|(at, _)| *at)
        .collect();
    for w in late.windows(2) {
        let gap = w[1] - w[0];
        assert!(gap >= 75 * MS && gap <= 100 * MS, "gap {gap:?}");
    }
    assert_eq!(p.s[0].detection_time(), 300 * MS);
    assert_eq!(p.s[0].counters().up, 1);
}

#[test]
fn slow_while_not_up() {
    // The peer never answers: one packet a second or so, never faster (§6.8.3).
    let mut p = Pair::new(fast(), fast());
    p.link[1] = false;
    p.wire.clear();
    p.run_to(Duration::from_secs(10));
    assert_eq!(p.s[0].state(), State::Down);
    let times: Vec<Duration> = p.sent[0].iter().map(|s| s.0).collect();
    assert!(times.len() >= 9 && times.len() <= 15, "{times:?}");
    for w in times.windows(2).skip(1) {
        assert!(w[1] - w[0] >= 750 * MS, "{times:?}");
    }
    for (_, c) in &p.sent[0] {
        assert_eq!(c.desired_min_tx, 1_000_000);
        assert_eq!(c.required_min_rx, 100_000);
    }
}

#[test]
fn detection_time_expiry() {
    let mut p = Pair::new(fast(), fast());
    p.run_to(Duration::from_secs(2));
    assert_eq!(p.s[0].state(), State::Up);
    p.link[1] = false;
    let cut = p.now - p.t0;
    p.run_to(Duration::from_secs(3));
    let (at, diag) = p.first(0, State::Down).expect("side 0 went down");
    assert_eq!(diag, Diag::DETECTION_TIME_EXPIRED);
    // Detection time 3 × 100 ms after the last packet heard, which came at most 100 ms
    // before the cut.
    let took = at - cut;
    assert!(took > 190 * MS && took <= 301 * MS, "{took:?}");
    assert_eq!(p.s[0].remote_discriminator(), 0);
    // Side 1 hears side 0's Down and goes Down too (Neighbor Signaled Session Down).
    assert_eq!(
        p.first(1, State::Down).unwrap().1,
        Diag::NEIGHBOR_SIGNALED_DOWN
    );
    // The link back: both come up again.
    p.link[1] = true;
    p.run_to(Duration::from_secs(8));
    assert_eq!(p.s[0].state(), State::Up);
    assert_eq!(p.s[0].counters().up, 2);
    assert_eq!(p.s[0].counters().down, 1);
}

#[test]
fn admin_down_received() {
    let mut p = Pair::new(fast(), fast());
    p.run_to(Duration::from_secs(2));
    p.handle(1, Event::AdminDown);
    p.run_to(Duration::from_secs(3));
    assert_eq!(p.s[1].state(), State::AdminDown);
    assert_eq!(p.s[0].state(), State::Down);
    assert_eq!(
        p.first(0, State::Down).unwrap().1,
        Diag::NEIGHBOR_SIGNALED_DOWN
    );
    // An AdminDown session discards what it gets, and counts it.
    assert!(p.s[1].counters().dropped(Drop::AdminDown) > 0);
    p.handle(1, Event::AdminUp);
    p.run_to(Duration::from_secs(6));
    assert_eq!([p.s[0].state(), p.s[1].state()], [State::Up, State::Up]);
}

#[test]
fn timer_change_by_poll_and_final() {
    let mut p = Pair::new(fast(), fast());
    p.run_to(Duration::from_secs(2));
    let polls = p.s[0].counters().polls;
    let slower = Settings {
        min_tx: 250 * MS,
        ..fast()
    };
    let asked = p.now - p.t0;
    p.handle(0, Event::Configure(slower));
    assert!(p.s[0].polling());
    // Until the Final, the faster interval stays in use (§6.8.3).
    assert_eq!(p.s[0].tx_interval(), 100 * MS);
    let poll = p.sent[0].last().unwrap().1;
    assert!(poll.poll && !poll.final_);
    assert_eq!(poll.desired_min_tx, 250_000);
    p.run_to(Duration::from_secs(3));
    assert!(!p.s[0].polling());
    assert_eq!(p.s[0].counters().polls, polls + 1);
    assert_eq!(p.s[0].tx_interval(), 250 * MS);
    // The peer's detection time follows: 3 × 250 ms.
    assert_eq!(p.s[1].detection_time(), 750 * MS);
    let answered = p.sent[1]
        .iter()
        .find(|(at, c)| *at >= asked && c.final_)
        .expect("a Final from the peer");
    assert!(!answered.1.poll);
    assert!(
        answered.0 - asked <= 2 * MS,
        "the Final waited for the timer"
    );
    p.run_to(Duration::from_secs(6));
    assert_eq!([p.s[0].state(), p.s[1].state()], [State::Up, State::Up]);
    assert_eq!(p.s[0].counters().down, 0);
}

#[test]
fn passive_waits_for_the_peer() {
    let passive = Settings {
        passive: true,
        ..fast()
    };
    let mut p = Pair::new(passive, fast());
    p.link[1] = false;
    p.wire.clear();
    p.run_to(Duration::from_secs(3));
    assert!(p.sent[0].is_empty());
    p.link[1] = true;
    p.run_to(Duration::from_secs(6));
    assert_eq!([p.s[0].state(), p.s[1].state()], [State::Up, State::Up]);
}

fn up_session() -> (Session, Instant) {
    let mut p = Pair::new(fast(), fast());
    p.run_to(Duration::from_secs(2));
    let [s, _] = p.s;
    (s, p.now)
}

fn from_peer(state: State, your: u32) -> Control {
    Control {
        diag: Diag::NONE,
        state,
        poll: false,
        final_: false,
        cpi: false,
        demand: false,
        detect_mult: 3,
        my_discriminator: 0x2222,
        your_discriminator: your,
        desired_min_tx: 100_000,
        required_min_rx: 100_000,
        required_min_echo_rx: 0,
    }
}

#[test]
fn bad_packets_are_dropped_and_counted() {
    let (mut s, now) = up_session();
    let good = from_peer(State::Up, 0x1111).emit();
    let cases: Vec<(Vec<u8>, u8, Drop)> = vec![
        (good.to_vec(), 64, Drop::Ttl),
        (good[..10].to_vec(), 255, Drop::Short),
        (
            from_peer(State::Up, 0x9999).emit().to_vec(),
            255,
            Drop::UnknownDiscriminator,
        ),
        (
            from_peer(State::Up, 0).emit().to_vec(),
            255,
            Drop::YourDiscriminatorZero,
        ),
        (
            Control {
                detect_mult: 0,
                ..from_peer(State::Up, 0x1111)
            }
            .emit()
            .to_vec(),
            255,
            Drop::DetectMult,
        ),
    ];
    for (bytes, ttl, why) in cases {
        let out = s.handle(
            Event::Received {
                packet: &bytes,
                ttl,
            },
            now,
        );
        assert_eq!(out, vec![Action::Dropped(why)]);
        assert_eq!(s.counters().dropped(why), 1, "{why}");
        assert_eq!(s.state(), State::Up);
    }
    // A good one still counts as heard.
    let before = s.counters().received;
    s.handle(
        Event::Received {
            packet: &good,
            ttl: 255,
        },
        now,
    );
    assert_eq!(s.counters().received, before + 1);
}

#[test]
fn jitter_stays_in_range() {
    for (mult, low, high) in [(3u8, 75, 100), (1, 75, 90)] {
        let mut s = Session::new(
            Settings {
                multiplier: mult,
                ..fast()
            },
            discr(5),
            42,
        );
        let (mut lo, mut hi) = (u32::MAX, 0);
        for _ in 0..10_000 {
            let j = s.jittered(Duration::from_millis(1000)).as_millis() as u32 / 10;
            lo = lo.min(j);
            hi = hi.max(j);
        }
        assert_eq!((lo, hi), (low, high), "multiplier {mult}");
    }
}

/// Many random and mutated packets, at random times: never a panic, and the counters
/// add up (each packet is either received or dropped for one reason).
#[test]
fn random_and_mutated_packets() {
    let (mut s, mut now) = up_session();
    let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let base = from_peer(State::Up, 0x1111).emit();
    let before = s.counters();
    let n = 50_000u64;
    for i in 0..n {
        let r = next();
        let mut b: Vec<u8> = if i % 3 == 0 {
            (0..(r % 40) as usize).map(|_| next() as u8).collect()
        } else {
            base.to_vec()
        };
        if i % 3 != 0 {
            for _ in 0..(r % 4) {
                let at = (next() % b.len() as u64) as usize;
                b[at] ^= 1 << (next() % 8);
            }
            if r % 7 == 0 {
                b.truncate((next() % 30) as usize);
            }
        }
        let ttl = if r % 11 == 0 { 254 } else { 255 };
        now += Duration::from_micros(next() % 200_000);
        s.handle(Event::Received { packet: &b, ttl }, now);
        if r % 5 == 0 {
            s.handle(Event::Timer, now);
        }
        if r % 997 == 0 {
            s.handle(Event::AdminDown, now);
        } else if r % 991 == 0 {
            s.handle(Event::AdminUp, now);
        }
        // The deadline is never in the past after a timer event.
        s.handle(Event::Timer, now);
        assert!(s.next_deadline().is_none_or(|d| d > now));
    }
    let c = s.counters();
    let dropped: u64 = c.dropped.iter().sum::<u64>() - before.dropped.iter().sum::<u64>();
    assert_eq!(c.received - before.received + dropped, n);
    assert!(c.dropped(Drop::Ttl) > 0 && c.dropped(Drop::Version) > 0);
}
