use std::time::SystemTime;

use super::*;
use crate::lvs::LastCheck;
use ipvs::Protocol;

fn key(addr: [u8; 4], port: u16) -> ServiceKey {
    ServiceKey::Addr {
        protocol: Protocol::Tcp,
        addr: IpAddr::from(addr),
        port,
    }
}

fn server(service: ServiceKey, last: u8, alive: Option<bool>) -> ServerHealth {
    ServerHealth {
        service,
        addr: IpAddr::from([192, 168, 33, last]),
        port: 80,
        checked: true,
        alive: alive.unwrap_or(true),
        last: alive.map(|up| LastCheck {
            up,
            reason: String::new(),
            at: SystemTime::now(),
            seq: 1,
        }),
    }
}

const UP: Box = Box {
    serving: true,
    links_up: true,
    drained: false,
};

fn vip() -> Prefix {
    "192.168.0.100/32".parse().unwrap()
}

#[test]
fn a_vip_is_announced_only_once_its_checks_are_known_and_enough_are_alive() {
    let web = key([192, 168, 0, 100], 80);
    let tls = key([192, 168, 0, 100], 443);
    let judge1 =
        |health: &[ServerHealth], quorum, state| judge(&[vip()], quorum, health, state)[0].clone();
    // Before the first check: keepalived's "up" is not known.
    let (_, ready, why) = judge1(&[server(web, 11, None)], 1, UP);
    assert!(!ready);
    assert_eq!(
        why,
        "TCP 192.168.0.100:80: waiting for the first check of 1 real server(s)"
    );
    let (_, ready, _) = judge1(
        &[server(web, 11, Some(true)), server(tls, 11, Some(true))],
        1,
        UP,
    );
    assert!(ready);
    // Every virtual server of the address needs its quorum.
    let health = [server(web, 11, Some(true)), server(tls, 11, Some(false))];
    let (_, ready, why) = judge1(&health, 1, UP);
    assert!(!ready);
    assert_eq!(
        why,
        "TCP 192.168.0.100:443: 0 live real server(s), quorum 1"
    );
    let health = [server(web, 11, Some(true)), server(web, 12, Some(false))];
    assert!(!judge1(&health, 2, UP).1);
    assert!(judge1(&health, 1, UP).1);
    // A real server without checks is alive and known.
    let mut unchecked = server(web, 11, None);
    unchecked.checked = false;
    assert!(judge1(&[unchecked], 1, UP).1);
    // The box itself.
    let fine = [server(web, 11, Some(true))];
    assert_eq!(
        judge1(
            &fine,
            1,
            Box {
                drained: true,
                ..UP
            }
        )
        .2,
        "drained"
    );
    assert!(
        !judge1(
            &fine,
            1,
            Box {
                links_up: false,
                ..UP
            }
        )
        .1
    );
    assert!(
        !judge1(
            &fine,
            1,
            Box {
                serving: false,
                ..UP
            }
        )
        .1
    );
    // Nothing at the address.
    let other = [server(key([192, 168, 0, 101], 80), 11, Some(true))];
    assert!(!judge1(&other, 1, UP).1);
    // A prefix holds every address in it.
    let net: Prefix = "192.168.0.0/24".parse().unwrap();
    assert!(judge(&[net], 1, &other, UP)[0].1);
}

