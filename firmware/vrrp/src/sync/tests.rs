//! keepalived's sync-group rules with a simulated clock: the seed's external VIP and
//! internal gateway VIP as two instances that must stay on one box.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::instance::Settings;
use crate::packet::{Auth, Repr, Version};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn member(vrid: u8, priority: u8, vip: &str, primary: &str) -> Instance {
    Instance::new(Settings {
        addresses: vec![ip(vip)],
        ..Settings::new(Version::V3, vrid, priority, ip(primary))
    })
}

fn pair() -> SyncGroup {
    SyncGroup::new(vec![
        member(51, 100, "192.168.0.100", "192.168.0.101"),
        member(52, 100, "192.168.33.10", "192.168.33.20"),
    ])
}

fn advert(group: &SyncGroup, m: usize, priority: u8) -> Repr {
    let s = group.members()[m].settings();
    Repr {
        version: s.version,
        vrid: s.vrid,
        priority,
        advert_int_cs: 100,
        auth: Auth::None,
        addresses: s.addresses.clone(),
    }
}

fn states(group: &SyncGroup) -> Vec<State> {
    group.members().iter().map(|m| m.state()).collect()
}

fn event<'a>(advert: &'a Repr, src: &str) -> Event<'a> {
    Event::Advert {
        src: ip(src),
        ttl: 255,
        advert,
        ah_seq: None,
    }
}

#[test]
fn members_take_over_together_once_all_want_to() {
    let t0 = Instant::now();
    let mut g = pair();
    g.start(t0);
    // Member 1 hears its master a little later, so its timer runs out later.
    let a = advert(&g, 1, 200);
    g.handle(
        1,
        event(&a, "192.168.33.21"),
        t0 + Duration::from_millis(500),
    );
    let first = g.next_deadline().unwrap();
    assert!(g.timer(first).is_empty(), "member 0 must wait for member 1");
    assert_eq!(states(&g), vec![State::Backup, State::Backup]);
    assert!(g.members()[0].wants_master());
    let second = g.members()[1].next_deadline().unwrap();
    let actions = g.timer(second);
    assert_eq!(states(&g), vec![State::Master, State::Master]);
    for m in 0..2 {
        assert!(actions.contains(&(m, Action::AddAddresses)), "member {m}");
    }
}

#[test]
fn a_member_that_hears_its_master_again_no_longer_wants_master() {
    let t0 = Instant::now();
    let mut g = pair();
    g.start(t0);
    let a1 = advert(&g, 1, 200);
    g.handle(
        1,
        event(&a1, "192.168.33.21"),
        t0 + Duration::from_millis(500),
    );
    let first = g.next_deadline().unwrap();
    g.timer(first);
    assert!(g.members()[0].wants_master());
    let a0 = advert(&g, 0, 200);
    g.handle(
        0,
        event(&a0, "192.168.0.102"),
        first + Duration::from_millis(10),
    );
    assert!(!g.members()[0].wants_master());
    let second = g.members()[1].next_deadline().unwrap();
    g.timer(second);
    assert_eq!(states(&g), vec![State::Backup, State::Backup]);
}

fn both_masters(t0: Instant) -> (SyncGroup, Instant) {
    let mut g = pair();
    g.start(t0);
    let t1 = g.next_deadline().unwrap();
    g.timer(t1);
    assert_eq!(states(&g), vec![State::Master, State::Master]);
    (g, t1)
}

#[test]
fn one_member_stepping_down_takes_the_others_to_backup_without_priority_zero() {
    let t0 = Instant::now();
    let (mut g, t1) = both_masters(t0);
    let better = advert(&g, 0, 200);
    let actions = g.handle(
        0,
        event(&better, "192.168.0.102"),
        t1 + Duration::from_millis(10),
    );
    assert_eq!(states(&g), vec![State::Backup, State::Backup]);
    assert!(actions.contains(&(1, Action::RemoveAddresses)));
    assert!(!actions
        .iter()
        .any(|(_, a)| matches!(a, Action::Send { priority: 0, .. })));
}

#[test]
fn a_fault_of_one_member_faults_all_until_it_clears() {
    let t0 = Instant::now();
    let (mut g, t1) = both_masters(t0);
    let actions = g.handle(1, Event::Fault(true), t1 + Duration::from_millis(10));
    assert_eq!(states(&g), vec![State::Fault, State::Fault]);
    for m in 0..2 {
        assert!(actions.contains(&(
            m,
            Action::Send {
                priority: 0,
                ah_seq: None
            }
        )));
    }
    // Two faults; the group recovers only when both have cleared.
    g.handle(0, Event::Fault(true), t1 + Duration::from_millis(20));
    g.handle(1, Event::Fault(false), t1 + Duration::from_millis(30));
    assert_eq!(states(&g), vec![State::Fault, State::Fault]);
    g.handle(0, Event::Fault(false), t1 + Duration::from_millis(40));
    assert_eq!(states(&g), vec![State::Backup, State::Backup]);
}

#[test]
fn an_address_owner_takes_its_group_to_master_at_start() {
    let t0 = Instant::now();
    let mut g = SyncGroup::new(vec![
        member(51, 255, "192.168.0.100", "192.168.0.101"),
        member(52, 100, "192.168.33.10", "192.168.33.20"),
    ]);
    g.start(t0);
    assert_eq!(states(&g), vec![State::Master, State::Master]);
}

#[test]
fn a_group_of_one_is_a_plain_instance() {
    let t0 = Instant::now();
    let mut g = SyncGroup::new(vec![member(51, 100, "192.168.0.100", "192.168.0.101")]);
    g.start(t0);
    let t1 = g.next_deadline().unwrap();
    g.timer(t1);
    assert_eq!(states(&g), vec![State::Master]);
    let actions = g.shutdown(t1 + Duration::from_millis(1));
    assert_eq!(
        actions[0],
        (
            0,
            Action::Send {
                priority: 0,
                ah_seq: None
            }
        )
    );
}

#[test]
fn a_lower_priority_heard_by_one_master_makes_every_master_announce_again() {
    let t0 = Instant::now();
    let (mut g, t1) = both_masters(t0);
    let lower = advert(&g, 0, 50);
    let actions = g.handle(
        0,
        event(&lower, "192.168.0.102"),
        t1 + Duration::from_millis(10),
    );
    assert!(actions.contains(&(0, Action::AnnounceLowerPriority)));
    assert!(actions.contains(&(1, Action::AnnounceLowerPriority)));
    assert_eq!(states(&g), vec![State::Master, State::Master]);
}

#[test]
fn the_startup_delay_holds_the_whole_group() {
    let t0 = Instant::now();
    let mut g = pair();
    let delay = t0 + Duration::from_secs(5);
    g.delay_start(delay);
    g.start(t0);
    assert!(g.next_deadline().unwrap() > delay);
    assert!(g.timer(delay).is_empty());
}
