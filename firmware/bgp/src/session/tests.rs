//! The session with a simulated clock: every timer and every error path of RFC 4271 §8
//! that an announce-only, connect-only speaker meets.

use super::*;
use crate::wire::update::{Attributes, GRACEFUL_SHUTDOWN};

const LOCAL_AS: u32 = 4_200_000_001; // above 65535: the OPEN must carry AS_TRANS
const PEER_AS: u32 = 65001;

fn settings() -> Settings {
    let mut s = Settings::new(
        LOCAL_AS,
        PEER_AS,
        Ipv4Addr::new(10, 0, 0, 2),
        "10.0.0.2".parse().unwrap(),
    );
    s.next_hop_v6 = Some("2001:db8::2".parse().unwrap());
    s
}

fn peer_open(hold_time: u16) -> Vec<u8> {
    Open {
        asn: PEER_AS,
        hold_time,
        bgp_id: Ipv4Addr::new(10, 0, 0, 1),
        four_octet_as: true,
        families: vec![(AFI_IPV4, SAFI_UNICAST), (AFI_IPV6, SAFI_UNICAST)],
    }
    .emit()
}

fn sent(actions: &[Action]) -> Vec<Vec<u8>> {
    actions
        .iter()
        .filter_map(|a| {
            if let Action::Send(b) = a {
                Some(b.clone())
            } else {
                None
            }
        })
        .collect()
}

fn sent_notification(actions: &[Action]) -> Option<Notification> {
    actions.iter().find_map(|a| {
        if let Action::NotificationSent(n, _) = a {
            Some(n.clone())
        } else {
            None
        }
    })
}

fn kinds(actions: &[Action]) -> Vec<u8> {
    sent(actions).iter().map(|m| m[18]).collect()
}

/// A session brought to Established at `t0` with the peer's hold time; returns the
/// session and the actions of the last step.
fn established(s: Settings, hold: u16, t0: Instant) -> (Session, Vec<Action>) {
    let mut session = Session::new(s);
    session.handle(Event::Start, t0);
    session.handle(Event::Connected, t0);
    session.handle(Event::Received(&peer_open(hold)), t0);
    assert_eq!(session.state(), State::OpenConfirm);
    let out = session.handle(Event::Received(&wire::keepalive()), t0);
    assert_eq!(session.state(), State::Established);
    (session, out)
}

fn p(s: &str) -> Prefix {
    s.parse().unwrap()
}

#[test]
fn connect_failure_waits_in_active_and_retries() {
    let t0 = Instant::now();
    let mut s = Session::new(settings());
    assert_eq!(
        s.handle(Event::Start, t0),
        vec![
            Action::Connect,
            Action::State {
                from: State::Idle,
                to: State::Connect
            }
        ]
    );
    s.handle(Event::Closed, t0);
    assert_eq!(s.state(), State::Active);
    assert_eq!(s.next_deadline(), Some(t0 + Duration::from_secs(120)));
    assert!(s
        .handle(Event::Timer, t0 + Duration::from_secs(119))
        .is_empty());
    let out = s.handle(Event::Timer, t0 + Duration::from_secs(120));
    assert_eq!(out[0], Action::Connect);
    assert_eq!(s.state(), State::Connect);
    // No answer at all within ConnectRetryTime: drop the attempt and try again.
    let out = s.handle(Event::Timer, t0 + Duration::from_secs(240));
    assert_eq!(out, vec![Action::Disconnect, Action::Connect]);
}

#[test]
fn open_carries_as_trans_and_our_capabilities() {
    let t0 = Instant::now();
    let mut s = Session::new(settings());
    s.handle(Event::Start, t0);
    let out = s.handle(Event::Connected, t0);
    let msgs = sent(&out);
    assert_eq!(msgs.len(), 1);
    let open = &msgs[0];
    assert_eq!(u16::from_be_bytes([open[20], open[21]]), wire::AS_TRANS);
    let parsed = Open::parse(open).unwrap();
    assert_eq!(parsed.asn, LOCAL_AS);
    assert!(parsed.four_octet_as);
    assert_eq!(
        parsed.families,
        vec![(AFI_IPV4, SAFI_UNICAST), (AFI_IPV6, SAFI_UNICAST)]
    );
    assert_eq!(parsed.hold_time, 90);
    // OpenSent holds for four minutes (RFC 4271 §8.2.2).
    assert_eq!(s.next_deadline(), Some(t0 + OPEN_SENT_HOLD));
}

