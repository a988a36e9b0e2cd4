//! The bench's namespaces: lb1, lb2 and the client on one bridge, the VRRP speakers on
//! them, and what is read of them (adverts on the wire, RSS).

use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use lvsfw_lab::addr_watch::AddrWatch;
use lvsfw_lab::pcap::{self, Capture};
use lvsfw_lab::peers::{Keepalived, Lvsfw};
use lvsfw_lab::{Error, Host, Lab, Net};
use nix::sys::signal::Signal;

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Imp {
    Lvsfw,
    Keepalived,
}

impl Imp {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Imp::Lvsfw => "lvsfw",
            Imp::Keepalived => "keepalived 2.2.7",
        }
    }
}

pub(crate) const IMPS: [Imp; 2] = [Imp::Lvsfw, Imp::Keepalived];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Case {
    V2,
    V3,
    /// VRRPv3 over IPv6 (issue 17), at the same interval as `V3`.
    V3Ipv6,
}

impl Case {
    pub(crate) fn interval(self) -> Duration {
        match self {
            Case::V2 => Duration::from_secs(1),
            Case::V3 | Case::V3Ipv6 => Duration::from_millis(100),
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Case::V2 => "v2, advert_int 1",
            Case::V3 => "v3, advert_int 0.1",
            Case::V3Ipv6 => "v3 IPv6, advert_int 0.1",
        }
    }

    pub(crate) fn vip(self) -> IpAddr {
        match self {
            Case::V3Ipv6 => IpAddr::V6(VIP6),
            _ => IpAddr::V4(VIP),
        }
    }

    /// Skew_Time: v3 ((256 − Priority) × Master_Adver_Interval) / 256 (RFC 5798 §6.1);
    /// v2 (256 − Priority) / 256 s (RFC 3768 §6.1), the same at advert_int 1.
    pub(crate) fn skew(self, priority: u32) -> Duration {
        let unit = match self {
            Case::V2 => Duration::from_secs(1),
            Case::V3 | Case::V3Ipv6 => self.interval(),
        };
        unit * (256 - priority) / 256
    }

    /// Master_Down_Interval = 3 × Master_Adver_Interval + Skew_Time.
    pub(crate) fn master_down(self, priority: u32) -> Duration {
        3 * self.interval() + self.skew(priority)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Hard,
    Graceful,
}

impl Kind {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Kind::Hard => "hard (SIGKILL + link down)",
            Kind::Graceful => "graceful (SIGTERM, priority 0)",
        }
    }

    /// What RFC 5798 §6.4.2 gives the backup: Master_Down_Interval after the last advert,
    /// Skew_Time after a priority-0 one.
    pub(crate) fn rfc(self, case: Case) -> Duration {
        match self {
            Kind::Hard => case.master_down(BACKUP_PRIORITY),
            Kind::Graceful => case.skew(BACKUP_PRIORITY),
        }
    }
}

pub(crate) fn conf(case: Case, priority: u32, state: &str) -> String {
    let (global, version, advert_int) = match case {
        Case::V2 => ("", 2, "1"),
        Case::V3 | Case::V3Ipv6 => ("global_defs {\n    vrrp_version 3\n}\n", 3, "0.1"),
    };
    let vip = match case {
        Case::V3Ipv6 => format!("{VIP6}/64"),
        _ => format!("{VIP}/24"),
    };
    format!(
        "{global}vrrp_instance VI_1 {{
    state {state}
    interface eth0
    virtual_router_id 51
    version {version}
    priority {priority}
    advert_int {advert_int}
    virtual_ipaddress {{
        {vip}
    }}
}}
"
    )
}

/// One running VRRP speaker: its PID (for keepalived, the parent's).
pub(crate) struct Speaker {
    pub(crate) imp: Imp,
    pub(crate) pid: u32,
    pub(crate) lvsfw: Option<Lvsfw>,
}

/// lb1, lb2 and the client on one bridge, with a capture and two address watches that
/// run for the whole benchmark.
pub(crate) struct Bed {
    pub(crate) lab: Lab,
    pub(crate) lb1: Host,
    pub(crate) lb2: Host,
    pub(crate) client: Host,
    pub(crate) watch1: AddrWatch,
    pub(crate) watch2: AddrWatch,
    pub(crate) capture: Capture,
    pub(crate) names: u32,
    /// Each router's link-local address, where its IPv6 adverts come from.
    pub(crate) lb1_ll: Ipv6Addr,
    pub(crate) lb2_ll: Ipv6Addr,
}

