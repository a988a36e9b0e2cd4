//! Issue 18's speaker against real routers, in network namespaces, no VM: `lvsfw
//! bgp-speaker` announces a VIP (IPv4 and IPv6) to FRR's bgpd and to BIRD 2, withdraws
//! it after a graceful-shutdown period (RFC 8326) the router must show, notices a frozen
//! router by its hold timer, logs a router's NOTIFICATION by name, answers a fake
//! router's malformed UPDATE with the right NOTIFICATION, and signs its segments with
//! TCP-MD5 (RFC 2385) for a router with `neighbor X password`.
//!
//! Bounds are the protocol's own (hold time, graceful-shutdown wait) with a margin for a
//! shared 2-core box; the measured times are printed, not asserted.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use lvsfw_lab::bgp_peers::{balancer_host, wait_until, Bird, FrrBgpd, Speaker};
use lvsfw_lab::peers::Lvsfw;
use lvsfw_lab::{Error, Host, Lab, Net};
use nix::sys::signal::Signal;

const ROUTER: &str = "192.168.0.1";
const LB: &str = "192.168.0.101";
const ROUTER6: &str = "2001:db8::1";
const LB6: &str = "2001:db8::101";
const VIP: &str = "192.0.2.10/32";
const VIP6: &str = "2001:db8:10::10/128";
const ROUTER_AS: &str = "65001";
const LB_AS: &str = "65002";
/// The hold time the speaker offers (the routers offer the same): 9 s, keepalives 3 s.
const HOLD: Duration = Duration::from_secs(9);
const GSHUT_WAIT: Duration = Duration::from_secs(3);
const MARGIN: Duration = Duration::from_secs(3);

struct Link {
    lab: Lab,
    router: Host,
    lb: Host,
}

fn link(test: &str) -> Result<Link, Error> {
    let mut lab = Lab::new(test, false)?;
    let router = lab.add_host("router", Net::Ext, &format!("{ROUTER}/24"), None)?;
    let lb = lab.add_host("lb", Net::Ext, &format!("{LB}/24"), None)?;
    // IPv6 on the link too, so that the IPv6 route's next hop is directly connected
    // (BIRD checks that of an external peer's routes).
    router.run(&[
        "ip",
        "addr",
        "add",
        &format!("{ROUTER6}/64"),
        "dev",
        "eth0",
        "nodad",
    ])?;
    lb.run(&[
        "ip",
        "addr",
        "add",
        &format!("{LB6}/64"),
        "dev",
        "eth0",
        "nodad",
    ])?;
    Ok(Link { lab, router, lb })
}

fn speaker(lab: &mut Lab, lb: &Host, name: &str, peer: &str) -> Result<Speaker, Error> {
    speaker_as(lab, lb, name, peer, LB_AS)
}

fn speaker_as(
    lab: &mut Lab,
    lb: &Host,
    name: &str,
    peer: &str,
    local_as: &str,
) -> Result<Speaker, Error> {
    speaker_with(lab, lb, name, peer, local_as, &[])
}

fn speaker_with(
    lab: &mut Lab,
    lb: &Host,
    name: &str,
    peer: &str,
    local_as: &str,
    extra: &[&str],
) -> Result<Speaker, Error> {
    let hold = HOLD.as_secs().to_string();
    let wait = GSHUT_WAIT.as_secs().to_string();
    let args = [
        "--peer",
        peer,
        "--remote-as",
        ROUTER_AS,
        "--local-as",
        local_as,
        "--local-address",
        LB,
        "--next-hop-v6",
        LB6,
        "--hold-time",
        &hold,
        "--graceful-shutdown",
        &wait,
        "--connect-retry",
        "1",
        "--idle-hold",
        "1",
    ];
    let args = [&args[..], extra, &[VIP, VIP6]].concat();
    Speaker::start(lab, lb, name, &args)
}

const FRR_CONF: &str = "hostname router
log stdout informational
router bgp 65001
 bgp router-id 192.168.0.1
 no bgp ebgp-requires-policy
 neighbor 192.168.0.101 remote-as 65002
 neighbor 192.168.0.101 timers 3 9
 address-family ipv6 unicast
  neighbor 192.168.0.101 activate
 exit-address-family
";

/// Announce, graceful shutdown seen, withdrawn, announced again: what one router shows.
trait Router {
    fn has(&self, prefix: &str) -> bool;
    fn graceful_shutdown(&self, prefix: &str) -> bool;
    fn established(&self) -> bool;
}

