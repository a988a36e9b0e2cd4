//! The table as `ipvsadm -Ln` prints it, so operators read what they are used to.

use std::fmt::Write;
use std::net::IpAddr;

use crate::model::{DestinationStatus, Info, ServiceKey, ServiceStatus, Stats};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Columns {
    /// Weights and connection counts (`ipvsadm -Ln`).
    Connections,
    /// Counters (`ipvsadm -Ln --stats --exact`).
    Stats,
    /// Rates (`ipvsadm -Ln --rate --exact`).
    Rate,
}

fn endpoint(addr: IpAddr, port: u16) -> String {
    match addr {
        IpAddr::V6(a) => format!("[{a}]:{port}"),
        IpAddr::V4(a) => format!("{a}:{port}"),
    }
}

fn service_name(key: &ServiceKey) -> String {
    match key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => format!("{:<4} {}", protocol.name(), endpoint(*addr, *port)),
        ServiceKey::Fwmark { ipv6, mark } => {
            format!("FWM  {mark}{}", if *ipv6 { " IPv6" } else { "" })
        }
    }
}

fn numbers(columns: Columns, s: &Stats) -> String {
    let v = match columns {
        Columns::Stats => [
            s.conns,
            s.in_packets,
            s.out_packets,
            s.in_bytes,
            s.out_bytes,
        ],
        _ => [s.cps, s.in_pps, s.out_pps, s.in_bps, s.out_bps],
    };
    v.iter().map(|n| format!(" {n:>8}")).collect()
}

/// One line for a table too large to read on a serial console: how many services and
/// destinations, how many of those are out of rotation, and the connections.
pub fn summary(table: &[(ServiceStatus, Vec<DestinationStatus>)]) -> String {
    let dests = table.iter().flat_map(|(_, d)| d);
    let (mut count, mut idle, mut active, mut inactive) = (0usize, 0usize, 0u64, 0u64);
    for d in dests {
        count += 1;
        idle += usize::from(d.destination.weight == 0);
        active += u64::from(d.active_conns);
        inactive += u64::from(d.inactive_conns);
    }
    format!(
        "{} services, {count} destinations ({idle} with weight 0), {active} active and {inactive} inactive connections\n",
        table.len()
    )
}

/// An address as ipvsadm compares it: its bytes, IPv4 ones in the first four.
fn addr_bytes(addr: IpAddr) -> [u8; 16] {
    let mut bytes = [0u8; 16];
    match addr {
        IpAddr::V4(a) => bytes[..4].copy_from_slice(&a.octets()),
        IpAddr::V6(a) => bytes = a.octets(),
    }
    bytes
}

/// The scheduler flags as ipvsadm names them: sh and mh have their own words for the
/// first two (sh-fallback, sh-port), other schedulers flag-1 to flag-3.
fn sched_flag_names(scheduler: &str, flags: u8) -> Vec<&'static str> {
    let words: [&'static str; 3] = match scheduler {
        "sh" => ["sh-fallback", "sh-port", ""],
        "mh" => ["mh-fallback", "mh-port", ""],
        _ => ["flag-1", "flag-2", "flag-3"],
    };
    words
        .iter()
        .enumerate()
        .filter(|(bit, word)| flags & (1 << bit) != 0 && !word.is_empty())
        .map(|(_, word)| *word)
        .collect()
}

fn service_order(key: &ServiceKey) -> (u32, u8, u8, [u8; 16], u16) {
    const AF_INET: u8 = 2;
    const AF_INET6: u8 = 10;
    let family = |v6: bool| if v6 { AF_INET6 } else { AF_INET };
    match *key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            let number = match protocol {
                crate::Protocol::Tcp => 6,
                crate::Protocol::Udp => 17,
                crate::Protocol::Sctp => 132,
            };
            (0, number, family(addr.is_ipv6()), addr_bytes(addr), port)
        }
        ServiceKey::Fwmark { ipv6, mark } => (mark, 0, family(ipv6), [0; 16], 0),
    }
}

