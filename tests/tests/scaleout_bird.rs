//! Issue 18's scale-out behind ECMP once more with BIRD 2 as the router, so that two
//! independent BGP implementations (FRR in `scaleout`, BIRD here) carry the same boxes:
//! BIRD's kernel protocol with `merge paths on` puts the equivalent BGP paths into the
//! router namespace's kernel as one multipath route, which the kernel hashes flows over
//! by addresses and ports. Two lvsfw boxes announce the same VIP (`mh` + `mh-port`, DR,
//! `sloppy_tcp`, hold 3 s / keepalive 1 s, no BFD); two real servers; a client upstream
//! with a few hundred long-lived echo flows.
//!
//! 1. Both boxes' paths are one multipath route in the kernel; the flows spread over both.
//! 2. `drain` at lb2's console: lvsfw re-announces the VIP tagged GRACEFUL_SHUTDOWN
//!    (65535:0, RFC 8326) and withdraws it `graceful_shutdown_time` later. BIRD's import
//!    filter lowers a tagged path's local preference to 0 (BIRD does not act on the
//!    community by itself), so it is no longer equivalent and leaves the kernel route
//!    while BIRD still holds it; then the withdraw. No flow breaks; `drain off` brings
//!    the path back.
//! 3. lb1's QEMU killed: BIRD's hold timer expires, lb1's path leaves the kernel route,
//!    its flows go on through lb2 (sloppy_tcp, the same real server by `mh`), none broken.

mod common;

use std::time::{Duration, Instant};

use common::scaleout::{
    boot_box, box_ext, broken_list, connections, keepalived_conf, real_server, router_and_client,
    start_flows, ROUTER_EXT, SERVERS, VIP,
};
use lvsfw_lab::bgp_peers::wait_until;
use lvsfw_lab::bird_router::BirdRouter;
use lvsfw_lab::{Error, Lab};

const FLOWS: usize = 300;
/// The boxes' `graceful_shutdown_time`: long enough to see the tagged path at BIRD.
const GRACEFUL_SECS: u32 = 3;
/// BGP hold time on both sides (keepalive 1 s).
const HOLD: Duration = Duration::from_secs(3);
/// Time for the boxes to boot, check their servers and announce.
const ANNOUNCED: Duration = Duration::from_secs(150);
/// The GRACEFUL_SHUTDOWN community as `birdc show route all` prints it.
const GSHUT: &str = "BGP.community: (65535,0)";

fn bird_conf() -> String {
    let mut conf = format!(
        "router id {ROUTER_EXT};
log stderr all;
protocol device {{ }}
# One multipath route per prefix from the best path and those equivalent to it.
protocol kernel {{
    ipv4 {{ import none; export all; }};
    merge paths on;
}}
# RFC 8326 §4 on the receiving side: a path tagged GRACEFUL_SHUTDOWN goes below the
# others, so traffic leaves it before the withdraw.
filter from_lb {{
    if (65535, 0) ~ bgp_community then bgp_local_pref = 0;
    accept;
}}
template bgp lb {{
    local {ROUTER_EXT} as 65001;
    hold time {hold};
    keepalive time 1;
    passive on;
    # BIRD waits 60 s after an error before it takes a session again by default.
    error wait time 1, 2;
    ipv4 {{ import filter from_lb; export none; }};
}}
",
        hold = HOLD.as_secs()
    );
    for n in 1..=2 {
        conf.push_str(&format!(
            "protocol bgp lb{n} from lb {{ neighbor {} as 65002; }}\n",
            box_ext(n)
        ));
    }
    conf
}

