//! keepalived's virtual_server blocks as a [`Plan`]: what IPVS should hold and how each
//! real server is checked.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use checks::{
    udp, CheckKind, CheckSpec, DnsCheck, HttpCheck, HttpProtocol, RegexCheck, ReplyPattern,
    SmtpCheck, StatusCodes, Timing, UdpCheck, Url,
};
use config::keepalived::{self, GroupEntry, Keepalived, LbKind, TunnelCsum, TunnelType, VsKey};
use ipvs::{Encap, EncapCsum, EncapKind, Forward, Protocol, Service, ServiceKey};

use super::plan::{Plan, RealServer, VirtualService};

pub fn plan(k: &Keepalived) -> Plan {
    Plan {
        services: k
            .virtual_servers
            .iter()
            .flat_map(|vs| {
                service_keys(k, vs)
                    .into_iter()
                    .map(move |key| virtual_service(vs, key))
            })
            .collect(),
    }
}

/// The IPVS services one virtual_server stands for: one, or one per address and mark of
/// its virtual_server_group (validation made sure the group exists).
pub(super) fn service_keys(k: &Keepalived, vs: &keepalived::VirtualServer) -> Vec<ServiceKey> {
    let protocol = match vs.protocol {
        keepalived::Protocol::Tcp => Protocol::Tcp,
        keepalived::Protocol::Udp => Protocol::Udp,
        keepalived::Protocol::Sctp => Protocol::Sctp,
    };
    let addr = |addr, port| ServiceKey::Addr {
        protocol,
        addr,
        port,
    };
    // A fwmark service's family: ip_family, else its real servers' (as keepalived takes it).
    let ipv6 = match vs.ip_family {
        Some(family) => family == keepalived::IpFamily::Inet6,
        None => vs.real_servers.first().is_some_and(|rs| rs.ip.is_ipv6()),
    };
    match &vs.key {
        VsKey::Addr { ip, port } => vec![addr(*ip, *port)],
        VsKey::Fwmark(mark) => vec![ServiceKey::Fwmark { ipv6, mark: *mark }],
        VsKey::Group(name) => k
            .virtual_server_groups
            .iter()
            .filter(|g| &g.name == name)
            .flat_map(|g| &g.entries)
            .flat_map(|entry| match entry {
                GroupEntry::Fwmark(mark) => vec![ServiceKey::Fwmark { ipv6, mark: *mark }],
                GroupEntry::Range { first, last, port } => range(*first, *last)
                    .into_iter()
                    .map(|ip| addr(ip, *port))
                    .collect(),
            })
            .collect(),
    }
}

