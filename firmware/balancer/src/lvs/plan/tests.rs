use super::*;
use ipvs::Protocol;

fn key() -> ServiceKey {
    ServiceKey::Addr {
        protocol: Protocol::Tcp,
        addr: "192.168.0.100".parse().unwrap(),
        port: 80,
    }
}

fn rs(last: u8, weight: u32, inhibit: bool, checks: usize) -> RealServer {
    let addr: IpAddr = format!("192.168.33.{last}").parse().unwrap();
    RealServer {
        encap: Encap::default(),
        addr,
        port: 80,
        weight,
        forward: Forward::Masq,
        inhibit_on_failure: inhibit,
        upper_threshold: 0,
        lower_threshold: 0,
        checks: (0..checks)
            .map(|_| CheckSpec::tcp(std::net::SocketAddr::new(addr, 80)))
            .collect(),
        smtp_alert: None,
    }
}

fn seed_31(inhibit: bool) -> Plan {
    Plan {
        services: vec![VirtualService {
            service: Service::new(key(), "rr"),
            real_servers: vec![rs(11, 1, inhibit, 1), rs(12, 1, inhibit, 1)],
            sorry_server: None,
            sorry_forward: Forward::Masq,
            sorry_inhibit: false,
            quorum: 1,
            hysteresis: 0,
            smtp_alert: None,
        }],
    }
}

fn check(last: u8, index: usize) -> CheckId {
    CheckId {
        service: key(),
        addr: format!("192.168.33.{last}").parse().unwrap(),
        port: 80,
        index,
    }
}

/// (last octet, weight) of each destination of the one service.
fn weights(table: &Table) -> Vec<(u8, u32)> {
    table.services[&key()]
        .1
        .values()
        .map(|d| match d.addr {
            IpAddr::V4(a) => (a.octets()[3], d.weight),
            IpAddr::V6(_) => (0, d.weight),
        })
        .collect()
}

#[test]
fn everyone_starts_alive_with_their_weight() {
    let mut health = HealthBook::default();
    assert_eq!(
        weights(&seed_31(true).desired(&mut health)),
        vec![(11, 1), (12, 1)]
    );
}

#[test]
fn a_dead_server_gets_weight_0_with_inhibit_on_failure() {
    let mut health = HealthBook::default();
    health.set(check(11, 0), false, String::new());
    assert_eq!(
        weights(&seed_31(true).desired(&mut health)),
        vec![(11, 0), (12, 1)]
    );
    health.set(check(11, 0), true, String::new());
    assert_eq!(
        weights(&seed_31(true).desired(&mut health)),
        vec![(11, 1), (12, 1)]
    );
}

#[test]
fn a_dead_server_is_removed_without_inhibit_on_failure() {
    let mut health = HealthBook::default();
    health.set(check(11, 0), false, String::new());
    assert_eq!(weights(&seed_31(false).desired(&mut health)), vec![(12, 1)]);
}

#[test]
fn a_dead_server_of_an_mh_service_stays_with_weight_0_without_inhibit_on_failure() {
    let mut plan = seed_31(false);
    plan.services[0].service = Service::new(key(), "mh");
    let mut health = HealthBook::default();
    health.set(check(11, 0), false, String::new());
    assert_eq!(weights(&plan.desired(&mut health)), vec![(11, 0), (12, 1)]);
    health.set(check(11, 0), true, String::new());
    assert_eq!(weights(&plan.desired(&mut health)), vec![(11, 1), (12, 1)]);
}

#[test]
fn every_checker_must_be_up() {
    let mut plan = seed_31(false);
    plan.services[0].real_servers[0] = rs(11, 5, false, 2);
    let mut health = HealthBook::default();
    health.set(check(11, 1), false, String::new());
    assert_eq!(weights(&plan.desired(&mut health)), vec![(12, 1)]);
}

#[test]
fn a_server_without_checks_is_always_alive() {
    let mut plan = seed_31(false);
    plan.services[0].real_servers[0] = rs(11, 3, false, 0);
    let mut health = HealthBook::default();
    assert_eq!(weights(&plan.desired(&mut health)), vec![(11, 3), (12, 1)]);
}

#[test]
fn the_sorry_server_serves_while_quorum_is_lost() {
    let mut plan = seed_31(false);
    plan.services[0].sorry_server = Some(("192.168.33.99".parse().unwrap(), 80));
    let mut health = HealthBook::default();
    assert_eq!(weights(&plan.desired(&mut health)), vec![(11, 1), (12, 1)]);
    health.set(check(11, 0), false, String::new());
    health.set(check(12, 0), false, String::new());
    assert_eq!(weights(&plan.desired(&mut health)), vec![(99, 1)]);
    health.set(check(12, 0), true, String::new());
    assert_eq!(weights(&plan.desired(&mut health)), vec![(12, 1)]);
}

