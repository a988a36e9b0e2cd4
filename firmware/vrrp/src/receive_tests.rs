use std::net::{IpAddr, Ipv4Addr};

use super::*;
use crate::ah::Seal;
use crate::{Auth, Version};

const SRC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);

fn advert(version: Version, vrid: u8, auth: Auth) -> Repr {
    Repr {
        version,
        vrid,
        priority: 100,
        advert_int_cs: 100,
        auth,
        addresses: vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100))],
    }
}

fn bytes(repr: &Repr) -> Vec<u8> {
    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(
        &mut out,
        SRC.into(),
        GROUP.into(),
        ChecksumMode::PseudoHeader,
    )
    .unwrap();
    out
}

fn arrived(payload: &[u8]) -> Arrived<'_> {
    Arrived {
        src: SRC.into(),
        dst: GROUP.into(),
        ttl: 255,
        payload,
        datagram: &[],
    }
}

fn receiver<'a>(vrid: u8, here: &'a [u8], key: Option<&'a Key>) -> Receiver<'a> {
    Receiver {
        vrid,
        vrids_here: here,
        ah_key: key,
        unicast: false,
        checksum: ChecksumMode::PseudoHeader,
    }
}

fn why(verdict: Verdict) -> Invalid {
    match verdict {
        Verdict::Invalid { why, .. } => why,
        other => panic!("expected a drop, got {other:?}"),
    }
}

#[test]
fn an_advert_for_this_vrid_is_handed_over_whole() {
    let sent = advert(Version::V3, 7, Auth::None);
    let payload = bytes(&sent);
    match classify(&arrived(&payload), &receiver(7, &[7], None)) {
        Verdict::Advert {
            src,
            ttl,
            advert,
            ah_seq,
        } => {
            assert_eq!((src, ttl, ah_seq), (IpAddr::V4(SRC), 255, None));
            assert_eq!(advert, sent);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn another_instance_s_vrid_is_not_ours_and_an_unknown_one_is_counted() {
    let payload = bytes(&advert(Version::V3, 8, Auth::None));
    assert_eq!(
        classify(&arrived(&payload), &receiver(7, &[7, 8], None)),
        Verdict::NotOurs
    );
    assert_eq!(
        why(classify(&arrived(&payload), &receiver(7, &[7], None))),
        Invalid::Vrid
    );
}

#[test]
fn each_damage_is_counted_under_its_own_reason() {
    let good = bytes(&advert(Version::V3, 7, Auth::None));
    let me = receiver(7, &[7], None);
    let mut checksum = good.clone();
    checksum[2] ^= 1;
    assert_eq!(why(classify(&arrived(&checksum), &me)), Invalid::Checksum);
    let mut version = good.clone();
    version[0] = (5 << 4) | (version[0] & 0x0f);
    assert_eq!(why(classify(&arrived(&version), &me)), Invalid::Version);
    let mut kind = good.clone();
    kind[0] = (kind[0] & 0xf0) | 2;
    assert_eq!(why(classify(&arrived(&kind), &me)), Invalid::Type);
    assert_eq!(why(classify(&arrived(&good[..5]), &me)), Invalid::Length);
    assert_eq!(why(classify(&arrived(&[]), &me)), Invalid::Length);
}

#[test]
fn ah_opens_with_the_right_key_and_counts_a_wrong_one_as_auth() {
    let key = Key::from_pass("secret");
    let seal = Seal {
        src: SRC,
        dst: GROUP,
        ip_id: 9,
        seq: 41,
        unicast: false,
        ttl: 255,
    };
    let sent = advert(Version::V2, 7, Auth::Ah);
    let datagram = ah::emit_v4(&sent, &seal, &key).unwrap();
    let packet = Arrived {
        datagram: &datagram,
        payload: &datagram[20..],
        ..arrived(&[])
    };
    match classify(&packet, &receiver(7, &[7], Some(&key))) {
        Verdict::Advert { advert, ah_seq, .. } => {
            assert_eq!(advert, sent);
            assert_eq!(ah_seq, Some(41));
        }
        other => panic!("{other:?}"),
    }
    let other_key = Key::from_pass("guess");
    assert_eq!(
        why(classify(&packet, &receiver(7, &[7], Some(&other_key)))),
        Invalid::Auth
    );
    // The VRID is read from inside AH, before the ICV, for every instance's key.
    assert_eq!(
        classify(&packet, &receiver(9, &[7, 9], Some(&other_key))),
        Verdict::NotOurs
    );
    let truncated = Arrived {
        datagram: &datagram[..30],
        ..packet
    };
    assert_eq!(
        why(classify(&truncated, &receiver(7, &[7], Some(&key)))),
        Invalid::Length
    );
}
