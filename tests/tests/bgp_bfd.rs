//! Issue 18's BFD (RFC 5880/5881) against a real router, in network namespaces, no VM:
//! FRR (zebra, bfdd and bgpd from Debian) with `neighbor X bfd` and a 100 ms profile, and
//! two speakers: `lvsfw run -f` with `bfd { min_rx 100 min_tx 100 multiplier 3 }` in its
//! neighbor block, and `lvsfw bgp-speaker` without BFD beside it.
//!
//! 1. The BFD session comes up on both sides (`show bfd peers`, `lvsfw bgp status`).
//! 2. FRR frozen (SIGSTOP): lvsfw logs BFD down and resets the BGP session within about
//!    the detection time; FRR thawed, both sessions come back.
//! 3. Both speakers killed hard (SIGKILL, no Cease): FRR drops the BFD speaker's route
//!    within about the detection time, the other's only at hold-timer expiry (9 s).
//!
//! 4. BIRD 2 with `bfd on` as the router once: up on both sides, and the dead box's
//!    route gone within about the detection time.
//! 5. Over IPv6 (RFC 5881 §4): FRR with an IPv6 neighbor and BFD, an IPv6 virtual
//!    server announced; the box frozen (SIGSTOP) → its route gone within about the
//!    detection time, FRR's BFD session Down.
//!
//! Times are printed; the asserted bounds are the protocols' own (before the hold time)
//! with a margin for a shared 2-core box.

use std::time::{Duration, Instant};

use lvsfw_lab::bgp_peers::{balancer_host, wait_until, Bird, Speaker};
use lvsfw_lab::ecmp_router::EcmpRouter;
use lvsfw_lab::peers::Lvsfw;
use lvsfw_lab::{Error, Host, Lab, Net};
use nix::sys::signal::Signal;

const ROUTER: &str = "192.168.0.1";
const LB: &str = "192.168.0.101";
const LB2: &str = "192.168.0.102";
const LB_INT: &str = "192.168.33.20";
const RS: &str = "192.168.33.11";
const VIP: &str = "192.168.0.100/32";
const VIP2: &str = "192.168.0.200/32";
const HOLD: Duration = Duration::from_secs(9);
/// A session (BGP or BFD) comes up in well under a hold time.
const UP: Duration = Duration::from_secs(30);

const BFDD_CONF: &str = "hostname router
log stdout informational
bfd
 profile fast
  receive-interval 100
  transmit-interval 100
  detect-multiplier 3
 !
!
";

const BGPD_CONF: &str = "hostname router
log stdout informational
router bgp 65001
 bgp router-id 192.168.0.1
 bgp log-neighbor-changes
 no bgp ebgp-requires-policy
 neighbor 192.168.0.101 remote-as 65002
 neighbor 192.168.0.101 timers 3 9
 neighbor 192.168.0.101 bfd
 neighbor 192.168.0.101 bfd profile fast
 neighbor 192.168.0.102 remote-as 65003
 neighbor 192.168.0.102 timers 3 9
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
        }}
    }}
}}

{}",
        bgp_block(ROUTER, "192.168.0.100")
    )
}

/// The bgp block both tests' boxes run: one neighbor, with BFD at 100 ms × 3.
fn bgp_block(router: &str, vip: &str) -> String {
    format!(
        "bgp {{
    local_as 65002
    graceful_shutdown_time 0
    neighbor {router} {{
        remote_as 65001
        hold_time 9
        connect_retry 1
        bfd {{
            min_rx 100
            min_tx 100
            multiplier 3
        }}
    }}
    announce {{
        {vip}
    }}
}}
"
    )
}

/// FRR (zebra, bfdd, bgpd) as the router: the lab's one FRR router.
struct Frr(EcmpRouter);

impl Frr {
    fn start(lab: &mut Lab, host: &Host) -> Result<Frr, Error> {
        EcmpRouter::start_with_bfd(lab, host, BGPD_CONF, Some(BFDD_CONF)).map(Frr)
    }

    fn vtysh(&self, command: &str) -> String {
        self.0.vtysh(&[command])
    }

    /// The IPv4 unicast table, one line per best path.
    fn table(&self) -> String {
        self.vtysh("show bgp ipv4 unicast")
    }

    fn signal_all(&self, lab: &mut Lab, signal: Signal) -> Result<(), Error> {
        for pid in self.0.pids() {
            lab.signal(pid, signal)?;
        }
        Ok(())
    }
}

