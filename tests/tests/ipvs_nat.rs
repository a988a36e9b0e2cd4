//! IPVS NAT beyond the seed (issue 4): failure without inhibit_on_failure, a weight
//! change that keeps established connections, and Debian's ipvsadm as a witness.

mod common;

use std::time::{Duration, Instant};

use common::*;
use lvsfw_lab::addresses::*;
use lvsfw_lab::programs::LONG_CLIENT;
use lvsfw_lab::{host_program, Error};

#[test]
fn without_inhibit_a_dead_server_is_removed_and_added_back() -> Result<(), Error> {
    let conf = SEED_3_1.replace("inhibit_on_failure", "");
    assert_ne!(conf, SEED_3_1, "the seed sets inhibit_on_failure");
    let mut s = scenario("noinhib")?;
    let mut lb1 = s.boot_lb1(&conf, vec![], "")?;
    lb1.wait_for("IPVS: 3 changes applied", Duration::from_secs(20))?;
    until(&s.client, Duration::from_secs(10), 10, alternating)?;

    s.lab.stop(s.httpd1);
    until(&s.client, Duration::from_secs(25), 6, |a| {
        a.iter().all(|x| x == DOCKER2)
    })?;
    lb1.wait_for(
        "real server 192.168.33.11:80 of TCP 192.168.0.100:80: down",
        Duration::from_secs(5),
    )?;
    let listing = command_output(&mut lb1, "ipvs list")?;
    assert!(
        !listing.contains("192.168.33.11:80") && listing.contains("-> 192.168.33.12:80"),
        "server 1 removed, server 2 kept:\n{listing}"
    );
    let proc = command_output(&mut lb1, "debug cat /proc/net/ip_vs")?;
    assert!(
        !proc.contains(&proc_endpoint(RS1, 80)) && proc.contains(&proc_endpoint(RS2, 80)),
        "/proc/net/ip_vs:\n{proc}"
    );

    s.lab.serve_http(&s.rs1, &format!("{DOCKER1}\n"))?;
    lb1.wait_for(
        "real server 192.168.33.11:80 of TCP 192.168.0.100:80: up",
        Duration::from_secs(40),
    )?;
    until(&s.client, Duration::from_secs(10), 10, alternating)?;
    let listing = command_output(&mut lb1, "ipvs list")?;
    assert!(
        listing.contains("-> 192.168.33.11:80"),
        "added back:\n{listing}"
    );
    Ok(())
}

/// An echo service on port 9000 of both real servers, beside the seed's HTTP one.
fn with_echo_service(weight: u32) -> String {
    let mut conf = SEED_3_1.to_string();
    conf.push_str(&format!(
        "
virtual_server {VIP} 9000 {{
    delay_loop 6
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server {RS1} 9000 {{
        weight {weight}
        TCP_CHECK {{
            connect_timeout 3
        }}
    }}
    real_server {RS2} 9000 {{
        weight {weight}
        TCP_CHECK {{
            connect_timeout 3
        }}
    }}
}}
"
    ));
    conf
}

#[test]
fn a_weight_change_keeps_established_connections() -> Result<(), Error> {
    let mut s = scenario("weight")?;
    s.serve_echo()?;
    let mut lb1 = s.boot_lb1(&with_echo_service(1), vec![], "")?;
    lb1.wait_for("IPVS: 6 changes applied", Duration::from_secs(20))?;

    let flag = s.lab.log_path("reloaded-flag");
    let client = s.client.clone();
    s.lab.spawn(
        &client,
        &["python3", "-c", LONG_CLIENT, VIP, &flag.to_string_lossy()],
        "long-client",
    )?;
    let client_log = s.lab.log_path("long-client");
    wait_for_file_line(&client_log, "first one", Duration::from_secs(20))?;

    let applied = import_and_apply(&mut lb1, &with_echo_service(3))?;
    // Two weights edited in place: no service or destination deleted and added again.
    assert!(applied.contains("IPVS: 2 changes applied"), "{applied}");
    let listing = command_output(&mut lb1, "ipvs list")?;
    let echo_servers: Vec<Vec<&str>> = listing
        .lines()
        .filter(|l| l.contains(":9000") && l.contains("->"))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(echo_servers.len(), 2, "{listing}");
    assert!(
        echo_servers.iter().all(|f| f[3] == "3"),
        "weight 3:\n{listing}"
    );
    let active: u32 = echo_servers
        .iter()
        .map(|f| f[4].parse::<u32>().unwrap())
        .sum();
    assert_eq!(
        active, 1,
        "the long connection is still counted:\n{listing}"
    );

    std::fs::write(&flag, b"")?;
    wait_for_file_line(&client_log, "second two", Duration::from_secs(20))?;
    Ok(())
}

