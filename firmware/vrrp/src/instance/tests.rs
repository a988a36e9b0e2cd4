//! RFC 5798 §6 transitions with a simulated clock: `t0 + offset` stands for "now".

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn settings(version: Version, priority: u8, advert_int: Duration) -> Settings {
    Settings {
        advert_int,
        addresses: vec![ip("192.168.0.100"), ip("192.168.33.10")],
        ..Settings::new(version, 51, priority, ip("192.168.0.101"))
    }
}

fn advert(s: &Settings, priority: u8) -> Repr {
    Repr {
        version: s.version,
        vrid: s.vrid,
        priority,
        advert_int_cs: (s.advert_int.as_millis() / 10) as u16,
        auth: s.auth,
        addresses: s.addresses.clone(),
    }
}

fn from<'a>(src: &str, advert: &'a Repr) -> Event<'a> {
    Event::Advert {
        src: ip(src),
        ttl: 255,
        advert,
        ah_seq: None,
    }
}

const PEER: &str = "192.168.0.102";

fn takeover() -> Vec<Action> {
    vec![
        Action::AddAddresses,
        Action::Send {
            priority: 100,
            ah_seq: None,
        },
        Action::Announce,
        Action::Transition {
            from: State::Backup,
            to: State::Master,
        },
    ]
}

#[test]
fn master_down_interval_is_three_intervals_plus_skew_without_rounding() {
    let v2 = Instance::new(settings(Version::V2, 100, Duration::from_secs(1)));
    assert_eq!(v2.skew_time(), Duration::from_nanos(609_375_000));
    assert_eq!(
        v2.master_down_interval(),
        Duration::from_nanos(3_609_375_000)
    );
    let v3 = Instance::new(settings(Version::V3, 100, ms(100)));
    assert_eq!(v3.master_down_interval(), Duration::from_nanos(360_937_500));
    // At priority 254 and a 10 ms interval a centisecond skew would be 0; ours is not.
    let fast = Instance::new(settings(Version::V3, 254, ms(10)));
    assert_eq!(fast.skew_time(), Duration::from_nanos(78_125));
}

#[test]
fn a_backup_takes_over_exactly_when_the_master_down_timer_expires() {
    let t0 = Instant::now();
    let mut r = Instance::new(settings(Version::V2, 100, Duration::from_secs(1)));
    assert_eq!(
        r.handle(Event::Startup, t0),
        vec![Action::Transition {
            from: State::Initialize,
            to: State::Backup
        }]
    );
    let deadline = t0 + Duration::from_nanos(3_609_375_000);
    assert_eq!(r.next_deadline(), Some(deadline));
    assert_eq!(
        r.handle(Event::Timer, deadline - Duration::from_micros(1)),
        vec![]
    );
    assert_eq!(r.state(), State::Backup);
    assert_eq!(r.handle(Event::Timer, deadline), takeover());
    assert_eq!(r.next_deadline(), Some(deadline + Duration::from_secs(1)));
    assert_eq!(r.master_ip(), Some(ip("192.168.0.101")));
}

#[test]
fn the_address_owner_is_master_at_once() {
    let t0 = Instant::now();
    let mut r = Instance::new(settings(Version::V3, 255, Duration::from_secs(1)));
    let actions = r.handle(Event::Startup, t0);
    assert_eq!(
        actions,
        vec![
            Action::AddAddresses,
            Action::Send {
                priority: 255,
                ah_seq: None
            },
            Action::Announce,
            Action::Transition {
                from: State::Initialize,
                to: State::Master
            },
        ]
    );
}

#[test]
fn a_master_advertises_every_interval() {
    let t0 = Instant::now();
    let mut r = Instance::new(settings(Version::V3, 255, ms(100)));
    r.handle(Event::Startup, t0);
    for n in 1..=5 {
        let at = t0 + n * ms(100);
        assert_eq!(r.next_deadline(), Some(at));
        assert_eq!(
            r.handle(Event::Timer, at),
            vec![Action::Send {
                priority: 255,
                ah_seq: None
            }]
        );
    }
    assert_eq!(r.adverts_sent, 6);
}