impl Router for FrrBgpd {
    fn has(&self, prefix: &str) -> bool {
        self.route(prefix).contains(&format!("  {LB_AS}\n"))
    }
    fn graceful_shutdown(&self, prefix: &str) -> bool {
        self.route(prefix).contains("Community: graceful-shutdown")
    }
    fn established(&self) -> bool {
        self.vtysh(&["show bgp neighbors 192.168.0.101"])
            .contains("BGP state = Established")
    }
}

impl Router for Bird {
    fn has(&self, prefix: &str) -> bool {
        self.route(prefix)
            .contains(&format!("BGP.as_path: {LB_AS}"))
    }
    fn graceful_shutdown(&self, prefix: &str) -> bool {
        self.route(prefix).contains("(65535,0)")
    }
    fn established(&self) -> bool {
        self.birdc("show protocols lb").contains("Established")
    }
}

/// The announce / graceful shutdown / withdraw / announce-again cycle against `router`.
fn announce_and_withdraw(
    lab: &mut Lab,
    speaker: &Speaker,
    router: &dyn Router,
    name: &str,
) -> Result<(), Error> {
    let started = Instant::now();
    for vip in [VIP, VIP6] {
        wait_until(HOLD, &format!("{name} has {vip}"), || router.has(vip))?;
        assert!(
            !router.graceful_shutdown(vip),
            "{vip} tagged before any withdraw"
        );
    }
    eprintln!(
        "{name}: speaker start to both routes in the router's table: {:?}",
        started.elapsed()
    );
    assert_eq!(speaker.count("session up"), 1, "{}", speaker.log_text());

    lab.signal(speaker.pid, Signal::SIGUSR1)?;
    let asked = Instant::now();
    for vip in [VIP, VIP6] {
        wait_until(
            MARGIN,
            &format!("{name} shows {vip} with GRACEFUL_SHUTDOWN"),
            || router.graceful_shutdown(vip),
        )?;
    }
    let tagged = asked.elapsed();
    for vip in [VIP, VIP6] {
        wait_until(
            GSHUT_WAIT + MARGIN,
            &format!("{vip} gone from {name}"),
            || !router.has(vip),
        )?;
    }
    let gone = asked.elapsed();
    eprintln!("{name}: withdraw asked → GRACEFUL_SHUTDOWN seen {tagged:?}, route gone {gone:?} (wait {GSHUT_WAIT:?})");
    assert!(
        gone >= GSHUT_WAIT - Duration::from_millis(100),
        "withdrawn before the graceful-shutdown wait: {gone:?}"
    );

    lab.signal(speaker.pid, Signal::SIGUSR2)?;
    for vip in [VIP, VIP6] {
        wait_until(MARGIN, &format!("{vip} back in {name}"), || {
            router.has(vip) && !router.graceful_shutdown(vip)
        })?;
    }
    assert!(router.established());
    Ok(())
}

#[test]
fn frr_announce_graceful_shutdown_withdraw() -> Result<(), Error> {
    let Link {
        mut lab,
        router,
        lb,
    } = link("bgpfrr")?;
    let frr = FrrBgpd::start(&mut lab, &router, "bgpd", ROUTER, FRR_CONF)?;
    let speaker = speaker(&mut lab, &lb, "speaker", ROUTER)?;
    announce_and_withdraw(&mut lab, &speaker, &frr, "FRR")?;
    lab.stop_gracefully(speaker.pid)?;
    wait_until(MARGIN, "FRR sees the session end", || !frr.established())?;
    assert!(!frr.has(VIP));
    assert_eq!(
        speaker.count("sent NOTIFICATION Cease/Administrative Shutdown"),
        1
    );
    Ok(())
}

