//! keepalived's extensions of RFC 5798 §6 with a simulated clock: answers to other
//! masters, unicast source checks, tracked priorities, the startup delay.

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

const PEER: &str = "192.168.0.102";

fn settings(priority: u8) -> Settings {
    Settings {
        advert_int: Duration::from_secs(1),
        addresses: vec![ip("192.168.0.100")],
        ..Settings::new(Version::V3, 51, priority, ip("192.168.0.101"))
    }
}

fn advert(s: &Settings, priority: u8) -> Repr {
    Repr {
        version: s.version,
        vrid: s.vrid,
        priority,
        advert_int_cs: 100,
        auth: s.auth,
        addresses: s.addresses.clone(),
    }
}

fn from<'a>(src: &str, ttl: u8, advert: &'a Repr) -> Event<'a> {
    Event::Advert {
        src: ip(src),
        ttl,
        advert,
        ah_seq: None,
    }
}

fn send(priority: u8) -> Action {
    Action::Send {
        priority,
        ah_seq: None,
    }
}

/// An instance that has become master at `t`.
fn master(s: Settings, t0: Instant) -> (Instance, Instant) {
    let mut r = Instance::new(s);
    r.handle(Event::Startup, t0);
    let t1 = r.next_deadline().unwrap();
    r.handle(Event::Timer, t1);
    assert_eq!(r.state(), State::Master);
    (r, t1)
}

#[test]
fn lower_prio_no_advert_leaves_a_lower_master_unanswered_but_announces_again() {
    let t0 = Instant::now();
    let mut s = settings(150);
    s.lower_prio_no_advert = true;
    let (mut r, t1) = master(s.clone(), t0);
    let t2 = t1 + ms(300);
    assert_eq!(
        r.handle(from(PEER, 255, &advert(&s, 100)), t2),
        vec![Action::AnnounceLowerPriority]
    );
    // The advert timer keeps its course: nothing was sent.
    assert_eq!(r.next_deadline(), Some(t1 + Duration::from_secs(1)));
    assert_eq!(r.state(), State::Master);
}

#[test]
fn higher_prio_send_advert_answers_before_stepping_down() {
    let t0 = Instant::now();
    let mut s = settings(100);
    s.higher_prio_send_advert = true;
    let (mut r, t1) = master(s.clone(), t0);
    assert_eq!(
        r.handle(from(PEER, 255, &advert(&s, 200)), t1 + ms(10)),
        vec![
            send(100),
            Action::RemoveAddresses,
            Action::Transition {
                from: State::Master,
                to: State::Backup
            }
        ]
    );
    // Without it, keepalived steps down silently (RFC 5798 §6.4.3).
    let (mut quiet, t1) = master(settings(100), t0);
    assert!(!quiet
        .handle(from(PEER, 255, &advert(&s, 200)), t1 + ms(10))
        .contains(&send(100)));
}

#[test]
fn check_unicast_src_drops_and_counts_an_advert_from_anyone_but_a_peer() {
    let t0 = Instant::now();
    let mut s = settings(100);
    s.unicast_peers = vec![ip(PEER)];
    s.check_unicast_src = true;
    let mut r = Instance::new(s.clone());
    r.handle(Event::Startup, t0);
    let deadline = r.next_deadline();
    let better = advert(&s, 200);
    assert_eq!(
        r.handle(from("192.168.0.66", 255, &better), t0 + ms(10)),
        vec![]
    );
    assert_eq!(
        r.next_deadline(),
        deadline,
        "a stranger's advert changes nothing"
    );
    assert_eq!(
        r.drops,
        DropCounters {
            unicast_src: 1,
            ..DropCounters::default()
        }
    );
    // A peer's advert counts, and unicast ones need no TTL of 255 (they may cross a
    // router: keepalived's unicast_ttl).
    let t1 = t0 + ms(20);
    r.handle(from(PEER, 64, &better), t1);
    assert_eq!(r.master_ip(), Some(ip(PEER)));
    assert_eq!(r.next_deadline(), Some(t1 + r.master_down_interval()));
    // Without check_unicast_src anyone is heard, as keepalived's default.
    s.check_unicast_src = false;
    let mut open = Instance::new(s);
    open.handle(Event::Startup, t0);
    open.handle(from("192.168.0.66", 255, &better), t0 + ms(10));
    assert_eq!(open.master_ip(), Some(ip("192.168.0.66")));
}

