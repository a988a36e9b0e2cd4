//! What the peer gets from us and what we do with what it sends: announcements,
//! withdraws with and without the graceful-shutdown wait (RFC 8326), received UPDATEs.

use super::tests::*;
use super::*;
use crate::wire::update::{Attributes, GRACEFUL_SHUTDOWN};

#[test]
fn established_announces_what_is_desired_ebgp() {
    let t0 = Instant::now();
    let mut s = Session::new(settings());
    s.handle(Event::Announce(p("192.0.2.10/32")), t0);
    s.handle(Event::Announce(p("2001:db8::10/128")), t0);
    s.handle(Event::Start, t0);
    s.handle(Event::Connected, t0);
    s.handle(Event::Received(&peer_open(90)), t0);
    let out = s.handle(Event::Received(&wire::keepalive()), t0);
    let msgs = sent(&out);
    assert_eq!(msgs.len(), 2);
    let v4 = &msgs[0];
    // Our own checker accepts what we send, with one prefix and nothing amiss.
    let got = update::check(v4).unwrap();
    assert_eq!((got.announced, got.treat_as_withdraw), (1, None));
    let as_path = [0x40, 2, 6, 2, 1];
    assert!(contains(v4, &as_path) && contains(v4, &LOCAL_AS.to_be_bytes()));
    assert!(
        contains(v4, &[0x40, 3, 4, 10, 0, 0, 2]),
        "NEXT_HOP 10.0.0.2"
    );
    assert!(
        !contains(v4, &[0x40, 5, 4]),
        "no LOCAL_PREF to an external peer"
    );
    let got = update::check(&msgs[1]).unwrap();
    assert_eq!(got.announced, 1);
    let nh: [u8; 16] = "2001:db8::2".parse::<Ipv6Addr>().unwrap().octets();
    assert!(contains(&msgs[1], &nh));
    assert_eq!(s.advertised().count(), 2);
}

#[test]
fn ibgp_has_an_empty_as_path_and_local_pref() {
    let t0 = Instant::now();
    let mut cfg = settings();
    cfg.local_as = PEER_AS;
    let (mut s, _) = established(cfg, 90, t0);
    let out = s.handle(Event::Announce(p("192.0.2.10/32")), t0);
    let m = &sent(&out)[0];
    assert!(contains(m, &[0x40, 2, 0]), "empty AS_PATH");
    assert!(contains(m, &[0x40, 5, 4, 0, 0, 0, 100]), "LOCAL_PREF 100");
}

/// The peer's OPEN without the 4-octet AS capability (an OLD speaker, RFC 6793): the
/// 2-octet AS field alone.
fn old_peer_open() -> Vec<u8> {
    let mut open = peer_open_without_multiprotocol();
    // Drop the capability's 8 octets (optional parameter 2, capability 65, length 4).
    open.truncate(open.len() - 8);
    open[28] = 0;
    let len = open.len() as u16;
    open[16..18].copy_from_slice(&len.to_be_bytes());
    open
}

