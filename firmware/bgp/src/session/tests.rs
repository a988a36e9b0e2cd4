//! The session with a simulated clock: every timer and every error path of RFC 4271 §8
//! that an announce-only, connect-only speaker meets.

use super::*;

pub(super) const LOCAL_AS: u32 = 4_200_000_001; // above 65535: the OPEN must carry AS_TRANS
pub(super) const PEER_AS: u32 = 65001;

pub(super) fn settings() -> Settings {
    let mut s = Settings::new(
        LOCAL_AS,
        PEER_AS,
        Ipv4Addr::new(10, 0, 0, 2),
        "10.0.0.2".parse().unwrap(),
    );
    s.next_hop_v6 = Some("2001:db8::2".parse().unwrap());
    s
}

pub(super) fn peer_open(hold_time: u16) -> Vec<u8> {
    Open {
        asn: PEER_AS,
        hold_time,
        bgp_id: Ipv4Addr::new(10, 0, 0, 1),
        four_octet_as: true,
        families: vec![(AFI_IPV4, SAFI_UNICAST), (AFI_IPV6, SAFI_UNICAST)],
    }
    .emit()
}

/// The peer's OPEN with no Multiprotocol capability: IPv4 unicast alone.
pub(super) fn peer_open_without_multiprotocol() -> Vec<u8> {
    Open {
        asn: PEER_AS,
        hold_time: 90,
        bgp_id: Ipv4Addr::new(10, 0, 0, 1),
        four_octet_as: true,
        families: vec![],
    }
    .emit()
}

pub(super) fn sent(actions: &[Action]) -> Vec<Vec<u8>> {
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

pub(super) fn sent_notification(actions: &[Action]) -> Option<Notification> {
    actions.iter().find_map(|a| {
        if let Action::NotificationSent(n, _) = a {
            Some(n.clone())
        } else {
            None
        }
    })
}

pub(super) fn kinds(actions: &[Action]) -> Vec<u8> {
    sent(actions).iter().map(|m| m[18]).collect()
}

/// A session brought to Established at `t0` with the peer's hold time; returns the
/// session and the actions of the last step.
pub(super) fn established(s: Settings, hold: u16, t0: Instant) -> (Session, Vec<Action>) {
    let mut session = Session::new(s);
    session.handle(Event::Start, t0);
    session.handle(Event::Connected, t0);
    session.handle(Event::Received(&peer_open(hold)), t0);
    assert_eq!(session.state(), State::OpenConfirm);
    let out = session.handle(Event::Received(&wire::keepalive()), t0);
    assert_eq!(session.state(), State::Established);
    (session, out)
}

pub(super) fn p(s: &str) -> Prefix {
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
    s.handle(Event::Received(&peer_open_without_multiprotocol()), t0);
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
fn bfd_down_resets_the_session_with_cease_bfd_down_and_restarts() {
    let t0 = Instant::now();
    let (mut s, _) = established(settings(), 90, t0);
    let out = s.handle(Event::BfdDown, t0);
    let n = sent_notification(&out).unwrap();
    assert_eq!(n.to_string(), "Cease/BFD Down (6/10)");
    assert!(out.contains(&Action::Disconnect));
    assert_eq!(s.state(), State::Idle);
    // Started by hand: back after the idle hold time, as after any error.
    assert_eq!(s.next_deadline(), Some(t0 + settings().idle_hold));
    // Idle already: nothing to do.
    assert!(s.handle(Event::BfdDown, t0).is_empty());
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