/// keepalived's sorry_server_inhibit: the sorry server stays with weight 0 while the
/// real servers serve, as inhibit_on_failure keeps a dead real server.
#[test]
fn an_inhibited_sorry_server_stays_at_weight_0_while_not_in_use() {
    let mut plan = seed_31(false);
    plan.services[0].sorry_server = Some(("192.168.33.99".parse().unwrap(), 80));
    plan.services[0].sorry_inhibit = true;
    let mut health = HealthBook::default();
    assert_eq!(
        weights(&plan.desired(&mut health)),
        vec![(11, 1), (12, 1), (99, 0)]
    );
    health.set(check(11, 0), false, String::new());
    health.set(check(12, 0), false, String::new());
    assert_eq!(weights(&plan.desired(&mut health)), vec![(99, 1)]);
    // A sorry server that is also a real server does not take its place at weight 0.
    plan.services[0].sorry_server = Some(("192.168.33.12".parse().unwrap(), 80));
    health.set(check(11, 0), true, String::new());
    health.set(check(12, 0), true, String::new());
    assert_eq!(weights(&plan.desired(&mut health)), vec![(11, 1), (12, 1)]);
}

#[test]
fn quorum_follows_keepalived_hysteresis() {
    let mut plan = Plan {
        services: vec![VirtualService {
            service: Service::new(key(), "wrr"),
            real_servers: (11..=14).map(|n| rs(n, 1, true, 1)).collect(),
            sorry_server: Some(("192.168.33.99".parse().unwrap(), 80)),
            sorry_forward: Forward::Masq,
            sorry_inhibit: false,
            quorum: 3,
            hysteresis: 1,
            smtp_alert: None,
        }],
    };
    let sorry = |table: &Table| weights(table).contains(&(99, 1));
    let mut health = HealthBook::default();
    // 4 live >= 3 + 1: up at start.
    assert!(!sorry(&plan.desired(&mut health)));
    let first = health.take_quorum_changes();
    assert_eq!(first.len(), 1);
    assert!(first[0].up && first[0].first && first[0].live_weight == 4);
    assert_eq!(plan.desired(&mut health), plan.desired(&mut health));
    assert_eq!(
        health.take_quorum_changes(),
        vec![],
        "no change, nothing to mail"
    );
    health.set(check(11, 0), false, String::new());
    health.set(check(12, 0), false, String::new());
    assert!(
        !sorry(&plan.desired(&mut health)),
        "2 live is not below 3 - 1"
    );
    health.set(check(13, 0), false, String::new());
    assert!(sorry(&plan.desired(&mut health)), "1 live is below 3 - 1");
    let lost = health.take_quorum_changes();
    assert_eq!(lost.len(), 1);
    assert!(!lost[0].up && !lost[0].first && lost[0].live_weight == 1);
    health.set(check(11, 0), true, String::new());
    health.set(check(12, 0), true, String::new());
    assert!(
        sorry(&plan.desired(&mut health)),
        "3 live does not reach 3 + 1"
    );
    health.set(check(13, 0), true, String::new());
    assert!(!sorry(&plan.desired(&mut health)));
    // A plan that starts below quorum + hysteresis starts without quorum.
    plan.services[0].real_servers.truncate(3);
    let mut fresh = HealthBook::default();
    assert!(sorry(&plan.desired(&mut fresh)));
}

#[test]
fn alpha_servers_start_down_until_checked() {
    let mut health = HealthBook::default();
    health.start_down(check(12, 0));
    assert_eq!(
        weights(&seed_31(true).desired(&mut health)),
        vec![(11, 1), (12, 0)]
    );
}

#[test]
fn forgetting_removed_servers() {
    let mut health = HealthBook::default();
    health.set(check(12, 0), false, String::new());
    let mut plan = seed_31(false);
    plan.services[0].real_servers.pop();
    health.retain(&plan);
    plan.services[0].real_servers.push(rs(12, 1, false, 1));
    assert_eq!(
        weights(&plan.desired(&mut health)),
        vec![(11, 1), (12, 1)],
        "re-added servers start alive"
    );
}

#[test]
fn a_down_server_says_which_check_failed_and_why() {
    let plan = Plan {
        services: vec![VirtualService {
            real_servers: vec![rs(11, 1, false, 2)],
            ..seed_31(false).services[0].clone()
        }],
    };
    let mut health = HealthBook::default();
    assert_eq!(health.snapshot(&plan)[0].last, None, "nothing reported yet");
    health.set(check(11, 1), false, "TCP_CHECK: connection refused".into());
    // A later report of the other checker, still up, does not hide why it is down.
    health.set(check(11, 0), true, "HTTP_GET: status 200".into());
    let shown = &health.snapshot(&plan)[0];
    assert!(!shown.alive);
    let last = shown.last.as_ref().expect("a report");
    assert!(!last.up);
    assert_eq!(last.reason, "TCP_CHECK: connection refused");
    // Up again: the newest report explains it.
    health.set(check(11, 1), true, "TCP_CHECK: connected".into());
    let shown = &health.snapshot(&plan)[0];
    assert!(shown.alive);
    assert_eq!(shown.last.as_ref().unwrap().reason, "TCP_CHECK: connected");
}
