//! Issue 18's route health injection against a real router, in network namespaces, no
//! VM: `lvsfw run -f` with a `bgp` block announces the VIP to FRR's bgpd only while its
//! real server passes its check. The real server stopped: FRR first sees the route with
//! the GRACEFUL_SHUTDOWN community (RFC 8326), then not at all; started again: the route
//! is back, untagged. `drain` (SIGUSR1 here, the console's `drain` on the appliance) does
//! the same with the real server up, and its end (SIGUSR2) announces again. `lvsfw bgp
//! status` names the neighbor, its state and what it has; SIGTERM withdraws gracefully
//! before the session ends.
//!
//! The host has no IPVS: `run -f` runs the checks for BGP alone, which is what is tested
//! here (the forwarding is the QEMU lab's). Bounds are the protocol's and the checks'
//! own timers with a margin for a shared 2-core box; measured times are printed.

use std::time::{Duration, Instant};

use lvsfw_lab::bgp_peers::{balancer_host, wait_until, FrrBgpd};
use lvsfw_lab::peers::Lvsfw;
use lvsfw_lab::{Error, Lab, Net};
use nix::sys::signal::Signal;

const ROUTER: &str = "192.168.0.1";
const LB: &str = "192.168.0.101";
const LB_INT: &str = "192.168.33.20";
const RS: &str = "192.168.33.11";
const VIP: &str = "192.168.0.100/32";
const LB_AS: &str = "65002";
/// The check finds a dead server at once (connection refused), then retries once a
/// second later; the graceful-shutdown wait is 3 s.
const CHECK_DOWN: Duration = Duration::from_secs(4);
const GSHUT_WAIT: Duration = Duration::from_secs(3);
const MARGIN: Duration = Duration::from_secs(4);
/// A session comes up in well under a hold time (9 s).
const SESSION_UP: Duration = Duration::from_secs(15);

const FRR_CONF: &str = "hostname router
log stdout informational
router bgp 65001
 bgp router-id 192.168.0.1
 no bgp ebgp-requires-policy
 neighbor 192.168.0.101 remote-as 65002
 neighbor 192.168.0.101 timers 3 9
";

fn keepalived_conf() -> String {
    format!(
        "virtual_server 192.168.0.100 80 {{
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server {RS} 80 {{
        TCP_CHECK {{
            connect_timeout 1
            retry 1
            delay_before_retry 1
        }}
    }}
}}

bgp {{
    local_as {LB_AS}
    graceful_shutdown_time 3
    neighbor {ROUTER} {{
        remote_as 65001
        hold_time 9
        connect_retry 1
    }}
    announce {{
        192.168.0.100
    }}
}}
"
    )
}

fn has(frr: &FrrBgpd) -> bool {
    frr.route(VIP).contains(&format!("  {LB_AS}\n"))
}

fn tagged(frr: &FrrBgpd) -> bool {
    frr.route(VIP).contains("Community: graceful-shutdown")
}