#[test]
fn a_multicast_advert_still_needs_ttl_255() {
    let t0 = Instant::now();
    let s = settings(100);
    let mut r = Instance::new(s.clone());
    r.handle(Event::Startup, t0);
    r.handle(from(PEER, 64, &advert(&s, 200)), t0 + ms(10));
    assert_eq!(r.drops.ttl, 1);
}

#[test]
fn a_priority_change_is_in_the_next_advert_and_a_lower_master_is_overtaken() {
    let t0 = Instant::now();
    let s = settings(120);
    let (mut r, t1) = master(s.clone(), t0);
    // A tracked check fails: weight -30.
    assert_eq!(r.handle(Event::Priority(90), t1 + ms(100)), vec![]);
    assert_eq!(r.priority(), 90);
    assert_eq!(
        r.handle(Event::Timer, t1 + Duration::from_secs(1)),
        vec![send(90)],
        "RFC 5798: the next advert carries the new priority"
    );
    // The backup (priority 100 > 90) preempts: its advert makes us step down.
    r.handle(from(PEER, 255, &advert(&s, 100)), t1 + ms(1500));
    assert_eq!(r.state(), State::Backup);
    // Back up again, we preempt the lower master by letting our timer run out.
    let t2 = t1 + ms(1600);
    r.handle(Event::Priority(120), t2);
    let deadline = r.next_deadline().unwrap();
    r.handle(from(PEER, 255, &advert(&s, 100)), t2 + ms(500));
    assert_eq!(
        r.next_deadline(),
        Some(deadline),
        "a lower master is not followed"
    );
    assert!(r.handle(Event::Timer, deadline).contains(&send(120)));
}

#[test]
fn a_backup_s_timer_moves_by_the_change_of_its_skew_time() {
    let t0 = Instant::now();
    let mut r = Instance::new(settings(100));
    r.handle(Event::Startup, t0);
    let before = r.next_deadline().unwrap();
    r.handle(Event::Priority(200), t0 + ms(10));
    // Skew_Time at 1 s: (256 - 100) / 256 s before, (256 - 200) / 256 s after.
    assert_eq!(
        r.next_deadline(),
        Some(before - Duration::from_nanos(390_625_000))
    );
    assert_eq!(
        r.master_down_interval(),
        Duration::from_nanos(3_218_750_000)
    );
}

#[test]
fn down_timer_adverts_is_the_count_of_missed_adverts() {
    let mut s = settings(100);
    s.down_timer_adverts = 5;
    let r = Instance::new(s);
    assert_eq!(
        r.master_down_interval(),
        Duration::from_nanos(5_000_000_000 + 609_375_000)
    );
}

#[test]
fn the_startup_delay_holds_every_takeover_until_it_ends() {
    let t0 = Instant::now();
    let delay = t0 + Duration::from_secs(10);
    let mut r = Instance::new(settings(100));
    r.delay_start(delay);
    r.handle(Event::Startup, t0);
    assert_eq!(r.next_deadline(), Some(delay + r.master_down_interval()));
    // An advert heard meanwhile is followed, but the timer still counts from the delay.
    let s = settings(100);
    r.handle(
        from(PEER, 255, &advert(&s, 150)),
        t0 + Duration::from_secs(2),
    );
    assert_eq!(r.master_ip(), Some(ip(PEER)));
    assert_eq!(r.next_deadline(), Some(delay + r.master_down_interval()));
    // After the delay, timers count from now again.
    let t1 = delay + Duration::from_secs(1);
    r.handle(from(PEER, 255, &advert(&s, 150)), t1);
    assert_eq!(r.next_deadline(), Some(t1 + r.master_down_interval()));

    // The address owner waits for the end of the delay, then takes over at once.
    let mut owner = Instance::new(settings(255));
    owner.delay_start(delay);
    owner.handle(Event::Startup, t0);
    assert_eq!(owner.state(), State::Backup);
    assert_eq!(owner.next_deadline(), Some(delay));
    assert!(owner.handle(Event::Timer, delay).contains(&send(255)));
    assert_eq!(owner.state(), State::Master);
}
