//! One failover run and one split-brain start, with what the wire and the client saw.

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use lvsfw_lab::pcap;
use lvsfw_lab::prober::{longest_silence, Prober};
use lvsfw_lab::Error;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::*;

pub(crate) fn since(later: SystemTime, earlier: SystemTime) -> Option<f64> {
    later
        .duration_since(earlier)
        .ok()
        .map(|d| d.as_secs_f64() * 1000.0)
}

/// The master's last advert (hard) or its priority-0 advert (graceful) after `failed`,
/// and the backup's first advert after it.
pub(crate) fn wire(
    adverts: &[pcap::Advert],
    (lb1, lb2): (IpAddr, IpAddr),
    kind: Kind,
    failed: SystemTime,
) -> Option<(SystemTime, SystemTime)> {
    let backup_first = |after: SystemTime| {
        adverts
            .iter()
            .find(|a| a.src == lb2 && a.priority > 0 && a.at > after)
            .map(|a| a.at)
    };
    match kind {
        Kind::Hard => {
            let b = backup_first(failed)?;
            let last = adverts
                .iter()
                .filter(|a| a.src == lb1 && a.priority > 0 && a.at < b)
                .map(|a| a.at)
                .next_back()?;
            Some((last, b))
        }
        Kind::Graceful => {
            let zero = adverts
                .iter()
                .find(|a| a.src == lb1 && a.priority == 0 && a.at >= failed)?;
            Some((zero.at, backup_first(zero.at)?))
        }
    }
}

pub(crate) struct FailoverRun {
    pub(crate) start_ms: Option<f64>,
    pub(crate) rss_kb: Option<u64>,
    pub(crate) wire_ms: Option<f64>,
    pub(crate) client_ms: Option<f64>,
    /// From the backup's first advert to the client's first answer after the silence:
    /// the VIP, the gratuitous ARP and the client's switch, whatever the failure's phase.
    pub(crate) served_ms: Option<f64>,
}

pub(crate) fn failover(
    bed: &mut Bed,
    imp: Imp,
    case: Case,
    kind: Kind,
) -> Result<FailoverRun, Error> {
    bed.reset()?;
    let lb1 = bed.lb1.clone();
    let lb2 = bed.lb2.clone();
    let client = bed.client.clone();
    let vip = case.vip();
    let began = SystemTime::now();
    let master = bed.start(imp, &lb1, "master", &conf(case, MASTER_PRIORITY, "MASTER"))?;
    let limit = case.master_down(MASTER_PRIORITY) + Duration::from_secs(5);
    let up = bed
        .watch1
        .wait_added(vip, began, limit)
        .ok_or_else(|| Error(format!("{}: lb1 never took the VIP", imp.name())))?;
    let start_ms = since(up, began);
    let backup = bed.start(imp, &lb2, "backup", &conf(case, BACKUP_PRIORITY, "BACKUP"))?;
    let probe = Prober::start(&client, vip, PROBE_EVERY)?;
    // The backup hears a few adverts; the client's ARP entry ages past its locktime
    // (neighbour discovery has none: an unsolicited NA with Override always counts).
    let settle = case.interval() + Duration::from_millis(300);
    std::thread::sleep(match case {
        Case::V3Ipv6 => settle,
        _ => ARP_LOCKTIME.max(settle),
    });
    if let Some(l) = &backup.lvsfw {
        l.wait_state("VI_1", "BACKUP", Duration::from_secs(2))?;
    }
    if bed.watch2.added_since(vip, began).is_some() {
        return Err(Error(format!("{}: the backup took the VIP", imp.name())));
    }
    let rss_kb = tree_rss_kb(master.pid);

    let failed = SystemTime::now();
    match kind {
        Kind::Hard => {
            // Children first: none may notice its parent die and say goodbye.
            for pid in tree(master.pid) {
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
            }
            lb1.run(&["ip", "link", "set", "eth0", "down"])?;
        }
        Kind::Graceful => bed.lab.signal(master.pid, Signal::SIGTERM)?,
    }
    let took = bed
        .watch2
        .wait_added(vip, failed, kind.rfc(case) + Duration::from_secs(5));
    // A few answers after the takeover, then the client's record.
    std::thread::sleep(Duration::from_millis(150));
    let replies = probe.finish();
    bed.stop(&backup)?;
    bed.lab.wait_exit(master.pid, Duration::from_secs(10));
    if took.is_none() {
        return Err(Error(format!("{}: lb2 never took the VIP", imp.name())));
    }

    // On the wire; tcpdump writes each packet at once, but give it a moment.
    let mut seen = None;
    for _ in 0..20 {
        let sources = (bed.source(true, case), bed.source(false, case));
        seen = wire(&bed.adverts()?, sources, kind, failed);
        if seen.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let wire_ms = seen.and_then(|(master, backup)| since(backup, master));
    // Where the backup's VIP came, against the same reference (stderr only).
    let vip_ms = seen
        .zip(took)
        .and_then(|((master, _), vip)| since(vip, master));

    // At the client: the longest silence around the failure.
    let answered_before = replies.iter().any(|r| r.at < failed);
    let silence = longest_silence(&replies, failed).filter(|_| answered_before);
    let client_ms = silence.and_then(|(last, first)| since(first, last));
    let served_ms = seen
        .zip(silence)
        .map(|((_, advert), (_, first))| signed_ms(first, advert));
    eprintln!(
        "  {:<16} {:<18} {:<30} start {} ms, wire {} ms (VIP {} ms), client {} ms (served {} ms after the advert), RSS {} kB",
        imp.name(),
        case.label(),
        kind.label(),
        show(start_ms),
        show(wire_ms),
        show(vip_ms),
        show(client_ms),
        show(served_ms),
        rss_kb.map_or("-".into(), |r| r.to_string())
    );
    Ok(FailoverRun {
        start_ms,
        rss_kb,
        wire_ms,
        client_ms,
        served_ms,
    })
}

/// `later − earlier` in ms, negative if `later` is earlier.
pub(crate) fn signed_ms(later: SystemTime, earlier: SystemTime) -> f64 {
    match later.duration_since(earlier) {
        Ok(d) => ms(d),
        Err(e) => -ms(e.duration()),
    }
}

pub(crate) fn show(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.1}"))
}