#[test]
fn adverts_from_a_better_master_keep_a_backup_waiting() {
    let t0 = Instant::now();
    let s = settings(Version::V2, 100, Duration::from_secs(1));
    let mut r = Instance::new(s.clone());
    r.handle(Event::Startup, t0);
    let better = advert(&s, 150);
    let t1 = t0 + Duration::from_secs(3);
    assert_eq!(r.handle(from(PEER, &better), t1), vec![]);
    assert_eq!(r.next_deadline(), Some(t1 + r.master_down_interval()));
    assert_eq!(r.master_ip(), Some(ip(PEER)));
}

#[test]
fn priority_zero_makes_the_backup_take_over_after_skew_time() {
    let t0 = Instant::now();
    let s = settings(Version::V3, 100, ms(100));
    let mut r = Instance::new(s.clone());
    r.handle(Event::Startup, t0);
    let t1 = t0 + ms(50);
    r.handle(from(PEER, &advert(&s, 0)), t1);
    assert_eq!(
        r.next_deadline(),
        Some(t1 + Duration::from_nanos(60_937_500))
    );
}

#[test]
fn a_backup_with_preempt_ignores_a_lower_master_and_takes_over() {
    let t0 = Instant::now();
    let s = settings(Version::V2, 100, Duration::from_secs(1));
    let mut r = Instance::new(s.clone());
    r.handle(Event::Startup, t0);
    let deadline = r.next_deadline().unwrap();
    r.handle(from(PEER, &advert(&s, 50)), t0 + Duration::from_secs(2));
    assert_eq!(
        r.next_deadline(),
        Some(deadline),
        "the lower master must not reset the timer"
    );
    assert_eq!(r.handle(Event::Timer, deadline), takeover());
}

#[test]
fn nopreempt_keeps_a_lower_master() {
    let t0 = Instant::now();
    let mut s = settings(Version::V2, 100, Duration::from_secs(1));
    s.preempt = false;
    let mut r = Instance::new(s.clone());
    r.handle(Event::Startup, t0);
    let t1 = t0 + Duration::from_secs(2);
    r.handle(from(PEER, &advert(&s, 50)), t1);
    assert_eq!(r.next_deadline(), Some(t1 + r.master_down_interval()));
}

#[test]
fn preempt_delay_tolerates_a_lower_master_only_for_a_while() {
    let t0 = Instant::now();
    let mut s = settings(Version::V2, 100, Duration::from_secs(1));
    s.preempt_delay = Duration::from_secs(10);
    let mut r = Instance::new(s.clone());
    r.handle(Event::Startup, t0);
    let lower = advert(&s, 50);
    let t1 = t0 + Duration::from_secs(9);
    r.handle(from(PEER, &lower), t1);
    assert_eq!(r.next_deadline(), Some(t1 + r.master_down_interval()));
    let t2 = t0 + Duration::from_secs(11);
    r.handle(from(PEER, &lower), t2);
    assert_eq!(
        r.next_deadline(),
        Some(t1 + r.master_down_interval()),
        "after the delay it preempts"
    );
}

#[test]
fn a_master_steps_down_for_a_higher_priority() {
    let t0 = Instant::now();
    let s = settings(Version::V3, 100, Duration::from_secs(1));
    let mut r = Instance::new(s.clone());
    r.handle(Event::Startup, t0);
    let t1 = r.next_deadline().unwrap();
    r.handle(Event::Timer, t1);
    let t2 = t1 + ms(300);
    assert_eq!(
        r.handle(from(PEER, &advert(&s, 200)), t2),
        vec![
            Action::RemoveAddresses,
            Action::Transition {
                from: State::Master,
                to: State::Backup
            }
        ]
    );
    assert_eq!(r.next_deadline(), Some(t2 + r.master_down_interval()));
}