fn count(path: &std::path::Path, text: &str) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(text))
        .count()
}

#[test]
fn bfd_takes_a_dead_speaker_out_in_the_detection_time_and_a_frozen_router_resets_bgp(
) -> Result<(), Error> {
    let mut lab = Lab::new("bgpbfd", false)?;
    let router = lab.add_host("router", Net::Ext, &format!("{ROUTER}/24"), None)?;
    let lb = balancer_host(&mut lab, "lb", &format!("{LB}/24"), &format!("{LB_INT}/24"))?;
    let lb2 = lab.add_host("lb2", Net::Ext, &format!("{LB2}/24"), None)?;
    let rs = lab.add_host("rs", Net::Int, &format!("{RS}/24"), None)?;
    let _httpd = lab.serve_http(&rs, "rs1")?;
    let frr = Frr::start(&mut lab, &router)?;

    let run = Lvsfw::start(&mut lab, &lb, "lb", &keepalived_conf())?;
    let lvsfw = run.pid;
    let log = lab.log_path("lb");
    let plain = Speaker::start(
        &mut lab,
        &lb2,
        "lb2",
        &[
            "--peer",
            ROUTER,
            "--remote-as",
            "65001",
            "--local-as",
            "65003",
            "--local-address",
            LB2,
            "--hold-time",
            "9",
            "--connect-retry",
            "1",
            VIP2,
        ],
    )?;

    // 1. Up on both sides, both routes in FRR.
    let took = wait_until(UP, "FRR's BFD peer 192.168.0.101 up", || {
        let peers = frr.vtysh("show bfd peers");
        peers.contains(&format!("peer {LB}")) && peers.contains("Status: up")
    })?;
    eprintln!("BFD up in FRR after {took:?}");
    wait_until(UP, "lvsfw bgp status shows BFD Up", || {
        run.bgp().contains("    BFD: Up for")
    })?;
    wait_until(UP, "both routes in FRR", || {
        let t = frr.table();
        t.contains(VIP) && t.contains(VIP2)
    })?;
    eprintln!("{}", frr.vtysh("show bfd peers"));
    eprintln!("{}", run.bgp());
    let shown = frr.vtysh(&format!("show bgp neighbors {LB}"));
    assert!(
        shown.contains("BFD: Type: single hop") || shown.contains("Status: Up"),
        "FRR's neighbor shows no BFD:\n{shown}"
    );

    // 2. FRR frozen: our detection time (3 × 100 ms) passes, BFD goes down, BGP resets.
    frr.signal_all(&mut lab, Signal::SIGSTOP)?;
    let frozen = Instant::now();
    let result = wait_until(HOLD, "lvsfw logs BFD down and resets BGP", || {
        count(&log, "BFD session down") >= 1
    });
    let bfd_down = frozen.elapsed();
    let reset = wait_until(HOLD, "the BGP session reset", || {
        count(&log, "BGP session reset") >= 1
    });
    let reset_after = frozen.elapsed();
    frr.signal_all(&mut lab, Signal::SIGCONT)?;
    result?;
    reset?;
    eprintln!(
        "FRR frozen → our BFD down after {bfd_down:?}, BGP session reset after {reset_after:?} (hold time {HOLD:?})"
    );
    assert!(
        reset_after < HOLD,
        "the BGP session was reset no sooner than the hold timer would have"
    );
    // Thawed: both sessions come back (BGP after the idle hold time of 5 s).
    let took = wait_until(UP, "the BGP session up again", || {
        count(&log, "session up (AS") >= 2
    })?;
    eprintln!("FRR thawed → BGP up again after {took:?}");
    wait_until(UP, "BFD up again on both sides, both routes in FRR", || {
        let t = frr.table();
        frr.vtysh("show bfd peers").contains("Status: up")
            && run.bgp().contains("    BFD: Up for")
            && t.contains(VIP)
            && t.contains(VIP2)
    })?;

    // 3. Both boxes die at once: their NIC goes silent, then the speakers are killed
    // (SIGKILL): no Cease, no BFD AdminDown, and no FIN either (a killed process's
    // socket is closed by the kernel, which would tell FRR at once; a dead box tells
    // nothing).
    let killed = Instant::now();
    lb.run(&["ip", "link", "set", "eth0", "down"])?;
    lb2.run(&["ip", "link", "set", "eth0", "down"])?;
    lab.signal(lvsfw, Signal::SIGKILL)?;
    lab.signal(plain.pid, Signal::SIGKILL)?;
    let mut bfd_gone = None;
    let mut hold_gone = None;
    let limit = HOLD + Duration::from_secs(6);
    while killed.elapsed() < limit && (bfd_gone.is_none() || hold_gone.is_none()) {
        let t = frr.table();
        if bfd_gone.is_none() && !t.contains(VIP) {
            bfd_gone = Some(killed.elapsed());
        }
        if hold_gone.is_none() && !t.contains(VIP2) {
            hold_gone = Some(killed.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!(
        "hard kill → route gone from FRR: with BFD (detection 300 ms) after {bfd_gone:?}, without BFD (hold time 9 s) after {hold_gone:?}"
    );
    let bfd_gone = bfd_gone.ok_or_else(|| Error(format!("{VIP} still in FRR after {limit:?}")))?;
    let hold_gone =
        hold_gone.ok_or_else(|| Error(format!("{VIP2} still in FRR after {limit:?}")))?;
    assert!(
        bfd_gone < Duration::from_secs(3),
        "with BFD the route went only after {bfd_gone:?}, a keepalive interval or more"
    );
    // Without BFD only the hold timer (9 s after the last KEEPALIVE, sent every 3 s)
    // takes the route out: not before 6 s.
    assert!(
        hold_gone > Duration::from_secs(5),
        "without BFD the route went after {hold_gone:?}, before the hold timer could expire"
    );
    let frr_log = std::fs::read_to_string(lab.log_path("bgpd")).unwrap_or_default();
    eprintln!(
        "bgpd's lines about the peers going down:\n{}",
        frr_log
            .lines()
            .filter(|l| l.contains("ADJCHANGE") || l.contains("BFD") || l.contains("Hold Timer"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    Ok(())
}

fn bird_conf() -> String {
    format!(
        "router id {ROUTER};
log stderr all;
protocol device {{ }}
protocol bfd {{
    interface \"*\" {{ min rx interval 100 ms; min tx interval 100 ms; multiplier 3; }};
}}
protocol bgp lb {{
    local {ROUTER} as 65001;
    neighbor {LB} as 65002;
    hold time 9;
    keepalive time 3;
    passive on;
    error wait time 1, 2;
    bfd on;
    ipv4 {{ import all; export none; }};
}}
"
    )
}

#[test]
fn bird_with_bfd_drops_a_dead_box_in_the_detection_time() -> Result<(), Error> {
    let mut lab = Lab::new("bgpbfdbird", false)?;
    let router = lab.add_host("router", Net::Ext, &format!("{ROUTER}/24"), None)?;
    let lb = balancer_host(&mut lab, "lb", &format!("{LB}/24"), &format!("{LB_INT}/24"))?;
    let rs = lab.add_host("rs", Net::Int, &format!("{RS}/24"), None)?;
    let _httpd = lab.serve_http(&rs, "rs1")?;
    let bird = Bird::start(&mut lab, &router, "bird", &bird_conf())?;
    let run = Lvsfw::start(&mut lab, &lb, "lb", &keepalived_conf())?;
    let lvsfw = run.pid;
    let in_bird =
        || !bird.route(VIP).contains("Network not found") && bird.route(VIP).contains(VIP);
    let took = wait_until(
        UP,
        "BIRD's BFD session Up, our BFD Up, the route in BIRD",
        || {
            bird.birdc("show bfd sessions").contains(" Up ")
                && run.bgp().contains("    BFD: Up for")
                && in_bird()
        },
    )?;
    eprintln!("BIRD: BFD up and the route in after {took:?}");
    eprintln!("{}", bird.birdc("show bfd sessions"));

    let killed = Instant::now();
    lb.run(&["ip", "link", "set", "eth0", "down"])?;
    lab.signal(lvsfw, Signal::SIGKILL)?;
    let gone = wait_until(HOLD, "the dead box's route gone from BIRD", || !in_bird())?;
    eprintln!(
        "BIRD: hard kill → route gone after {gone:?} (detection 300 ms, hold time {HOLD:?}); {:?} since the kill",
        killed.elapsed()
    );
    assert!(
        gone < Duration::from_secs(3),
        "with BFD the route went only after {gone:?}"
    );
    Ok(())
}

const ROUTER6: &str = "fd00::1";
const LB6: &str = "fd00::101";
const VIP6: &str = "fd00::100/128";

const BGPD6_CONF: &str = "hostname router
log stdout informational
router bgp 65001
 bgp router-id 192.168.0.1
 no bgp ebgp-requires-policy
 neighbor fd00::101 remote-as 65002
 neighbor fd00::101 timers 3 9
 neighbor fd00::101 update-source fd00::1
 neighbor fd00::101 bfd
 neighbor fd00::101 bfd profile fast
 address-family ipv6 unicast
  neighbor fd00::101 activate
 exit-address-family
";

/// An IPv6 virtual server (its real server unchecked, so always up) announced over a
/// session to the router's IPv6 address, with BFD on that session.
fn keepalived_conf6() -> String {
    format!(
        "virtual_server fd00::100 80 {{
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server fd33::11 80 {{
        weight 1
    }}
}}

{}",
        bgp_block(ROUTER6, "fd00::100")
    )
}

/// How long `lvsfw bgp status` says its (only) session has been Established, in seconds.
fn established_for(shown: &str) -> u64 {
    shown
        .lines()
        .find(|l| l.contains(" Established "))
        .and_then(|l| l.split_whitespace().nth(3))
        .map(|t| {
            t.split(':')
                .fold(0, |a, p| a * 60 + p.parse::<u64>().unwrap_or(0))
        })
        .unwrap_or(0)
}

/// RFC 5881 over IPv6: the same session and detection as over IPv4, against FRR's bfdd.
#[test]
fn bfd_over_ipv6_with_frr_drops_a_frozen_box_in_the_detection_time() -> Result<(), Error> {
    let mut lab = Lab::new("bgpbfd6", false)?;
    let router = lab.add_host("router", Net::Ext, &format!("{ROUTER}/24"), None)?;
    let lb = balancer_host(&mut lab, "lb", &format!("{LB}/24"), &format!("{LB_INT}/24"))?;
    for (host, addr) in [(&router, ROUTER6), (&lb, LB6)] {
        host.run(&[
            "ip",
            "addr",
            "add",
            &format!("{addr}/64"),
            "dev",
            "eth0",
            "nodad",
        ])?;
    }
    lb.run(&["ip", "addr", "add", "fd33::20/64", "dev", "eth1", "nodad"])?;
    let frr = EcmpRouter::start_with_bfd(&mut lab, &router, BGPD6_CONF, Some(BFDD_CONF))?;
    let run = Lvsfw::start(&mut lab, &lb, "lb", &keepalived_conf6())?;
    let lvsfw = run.pid;
    let in_frr = || frr.vtysh(&["show bgp ipv6 unicast"]).contains(VIP6);
    let took = wait_until(
        UP,
        "FRR's BFD peer fd00::101 up, ours up, the route in",
        || {
            let peers = frr.vtysh(&["show bfd peers"]);
            peers.contains(&format!("peer {LB6}"))
                && peers.contains("Status: up")
                && established_for(&run.bgp()) >= 2
                && run.bgp().contains("    BFD: Up for")
                && in_frr()
        },
    )
    .map_err(|e| {
        Error(format!(
            "{e}\n{}\n{}",
            frr.vtysh(&["show bfd peers", "show bgp summary"]),
            run.bgp()
        ))
    })?;
    eprintln!("IPv6: BFD up and the route in FRR after {took:?}");
    // FRR's bfdd makes a new session (a new discriminator, state Down) when bgpd's
    // session comes up; ours starts only after that, so the new BGP session is not reset.
    let log = lab.log_path("lb");
    assert_eq!(
        count(&log, "BFD session down"),
        0,
        "BFD reset the BGP session at start-up:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    eprintln!("{}", frr.vtysh(&["show bfd peers"]));

    // Frozen, not killed: taking the link down flushes its IPv6 addresses and a kill
    // closes the TCP session, either of which FRR may notice without BFD.
    let frozen = Instant::now();
    lab.signal(lvsfw, Signal::SIGSTOP)?;
    let gone = wait_until(HOLD, "the frozen box's IPv6 route gone from FRR", || {
        !in_frr()
    });
    let down = frr.vtysh(&["show bfd peers"]);
    lab.signal(lvsfw, Signal::SIGKILL)?;
    let gone = gone?;
    eprintln!(
        "IPv6: box frozen → route gone after {gone:?} (detection 300 ms, hold time {HOLD:?}); {:?} since the freeze",
        frozen.elapsed()
    );
    assert!(
        down.contains("Status: down"),
        "FRR's BFD session is not down:\n{down}"
    );
    assert!(
        gone < Duration::from_secs(3),
        "with BFD the route went only after {gone:?}"
    );
    Ok(())
}
