//! Issue 17's host tests: VRRPv3 over IPv6 on the wire, lvsfw as an ordinary process
//! (`lvsfw run -f`) in network namespaces on one bridge, no VM, against itself,
//! keepalived 2.2.7 and FRR's vrrpd, each as master and as backup.
//!
//! What is checked on the wire (tcpdump on the bridge): adverts go from the sender's
//! link-local address to ff02::12 with hop limit 255 (RFC 5798 §5.1.2.1, §5.1.2.3); a
//! new master sends an unsolicited neighbour advertisement for the VIP to all nodes,
//! Override set, Solicited clear, its own MAC as the target's link-layer address and in
//! the frame (RFC 5798 §6.4.2, RFC 4861 §7.2.6); and a client that had the old master's
//! MAC for the VIP has the new one, from that advertisement alone. The VIP is added
//! without duplicate address detection (`nodad`): a tentative VIP would drop traffic for
//! a second after every takeover, and one the peer still held for a moment would fail DAD.
//! Bounds are the protocol's own with a generous margin; measured times are printed.

use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, SystemTime};

use lvsfw_lab::pcap::{self, Capture};
use lvsfw_lab::peers::{holds, wait_holds, Frr, Keepalived, Lvsfw};
use lvsfw_lab::{Error, Host, Lab, Net};
use nix::sys::signal::Signal;

const VIP: &str = "fd00::100";
/// The inside network's gateway VIP, on a NIC other than the instance's (as in the
/// seed's 3-2): announced from that NIC with its MAC.
const GATEWAY_VIP: &str = "fd00:33::10";
const VRID: u8 = 51;
/// What the protocol allows beyond its own figure: scheduling on a shared 2-core box.
const MARGIN: Duration = Duration::from_secs(1);
const INTERVAL: Duration = Duration::from_millis(100);
/// FRR's vrrpd sends from a macvlan with the IPv6 virtual MAC 00:00:5e:00:02:VRID.
const FRR_VMAC: &str = "00:00:5e:00:02:33";

/// Master_Down_Interval (RFC 5798 §6.1) of a backup of `priority`.
fn master_down(priority: u32) -> Duration {
    3 * INTERVAL + skew(priority)
}

fn skew(priority: u32) -> Duration {
    INTERVAL * (256 - priority) / 256
}

fn conf(priority: u8) -> String {
    conf_with(priority, "")
}

/// The instance with more `virtual_ipaddress` lines.
fn conf_with(priority: u8, more_vips: &str) -> String {
    format!(
        "vrrp_instance VI_6 {{
    state BACKUP
    interface eth0
    virtual_router_id {VRID}
    version 3
    priority {priority}
    advert_int 0.1
    virtual_ipaddress {{
        {VIP}/64
{more_vips}    }}
}}
"
    )
}

struct Segment {
    lab: Lab,
    lb1: Host,
    lb2: Host,
    client: Host,
    /// Each router's link-local address: where its adverts come from.
    lb1_ll: Ipv6Addr,
    lb2_ll: Ipv6Addr,
    capture: Capture,
}

/// lb1, lb2 and a client on one bridge with IPv6 addresses, and a capture of its IPv6.
fn segment(test: &str) -> Result<Segment, Error> {
    let mut lab = Lab::new(test, false)?;
    let lb1 = lab.add_host("lb1", Net::Ext, "192.168.0.101/24", None)?;
    let lb2 = lab.add_host("lb2", Net::Ext, "192.168.0.102/24", None)?;
    let client = lab.add_host("client", Net::Ext, "192.168.0.50/24", None)?;
    let lb1_ll = lb1.add_ipv6("fd00::101/64")?;
    let lb2_ll = lb2.add_ipv6("fd00::102/64")?;
    client.add_ipv6("fd00::50/64")?;
    let capture = Capture::start(&mut lab, Net::Ext, "ext", "ip6")?;
    Ok(Segment {
        lab,
        lb1,
        lb2,
        client,
        lb1_ll,
        lb2_ll,
        capture,
    })
}

