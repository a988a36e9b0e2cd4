//! The vectors are advertisements that keepalived 2.2.7 (Debian) sent, captured with
//! tcpdump in a network namespace on the development machine; only the IP header is cut.

use super::*;

fn v4(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const GROUP_V4: &str = "224.0.0.18";
const GROUP_V6: &str = "ff02::12";
const KEEPALIVED_SRC_V6: &str = "fe80::102e:d2ff:fe72:2a9a";

/// vrid 51, priority 100, advert_int 1, auth PASS "sfjpvrrp", VIP 192.168.0.100.
const KEEPALIVED_V2_PASS: [u8; 20] = [
    0x21, 0x33, 0x64, 0x01, 0x01, 0x01, 0xf2, 0x03, 0xc0, 0xa8, 0x00, 0x64, b's', b'f', b'j', b'p',
    b'v', b'r', b'r', b'p',
];
/// vrid 52, priority 150, advert_int 0.5, VIP 192.168.0.100.
const KEEPALIVED_V3_V4: [u8; 12] = [
    0x31, 0x34, 0x96, 0x01, 0x00, 0x32, 0xd5, 0xee, 0xc0, 0xa8, 0x00, 0x64,
];
/// vrid 53, priority 200, advert_int 1, VIP fd00::100.
const KEEPALIVED_V3_V6: [u8; 24] = [
    0x31, 0x35, 0xc8, 0x01, 0x00, 0x64, 0xfe, 0x0a, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0x01, 0x00,
];

fn parse(bytes: &[u8], src: &str, dst: &str, mode: ChecksumMode) -> Result<Repr, Error> {
    let ipv6 = v4(src).is_ipv6();
    let packet = Packet::new_checked(bytes, ipv6)?;
    Repr::parse(&packet, v4(src), v4(dst), mode)
}

fn emit(repr: &Repr, src: &str, dst: &str, mode: ChecksumMode) -> Vec<u8> {
    let mut buf = vec![0xaa; repr.buffer_len()];
    let n = repr.emit(&mut buf, v4(src), v4(dst), mode).unwrap();
    buf.truncate(n);
    buf
}

#[test]
fn keepalived_v2_with_a_password() {
    let repr = parse(
        &KEEPALIVED_V2_PASS,
        "192.168.0.101",
        GROUP_V4,
        ChecksumMode::default(),
    )
    .unwrap();
    assert_eq!(
        repr,
        Repr {
            version: Version::V2,
            vrid: 51,
            priority: 100,
            advert_int_cs: 100,
            auth: Auth::Pass(*b"sfjpvrrp"),
            addresses: vec![v4("192.168.0.100")],
        }
    );
    assert_eq!(
        emit(&repr, "192.168.0.101", GROUP_V4, ChecksumMode::default()),
        KEEPALIVED_V2_PASS
    );
}

#[test]
fn keepalived_v3_ipv4_with_the_pseudo_header() {
    let repr = parse(
        &KEEPALIVED_V3_V4,
        "192.168.0.101",
        GROUP_V4,
        ChecksumMode::PseudoHeader,
    )
    .unwrap();
    assert_eq!(
        repr,
        Repr {
            version: Version::V3,
            vrid: 52,
            priority: 150,
            advert_int_cs: 50,
            auth: Auth::None,
            addresses: vec![v4("192.168.0.100")],
        }
    );
    assert_eq!(
        emit(&repr, "192.168.0.101", GROUP_V4, ChecksumMode::PseudoHeader),
        KEEPALIVED_V3_V4
    );
    // The same bytes fail for a peer that leaves the pseudo-header out, and from another source.
    assert_eq!(
        parse(
            &KEEPALIVED_V3_V4,
            "192.168.0.101",
            GROUP_V4,
            ChecksumMode::WithoutPseudoHeader
        ),
        Err(Error::Checksum)
    );
    assert_eq!(
        parse(
            &KEEPALIVED_V3_V4,
            "192.168.0.102",
            GROUP_V4,
            ChecksumMode::PseudoHeader
        ),
        Err(Error::Checksum)
    );
}

#[test]
fn keepalived_v3_ipv6() {
    let repr = parse(
        &KEEPALIVED_V3_V6,
        KEEPALIVED_SRC_V6,
        GROUP_V6,
        ChecksumMode::default(),
    )
    .unwrap();
    assert_eq!(repr.version, Version::V3);
    assert_eq!(
        (repr.vrid, repr.priority, repr.advert_int_cs),
        (53, 200, 100)
    );
    assert_eq!(repr.addresses, vec![v4("fd00::100")]);
    assert_eq!(
        emit(&repr, KEEPALIVED_SRC_V6, GROUP_V6, ChecksumMode::default()),
        KEEPALIVED_V3_V6
    );
}

#[test]
fn v3_without_the_pseudo_header_round_trips() {
    let repr = parse(
        &KEEPALIVED_V3_V4,
        "192.168.0.101",
        GROUP_V4,
        ChecksumMode::default(),
    )
    .unwrap();
    let bytes = emit(
        &repr,
        "192.168.0.101",
        GROUP_V4,
        ChecksumMode::WithoutPseudoHeader,
    );
    assert_ne!(bytes, KEEPALIVED_V3_V4);
    assert_eq!(
        parse(
            &bytes,
            "192.168.0.101",
            GROUP_V4,
            ChecksumMode::WithoutPseudoHeader
        ),
        Ok(repr)
    );
}

#[test]
fn every_malformation_is_an_error_value() {
    let src = "192.168.0.101";
    assert_eq!(
        parse(
            &KEEPALIVED_V3_V4[..7],
            src,
            GROUP_V4,
            ChecksumMode::default()
        ),
        Err(Error::Truncated)
    );
    // The count says two addresses but only one is there.
    let mut short = KEEPALIVED_V3_V4;
    short[3] = 2;
    assert_eq!(
        parse(&short, src, GROUP_V4, ChecksumMode::default()),
        Err(Error::Truncated)
    );
    let mut version = KEEPALIVED_V3_V4;
    version[0] = 0x41;
    assert_eq!(
        parse(&version, src, GROUP_V4, ChecksumMode::default()),
        Err(Error::Version(4))
    );
    let mut kind = KEEPALIVED_V3_V4;
    kind[0] = 0x32;
    assert_eq!(
        parse(&kind, src, GROUP_V4, ChecksumMode::default()),
        Err(Error::Type(2))
    );
    let mut flipped = KEEPALIVED_V3_V4;
    flipped[11] ^= 1;
    assert_eq!(
        parse(&flipped, src, GROUP_V4, ChecksumMode::default()),
        Err(Error::Checksum)
    );
    // VRRPv2 has no IPv6 form.
    let mut v2_over_v6 = KEEPALIVED_V3_V6.to_vec();
    v2_over_v6[0] = 0x21;
    v2_over_v6.extend([0u8; 8]);
    assert_eq!(
        parse(
            &v2_over_v6,
            KEEPALIVED_SRC_V6,
            GROUP_V6,
            ChecksumMode::default()
        ),
        Err(Error::Version(2))
    );
    assert_eq!(
        parse(&KEEPALIVED_V3_V4, src, GROUP_V6, ChecksumMode::default()),
        Err(Error::Family)
    );
}

#[test]
fn trailing_bytes_beyond_the_message_are_ignored() {
    let mut padded = KEEPALIVED_V3_V4.to_vec();
    padded.extend([0u8; 6]);
    assert!(parse(&padded, "192.168.0.101", GROUP_V4, ChecksumMode::default()).is_ok());
}

#[test]
fn emit_refuses_a_short_buffer() {
    let repr = parse(
        &KEEPALIVED_V3_V4,
        "192.168.0.101",
        GROUP_V4,
        ChecksumMode::default(),
    )
    .unwrap();
    let mut small = [0u8; 11];
    assert_eq!(
        repr.emit(
            &mut small,
            v4("192.168.0.101"),
            v4(GROUP_V4),
            ChecksumMode::default()
        ),
        Err(Error::Truncated)
    );
}