#[test]
fn equal_priorities_are_decided_by_the_higher_primary_address() {
    let t0 = Instant::now();
    let s = settings(Version::V3, 100, Duration::from_secs(1));
    let mut r = Instance::new(s.clone());
    r.handle(Event::Startup, t0);
    let t1 = r.next_deadline().unwrap();
    r.handle(Event::Timer, t1);
    let same = advert(&s, 100);
    // keepalived answers a master that loses the tie with an advert at once.
    assert_eq!(
        r.handle(from("192.168.0.99", &same), t1 + ms(10)),
        vec![
            Action::Send {
                priority: 100,
                ah_seq: None
            },
            Action::AnnounceLowerPriority
        ]
    );
    assert_eq!(r.state(), State::Master);
    r.handle(from(PEER, &same), t1 + ms(20));
    assert_eq!(r.state(), State::Backup);
}

#[test]
fn a_master_answers_priority_zero_with_an_advert_at_once() {
    let t0 = Instant::now();
    let s = settings(Version::V3, 255, Duration::from_secs(1));
    let mut r = Instance::new(s.clone());
    r.handle(Event::Startup, t0);
    let t1 = t0 + ms(400);
    assert_eq!(
        r.handle(from(PEER, &advert(&s, 0)), t1),
        vec![Action::Send {
            priority: 255,
            ah_seq: None
        }]
    );
    assert_eq!(r.next_deadline(), Some(t1 + Duration::from_secs(1)));
}

#[test]
fn shutdown_of_a_master_sends_priority_zero_and_removes_addresses() {
    let t0 = Instant::now();
    let mut r = Instance::new(settings(Version::V3, 255, Duration::from_secs(1)));
    r.handle(Event::Startup, t0);
    assert_eq!(
        r.handle(Event::Shutdown, t0 + ms(5)),
        vec![
            Action::Send {
                priority: 0,
                ah_seq: None
            },
            Action::RemoveAddresses,
            Action::Transition {
                from: State::Master,
                to: State::Initialize
            },
        ]
    );
    assert_eq!(r.next_deadline(), None);
}

#[test]
fn a_v3_backup_learns_the_masters_interval() {
    let t0 = Instant::now();
    let s = settings(Version::V3, 100, Duration::from_secs(1));
    let mut r = Instance::new(s.clone());
    r.handle(Event::Startup, t0);
    let mut fast = advert(&s, 200);
    fast.advert_int_cs = 50;
    r.handle(from(PEER, &fast), t0);
    assert_eq!(
        r.master_down_interval(),
        Duration::from_nanos(1_500_000_000 + 304_687_500)
    );
}

#[test]
fn section_7_1_checks_drop_and_count() {
    let t0 = Instant::now();
    let mut s = settings(Version::V2, 100, Duration::from_secs(1));
    s.auth = Auth::Pass(*b"sfjpvrrp");
    let mut r = Instance::new(s.clone());
    r.handle(Event::Startup, t0);
    let deadline = r.next_deadline();
    let good = advert(&s, 150);
    let mut wrong_version = good.clone();
    wrong_version.version = Version::V3;
    let mut wrong_vrid = good.clone();
    wrong_vrid.vrid = 52;
    let mut wrong_auth = good.clone();
    wrong_auth.auth = Auth::Pass(*b"xxxxxxxx");
    let mut wrong_interval = good.clone();
    wrong_interval.advert_int_cs = 300;
    let mut wrong_addresses = good.clone();
    wrong_addresses.addresses.pop();
    let low_ttl = Event::Advert {
        src: ip(PEER),
        ttl: 254,
        advert: &good,
        ah_seq: None,
    };
    for event in [
        low_ttl,
        from(PEER, &wrong_version),
        from(PEER, &wrong_vrid),
        from(PEER, &wrong_auth),
        from(PEER, &wrong_interval),
        from(PEER, &wrong_addresses),
    ] {
        assert_eq!(r.handle(event, t0 + ms(10)), vec![]);
    }
    assert_eq!(
        r.next_deadline(),
        deadline,
        "a dropped advert changes nothing"
    );
    assert_eq!(
        r.drops,
        DropCounters {
            ttl: 1,
            version: 1,
            vrid: 1,
            auth: 1,
            interval: 1,
            addresses: 1,
            ..DropCounters::default()
        }
    );
    assert_eq!(r.adverts_received, 0);
}

