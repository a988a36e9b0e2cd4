//! Issue 5's host tests: lvsfw as an ordinary process (`lvsfw run -f`) in network
//! namespaces on one bridge, no VM. Two lvsfw elect, fail over and preempt; malformed
//! adverts change nothing and are counted; keepalived 2.2.7 and FRR's vrrpd are peers.
//!
//! Bounds are the protocol's own with a generous margin (RFC 5798 §6.4.2: a backup takes
//! over Master_Down_Interval after the last advert, Skew_Time after a priority-0 one);
//! the measured times are printed, not asserted.

use std::time::Duration;

use lvsfw_lab::peers::{self, holds, wait_holds, Keepalived, Lvsfw};
use lvsfw_lab::{Error, Host, Lab, Net};
use nix::sys::signal::Signal;

const VIP: &str = "192.168.0.100";
const LB1: &str = "192.168.0.101";
const LB2: &str = "192.168.0.102";
const CLIENT: &str = "192.168.0.50";
/// What the protocol allows beyond its own figure: scheduling on a shared 2-core box.
const MARGIN: Duration = Duration::from_secs(1);

/// Master_Down_Interval (RFC 5798 §6.1) of a backup of `priority` at `interval`, v3.
fn master_down(priority: u32, interval: Duration) -> Duration {
    3 * interval + skew(priority, interval)
}

fn skew(priority: u32, interval: Duration) -> Duration {
    interval * (256 - priority) / 256
}

/// v2 (RFC 3768 §6.1): Skew_Time is (256 − Priority) / 256 seconds whatever the interval.
fn master_down_v2(priority: u32, interval: Duration) -> Duration {
    3 * interval + Duration::from_secs(1) * (256 - priority) / 256
}

fn instance(name: &str, version: u8, priority: u8, advert_int: &str, extra: &str) -> String {
    format!(
        "vrrp_instance {name} {{
    state BACKUP
    interface eth0
    virtual_router_id 51
    version {version}
    priority {priority}
    advert_int {advert_int}
{extra}
    virtual_ipaddress {{
        {VIP}/24
    }}
}}
"
    )
}

fn auth(kind: &str) -> String {
    format!("    authentication {{\n        auth_type {kind}\n        auth_pass sfjpvrrp\n    }}")
}

struct Segment {
    lab: Lab,
    lb1: Host,
    lb2: Host,
    client: Host,
}

/// lb1, lb2 and a client on one bridge. The client accepts gratuitous ARP for addresses
/// it has not asked about, so its neighbour table shows who announced the VIP last.
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

