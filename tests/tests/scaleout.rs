//! Scale-out behind a router's ECMP (issue 18): FRR (zebra + bgpd, multipath, the
//! kernel hashing flows by addresses and ports) as the router, three lvsfw boxes on its
//! downstream side announcing the same VIP by BGP, each with `lb_algo mh` + `mh-port`,
//! `lb_kind DR` and `sloppy_tcp`; three real servers with the VIP on lo answering the
//! clients straight through the router; a client upstream with 1,000 long-lived TCP
//! flows, each sending a line every 1-2 s and expecting its echo.
//!
//! Every box must pick the same real server for the same 5-tuple (the same tuples sent
//! through each box directly), the flows must spread evenly over the real servers, and
//! the flows must survive a fourth box added (the router moves some of them to it: it
//! takes them up mid-stream), a box drained at the console, and a box killed hard (the
//! router moves its flows when the BGP hold time runs out, or at once when BFD runs with
//! the box: lb3's session has BFD, lb4's only its hold time). It prints the figures as a
//! table: flows broken per event, drain to the box's last flow, kill to traffic moved.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use common::command_output;
use common::scaleout::{
    boot_box, box_ext, broken_list, connections, keepalived_conf, real_server, router_and_client,
    start_flows, vip, PORT, SERVERS, VIP,
};
use lvsfw_lab::bench_results::{self, PAIR_MODE_FAILOVER};
use lvsfw_lab::bgp_peers::wait_until;
use lvsfw_lab::churn::Churn;
use lvsfw_lab::ecmp_router::EcmpRouter;
use lvsfw_lab::flows::which_server;
use lvsfw_lab::pcap::{self, Capture};
use lvsfw_lab::{Appliance, Error, Host, Lab, Net};

const PROBE: &str = "192.168.0.60";
const FLOWS: usize = 1000;
/// Tuples sent through every box directly.
const PROBES: u16 = 40;
const PROBE_PORTS: u16 = 30000;
/// BGP: hold 3 s, keepalive 1 s on both sides.
const HOLD: Duration = Duration::from_secs(3);
/// The box whose session has BFD (200 ms × 3 both ways), killed beside one without.
const BFD_BOX: usize = 3;
const BFD_MS: u32 = 200;
const BFD_MULTIPLIER: u32 = 3;
/// Drains of lb2 (median of these).
const DRAINS: usize = 3;
/// New connections during the drains: one every this often.
const CHURN_EVERY: Duration = Duration::from_millis(25);
/// Time for the boxes to boot, check their servers and announce.
const ANNOUNCED: Duration = Duration::from_secs(150);

fn frr_conf() -> String {
    let mut conf = String::from(
        "hostname router
log stdout informational
bgp community-list standard GSHUT seq 5 permit graceful-shutdown
route-map FROM-LB permit 10
 match community GSHUT
 set local-preference 0
route-map FROM-LB permit 20
router bgp 65001
 bgp router-id 192.168.0.1
 no bgp ebgp-requires-policy
",
    );
    for n in 1..=4 {
        let a = box_ext(n);
        conf.push_str(&format!(
            " neighbor {a} remote-as 65002\n neighbor {a} timers 1 3\n neighbor {a} timers connect 1\n"
        ));
    }
    let bfd_box = box_ext(BFD_BOX);
    conf.push_str(&format!(
        " neighbor {bfd_box} bfd\n neighbor {bfd_box} bfd profile lb\n"
    ));
    conf.push_str(" address-family ipv4 unicast\n  maximum-paths 8\n");
    for n in 1..=4 {
        conf.push_str(&format!("  neighbor {} route-map FROM-LB in\n", box_ext(n)));
    }
    conf.push_str(" exit-address-family\n");
    conf
}

fn bfdd_conf() -> String {
    format!(
        "hostname router\nlog stdout informational\nbfd\n profile lb\n  receive-interval {BFD_MS}\n  transmit-interval {BFD_MS}\n  detect-multiplier {BFD_MULTIPLIER}\n !\n!\n"
    )
}