#[test]
fn frr_frozen_is_a_hold_timer_expiry_and_its_shutdown_a_clear_line() -> Result<(), Error> {
    let Link {
        mut lab,
        router,
        lb,
    } = link("bgpfrrhold")?;
    let frr = FrrBgpd::start(&mut lab, &router, "bgpd", ROUTER, FRR_CONF)?;
    let speaker = speaker(&mut lab, &lb, "speaker", ROUTER)?;
    speaker.wait_count("session up", 1, HOLD)?;

    lab.signal(frr.pid, Signal::SIGSTOP)?;
    let frozen = Instant::now();
    let line = "peer 192.168.0.1: sent NOTIFICATION Hold Timer Expired (4/0)";
    let result = speaker.wait_count(line, 1, HOLD + MARGIN);
    lab.signal(frr.pid, Signal::SIGCONT)?;
    result?;
    eprintln!(
        "FRR frozen → Hold Timer Expired sent after {:?} (hold time {HOLD:?})",
        frozen.elapsed()
    );
    assert!(
        frozen.elapsed() >= HOLD - Duration::from_secs(3),
        "expired early: {:?}",
        frozen.elapsed()
    );
    // Back by itself once the router answers again.
    speaker.wait_count("session up", 2, HOLD + MARGIN)?;

    frr.vtysh(&[
        "configure terminal",
        "router bgp 65001",
        "neighbor 192.168.0.101 shutdown message planned maintenance",
    ]);
    let line = "peer 192.168.0.1 sent NOTIFICATION Cease/Administrative Shutdown (6/2): \"planned maintenance\"";
    speaker.wait_count(line, 1, MARGIN)?;
    assert_eq!(speaker.count("session down"), 2);
    lab.stop_gracefully(speaker.pid)?;
    Ok(())
}

fn bird_conf() -> String {
    format!(
        "router id {ROUTER};
log stderr all;
protocol device {{ }}
protocol bgp lb {{
    local {ROUTER} as {ROUTER_AS};
    neighbor {LB} as {LB_AS};
    hold time 9;
    keepalive time 3;
    passive on;
    # BIRD waits 60 s after an error before it takes a session again by default.
    error wait time 1, 2;
    ipv4 {{ import all; export none; }};
    ipv6 {{ import all; export none; }};
}}
"
    )
}

#[test]
fn bird_announce_withdraw_hold_and_shutdown() -> Result<(), Error> {
    let Link {
        mut lab,
        router,
        lb,
    } = link("bgpbird")?;
    let bird = Bird::start(&mut lab, &router, "bird", &bird_conf())?;
    let speaker = speaker(&mut lab, &lb, "speaker", ROUTER)?;
    announce_and_withdraw(&mut lab, &speaker, &bird, "BIRD")?;

    lab.signal(bird.pid, Signal::SIGSTOP)?;
    let frozen = Instant::now();
    let result = speaker.wait_count(
        "sent NOTIFICATION Hold Timer Expired (4/0)",
        1,
        HOLD + MARGIN,
    );
    lab.signal(bird.pid, Signal::SIGCONT)?;
    result?;
    eprintln!(
        "BIRD frozen → Hold Timer Expired sent after {:?} (hold time {HOLD:?})",
        frozen.elapsed()
    );
    speaker.wait_count("session up", 2, HOLD + MARGIN)?;

    bird.birdc("disable lb \"going away\"");
    let line =
        "peer 192.168.0.1 sent NOTIFICATION Cease/Administrative Shutdown (6/2): \"going away\"";
    speaker.wait_count(line, 1, MARGIN)?;
    lab.stop_gracefully(speaker.pid)?;
    Ok(())
}

/// BIRD as an OLD speaker (`enable as4 off`: no 4-octet AS capability, RFC 6793 §4.2):
/// our AS_PATH reaches it in 2-octet numbers, which it reads as our AS. (BIRD refuses a
/// 4-octet neighbor AS with as4 off; AS_TRANS and AS4_PATH are the unit tests'.)
#[test]
fn bird_without_4_octet_as_reads_a_2_octet_as_path() -> Result<(), Error> {
    let Link {
        mut lab,
        router,
        lb,
    } = link("bgpbirdas2")?;
    let conf = bird_conf().replace("    passive on;", "    passive on;\n    enable as4 off;");
    let bird = Bird::start(&mut lab, &router, "bird", &conf)?;
    let speaker = speaker(&mut lab, &lb, "speaker", ROUTER)?;
    let took = wait_until(HOLD + MARGIN, "the VIP in BIRD", || {
        bird.route(VIP).contains("BGP.as_path")
    })
    .map_err(|e| {
        Error(format!(
            "{e}\n{}\n{}",
            bird.birdc("show protocols all lb"),
            speaker.log_text()
        ))
    })?;
    let route = bird.route(VIP);
    eprintln!("BIRD (as4 off) has the VIP after {took:?}:\n{route}");
    let path = route
        .lines()
        .find(|l| l.contains("BGP.as_path"))
        .unwrap_or_default();
    assert!(
        path.trim().ends_with(&format!("BGP.as_path: {LB_AS}")),
        "{route}"
    );
    let shown = bird.birdc("show protocols all lb");
    let local = shown
        .split("Local capabilities")
        .nth(1)
        .and_then(|rest| rest.split("Neighbor capabilities").next())
        .unwrap_or_default();
    assert!(
        !local.is_empty() && !local.contains("4-octet AS numbers"),
        "BIRD offered the 4-octet AS capability: {shown}"
    );
    assert_eq!(speaker.count("NOTIFICATION"), 0, "{}", speaker.log_text());
    Ok(())
}