#[test]
fn hold_time_is_negotiated_and_keepalives_run_at_a_third() {
    let t0 = Instant::now();
    let (mut s, _) = established(settings(), 9, t0);
    let n = s.negotiated().unwrap();
    assert_eq!((n.hold_time, n.keepalive), (9, 3));
    assert_eq!(s.next_deadline(), Some(t0 + Duration::from_secs(3)));
    let out = s.handle(Event::Timer, t0 + Duration::from_secs(3));
    assert_eq!(kinds(&out), vec![wire::KEEPALIVE]);
    // A KEEPALIVE from the peer at 5 s moves the hold expiry to 14 s.
    s.handle(
        Event::Received(&wire::keepalive()),
        t0 + Duration::from_secs(5),
    );
    for at in [6, 9, 12] {
        let out = s.handle(Event::Timer, t0 + Duration::from_secs(at));
        assert_eq!(kinds(&out), vec![wire::KEEPALIVE], "at {at} s");
    }
    assert_eq!(s.state(), State::Established);
    let out = s.handle(Event::Timer, t0 + Duration::from_secs(14));
    assert_eq!(
        sent_notification(&out),
        Some(Notification::new(notify::HOLD_TIMER_EXPIRED, 0, &[]))
    );
    assert!(out.contains(&Action::Disconnect));
    assert_eq!(s.state(), State::Idle);
    // Started by hand, so it comes back after the idle hold time.
    assert_eq!(s.next_deadline(), Some(t0 + Duration::from_secs(19)));
    let out = s.handle(Event::Timer, t0 + Duration::from_secs(19));
    assert_eq!(out[0], Action::Connect);
}

#[test]
fn a_configured_keepalive_is_used_when_shorter() {
    let t0 = Instant::now();
    let mut cfg = settings();
    cfg.keepalive = Some(1);
    let (s, _) = established(cfg, 30, t0);
    assert_eq!(s.negotiated().unwrap().keepalive, 1);
}

#[test]
fn hold_time_zero_means_no_keepalives_and_no_expiry() {
    let t0 = Instant::now();
    let (mut s, _) = established(settings(), 0, t0);
    assert_eq!(s.negotiated().unwrap().hold_time, 0);
    assert_eq!(s.next_deadline(), None);
    assert!(s
        .handle(Event::Timer, t0 + Duration::from_secs(3600))
        .is_empty());
    assert_eq!(s.state(), State::Established);
}

#[test]
fn hold_expiry_in_open_sent() {
    let t0 = Instant::now();
    let mut s = Session::new(settings());
    s.handle(Event::Start, t0);
    s.handle(Event::Connected, t0);
    let out = s.handle(Event::Timer, t0 + OPEN_SENT_HOLD);
    assert_eq!(
        sent_notification(&out).unwrap().code,
        notify::HOLD_TIMER_EXPIRED
    );
}

fn open_error(open: Vec<u8>) -> Notification {
    let t0 = Instant::now();
    let mut s = Session::new(settings());
    s.handle(Event::Start, t0);
    s.handle(Event::Connected, t0);
    let out = s.handle(Event::Received(&open), t0);
    assert_eq!(s.state(), State::Idle);
    sent_notification(&out).expect("a NOTIFICATION")
}

