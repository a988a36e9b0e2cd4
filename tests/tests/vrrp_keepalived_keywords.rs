//! Issue 16's VRRP keywords on the wire, against keepalived 2.2.7 in network namespaces
//! (lvsfw as `lvsfw run -f`, as in vrrp_host.rs): use_vmac (the VIP moves, the VRRP MAC
//! is what the segment sees, a client's ARP entry never changes), check_unicast_src (a
//! stranger's adverts are dropped and counted), lower_prio_no_advert (no answer to a
//! lower master), and a vrrp_script with a native TCP_CHECK that hands mastership over.
//!
//! VRRPv3 at 0.1 s throughout, so that each takeover is a fraction of a second; bounds
//! are the protocol's figures with a generous margin, measured times are printed.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use lvsfw_lab::pcap::{self, Frame};
use lvsfw_lab::peers::{holds, wait_holds, Keepalived, Lvsfw};
use lvsfw_lab::{Error, Host, Lab, Net};
use nix::sys::signal::Signal;

const VIP: &str = "192.168.0.100";
const LB1: &str = "192.168.0.101";
const LB2: &str = "192.168.0.102";
const CLIENT: &str = "192.168.0.50";
/// 00:00:5e:00:01:VRID for VRID 51 (RFC 5798 §7.3).
const VRRP_MAC: [u8; 6] = [0, 0, 0x5e, 0, 1, 51];
const MARGIN: Duration = Duration::from_secs(2);

/// VRRPv3 at 0.1 s, VRID 51, the VIP; `extra` inside the instance, `before` ahead of it.
fn conf(priority: u8, extra: &str, before: &str) -> String {
    conf_at(priority, "0.1", extra, before)
}

fn conf_at(priority: u8, advert_int: &str, extra: &str, before: &str) -> String {
    format!(
        "global_defs {{\n    vrrp_version 3\n}}\n{before}vrrp_instance VI_1 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id 51\n    priority {priority}\n    advert_int {advert_int}\n{extra}\n    virtual_ipaddress {{\n        {VIP}/24\n    }}\n}}\n"
    )
}

fn unicast_to(peer: &str) -> String {
    format!("    unicast_peer {{\n        {peer}\n    }}")
}

struct Segment {
    lab: Lab,
    lb1: Host,
    lb2: Host,
    client: Host,
}

fn segment(test: &str) -> Result<Segment, Error> {
    let mut lab = Lab::new(test, false)?;
    let lb1 = lab.add_host("lb1", Net::Ext, &format!("{LB1}/24"), None)?;
    let lb2 = lab.add_host("lb2", Net::Ext, &format!("{LB2}/24"), None)?;
    let client = lab.add_host("client", Net::Ext, &format!("{CLIENT}/24"), None)?;
    client.run(&["sysctl", "-qw", "net.ipv4.conf.eth0.arp_accept=1"])?;
    Ok(Segment {
        lab,
        lb1,
        lb2,
        client,
    })
}

/// tcpdump on the segment's bridge, writing every frame at once.
fn capture(lab: &mut Lab, filter: &str) -> Result<PathBuf, Error> {
    let file = lab.dir.join("ext.pcap");
    let switch = Host {
        name: "switch".into(),
        namespace: lab.switch.clone(),
        address: String::new(),
    };
    let path = file.to_string_lossy().into_owned();
    let args = [
        "tcpdump",
        "-i",
        Net::Ext.bridge(),
        "-n",
        "-U",
        "--immediate-mode",
        "-Z",
        "root",
        "-w",
        &path,
        filter,
    ];
    lab.spawn(&switch, &args, "tcpdump")?;
    let log = lab.log_path("tcpdump");
    wait_until(Duration::from_secs(10), "tcpdump to start", || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("listening on"))
    })?;
    Ok(file)
}

fn frames(file: &PathBuf) -> Result<Vec<Frame>, Error> {
    pcap::frames(&std::fs::read(file)?)
}

/// The Ethernet source and IPv4 source of every VRRP advert among `frames`.
fn adverts(frames: &[Frame]) -> Vec<([u8; 6], Ipv4Addr, std::time::SystemTime)> {
    frames
        .iter()
        .filter(|f| f.data.len() > 34 && f.data[12..14] == [8, 0] && f.data[23] == 112)
        .map(|f| {
            let mac: [u8; 6] = f.data[6..12].try_into().unwrap_or_default();
            let src = Ipv4Addr::new(f.data[26], f.data[27], f.data[28], f.data[29]);
            (mac, src, f.at)
        })
        .collect()
}