pub(crate) struct SplitRun {
    /// How long the lower priority held the VIP, if it did.
    pub(crate) low_held_ms: Option<f64>,
    pub(crate) high_took: bool,
    /// lvsfw: how much later the higher priority's Master_Down_Timer started than the
    /// lower's (negative: earlier), from their logs' INIT -> BACKUP lines.
    pub(crate) lag_ms: Option<f64>,
}

/// When an lvsfw process's instance entered BACKUP, in seconds of CLOCK_BOOTTIME (its
/// log's time stamp, the same clock in every process).
pub(crate) fn entered_backup(bed: &Bed, s: &Speaker) -> Option<f64> {
    let name = &s.lvsfw.as_ref()?.name;
    let log = std::fs::read_to_string(bed.lab.log_path(name)).ok()?;
    let line = log.lines().find(|l| l.contains("INIT -> BACKUP"))?;
    line.strip_prefix('[')?
        .split(']')
        .next()?
        .trim()
        .parse()
        .ok()
}

pub(crate) fn split_start(bed: &mut Bed, imp: Imp, low_first: bool) -> Result<SplitRun, Error> {
    bed.reset()?;
    let lb1 = bed.lb1.clone();
    let lb2 = bed.lb2.clone();
    let high = conf(Case::V3, MASTER_PRIORITY, "MASTER");
    let low = conf(Case::V3, BACKUP_PRIORITY, "MASTER");
    let began = SystemTime::now();
    let (l, h) = if low_first {
        let l = bed.start(imp, &lb2, "low", &low)?;
        let h = bed.start(imp, &lb1, "high", &high)?;
        (l, h)
    } else {
        let h = bed.start(imp, &lb1, "high", &high)?;
        let l = bed.start(imp, &lb2, "low", &low)?;
        (l, h)
    };
    std::thread::sleep(SPLIT_SETTLE);
    let lag_ms = entered_backup(bed, &h)
        .zip(entered_backup(bed, &l))
        .map(|(h, l)| (h - l) * 1000.0);
    let events = bed.watch2.events();
    let added = events
        .iter()
        .find(|e| e.address == IpAddr::V4(VIP) && e.added && e.at >= began)
        .map(|e| e.at);
    let low_held_ms = added.map(|at| {
        events
            .iter()
            .find(|e| e.address == IpAddr::V4(VIP) && !e.added && e.at >= at)
            .and_then(|e| since(e.at, at))
            .unwrap_or(f64::INFINITY)
    });
    let high_took = bed.watch1.added_since(IpAddr::V4(VIP), began).is_some();
    bed.stop(&l)?;
    bed.stop(&h)?;
    eprintln!(
        "  {:<16} split start ({} first): low held the VIP {}, high took it {}, lag {} ms",
        imp.name(),
        if low_first { "low" } else { "high" },
        low_held_ms.map_or("never".into(), |ms| format!("for {ms:.1} ms")),
        high_took,
        show(lag_ms)
    );
    Ok(SplitRun {
        low_held_ms,
        high_took,
        lag_ms,
    })
}
