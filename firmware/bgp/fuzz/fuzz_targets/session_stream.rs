//! Any bytes from the peer into a session in OpenSent (so OPEN, KEEPALIVE, UPDATE and
//! NOTIFICATION parsing all run): no panic, the session's receive buffer stays bounded,
//! and whatever ends the session ends it with at most one NOTIFICATION of ours.
#![no_main]

use std::time::{Duration, Instant};

use bgp::{Action, Event, Session, Settings, State};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let t0 = Instant::now();
    let mut settings = Settings::new(65000, 65001, "10.0.0.2".parse().unwrap(), "10.0.0.2".parse().unwrap());
    settings.next_hop_v6 = Some("2001:db8::2".parse().unwrap());
    settings.graceful_shutdown = Duration::from_secs(1);
    let mut s = Session::new(settings);
    s.handle(Event::Announce("192.0.2.1/32".parse().unwrap()), t0);
    s.handle(Event::Start, t0);
    s.handle(Event::Connected, t0);
    // The first octet picks the read size, so framing across reads is fuzzed too.
    let Some((&split, stream)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(split).max(1) * 17;
    let mut notifications = 0;
    for piece in stream.chunks(chunk) {
        let out = s.handle(Event::Received(piece), t0);
        notifications += out.iter().filter(|a| matches!(a, Action::NotificationSent(..))).count();
        if s.state() == State::Idle {
            break;
        }
    }
    assert!(notifications <= 1, "{notifications} NOTIFICATIONs for one session");
    // The speaker's own timers keep working whatever came in.
    let _ = s.handle(Event::Withdraw("192.0.2.1/32".parse().unwrap()), t0);
    let _ = s.handle(Event::Timer, t0 + Duration::from_secs(300));
    // And the wire checks alone, on the raw input.
    if let Ok(Some((kind, len))) = bgp::wire::frame(stream) {
        match kind {
            bgp::wire::OPEN => drop(bgp::wire::Open::parse(&stream[..len])),
            bgp::wire::UPDATE => drop(bgp::wire::update::check(&stream[..len])),
            _ => {}
        }
    }
});
