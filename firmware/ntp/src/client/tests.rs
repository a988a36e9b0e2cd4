use super::*;

const SEC: i64 = 1_000_000_000;

fn addr(n: u8) -> SocketAddr {
    SocketAddr::from(([192, 168, 0, n], 123))
}

/// A server whose clock is `ahead_ns` ahead of ours, that answers after `delay_ns`.
fn answer_to(
    request: &[u8; PACKET_LEN],
    sent: NtpTime,
    ahead_ns: i64,
    delay_ns: i64,
) -> ([u8; PACKET_LEN], NtpTime) {
    let mut p = [0u8; PACKET_LEN];
    p[0] = 4 << 3 | 4;
    p[1] = 3;
    p[24..32].copy_from_slice(&request[40..48]);
    let t2 = sent.plus(ahead_ns + delay_ns / 2);
    p[32..40].copy_from_slice(&t2.0.to_be_bytes());
    p[40..48].copy_from_slice(&t2.0.to_be_bytes());
    (p, sent.plus(delay_ns))
}

fn nonces() -> impl FnMut() -> u64 {
    let mut n = 0x1234_5678_0000_0000u64;
    move || {
        n += 1;
        n
    }
}

fn wall() -> NtpTime {
    NtpTime::from_unix(1_733_000_000, 0)
}

#[test]
fn the_first_answer_steps_then_small_offsets_slew_and_the_poll_grows() {
    let mut c = Client::new(&[addr(1)], 0);
    assert_eq!(c.wake_at(), Some(0));
    assert!(!c.status(0).synchronised);
    let out = c.poll(0, wall(), nonces());
    assert_eq!(out.send.len(), 1);
    // A year ahead: stepped.
    let year = 365 * 86_400 * SEC;
    let (p, t4) = answer_to(&out.send[0].1, wall(), year, 4_000_000);
    let out = c.receive(addr(1), &p, 4, t4);
    let Some(Adjust::Step(by)) = out.adjust else {
        panic!("{out:?}")
    };
    assert!((by - year).abs() < 10);
    let st = c.status(4);
    assert!(st.synchronised);
    assert_eq!(st.last.unwrap().server, addr(1));
    // The confirming round comes soon; 3 ms off is slewed, and the polls grow from
    // 64 s to 1024 s.
    assert_eq!(c.wake_at(), Some(4 + CONFIRM_AFTER_STEP_MS));
    let mut now = 4 + CONFIRM_AFTER_STEP_MS;
    let mut waits = Vec::new();
    for _ in 0..6 {
        let out = c.poll(now, wall(), nonces());
        assert_eq!(out.send.len(), 1, "at {now}");
        let (p, t4) = answer_to(&out.send[0].1, wall(), 3_000_000, 1_000_000);
        let out = c.receive(addr(1), &p, now + 1, t4);
        assert!(matches!(out.adjust, Some(Adjust::Slew(o)) if (o - 3_000_000).abs() < 10));
        let next = c.wake_at().unwrap();
        waits.push((next - now - 1) / 1000);
        now = next;
    }
    assert_eq!(waits, [64, 128, 256, 512, 1024, 1024]);
    // A jump beyond 128 ms is stepped again, and the poll starts over.
    let out = c.poll(now, wall(), nonces());
    let (p, t4) = answer_to(&out.send[0].1, wall(), -200_000_000, 1_000_000);
    let out = c.receive(addr(1), &p, now, t4);
    assert!(matches!(out.adjust, Some(Adjust::Step(o)) if (o + 200_000_000).abs() < 10));
    assert_eq!(c.wake_at(), Some(now + CONFIRM_AFTER_STEP_MS));
}

#[test]
fn of_several_servers_the_one_with_the_smallest_delay_is_used() {
    let mut c = Client::new(&[addr(1), addr(2), addr(3)], 0);
    let out = c.poll(0, wall(), nonces());
    assert_eq!(out.send.len(), 3);
    let by_addr = |a| out.send.iter().find(|(to, _)| *to == a).unwrap().1;
    let (p1, t1) = answer_to(&by_addr(addr(1)), wall(), 5 * SEC, 50_000_000);
    let (p2, t2) = answer_to(&by_addr(addr(2)), wall(), 7 * SEC, 2_000_000);
    assert_eq!(
        c.receive(addr(1), &p1, 50, t1).adjust,
        None,
        "waits for the others"
    );
    assert_eq!(c.receive(addr(2), &p2, 52, t2).adjust, None);
    // Server 3 never answers: the round ends at its deadline with server 2's answer.
    let out = c.poll(ANSWER_WAIT_MS, wall(), nonces());
    assert!(out.send.is_empty());
    assert!(
        matches!(out.adjust, Some(Adjust::Step(o)) if (o - 7 * SEC).abs() < 10),
        "{out:?}"
    );
    let st = c.status(ANSWER_WAIT_MS);
    assert_eq!(st.last.unwrap().server, addr(2));
    assert_eq!(st.servers[2].1.as_deref(), Some("no answer within 2 s"));
    assert_eq!(st.servers[0].1, None);
}

#[test]
fn unreachable_servers_are_retried_with_a_bounded_backoff_and_logged_sparingly() {
    let mut c = Client::new(&[addr(1)], 0);
    let mut now = 0;
    let mut waits = Vec::new();
    let mut said = Vec::new();
    for _ in 0..10 {
        let out = c.poll(now, wall(), nonces());
        assert_eq!(out.send.len(), 1);
        now = c.wake_at().unwrap();
        let out = c.poll(now, wall(), nonces());
        assert!(out.send.is_empty() && out.adjust.is_none());
        for e in out.events {
            let Event::NoAnswer(n) = e else {
                panic!("{e:?}")
            };
            said.push(n);
        }
        let next = c.wake_at().unwrap();
        waits.push((next - now) / 1000);
        now = next;
    }
    assert_eq!(waits, [2, 4, 8, 16, 32, 64, 64, 64, 64, 64]);
    assert_eq!(said, [1, 2, 4, 8]);
    assert!(!c.status(now).synchronised);
}