#[test]
fn the_plan_fills_in_source_addresses_and_the_router_id_from_the_box() {
    let native = config::native::from_json(
        r#"{"interfaces": [{"role": "ext", "addresses": ["192.168.0.101/24"]},
                           {"role": "int", "addresses": ["192.168.33.20/24", "fd00::20/64"]}]}"#,
    )
    .unwrap();
    let mut b = Bgp::new(65001);
    let mut n = config::keepalived::BgpNeighbor::new("192.168.0.1".parse().unwrap(), 65000);
    n.hold_time = 9;
    b.neighbors.push(n);
    b.neighbors.push(config::keepalived::BgpNeighbor::new(
        "fd00::1".parse().unwrap(),
        65001,
    ));
    b.announce.push("192.168.0.100".parse().unwrap());
    let p = plan(&b, Some(&native)).unwrap();
    assert_eq!(p.router_id, Ipv4Addr::new(192, 168, 0, 101));
    assert_eq!(p.peers[0].local, "192.168.0.101".parse::<IpAddr>().unwrap());
    assert_eq!(p.peers[0].settings.hold_time, 9);
    assert_eq!(
        p.peers[0].settings.graceful_shutdown,
        Duration::from_secs(3)
    );
    assert_eq!(p.peers[1].local, "fd00::20".parse::<IpAddr>().unwrap());
    assert!(p.peers[1].settings.internal());
    assert_eq!(p.announce, [vip()]);
    // IPv6 sessions only, and a loopback address first (as `run -f` lists a host's):
    // the router id is the box's own unicast IPv4 address, never 127.0.0.1.
    let host = config::native::from_json(
        r#"{"interfaces": [{"role": "ext", "addresses": ["127.0.0.1/8", "fd00::101/64", "192.168.0.101/24"]}]}"#,
    )
    .unwrap();
    let mut v6 = b.clone();
    v6.neighbors.remove(0);
    v6.neighbors[0].address = "fd00::1".parse().unwrap();
    assert_eq!(
        plan(&v6, Some(&host)).unwrap().router_id,
        Ipv4Addr::new(192, 168, 0, 101)
    );
    // A neighbor in no subnet of the box, without source_ip, cannot run: said.
    b.neighbors[0].address = "10.9.9.9".parse().unwrap();
    let problems = plan(&b, Some(&native)).unwrap_err();
    assert_eq!(
        problems,
        ["BGP neighbor 10.9.9.9: not running: no source_ip and no interface address in its subnet"]
    );
    b.neighbors[0].source_ip = Some("192.168.0.101".parse().unwrap());
    b.router_id = Some(Ipv4Addr::new(10, 0, 0, 1));
    assert_eq!(
        plan(&b, Some(&native)).unwrap().router_id,
        Ipv4Addr::new(10, 0, 0, 1)
    );
}

#[test]
fn a_reload_restarts_only_the_sessions_that_changed() {
    let spec = |last: u8, hold: u16| {
        let address = IpAddr::from([192, 168, 0, last]);
        let mut settings = Settings::new(
            65001,
            65000,
            Ipv4Addr::new(192, 168, 0, 101),
            IpAddr::from([192, 168, 0, 101]),
        );
        settings.hold_time = hold;
        PeerSpec {
            address,
            port: 179,
            local: IpAddr::from([192, 168, 0, 101]),
            settings,
            bfd: None,
            password: None,
        }
    };
    let (a, b, c) = (spec(1, 90), spec(2, 90), spec(3, 90));
    let running: std::collections::BTreeMap<IpAddr, &PeerSpec> =
        [(a.address, &a), (b.address, &b)].into_iter().collect();
    // a unchanged, b's hold time changed, c new; nothing of a is touched.
    let b2 = spec(2, 9);
    let (stop, start) = changes(&running, &[a.clone(), b2.clone(), c.clone()]);
    assert_eq!(stop, [b.address]);
    assert_eq!(start, [b2, c]);
    // Everything gone: every session ends, none starts.
    let (stop, start) = changes(&running, &[]);
    assert_eq!(stop, [a.address, b.address]);
    assert!(start.is_empty());
    // The same again: nothing.
    assert_eq!(changes(&running, &[a.clone(), b.clone()]), (vec![], vec![]));
}

#[test]
fn a_new_tcp_md5_key_restarts_the_session_and_the_same_one_keeps_it() {
    use config::keepalived::Md5Password;
    let key = |k: &str| Some(Md5Password::new(k).unwrap());
    let spec = |password| PeerSpec {
        address: IpAddr::from([192, 168, 0, 1]),
        port: 179,
        local: IpAddr::from([192, 168, 0, 101]),
        settings: Settings::new(
            65001,
            65000,
            Ipv4Addr::new(192, 168, 0, 101),
            IpAddr::from([192, 168, 0, 101]),
        ),
        bfd: None,
        password,
    };
    let old = spec(key("old-key"));
    let running: std::collections::BTreeMap<IpAddr, &PeerSpec> =
        [(old.address, &old)].into_iter().collect();
    assert_eq!(changes(&running, &[spec(key("old-key"))]), (vec![], vec![]));
    for new in [key("new-key"), None] {
        let (stop, start) = changes(&running, &[spec(new.clone())]);
        assert_eq!(stop, [old.address]);
        assert_eq!(start, [spec(new)]);
    }
    // The plan carries it from the neighbor; its Debug (a log line) does not show it.
    let mut b = config::keepalived::Bgp::new(65001);
    let mut n = config::keepalived::BgpNeighbor::new(IpAddr::from([192, 168, 0, 1]), 65000);
    n.source_ip = Some(IpAddr::from([192, 168, 0, 101]));
    n.password = key("plan-key");
    b.neighbors.push(n);
    let p = plan(&b, None).unwrap();
    assert_eq!(p.peers[0].password, key("plan-key"));
    assert!(!format!("{p:?}").contains("plan-key"));
}
