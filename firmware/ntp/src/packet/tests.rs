use super::*;

const SEC: i64 = 1_000_000_000;

/// A server's answer to `nonce`: received at `t2`, sent at `t3`.
fn server_answer(nonce: NtpTime, t2: NtpTime, t3: NtpTime) -> [u8; PACKET_LEN] {
    let mut p = [0u8; PACKET_LEN];
    p[0] = 4 << 3 | 4;
    p[1] = 2; // stratum
    p[12..16].copy_from_slice(b"GPS\0");
    p[24..32].copy_from_slice(&nonce.0.to_be_bytes());
    p[32..40].copy_from_slice(&t2.0.to_be_bytes());
    p[40..48].copy_from_slice(&t3.0.to_be_bytes());
    p
}

#[test]
fn unix_and_ntp_times_convert_both_ways_across_the_2036_era_change() {
    let t = NtpTime::from_unix(0, 0);
    assert_eq!(t.0 >> 32, UNIX_EPOCH_IN_NTP);
    assert_eq!(t.to_unix(), (0, 0));
    let now = NtpTime::from_unix(1_796_000_000, 500_000_000);
    assert_eq!(now.to_unix(), (1_796_000_000, 500_000_000));
    // 2036-02-07T06:28:16Z (Unix 2085978496) is second 0 of era 1.
    let later = NtpTime::from_unix(2_085_978_496 + 3600, 0);
    assert_eq!(later.0 >> 32, 3600);
    assert_eq!(later.to_unix(), (2_085_978_496 + 3600, 0));
    // A difference across the era change is still right.
    let before = NtpTime::from_unix(2_085_978_496 - 1000, 0);
    assert_eq!(later.since(before), 4600 * SEC);
    assert_eq!(before.since(later), -4600 * SEC);
    assert_eq!(before.plus(4600 * SEC), later);
}

#[test]
fn the_request_is_version_4_client_mode_with_only_the_nonce() {
    let p = request(NtpTime(0x0102_0304_0506_0708));
    assert_eq!(p[0], 0x23);
    assert!(p[1..40].iter().all(|&b| b == 0));
    assert_eq!(&p[40..], &[1, 2, 3, 4, 5, 6, 7, 8]);
}

#[test]
fn offset_and_delay_follow_rfc_5905() {
    // Our clock is a year behind; the path takes 10 ms each way; the server holds the
    // request 1 ms.
    let year = 365 * 86_400 * SEC;
    let t1 = NtpTime::from_unix(1_733_000_000, 0);
    let t2 = t1.plus(year + 10_000_000);
    let t3 = t2.plus(1_000_000);
    let t4 = t1.plus(21_000_000);
    let nonce = NtpTime(0xdead_beef_0000_0001);
    let s = answer(&server_answer(nonce, t2, t3), nonce, t1, t4).unwrap();
    // Offsets and delays within 1 ns: 32.32 fixed point rounds down.
    assert!((s.offset_ns - year).abs() <= 2, "{}", s.offset_ns);
    assert!((s.delay_ns - 20_000_000).abs() <= 2, "{}", s.delay_ns);
    assert_eq!(s.stratum, 2);
    // Ahead of the server by 3 s: a negative offset.
    let t2 = t1.plus(-3 * SEC + 5_000_000);
    let t3 = t2;
    let t4 = t1.plus(10_000_000);
    let s = answer(&server_answer(nonce, t2, t3), nonce, t1, t4).unwrap();
    assert!((s.offset_ns + 3 * SEC).abs() <= 2, "{}", s.offset_ns);
    assert!((s.delay_ns - 10_000_000).abs() <= 2);
}

#[test]
fn every_sanity_check_rejects_with_its_reason() {
    let t1 = NtpTime::from_unix(1_733_000_000, 0);
    let nonce = NtpTime(42);
    let good = server_answer(nonce, t1, t1);
    let check = |p: &[u8]| answer(p, nonce, t1, t1);
    assert!(check(&good).is_ok());
    assert_eq!(check(&good[..47]), Err(Reject::Short(47)));
    let mut p = good;
    p[0] = 4 << 3 | 3;
    assert_eq!(check(&p), Err(Reject::NotServer(3)));
    let mut p = good;
    p[0] = 5 << 3 | 4;
    assert_eq!(check(&p), Err(Reject::Version(5)));
    // Someone else's answer, or one to an older request.
    let mut p = good;
    p[24..32].copy_from_slice(&43u64.to_be_bytes());
    assert_eq!(check(&p), Err(Reject::NotOurs));
    let mut p = good;
    p[1] = 0;
    p[12..16].copy_from_slice(b"RATE");
    assert_eq!(check(&p), Err(Reject::KissOfDeath("RATE".into())));
    let mut p = good;
    p[0] |= 0xc0;
    assert_eq!(check(&p), Err(Reject::Alarm));
    let mut p = good;
    p[1] = 16;
    assert_eq!(check(&p), Err(Reject::Stratum(16)));
    let mut p = good;
    p[40..48].fill(0);
    assert_eq!(check(&p), Err(Reject::ZeroTimestamp));
    let mut p = good;
    p[32..40].fill(0);
    assert_eq!(check(&p), Err(Reject::ZeroTimestamp));
    // Version 3 servers are still everywhere.
    let mut p = good;
    p[0] = 3 << 3 | 4;
    assert!(check(&p).is_ok());
    // Every reason reads as a sentence.
    assert_eq!(
        Reject::KissOfDeath("DENY".into()).to_string(),
        "kiss-o'-death DENY"
    );
}

#[test]
fn a_negative_delay_from_rounding_is_zero() {
    let t1 = NtpTime::from_unix(1_733_000_000, 0);
    let nonce = NtpTime(7);
    // The server says it held the request longer than our round trip took.
    let s = answer(&server_answer(nonce, t1, t1.plus(SEC)), nonce, t1, t1).unwrap();
    assert_eq!(s.delay_ns, 0);
}