#[test]
fn skip_check_adv_addr_skips_the_address_check_only_for_the_master_already_followed() {
    let t0 = Instant::now();
    let mut s = settings(Version::V3, 100, Duration::from_secs(1));
    s.skip_check_adv_addr = true;
    let mut r = Instance::new(s.clone());
    r.handle(Event::Startup, t0);
    let mut other = advert(&s, 150);
    other.addresses = vec![ip("10.0.0.1")];
    // keepalived checks the first advert of a master, and any from another router.
    r.handle(from(PEER, &other), t0 + ms(10));
    assert_eq!(r.drops.addresses, 1);
    let t1 = t0 + ms(20);
    r.handle(from(PEER, &advert(&s, 150)), t1);
    assert_eq!(r.master_ip(), Some(ip(PEER)));
    // Now the same master's adverts are not compared again.
    let t2 = t0 + ms(30);
    r.handle(from(PEER, &other), t2);
    assert_eq!(r.next_deadline(), Some(t2 + r.master_down_interval()));
    r.handle(from("192.168.0.103", &other), t2 + ms(10));
    assert_eq!(r.drops.addresses, 2);
    assert_eq!(r.master_ip(), Some(ip(PEER)));
}

#[test]
fn a_tracked_interface_fault_gives_up_mastership_and_recovery_waits_as_backup() {
    let t0 = Instant::now();
    let mut r = Instance::new(settings(Version::V3, 255, Duration::from_secs(1)));
    r.handle(Event::Startup, t0);
    assert_eq!(
        r.handle(Event::Fault(true), t0 + ms(100)),
        vec![
            Action::Send {
                priority: 0,
                ah_seq: None
            },
            Action::RemoveAddresses,
            Action::Transition {
                from: State::Master,
                to: State::Fault
            },
        ]
    );
    assert_eq!(r.handle(Event::Timer, t0 + Duration::from_secs(5)), vec![]);
    assert_eq!(
        r.handle(Event::Fault(false), t0 + Duration::from_secs(6)),
        vec![
            Action::AddAddresses,
            Action::Send {
                priority: 255,
                ah_seq: None
            },
            Action::Announce,
            Action::Transition {
                from: State::Fault,
                to: State::Master
            },
        ],
        "the owner comes back as master"
    );
    let mut backup = Instance::new(settings(Version::V3, 100, Duration::from_secs(1)));
    backup.handle(Event::Startup, t0);
    backup.handle(Event::Fault(true), t0);
    assert_eq!(backup.next_deadline(), None);
    backup.handle(Event::Fault(false), t0 + ms(1));
    assert_eq!(
        (backup.state(), backup.next_deadline()),
        (
            State::Backup,
            Some(t0 + ms(1) + backup.master_down_interval())
        )
    );
}

#[test]
fn a_master_answers_a_lower_master_at_once_as_keepalived_does() {
    let t0 = Instant::now();
    let s = settings(Version::V2, 150, Duration::from_secs(1));
    let mut r = Instance::new(s.clone());
    r.handle(Event::Startup, t0);
    let t1 = r.next_deadline().unwrap();
    r.handle(Event::Timer, t1);
    let t2 = t1 + ms(200);
    assert_eq!(
        r.handle(from(PEER, &advert(&s, 100)), t2),
        vec![
            Action::Send {
                priority: 150,
                ah_seq: None
            },
            Action::AnnounceLowerPriority
        ]
    );
    assert_eq!(r.next_deadline(), Some(t2 + Duration::from_secs(1)));
}

fn ah_settings(priority: u8) -> Settings {
    let mut s = settings(Version::V2, priority, Duration::from_secs(1));
    s.auth = Auth::Ah;
    s
}