impl Bed {
    pub(crate) fn new() -> Result<Bed, Error> {
        let mut lab = Lab::new("benchvrrp", false)?;
        let lb1 = lab.add_host("lb1", Net::Ext, &format!("{LB1}/24"), None)?;
        let lb2 = lab.add_host("lb2", Net::Ext, &format!("{LB2}/24"), None)?;
        let client = lab.add_host("client", Net::Ext, CLIENT, None)?;
        client.run(&["sysctl", "-qw", "net.ipv4.conf.eth0.arp_accept=1"])?;
        // A hard failure takes a router's link down; back up, its link-local address
        // would be tentative for a second or two and the next run could not start on it.
        for lb in [&lb1, &lb2] {
            lb.run(&["sysctl", "-qw", "net.ipv6.conf.eth0.accept_dad=0"])?;
        }
        let lb1_ll = lb1.add_ipv6("fd00::101/64")?;
        let lb2_ll = lb2.add_ipv6("fd00::102/64")?;
        client.add_ipv6("fd00::50/64")?;
        let watch1 = AddrWatch::start(&lb1)?;
        let watch2 = AddrWatch::start(&lb2)?;
        let filter = std::env::var("BENCH_VRRP_FILTER")
            .unwrap_or("ip proto 112 or arp or ip6 proto 112".into());
        let capture = Capture::start(&mut lab, Net::Ext, "bridge", &filter)?;
        Ok(Bed {
            lab,
            lb1,
            lb2,
            client,
            watch1,
            watch2,
            capture,
            names: 0,
            lb1_ll,
            lb2_ll,
        })
    }

    pub(crate) fn name(&mut self, what: &str) -> String {
        self.names += 1;
        format!("{what}-{}", self.names)
    }

    pub(crate) fn start(
        &mut self,
        imp: Imp,
        on: &Host,
        what: &str,
        conf: &str,
    ) -> Result<Speaker, Error> {
        let name = self.name(&format!(
            "{}-{what}",
            match imp {
                Imp::Lvsfw => "lvsfw",
                Imp::Keepalived => "keepalived",
            }
        ));
        Ok(match imp {
            Imp::Lvsfw => {
                let l = Lvsfw::start(&mut self.lab, on, &name, conf)?;
                Speaker {
                    imp,
                    pid: l.pid,
                    lvsfw: Some(l),
                }
            }
            Imp::Keepalived => Speaker {
                imp,
                pid: Keepalived::start(&mut self.lab, on, &name, conf)?.pid,
                lvsfw: None,
            },
        })
    }

    /// Both links up, no VIP anywhere, the client's neighbour tables empty.
    pub(crate) fn reset(&self) -> Result<(), Error> {
        for lb in [&self.lb1, &self.lb2] {
            lb.run(&["ip", "link", "set", "eth0", "up"])?;
            let _ = lb.output(&["ip", "addr", "del", &format!("{VIP}/24"), "dev", "eth0"]);
            let _ = lb.output(&["ip", "addr", "del", &format!("{VIP6}/64"), "dev", "eth0"]);
            lb.wait_link_local("eth0")?;
        }
        for family in ["-4", "-6"] {
            self.client
                .run(&["ip", family, "neigh", "flush", "dev", "eth0"])?;
        }
        Ok(())
    }

    /// Where the adverts of lb1 (`first`) or lb2 come from in `case`.
    pub(crate) fn source(&self, first: bool, case: Case) -> IpAddr {
        match (case, first) {
            (Case::V3Ipv6, true) => IpAddr::V6(self.lb1_ll),
            (Case::V3Ipv6, false) => IpAddr::V6(self.lb2_ll),
            (_, true) => IpAddr::V4(LB1),
            (_, false) => IpAddr::V4(LB2),
        }
    }

    /// SIGTERM and the wait for its exit (keepalived's children end with their parent).
    pub(crate) fn stop(&mut self, s: &Speaker) -> Result<(), Error> {
        self.lab.signal(s.pid, Signal::SIGTERM)?;
        match self.lab.wait_exit(s.pid, Duration::from_secs(10)) {
            Some(_) => Ok(()),
            None => Err(Error(format!(
                "{} ({}) still runs 10 s after SIGTERM",
                s.imp.name(),
                s.pid
            ))),
        }
    }

    pub(crate) fn adverts(&self) -> Result<Vec<pcap::Advert>, Error> {
        Ok(pcap::adverts(&self.capture.frames()?))
    }
}

/// `pid` and every process below it, children before parents.
pub(crate) fn tree(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"));
    for child in children.unwrap_or_default().split_whitespace() {
        if let Ok(child) = child.parse() {
            out.extend(tree(child));
        }
    }
    out.push(pid);
    out
}

/// VmRSS of `pid` and its descendants together, in kB.
pub(crate) fn tree_rss_kb(pid: u32) -> Option<u64> {
    let mut total = 0;
    for p in tree(pid) {
        let status = std::fs::read_to_string(format!("/proc/{p}/status")).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        total += line.split_whitespace().nth(1)?.parse::<u64>().ok()?;
    }
    Some(total)
}
