use super::*;

fn service(key: &str, conns: u64, bytes: u64) -> Totals {
    Totals {
        kind: Kind::Service,
        key: key.into(),
        conns,
        bytes,
    }
}

fn real(key: &str, conns: u64, bytes: u64) -> Totals {
    Totals {
        kind: Kind::RealServer,
        ..service(key, conns, bytes)
    }
}

#[test]
fn a_rate_survives_its_byte_within_the_scales_precision() {
    for (scale, smallest) in [(Scale::PerSecond, 0.1), (Scale::Bytes, 1.0)] {
        for value in [smallest, 1.0, 3.0, 250.0, 12_345.0, 1.0e8] {
            let back = decode(encode(value, scale), scale);
            assert!(
                (back / value - 1.0).abs() < 0.045,
                "{value} came back as {back} on {scale:?}"
            );
        }
        assert_eq!(encode(0.0, scale), 0);
        assert_eq!(decode(0, scale), 0.0);
        assert_eq!(encode(f64::NAN, scale), 0);
        assert_eq!(encode(-5.0, scale), 0);
    }
    // One connection in a 10-second step is not lost as zero; 10 Gbit/s fits.
    assert!(encode(0.1, Scale::PerSecond) > 0);
    assert!(decode(encode(1.25e9, Scale::Bytes), Scale::Bytes) > 1.1e9);
    // Beyond the top it stays at the top.
    assert_eq!(encode(1e30, Scale::Bytes), 255);
}

#[test]
fn a_sample_is_the_rate_since_the_previous_reading() {
    let mut h = History::new();
    h.observe(1_000, 10.0, vec![service("TCP 10.0.0.1:80", 100, 5_000)]);
    // The first reading has nothing to measure from.
    let s = h.series("TCP 10.0.0.1:80").unwrap();
    assert_eq!(s.conns_per_s.len(), SAMPLES);
    assert!(s.conns_per_s.iter().all(Option::is_none));
    h.observe(11_000, 10.0, vec![service("TCP 10.0.0.1:80", 150, 25_000)]);
    h.observe(21_000, 10.0, vec![service("TCP 10.0.0.1:80", 150, 25_000)]);
    let s = h.series("TCP 10.0.0.1:80").unwrap();
    let newest: Vec<f64> = s.conns_per_s.iter().flatten().copied().collect();
    assert_eq!(newest.len(), 2);
    assert!((newest[0] - 5.0).abs() < 0.25, "{newest:?}");
    assert_eq!(newest[1], 0.0);
    let bytes: Vec<f64> = s.bytes_per_s.iter().flatten().copied().collect();
    assert!((bytes[0] - 2_000.0).abs() < 90.0, "{bytes:?}");
    // Oldest first: the newest sample is last.
    assert_eq!(s.conns_per_s[SAMPLES - 1], Some(0.0));
    assert_eq!(h.last_ms(), Some(21_000));
}

#[test]
fn a_counter_that_goes_back_counts_from_zero() {
    let mut h = History::new();
    h.observe(0, 10.0, vec![service("FWM 5", 1_000, 0)]);
    h.observe(10_000, 10.0, vec![service("FWM 5", 20, 0)]);
    let s = h.series("FWM 5").unwrap();
    let rate = s.conns_per_s[SAMPLES - 1].unwrap();
    assert!((rate - 2.0).abs() < 0.1, "{rate}");
}

#[test]
fn an_hour_is_kept_and_older_samples_roll_off() {
    let mut h = History::new();
    for step in 0..(SAMPLES as u64 + 50) {
        // Busy for the first 100 steps, then idle.
        let conns = step.min(100) * 10;
        h.observe(
            step * 10_000,
            10.0,
            vec![service("UDP 10.0.0.1:53", conns, 0)],
        );
    }
    let s = h.series("UDP 10.0.0.1:53").unwrap();
    assert_eq!(s.conns_per_s.len(), SAMPLES);
    assert!(s.conns_per_s.iter().all(Option::is_some));
    let busy = s.conns_per_s.iter().flatten().filter(|&&r| r > 0.0).count();
    // Steps 1..=100 were busy; the hour now holds steps 50..=409, so 50..=100 remain.
    assert_eq!(busy, 51);
}

#[test]
fn rows_that_are_gone_are_forgotten_and_rows_are_bounded() {
    let mut h = History::new();
    h.observe(0, 10.0, vec![service("a", 0, 0), service("b", 0, 0)]);
    h.observe(10_000, 10.0, vec![service("a", 0, 0)]);
    assert!(h.series("b").is_none());
    assert_eq!(h.rows(), (1, 0));

    let mut h = History::new();
    let mut totals: Vec<Totals> = (0..MAX_ROWS)
        .map(|i| {
            real(
                &format!("TCP 10.0.0.1:80 10.1.{}.{}:80", i / 256, i % 256),
                0,
                0,
            )
        })
        .collect();
    totals.extend((0..5).map(|i| service(&format!("TCP 10.0.0.{i}:443"), 0, 0)));
    h.observe(0, 10.0, totals);
    // Services are offered first, so they have rows; five real servers have none.
    assert_eq!(h.rows(), (MAX_ROWS, 5));
    assert_eq!(h.keys(Kind::Service).count(), 5);
    assert!(h.heap_bytes() < MAX_ROWS * 1_000);
}

#[test]
fn transitions_are_bounded_and_only_the_last_hour_is_shown() {
    let mut h = History::new();
    for i in 0..(MAX_TRANSITIONS as u64 + 10) {
        h.transition(Transition {
            at_ms: i * 60_000,
            what: "vrrp",
            subject: "VI_1".into(),
            to: if i % 2 == 0 { "MASTER" } else { "BACKUP" }.into(),
        });
    }
    let now = (MAX_TRANSITIONS as u64 + 10) * 60_000;
    let shown = h.transitions(now);
    // One a minute: the last hour holds sixty, from exactly an hour ago.
    assert_eq!(shown.len(), 60);
    assert_eq!(shown[0].at_ms, now - 3_600_000);
    assert!(shown.windows(2).all(|w| w[0].at_ms < w[1].at_ms));
    assert_eq!(h.transitions.len(), MAX_TRANSITIONS);
}