/// FRR with capability negotiation off (`dont-capability-negotiate`: its OPEN offers no
/// 4-octet AS capability, so the session runs with 2-octet numbers) and our AS above
/// 65535: the AS_PATH FRR reads is AS_TRANS, well formed (RFC 6793 §4.2.2). FRR rebuilds
/// the number from AS4_PATH only for a peer that did not offer the capability, which we
/// do, so the path shows 23456.
#[test]
fn frr_without_4_octet_as_reads_as_trans() -> Result<(), Error> {
    let Link {
        mut lab,
        router,
        lb,
    } = link("bgpfrras2")?;
    let conf = FRR_CONF
        .replace(
            " neighbor 192.168.0.101 remote-as 65002\n",
            " neighbor 192.168.0.101 remote-as 4200000001\n neighbor 192.168.0.101 dont-capability-negotiate\n",
        );
    let frr = FrrBgpd::start(&mut lab, &router, "bgpd", ROUTER, &conf)?;
    let speaker = speaker_as(&mut lab, &lb, "speaker", ROUTER, "4200000001")?;
    let took = wait_until(HOLD + MARGIN, "the VIP in FRR", || {
        !frr.route(VIP).contains("Network not in table")
    })
    .map_err(|e| {
        Error(format!(
            "{e}\n{}\n{}",
            frr.vtysh(&["show bgp neighbors 192.168.0.101"]),
            speaker.log_text()
        ))
    })?;
    let route = frr.route(VIP);
    eprintln!("FRR (no capabilities) has the VIP after {took:?}:\n{route}");
    let path = route.lines().nth(3).unwrap_or_default().trim();
    assert_eq!(path, "23456", "{route}");
    assert_eq!(speaker.count("NOTIFICATION"), 0, "{}", speaker.log_text());
    Ok(())
}

/// One BGP message from its type and body (RFC 4271 §4.1).
fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![0xff; 16];
    m.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
    m.push(kind);
    m.extend_from_slice(body);
    m
}

/// Reads one whole message (bounded by the stream's read timeout); its type and body.
fn read_message(stream: &mut TcpStream) -> Result<(u8, Vec<u8>), Error> {
    let mut head = [0u8; 19];
    stream.read_exact(&mut head)?;
    let len = usize::from(u16::from_be_bytes([head[16], head[17]]));
    let mut body = vec![0; len.saturating_sub(19)];
    stream.read_exact(&mut body)?;
    Ok((head[18], body))
}

/// Skips the speaker's UPDATEs and KEEPALIVEs (at most 10) to its NOTIFICATION's body.
fn read_notification(stream: &mut TcpStream) -> Result<Vec<u8>, Error> {
    for _ in 0..10 {
        let (kind, body) = read_message(stream)?;
        match kind {
            3 => return Ok(body),
            2 | 4 => continue,
            other => {
                return Err(Error(format!(
                    "message type {other} where a NOTIFICATION was due"
                )))
            }
        }
    }
    Err(Error("no NOTIFICATION within 10 messages".into()))
}

/// The fake router's side of a session up to Established: the speaker's OPEN read, ours
/// (AS 65001, hold 9 s, 4-octet AS capability) sent, KEEPALIVEs exchanged.
fn establish(listener: &TcpListener) -> Result<TcpStream, Error> {
    let (mut stream, _) = listener.accept()?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let (kind, _) = read_message(&mut stream)?;
    assert_eq!(kind, 1, "the speaker's first message is its OPEN");
    let mut open = vec![4, 0xfd, 0xe9, 0, 9, 192, 168, 0, 1];
    open.extend_from_slice(&[8, 2, 6, 65, 4, 0, 0, 0xfd, 0xe9]);
    stream.write_all(&message(1, &open))?;
    stream.write_all(&message(4, &[]))?;
    // Its KEEPALIVE, then the UPDATEs of the VIPs.
    let (kind, _) = read_message(&mut stream)?;
    assert_eq!(kind, 4);
    Ok(stream)
}

