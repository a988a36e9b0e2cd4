use super::*;

fn emitted(m: &IpvsMessage) -> Vec<u8> {
    let mut buf = vec![0xaa; m.buffer_len()];
    m.emit(&mut buf);
    buf
}

/// What the kernel would send back for a request: the same attributes as a reply.
fn as_reply(m: &IpvsMessage, cmd: u8) -> IpvsMessage {
    IpvsMessage {
        cmd,
        attrs: vec![],
        raw: emitted(m),
    }
}

fn vip80() -> ServiceKey {
    ServiceKey::Addr {
        protocol: Protocol::Tcp,
        addr: "192.168.0.100".parse().unwrap(),
        port: 80,
    }
}

#[test]
fn new_service_matches_the_kernel_layout_byte_for_byte() {
    let m = new_service(&Service::new(vip80(), "rr"));
    assert_eq!(m.cmd, 1);
    #[rustfmt::skip]
    let expected: Vec<u8> = [
        &[84, 0, 1, 0x80][..],                  // IPVS_CMD_ATTR_SERVICE, nested
        &[6, 0, 1, 0, 2, 0, 0, 0],              // AF = AF_INET
        &[6, 0, 2, 0, 6, 0, 0, 0],              // PROTOCOL = TCP
        &[20, 0, 3, 0, 192, 168, 0, 100],       // ADDR, union nf_inet_addr ...
        &[0; 12],                               // ... zero-padded to 16 bytes
        &[6, 0, 4, 0, 0, 80, 0, 0],             // PORT = 80, big-endian
        &[7, 0, 6, 0, b'r', b'r', 0, 0],        // SCHED_NAME = "rr\0"
        &[12, 0, 7, 0, 0, 0, 0, 0, 255, 255, 255, 255], // FLAGS {flags 0, mask ~0}
        &[8, 0, 8, 0, 0, 0, 0, 0],              // TIMEOUT = 0
        &[8, 0, 9, 0, 255, 255, 255, 255],      // NETMASK = 255.255.255.255
    ]
    .concat();
    assert_eq!(emitted(&m), expected);
}

#[test]
fn persistence_sets_the_flag_timeout_and_mask() {
    let mut s = Service::new(vip80(), "wlc");
    s.persistence_timeout = Some(360);
    s.persistence_prefix = 24;
    let bytes = emitted(&new_service(&s));
    // FLAGS: persistent (1); TIMEOUT 360; NETMASK 255.255.255.0
    assert!(bytes
        .windows(12)
        .any(|w| w == [12, 0, 7, 0, 1, 0, 0, 0, 255, 255, 255, 255]));
    assert!(bytes
        .windows(8)
        .any(|w| w == [8, 0, 8, 0, 0x68, 0x01, 0, 0]));
    assert!(bytes
        .windows(8)
        .any(|w| w == [8, 0, 9, 0, 255, 255, 255, 0]));
}

#[test]
fn services_read_back_as_written() {
    let mut v6 = Service::new(
        ServiceKey::Addr {
            protocol: Protocol::Udp,
            addr: "fd00::100".parse().unwrap(),
            port: 53,
        },
        "sh",
    );
    v6.persistence_timeout = Some(60);
    v6.persistence_prefix = 64;
    v6.sched_flags = 0b011;
    v6.one_packet = true;
    let mut fwm = Service::new(
        ServiceKey::Fwmark {
            ipv6: false,
            mark: 7,
        },
        "mh",
    );
    fwm.pe_name = Some("sip".into());
    for s in [Service::new(vip80(), "rr"), v6, fwm] {
        let reply = as_reply(&new_service(&s), cmd::NEW_SERVICE);
        let decoded = decode_service(&reply).unwrap();
        assert_eq!(decoded.service, s);
        assert_eq!(decoded.stats, Stats::default());
    }
}

#[test]
fn del_service_carries_only_the_key() {
    let bytes = emitted(&del_service(&ServiceKey::Fwmark {
        ipv6: true,
        mark: 5,
    }));
    assert_eq!(
        bytes,
        [20, 0, 1, 0x80, 6, 0, 1, 0, 10, 0, 0, 0, 8, 0, 5, 0, 5, 0, 0, 0]
    );
}

#[test]
fn destinations_carry_method_weight_and_thresholds() {
    let d = Destination::new("192.168.33.11".parse().unwrap(), 80, Forward::Masq, 3);
    let m = set_dest(&vip80(), &d);
    assert_eq!(m.cmd, 6);
    let bytes = emitted(&m);
    #[rustfmt::skip]
    let dest: Vec<u8> = [
        &[72, 0, 2, 0x80][..],                // IPVS_CMD_ATTR_DEST, nested
        &[20, 0, 1, 0, 192, 168, 33, 11], &[0; 12],
        &[6, 0, 2, 0, 0, 80, 0, 0],           // PORT
        &[6, 0, 11, 0, 2, 0, 0, 0],           // ADDR_FAMILY
        &[8, 0, 3, 0, 0, 0, 0, 0],            // FWD_METHOD = MASQ
        &[8, 0, 4, 0, 3, 0, 0, 0],            // WEIGHT = 3
        &[8, 0, 5, 0, 0, 0, 0, 0],            // U_THRESH
        &[8, 0, 6, 0, 0, 0, 0, 0],            // L_THRESH
    ]
    .concat();
    assert!(bytes.ends_with(&dest), "{bytes:?}");
}