/// `ip -4 route show VIP` in the router's namespace.
fn kernel_route(router: &BirdRouter) -> String {
    router
        .bird
        .host
        .output(&["ip", "-4", "route", "show", VIP])
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

#[test]
fn two_boxes_behind_bird_ecmp_keep_every_flow_through_a_drain_and_a_kill() -> Result<(), Error> {
    let test_start = Instant::now();
    let mut lab = Lab::new("scaleoutbird", true)?;
    let (router_host, client) = router_and_client(&mut lab)?;
    let servers = (1..=2)
        .map(|n| real_server(&mut lab, n))
        .collect::<Result<Vec<_>, _>>()?;
    let router = BirdRouter::start(&mut lab, &router_host, &bird_conf())?;
    let prefix = format!("{VIP}/32");
    let conf = keepalived_conf(&SERVERS[..2], GRACEFUL_SECS, None);
    let mut boxes = Vec::new();
    for n in 1..=2 {
        boxes.push(boot_box(&mut lab, n, conf.clone())?);
    }
    let (lb1, lb2) = (vec![box_ext(1)], vec![box_ext(2)]);
    let both = vec![box_ext(1), box_ext(2)];

    // 1. BIRD has a path from each box; the kernel one route with both next hops.
    let booted = Instant::now();
    wait_until(ANNOUNCED, "BIRD has the VIP from lb1 and lb2", || {
        router.path_from(&prefix, "lb1").is_some() && router.path_from(&prefix, "lb2").is_some()
    })
    .map_err(|e| Error(format!("{e}; {}", router.bird.birdc("show protocols"))))?;
    eprintln!(
        "both boxes booted and announced after {:?}",
        booted.elapsed()
    );
    wait_until(
        Duration::from_secs(5),
        "the kernel route over both boxes",
        || router.next_hops(VIP) == both,
    )
    .map_err(|e| {
        Error(format!(
            "{e}: BIRD has both paths, the kernel has {:?}:\n{}{}",
            router.next_hops(VIP),
            kernel_route(&router),
            router.bird.route(&prefix)
        ))
    })?;
    let route = kernel_route(&router);
    let heads = route
        .lines()
        .filter(|l| !l.starts_with(char::is_whitespace));
    assert_eq!(
        heads.count(),
        1,
        "one route for the VIP, not several:\n{route}"
    );
    assert_eq!(route.matches("nexthop via").count(), 2, "{route}");
    eprintln!("the router's kernel:\n{route}");

    let (flows, _) = start_flows(&client, FLOWS, Duration::from_secs(300))?;
    let on_boxes = [connections(&mut boxes[0])?, connections(&mut boxes[1])?];
    eprintln!("flows on lb1, lb2: {on_boxes:?}");
    // Every flow went through exactly one box, and the router's hash gave each a share.
    assert_eq!(on_boxes.iter().sum::<u64>(), FLOWS as u64, "{on_boxes:?}");
    for n in on_boxes {
        assert!(
            n >= (FLOWS / 5) as u64,
            "one box has {n} of {FLOWS}: {on_boxes:?}"
        );
    }

    // 2. Drain lb2: the tagged path first (and out of the kernel), then the withdraw.
    let drained_at = Instant::now();
    let said = boxes[1].command("drain", Duration::from_secs(60))?;
    assert!(said.contains("drained by console"), "{said}");
    let (mut tagged, mut tagged_entry, mut out_while_tagged) = (None, String::new(), false);
    let mut out_of_kernel = None;
    wait_until(Duration::from_secs(20), "lb2's path withdrawn", || {
        let path = router.path_from(&prefix, "lb2");
        let hops = router.next_hops(VIP);
        if hops == lb1 {
            out_of_kernel.get_or_insert(drained_at.elapsed());
        }
        if let Some(entry) = path.as_ref().filter(|p| p.contains(GSHUT)) {
            tagged.get_or_insert(drained_at.elapsed());
            tagged_entry.clone_from(entry);
            out_while_tagged |= hops == lb1;
        }
        path.is_none()
    })?;
    let withdrawn = drained_at.elapsed();
    eprintln!(
        "drain: tagged {GSHUT} at BIRD after {tagged:?}, out of the kernel route after \
         {out_of_kernel:?}, withdrawn after {withdrawn:?}; the tagged path:\n{tagged_entry}"
    );
    assert!(tagged.is_some(), "BIRD never saw lb2's path with {GSHUT}");
    assert!(tagged_entry.contains("BGP.local_pref: 0"), "{tagged_entry}");
    assert!(
        out_while_tagged,
        "lb2's path stayed in the kernel route while tagged GRACEFUL_SHUTDOWN"
    );
    assert_eq!(router.next_hops(VIP), lb1);
    flows.all_echoed_after(Instant::now(), Duration::from_secs(30))?;
    let states = flows.snapshot();
    assert_eq!(flows.broken(), 0, "{:?}", broken_list(&states));
    // lb2's flows go on through lb1 (sloppy_tcp takes them up mid-stream).
    let on_lb1 = connections(&mut boxes[0])?;
    eprintln!("after the drain lb1 holds {on_lb1} flows");
    assert_eq!(
        on_lb1, FLOWS as u64,
        "every flow through lb1 after the drain"
    );

    let undrained_at = Instant::now();
    let said = boxes[1].command("drain off", Duration::from_secs(60))?;
    assert!(said.contains("drain ended by console"), "{said}");
    wait_until(
        Duration::from_secs(20),
        "lb2 back in the kernel route",
        || router.next_hops(VIP) == both,
    )?;
    let back = undrained_at.elapsed();
    let path = router.path_from(&prefix, "lb2").unwrap_or_default();
    assert!(!path.contains(GSHUT), "back without the community: {path}");
    flows.all_echoed_after(Instant::now(), Duration::from_secs(30))?;
    let states = flows.snapshot();
    assert_eq!(flows.broken(), 0, "{:?}", broken_list(&states));
    eprintln!("drain off: back in the kernel route after {back:?}");

    // 3. Kill lb1 hard: no Cease, no withdraw; BIRD's hold timer ends the session.
    let killed_at = Instant::now();
    boxes[0].kill();
    let gone = wait_until(HOLD * 4, "lb1 out of the kernel route", || {
        router.next_hops(VIP) == lb2
    })?;
    let protocol = router.bird.birdc("show protocols lb1");
    eprintln!("kill lb1: out of the kernel route after {gone:?}\n{protocol}");
    assert!(router.path_from(&prefix, "lb1").is_none());
    assert!(protocol.contains("Hold timer expired"), "{protocol}");
    let echoed = flows.all_echoed_after(killed_at, Duration::from_secs(40))?;
    let broken_at_end = broken_list(&flows.stop());
    assert!(broken_at_end.is_empty(), "{broken_at_end:?}");

    println!("\nscale-out behind BIRD 2 ECMP (merge paths): {FLOWS} flows, 2 boxes, 2 real servers, hold 3 s, graceful_shutdown_time {GRACEFUL_SECS} s");
    println!("| event | flows broken | route |");
    println!("|---|---:|---|");
    println!("| start | 0 | one route, nexthop via {both:?}; flows on lb1, lb2: {on_boxes:?} |");
    println!(
        "| drain lb2 (console) | 0 | tagged (65535,0) at BIRD {tagged:?}, out of the kernel route {out_of_kernel:?}, withdrawn {withdrawn:?} after `drain` |"
    );
    println!("| drain off | 0 | back in the kernel route {back:?} after `drain off` |");
    println!(
        "| kill lb1 (QEMU) | 0 | out of the kernel route {gone:?} after the kill (hold timer); every flow echoed again {echoed:?} after |"
    );
    println!("\ntest took {:.0} s", test_start.elapsed().as_secs_f64());
    drop(servers);
    Ok(())
}