/// Every advert `from` sent is a VRRPv3 advert for our VRID to ff02::12 with hop limit
/// 255, and there is at least one.
fn check_adverts(capture: &Capture, from: Ipv6Addr) -> Result<(), Error> {
    let adverts = pcap::adverts(&capture.frames()?);
    let mine: Vec<&pcap::Advert> = adverts
        .iter()
        .filter(|a| a.src == IpAddr::V6(from))
        .collect();
    if mine.is_empty() {
        return Err(Error(format!(
            "no advert from {from} on the wire; sources seen: {:?}",
            adverts.iter().map(|a| a.src).collect::<Vec<_>>()
        )));
    }
    let group: IpAddr = "ff02::12"
        .parse()
        .unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
    for a in mine {
        if a.dst != group || a.hop_limit != 255 || a.version != 3 || a.vrid != VRID {
            return Err(Error(format!("a bad advert from {from}: {a:?}")));
        }
    }
    Ok(())
}

/// The unsolicited neighbour advertisement for `target` that `mac` sent after `since`,
/// checked against RFC 4861 §7.2.6 and RFC 5798 §6.4.2; `router`, if given, is what its
/// Router flag must say (lvsfw sets it where the interface forwards, as keepalived).
fn check_takeover_na(
    capture: &Capture,
    since: SystemTime,
    target: &str,
    mac: &str,
    router: Option<bool>,
) -> Result<(), Error> {
    let mac = pcap::parse_mac(mac)?;
    let vip: Ipv6Addr = target.parse().map_err(|_| Error(target.into()))?;
    // tcpdump writes each packet at once; give the file a moment.
    for _ in 0..20 {
        let nas = pcap::neighbour_adverts(&capture.frames()?);
        let sent: Vec<&pcap::NeighbourAdvert> = nas
            .iter()
            .filter(|n| n.at >= since && n.target == vip && n.frame_src == mac)
            .collect();
        if let Some(na) = sent.first() {
            let all_nodes: Ipv6Addr = "ff02::1".parse().map_err(|_| Error("ff02::1".into()))?;
            let good = na.dst == all_nodes
                && na.hop_limit == 255
                && na.override_flag
                && !na.solicited
                && na.lladdr == Some(mac)
                && router.is_none_or(|r| na.router == r);
            return if good {
                Ok(())
            } else {
                Err(Error(format!("a bad unsolicited NA: {na:?}")))
            };
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(Error(format!(
        "no unsolicited NA for {target} from {mac:02x?} on the wire"
    )))
}

/// The VIP's line of `ip -6 addr` on `host`: it must say nodad and not be tentative.
fn check_vip_nodad(host: &Host) -> Result<(), Error> {
    let out = host.run(&["ip", "-6", "-o", "addr", "show", "dev", "eth0"])?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text
        .lines()
        .find(|l| l.contains(&format!(" {VIP}/")))
        .ok_or_else(|| Error(format!("{}: no {VIP}: {text}", host.name)))?;
    if !line.contains("nodad") || line.contains("tentative") || line.contains("dadfailed") {
        return Err(Error(format!(
            "{}: the VIP is not nodad: {line}",
            host.name
        )));
    }
    Ok(())
}

/// The client reaches the VIP, which gives it a neighbour entry for it; the entry is
/// `mac`'s.
fn client_reaches(client: &Host, mac: &str) -> Result<(), Error> {
    if !client.ping(VIP) {
        return Err(Error(format!("the client cannot ping {VIP}")));
    }
    client.wait_neighbour(VIP, mac, MARGIN)
}

fn wait_master(lvsfw: &Lvsfw, master: Ipv6Addr) -> Result<(), Error> {
    let deadline = std::time::Instant::now() + MARGIN;
    loop {
        let seen = lvsfw.instance("VI_6").and_then(|i| i.master);
        if seen.as_deref() == Some(master.to_string().as_str()) {
            return Ok(());
        }
        if std::time::Instant::now() >= deadline {
            return Err(Error(format!(
                "{}: master {seen:?}, not {master}",
                lvsfw.name
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Both routers get a second NIC `eth1` on the inside network, and a real server there
/// has had an answer from the gateway VIP (so it has a neighbour entry to move).
fn inside(lab: &mut Lab, lb1: &Host, lb2: &Host) -> Result<Host, Error> {
    for (lb, address) in [(lb1, "fd00:33::20/64"), (lb2, "fd00:33::21/64")] {
        lab.add_nic(lb, Net::Int, "eth1")?;
        lb.run(&["ip", "-6", "addr", "add", address, "dev", "eth1", "nodad"])?;
        lb.wait_link_local("eth1")?;
        // The routers are the real servers' gateway there.
        lb.run(&["sysctl", "-qw", "net.ipv6.conf.eth1.forwarding=1"])?;
    }
    let rs = lab.add_host("rs", Net::Int, "192.168.33.11/24", None)?;
    rs.add_ipv6("fd00:33::11/64")?;
    Ok(rs)
}

#[test]
fn two_lvsfw_over_ipv6() -> Result<(), Error> {
    let Segment {
        mut lab,
        lb1,
        lb2,
        client,
        lb1_ll,
        lb2_ll,
        capture,
    } = segment("v6pair")?;
    let rs = inside(&mut lab, &lb1, &lb2)?;
    let capture_int = Capture::start(&mut lab, Net::Int, "int", "ip6")?;
    let conf = |p| conf_with(p, &format!("        {GATEWAY_VIP}/64 dev eth1\n"));
    let first = Lvsfw::start(&mut lab, &lb1, "lvsfw-lb1", &conf(150))?;
    let second = Lvsfw::start(&mut lab, &lb2, "lvsfw-lb2", &conf(100))?;
    first.wait_state("VI_6", "MASTER", master_down(150) + MARGIN * 2)?;
    second.wait_state("VI_6", "BACKUP", MARGIN)?;
    wait_master(&second, lb1_ll)?;
    check_vip_nodad(&lb1)?;
    assert!(!holds(&lb2, VIP));
    client_reaches(&client, &lb1.mac()?)?;
    assert!(
        rs.ping(GATEWAY_VIP),
        "the real server cannot ping {GATEWAY_VIP}"
    );
    rs.wait_neighbour(GATEWAY_VIP, &lb1.mac_of("eth1")?, MARGIN)?;
    check_adverts(&capture, lb1_ll)?;

    // Graceful: priority 0, the backup within Skew_Time (RFC 5798 §6.4.2).
    let failed = SystemTime::now();
    lab.signal(first.pid, Signal::SIGTERM)?;
    let took = second.wait_state("VI_6", "MASTER", skew(100) + MARGIN)?;
    eprintln!("graceful takeover over IPv6: {took:?}");
    client.wait_neighbour(VIP, &lb2.mac()?, MARGIN)?;
    check_takeover_na(&capture, failed, VIP, &lb2.mac()?, Some(false))?;
    // The gateway VIP's advertisement leaves eth1, with eth1's MAC and, as eth1
    // forwards, the Router flag.
    rs.wait_neighbour(GATEWAY_VIP, &lb2.mac_of("eth1")?, MARGIN)?;
    check_takeover_na(
        &capture_int,
        failed,
        GATEWAY_VIP,
        &lb2.mac_of("eth1")?,
        Some(true),
    )?;
    check_vip_nodad(&lb2)?;
    check_adverts(&capture, lb2_ll)?;
    assert!(lab
        .wait_exit(first.pid, Duration::from_secs(5))
        .is_some_and(|s| s.success()));
    assert!(!holds(&lb1, VIP), "a stopped lvsfw must remove its VIP");
    client_reaches(&client, &lb2.mac()?)?;

    // The higher priority comes back and preempts; its NA moves the client back.
    let back = SystemTime::now();
    let first = Lvsfw::start(&mut lab, &lb1, "lvsfw-lb1-again", &conf(150))?;
    first.wait_state("VI_6", "MASTER", master_down(150) + MARGIN * 2)?;
    second.wait_state("VI_6", "BACKUP", MARGIN)?;
    client.wait_neighbour(VIP, &lb1.mac()?, MARGIN)?;
    check_takeover_na(&capture, back, VIP, &lb1.mac()?, Some(false))?;

    // Hard: SIGKILL and the link down; the backup after Master_Down_Interval.
    let failed = SystemTime::now();
    lab.signal(first.pid, Signal::SIGKILL)?;
    lb1.run(&["ip", "link", "set", "eth0", "down"])?;
    let took = second.wait_state("VI_6", "MASTER", master_down(100) + MARGIN)?;
    eprintln!(
        "hard takeover over IPv6: {took:?} after the kill (RFC: {:?} after the last advert)",
        master_down(100)
    );
    client.wait_neighbour(VIP, &lb2.mac()?, MARGIN)?;
    check_takeover_na(&capture, failed, VIP, &lb2.mac()?, Some(false))?;
    client_reaches(&client, &lb2.mac()?)?;
    lab.stop_gracefully(second.pid)?;
    Ok(())
}

#[test]
fn keepalived_over_ipv6() -> Result<(), Error> {
    let Segment {
        mut lab,
        lb1,
        lb2,
        client,
        lb1_ll,
        lb2_ll,
        capture,
    } = segment("kav6")?;

    // keepalived master, lvsfw backup: lvsfw hears it, then takes over from it.
    let keepalived = Keepalived::start(&mut lab, &lb1, "keepalived-lb1", &conf(150))?;
    let lvsfw = Lvsfw::start(&mut lab, &lb2, "lvsfw-lb2", &conf(100))?;
    wait_holds(&lb1, VIP, true, master_down(150) + MARGIN * 3)?;
    lvsfw.wait_state("VI_6", "BACKUP", MARGIN)?;
    wait_master(&lvsfw, lb1_ll)?;
    std::thread::sleep(INTERVAL * 3);
    let i = lvsfw.instance("VI_6").ok_or(Error("no status".into()))?;
    assert_eq!(i.state, "BACKUP");
    assert!(i.adverts_received > 0, "lvsfw hears keepalived's adverts");
    assert_eq!(
        i.drops
            .as_object()
            .map(|d| d.values().filter_map(|v| v.as_u64()).sum::<u64>()),
        Some(0),
        "{}",
        i.drops
    );
    client_reaches(&client, &lb1.mac()?)?;
    let failed = SystemTime::now();
    lab.signal(keepalived.pid, Signal::SIGTERM)?;
    let took = lvsfw.wait_state("VI_6", "MASTER", skew(100) + MARGIN)?;
    eprintln!("lvsfw took over from keepalived over IPv6 in {took:?}");
    client.wait_neighbour(VIP, &lb2.mac()?, MARGIN)?;
    check_takeover_na(&capture, failed, VIP, &lb2.mac()?, Some(false))?;
    check_vip_nodad(&lb2)?;
    lab.wait_exit(keepalived.pid, Duration::from_secs(5));
    wait_holds(&lb1, VIP, false, MARGIN)?;
    lab.stop_gracefully(lvsfw.pid)?;

    // lvsfw master, keepalived backup: keepalived accepts lvsfw's adverts (it stays
    // backup past its master-down interval), then takes over from it.
    let lvsfw = Lvsfw::start(&mut lab, &lb1, "lvsfw-lb1", &conf(150))?;
    let keepalived = Keepalived::start(&mut lab, &lb2, "keepalived-lb2", &conf(100))?;
    lvsfw.wait_state("VI_6", "MASTER", master_down(150) + MARGIN * 3)?;
    std::thread::sleep(master_down(100) + INTERVAL * 3);
    assert!(
        !holds(&lb2, VIP),
        "keepalived took the VIP from a higher-priority lvsfw"
    );
    assert_eq!(lvsfw.state("VI_6").as_deref(), Some("MASTER"));
    check_adverts(&capture, lb1_ll)?;
    client_reaches(&client, &lb1.mac()?)?;
    let failed = SystemTime::now();
    lab.signal(lvsfw.pid, Signal::SIGTERM)?;
    let took = wait_holds(&lb2, VIP, true, skew(100) + MARGIN)?;
    eprintln!("keepalived took over from lvsfw over IPv6 in {took:?}");
    client.wait_neighbour(VIP, &lb2.mac()?, MARGIN)?;
    check_takeover_na(&capture, failed, VIP, &lb2.mac()?, None)?;
    check_adverts(&capture, lb2_ll)?;
    assert!(lab
        .wait_exit(lvsfw.pid, Duration::from_secs(5))
        .is_some_and(|s| s.success()));
    lab.stop_gracefully(keepalived.pid)?;
    Ok(())
}

/// FRR's documented IPv6 setup: a macvlan with the virtual MAC 00:00:5e:00:02:VRID, a
/// random link-local address (the MAC is shared, so an EUI-64 one would collide) and
/// the VIP.
fn frr_macvlan(host: &Host) -> Result<(), Error> {
    host.run(&[
        "ip", "link", "add", "vrrp6-51", "link", "eth0", "type", "macvlan", "mode", "bridge",
    ])?;
    host.run(&[
        "ip",
        "link",
        "set",
        "vrrp6-51",
        "address",
        FRR_VMAC,
        "addrgenmode",
        "random",
    ])?;
    host.run(&[
        "ip",
        "addr",
        "add",
        &format!("{VIP}/64"),
        "dev",
        "vrrp6-51",
        "nodad",
    ])?;
    host.run(&["ip", "link", "set", "vrrp6-51", "up"])?;
    // vrrpd sends from the macvlan's link-local address and needs it usable at start.
    host.wait_link_local("vrrp6-51").map(|_| ())
}

fn frr_conf(priority: u8) -> String {
    format!(
        "interface eth0\n vrrp {VRID} version 3\n vrrp {VRID} priority {priority}\n vrrp {VRID} advertisement-interval 100\n vrrp {VRID} ipv6 {VIP}\n"
    )
}

#[test]
fn frr_vrrpd_over_ipv6() -> Result<(), Error> {
    let Segment {
        mut lab,
        lb1,
        lb2,
        client,
        lb1_ll,
        capture,
        ..
    } = segment("frrv6")?;

    // vrrpd master, lvsfw backup.
    frr_macvlan(&lb1)?;
    let frr = Frr::start(&mut lab, &lb1, "frr-lb1", &frr_conf(150))?;
    let lvsfw = Lvsfw::start(&mut lab, &lb2, "lvsfw-lb2", &conf(100))?;
    frr.wait_state("v6", "Master", master_down(150) + MARGIN * 5)?;
    lvsfw.wait_state("VI_6", "BACKUP", MARGIN)?;
    std::thread::sleep(master_down(100) * 2);
    let i = lvsfw.instance("VI_6").ok_or(Error("no status".into()))?;
    assert_eq!(i.state, "BACKUP", "lvsfw must hear vrrpd's adverts");
    assert!(i.adverts_received > 0);
    client_reaches(&client, FRR_VMAC)?;
    let failed = SystemTime::now();
    lab.signal(frr.vrrpd, Signal::SIGTERM)?;
    // vrrpd may or may not say goodbye with priority 0: Master_Down_Interval bounds both.
    let took = lvsfw.wait_state("VI_6", "MASTER", master_down(100) + MARGIN)?;
    eprintln!("lvsfw took over from vrrpd over IPv6 in {took:?}");
    client.wait_neighbour(VIP, &lb2.mac()?, MARGIN)?;
    check_takeover_na(&capture, failed, VIP, &lb2.mac()?, Some(false))?;
    lab.wait_exit(frr.vrrpd, Duration::from_secs(5));
    lab.signal(frr.zebra, Signal::SIGTERM)?;
    lab.wait_exit(frr.zebra, Duration::from_secs(5));
    lab.stop_gracefully(lvsfw.pid)?;

    // lvsfw master, vrrpd backup.
    frr_macvlan(&lb2)?;
    let lvsfw = Lvsfw::start(&mut lab, &lb1, "lvsfw-lb1", &conf(150))?;
    let frr = Frr::start(&mut lab, &lb2, "frr-lb2", &frr_conf(100))?;
    lvsfw.wait_state("VI_6", "MASTER", master_down(150) + MARGIN * 2)?;
    frr.wait_state("v6", "Backup", MARGIN * 5)?;
    std::thread::sleep(master_down(100) * 2);
    assert_eq!(frr.state("v6").as_deref(), Some("Backup"));
    assert_eq!(lvsfw.state("VI_6").as_deref(), Some("MASTER"));
    check_adverts(&capture, lb1_ll)?;
    client_reaches(&client, &lb1.mac()?)?;
    let failed = SystemTime::now();
    lab.signal(lvsfw.pid, Signal::SIGTERM)?;
    let took = frr.wait_state("v6", "Master", skew(100) + MARGIN)?;
    eprintln!("vrrpd took over from lvsfw over IPv6 in {took:?}");
    client.wait_neighbour(VIP, FRR_VMAC, MARGIN)?;
    check_takeover_na(&capture, failed, VIP, FRR_VMAC, None)?;
    Ok(())
}