/// Box `n`'s keepalived.conf: graceful shutdown 1 s, BFD with lb3.
fn box_conf(n: usize) -> String {
    let bfd = (n == BFD_BOX).then_some((BFD_MS, BFD_MULTIPLIER));
    keepalived_conf(&SERVERS, 1, bfd)
}

/// The real server each probe tuple reaches through box `n` (the probe host's route
/// to the VIP set to that box).
fn through_box(probe: &Host, n: usize) -> Result<Vec<String>, Error> {
    probe.run(&[
        "ip",
        "route",
        "replace",
        &format!("{VIP}/32"),
        "via",
        &box_ext(n),
    ])?;
    (0..PROBES)
        .map(|i| {
            let source = SocketAddr::new(PROBE.parse().unwrap(), PROBE_PORTS + i);
            which_server(probe, source, vip(), Duration::from_secs(5))
        })
        .collect()
}

/// "median X s (min Y, max Z, n N)" of some durations.
fn figures(d: &[Duration]) -> String {
    let mut s: Vec<f64> = d.iter().map(Duration::as_secs_f64).collect();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => "-".into(),
        1 => format!("{:.2} s", s[0]),
        n => format!(
            "median {:.2} s (min {:.2}, max {:.2}, n {n})",
            s[n / 2],
            s[0],
            s[n - 1]
        ),
    }
}

struct Row {
    event: &'static str,
    broken: usize,
    moved: String,
    note: String,
}