#[test]
fn destinations_read_back_as_written() {
    for (addr, forward) in [
        ("192.168.33.12", Forward::Route),
        ("fd33::12", Forward::Tunnel),
    ] {
        let mut d = Destination::new(addr.parse().unwrap(), 8080, forward, 0);
        d.upper_threshold = 100;
        d.lower_threshold = 10;
        let reply = as_reply(&new_dest(&vip80(), &d), cmd::NEW_DEST);
        let decoded = decode_dest(&reply, false).unwrap();
        assert_eq!(decoded.destination, d);
    }
}

#[test]
fn a_tunnel_s_encapsulation_is_sent_in_the_kernel_s_layout_and_read_back() {
    let mut d = Destination::new("192.168.33.11".parse().unwrap(), 80, Forward::Tunnel, 1);
    d.encap = Encap {
        kind: EncapKind::Gue,
        port: 6080,
        csum: EncapCsum::Remcsum,
    };
    let bytes = emitted(&new_dest(&vip80(), &d));
    #[rustfmt::skip]
    let tail: Vec<u8> = [
        &[5, 0, 13, 0, 1, 0, 0, 0][..],       // TUN_TYPE = GUE (u8, padded)
        &[6, 0, 14, 0, 0x17, 0xc0, 0, 0],     // TUN_PORT = 6080, network order
        &[6, 0, 15, 0, 2, 0, 0, 0],           // TUN_FLAGS = REMCSUM
    ]
    .concat();
    assert!(bytes.ends_with(&tail), "{bytes:?}");
    let reply = as_reply(&new_dest(&vip80(), &d), cmd::NEW_DEST);
    assert_eq!(decode_dest(&reply, false).unwrap().destination, d);
    // Plain IPIP, and any other method, send none of them: a kernel before 5.2
    // refuses attributes it does not know.
    for forward in [Forward::Tunnel, Forward::Masq] {
        let plain = emitted(&new_dest(
            &vip80(),
            &Destination::new(d.addr, 80, forward, 1),
        ));
        assert!(!plain.windows(4).any(|w| w == [5, 0, 13, 0]), "{plain:?}");
    }
}

#[test]
fn statistics_prefer_the_64_bit_set() {
    let stats32 = Attr::new(
        dest::STATS,
        Value::Nested(vec![
            Attr::new(stats::CONNS, Value::U32(5)),
            Attr::new(stats::INBYTES, Value::Bytes(1000u64.to_ne_bytes().to_vec())),
        ]),
    );
    let stats64 = Attr::new(
        dest::STATS64,
        Value::Nested(vec![
            Attr::new(
                stats::CONNS,
                Value::Bytes(5_000_000_000u64.to_ne_bytes().to_vec()),
            ),
            Attr::new(stats::CPS, Value::Bytes(7u64.to_ne_bytes().to_vec())),
        ]),
    );
    let d = Destination::new("192.168.33.11".parse().unwrap(), 80, Forward::Masq, 1);
    let mut m = new_dest(&vip80(), &d);
    let Value::Nested(attrs) = &mut m.attrs[1].value else {
        panic!()
    };
    attrs.push(Attr::new(dest::ACTIVE_CONNS, Value::U32(2)));
    attrs.push(Attr::new(dest::INACT_CONNS, Value::U32(19)));
    attrs.push(stats32.clone());
    let only32 = decode_dest(&as_reply(&m, cmd::NEW_DEST), false).unwrap();
    assert_eq!((only32.active_conns, only32.inactive_conns), (2, 19));
    assert_eq!((only32.stats.conns, only32.stats.in_bytes), (5, 1000));
    let Value::Nested(attrs) = &mut m.attrs[1].value else {
        panic!()
    };
    attrs.push(stats64);
    let both = decode_dest(&as_reply(&m, cmd::NEW_DEST), false).unwrap();
    assert_eq!((both.stats.conns, both.stats.cps), (5_000_000_000, 7));
}

#[test]
fn info_config_and_daemon_replies() {
    let info = IpvsMessage {
        cmd: 14, // IPVS_CMD_SET_INFO, the reply to GET_INFO
        attrs: vec![],
        raw: vec![
            8, 0, 1, 0, 0x01, 0x02, 0x01, 0x00, 8, 0, 2, 0, 0x00, 0x10, 0, 0,
        ],
    };
    let info = decode_info(&info).unwrap();
    assert_eq!(
        (info.version_text(), info.conn_table_size),
        ("1.2.1".to_string(), 4096)
    );

    let t = Timeouts {
        tcp: 900,
        tcp_fin: 120,
        udp: 300,
    };
    assert_eq!(
        decode_config(&as_reply(&set_config(&t), cmd::SET_CONFIG)).unwrap(),
        t
    );

    let d = SyncDaemon {
        state: SyncState::Backup,
        interface: "int".into(),
        sync_id: 51,
    };
    assert_eq!(
        decode_daemon(&as_reply(&new_daemon(&d), cmd::NEW_DAEMON)).unwrap(),
        d
    );
}

#[test]
fn malformed_replies_are_errors() {
    let empty = IpvsMessage {
        cmd: cmd::NEW_SERVICE,
        attrs: vec![],
        raw: vec![],
    };
    assert!(decode_service(&empty)
        .unwrap_err()
        .to_string()
        .contains("without its service"));
    let truncated = IpvsMessage {
        cmd: cmd::NEW_DEST,
        attrs: vec![],
        raw: vec![12, 0, 2, 0x80, 8, 0, 4, 0, 1],
    };
    assert!(decode_dest(&truncated, false).is_err());
}