#[test]
fn bad_opens_get_the_notification_of_rfc_4271_6_2() {
    let n = open_error(peer_open(2));
    assert_eq!(
        (n.code, n.subcode),
        (notify::OPEN, notify::UNACCEPTABLE_HOLD_TIME)
    );
    let mut o = peer_open(90);
    o[19] = 3;
    let n = open_error(o);
    assert_eq!(
        (n.code, n.subcode, n.data.as_slice()),
        (notify::OPEN, notify::UNSUPPORTED_VERSION, &[0u8, 4][..])
    );
    let wrong_as = Open {
        asn: 65009,
        hold_time: 90,
        bgp_id: Ipv4Addr::new(10, 0, 0, 1),
        four_octet_as: true,
        families: vec![],
    }
    .emit();
    assert_eq!(open_error(wrong_as).subcode, notify::BAD_PEER_AS);
    // Without the 4-octet AS capability: the 2-octet field alone, and refused.
    let mut no_as4 = Open {
        asn: PEER_AS,
        hold_time: 90,
        bgp_id: Ipv4Addr::new(10, 0, 0, 1),
        four_octet_as: true,
        families: vec![],
    }
    .emit();
    no_as4.truncate(no_as4.len() - 8);
    no_as4[28] = 0;
    let len = no_as4.len() as u16;
    no_as4[16..18].copy_from_slice(&len.to_be_bytes());
    let n = open_error(no_as4);
    assert_eq!(
        (n.subcode, &n.data[..2]),
        (notify::UNSUPPORTED_CAPABILITY, &[65u8, 4][..])
    );
    let mut zero_id = peer_open(90);
    zero_id[24..28].fill(0);
    assert_eq!(open_error(zero_id).subcode, notify::BAD_BGP_IDENTIFIER);
    let mut other_param = peer_open(90);
    other_param[29] = 9;
    assert_eq!(
        open_error(other_param).subcode,
        notify::UNSUPPORTED_OPTIONAL_PARAMETER
    );
}

#[test]
fn a_peer_without_multiprotocol_gets_ipv4_only() {
    let t0 = Instant::now();
    let mut s = Session::new(settings());
    s.handle(Event::Announce(p("192.0.2.10/32")), t0);
    s.handle(Event::Announce(p("2001:db8::10/128")), t0);
    s.handle(Event::Start, t0);
    s.handle(Event::Connected, t0);
    let open = Open {
        asn: PEER_AS,
        hold_time: 90,
        bgp_id: Ipv4Addr::new(10, 0, 0, 1),
        four_octet_as: true,
        families: vec![],
    }
    .emit();
    s.handle(Event::Received(&open), t0);
    let out = s.handle(Event::Received(&wire::keepalive()), t0);
    assert_eq!(kinds(&out), vec![wire::UPDATE]);
    assert!(out
        .iter()
        .any(|a| matches!(a, Action::Note(t) if t.contains("IPv6 unicast"))));
}

#[test]
fn header_errors_get_message_header_error() {
    for (mangle, subcode) in [
        (
            Box::new(|m: &mut Vec<u8>| m[0] = 0) as Box<dyn Fn(&mut Vec<u8>)>,
            notify::CONNECTION_NOT_SYNCHRONIZED,
        ),
        (
            Box::new(|m: &mut Vec<u8>| m[17] = 20),
            notify::BAD_MESSAGE_LENGTH,
        ),
        (
            Box::new(|m: &mut Vec<u8>| m[18] = 9),
            notify::BAD_MESSAGE_TYPE,
        ),
    ] {
        let t0 = Instant::now();
        let (mut s, _) = established(settings(), 90, t0);
        let mut m = wire::keepalive();
        mangle(&mut m);
        let out = s.handle(Event::Received(&m), t0);
        let n = sent_notification(&out).unwrap();
        assert_eq!((n.code, n.subcode), (notify::HEADER, subcode), "{n}");
        assert_eq!(s.state(), State::Idle);
    }
}

#[test]
fn an_oversized_length_field_ends_the_session_before_any_buffering() {
    let t0 = Instant::now();
    let (mut s, _) = established(settings(), 90, t0);
    let mut m = wire::keepalive();
    m[16..18].copy_from_slice(&60000u16.to_be_bytes());
    m[18] = wire::UPDATE;
    let n = sent_notification(&s.handle(Event::Received(&m), t0)).unwrap();
    assert_eq!(
        (n.code, n.subcode, n.data),
        (
            notify::HEADER,
            notify::BAD_MESSAGE_LENGTH,
            60000u16.to_be_bytes().to_vec()
        )
    );
}

