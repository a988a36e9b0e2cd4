//! keepalived's native checks beyond HTTP_GET and TCP_CHECK (issue 16), in the appliance
//! against real servers in namespaces: PING_CHECK, UDP_CHECK and DNS_CHECK take a dead
//! server out and put it back; HTTP_GET's `status_code 200-299` takes 204 and not 500.

mod common;

use std::time::Duration;

use common::*;
use lvsfw_lab::addresses::*;
use lvsfw_lab::programs::{DNS_RESPONDER, STATUS_HTTP, UDP_ECHO};
use lvsfw_lab::{Appliance, Error};

/// How long a verdict may take: a delay_loop of 2 s, connect_timeout 1 s, one retry a
/// second later, and TCG's slowness on top.
const VERDICT: Duration = Duration::from_secs(30);

fn datagram_checks_conf() -> String {
    let server = |port: u16, check: &str| {
        format!(
            "    real_server {{ip}} {port} {{
        weight 1
        inhibit_on_failure
        {check} {{
            connect_timeout 1
            retry 1
            delay_before_retry 1
{{extra}}        }}
    }}
"
        )
    };
    let service = |port: u16, protocol: &str, check: &str, extra: &str| {
        let mut block = format!(
            "virtual_server {VIP} {port} {{\n    delay_loop 2\n    lb_algo rr\n    lb_kind NAT\n    protocol {protocol}\n"
        );
        for ip in [RS1, RS2] {
            block.push_str(
                &server(port, check)
                    .replace("{ip}", ip)
                    .replace("{extra}", extra),
            );
        }
        block.push_str("}\n");
        block
    };
    [
        service(8080, "TCP", "PING_CHECK", ""),
        // keepalived.conf(5)'s hex: "6C 76" is "lv", the start of what the echo returns.
        service(
            5000,
            "UDP",
            "UDP_CHECK",
            "            payload 6C 76 73 66 77\n            require_reply 6C 7X\n",
        ),
        service(
            53,
            "UDP",
            "DNS_CHECK",
            "            type SOA\n            name .\n",
        ),
    ]
    .concat()
}

fn wait_health(lb: &mut Appliance, rs: &str, service: &str, health: &str) -> Result<String, Error> {
    lb.console
        .wait_for_line(&format!("real server {rs} of {service}: {health}"), VERDICT)
}