#[test]
fn a_malformed_update_gets_a_notification_and_changes_nothing_else() -> Result<(), Error> {
    let Link {
        mut lab,
        router,
        lb,
    } = link("bgpfake")?;
    let listener = router.in_netns(|| TcpListener::bind((ROUTER, 179)))??;
    let speaker = speaker(&mut lab, &lb, "speaker", ROUTER)?;
    let mut stream = establish(&listener)?;
    speaker.wait_count("session up", 1, MARGIN)?;
    // An UPDATE whose path attribute length (200) runs past the message's end.
    let bad = message(2, &[0, 0, 0, 200, 0x40, 1, 1, 0]);
    stream.write_all(&bad)?;
    let body = read_notification(&mut stream)?;
    assert_eq!(
        body.get(..2),
        Some(&[3u8, 1][..]),
        "NOTIFICATION UPDATE Message Error/Malformed Attribute List"
    );
    let line =
        "peer 192.168.0.1: sent NOTIFICATION UPDATE Message Error/Malformed Attribute List (3/1)";
    speaker.wait_count(line, 1, MARGIN)?;
    // The connection is closed after it, and nothing else is sent.
    let mut rest = Vec::new();
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.read_to_end(&mut rest)?;
    assert!(
        rest.is_empty(),
        "{} octets after the NOTIFICATION",
        rest.len()
    );
    // Nothing else changed: the speaker still runs and comes back to a good router.
    let mut again = establish(&listener)?;
    speaker.wait_count("session up", 2, MARGIN)?;
    // A bad marker this time: Message Header Error/Connection Not Synchronized.
    let mut bad = message(4, &[]);
    bad[3] = 0;
    again.write_all(&bad)?;
    let body = read_notification(&mut again)?;
    assert_eq!(
        body.get(..2),
        Some(&[1u8, 1][..]),
        "Message Header Error/Connection Not Synchronized"
    );
    assert!(
        lab.wait_exit(speaker.pid, Duration::from_millis(100))
            .is_none(),
        "the speaker must keep running"
    );
    lab.stop_gracefully(speaker.pid)?;
    Ok(())
}

#[test]
fn frr_ibgp_has_an_empty_as_path_and_local_pref() -> Result<(), Error> {
    let Link {
        mut lab,
        router,
        lb,
    } = link("bgpfrribgp")?;
    let conf = FRR_CONF.replace("remote-as 65002", "remote-as 65001");
    let frr = FrrBgpd::start(&mut lab, &router, "bgpd", ROUTER, &conf)?;
    let speaker = speaker_as(&mut lab, &lb, "speaker", ROUTER, ROUTER_AS)?;
    // An internal route: no AS in its path ("Local"), LOCAL_PREF 100 as sent.
    for vip in [VIP, VIP6] {
        wait_until(
            HOLD,
            &format!("FRR has {vip} from an internal peer"),
            || {
                let route = frr.route(vip);
                route.contains("  Local\n") && route.contains("localpref 100, valid, internal")
            },
        )?;
    }
    lab.stop_gracefully(speaker.pid)?;
    Ok(())
}

/// The router's TCP-MD5 key, and one it does not have. Long enough to be unmistakable
/// in a log.
const MD5_KEY: &str = "lab-Md5-key-7f3a";
const WRONG_KEY: &str = "lab-Md5-wrong-9c1e";

fn frr_with_password() -> String {
    FRR_CONF.replace(
        " neighbor 192.168.0.101 remote-as 65002\n",
        &format!(
            " neighbor 192.168.0.101 remote-as 65002\n neighbor 192.168.0.101 password {MD5_KEY}\n"
        ),
    )
}