fn wait_until(
    limit: Duration,
    what: &str,
    mut done: impl FnMut() -> bool,
) -> Result<Duration, Error> {
    let start = Instant::now();
    loop {
        if done() {
            return Ok(start.elapsed());
        }
        if start.elapsed() >= limit {
            return Err(Error(format!("no {what} within {limit:?}")));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The MAC `host` has for `address` in its neighbour table.
fn neighbour(host: &Host, address: &str) -> Option<String> {
    let out = host.output(&["ip", "neigh", "show", address]).ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut words = text.split_whitespace();
    words.find(|w| *w == "lladdr")?;
    words.next().map(String::from)
}

/// The client reaches `address` within 3 pings: right after a takeover the old master's
/// last advert may have taught the switch the VRRP MAC's old port for one interval.
fn reaches(host: &Host, address: &str) -> bool {
    (0..3).any(|_| host.ping(address))
}

fn link_exists(host: &Host, name: &str) -> bool {
    host.output(&["ip", "link", "show", name])
        .is_ok_and(|o| o.status.success())
}

fn sysctl(host: &Host, name: &str) -> String {
    host.output(&["sysctl", "-n", name])
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn stop(lab: &mut Lab, pid: u32) -> Result<(), Error> {
    lab.signal(pid, Signal::SIGTERM)?;
    match lab.wait_exit(pid, Duration::from_secs(5)) {
        Some(status) if status.success() => Ok(()),
        Some(status) => Err(Error(format!("{pid} ended with {status} on SIGTERM"))),
        None => Err(Error(format!("{pid} still runs 5 s after SIGTERM"))),
    }
}

fn counter(lvsfw: &Lvsfw, name: &str) -> u64 {
    lvsfw
        .instance("VI_1")
        .and_then(|i| i.drops[name].as_u64())
        .unwrap_or(0)
}

#[test]
fn use_vmac_pair_the_vrrp_mac_moves_and_the_client_keeps_its_arp_entry() -> Result<(), Error> {
    let Segment {
        mut lab,
        lb1,
        lb2,
        client,
    } = segment("vmac")?;
    let pcap = capture(&mut lab, "ip proto 112 or arp")?;
    let vmac = "    use_vmac";
    let lvsfw = Lvsfw::start(&mut lab, &lb1, "lvsfw-lb1", &conf(150, vmac, ""))?;
    lvsfw.wait_state("VI_1", "MASTER", MARGIN)?;
    // keepalived's documentation asks for the ARP settings it does not make itself
    // (its "Note on Using VRRP with Virtual MAC Address"); with a VIP in the NIC's own
    // subnet only arp_announce 2 keeps eth0's ARP requests from carrying the VIP
    // (lvsfw sets it on the parent of its macvlan).
    lb2.run(&["sysctl", "-qw", "net.ipv4.conf.eth0.arp_announce=2"])?;
    let keepalived = Keepalived::start(&mut lab, &lb2, "keepalived-lb2", &conf(100, vmac, ""))?;
    // The VIP is on lvsfw's macvlan, which carries the VRRP MAC; eth0 answers no ARP
    // for what it does not hold.
    assert!(link_exists(&lb1, "vrrp.51"), "no macvlan vrrp.51 on lb1");
    let on_vmac = lb1.run(&["ip", "-o", "addr", "show", "dev", "vrrp.51"])?;
    assert!(String::from_utf8_lossy(&on_vmac.stdout).contains(VIP));
    assert_eq!(sysctl(&lb1, "net.ipv4.conf.eth0.arp_ignore"), "1");
    assert!(
        reaches(&client, VIP),
        "the client cannot reach the VIP on lvsfw"
    );
    let mac = "00:00:5e:00:01:33";
    assert_eq!(neighbour(&client, VIP).as_deref(), Some(mac));
    // keepalived made its own macvlan and waits as backup.
    wait_until(MARGIN, "keepalived's macvlan", || {
        link_exists(&lb2, "vrrp.51")
    })?;
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !holds(&lb2, VIP),
        "keepalived took the VIP from a higher lvsfw"
    );

    // lvsfw stops: keepalived takes the VIP, the MAC stays what the client has.
    lab.signal(lvsfw.pid, Signal::SIGTERM)?;
    let took = wait_holds(&lb2, VIP, true, MARGIN)?;
    eprintln!("use_vmac: keepalived took over from lvsfw in {took:?}");
    assert!(lab
        .wait_exit(lvsfw.pid, Duration::from_secs(5))
        .is_some_and(|s| s.success()));
    assert!(
        !link_exists(&lb1, "vrrp.51"),
        "a stopped lvsfw must remove its macvlan"
    );
    assert_eq!(
        sysctl(&lb1, "net.ipv4.conf.eth0.arp_ignore"),
        "0",
        "eth0's arp_ignore is put back"
    );
    assert!(
        reaches(&client, VIP),
        "the client cannot reach the VIP on keepalived"
    );
    assert_eq!(neighbour(&client, VIP).as_deref(), Some(mac));

    // lvsfw comes back with the higher priority and takes the VIP back.
    let lvsfw = Lvsfw::start(&mut lab, &lb1, "lvsfw-lb1-again", &conf(150, vmac, ""))?;
    let took = lvsfw.wait_state("VI_1", "MASTER", MARGIN)?;
    eprintln!("use_vmac: lvsfw took over from keepalived in {took:?}");
    wait_holds(&lb2, VIP, false, MARGIN)?;
    assert!(
        reaches(&client, VIP),
        "the client cannot reach the VIP on lvsfw again"
    );
    assert_eq!(neighbour(&client, VIP).as_deref(), Some(mac));
    stop(&mut lab, lvsfw.pid)?;
    stop(&mut lab, keepalived.pid)?;

    // On the wire: both speakers' adverts and every gratuitous ARP for the VIP came
    // from the VRRP MAC, never from a NIC's own.
    let frames = frames(&pcap)?;
    let adverts = adverts(&frames);
    let ours: Vec<_> = adverts.iter().filter(|a| a.1.to_string() == LB1).collect();
    assert!(ours.len() >= 5, "{} adverts from lvsfw", ours.len());
    assert!(
        ours.iter().all(|a| a.0 == VRRP_MAC),
        "an lvsfw advert from another MAC"
    );
    assert!(adverts
        .iter()
        .any(|a| a.1.to_string() == LB2 && a.0 == VRRP_MAC));
    let garps: Vec<_> = pcap::garps(&frames)
        .into_iter()
        .filter(|g| g.address.to_string() == VIP)
        .collect();
    assert!(
        garps.len() >= 5,
        "{} gratuitous ARPs for the VIP",
        garps.len()
    );
    assert!(garps.iter().all(|g| g.mac == VRRP_MAC), "{garps:?}");
    Ok(())
}

#[test]
fn check_unicast_src_drops_and_counts_a_stranger_s_adverts() -> Result<(), Error> {
    let Segment {
        mut lab,
        lb1,
        lb2,
        client,
    } = segment("unisrc")?;
    // lb2 is lvsfw's configured peer and the master; the client runs a keepalived of
    // priority 200 that sends to lb1 too, but is no peer of lvsfw's.
    let peer = Keepalived::start(
        &mut lab,
        &lb2,
        "keepalived-lb2",
        &conf(150, &unicast_to(LB1), ""),
    )?;
    let stranger = Keepalived::start(
        &mut lab,
        &client,
        "keepalived-client",
        &conf(200, &unicast_to(LB1), ""),
    )?;
    let extra = format!("{}\n    check_unicast_src", unicast_to(LB2));
    let lvsfw = Lvsfw::start(&mut lab, &lb1, "lvsfw-lb1", &conf(100, &extra, ""))?;
    wait_until(MARGIN * 3, "lvsfw following lb2", || {
        lvsfw
            .instance("VI_1")
            .is_some_and(|i| i.state == "BACKUP" && i.master.as_deref() == Some(LB2))
    })?;
    wait_until(MARGIN, "the stranger's adverts", || {
        counter(&lvsfw, "unicast_src") > 0
    })?;
    // They go on being dropped and counted, one an interval.
    let before = counter(&lvsfw, "unicast_src");
    wait_until(MARGIN, "more of the stranger's adverts counted", || {
        counter(&lvsfw, "unicast_src") >= before + 5
    })?;
    let i = lvsfw.instance("VI_1").ok_or(Error("no status".into()))?;
    let dropped = i.drops["unicast_src"].as_u64().unwrap_or(0);
    eprintln!("check_unicast_src: {dropped} adverts of the stranger dropped");
    // Priority 200 would have won had it been heard.
    assert_eq!(
        (i.state.as_str(), i.master.as_deref()),
        ("BACKUP", Some(LB2))
    );
    assert!(i.adverts_received > 0, "lvsfw hears its peer");
    stop(&mut lab, lvsfw.pid)?;
    stop(&mut lab, stranger.pid)?;
    stop(&mut lab, peer.pid)?;
    Ok(())
}

/// lvsfw's adverts from lb1 per second while a lower keepalived master (which cannot
/// hear lvsfw: lvsfw's unicast peer is the client, which runs no VRRP) advertises to it
/// ten times a second. lvsfw's own interval is 0.3 s (VRRPv3 lets them differ), so that
/// answers to keepalived are told from lvsfw's own adverts by their number.
fn adverts_against_a_lower_master(extra: &str, test: &str) -> Result<f64, Error> {
    let Segment {
        mut lab, lb1, lb2, ..
    } = segment(test)?;
    let pcap = capture(&mut lab, "ip proto 112")?;
    let keepalived = Keepalived::start(
        &mut lab,
        &lb2,
        "keepalived-lb2",
        &conf(100, &unicast_to(LB1), ""),
    )?;
    let ours = format!("{}\n{extra}", unicast_to(CLIENT));
    let lvsfw = Lvsfw::start(&mut lab, &lb1, "lvsfw-lb1", &conf_at(150, "0.3", &ours, ""))?;
    lvsfw.wait_state("VI_1", "MASTER", MARGIN)?;
    wait_holds(&lb2, VIP, true, MARGIN)?;
    let window = Duration::from_secs(2);
    let start = std::time::SystemTime::now();
    std::thread::sleep(window);
    let end = std::time::SystemTime::now();
    stop(&mut lab, lvsfw.pid)?;
    stop(&mut lab, keepalived.pid)?;
    let frames = frames(&pcap)?;
    let n = adverts(&frames)
        .iter()
        .filter(|a| a.1.to_string() == LB1 && a.2 >= start && a.2 <= end)
        .count();
    Ok(n as f64 / window.as_secs_f64())
}

#[test]
fn lower_prio_no_advert_leaves_a_lower_master_unanswered() -> Result<(), Error> {
    let quiet = adverts_against_a_lower_master("    lower_prio_no_advert", "lowprio")?;
    let answering = adverts_against_a_lower_master("", "lowprioans")?;
    eprintln!(
        "lvsfw's adverts against a lower master: {quiet:.1}/s with lower_prio_no_advert, {answering:.1}/s without"
    );
    // One per advert_int (3.3/s) with it; keepalived's default answers each of the lower
    // master's 10 adverts a second at once (and its own timer starts again each time).
    assert!((2.5..=4.5).contains(&quiet), "{quiet}/s");
    assert!(answering >= 8.0, "{answering}/s");
    Ok(())
}

#[test]
fn a_track_script_tcp_check_lowers_the_priority_and_hands_mastership_over() -> Result<(), Error> {
    let Segment {
        mut lab,
        lb1,
        lb2,
        client,
    } = segment("trackscript")?;
    // The service lvsfw's master depends on, on the client.
    let httpd = lab.serve_http(&client, "up\n")?;
    let script = format!(
        "vrrp_script web {{\n    TCP_CHECK {{\n        connect_ip {CLIENT}\n        connect_port 80\n    }}\n    interval 0.2\n    timeout 1\n    fall 2\n    rise 2\n    weight -60\n}}\n"
    );
    let track = "    track_script {\n        web\n    }";
    let lvsfw = Lvsfw::start(&mut lab, &lb1, "lvsfw-lb1", &conf(150, track, &script))?;
    lvsfw.wait_state("VI_1", "MASTER", MARGIN)?;
    let keepalived = Keepalived::start(&mut lab, &lb2, "keepalived-lb2", &conf(100, "", ""))?;
    std::thread::sleep(Duration::from_millis(800));
    assert!(
        !holds(&lb2, VIP),
        "keepalived took the VIP from a higher lvsfw"
    );
    let priority = |l: &Lvsfw| l.instance("VI_1").map(|i| i.priority);
    assert_eq!(priority(&lvsfw), Some(150));

    // The service dies: two failed checks, priority 90, keepalived (100) preempts.
    lab.stop(httpd);
    let failed = Instant::now();
    let took = wait_holds(&lb2, VIP, true, MARGIN * 2)?;
    lvsfw.wait_state("VI_1", "BACKUP", MARGIN)?;
    eprintln!(
        "track_script: keepalived holds the VIP {:?} after the service stopped",
        failed.elapsed().min(took)
    );
    assert_eq!(priority(&lvsfw), Some(90));

    // Back again: priority 150, lvsfw preempts the lower keepalived.
    let _httpd = lab.serve_http(&client, "up\n")?;
    let took = lvsfw.wait_state("VI_1", "MASTER", MARGIN * 2)?;
    eprintln!("track_script: lvsfw master again {took:?} after the service came back");
    wait_holds(&lb2, VIP, false, MARGIN)?;
    assert_eq!(priority(&lvsfw), Some(150));
    stop(&mut lab, lvsfw.pid)?;
    stop(&mut lab, keepalived.pid)?;
    Ok(())
}