fn wait_for_file_line(path: &std::path::Path, text: &str, limit: Duration) -> Result<(), Error> {
    let deadline = Instant::now() + limit;
    loop {
        let content = std::fs::read_to_string(path).unwrap_or_default();
        if content.lines().any(|l| l.contains(text)) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error(format!(
                "{}: no line with {text:?} within {limit:?}:\n{content}",
                path.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Several schedulers, persistence with a netmask, UDP and a fwmark service, scheduler
/// flags, the SIP persistence engine, an inhibited sorry server, a DR real server with thresholds and lvs_timeouts;
/// no checks, so every real server is up as keepalived has it.
fn many_services() -> String {
    let vs = |head: &str, body: &str, servers: &[(&str, u16, u32)]| {
        let mut text = format!("virtual_server {head} {{\n    lb_kind NAT\n{body}");
        for (addr, port, weight) in servers {
            text.push_str(&format!(
                "    real_server {addr} {port} {{\n        weight {weight}\n    }}\n"
            ));
        }
        text.push_str("}\n");
        text
    };
    [
        "global_defs {\n    lvs_timeouts tcp 7200 tcpfin 60 udp 120\n}\n".to_string(),
        vs(
            &format!("{VIP} 80"),
            "    lb_algo wrr\n    protocol TCP\n    persistence_timeout 300\n    persistence_granularity 255.255.255.0\n",
            &[(RS1, 80, 2), (RS2, 80, 1)],
        ),
        vs(
            &format!("{VIP} 443"),
            &format!("    lb_algo lc\n    protocol TCP\n    sorry_server {RS2} 4443\n    sorry_server_inhibit\n"),
            &[(RS1, 443, 1), (RS2, 443, 5)],
        ),
        vs(
            &format!("{VIP} 53"),
            "    lb_algo sh\n    protocol UDP\n    sh-port\n    sh-fallback\n    ops\n    persistence_timeout 30\n    persistence_engine sip\n",
            &[(RS1, 53, 1), (RS2, 53, 1)],
        ),
        vs(
            "fwmark 7",
            "    lb_algo wlc\n    persistence_timeout 60\n",
            &[(RS1, 80, 1), (RS2, 80, 2)],
        ),
        vs(
            &format!("{VIP} 8080"),
            &format!("    lb_algo sed\n    protocol TCP\n    real_server {RS2} 8080 {{\n        lvs_method DR\n        uthreshold 1000\n        lthreshold 10\n    }}\n"),
            &[(RS1, 8080, 1)],
        ),
        vs(
            &format!("{VIP} 8081"),
            "    lb_algo mh\n    protocol TCP\n    mh-port\n",
            &[(RS2, 8081, 1)],
        ),
        vs(
            &format!("{VIP} 132"),
            "    lb_algo nq\n    protocol SCTP\n",
            &[(RS1, 132, 1)],
        ),
    ]
    .concat()
}

#[test]
fn debians_ipvsadm_agrees_with_lvsfw_ipvs_list() -> Result<(), Error> {
    let ipvsadm = ["/usr/sbin/ipvsadm", "/sbin/ipvsadm"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .ok_or_else(|| Error("ipvsadm is not installed: run scripts/setup".into()))?;
    let mut s = scenario("ipvsadm")?;
    let files = host_program::with_libraries(ipvsadm)?;
    let mut lb1 = s.boot_lb1(&many_services(), files, "lvsfw.debug")?;
    lb1.wait_for("IPVS: 20 changes applied", Duration::from_secs(30))?;
    // The balancer's last start lines, before any listing is read from the console.
    lb1.wait_for(
        "ready: the configuration is applied",
        Duration::from_secs(30),
    )?;

    for (ours, theirs) in [
        ("ipvs list", format!("debug run {ipvsadm} -Ln")),
        (
            "ipvs list --stats",
            format!("debug run {ipvsadm} -Ln --stats --exact"),
        ),
        (
            "ipvs list --rate",
            format!("debug run {ipvsadm} -Ln --rate --exact"),
        ),
    ] {
        let lvsfw = command_output(&mut lb1, ours)?;
        let witness = command_output(&mut lb1, &theirs)?;
        let (witness, end) = witness
            .rsplit_once("\ndebug run: ")
            .ok_or_else(|| Error(format!("{theirs} did not end:\n{witness}")))?;
        assert!(
            end.starts_with("exit code 0 "),
            "{theirs}: {end}\n{witness}"
        );
        // Rates and counters move between the two reads only with traffic; there is none.
        assert_eq!(
            lvsfw.lines().collect::<Vec<_>>(),
            witness.lines().collect::<Vec<_>>(),
            "{ours} against ipvsadm"
        );
        assert!(lvsfw.contains("FWM  7"), "{lvsfw}");
    }
    // What keepalived.conf asked for is what the kernel holds, in ipvsadm's words.
    let listing = command_output(&mut lb1, &format!("debug run {ipvsadm} -Ln"))?;
    for part in [
        "sh (sh-fallback,sh-port) persistent 30 pe sip ops",
        "mh (mh-port)",
        &format!("-> {RS2}:4443"),
    ] {
        assert!(listing.contains(part), "{part} missing:\n{listing}");
    }
    let row = |port: &str| {
        listing
            .lines()
            .find(|l| l.contains(&format!("{RS2}:{port} ")))
            .unwrap_or("")
            .to_string()
    };
    assert!(
        row("4443").contains("Masq    0"),
        "the idle sorry server: {}",
        row("4443")
    );
    assert!(
        row("8080").contains("Route"),
        "lvs_method DR: {}",
        row("8080")
    );
    let thresholds = command_output(&mut lb1, &format!("debug run {ipvsadm} -Ln --thresholds"))?;
    let dr = thresholds
        .lines()
        .find(|l| l.contains(&format!("{RS2}:8080 ")))
        .unwrap_or("");
    assert!(
        dr.contains("1000") && dr.contains("10"),
        "thresholds: {dr}\n{thresholds}"
    );
    let timeouts = command_output(&mut lb1, &format!("debug run {ipvsadm} -L --timeout"))?;
    assert!(timeouts.contains("7200 60 120"), "lvs_timeouts: {timeouts}");

    // Only the schedulers the configuration names are loaded (issue 19); one that only an
    // ipvsadm names comes when the kernel asks the image's modprobe for it (lvsfw again).
    for unused in ["ip_vs_dh", "ip_vs_lblcr"] {
        let seen = command_output(&mut lb1, &format!("debug cat /sys/module/{unused}/refcnt"))?;
        assert!(seen.contains("No such file"), "{unused} is loaded: {seen}");
    }
    let added = command_output(
        &mut lb1,
        &format!("debug run {ipvsadm} -A -t 10.10.10.10:81 -s dh"),
    )?;
    assert!(added.contains("debug run: exit code 0 "), "{added}");
    let loaded = command_output(&mut lb1, "debug cat /sys/module/ip_vs_dh/refcnt")?;
    assert!(!loaded.contains("No such file"), "ip_vs_dh: {loaded}");
    let log = command_output(&mut lb1, "show log")?;
    assert!(
        log.contains("kernel: modprobe: loaded 1 kernel modules for ip_vs_dh"),
        "the kernel's modprobe helper did not say so:\n{log}"
    );
    // Nothing more than what was asked for.
    let seen = command_output(&mut lb1, "debug cat /sys/module/ip_vs_lblcr/refcnt")?;
    assert!(
        seen.contains("No such file"),
        "ip_vs_lblcr is loaded: {seen}"
    );
    let _ = command_output(
        &mut lb1,
        &format!("debug run {ipvsadm} -D -t 10.10.10.10:81"),
    )?;
    Ok(())
}