fn wait_master(lvsfw: &Lvsfw, master: &str) -> Result<(), Error> {
    let deadline = std::time::Instant::now() + MARGIN;
    loop {
        let seen = lvsfw.instance("VI_1").and_then(|i| i.master);
        if seen.as_deref() == Some(master) {
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

#[test]
fn two_lvsfw_elect_fail_over_and_preempt() -> Result<(), Error> {
    let Segment {
        mut lab,
        lb1,
        lb2,
        client,
    } = segment("vrrppair")?;
    let interval = Duration::from_millis(100);
    let conf = |p| instance("VI_1", 3, p, "0.1", "");
    let first = Lvsfw::start(&mut lab, &lb1, "lvsfw-lb1", &conf(150))?;
    let second = Lvsfw::start(&mut lab, &lb2, "lvsfw-lb2", &conf(100))?;
    // Both start as backup; the higher priority's timer runs out first (§6.4.1).
    first.wait_state("VI_1", "MASTER", master_down(150, interval) + MARGIN * 2)?;
    second.wait_state("VI_1", "BACKUP", MARGIN)?;
    // The backup learns the master from its first advert, one interval at most.
    wait_master(&second, LB1)?;
    assert!(holds(&lb1, VIP) && !holds(&lb2, VIP));
    client.wait_neighbour(VIP, &lb1.mac()?, MARGIN)?;

    // Graceful: SIGTERM ⇒ priority 0 ⇒ the backup within Skew_Time (§6.4.2).
    lab.signal(first.pid, Signal::SIGTERM)?;
    let took = second.wait_state("VI_1", "MASTER", skew(100, interval) + MARGIN)?;
    eprintln!("graceful takeover (v3, 0.1 s, backup priority 100): {took:?}");
    assert!(lab
        .wait_exit(first.pid, Duration::from_secs(5))
        .is_some_and(|s| s.success()));
    assert!(!holds(&lb1, VIP), "a stopped lvsfw must remove its VIP");
    wait_holds(&lb2, VIP, true, MARGIN)?;
    client.wait_neighbour(VIP, &lb2.mac()?, MARGIN)?;

    // The higher priority comes back and preempts (keepalived's default).
    let first = Lvsfw::start(&mut lab, &lb1, "lvsfw-lb1-again", &conf(150))?;
    first.wait_state("VI_1", "MASTER", master_down(150, interval) + MARGIN * 2)?;
    second.wait_state("VI_1", "BACKUP", MARGIN)?;
    client.wait_neighbour(VIP, &lb1.mac()?, MARGIN)?;

    // Hard: SIGKILL and the link down (a killed process leaves its VIP configured).
    lab.signal(first.pid, Signal::SIGKILL)?;
    lb1.run(&["ip", "link", "set", "eth0", "down"])?;
    let took = second.wait_state("VI_1", "MASTER", master_down(100, interval) + MARGIN)?;
    eprintln!(
        "hard takeover (v3, 0.1 s, backup priority 100): {took:?} after the kill (RFC: {:?} after the last advert)",
        master_down(100, interval)
    );
    client.wait_neighbour(VIP, &lb2.mac()?, MARGIN)?;
    lab.stop_gracefully(second.pid)?;
    Ok(())
}

#[test]
fn nopreempt_keeps_the_lower_master() -> Result<(), Error> {
    let Segment {
        mut lab, lb1, lb2, ..
    } = segment("nopreempt")?;
    let interval = Duration::from_millis(100);
    let low = Lvsfw::start(
        &mut lab,
        &lb2,
        "lvsfw-lb2",
        &instance("VI_1", 3, 100, "0.1", ""),
    )?;
    low.wait_state("VI_1", "MASTER", master_down(100, interval) + MARGIN * 2)?;
    let high = Lvsfw::start(
        &mut lab,
        &lb1,
        "lvsfw-lb1",
        &instance("VI_1", 3, 150, "0.1", "    nopreempt"),
    )?;
    high.wait_state("VI_1", "BACKUP", MARGIN * 2)?;
    // Several master-down intervals later nothing has moved.
    std::thread::sleep(master_down(150, interval) * 4);
    assert_eq!(high.state("VI_1").as_deref(), Some("BACKUP"));
    assert_eq!(low.state("VI_1").as_deref(), Some("MASTER"));
    assert!(holds(&lb2, VIP) && !holds(&lb1, VIP));
    lab.stop_gracefully(high.pid)?;
    lab.stop_gracefully(low.pid)?;
    Ok(())
}

/// An IPv4 datagram carrying a VRRPv2 advert from `src` with the password "sfjpvrrp",
/// VRID 51, interval 1 s, the VIP as its one address; `edit` changes it before the
/// checksums are computed (unless it breaks the checksum on purpose).
fn advert_v2(src: [u8; 4], priority: u8, edit: impl Fn(&mut Vec<u8>, &mut u8)) -> Vec<u8> {
    let mut vrrp = vec![0x21, 51, priority, 1, 1, 1, 0, 0, 192, 168, 0, 100];
    vrrp.extend_from_slice(b"sfjpvrrp");
    let mut ttl = 255u8;
    edit(&mut vrrp, &mut ttl);
    if vrrp.len() >= 8 && vrrp[6..8] == [0, 0] {
        let sum = !internet_checksum(&vrrp);
        vrrp[6..8].copy_from_slice(&sum.to_be_bytes());
    }
    let total = (20 + vrrp.len()) as u16;
    let mut ip = vec![0x45, 0xc0];
    ip.extend_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&[0, 1, 0, 0, ttl, 112, 0, 0]);
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&[224, 0, 0, 18]);
    let sum = !internet_checksum(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    ip.extend_from_slice(&vrrp);
    ip
}

fn internet_checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in bytes.chunks(2) {
        let word = u16::from_be_bytes([chunk[0], *chunk.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

#[test]
fn malformed_adverts_change_nothing_and_are_counted() -> Result<(), Error> {
    let Segment {
        mut lab, lb1, lb2, ..
    } = segment("malformed")?;
    let conf = instance("VI_1", 2, 150, "1", &auth("PASS"));
    let lvsfw = Lvsfw::start(&mut lab, &lb1, "lvsfw-lb1", &conf)?;
    lvsfw.wait_state(
        "VI_1",
        "MASTER",
        master_down_v2(150, Duration::from_secs(1)) + MARGIN * 2,
    )?;
    // lb2 has no VRRP speaker: it is the intruder. Each packet claims priority 200, so
    // had it been accepted, lb1 would have stepped down (RFC 5798 §6.4.3).
    let from = [192, 168, 0, 102];
    let kinds: Vec<(&str, Vec<u8>)> = vec![
        ("ttl", advert_v2(from, 200, |_, ttl| *ttl = 254)),
        ("version", advert_v2(from, 200, |v, _| v[0] = 0x11)),
        ("type", advert_v2(from, 200, |v, _| v[0] = 0x22)),
        (
            "checksum",
            advert_v2(from, 200, |v, _| v[6..8].copy_from_slice(&[0xde, 0xad])),
        ),
        ("vrid", advert_v2(from, 200, |v, _| v[1] = 99)),
        (
            "auth",
            advert_v2(from, 200, |v, _| v[12..20].copy_from_slice(b"wrongpwd")),
        ),
        ("interval", advert_v2(from, 200, |v, _| v[5] = 2)),
        ("addresses", advert_v2(from, 200, |v, _| v[11] = 101)),
        // The count says two addresses; the message holds one and the password.
        (
            "length",
            advert_v2(from, 200, |v, _| {
                v[3] = 2;
                v.truncate(12);
            }),
        ),
    ];
    let before = lvsfw.instance("VI_1").ok_or(Error("no status".into()))?;
    for (_, datagram) in &kinds {
        peers::send_raw_ipv4(&lb2, datagram)?;
    }
    // Counters reach the status file within a second.
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    let after = loop {
        let now = lvsfw.instance("VI_1").ok_or(Error("no status".into()))?;
        let all = kinds
            .iter()
            .all(|(kind, _)| now.drops[*kind].as_u64() == Some(1));
        if all || std::time::Instant::now() >= deadline {
            break now;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    for (kind, _) in &kinds {
        assert_eq!(
            after.drops[*kind].as_u64(),
            Some(1),
            "{kind} not counted once: {}",
            after.drops
        );
    }
    assert_eq!(after.state, "MASTER", "a dropped advert changed the state");
    assert_eq!(after.adverts_received, before.adverts_received);
    assert!(holds(&lb1, VIP));
    // The control: the same advert, well formed, does make lb1 step down.
    peers::send_raw_ipv4(&lb2, &advert_v2(from, 200, |_, _| {}))?;
    lvsfw.wait_state("VI_1", "BACKUP", MARGIN)?;
    lab.stop_gracefully(lvsfw.pid)?;
    Ok(())
}

/// keepalived as master, lvsfw as backup, then the other way round; each time the master
/// stops gracefully and the backup takes over within its Skew_Time.
fn against_keepalived(test: &str, version: u8, advert_int: &str, extra: &str) -> Result<(), Error> {
    let Segment {
        mut lab, lb1, lb2, ..
    } = segment(test)?;
    let interval = Duration::from_millis(if advert_int == "1" { 1000 } else { 100 });
    let (down, skew_100) = if version == 2 {
        (
            master_down_v2(150, interval),
            Duration::from_secs(1) * 156 / 256,
        )
    } else {
        (master_down(150, interval), skew(100, interval))
    };
    let global = if version == 3 {
        "global_defs {\n    vrrp_version 3\n}\n"
    } else {
        ""
    };
    let conf = |p| {
        format!(
            "{global}{}",
            instance("VI_1", version, p, advert_int, extra)
        )
    };

    // keepalived master, lvsfw backup.
    let keepalived = Keepalived::start(&mut lab, &lb1, "keepalived-lb1", &conf(150))?;
    let lvsfw = Lvsfw::start(&mut lab, &lb2, "lvsfw-lb2", &conf(100))?;
    wait_holds(&lb1, VIP, true, down + MARGIN * 3)?;
    lvsfw.wait_state("VI_1", "BACKUP", MARGIN)?;
    wait_master(&lvsfw, LB1)?;
    std::thread::sleep(interval * 3);
    let i = lvsfw.instance("VI_1").ok_or(Error("no status".into()))?;
    assert_eq!(
        (i.state.as_str(), i.master.as_deref()),
        ("BACKUP", Some(LB1))
    );
    assert!(i.adverts_received > 0, "lvsfw hears keepalived's adverts");
    assert_eq!(
        i.drops
            .as_object()
            .map(|d| d.values().filter_map(|v| v.as_u64()).sum::<u64>()),
        Some(0),
        "{}",
        i.drops
    );
    lab.signal(keepalived.pid, Signal::SIGTERM)?;
    let took = lvsfw.wait_state("VI_1", "MASTER", skew_100 + MARGIN)?;
    eprintln!("{test}: lvsfw took over from keepalived in {took:?}");
    lab.wait_exit(keepalived.pid, Duration::from_secs(5));
    wait_holds(&lb1, VIP, false, MARGIN)?;
    lab.stop_gracefully(lvsfw.pid)?;

    // lvsfw master, keepalived backup.
    let lvsfw = Lvsfw::start(&mut lab, &lb1, "lvsfw-lb1", &conf(150))?;
    let keepalived = Keepalived::start(&mut lab, &lb2, "keepalived-lb2", &conf(100))?;
    lvsfw.wait_state("VI_1", "MASTER", down + MARGIN * 3)?;
    // keepalived waits a full master-down interval even as backup; it must stay backup.
    std::thread::sleep(down + interval * 2);
    assert!(
        !holds(&lb2, VIP),
        "keepalived took the VIP from a higher-priority lvsfw"
    );
    assert_eq!(lvsfw.state("VI_1").as_deref(), Some("MASTER"));
    lab.signal(lvsfw.pid, Signal::SIGTERM)?;
    let took = wait_holds(&lb2, VIP, true, skew_100 + MARGIN)?;
    eprintln!("{test}: keepalived took over from lvsfw in {took:?}");
    assert!(lab
        .wait_exit(lvsfw.pid, Duration::from_secs(5))
        .is_some_and(|s| s.success()));
    lab.stop_gracefully(keepalived.pid)?;
    Ok(())
}

#[test]
fn keepalived_v2_with_a_password() -> Result<(), Error> {
    against_keepalived("kav2pass", 2, "1", &auth("PASS"))
}

#[test]
fn keepalived_v2_with_ah() -> Result<(), Error> {
    against_keepalived("kav2ah", 2, "1", &auth("AH"))
}

#[test]
fn keepalived_v3() -> Result<(), Error> {
    against_keepalived("kav3", 3, "0.1", "")
}

/// FRR's vrrpd sends and answers from a macvlan with the virtual MAC
/// 00:00:5e:00:01:VRID that holds the VIP (its documented setup).
fn frr_macvlan(host: &Host) -> Result<(), Error> {
    host.run(&[
        "ip", "link", "add", "vrrp4-51", "link", "eth0", "type", "macvlan", "mode", "bridge",
    ])?;
    host.run(&[
        "ip",
        "link",
        "set",
        "vrrp4-51",
        "address",
        "00:00:5e:00:01:33",
    ])?;
    host.run(&["ip", "addr", "add", &format!("{VIP}/24"), "dev", "vrrp4-51"])?;
    host.run(&["ip", "link", "set", "vrrp4-51", "up"])?;
    Ok(())
}

fn frr_conf(priority: u8) -> String {
    format!(
        "interface eth0\n vrrp 51 version 3\n vrrp 51 priority {priority}\n vrrp 51 advertisement-interval 100\n vrrp 51 ip {VIP}\n"
    )
}

#[test]
fn frr_vrrpd_v3() -> Result<(), Error> {
    let Segment {
        mut lab, lb1, lb2, ..
    } = segment("frrv3")?;
    let interval = Duration::from_millis(100);
    let conf = |p| instance("VI_1", 3, p, "0.1", "");

    // vrrpd master, lvsfw backup.
    frr_macvlan(&lb1)?;
    let frr = peers::Frr::start(&mut lab, &lb1, "frr-lb1", &frr_conf(150))?;
    let lvsfw = Lvsfw::start(&mut lab, &lb2, "lvsfw-lb2", &conf(100))?;
    frr.wait_state("v4", "Master", master_down(150, interval) + MARGIN * 5)?;
    lvsfw.wait_state("VI_1", "BACKUP", MARGIN)?;
    wait_master(&lvsfw, LB1)?;
    std::thread::sleep(master_down(100, interval) * 2);
    assert_eq!(lvsfw.state("VI_1").as_deref(), Some("BACKUP"));
    lab.signal(frr.vrrpd, Signal::SIGTERM)?;
    // vrrpd may or may not say goodbye with priority 0: Master_Down_Interval bounds both.
    let took = lvsfw.wait_state("VI_1", "MASTER", master_down(100, interval) + MARGIN)?;
    eprintln!("frr: lvsfw took over from vrrpd in {took:?}");
    lab.wait_exit(frr.vrrpd, Duration::from_secs(5));
    lab.signal(frr.zebra, Signal::SIGTERM)?;
    lab.wait_exit(frr.zebra, Duration::from_secs(5));
    lab.stop_gracefully(lvsfw.pid)?;

    // lvsfw master, vrrpd backup.
    frr_macvlan(&lb2)?;
    let lvsfw = Lvsfw::start(&mut lab, &lb1, "lvsfw-lb1", &conf(150))?;
    let frr = peers::Frr::start(&mut lab, &lb2, "frr-lb2", &frr_conf(100))?;
    lvsfw.wait_state("VI_1", "MASTER", master_down(150, interval) + MARGIN * 2)?;
    frr.wait_state("v4", "Backup", MARGIN * 5)?;
    std::thread::sleep(master_down(100, interval) * 2);
    assert_eq!(frr.state("v4").as_deref(), Some("Backup"));
    assert_eq!(lvsfw.state("VI_1").as_deref(), Some("MASTER"));
    lab.signal(lvsfw.pid, Signal::SIGTERM)?;
    let took = frr.wait_state("v4", "Master", skew(100, interval) + MARGIN)?;
    eprintln!("frr: vrrpd took over from lvsfw in {took:?}");
    Ok(())
}