/// The addresses of a group range: only the last byte (IPv4) or group (IPv6) counts.
fn range(first: IpAddr, last: IpAddr) -> Vec<IpAddr> {
    match (first, last) {
        (IpAddr::V4(f), IpAddr::V4(l)) => (f.octets()[3]..=l.octets()[3])
            .map(|n| {
                let mut o = f.octets();
                o[3] = n;
                IpAddr::from(o)
            })
            .collect(),
        (IpAddr::V6(f), IpAddr::V6(l)) => (f.segments()[7]..=l.segments()[7])
            .map(|n| {
                let mut s = f.segments();
                s[7] = n;
                IpAddr::from(s)
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn virtual_service(vs: &keepalived::VirtualServer, key: ServiceKey) -> VirtualService {
    let mut service = Service::new(key, &vs.lb_algo);
    service.persistence_timeout = vs.persistence_timeout;
    if let Some(prefix) = vs.persistence_granularity {
        service.persistence_prefix = prefix;
    }
    service.one_packet = vs.lvs_flags.ops;
    service.sched_flags = sched_flags(&vs.lvs_flags);
    service.pe_name = vs.persistence_engine.clone();
    VirtualService {
        service,
        real_servers: vs
            .real_servers
            .iter()
            .map(|rs| real_server(vs, rs))
            .collect(),
        sorry_server: vs.sorry_server,
        sorry_forward: forward(vs.sorry_server_lvs_method.unwrap_or(vs.lb_kind)),
        sorry_inhibit: vs.sorry_server_inhibit,
        quorum: vs.quorum,
        hysteresis: vs.hysteresis,
        smtp_alert: vs.smtp_alert,
    }
}

fn forward(kind: LbKind) -> Forward {
    match kind {
        // IPVS forwards FNAT as NAT; the source rewrite is netfilter's (source_nat).
        LbKind::Nat | LbKind::Fnat => Forward::Masq,
        LbKind::Dr => Forward::Route,
        LbKind::Tun => Forward::Tunnel,
    }
}

fn encap(tunnel: Option<keepalived::Tunnel>) -> Encap {
    let Some(t) = tunnel else {
        return Encap::default();
    };
    Encap {
        kind: match t.kind {
            TunnelType::Ipip => EncapKind::Ipip,
            TunnelType::Gue => EncapKind::Gue,
            TunnelType::Gre => EncapKind::Gre,
        },
        port: t.port.unwrap_or(0),
        csum: match t.csum {
            TunnelCsum::Nocsum => EncapCsum::None,
            TunnelCsum::Csum => EncapCsum::Csum,
            TunnelCsum::Remcsum => EncapCsum::Remcsum,
        },
    }
}

/// The scheduler flags as keepalived's ipvswrapper sets them: IP_VS_SVC_F_SCHED1 is
/// flag-1, sh-fallback and mh-fallback; SCHED2 is flag-2, sh-port and mh-port; SCHED3
/// is flag-3 (include/uapi/linux/ip_vs.h). Bits 0..2 here are SCHED1..3.
fn sched_flags(f: &keepalived::LbFlags) -> u8 {
    let sched1 = f.flag_1 || f.sh_fallback || f.mh_fallback;
    let sched2 = f.flag_2 || f.sh_port || f.mh_port;
    u8::from(sched1) | u8::from(sched2) << 1 | u8::from(f.flag_3) << 2
}

fn real_server(vs: &keepalived::VirtualServer, rs: &keepalived::RealServer) -> RealServer {
    RealServer {
        addr: rs.ip,
        port: rs.port,
        weight: rs.weight,
        forward: forward(rs.lvs_method.unwrap_or(vs.lb_kind)),
        // keepalived: a real server with its own lvs_method has its own tunnel options
        // (IPIP unless it names others); without, the virtual server's.
        encap: match rs.lvs_method {
            Some(_) => encap(rs.tunnel),
            None => encap(vs.tunnel),
        },
        inhibit_on_failure: rs.inhibit_on_failure.unwrap_or(vs.inhibit_on_failure),
        upper_threshold: rs.uthreshold.unwrap_or(0),
        lower_threshold: rs.lthreshold.unwrap_or(0),
        checks: rs.checks.iter().map(|c| check(vs, rs, c)).collect(),
        smtp_alert: rs.smtp_alert,
    }
}

fn check(
    vs: &keepalived::VirtualServer,
    rs: &keepalived::RealServer,
    c: &keepalived::Check,
) -> CheckSpec {
    let virtualhost = c
        .virtualhost
        .clone()
        .or_else(|| rs.virtualhost.clone())
        .or_else(|| vs.virtualhost.clone());
    let connect_to = target(c, c.connect_ip.unwrap_or(rs.ip), rs.port);
    // A check's own setting, else its real server's, else its virtual server's.
    let delay_loop = c.delay_loop.or(rs.delay_loop).unwrap_or(vs.delay_loop);
    let timing = Timing {
        connect_timeout: c.connect_timeout,
        retry: c.retry,
        // DNS_CHECK's default is its delay_loop.
        delay_before_retry: c.delay_before_retry_or_default().unwrap_or(delay_loop),
        delay_loop,
        warmup: c.warmup.unwrap_or(delay_loop),
        alpha: c.alpha.or(rs.alpha).unwrap_or(vs.alpha),
    };
    CheckSpec {
        kind: check_kind(c, virtualhost),
        connect_to,
        bindto: c.bindto,
        timing,
    }
}

/// Where a check connects: its own address and port, else the real server's; an echo
/// request has no port.
fn target(c: &keepalived::Check, ip: std::net::IpAddr, port: u16) -> SocketAddr {
    match c.kind {
        keepalived::CheckKind::Ping => SocketAddr::new(ip, 0),
        _ => SocketAddr::new(ip, c.connect_port.unwrap_or(port)),
    }
}

/// A native check in a vrrp_script (its target always given, its timeout already the
/// script's): what one probe every `interval` runs. The checker's retry and delay
/// timers are not used: the script's rise and fall decide.
pub fn script_check(c: &keepalived::Check, interval: Duration) -> Option<CheckSpec> {
    Some(CheckSpec {
        kind: check_kind(c, c.virtualhost.clone()),
        connect_to: target(c, c.connect_ip?, 0),
        bindto: c.bindto,
        timing: Timing {
            connect_timeout: c.connect_timeout,
            retry: 0,
            delay_before_retry: interval,
            delay_loop: interval,
            warmup: Duration::ZERO,
            alpha: false,
        },
    })
}

/// What the checks crate probes for a check of keepalived.conf.
fn check_kind(c: &keepalived::Check, virtualhost: Option<String>) -> CheckKind {
    match c.kind {
        keepalived::CheckKind::Tcp => CheckKind::Tcp,
        keepalived::CheckKind::HttpGet | keepalived::CheckKind::SslGet => {
            CheckKind::Http(http_check(c, virtualhost))
        }
        keepalived::CheckKind::Ping => CheckKind::Ping,
        keepalived::CheckKind::Udp => CheckKind::Udp(udp_check(c)),
        keepalived::CheckKind::Dns => CheckKind::Dns(DnsCheck {
            // The reader took only keepalived's type words, which are the checker's.
            qtype: c
                .dns_type
                .as_deref()
                .and_then(|word| word.parse().ok())
                .unwrap_or_default(),
            name: c.dns_name.clone().unwrap_or_else(|| ".".into()),
        }),
        keepalived::CheckKind::Smtp => CheckKind::Smtp(match &c.helo_name {
            Some(name) => SmtpCheck {
                helo_name: name.clone(),
            },
            None => SmtpCheck::default(),
        }),
    }
}

/// HTTP_GET and SSL_GET: the URLs, and the Host the caller found (keepalived's order:
/// url, checker, real server, virtual server).
fn http_check(c: &keepalived::Check, virtualhost: Option<String>) -> HttpCheck {
    let urls = c
        .urls
        .iter()
        .map(|u| Url {
            status_codes: match &u.status_code {
                Some(codes) => {
                    StatusCodes::from_ranges(codes.0.iter().map(|(low, high)| *low..=*high))
                        .unwrap_or_default()
                }
                None => StatusCodes::default(),
            },
            digest: u.digest,
            virtualhost: u.virtualhost.clone(),
            regex: u.regex.as_ref().map(|pattern| RegexCheck {
                pattern: pattern.clone(),
                // The reader took only keepalived's option words, which are the checker's.
                options: u
                    .regex_options
                    .iter()
                    .filter_map(|word| word.parse().ok())
                    .collect(),
                no_match: u.regex_no_match,
                min_offset: u.regex_min_offset.unwrap_or(0) as usize,
                max_offset: u.regex_max_offset.map(|max| max as usize),
            }),
            tls_compliant: u.tls_compliant,
            ..Url::new(u.path.clone())
        })
        .collect();
    let mut http = HttpCheck::new(urls);
    http.tls = c.kind == keepalived::CheckKind::SslGet;
    http.virtualhost = virtualhost;
    http.enable_sni = c.enable_sni;
    http.sni_name = c.sni_name.clone();
    http.tls_compliant = c.tls_compliant;
    http.fast_recovery = c.fast_recovery;
    http.protocol = match c.http_protocol.as_deref() {
        Some("1.1") => HttpProtocol::Http11,
        Some("1.0C") | Some("1.0c") => HttpProtocol::Http10Close,
        _ => HttpProtocol::Http10,
    };
    http
}

/// UDP_CHECK: the hex strings as bytes (and `x` nibbles as bits not compared).
fn udp_check(c: &keepalived::Check) -> UdpCheck {
    let reply = c
        .require_reply
        .as_ref()
        .and_then(|r| r.data.as_ref())
        .map(|data| {
            let (bytes, compared) = data.bytes_and_mask();
            let ignored = compared.iter().map(|bits| !bits).collect();
            ReplyPattern::new(bytes, ignored).unwrap_or_default()
        })
        .unwrap_or_default();
    let length = |value: Option<u32>, default: u16| {
        value.map_or(default, |n| u16::try_from(n).unwrap_or(u16::MAX))
    };
    UdpCheck {
        payload: c.payload.as_ref().map(|hex| hex.bytes_and_mask().0),
        require_reply: c.require_reply.is_some(),
        reply,
        min_reply_length: length(c.min_reply_length, 0),
        max_reply_length: length(c.max_reply_length, udp::DEFAULT_MAX_REPLY_LENGTH),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The service and real-server keywords that reach IPVS as they do from keepalived.
    #[test]
    fn flags_persistence_engine_methods_and_thresholds_reach_the_plan() {
        let text = "virtual_server 192.168.0.100 5060 {
    protocol UDP
    lb_algo sh
    sh-port
    sh-fallback
    ops
    persistence_timeout 60
    persistence_engine sip
    sorry_server 192.168.33.99 5060
    sorry_server_lvs_method DR
    sorry_server_inhibit
    real_server 192.168.33.11 5060 {
        lvs_method TUN type gue port 6080 csum
        uthreshold 1000
        lthreshold 100
    }
    real_server 192.168.33.12 5060 {
    }
}
virtual_server 192.168.0.101 80 {
    protocol TCP
    lb_algo mh
    flag-3
    mh-port
    real_server 192.168.33.11 80 {
    }
}
";
        let k = config::keepalived::read_text(text, "keepalived.conf")
            .unwrap()
            .config;
        let plan = plan(&k);
        let (sip, web) = (&plan.services[0], &plan.services[1]);
        assert!(sip.service.one_packet);
        assert_eq!(
            sip.service.sched_flags, 0b011,
            "SCHED1 fallback, SCHED2 port"
        );
        assert_eq!(sip.service.pe_name.as_deref(), Some("sip"));
        assert_eq!(
            (sip.sorry_forward, sip.sorry_inhibit),
            (Forward::Route, true)
        );
        let (tun, plain) = (&sip.real_servers[0], &sip.real_servers[1]);
        assert_eq!(tun.forward, Forward::Tunnel);
        assert_eq!(
            tun.encap,
            Encap {
                kind: EncapKind::Gue,
                port: 6080,
                csum: EncapCsum::Csum
            }
        );
        assert_eq!((tun.upper_threshold, tun.lower_threshold), (1000, 100));
        assert_eq!(plain.forward, Forward::Masq, "the virtual server's lb_kind");
        assert_eq!((plain.upper_threshold, plain.lower_threshold), (0, 0));
        assert!(!web.service.one_packet);
        assert_eq!(web.service.sched_flags, 0b110, "SCHED2 port, SCHED3");
        assert_eq!(web.service.pe_name, None);
        assert!(!web.sorry_inhibit);
    }

    #[test]
    fn the_seed_3_1_plan() {
        let text = include_str!("../../../config/testdata/seed-3-1.conf");
        let k = config::keepalived::read_text(text, "seed-3-1.conf")
            .unwrap()
            .config;
        let plan = plan(&k);
        let vs = &plan.services[0];
        assert_eq!(vs.service.scheduler, "rr");
        assert_eq!(
            vs.service.key,
            ServiceKey::Addr {
                protocol: Protocol::Tcp,
                addr: "192.168.0.100".parse().unwrap(),
                port: 80
            }
        );
        assert_eq!(vs.real_servers.len(), 2);
        let rs = &vs.real_servers[0];
        assert!(rs.inhibit_on_failure);
        assert_eq!((rs.weight, rs.forward), (1, Forward::Masq));
        let check = &rs.checks[0];
        assert_eq!(check.connect_to, "192.168.33.11:80".parse().unwrap());
        assert_eq!(check.timing.delay_loop, std::time::Duration::from_secs(6));
        assert_eq!(check.timing.retry, 3);
        assert!(check.validate().is_ok());
        let CheckKind::Http(http) = &check.kind else {
            panic!("{check:?}")
        };
        assert!(
            http.urls[0].status_codes.contains(200) && !http.urls[0].status_codes.contains(204)
        );
    }

    #[test]
    fn a_group_is_one_service_per_address_and_mark() {
        let text = "virtual_server_group web {\n 192.168.0.100-101 80\n fwmark 7\n}\nvirtual_server group web {\n protocol TCP\n real_server 192.168.33.11 80 {\n }\n}\n";
        let k = config::keepalived::read_text(text, "k.conf")
            .unwrap()
            .config;
        let keys: Vec<ServiceKey> = plan(&k)
            .services
            .into_iter()
            .map(|s| s.service.key)
            .collect();
        let addr = |a: &str| ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: a.parse().unwrap(),
            port: 80,
        };
        assert_eq!(
            keys,
            vec![
                addr("192.168.0.100"),
                addr("192.168.0.101"),
                ServiceKey::Fwmark {
                    ipv6: false,
                    mark: 7
                }
            ]
        );
    }

    #[test]
    fn status_code_ranges_and_defaults_from_the_real_and_virtual_server_reach_the_check() {
        let text = "virtual_server 10.0.0.1 80 {\n protocol TCP\n retry 4\n real_server 10.0.1.1 80 {\n  delay_loop 2\n  alpha\n  HTTP_GET {\n   url {\n    path /\n    status_code 200-299 404\n   }\n  }\n }\n}\n";
        let k = config::keepalived::read_text(text, "k.conf")
            .unwrap()
            .config;
        let check = &plan(&k).services[0].real_servers[0].checks[0];
        assert_eq!(check.timing.retry, 4);
        assert_eq!(check.timing.delay_loop, std::time::Duration::from_secs(2));
        assert!(check.timing.alpha);
        let CheckKind::Http(http) = &check.kind else {
            panic!("{check:?}")
        };
        let codes = &http.urls[0].status_codes;
        assert!(codes.contains(204) && codes.contains(404) && !codes.contains(500));
    }

    #[test]
    fn a_fwmark_service_takes_its_family_from_ip_family_or_its_real_servers() {
        let fwmark = |body: &str| {
            let text = format!("virtual_server fwmark 5 {{\n{body}\n}}\n");
            let k = config::keepalived::read_text(&text, "k.conf")
                .unwrap()
                .config;
            plan(&k).services[0].service.key
        };
        assert_eq!(
            fwmark(" real_server 10.0.1.1 {\n }"),
            ServiceKey::Fwmark {
                ipv6: false,
                mark: 5
            }
        );
        assert_eq!(
            fwmark(" real_server fd00::1 {\n }"),
            ServiceKey::Fwmark {
                ipv6: true,
                mark: 5
            }
        );
        assert_eq!(
            fwmark(" ip_family inet6"),
            ServiceKey::Fwmark {
                ipv6: true,
                mark: 5
            }
        );
    }
}

#[cfg(test)]
mod native_checks;
