//! The round trip's generators for virtual servers and their checks (the VRRP and
//! global ones are in roundtrip.rs).

use super::*;

pub(super) fn status_codes() -> impl Strategy<Value = StatusCodes> {
    proptest::collection::vec((100u16..=599, 0u16..50), 1..3).prop_map(|ranges| {
        StatusCodes(
            ranges
                .into_iter()
                .map(|(low, span)| (low, (low + span).min(599)))
                .collect(),
        )
    })
}

pub(super) fn check() -> impl Strategy<Value = Check> {
    let url = (
        "/[a-z]{0,6}",
        proptest::option::of(status_codes()),
        proptest::option::of(any::<[u8; 16]>()),
        proptest::option::of((
            "[a-z^$.]{1,6}( [a-z]{1,3})?",
            any::<bool>(),
            proptest::option::of(0u32..100),
        )),
    )
        .prop_map(|(path, status_code, digest, regex)| UrlCheck {
            status_code,
            digest,
            regex: regex.as_ref().map(|r| r.0.clone()),
            regex_no_match: regex.as_ref().is_some_and(|r| r.1),
            regex_max_offset: regex.and_then(|r| r.2),
            ..UrlCheck::new(&path)
        });
    (
        proptest::sample::select(CheckKind::ALL.to_vec()),
        proptest::collection::vec(url, 1..3),
        (
            proptest::option::of(v4(10)),
            proptest::option::of(1u16..),
            proptest::option::of(v4(10)),
            proptest::option::of(1u32..),
        ),
        (
            centis(3600),
            0u32..=1000,
            proptest::option::of(centis(3600)),
        ),
        (
            proptest::option::of(centis(86400)),
            proptest::option::of("[a-z]{1,8}\\.example"),
            proptest::option::of(centis(86400)),
            proptest::option::of(any::<bool>()),
        ),
        (
            proptest::option::of("[0-9a-f]{2}( [0-9a-f]{1,2}){0,3}"),
            proptest::option::of(proptest::option::of("[0-9a-fX]{2}( [0-9a-fX]{2}){0,2}")),
            proptest::option::of(0u32..100),
            proptest::option::of(proptest::sample::select(DNS_TYPES.to_vec())),
        ),
    )
        .prop_map(|(kind, urls, addrs, timing, rest, kinds)| {
            let http = kind.is_http();
            let udp = kind == CheckKind::Udp;
            let dns = kind == CheckKind::Dns;
            Check {
                urls: if http { urls } else { Vec::new() },
                connect_ip: addrs.0,
                connect_port: addrs.1,
                bindto: addrs.2,
                fwmark: addrs.3,
                connect_timeout: timing.0,
                retry: timing.1,
                delay_before_retry: timing.2,
                warmup: rest.0,
                virtualhost: if http { rest.1.clone() } else { None },
                sni_name: if kind == CheckKind::SslGet {
                    rest.1.clone()
                } else {
                    None
                },
                helo_name: if kind == CheckKind::Smtp {
                    rest.1
                } else {
                    None
                },
                delay_loop: rest.2,
                alpha: rest.3,
                payload: kinds
                    .0
                    .filter(|_| udp)
                    .map(|h| HexBytes::parse(&h, false).unwrap()),
                require_reply: kinds.1.filter(|_| udp).map(|h| RequireReply {
                    data: h.map(|h| HexBytes::parse(&h, true).unwrap()),
                }),
                max_reply_length: kinds.2.filter(|_| udp),
                dns_type: kinds.3.filter(|_| dns).map(String::from),
                ..Check::new(kind)
            }
        })
}

/// keepalived's valid tunnel options (`Tunnel::check`).
pub(super) fn tunnel() -> impl Strategy<Value = Tunnel> {
    prop_oneof![
        Just(Tunnel::default()),
        (
            1u16..,
            prop_oneof![
                Just(TunnelCsum::Nocsum),
                Just(TunnelCsum::Csum),
                Just(TunnelCsum::Remcsum)
            ]
        )
            .prop_map(|(port, csum)| Tunnel {
                kind: TunnelType::Gue,
                port: Some(port),
                csum
            }),
        prop_oneof![Just(TunnelCsum::Nocsum), Just(TunnelCsum::Csum)].prop_map(|csum| Tunnel {
            kind: TunnelType::Gre,
            port: None,
            csum
        }),
    ]
}