/// The router kernel's count of segments dropped for a missing or wrong TCP-MD5
/// signature (per namespace).
fn md5_drops(router: &Host) -> u64 {
    let out = router
        .output(&[
            "nstat",
            "-asz",
            "TcpExtTCPMD5Failure",
            "TcpExtTCPMD5NotFound",
        ])
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    out.lines()
        .filter(|l| l.starts_with("TcpExt"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum()
}

#[test]
fn frr_with_a_tcp_md5_password_establishes_with_the_same_key() -> Result<(), Error> {
    let Link {
        mut lab,
        router,
        lb,
    } = link("bgpmd5")?;
    let frr = FrrBgpd::start(&mut lab, &router, "bgpd", ROUTER, &frr_with_password())?;
    let speaker = speaker_with(
        &mut lab,
        &lb,
        "speaker",
        ROUTER,
        LB_AS,
        &["--password", MD5_KEY],
    )?;
    let took = wait_until(HOLD + MARGIN, "the VIP in FRR over TCP-MD5", || {
        frr.has(VIP)
    })
    .map_err(|e| {
        Error(format!(
            "{e}\n{}\n{}",
            frr.vtysh(&["show bgp neighbors 192.168.0.101"]),
            speaker.log_text()
        ))
    })?;
    eprintln!("FRR (password) has the VIP after {took:?}");
    assert!(frr.established());
    // FRR's own view: the session is signed (it shows that it has a key, not the key).
    let neighbor = frr.vtysh(&["show bgp neighbors 192.168.0.101"]);
    assert!(
        neighbor.contains("Peer Authentication Enabled"),
        "{neighbor}"
    );
    assert_eq!(speaker.count("session up"), 1, "{}", speaker.log_text());
    lab.stop_gracefully(speaker.pid)?;
    let log = speaker.log_text();
    assert!(!log.contains(MD5_KEY), "the key is in the log:\n{log}");
    Ok(())
}

#[test]
fn frr_with_a_tcp_md5_password_never_establishes_with_a_wrong_key() -> Result<(), Error> {
    let Link {
        mut lab,
        router,
        lb,
    } = link("bgpmd5bad")?;
    let frr = FrrBgpd::start(&mut lab, &router, "bgpd", ROUTER, &frr_with_password())?;
    let before = md5_drops(&router);
    let speaker = speaker_with(
        &mut lab,
        &lb,
        "speaker",
        ROUTER,
        LB_AS,
        &["--password", WRONG_KEY],
    )?;
    // The router's kernel drops every segment of ours: no session, whatever the wait.
    let watched = Duration::from_secs(10);
    let started = Instant::now();
    while started.elapsed() < watched {
        assert!(!frr.established(), "{}", speaker.log_text());
        assert_eq!(speaker.count("session up"), 0, "{}", speaker.log_text());
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(!frr.has(VIP));
    // ... and it is the signature it drops them for (else this test proves nothing).
    let drops = md5_drops(&router) - before;
    eprintln!("router kernel: {drops} segments dropped for their TCP-MD5 signature in {watched:?}");
    assert!(drops > 0, "no TCP-MD5 drop counted on the router");
    lab.stop_gracefully(speaker.pid)?;
    let log = speaker.log_text();
    assert!(!log.contains(WRONG_KEY), "the key is in the log:\n{log}");
    Ok(())
}

/// The same through the configuration: `lvsfw run -f` with `password` in the neighbor
/// block signs the session the router requires, and neither its log, `lvsfw bgp status`
/// nor the status file it writes holds the key.
#[test]
fn run_with_a_neighbor_password_establishes_and_never_shows_the_key() -> Result<(), Error> {
    let mut lab = Lab::new("bgpmd5run", false)?;
    let router = lab.add_host("router", Net::Ext, &format!("{ROUTER}/24"), None)?;
    let lb = balancer_host(&mut lab, "lb", &format!("{LB}/24"), "192.168.33.20/24")?;
    let frr = FrrBgpd::start(&mut lab, &router, "bgpd", ROUTER, &frr_with_password())?;
    let conf = format!(
        "virtual_server 192.0.2.10 80 {{
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 192.168.33.11 80 {{
        TCP_CHECK {{
            connect_timeout 1
        }}
    }}
}}

bgp {{
    local_as {LB_AS}
    neighbor {ROUTER} {{
        remote_as {ROUTER_AS}
        hold_time 9
        connect_retry 1
        password {MD5_KEY}
    }}
    announce {{
        {VIP}
    }}
}}
"
    );
    let run = Lvsfw::start(&mut lab, &lb, "lb", &conf)?;
    let took = wait_until(HOLD + MARGIN, "the signed session Established", || {
        run.bgp().contains(" Established ") && frr.established()
    })
    .map_err(|e| {
        let log = std::fs::read_to_string(lab.log_path("lb")).unwrap_or_default();
        Error(format!("{e}\n{}\n{log}", run.bgp()))
    })?;
    eprintln!("run -f with a password: Established after {took:?}");
    let neighbor = frr.vtysh(&["show bgp neighbors 192.168.0.101"]);
    assert!(
        neighbor.contains("Peer Authentication Enabled"),
        "{neighbor}"
    );
    let mut shown = vec![
        run.bgp(),
        std::fs::read_to_string(&run.bgp_status).unwrap_or_default(),
    ];
    lab.stop_gracefully(run.pid)?;
    shown.push(std::fs::read_to_string(lab.log_path("lb")).unwrap_or_default());
    for text in shown {
        assert!(!text.is_empty());
        assert!(!text.contains(MD5_KEY), "the key is shown:\n{text}");
    }
    Ok(())
}