#[test]
fn an_old_peer_gets_as_trans_and_as4_path_and_may_send_2_octet_paths() {
    let t0 = Instant::now();
    let mut s = Session::new(settings());
    s.handle(Event::Announce(p("192.0.2.10/32")), t0);
    s.handle(Event::Start, t0);
    s.handle(Event::Connected, t0);
    s.handle(Event::Received(&old_peer_open()), t0);
    assert_eq!(s.state(), State::OpenConfirm, "an OLD speaker is a peer");
    let out = s.handle(Event::Received(&wire::keepalive()), t0);
    let m = &sent(&out)[0];
    // LOCAL_AS is above 65535: AS_TRANS in a 2-octet AS_PATH, itself in AS4_PATH (RFC
    // 6793 §4.2.2).
    assert!(
        contains(m, &[0x40, 2, 4, 2, 1, 0x5b, 0xa0]),
        "AS_PATH AS_TRANS: {m:02x?}"
    );
    let mut as4 = vec![0xc0, 17, 6, 2, 1];
    as4.extend_from_slice(&LOCAL_AS.to_be_bytes());
    assert!(contains(m, &as4), "AS4_PATH: {m:02x?}");
    assert_eq!(update::check_from(m, false).unwrap().announced, 1);
    // A 2-octet local AS needs no AS4_PATH.
    let mut cfg = settings();
    cfg.local_as = 65002;
    let mut s = Session::new(cfg);
    s.handle(Event::Announce(p("192.0.2.10/32")), t0);
    s.handle(Event::Start, t0);
    s.handle(Event::Connected, t0);
    s.handle(Event::Received(&old_peer_open()), t0);
    let out = s.handle(Event::Received(&wire::keepalive()), t0);
    let m = &sent(&out)[0];
    assert!(
        contains(m, &[0x40, 2, 4, 2, 1, 0xfd, 0xea]),
        "AS_PATH 65002: {m:02x?}"
    );
    assert!(!contains(m, &[0xc0, 17]), "no AS4_PATH: {m:02x?}");
    // The OLD peer's own UPDATE, a 2-octet AS_PATH of two ASes, is well formed for it.
    let update = [
        &[0xffu8; 16][..],
        &[0, 47, 2, 0, 0, 0, 20],
        &[0x40, 1, 1, 0],
        &[0x40, 2, 6, 2, 2, 0xfd, 0xe9, 0xfd, 0xea],
        &[0x40, 3, 4, 10, 0, 0, 1],
        &[24, 198, 51, 100],
    ]
    .concat();
    assert_eq!(update.len(), 47);
    let out = s.handle(Event::Received(&update), t0);
    assert_eq!(sent_notification(&out), None, "{out:?}");
    assert_eq!(s.state(), State::Established);
    assert_eq!(update::check_from(&update, false).unwrap().announced, 1);
    // The same octets read as 4-octet numbers overrun: a NEW peer's would be malformed.
    assert!(update::check(&update).unwrap().treat_as_withdraw.is_some());
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn withdraw_first_tags_graceful_shutdown_then_waits() {
    let t0 = Instant::now();
    let mut cfg = settings();
    cfg.graceful_shutdown = Duration::from_secs(10);
    let (mut s, _) = established(cfg, 0, t0);
    let vip = p("192.0.2.10/32");
    s.handle(Event::Announce(vip), t0);
    let out = s.handle(Event::Withdraw(vip), t0 + Duration::from_secs(1));
    let m = &sent(&out)[0];
    assert_eq!(
        update::check(m).unwrap().announced,
        1,
        "re-announced, not withdrawn"
    );
    assert!(contains(m, &[0xc0, 8, 4]) && contains(m, &GRACEFUL_SHUTDOWN.to_be_bytes()));
    assert_eq!(s.next_deadline(), Some(t0 + Duration::from_secs(11)));
    assert!(s
        .handle(Event::Timer, t0 + Duration::from_secs(10))
        .is_empty());
    let out = s.handle(Event::Timer, t0 + Duration::from_secs(11));
    let got = update::check(&sent(&out)[0]).unwrap();
    assert_eq!((got.announced, got.withdrawn), (0, 1));
    assert_eq!(s.advertised().count(), 0);
}

#[test]
fn announcing_again_while_draining_cancels_the_withdraw() {
    let t0 = Instant::now();
    let mut cfg = settings();
    cfg.graceful_shutdown = Duration::from_secs(10);
    let (mut s, _) = established(cfg, 0, t0);
    let vip = p("2001:db8::10/128");
    s.handle(Event::Announce(vip), t0);
    s.handle(Event::Withdraw(vip), t0);
    let out = s.handle(Event::Announce(vip), t0 + Duration::from_secs(2));
    let m = &sent(&out)[0];
    assert!(!contains(m, &GRACEFUL_SHUTDOWN.to_be_bytes()));
    assert_eq!(s.next_deadline(), None);
    assert_eq!(s.advertised().collect::<Vec<_>>(), vec![(&vip, &false)]);
    // An announcement of what the peer already has sends nothing.
    assert!(s.handle(Event::Announce(vip), t0).is_empty());
}

#[test]
fn without_a_wait_a_withdraw_is_immediate() {
    let t0 = Instant::now();
    let (mut s, _) = established(settings(), 0, t0);
    let vip = p("2001:db8::10/128");
    s.handle(Event::Announce(vip), t0);
    let out = s.handle(Event::Withdraw(vip), t0);
    let got = update::check(&sent(&out)[0]).unwrap();
    assert_eq!((got.announced, got.withdrawn), (0, 1));
}

#[test]
fn received_updates_are_checked_counted_and_discarded() {
    let t0 = Instant::now();
    let (mut s, _) = established(settings(), 90, t0);
    let attrs = Attributes {
        prepend_as: Some(PEER_AS),
        local_pref: None,
        graceful_shutdown: false,
        next_hop: "10.0.0.1".parse().unwrap(),
        four_octet_as: true,
    };
    let msgs = update::announce(&[p("198.51.100.0/24"), p("203.0.113.0/24")], &attrs);
    s.handle(Event::Received(&msgs[0]), t0);
    assert_eq!(s.counters().prefixes_received, 2);
    assert_eq!(s.advertised().count(), 0, "nothing received is kept");
    // A bad ORIGIN is treat-as-withdraw (RFC 7606 §7.1): a note, the session stays.
    let mut bad_origin = msgs[0].clone();
    let at = bad_origin
        .windows(3)
        .position(|w| w == [0x40, 1, 1])
        .unwrap();
    bad_origin[at + 3] = 7;
    let out = s.handle(Event::Received(&bad_origin), t0);
    assert!(out
        .iter()
        .any(|a| matches!(a, Action::Note(t) if t.contains("ORIGIN"))));
    assert_eq!(s.state(), State::Established);
    // An NLRI prefix longer than 32 bits is an Invalid Network Field: the session ends.
    let mut bad_nlri = msgs[0].clone();
    let at = bad_nlri.len() - 8;
    bad_nlri[at] = 33;
    let n = sent_notification(&s.handle(Event::Received(&bad_nlri), t0)).unwrap();
    assert_eq!(
        (n.code, n.subcode),
        (notify::UPDATE, notify::INVALID_NETWORK_FIELD)
    );
}

#[test]
fn withdrawing_what_was_never_sent_sends_nothing() {
    let t0 = Instant::now();
    let mut cfg = settings();
    cfg.graceful_shutdown = Duration::from_secs(5);
    let (mut s, _) = established(cfg, 90, t0);
    assert!(s.handle(Event::Withdraw(p("192.0.2.99/32")), t0).is_empty());
    // And a prefix withdrawn while the session is down is not announced when it is up.
    let mut s = Session::new(settings());
    s.handle(Event::Announce(p("192.0.2.10/32")), t0);
    s.handle(Event::Withdraw(p("192.0.2.10/32")), t0);
    s.handle(Event::Start, t0);
    s.handle(Event::Connected, t0);
    s.handle(Event::Received(&peer_open(90)), t0);
    let out = s.handle(Event::Received(&wire::keepalive()), t0);
    assert!(sent(&out).is_empty());
}

#[test]
fn a_session_that_drops_while_draining_forgets_the_drain() {
    let t0 = Instant::now();
    let mut cfg = settings();
    cfg.graceful_shutdown = Duration::from_secs(10);
    let (mut s, _) = established(cfg, 90, t0);
    s.handle(Event::Announce(p("192.0.2.10/32")), t0);
    s.handle(Event::Withdraw(p("192.0.2.10/32")), t0);
    s.handle(Event::Closed, t0);
    assert_eq!(s.state(), State::Idle);
    assert_eq!(s.advertised().count(), 0);
    // Back up: the withdrawn prefix is not announced again.
    let restart = t0 + Duration::from_secs(5);
    assert_eq!(s.handle(Event::Timer, restart)[0], Action::Connect);
    s.handle(Event::Connected, restart);
    s.handle(Event::Received(&peer_open(90)), restart);
    assert!(sent(&s.handle(Event::Received(&wire::keepalive()), restart)).is_empty());
}

#[test]
fn one_large_read_of_many_messages_is_taken_whole() {
    let t0 = Instant::now();
    let (mut s, _) = established(settings(), 90, t0);
    let attrs = Attributes {
        prepend_as: Some(PEER_AS),
        local_pref: None,
        graceful_shutdown: false,
        next_hop: "10.0.0.1".parse().unwrap(),
        four_octet_as: true,
    };
    let many: Vec<Prefix> = (0..3000u32)
        .map(|i| Prefix::host(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i))))
        .collect();
    let mut stream: Vec<u8> = update::announce(&many, &attrs).concat();
    stream.extend((0..300).flat_map(|_| wire::keepalive()));
    assert!(stream.len() > 4 * MAX_MESSAGE);
    let out = s.handle(Event::Received(&stream), t0);
    assert!(sent_notification(&out).is_none(), "{out:?}");
    assert_eq!(s.state(), State::Established);
    assert_eq!(s.counters().prefixes_received, 3000);
}
