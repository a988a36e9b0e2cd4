//! Route health injection on the appliance (issue 18): the seed's scenario 3-1 with a
//! `bgp` block, FRR's bgpd as the router on ext. The VIP is announced once the real
//! servers' checks have run; with `quorum 2` a real server stopped withdraws it (the
//! GRACEFUL_SHUTDOWN community first) and its return announces it again; the console's
//! `drain` withdraws it with both servers up and `drain off` ends that; `show bgp` says
//! each of these; int's cable cut withdraws it at once; a reload that adds a neighbor leaves
//! the router's session as it was; the power button withdraws it gracefully before the box
//! goes.

mod common;

use std::time::{Duration, Instant};

use common::*;
use lvsfw_lab::bgp_peers::{wait_until, FrrBgpd};
use lvsfw_lab::{Error, Net};

const ROUTER: &str = "192.168.0.1";
const VIP: &str = "192.168.0.100/32";
const LB_AS: &str = "65002";
/// The seed's checks: delay_loop 6, retry 3, delay_before_retry 3, connect_timeout 3
/// (a refused connection fails at once), under emulation.
const CHECK_DOWN: Duration = Duration::from_secs(40);
const GSHUT_WAIT: Duration = Duration::from_secs(3);
const MARGIN: Duration = Duration::from_secs(10);

const FRR_CONF: &str = "hostname router
log stdout informational
router bgp 65001
 bgp router-id 192.168.0.1
 no bgp ebgp-requires-policy
 neighbor 192.168.0.101 remote-as 65002
 neighbor 192.168.0.101 timers 3 9
";

const BGP: &str = "
bgp {
    local_as 65002
    quorum 2
    graceful_shutdown_time 3
    neighbor 192.168.0.1 {
        remote_as 65001
        hold_time 9
        connect_retry 2
    }
    announce {
        192.168.0.100
    }
}
";

fn has(frr: &FrrBgpd) -> bool {
    frr.route(VIP).contains(&format!("  {LB_AS}\n"))
}

fn tagged(frr: &FrrBgpd) -> bool {
    frr.route(VIP).contains("Community: graceful-shutdown")
}

/// FRR shows the VIP tagged, then not at all, at least the graceful-shutdown wait after
/// `since` (taken before what withdraws it: the tag itself may come before the first
/// look, while a slow console or monitor command returns).
fn graceful_withdraw(
    frr: &FrrBgpd,
    since: Instant,
    limit: Duration,
    why: &str,
) -> Result<(), Error> {
    wait_until(
        limit,
        &format!("{why}: FRR shows {VIP} with GRACEFUL_SHUTDOWN"),
        || tagged(frr),
    )?;
    let tagged_after = since.elapsed();
    wait_until(
        GSHUT_WAIT + MARGIN,
        &format!("{why}: {VIP} gone from FRR"),
        || !has(frr),
    )?;
    let gone_after = since.elapsed();
    eprintln!("{why}: GRACEFUL_SHUTDOWN after {tagged_after:?}, gone after {gone_after:?}");
    assert!(
        gone_after >= GSHUT_WAIT - Duration::from_millis(500),
        "{why}: withdrawn {gone_after:?} after, before the graceful-shutdown wait"
    );
    Ok(())
}

/// `show bgp` until `want` is in it (the status file follows the sessions within a
/// second), at most 10 tries a second apart; the last output.
fn show_bgp_until(lb: &mut lvsfw_lab::Appliance, want: &str) -> Result<String, Error> {
    let mut shown = String::new();
    for _ in 0..10 {
        shown = command_output(lb, "show bgp")?;
        if shown.contains(want) {
            return Ok(shown);
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    Err(Error(format!("no {want:?} in show bgp:\n{shown}")))
}

#[test]
fn the_vip_follows_quorum_and_drain_at_the_console() -> Result<(), Error> {
    let mut s = scenario("bgpapp")?;
    let router = s
        .lab
        .add_host("router", Net::Ext, &format!("{ROUTER}/24"), None)?;
    let frr = FrrBgpd::start(&mut s.lab, &router, "bgpd", ROUTER, FRR_CONF)?;
    let mut lb1 = s.boot_lb1(&format!("{SEED_3_1}{BGP}"), vec![], "")?;
    let booted = Instant::now();
    wait_until(Duration::from_secs(90), "FRR has the VIP", || has(&frr))?;
    eprintln!(
        "balancer's interfaces up → VIP in FRR after {:?}",
        booted.elapsed()
    );
    let shown = show_bgp_until(&mut lb1, &format!("announced: {VIP}"))?;
    assert!(shown.contains(" Established "), "{shown}");

    // quorum 2: one real server down withdraws the VIP, gracefully.
    let since = Instant::now();
    s.lab.stop(s.httpd1);
    graceful_withdraw(&frr, since, CHECK_DOWN, "real server 1 stopped")?;
    show_bgp_until(&mut lb1, "1 live real server(s), quorum 2")?;
    s.httpd1 = s.lab.serve_http(&s.rs1, &format!("{DOCKER1}\n"))?;
    wait_until(CHECK_DOWN, "the VIP back in FRR", || {
        has(&frr) && !tagged(&frr)
    })?;

    // drain at the console: withdrawn with both servers up; drain off: back.
    let since = Instant::now();
    let said = lb1.command("drain", Duration::from_secs(60))?;
    assert!(said.contains("drained by console"), "{said}");
    graceful_withdraw(&frr, since, MARGIN, "drain")?;
    show_bgp_until(&mut lb1, "DRAINED")?;
    let said = lb1.command("drain off", Duration::from_secs(60))?;
    assert!(said.contains("drain ended by console"), "{said}");
    wait_until(MARGIN, "the VIP back after the drain", || {
        has(&frr) && !tagged(&frr)
    })?;
    // int's cable cut: the box cannot reach its real servers; withdrawn within the
    // task's once-a-second look at the links, long before a check would notice.
    let since = Instant::now();
    lb1.set_link("int", false)?;
    graceful_withdraw(&frr, since, Duration::from_secs(5), "int's cable cut")?;
    show_bgp_until(&mut lb1, "ext or int is down")?;
    lb1.set_link("int", true)?;
    wait_until(MARGIN, "the VIP back with int", || {
        has(&frr) && !tagged(&frr)
    })?;

    // A reload that adds a neighbor (nobody there) keeps the session that did not change.
    let with_second = format!(
        "{SEED_3_1}{}",
        BGP.replace(
            "    announce {",
            "    neighbor 192.168.0.2 {\n        remote_as 65003\n        connect_retry 2\n    }\n    announce {"
        )
    );
    import_and_apply(&mut lb1, &with_second)?;
    show_bgp_until(&mut lb1, "192.168.0.2 ")?;
    assert!(has(&frr) && !tagged(&frr), "{}", frr.route(VIP));
    // The session stayed up through all of it.
    let shown = frr.vtysh(&["show bgp neighbors 192.168.0.101"]);
    assert!(shown.contains("established 1; dropped 0"), "{shown}");

    // The power button: the VIP withdrawn gracefully before the balancer stops, within
    // PID 1's grace (no kill), and the box powers off.
    let since = Instant::now();
    lb1.monitor("system_powerdown")?;
    graceful_withdraw(&frr, since, MARGIN, "power button")?;
    let status = lb1.wait_exit(Duration::from_secs(20))?;
    assert!(
        status.is_some(),
        "QEMU still running 20 s after the power button"
    );
    lb1.wait_for("init: balancer stopped (exit code 0)", Duration::ZERO)?;
    eprintln!("power button → QEMU gone after {:?}", since.elapsed());
    Ok(())
}
