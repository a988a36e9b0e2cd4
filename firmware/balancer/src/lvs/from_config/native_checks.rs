//! The checks beyond HTTP_GET and TCP_CHECK, and the HTTP settings, from keepalived.conf
//! to the checker (issue 16).

use std::time::Duration;

use checks::{CheckKind, CheckSpec, DnsType, HttpProtocol, RegexOption};

use super::plan;

/// The checks of the one real server of `body` (a real_server block's inside).
fn checks_of(body: &str) -> Vec<CheckSpec> {
    let text = format!(
        "virtual_server 10.0.0.1 53 {{\n protocol UDP\n delay_loop 7\n real_server 10.0.1.1 53 {{\n{body}\n }}\n}}\n"
    );
    let k = config::keepalived::read_text(&text, "k.conf")
        .unwrap_or_else(|e| panic!("{e:?}"))
        .config;
    let checks = plan(&k).services[0].real_servers[0].checks.clone();
    for check in &checks {
        assert_eq!(check.validate(), Ok(()), "{check:?}");
    }
    checks
}

#[test]
fn ping_check_has_no_port_and_keepalived_s_timing() {
    let [ping] = &checks_of("PING_CHECK {\n connect_timeout 2\n}")[..] else {
        panic!("one check")
    };
    assert_eq!(ping.kind, CheckKind::Ping);
    assert_eq!(ping.connect_to, "10.0.1.1:0".parse().unwrap());
    assert_eq!(ping.timing.connect_timeout, Duration::from_secs(2));
    assert_eq!(ping.timing.retry, 1);
    assert_eq!(ping.timing.delay_before_retry, Duration::from_secs(1));
    assert_eq!(ping.timing.delay_loop, Duration::from_secs(7));
}

#[test]
fn udp_check_carries_its_hex_strings_and_lengths() {
    let checks = checks_of(
        "UDP_CHECK {\n payload 01 0203 4\n require_reply 6C 7X\n min_reply_length 2\n max_reply_length 300\n}\nUDP_CHECK {\n connect_port 5000\n}",
    );
    let CheckKind::Udp(udp) = &checks[0].kind else {
        panic!("{:?}", checks[0])
    };
    assert_eq!(udp.payload.as_deref(), Some(&[1, 2, 3, 4][..]));
    assert!(udp.require_reply);
    assert_eq!(udp.reply.bytes(), [0x6c, 0x70]);
    // x: the low nibble of the second byte is not compared.
    assert_eq!(udp.reply.ignored(), [0x00, 0x0f]);
    assert_eq!((udp.min_reply_length, udp.max_reply_length), (2, 300));
    assert_eq!(checks[0].connect_to, "10.0.1.1:53".parse().unwrap());
    // keepalived's defaults: its own payload, no reply needed, 0 to 255 bytes.
    let CheckKind::Udp(plain) = &checks[1].kind else {
        panic!("{:?}", checks[1])
    };
    assert_eq!(plain, &checks::UdpCheck::default());
    assert_eq!(checks[1].connect_to, "10.0.1.1:5000".parse().unwrap());
}

#[test]
fn dns_check_defaults_are_soa_of_the_root_three_retries_a_delay_loop_apart() {
    let checks = checks_of("DNS_CHECK {\n}\nDNS_CHECK {\n type aaaa\n name www.example.com\n retry 1\n delay_before_retry 2\n}");
    let CheckKind::Dns(default) = &checks[0].kind else {
        panic!("{:?}", checks[0])
    };
    assert_eq!((default.qtype, default.name.as_str()), (DnsType::Soa, "."));
    assert_eq!(checks[0].timing.retry, 3);
    assert_eq!(checks[0].timing.delay_before_retry, Duration::from_secs(7));
    let CheckKind::Dns(given) = &checks[1].kind else {
        panic!("{:?}", checks[1])
    };
    assert_eq!(
        (given.qtype, given.name.as_str()),
        (DnsType::Aaaa, "www.example.com")
    );
    assert_eq!(checks[1].timing.retry, 1);
    assert_eq!(checks[1].timing.delay_before_retry, Duration::from_secs(2));
}

#[test]
fn smtp_check_hosts_are_checks_of_their_own() {
    let checks = checks_of(
        "SMTP_CHECK {\n helo_name lb1.example.com\n host {\n  connect_ip 10.0.2.1\n  connect_port 25\n }\n host {\n  connect_ip 10.0.2.2\n  connect_port 2525\n }\n}",
    );
    let targets: Vec<String> = checks.iter().map(|c| c.connect_to.to_string()).collect();
    assert_eq!(targets, ["10.0.2.1:25", "10.0.2.2:2525"]);
    for check in &checks {
        let CheckKind::Smtp(smtp) = &check.kind else {
            panic!("{check:?}")
        };
        assert_eq!(smtp.helo_name, "lb1.example.com");
    }
    let [default] = &checks_of("SMTP_CHECK {\n}")[..] else {
        panic!("one check")
    };
    let CheckKind::Smtp(smtp) = &default.kind else {
        panic!("{default:?}")
    };
    assert_eq!(smtp.helo_name, "smtpchecker.keepalived.org");
    assert_eq!(default.connect_to, "10.0.1.1:53".parse().unwrap());
}

#[test]
fn http_settings_reach_the_checker() {
    let checks = checks_of(
        "SSL_GET {\n enable_sni\n sni_name sni.example.com\n tls_compliant\n http_protocol 1.1\n fast_recovery\n virtualhost check.example.com\n url {\n  path /health\n  virtualhost url.example.com\n  regex \"status: (ok|degraded)\"\n  regex_options caseless multiline\n  regex_no_match\n  regex_min_offset 4\n  regex_max_offset 100\n  tls_compliant\n }\n url {\n  path /\n }\n}",
    );
    let CheckKind::Http(http) = &checks[0].kind else {
        panic!("{:?}", checks[0])
    };
    assert!(http.tls && http.enable_sni && http.tls_compliant && http.fast_recovery);
    assert_eq!(http.sni_name.as_deref(), Some("sni.example.com"));
    assert_eq!(http.virtualhost.as_deref(), Some("check.example.com"));
    assert_eq!(http.protocol, HttpProtocol::Http11);
    let url = &http.urls[0];
    assert_eq!(url.virtualhost.as_deref(), Some("url.example.com"));
    assert!(url.tls_compliant);
    let regex = url.regex.as_ref().expect("a regex");
    assert_eq!(regex.pattern, "status: (ok|degraded)");
    assert_eq!(
        regex.options,
        [RegexOption::Caseless, RegexOption::Multiline]
    );
    assert!(regex.no_match);
    assert_eq!((regex.min_offset, regex.max_offset), (4, Some(100)));
    assert_eq!(http.urls[1].regex, None);
    assert!(!http.urls[1].tls_compliant);
}