#[test]
fn flows_survive_a_box_added_drained_and_killed_behind_ecmp() -> Result<(), Error> {
    let test_start = Instant::now();
    // mgmt is the router's upstream network here: the client's side.
    let mut lab = Lab::new("scaleout", true)?;
    let (router_host, client) = router_and_client(&mut lab)?;
    let probe = lab.add_host("probe", Net::Ext, &format!("{PROBE}/24"), None)?;
    let mut servers = Vec::new();
    for n in 1..=3 {
        servers.push(real_server(&mut lab, n)?);
    }
    let router =
        EcmpRouter::start_with_bfd(&mut lab, &router_host, &frr_conf(), Some(&bfdd_conf()))?;

    let booted = Instant::now();
    let mut boxes: Vec<Appliance> = Vec::new();
    for n in 1..=3 {
        boxes.push(boot_box(&mut lab, n, box_conf(n))?);
    }
    let three: Vec<String> = (1..=3).map(box_ext).collect();
    wait_until(
        ANNOUNCED,
        "the router has the VIP over all three boxes",
        || router.next_hops(VIP) == three,
    )
    .map_err(|e| Error(format!("{e}; {}", router.vtysh(&["show bgp summary"]))))?;
    eprintln!(
        "three boxes booted and announced after {:?}",
        booted.elapsed()
    );

    // The same tuples through each box directly: the same real server every time.
    let per_box: Vec<Vec<String>> = (1..=3)
        .map(|n| through_box(&probe, n))
        .collect::<Result<_, _>>()?;
    for (n, picks) in per_box.iter().enumerate().skip(1) {
        assert_eq!(picks, &per_box[0], "lb{} and lb1 disagree", n + 1);
    }
    let distinct: std::collections::BTreeSet<&String> = per_box[0].iter().collect();
    assert_eq!(distinct.len(), 3, "{PROBES} tuples reached {distinct:?}");

    // 1,000 flows through the router.
    let (flows, connected_in) = start_flows(&client, FLOWS, Duration::from_secs(400))?;
    let states = flows.snapshot();
    let mut spread = std::collections::BTreeMap::<String, usize>::new();
    for s in &states {
        *spread
            .entry(s.server.clone().unwrap_or_default())
            .or_default() += 1;
    }
    eprintln!("spread over the real servers: {spread:?}");
    let even = FLOWS / SERVERS.len();
    for (rs, n) in &spread {
        assert!(
            n.abs_diff(even) * 10 <= even,
            "{rs} has {n} of {FLOWS} flows, more than 10 % off {even}: {spread:?}"
        );
    }
    let mut rows = Vec::new();
    let connections_before: Vec<u64> = boxes
        .iter_mut()
        .map(connections)
        .collect::<Result<_, _>>()?;

    // A fourth box: the router rehashes, some flows land on it mid-stream.
    let added = Instant::now();
    boxes.push(boot_box(&mut lab, 4, box_conf(4))?);
    let four: Vec<String> = (1..=4).map(box_ext).collect();
    wait_until(ANNOUNCED, "the router has the VIP over four boxes", || {
        router.next_hops(VIP) == four
    })?;
    let in_route = added.elapsed();
    let settled = Instant::now();
    flows.all_echoed_after(settled, Duration::from_secs(30))?;
    let taken_up = connections(&mut boxes[3])?;
    let broken_add = flows.broken();
    eprintln!(
        "lb4 in the route after {in_route:?}; it took up {taken_up} flows; broken {broken_add}"
    );
    assert!(taken_up > 0, "the router moved no flow to lb4");
    // The new box picks as the others do.
    assert_eq!(through_box(&probe, 4)?, per_box[0], "lb4 and lb1 disagree");
    rows.push(Row {
        event: "add lb4",
        broken: broken_add,
        moved: format!("{taken_up} flows to lb4"),
        note: format!("boot to in the route {:.1} s", in_route.as_secs_f64()),
    });

    // Drain lb2 at the console, DRAINS times: the router takes it out at the graceful
    // shutdown (the GRACEFUL_SHUTDOWN community lowers its path below the others');
    // `drain off` brings it back. New connections run all along, their SYNs captured
    // where the router hands them to the boxes: the frame's MAC says which box each new
    // flow reached, so "no new flow on lb2" is seen, not inferred from the route.
    let without_lb2: Vec<String> = [1, 3, 4].into_iter().map(box_ext).collect();
    let syns = Capture::start(
        &mut lab,
        Net::Ext,
        "syns",
        &format!(
            "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn and dst host {VIP} and dst port {PORT}"
        ),
    )?;
    let lb2_mac = pcap::parse_mac(boxes[1].mac(Net::Ext).unwrap_or_default())?;
    let churn = Churn::start(&client, vip(), CHURN_EVERY)?;
    std::thread::sleep(Duration::from_secs(2));
    let mut drain_outs = Vec::new();
    let mut last_new = Vec::new();
    let mut back_ins = Vec::new();
    let mut first_new = Vec::new();
    let mut echoed_after_drain = Duration::ZERO;
    let mut serving_since = SystemTime::UNIX_EPOCH;
    for round in 0..DRAINS {
        let drained_at = (Instant::now(), SystemTime::now());
        let said = boxes[1].command("drain", Duration::from_secs(60))?;
        assert!(said.contains("drained by console"), "{said}");
        wait_until(Duration::from_secs(20), "lb2 out of the route", || {
            router.next_hops(VIP) == without_lb2
        })?;
        let out_at = SystemTime::now();
        drain_outs.push(drained_at.0.elapsed());
        if round == 0 {
            // The flows lb2 had are still in its table, for the operator to watch end.
            let shown = command_output(&mut boxes[1], "show bgp")?;
            let held: u64 = shown
                .split("IPVS still holds ")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
                .unwrap_or(0);
            assert!(held > 0 && shown.contains("drained for"), "{shown}");
        }
        let after = flows.all_echoed_after(Instant::now(), Duration::from_secs(30))?;
        echoed_after_drain = echoed_after_drain.max(after);
        let to_lb2 = syns.times_to(lb2_mac)?;
        assert!(
            to_lb2
                .iter()
                .any(|t| (serving_since..drained_at.1).contains(t)),
            "no new connection reached lb2 before drain {round}: nothing to measure"
        );
        let last = to_lb2.iter().filter(|t| **t >= drained_at.1).max();
        if let Some(last) = last {
            // The router's route had lost lb2 by `out_at`; a new flow after that
            // (give or take the bridge's delay) would be a drain that did not drain.
            assert!(
                *last <= out_at + Duration::from_millis(200),
                "a new connection reached lb2 {:?} after the router's route had lost it",
                last.duration_since(out_at).unwrap_or_default()
            );
        }
        last_new.push(last.map_or(Duration::ZERO, |t| {
            t.duration_since(drained_at.1).unwrap_or_default()
        }));
        if round + 1 < DRAINS {
            let undrained_at = (Instant::now(), SystemTime::now());
            let said = boxes[1].command("drain off", Duration::from_secs(60))?;
            assert!(said.contains("drain ended by console"), "{said}");
            wait_until(Duration::from_secs(20), "lb2 back in the route", || {
                router.next_hops(VIP) == four
            })?;
            back_ins.push(undrained_at.0.elapsed());
            flows.all_echoed_after(Instant::now(), Duration::from_secs(30))?;
            let first = wait_until(Duration::from_secs(10), "a new flow on lb2", || {
                syns.times_to(lb2_mac)
                    .map(|t| t.iter().any(|t| *t >= undrained_at.1))
                    .unwrap_or(false)
            })
            .and_then(|_| syns.times_to(lb2_mac))?
            .into_iter()
            .filter(|t| *t >= undrained_at.1)
            .min()
            .unwrap_or(undrained_at.1);
            first_new.push(first.duration_since(undrained_at.1).unwrap_or_default());
            serving_since = undrained_at.1;
        }
    }
    let churned = churn.finish();
    assert_eq!(
        churned.failed, 0,
        "new connections failed during the drains: {:?}",
        churned.failures
    );
    let broken_drain = flows.broken() - broken_add;
    eprintln!("drain: out of the route after {drain_outs:?}, last new flow on lb2 {last_new:?}, back after {back_ins:?}; broken {broken_drain}");
    rows.push(Row {
        event: "drain lb2 (console), and drain off between",
        broken: broken_drain,
        moved: format!(
            "drain → last new flow on lb2 {}; → out of the route {}",
            figures(&last_new),
            figures(&drain_outs)
        ),
        note: format!(
            "{} new connections, none failed; drain off → first new flow on lb2 {} (in the route {}); every flow echoed within {:.1} s of each drain",
            churned.opened,
            figures(&first_new),
            figures(&back_ins),
            echoed_after_drain.as_secs_f64()
        ),
    });

    // Kill lb3 hard, then (lb2 back first) lb4: the router notices when BFD's detection
    // time (lb3) or the hold time (lb4) runs out.
    assert!(
        router.vtysh(&["show bfd peers"]).contains("Status: up"),
        "lb3's BFD session is up: {}",
        router.vtysh(&["show bfd peers"])
    );
    let mut broken_kill = 0;
    for (victim, survivors) in [(3, vec![1, 4]), (4, vec![1, 2])] {
        if victim == 4 {
            let said = boxes[1].command("drain off", Duration::from_secs(60))?;
            assert!(said.contains("drain ended by console"), "{said}");
            let with_lb2: Vec<String> = [1, 2, 4].into_iter().map(box_ext).collect();
            wait_until(Duration::from_secs(20), "lb2 back in the route", || {
                router.next_hops(VIP) == with_lb2
            })?;
            flows.all_echoed_after(Instant::now(), Duration::from_secs(30))?;
        }
        let before = flows.broken();
        let killed_at = Instant::now();
        boxes[victim - 1].kill();
        let survivors: Vec<String> = survivors.into_iter().map(box_ext).collect();
        wait_until(HOLD * 4, &format!("lb{victim} out of the route"), || {
            router.next_hops(VIP) == survivors
        })?;
        let out = killed_at.elapsed();
        let echoed = flows.all_echoed_after(killed_at, Duration::from_secs(40))?;
        let broken_now = flows.broken() - before;
        broken_kill += broken_now;
        eprintln!("kill lb{victim}: out of the route after {out:?}; all echoed after {echoed:?}");
        let detection = if victim == BFD_BOX {
            format!("BFD {BFD_MS} ms × {BFD_MULTIPLIER}")
        } else {
            format!("hold {} s, no BFD", HOLD.as_secs())
        };
        rows.push(Row {
            event: if victim == BFD_BOX {
                "kill lb3 (QEMU quit), BFD"
            } else {
                "kill lb4 (QEMU quit), no BFD"
            },
            broken: broken_now,
            moved: format!(
                "kill → out of the route {:.2} s ({detection})",
                out.as_secs_f64()
            ),
            note: format!(
                "every flow echoed again {:.2} s after the kill",
                echoed.as_secs_f64()
            ),
        });
    }

    // lb3 boots again, as after a crash: the router spreads over three boxes again, and
    // the flows it moves to lb3 are taken up mid-stream, on the real server they had.
    let before = flows.broken();
    let returned_at = Instant::now();
    boxes[BFD_BOX - 1] = boot_box(&mut lab, BFD_BOX, box_conf(BFD_BOX))?;
    let back: Vec<String> = [1, 2, 3].into_iter().map(box_ext).collect();
    wait_until(ANNOUNCED, "lb3 back in the route", || {
        router.next_hops(VIP) == back
    })?;
    let in_route = returned_at.elapsed();
    // Count once lb3's BFD session (it starts a second after its BGP session) is up
    // and lb3 is in the route.
    wait_until(
        Duration::from_secs(60),
        "lb3's BFD up, lb3 in the route",
        || {
            let peers = router.vtysh(&["show bfd peers"]);
            peers.contains(&format!("peer {}", box_ext(BFD_BOX)))
                && peers.contains("Status: up")
                && router.next_hops(VIP) == back
        },
    )?;
    let echoed = flows.all_echoed_after(Instant::now(), Duration::from_secs(30))?;
    // Once more: every flow has now sent a line along its new path since the echoes
    // above, so lb3's table holds every flow the router gives it.
    flows.all_echoed_after(Instant::now(), Duration::from_secs(30))?;
    let taken_up = connections(&mut boxes[BFD_BOX - 1])?;
    let broken_return = flows.broken() - before;
    eprintln!("lb3 back in the route after {in_route:?}; it took up {taken_up} flows; broken {broken_return}");
    assert!(
        taken_up > 0,
        "the router moved no flow to lb3 when it came back"
    );
    rows.push(Row {
        event: "lb3 back after its kill (boots again)",
        broken: broken_return,
        moved: format!("{taken_up} flows to lb3"),
        note: format!(
            "boot to in the route {:.1} s; every flow echoed again {:.2} s after that",
            in_route.as_secs_f64(),
            echoed.as_secs_f64()
        ),
    });

    let states = flows.stop();
    let broken_list = broken_list(&states);

    println!("\nscale-out behind ECMP: {FLOWS} flows, 3 real servers, mh + mh-port, DR, sloppy_tcp; BGP hold 3 s / keepalive 1 s");
    println!(
        "{FLOWS} flows connected in {:.1} s; connections on lb1..lb3 before the add (with {PROBES} probes each): {connections_before:?}",
        connected_in.as_secs_f64()
    );
    println!("spread over the real servers: {spread:?}");
    println!("same real server for {PROBES} tuples sent through each of lb1..lb4 directly: yes");
    println!();
    println!("| event | flows broken | flows moved / time | note |");
    println!("|---|---:|---|---|");
    for r in &rows {
        println!("| {} | {} | {} | {} |", r.event, r.broken, r.moved, r.note);
    }
    // The pair mode's failover as bench-vrrp measured it earlier in the same run.
    match bench_results::load(PAIR_MODE_FAILOVER) {
        Some((figures, age)) => println!(
            "| pair mode (VRRP), hard failover of the master, for comparison | - | client gap, median (min–max): {figures} | bench-vrrp {:.0} min before this table (namespaces, `run -f`) |",
            age.as_secs_f64() / 60.0
        ),
        None => println!(
            "| pair mode (VRRP), hard failover of the master, for comparison | - | not measured: run scripts/bench-vrrp first | |"
        ),
    }
    println!("\ntest took {:.0} s", test_start.elapsed().as_secs_f64());

    assert_eq!(broken_add, 0, "{broken_list:?}");
    assert_eq!(broken_drain, 0, "{broken_list:?}");
    assert_eq!(broken_return, 0, "{broken_list:?}");
    // A hard kill may break only what was in flight, and those within the echo timeout:
    // here nothing is held on the box that the next one cannot take up.
    assert!(
        broken_kill <= FLOWS / 100,
        "{broken_kill} flows broken by the kill: {broken_list:?}"
    );
    drop(servers);
    Ok(())
}
