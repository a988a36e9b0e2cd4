use super::update::{self, Attributes};
use super::*;

fn p(s: &str) -> Prefix {
    s.parse().unwrap()
}

#[test]
fn prefixes_read_write_and_refuse_host_bits() {
    assert_eq!(p("192.0.2.1").to_string(), "192.0.2.1/32");
    assert_eq!(p("2001:db8::/32").to_string(), "2001:db8::/32");
    assert!("192.0.2.1/24"
        .parse::<Prefix>()
        .unwrap_err()
        .contains("host bits"));
    assert!("192.0.2.0/33".parse::<Prefix>().is_err());
    let mut out = Vec::new();
    p("10.1.0.0/17").emit(&mut out);
    assert_eq!(out, [17, 10, 1, 0]);
    out.clear();
    p("0.0.0.0/0").emit(&mut out);
    assert_eq!(out, [0]);
}

#[test]
fn open_round_trips() {
    let open = Open {
        asn: 65001,
        hold_time: 30,
        bgp_id: Ipv4Addr::new(1, 2, 3, 4),
        four_octet_as: true,
        families: vec![(AFI_IPV6, SAFI_UNICAST)],
    };
    let bytes = open.emit();
    assert_eq!(frame(&bytes).unwrap(), Some((OPEN, bytes.len())));
    assert_eq!(Open::parse(&bytes).unwrap(), open);
    // A truncated capability is an OPEN Message Error.
    let mut cut = bytes.clone();
    let last = cut.len() - 5;
    cut[last] = 9;
    assert_eq!(
        Open::parse(&cut).unwrap_err().notification.code,
        crate::notify::OPEN
    );
}

#[test]
fn frame_waits_for_the_whole_message() {
    let k = keepalive();
    assert_eq!(frame(&k[..18]).unwrap(), None);
    assert_eq!(frame(&k).unwrap(), Some((KEEPALIVE, 19)));
    let mut u = update::withdraw(&[p("192.0.2.0/24")]).remove(0);
    let len = u.len();
    assert_eq!(frame(&u[..len - 1]).unwrap(), None);
    u.extend_from_slice(&k);
    assert_eq!(frame(&u).unwrap(), Some((UPDATE, len)));
}

#[test]
fn many_prefixes_are_split_into_messages_of_at_most_4096_octets() {
    let v4: Vec<Prefix> = (0..2000u32)
        .map(|i| Prefix::host(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i))))
        .collect();
    let attrs = Attributes {
        prepend_as: Some(65000),
        local_pref: None,
        graceful_shutdown: true,
        next_hop: "10.0.0.2".parse().unwrap(),
        four_octet_as: true,
    };
    let msgs = update::announce(&v4, &attrs);
    assert!(msgs.len() > 1);
    let total: usize = msgs
        .iter()
        .map(|m| update::check(m).unwrap().announced)
        .sum();
    assert_eq!(total, 2000);
    assert!(msgs
        .iter()
        .all(|m| m.len() <= MAX_MESSAGE && frame(m).unwrap() == Some((UPDATE, m.len()))));
    let v6: Vec<Prefix> = (0..500u128)
        .map(|i| Prefix::host(IpAddr::V6(Ipv6Addr::from(0x2001_0db8 << 96 | i))))
        .collect();
    let attrs = Attributes {
        next_hop: "2001:db8::2".parse().unwrap(),
        four_octet_as: true,
        ..attrs
    };
    for msgs in [update::announce(&v6, &attrs), update::withdraw(&v6)] {
        assert!(msgs.len() > 1);
        let total: usize = msgs
            .iter()
            .map(|m| {
                let got = update::check(m).unwrap();
                got.announced + got.withdrawn
            })
            .sum();
        assert_eq!(total, 500);
        assert!(msgs.iter().all(|m| m.len() <= MAX_MESSAGE));
    }
}

#[test]
fn update_errors() {
    use crate::notify::*;
    let attrs = Attributes {
        prepend_as: Some(65000),
        local_pref: None,
        graceful_shutdown: false,
        next_hop: "10.0.0.2".parse().unwrap(),
        four_octet_as: true,
    };
    let good = update::announce(&[p("192.0.2.0/24")], &attrs).remove(0);
    // The path attribute length points past the end.
    let mut m = good.clone();
    m[22] = 200;
    assert_eq!(
        update::check(&m).unwrap_err().notification.subcode,
        MALFORMED_ATTRIBUTE_LIST
    );
    // An unknown attribute marked well-known.
    let mut m = good.clone();
    m[23..25].copy_from_slice(&[0x40, 99]);
    let err = update::check(&m).unwrap_err();
    assert_eq!(
        (err.notification.subcode, err.notification.data.as_slice()),
        (UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE, &[0x40u8, 99][..])
    );
    // The same unknown type marked optional is ignored.
    m[23] = 0xc0;
    assert_eq!(
        update::check(&m).unwrap().treat_as_withdraw.as_deref(),
        Some("no ORIGIN attribute")
    );
    // Two MP_REACH_NLRI.
    let v6 = Attributes {
        next_hop: "2001:db8::2".parse().unwrap(),
        four_octet_as: true,
        ..attrs
    };
    let mut m = update::announce(&[p("2001:db8::/64")], &v6).remove(0);
    let mp_len = usize::from(m[25]) + 3;
    let mp = m[23..23 + mp_len].to_vec();
    m.splice(23..23, mp.iter().copied());
    let alen = u16::from_be_bytes([m[21], m[22]]) + mp_len as u16;
    m[21..23].copy_from_slice(&alen.to_be_bytes());
    let len = m.len() as u16;
    m[16..18].copy_from_slice(&len.to_be_bytes());
    assert_eq!(
        update::check(&m).unwrap_err().notification.subcode,
        MALFORMED_ATTRIBUTE_LIST
    );
}