#[test]
fn unexpected_messages_are_fsm_errors() {
    let t0 = Instant::now();
    let mut s = Session::new(settings());
    s.handle(Event::Start, t0);
    s.handle(Event::Connected, t0);
    s.handle(Event::Received(&peer_open(90)), t0);
    let upd = update::withdraw(&[p("192.0.2.0/24")]).remove(0);
    let n = sent_notification(&s.handle(Event::Received(&upd), t0)).unwrap();
    assert_eq!(
        (n.code, n.subcode),
        (notify::FSM, notify::FSM_UNEXPECTED_IN_OPEN_CONFIRM)
    );
    let (mut s, _) = established(settings(), 90, t0);
    let n = sent_notification(&s.handle(Event::Received(&peer_open(90)), t0)).unwrap();
    assert_eq!(
        (n.code, n.subcode),
        (notify::FSM, notify::FSM_UNEXPECTED_IN_ESTABLISHED)
    );
}

#[test]
fn a_notification_from_the_peer_is_reported_and_closes() {
    let t0 = Instant::now();
    let (mut s, _) = established(settings(), 90, t0);
    let mut data = vec![4];
    data.extend_from_slice(b"bye!");
    let n = Notification::new(notify::CEASE, notify::ADMINISTRATIVE_SHUTDOWN, &data);
    let out = s.handle(Event::Received(&wire::notification(&n)), t0);
    assert!(out.contains(&Action::NotificationReceived(n.clone())));
    assert_eq!(
        n.to_string(),
        "Cease/Administrative Shutdown (6/2): \"bye!\""
    );
    assert!(
        sent(&out).is_empty(),
        "no NOTIFICATION answers a NOTIFICATION"
    );
    assert_eq!(s.state(), State::Idle);
    assert_eq!(s.counters().notifications_received, 1);
}

#[test]
fn messages_split_across_reads_are_put_back_together() {
    let t0 = Instant::now();
    let mut s = Session::new(settings());
    s.handle(Event::Start, t0);
    s.handle(Event::Connected, t0);
    let mut stream = peer_open(90);
    stream.extend(wire::keepalive());
    for chunk in stream.chunks(7) {
        s.handle(Event::Received(chunk), t0);
    }
    assert_eq!(s.state(), State::Established);
}

#[test]
fn stop_sends_cease_and_stays_down() {
    let t0 = Instant::now();
    let (mut s, _) = established(settings(), 90, t0);
    let out = s.handle(Event::Stop, t0);
    let n = sent_notification(&out).unwrap();
    assert_eq!(n.to_string(), "Cease/Administrative Shutdown (6/2)");
    assert_eq!(s.state(), State::Idle);
    assert_eq!(s.next_deadline(), None);
}

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
fn hold_expiry_in_open_confirm_uses_the_negotiated_time() {
    let t0 = Instant::now();
    let mut s = Session::new(settings());
    s.handle(Event::Start, t0);
    s.handle(Event::Connected, t0);
    s.handle(Event::Received(&peer_open(6)), t0);
    assert_eq!(s.state(), State::OpenConfirm);
    // KEEPALIVEs every 2 s, but the peer's never comes.
    assert_eq!(
        kinds(&s.handle(Event::Timer, t0 + Duration::from_secs(2))),
        vec![wire::KEEPALIVE]
    );
    assert_eq!(
        kinds(&s.handle(Event::Timer, t0 + Duration::from_secs(4))),
        vec![wire::KEEPALIVE]
    );
    let out = s.handle(Event::Timer, t0 + Duration::from_secs(6));
    assert_eq!(
        sent_notification(&out).unwrap().code,
        notify::HOLD_TIMER_EXPIRED
    );
    assert_eq!(s.state(), State::Idle);
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