fn with_seq<'a>(advert: &'a Repr, seq: u32) -> Event<'a> {
    Event::Advert {
        src: ip(PEER),
        ttl: 255,
        advert,
        ah_seq: Some(seq),
    }
}

#[test]
fn ah_sequence_numbers_count_up_and_replays_are_dropped() {
    let t0 = Instant::now();
    let s = ah_settings(100);
    let mut r = Instance::new(s.clone());
    r.handle(Event::Startup, t0);
    let better = advert(&s, 150);
    let t1 = t0 + ms(100);
    r.handle(with_seq(&better, 7), t1);
    let deadline = r.next_deadline();
    assert_eq!(deadline, Some(t1 + r.master_down_interval()));
    // The same number again, a lower one, or none at all: dropped as authentication
    // failures, and the master-down timer is not reset.
    for event in [
        with_seq(&better, 7),
        with_seq(&better, 3),
        from(PEER, &better),
    ] {
        assert_eq!(r.handle(event, t1 + ms(500)), vec![]);
    }
    assert_eq!(r.next_deadline(), deadline);
    assert_eq!(r.drops.auth, 3);
    // Taking over, our counter continues above the last number accepted (keepalived
    // keeps one counter per instance), so the old master's peers accept us.
    let actions = r.handle(Event::Timer, deadline.unwrap());
    assert!(actions.contains(&Action::Send {
        priority: 100,
        ah_seq: Some(8)
    }));
    let t2 = deadline.unwrap() + Duration::from_secs(1);
    assert!(r.handle(Event::Timer, t2).contains(&Action::Send {
        priority: 100,
        ah_seq: Some(9)
    }));
    assert_eq!(
        r.handle(Event::Shutdown, t2 + ms(1))[0],
        Action::Send {
            priority: 0,
            ah_seq: Some(10)
        }
    );
}

#[test]
fn packet_level_failures_are_counted_each_under_its_reason() {
    let t0 = Instant::now();
    let mut r = Instance::new(settings(Version::V3, 100, ms(100)));
    r.handle(Event::Startup, t0);
    let deadline = r.next_deadline();
    for why in [
        Invalid::Length,
        Invalid::Version,
        Invalid::Type,
        Invalid::Checksum,
        Invalid::Auth,
        Invalid::Vrid,
    ] {
        assert_eq!(r.handle(Event::Invalid(why), t0 + ms(10)), vec![]);
    }
    assert_eq!(r.next_deadline(), deadline);
    assert_eq!(
        r.drops,
        DropCounters {
            length: 1,
            version: 1,
            kind: 1,
            checksum: 1,
            auth: 1,
            vrid: 1,
            ..DropCounters::default()
        }
    );
    assert_eq!(r.drops.total(), 6);
}

/// keepalived issue #2178: a bond that comes up late (its updelay) must not let a box
/// with nopreempt take the VIPs from a lower master. Down at start, the instance waits
/// in FAULT; once the link is up it is a backup like any other, and the lower master's
/// adverts keep it one.
#[test]
fn a_link_that_comes_up_late_does_not_defeat_nopreempt() {
    let t0 = Instant::now();
    let mut s = settings(Version::V3, 150, Duration::from_secs(1));
    s.preempt = false;
    let mut r = Instance::new(s.clone());
    r.handle(Event::Startup, t0);
    r.handle(Event::Fault(true), t0);
    let lower = advert(&s, 100);
    let up = t0 + Duration::from_secs(5);
    let mut actions = r.handle(Event::Fault(false), up);
    for n in 0..10 {
        let t = up + ms(200) + Duration::from_secs(n);
        actions.extend(r.handle(from(PEER, &lower), t));
        actions.extend(r.handle(Event::Timer, t + ms(500)));
    }
    assert_eq!(r.state(), State::Backup);
    assert!(
        !actions.contains(&Action::AddAddresses),
        "took the VIPs: {actions:?}"
    );
    assert_eq!(r.master_ip(), Some(ip(PEER)));
}