/// Waits for FRR to show the VIP tagged GRACEFUL_SHUTDOWN, then without it; the times
/// from `since` to each.
fn graceful_withdraw(frr: &FrrBgpd, since: Instant, why: &str) -> Result<(), Error> {
    wait_until(
        CHECK_DOWN + MARGIN,
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
    eprintln!(
        "{why}: GRACEFUL_SHUTDOWN seen after {tagged_after:?}, route gone after {gone_after:?}"
    );
    assert!(
        gone_after >= tagged_after + GSHUT_WAIT - Duration::from_millis(500),
        "{why}: withdrawn before the graceful-shutdown wait ({tagged_after:?} → {gone_after:?})"
    );
    Ok(())
}

fn announced_untagged(frr: &FrrBgpd, why: &str, limit: Duration) -> Result<Duration, Error> {
    wait_until(
        limit,
        &format!("{why}: {VIP} announced (untagged) to FRR"),
        || has(frr) && !tagged(frr),
    )
}

#[test]
fn frr_sees_the_vip_only_while_its_real_server_is_healthy_and_not_drained() -> Result<(), Error> {
    let mut lab = Lab::new("bgprhi", false)?;
    let router = lab.add_host("router", Net::Ext, &format!("{ROUTER}/24"), None)?;
    let lb = balancer_host(&mut lab, "lb", &format!("{LB}/24"), &format!("{LB_INT}/24"))?;
    let rs = lab.add_host("rs", Net::Int, &format!("{RS}/24"), None)?;
    let frr = FrrBgpd::start(&mut lab, &router, "bgpd", ROUTER, FRR_CONF)?;

    // The real server is down at the start: nothing may be announced.
    let run = Lvsfw::start(&mut lab, &lb, "lb", &keepalived_conf())?;
    let lvsfw = run.pid;
    wait_until(SESSION_UP, "the session is Established", || {
        run.bgp().contains(" Established ")
    })?;
    wait_until(CHECK_DOWN + MARGIN, "the prefix judged down", || {
        run.bgp().contains("0 live real server(s), quorum 1")
    })?;
    assert!(
        !has(&frr),
        "announced while its only real server is down:\n{}",
        frr.route(VIP)
    );

    // Started: announced.
    let mut httpd = lab.serve_http(&rs, "rs1")?;
    let took = announced_untagged(&frr, "real server started", CHECK_DOWN + MARGIN)?;
    eprintln!("real server started → {VIP} in FRR after {took:?}");
    // The status file follows the sessions within a second.
    wait_until(MARGIN, "lvsfw bgp status shows the VIP announced", || {
        let shown = run.bgp();
        shown.contains(&format!("announced: {VIP}\n"))
            && shown.contains("192.168.0.100/32           yes")
    })?;

    // Stopped: graceful shutdown first, then withdrawn.
    lab.stop(httpd);
    graceful_withdraw(&frr, Instant::now(), "real server stopped")?;
    httpd = lab.serve_http(&rs, "rs1")?;
    let took = announced_untagged(&frr, "real server back", CHECK_DOWN + MARGIN)?;
    eprintln!("real server back → {VIP} in FRR after {took:?}");

    // drain: withdrawn though the real server is up, and back when it ends.
    lab.signal(lvsfw, Signal::SIGUSR1)?;
    graceful_withdraw(&frr, Instant::now(), "drain")?;
    wait_until(MARGIN, "lvsfw bgp status shows the drain", || {
        let shown = run.bgp();
        shown.contains("DRAINED") && shown.contains("no        drained")
    })?;
    lab.signal(lvsfw, Signal::SIGUSR2)?;
    let took = announced_untagged(&frr, "drain ended", MARGIN)?;
    eprintln!("drain ended → {VIP} in FRR after {took:?}");

    // SIGTERM (power-off, reboot): graceful shutdown before the session ends.
    lab.signal(lvsfw, Signal::SIGTERM)?;
    let asked = Instant::now();
    wait_until(MARGIN, "FRR shows the VIP tagged at stop", || tagged(&frr))?;
    let exited = lab.wait_exit(lvsfw, GSHUT_WAIT + MARGIN);
    assert!(
        exited.is_some_and(|s| s.success()),
        "lvsfw did not stop cleanly: {exited:?}"
    );
    wait_until(MARGIN, "the route gone at stop", || !has(&frr))?;
    eprintln!("SIGTERM → stopped after {:?}", asked.elapsed());
    assert!(
        asked.elapsed() >= GSHUT_WAIT - Duration::from_millis(500),
        "stopped without the graceful-shutdown wait"
    );
    let log = std::fs::read_to_string(lab.log_path("lb")).unwrap_or_default();
    assert_eq!(
        log.lines().filter(|l| l.contains("session up")).count(),
        1,
        "the session went down in between:\n{log}"
    );
    lab.stop(httpd);
    Ok(())
}
