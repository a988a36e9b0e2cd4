//! The seed's scenario 3-1 (issue 4): one appliance balancing HTTP between two real
//! servers through the kernel's IPVS, with the seed's keepalived.conf verbatim.

mod common;

use std::time::{Duration, Instant};

use common::*;
use lvsfw_lab::Error;

#[test]
fn round_robin_and_a_dead_server_gets_weight_0() -> Result<(), Error> {
    let mut s = scenario("seed31")?;
    let mut lb1 = s.boot_lb1(SEED_3_1, vec![], "")?;
    lb1.wait_for("IPVS: 3 changes applied", Duration::from_secs(20))?;

    // 20 requests alternate between the two real servers.
    let answers = until(&s.client, Duration::from_secs(10), 20, alternating)?;
    assert_eq!(answers.iter().filter(|a| *a == DOCKER1).count(), 10);

    // Real server 1's HTTP service stops: within delay_loop + retry x (connect_timeout +
    // delay_before_retry) + 1 s = 6 + 3 x 6 + 1 = 25 s, every request answers Docker2.
    s.lab.stop(s.httpd1);
    let stopped = Instant::now();
    until(&s.client, Duration::from_secs(25), 6, |a| {
        a.iter().all(|x| x == DOCKER2)
    })?;
    eprintln!(
        "only Docker2 answers {} ms after the stop",
        stopped.elapsed().as_millis()
    );
    lb1.wait_for(
        "real server 192.168.33.11:80 of TCP 192.168.0.100:80: down",
        Duration::from_secs(5),
    )?;
    let listing = command_output(&mut lb1, "ipvs list")?;
    let line = listing
        .lines()
        .find(|l| l.contains("-> 192.168.33.11:80"))
        .ok_or_else(|| Error(format!("server 1 missing from:\n{listing}")))?;
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        fields[2..4],
        ["Masq", "0"],
        "weight 0 with inhibit_on_failure: {line}"
    );
    // The kernel's own view agrees.
    let proc = command_output(&mut lb1, "debug cat /proc/net/ip_vs")?;
    let line = proc
        .lines()
        .find(|l| l.contains(&format!("-> {}", proc_endpoint("192.168.33.11", 80))))
        .ok_or_else(|| Error(format!("server 1 missing from /proc/net/ip_vs:\n{proc}")))?;
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(fields[2..4], ["Masq", "0"], "/proc/net/ip_vs: {line}");

    // Back: it returns to rotation.
    s.lab.serve_http(&s.rs1, &format!("{DOCKER1}\n"))?;
    lb1.wait_for(
        "real server 192.168.33.11:80 of TCP 192.168.0.100:80: up",
        Duration::from_secs(40),
    )?;
    until(&s.client, Duration::from_secs(10), 10, alternating)?;
    Ok(())
}