pub fn render(
    info: &Info,
    table: &[(ServiceStatus, Vec<DestinationStatus>)],
    columns: Columns,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "IP Virtual Server version {} (size={})",
        info.version_text(),
        info.conn_table_size
    );
    match columns {
        Columns::Connections => {
            out.push_str("Prot LocalAddress:Port Scheduler Flags\n");
            out.push_str("  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n");
        }
        Columns::Stats => {
            out.push_str(
                "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n",
            );
            out.push_str("  -> RemoteAddress:Port\n");
        }
        Columns::Rate => {
            out.push_str(
                "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS\n",
            );
            out.push_str("  -> RemoteAddress:Port\n");
        }
    }
    // ipvsadm sorts what it lists (services by fwmark, protocol, family, address, port;
    // destinations by address, port), so operators and scripts find rows where they expect.
    let mut sorted: Vec<(&ServiceStatus, Vec<&DestinationStatus>)> = table
        .iter()
        .map(|(service, dests)| {
            let mut dests: Vec<&DestinationStatus> = dests.iter().collect();
            dests.sort_by_key(|d| (addr_bytes(d.destination.addr), d.destination.port));
            (service, dests)
        })
        .collect();
    sorted.sort_by_key(|(service, _)| service_order(&service.service.key));
    for (service, dests) in sorted {
        let s = &service.service;
        let name = service_name(&s.key);
        match columns {
            Columns::Connections => {
                let _ = write!(out, "{name} {}", s.scheduler);
                let flags = sched_flag_names(&s.scheduler, s.sched_flags);
                if !flags.is_empty() {
                    let _ = write!(out, " ({})", flags.join(","));
                }
                if let Some(timeout) = s.persistence_timeout {
                    let _ = write!(out, " persistent {timeout}");
                    let full = if s.key.is_ipv6() { 128 } else { 32 };
                    if s.persistence_prefix != full {
                        if s.key.is_ipv6() {
                            let _ = write!(out, " mask {}", s.persistence_prefix);
                        } else {
                            let mask = u32::MAX
                                .checked_shl(32 - u32::from(s.persistence_prefix))
                                .unwrap_or(0);
                            let _ = write!(out, " mask {}", std::net::Ipv4Addr::from(mask));
                        }
                    }
                }
                if let Some(pe) = &s.pe_name {
                    let _ = write!(out, " pe {pe}");
                }
                if s.one_packet {
                    out.push_str(" ops");
                }
                out.push('\n');
                for d in dests {
                    let dd = &d.destination;
                    let _ = writeln!(
                        out,
                        "  -> {:<28} {:<7} {:<6} {:<10} {:<10}",
                        endpoint(dd.addr, dd.port),
                        dd.forward.name(),
                        dd.weight,
                        d.active_conns,
                        d.inactive_conns
                    );
                }
            }
            Columns::Stats | Columns::Rate => {
                let _ = writeln!(out, "{name:<33}{}", numbers(columns, &service.stats));
                for d in dests {
                    let dd = &d.destination;
                    let _ = writeln!(
                        out,
                        "  -> {:<28}{}",
                        endpoint(dd.addr, dd.port),
                        numbers(columns, &d.stats)
                    );
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Destination, Forward, Protocol, Service};

    fn table() -> Vec<(ServiceStatus, Vec<DestinationStatus>)> {
        let key = ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: "192.168.0.100".parse().unwrap(),
            port: 80,
        };
        let dest = |last: u8, weight, inact, conns| DestinationStatus {
            destination: Destination::new(
                IpAddr::from([192, 168, 33, last]),
                80,
                Forward::Masq,
                weight,
            ),
            active_conns: 0,
            inactive_conns: inact,
            persistent_conns: 0,
            stats: Stats {
                conns,
                ..Stats::default()
            },
        };
        let mut persistent = Service::new(
            ServiceKey::Fwmark {
                ipv6: false,
                mark: 3,
            },
            "wlc",
        );
        persistent.persistence_timeout = Some(360);
        persistent.persistence_prefix = 24;
        vec![
            (
                ServiceStatus {
                    service: Service::new(key, "rr"),
                    stats: Stats {
                        conns: 23,
                        ..Stats::default()
                    },
                },
                vec![dest(11, 1, 19, 19), dest(12, 0, 4, 4)],
            ),
            (
                ServiceStatus {
                    service: persistent,
                    stats: Stats::default(),
                },
                vec![],
            ),
        ]
    }

    const INFO: Info = Info {
        version: 0x010201,
        conn_table_size: 4096,
    };

    #[test]
    fn lists_like_ipvsadm() {
        let text = render(&INFO, &table(), Columns::Connections);
        let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
        assert_eq!(
            lines,
            vec![
                "IP Virtual Server version 1.2.1 (size=4096)",
                "Prot LocalAddress:Port Scheduler Flags",
                "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
                "TCP  192.168.0.100:80 rr",
                "  -> 192.168.33.11:80             Masq    1      0          19",
                "  -> 192.168.33.12:80             Masq    0      0          4",
                "FWM  3 wlc persistent 360 mask 255.255.255.0",
            ]
        );
    }

    #[test]
    fn rows_are_sorted_as_ipvsadm_sorts_them_whatever_the_kernel_order() {
        let mut reversed = table();
        reversed.reverse();
        for (_, dests) in &mut reversed {
            dests.reverse();
        }
        assert_eq!(
            render(&INFO, &reversed, Columns::Connections),
            render(&INFO, &table(), Columns::Connections)
        );
        let order = |k: ServiceKey| service_order(&k);
        let tcp = |addr: [u8; 4], port| ServiceKey::Addr {
            protocol: crate::Protocol::Tcp,
            addr: addr.into(),
            port,
        };
        let udp = ServiceKey::Addr {
            protocol: crate::Protocol::Udp,
            addr: [10, 0, 0, 1].into(),
            port: 53,
        };
        let fwm = |mark| ServiceKey::Fwmark { ipv6: false, mark };
        let mut keys = vec![
            fwm(2),
            fwm(1),
            udp,
            tcp([10, 0, 0, 2], 80),
            tcp([10, 0, 0, 1], 443),
            tcp([10, 0, 0, 1], 80),
        ];
        keys.sort_by_key(|k| order(*k));
        assert_eq!(
            keys,
            vec![
                tcp([10, 0, 0, 1], 80),
                tcp([10, 0, 0, 1], 443),
                tcp([10, 0, 0, 2], 80),
                udp,
                fwm(1),
                fwm(2)
            ]
        );
    }

    #[test]
    fn summary_counts_what_the_listing_shows() {
        assert_eq!(
            summary(&table()),
            "2 services, 2 destinations (1 with weight 0), 0 active and 23 inactive connections\n"
        );
    }

    #[test]
    fn stats_columns() {
        let text = render(&INFO, &table(), Columns::Stats);
        let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
        // ipvsadm: "%-33s" for the name, then "%9llu" a column.
        let zeros = "        0".repeat(4);
        assert_eq!(
            lines[3],
            format!("TCP  192.168.0.100:80{}       23{zeros}", " ".repeat(12))
        );
        assert_eq!(
            lines[4],
            format!("  -> 192.168.33.11:80{}       19{zeros}", " ".repeat(12))
        );
    }

    #[test]
    fn scheduler_flags_are_named_as_ipvsadm_names_them() {
        assert_eq!(sched_flag_names("sh", 0b011), ["sh-fallback", "sh-port"]);
        assert_eq!(sched_flag_names("mh", 0b010), ["mh-port"]);
        assert_eq!(sched_flag_names("sh", 0b100), Vec::<&str>::new());
        assert_eq!(sched_flag_names("wrr", 0b101), ["flag-1", "flag-3"]);
        assert!(sched_flag_names("rr", 0).is_empty());
    }
}