pub(super) fn real_server(v: usize, r: usize) -> impl Strategy<Value = RealServer> {
    (
        1u16..,
        0u32..=65535,
        proptest::option::of(any::<bool>()),
        proptest::collection::vec(check(), 0..3),
        (
            proptest::option::of(1u32..100),
            proptest::option::of(centis(100)),
            proptest::option::of(any::<bool>()),
            proptest::option::of(prop_oneof![
                Just(LbKind::Dr),
                Just(LbKind::Nat),
                Just(LbKind::Tun),
                Just(LbKind::Fnat)
            ]),
            proptest::option::of(0u32..5000),
            proptest::collection::vec(noted(&["notify_up", "notify_down"]), 0..2),
            proptest::option::of(tunnel()),
        ),
    )
        .prop_map(
            move |(port, weight, inhibit_on_failure, checks, m)| RealServer {
                weight,
                inhibit_on_failure,
                checks,
                check_defaults: CheckDefaults {
                    retry: m.0,
                    ..CheckDefaults::default()
                },
                delay_loop: m.1,
                alpha: m.2,
                lvs_method: m.3,
                tunnel: m.6.filter(|_| m.3 == Some(LbKind::Tun)),
                uthreshold: m.4,
                noted: m.5,
                ..RealServer::new(
                    IpAddr::from([10, (v / 250) as u8, (v % 250) as u8, r as u8 + 1]),
                    port,
                )
            },
        )
}

pub(super) fn virtual_server(v: usize, groups: usize) -> impl Strategy<Value = VirtualServer> {
    let key = (0u8..3, 1u16..).prop_map(move |(kind, port)| match kind {
        1 => VsKey::Fwmark(v as u32 + 1),
        2 if v < groups => VsKey::Group(format!("VSG{v}")),
        _ => VsKey::Addr {
            ip: IpAddr::from([172, 16, (v / 250) as u8, (v % 250) as u8 + 1]),
            port,
        },
    });
    let settings = (
        centis(86400),
        proptest::sample::select(SCHEDULERS.to_vec()),
        prop_oneof![
            Just(LbKind::Nat),
            Just(LbKind::Dr),
            Just(LbKind::Tun),
            Just(LbKind::Fnat)
        ],
        prop_oneof![
            Just(Protocol::Tcp),
            Just(Protocol::Udp),
            Just(Protocol::Sctp)
        ],
        proptest::option::of(1u32..=2_678_400),
        proptest::option::of(0u8..=32),
        proptest::option::of((v4(10), 1u16..)),
        proptest::option::of(tunnel()),
    );
    let more = (
        1u32..=10,
        0u32..=5,
        any::<[bool; 4]>(),
        proptest::option::of("[a-z]{1,8}\\.example"),
        (0..4usize).prop_flat_map(move |n| (0..n).map(|r| real_server(v, r)).collect::<Vec<_>>()),
        (
            proptest::option::of(centis(100)),
            any::<[bool; 3]>(),
            proptest::option::of(1u32..=65535),
            proptest::collection::vec(noted(&["quorum_up", "quorum_down"]), 0..2),
        ),
    );
    (key, settings, more).prop_map(|(key, s, m)| VirtualServer {
        check_defaults: CheckDefaults {
            connect_timeout: m.5 .0,
            ..CheckDefaults::default()
        },
        lvs_flags: LbFlags {
            ops: m.5 .1[0],
            flag_3: m.5 .1[1],
            sh_port: m.5 .1[2] && s.1 == "sh",
            ..LbFlags::default()
        },
        weight: m.5 .2,
        noted: m.5 .3,
        key,
        delay_loop: s.0,
        lb_algo: s.1.to_string(),
        lb_kind: s.2,
        tunnel: s.7.filter(|_| s.2 == LbKind::Tun),
        protocol: s.3,
        persistence_timeout: s.4,
        persistence_granularity: s.5,
        sorry_server: s.6,
        quorum: m.0,
        hysteresis: m.1,
        alpha: m.2[0],
        omega: m.2[1],
        inhibit_on_failure: m.2[2],
        ha_suspend: m.2[3],
        virtualhost: m.3,
        real_servers: m.4,
        ..VirtualServer::new(VsKey::Fwmark(0))
    })
}

/// A vrrp_script's native check: a target of its own, the script's timing.
pub(super) fn script_check() -> impl Strategy<Value = (Check, i32, u32)> {
    (
        proptest::sample::select(vec![CheckKind::Ping, CheckKind::Tcp, CheckKind::HttpGet]),
        v4(192),
        1u16..,
        centis(100),
        -253i32..=253,
        1u32..5,
    )
        .prop_map(|(kind, ip, port, timeout, weight, rise)| {
            let mut c = Check::new(kind);
            c.connect_ip = Some(ip);
            if kind != CheckKind::Ping {
                c.connect_port = Some(port);
            }
            if kind.is_http() {
                c.urls.push(UrlCheck::new("/health"));
            }
            c.connect_timeout = timeout;
            (c, weight, rise)
        })
}

pub(super) fn group(g: usize) -> impl Strategy<Value = VirtualServerGroup> {
    let entry = prop_oneof![
        (any::<u8>(), any::<u8>(), 1u16..).prop_map(move |(a, b, port)| GroupEntry::Range {
            first: IpAddr::from([172, 20, g as u8, a.min(b)]),
            last: IpAddr::from([172, 20, g as u8, a.max(b)]),
            port,
        }),
        (1u32..).prop_map(GroupEntry::Fwmark),
    ];
    proptest::collection::vec(entry, 0..4).prop_map(move |entries| VirtualServerGroup {
        name: format!("VSG{g}"),
        entries,
    })
}