#[test]
fn spoofed_answers_are_ignored_and_the_real_one_still_counts() {
    let mut c = Client::new(&[addr(1)], 0);
    let out = c.poll(0, wall(), nonces());
    let request = out.send[0].1;
    let mut other = request;
    other[40..48].copy_from_slice(&1u64.to_be_bytes());
    let (spoof, t4) = answer_to(&other, wall(), 1000 * SEC, 1_000_000);
    let out = c.receive(addr(1), &spoof, 1, t4);
    assert_eq!(out.events, [Event::Rejected(addr(1), Reject::NotOurs)]);
    assert_eq!(out.adjust, None);
    // From a server we did not ask: nothing at all.
    let (p, t4) = answer_to(&request, wall(), 1000 * SEC, 1_000_000);
    assert_eq!(c.receive(addr(9), &p, 1, t4), Output::default());
    let (p, t4) = answer_to(&request, wall(), 2 * SEC, 1_000_000);
    let out = c.receive(addr(1), &p, 2, t4);
    assert!(matches!(out.adjust, Some(Adjust::Step(o)) if (o - 2 * SEC).abs() < 10));
    // A duplicate of the answer after the round: nothing.
    assert_eq!(c.receive(addr(1), &p, 3, t4), Output::default());
}

#[test]
fn kiss_o_death_deny_stops_asking_and_rate_slows_down() {
    let mut c = Client::new(&[addr(1), addr(2)], 0);
    let out = c.poll(0, wall(), nonces());
    let kiss = |request: &[u8; PACKET_LEN], code: &[u8; 4]| {
        let (mut p, _) = answer_to(request, wall(), 0, 0);
        p[1] = 0;
        p[12..16].copy_from_slice(code);
        p
    };
    let out1 = c.receive(addr(1), &kiss(&out.send[0].1, b"DENY"), 1, wall());
    assert_eq!(out1.events, [Event::Denied(addr(1), "DENY".into())]);
    let out2 = c.receive(addr(2), &kiss(&out.send[1].1, b"RATE"), 1, wall());
    assert_eq!(out2.adjust, None);
    // The round is over (both answered); RATE made the wait two minimum polls.
    assert_eq!(c.wake_at(), Some(1 + 2 * MIN_POLL_MS));
    let out = c.poll(1 + 2 * MIN_POLL_MS, wall(), nonces());
    assert_eq!(out.send.len(), 1);
    assert_eq!(
        out.send[0].0,
        addr(2),
        "the denying server is not asked again"
    );
    // With every server denying, nothing is ever due.
    let mut c = Client::new(&[addr(1)], 0);
    let out = c.poll(0, wall(), nonces());
    c.receive(addr(1), &kiss(&out.send[0].1, b"RSTR"), 1, wall());
    assert_eq!(c.wake_at(), None);
    assert_eq!(
        c.status(1).servers[0].1.as_deref(),
        Some("kiss-o'-death RSTR")
    );
}

#[test]
fn a_server_with_an_unsynchronised_clock_is_not_used() {
    let mut c = Client::new(&[addr(1)], 0);
    let out = c.poll(0, wall(), nonces());
    let (mut p, t4) = answer_to(&out.send[0].1, wall(), SEC, 0);
    p[0] |= 0xc0;
    let out = c.receive(addr(1), &p, 1, t4);
    assert_eq!(out.adjust, None);
    assert_eq!(
        out.events,
        [Event::Rejected(addr(1), Reject::Alarm), Event::NoAnswer(1)]
    );
    assert!(!c.status(1).synchronised);
}

#[test]
fn synchronised_goes_stale_without_answers() {
    let mut c = Client::new(&[addr(1)], 0);
    let out = c.poll(0, wall(), nonces());
    let (p, t4) = answer_to(&out.send[0].1, wall(), SEC, 0);
    c.receive(addr(1), &p, 0, t4);
    assert!(c.status(STALE_AFTER_MS - 1).synchronised);
    assert!(!c.status(STALE_AFTER_MS).synchronised);
    assert!(
        c.status(STALE_AFTER_MS).last.is_some(),
        "the last sync is still shown"
    );
}

#[test]
fn a_client_for_new_servers_slews_a_clock_already_set() {
    let mut old = Client::new(&[addr(1)], 0);
    let out = old.poll(0, wall(), nonces());
    let (p, t4) = answer_to(&out.send[0].1, wall(), SEC, 0);
    old.receive(addr(1), &p, 0, t4);
    let mut c = Client::new(&[addr(2)], 0).following(&old);
    assert!(c.clock_set());
    assert!(
        c.status(0).synchronised,
        "still synchronised by the old answer"
    );
    assert_eq!(c.status(0).last.unwrap().server, addr(1));
    let out = c.poll(0, wall(), nonces());
    let (p, t4) = answer_to(&out.send[0].1, wall(), 2_000_000, 1_000_000);
    let out = c.receive(addr(2), &p, 1, t4);
    assert!(matches!(out.adjust, Some(Adjust::Slew(_))), "{out:?}");
    assert!(!Client::new(&[addr(2)], 0).clock_set());
}

#[test]
fn no_servers_means_nothing_to_do() {
    let c = Client::new(&[], 0);
    assert_eq!(c.wake_at(), None);
    let many: Vec<SocketAddr> = (1..=20).map(addr).collect();
    assert_eq!(Client::new(&many, 0).status(0).servers.len(), MAX_SERVERS);
}
