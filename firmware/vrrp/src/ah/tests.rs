//! Datagrams captured with tcpdump from keepalived 2.2.7 (Debian 12) in a network
//! namespace: `auth_type AH`, `auth_pass sfjpvrrp`, VRID 51, priority 100, advert_int 1,
//! VIPs 192.168.0.100 and 192.168.0.200, sent from 192.168.0.101.

use super::*;
use crate::packet::{Auth, Packet};

const KEY: &str = "sfjpvrrp";

/// Multicast, sequence number 1 (IP id 1), priority 100.
#[rustfmt::skip]
const MULTICAST_SEQ1: [u8; 68] = [
    0x45, 0xc0, 0x00, 0x44, 0x00, 0x01, 0x00, 0x00, 0xff, 0x33, 0x19, 0xa6,
    0xc0, 0xa8, 0x00, 0x65, 0xe0, 0x00, 0x00, 0x12,
    0x70, 0x04, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x65, 0x00, 0x00, 0x00, 0x01,
    0x77, 0x5e, 0x8d, 0x65, 0x55, 0xbf, 0x46, 0xf0, 0xab, 0xb5, 0x1a, 0xf9,
    0x21, 0x33, 0x64, 0x02, 0x02, 0x01, 0xf6, 0x4b,
    0xc0, 0xa8, 0x00, 0x64, 0xc0, 0xa8, 0x00, 0xc8,
    0, 0, 0, 0, 0, 0, 0, 0,
];

/// Multicast, sequence number 5: the priority-0 advertisement keepalived sends on SIGTERM.
#[rustfmt::skip]
const MULTICAST_STOP: [u8; 68] = [
    0x45, 0xc0, 0x00, 0x44, 0x00, 0x05, 0x00, 0x00, 0xff, 0x33, 0x19, 0xa2,
    0xc0, 0xa8, 0x00, 0x65, 0xe0, 0x00, 0x00, 0x12,
    0x70, 0x04, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x65, 0x00, 0x00, 0x00, 0x05,
    0x68, 0xdc, 0x7e, 0xcc, 0x15, 0x50, 0xa1, 0xa4, 0xb3, 0x34, 0x9a, 0x15,
    0x21, 0x33, 0x00, 0x02, 0x02, 0x01, 0x5a, 0x4c,
    0xc0, 0xa8, 0x00, 0x64, 0xc0, 0xa8, 0x00, 0xc8,
    0, 0, 0, 0, 0, 0, 0, 0,
];

/// `unicast_peer 192.168.0.102`, sequence number 1: the TTL is not in the ICV.
#[rustfmt::skip]
const UNICAST_SEQ1: [u8; 68] = [
    0x45, 0xc0, 0x00, 0x44, 0x00, 0x01, 0x00, 0x00, 0xff, 0x33, 0x38, 0xaa,
    0xc0, 0xa8, 0x00, 0x65, 0xc0, 0xa8, 0x00, 0x66,
    0x70, 0x04, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x65, 0x00, 0x00, 0x00, 0x01,
    0x80, 0xeb, 0xaf, 0x4c, 0x8d, 0x64, 0xab, 0xb1, 0xe4, 0xa9, 0xfc, 0x89,
    0x21, 0x33, 0x64, 0x02, 0x02, 0x01, 0xf6, 0x4b,
    0xc0, 0xa8, 0x00, 0x64, 0xc0, 0xa8, 0x00, 0xc8,
    0, 0, 0, 0, 0, 0, 0, 0,
];

fn repr(priority: u8) -> Repr {
    Repr {
        version: Version::V2,
        vrid: 51,
        priority,
        advert_int_cs: 100,
        auth: Auth::Ah,
        addresses: vec![
            "192.168.0.100".parse().unwrap(),
            "192.168.0.200".parse().unwrap(),
        ],
    }
}

const SRC: Ipv4Addr = Ipv4Addr::new(192, 168, 0, 101);
const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
const PEER: Ipv4Addr = Ipv4Addr::new(192, 168, 0, 102);

#[test]
fn emits_keepalived_datagrams_byte_for_byte() {
    let key = Key::from_pass(KEY);
    let seal = |dst, ip_id, seq, unicast| Seal {
        src: SRC,
        dst,
        ip_id,
        seq,
        unicast,
        ttl: 255,
    };
    assert_eq!(
        emit_v4(&repr(100), &seal(GROUP, 1, 1, false), &key).unwrap(),
        MULTICAST_SEQ1
    );
    assert_eq!(
        emit_v4(&repr(0), &seal(GROUP, 5, 5, false), &key).unwrap(),
        MULTICAST_STOP
    );
    assert_eq!(
        emit_v4(&repr(100), &seal(PEER, 1, 1, true), &key).unwrap(),
        UNICAST_SEQ1
    );
}