#[test]
fn ping_udp_and_dns_checks_take_a_dead_server_out_and_back() -> Result<(), Error> {
    let mut s = scenario("dgramchk")?;
    let mut udp = Vec::new();
    let mut dns = Vec::new();
    for rs in [s.rs1.clone(), s.rs2.clone()] {
        udp.push(s.lab.spawn(
            &rs,
            &["python3", "-c", UDP_ECHO, "5000"],
            &format!("udp-{}", rs.name),
        )?);
        dns.push(s.lab.spawn(
            &rs,
            &["python3", "-c", DNS_RESPONDER, "0"],
            &format!("dns-{}", rs.name),
        )?);
    }
    let mut lb1 = s.boot_lb1(&datagram_checks_conf(), vec![], "")?;
    // 3 services, 6 real servers.
    lb1.wait_for("IPVS: 9 changes applied", Duration::from_secs(30))?;

    // PING_CHECK: real server 1 stops answering echo requests, then answers again.
    s.rs1
        .run(&["sysctl", "-qw", "net.ipv4.icmp_echo_ignore_all=1"])?;
    let down = wait_health(
        &mut lb1,
        "192.168.33.11:8080",
        "TCP 192.168.0.100:8080",
        "down",
    )?;
    assert!(
        down.contains("PING_CHECK 192.168.33.11: no reply within 1 s"),
        "{down}"
    );
    let listing = command_output(&mut lb1, "ipvs list")?;
    let line = listing
        .lines()
        .find(|l| l.contains("-> 192.168.33.11:8080"))
        .ok_or_else(|| Error(format!("no 192.168.33.11:8080 in:\n{listing}")))?;
    assert_eq!(
        line.split_whitespace().nth(3),
        Some("0"),
        "weight 0: {line}"
    );
    s.rs1
        .run(&["sysctl", "-qw", "net.ipv4.icmp_echo_ignore_all=0"])?;
    wait_health(
        &mut lb1,
        "192.168.33.11:8080",
        "TCP 192.168.0.100:8080",
        "up",
    )?;

    // UDP_CHECK: the echo service of real server 1 stops (ICMP port unreachable), then
    // runs again.
    s.lab.stop(udp[0]);
    let down = wait_health(
        &mut lb1,
        "192.168.33.11:5000",
        "UDP 192.168.0.100:5000",
        "down",
    )?;
    assert!(down.contains("port unreachable"), "{down}");
    s.lab.spawn(
        &s.rs1.clone(),
        &["python3", "-c", UDP_ECHO, "5000"],
        "udp-rs1-again",
    )?;
    wait_health(
        &mut lb1,
        "192.168.33.11:5000",
        "UDP 192.168.0.100:5000",
        "up",
    )?;

    // DNS_CHECK: real server 1's DNS server stops, then comes back answering REFUSED
    // (still down), then NOERROR (up).
    s.lab.stop(dns[0]);
    let down = wait_health(&mut lb1, "192.168.33.11:53", "UDP 192.168.0.100:53", "down")?;
    assert!(down.contains("DNS_CHECK 192.168.33.11:53"), "{down}");
    let refused = s.lab.spawn(
        &s.rs1.clone(),
        &["python3", "-c", DNS_RESPONDER, "5"],
        "dns-rs1-refused",
    )?;
    std::thread::sleep(Duration::from_secs(6));
    let listing = command_output(&mut lb1, "ipvs list")?;
    let line = listing
        .lines()
        .find(|l| l.contains("-> 192.168.33.11:53"))
        .ok_or_else(|| Error(format!("no 192.168.33.11:53 in:\n{listing}")))?;
    assert_eq!(
        line.split_whitespace().nth(3),
        Some("0"),
        "REFUSED keeps it out: {line}"
    );
    s.lab.stop(refused);
    s.lab.spawn(
        &s.rs1.clone(),
        &["python3", "-c", DNS_RESPONDER, "0"],
        "dns-rs1-again",
    )?;
    wait_health(&mut lb1, "192.168.33.11:53", "UDP 192.168.0.100:53", "up")?;

    // Real server 2 was never touched: none of its checks went down.
    let log = command_output(&mut lb1, "show log")?;
    assert!(
        !log.contains("real server 192.168.33.12"),
        "real server 2 changed:\n{log}"
    );
    Ok(())
}

#[test]
fn a_status_code_range_takes_204_and_not_500() -> Result<(), Error> {
    let mut s = scenario("statusrange")?;
    s.lab.stop(s.httpd1);
    let status = s.lab.log_path("status-rs1");
    std::fs::write(&status, "204")?;
    let rs1 = s.rs1.clone();
    s.lab.spawn(
        &rs1,
        &["python3", "-c", STATUS_HTTP, &status.to_string_lossy()],
        "status-http-rs1",
    )?;
    // alpha: the server starts down and comes up only on a pass, so "up" shows that 204
    // passed.
    let conf = format!(
        "virtual_server {VIP} 80 {{
    delay_loop 2
    lb_algo rr
    lb_kind NAT
    protocol TCP
    alpha
    real_server {RS1} 80 {{
        weight 1
        inhibit_on_failure
        HTTP_GET {{
            url {{
                path /
                status_code 200-299
            }}
            connect_timeout 2
            retry 0
        }}
    }}
}}
"
    );
    let mut lb1 = s.boot_lb1(&conf, vec![], "")?;
    let up = wait_health(&mut lb1, "192.168.33.11:80", "TCP 192.168.0.100:80", "up")?;
    assert!(up.contains("HTTP status 204"), "{up}");

    std::fs::write(&status, "500")?;
    let down = wait_health(&mut lb1, "192.168.33.11:80", "TCP 192.168.0.100:80", "down")?;
    assert!(down.contains("HTTP status 500, expected 200-299"), "{down}");

    std::fs::write(&status, "299")?;
    wait_health(&mut lb1, "192.168.33.11:80", "TCP 192.168.0.100:80", "up")?;
    Ok(())
}
