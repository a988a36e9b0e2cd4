//! The `bgp` block for the round-trip property: generated beside the rest of a model,
//! and valid for it (each announced prefix holds one of its virtual servers' addresses).

use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use config::keepalived::*;
use config::IpPrefix;
use proptest::prelude::*;

fn neighbor(n: usize) -> impl Strategy<Value = BgpNeighbor> {
    (
        1u32..,
        prop_oneof![Just(0u16), 3u16..],
        any::<Option<u16>>(),
        proptest::option::of((0u64..3600).prop_map(Duration::from_secs)),
        any::<bool>(),
        proptest::option::of(any::<u16>()),
        prop_oneof![Just(179u16), 1u16..],
        any::<bool>(),
        proptest::option::of(
            (
                1u32..=10_000,
                1u32..=10_000,
                1000u32..=10_000,
                1u8..,
                any::<bool>(),
            )
                .prop_map(|(min_rx, min_tx, idle_tx, multiplier, passive)| BgpBfd {
                    min_rx,
                    min_tx,
                    idle_tx,
                    multiplier,
                    passive,
                }),
        ),
        // Printable ASCII without '"' (a keepalived.conf word cannot hold it).
        proptest::option::of("[ !#-~]{1,80}"),
    )
        .prop_map(
            move |(
                remote_as,
                hold_time,
                keepalive,
                connect_retry,
                source,
                nh6,
                port,
                v6,
                bfd,
                key,
            )| {
                let address = if v6 {
                    IpAddr::from(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, n as u16 + 1))
                } else {
                    IpAddr::from([192, 0, 2, n as u8 + 1])
                };
                let source_ip = source.then(|| match address {
                    IpAddr::V4(_) => IpAddr::from([192, 0, 2, 200]),
                    IpAddr::V6(_) => IpAddr::from(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 200)),
                });
                BgpNeighbor {
                    address,
                    remote_as,
                    port,
                    hold_time,
                    // Never more than a third of the hold time.
                    keepalive: keepalive.map(|k| {
                        if hold_time == 0 {
                            k
                        } else {
                            k % (hold_time / 3 + 1)
                        }
                    }),
                    connect_retry,
                    source_ip,
                    next_hop_v6: nh6.map(|h| Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, h)),
                    bfd,
                    password: key.map(|k| Md5Password::new(&k).expect("the pattern is valid")),
                }
            },
        )
}

/// A model from `base`, with a `bgp` block half of the time.
pub fn with_bgp(base: impl Strategy<Value = Keepalived>) -> impl Strategy<Value = Keepalived> {
    (
        base,
        proptest::option::of((
            1u32..,
            proptest::option::of(any::<[u8; 4]>()),
            (0u64..=3_600_000).prop_map(|ms| Duration::from_millis(ms / 10 * 10)),
            1u32..10,
            (
                any::<(bool, bool)>(),
                proptest::option::of((any::<bool>(), any::<u8>())),
            ),
            (0..3usize).prop_flat_map(|n| (0..n).map(neighbor).collect::<Vec<_>>()),
            proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        )),
    )
        .prop_map(|(mut k, b)| {
            let Some((local_as, router_id, gst, quorum, (sloppy, sync), mut neighbors, picks)) = b
            else {
                return k;
            };
            let global_sync = k.global.lvs_sync_daemon.clone();
            let addresses: Vec<IpAddr> = k
                .virtual_servers
                .iter()
                .filter_map(|vs| match vs.key {
                    VsKey::Addr { ip, .. } => Some(ip),
                    _ => None,
                })
                .collect();
            let mut announce: Vec<IpPrefix> = Vec::new();
            if !addresses.is_empty() {
                for (pick, len) in picks {
                    let addr = addresses[pick % addresses.len()];
                    let max = if addr.is_ipv4() { 32 } else { 128 };
                    let len = max - len % 9;
                    let network = IpPrefix { addr, len }.network();
                    let p = IpPrefix { addr: network, len };
                    if !announce.contains(&p) {
                        announce.push(p);
                    }
                }
            }
            if announce.iter().any(|p| p.addr.is_ipv6()) {
                for n in neighbors.iter_mut().filter(|n| n.address.is_ipv4()) {
                    n.next_hop_v6
                        .get_or_insert(Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1));
                }
            }
            k.bgp = Some(Bgp {
                local_as,
                router_id: router_id.map(Into::into),
                graceful_shutdown_time: gst,
                quorum,
                sloppy_tcp: sloppy.0,
                sloppy_sctp: sloppy.1,
                // One of the two: global_defs' follows a VRRP instance.
                lvs_sync_daemon: sync.filter(|_| global_sync.is_none()).map(|(int, id)| {
                    GroupSync {
                        interface: if int { "int" } else { "ext" }.into(),
                        id,
                    }
                }),
                neighbors: std::mem::take(&mut neighbors),
                announce,
            });
            k
        })
}