#[test]
fn opens_keepalived_datagrams_and_finds_the_advert() {
    let key = Key::from_pass(KEY);
    for (datagram, unicast, seq, priority) in [
        (&MULTICAST_SEQ1, false, 1, 100),
        (&MULTICAST_STOP, false, 5, 0),
        (&UNICAST_SEQ1, true, 1, 100),
    ] {
        let opened = open_v4(datagram, &key, unicast).unwrap();
        assert_eq!((opened.src, opened.ttl, opened.seq), (SRC, 255, seq));
        let packet = Packet::new_checked(opened.vrrp, false).unwrap();
        let parsed = Repr::parse(
            &packet,
            opened.src.into(),
            opened.dst.into(),
            ChecksumMode::PseudoHeader,
        )
        .unwrap();
        assert_eq!(parsed, repr(priority));
    }
}

#[test]
fn a_wrong_password_or_any_changed_covered_byte_fails_the_icv() {
    let key = Key::from_pass(KEY);
    assert_eq!(
        open_v4(&MULTICAST_SEQ1, &Key::from_pass("sfjpvrrq"), false),
        Err(AhError::Icv)
    );
    // Multicast: the TTL is covered, so a router that decremented it is caught.
    let mut routed = MULTICAST_SEQ1;
    routed[8] = 254;
    assert_eq!(open_v4(&routed, &key, false), Err(AhError::Icv));
    // Unicast: the TTL is not covered; TOS and the header checksum never are.
    let mut mutable = UNICAST_SEQ1;
    mutable[8] = 64;
    mutable[1] = 0;
    mutable[10] = 0;
    assert!(open_v4(&mutable, &key, true).is_ok());
    // The sequence number, the priority, an address: all covered.
    for at in [31, 46, 55, 67] {
        let mut changed = MULTICAST_SEQ1;
        changed[at] ^= 1;
        assert_eq!(
            open_v4(&changed, &key, false),
            Err(AhError::Icv),
            "byte {at}"
        );
    }
}

#[test]
fn malformed_datagrams_are_error_values() {
    let key = Key::from_pass(KEY);
    assert_eq!(
        open_v4(&MULTICAST_SEQ1[..40], &key, false),
        Err(AhError::Truncated)
    );
    assert_eq!(open_v4(&[], &key, false), Err(AhError::Truncated));
    let mut not_ah = MULTICAST_SEQ1;
    not_ah[9] = 112;
    assert_eq!(open_v4(&not_ah, &key, false), Err(AhError::NotAh));
    let mut other = MULTICAST_SEQ1;
    other[20] = 6;
    assert_eq!(open_v4(&other, &key, false), Err(AhError::NextHeader(6)));
}

#[test]
fn the_spi_must_be_the_source_address() {
    // A valid ICV over a datagram whose SPI names another host: keepalived drops it.
    let key = Key::from_pass(KEY);
    let mut forged = emit_v4(
        &repr(100),
        &Seal {
            src: SRC,
            dst: GROUP,
            ip_id: 1,
            seq: 1,
            unicast: false,
            ttl: 255,
        },
        &key,
    )
    .unwrap();
    forged[27] = 0x66;
    let icv = icv(&forged, 20, &key, false);
    forged[32..44].copy_from_slice(&icv);
    assert_eq!(open_v4(&forged, &key, false), Err(AhError::Spi));
}

#[test]
fn long_passwords_are_cut_to_eight_bytes_as_keepalived_does() {
    assert_eq!(Key::from_pass("sfjpvrrp-and-more"), Key::from_pass(KEY));
    assert_ne!(Key::from_pass("sfjp"), Key::from_pass(KEY));
}

#[test]
fn a_unicast_ttl_is_sent_and_left_out_of_the_icv() {
    // keepalived's unicast_ttl: the TTL is not covered in unicast mode, so a datagram
    // that crossed a router (or was sent with a lower TTL) still verifies.
    let key = Key::from_pass(KEY);
    let seal = Seal {
        src: SRC,
        dst: PEER,
        ip_id: 3,
        seq: 3,
        unicast: true,
        ttl: 2,
    };
    let datagram = emit_v4(&repr(100), &seal, &key).unwrap();
    assert_eq!(datagram[8], 2);
    let opened = open_v4(&datagram, &key, true).unwrap();
    assert_eq!(opened.ttl, 2);
}
