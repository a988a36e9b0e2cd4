//! The IPVS worker: a thread of its own with a netlink client, reconciling the kernel's
//! table with the newest desired table it was given. Submitting never blocks; tables
//! that arrive while it works are coalesced into the newest.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use ipvs::{Client, ServiceKey, Table};
use tokio::sync::{oneshot, watch};

/// How soon a pass that failed is tried again.
const RETRY_AFTER: Duration = Duration::from_secs(5);
/// How often the kernel's table is read and compared even when nothing changed.
const READ_KERNEL_EVERY: Duration = Duration::from_secs(30);

/// Answered once the kernel's table was reconciled with a table at least as new as the
/// one it came with: the problems given with it and what the pass itself found.
pub struct Report {
    pub problems: Vec<String>,
    pub done: oneshot::Sender<Vec<String>>,
}

struct Submission {
    table: Table,
    report: Option<Report>,
}

pub struct IpvsWorker {
    tables: std_mpsc::Sender<Submission>,
    problem: watch::Receiver<Option<String>>,
}

impl IpvsWorker {
    /// Starts the worker thread. `owned_path` records which services lvsfw made, so that
    /// a restarted balancer removes its stale ones and leaves an operator's alone.
    pub fn start(owned_path: PathBuf) -> IpvsWorker {
        let (tables, incoming) = std_mpsc::channel::<Submission>();
        let (problem_tx, problem) = watch::channel(None);
        std::thread::Builder::new()
            .name("ipvs".into())
            .spawn(move || work(incoming, owned_path, problem_tx))
            .expect("spawning the IPVS worker thread");
        IpvsWorker { tables, problem }
    }

    pub fn submit(&self, table: Table) {
        let _ = self.tables.send(Submission {
            table,
            report: None,
        });
    }

    /// [`IpvsWorker::submit`], and `report` answered after the pass.
    pub fn submit_reporting(&self, table: Table, report: Report) {
        let _ = self.tables.send(Submission {
            table,
            report: Some(report),
        });
    }

    /// Why the kernel's table is not what lvsfw wants, while it is not.
    pub fn problem(&self) -> watch::Receiver<Option<String>> {
        self.problem.clone()
    }
}

/// Answers every waiting report with what the last pass found, and keeps it as the
/// worker's state.
fn settle(
    reports: &mut Vec<Report>,
    problem: Option<String>,
    state: &watch::Sender<Option<String>>,
) {
    for report in reports.drain(..) {
        let mut problems = report.problems;
        problems.extend(problem.clone());
        let _ = report.done.send(problems);
    }
    state.send_if_modified(|had| {
        let changed = *had != problem;
        *had = problem;
        changed
    });
}

fn work(
    incoming: std_mpsc::Receiver<Submission>,
    owned_path: PathBuf,
    state: watch::Sender<Option<String>>,
) {
    let mut reports: Vec<Report> = Vec::new();
    let mut client: Option<Client> = None;
    let mut unavailable_said = false;
    let mut owned = load_owned(&owned_path);
    let mut first = true;
    // The newest desired table, and whether the kernel held it (for lvsfw's services)
    // when the last pass ended.
    let mut current: Option<Table> = None;
    let mut in_kernel = false;
    let mut last_read = Instant::now();
    let mut retry = false;
    loop {
        let wait = if retry {
            RETRY_AFTER
        } else {
            READ_KERNEL_EVERY
        };
        let (desired, timed_out) = match incoming.recv_timeout(wait) {
            Ok(first) => {
                let mut table = first.table;
                reports.extend(first.report);
                while let Ok(newer) = incoming.try_recv() {
                    table = newer.table;
                    reports.extend(newer.report);
                }
                (table, false)
            }
            // A failed pass is tried again, and a quiet table is checked against the
            // kernel now and then, when nothing newer comes.
            Err(std_mpsc::RecvTimeoutError::Timeout) => match &current {
                Some(table) => (table.clone(), true),
                None => continue,
            },
            Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
        };
        retry = true;
        if client.is_none() {
            match Client::connect() {
                Ok(c) => client = Some(c),
                Err(ipvs::Error::Unavailable) => {
                    if !unavailable_said {
                        log::warn!("IPVS is not available in this kernel: virtual services are not programmed");
                        unavailable_said = true;
                    }
                    retry = false;
                    let problem = (!desired.services.is_empty()).then(|| {
                        "IPVS: not available in this kernel; the virtual services are not programmed".to_string()
                    });
                    settle(&mut reports, problem, &state);
                    continue;
                }
                Err(e) => {
                    log::error!("IPVS: {e}");
                    settle(&mut reports, Some(format!("IPVS: {e}")), &state);
                    current = Some(desired);
                    in_kernel = false;
                    continue;
                }
            }
        }
        let Some(c) = client.as_mut() else { continue };
        // A change is applied against the table the kernel was left with, so a weight
        // change costs one request however large the table; the kernel itself is read
        // when that is unknown, after a failure, and every READ_KERNEL_EVERY, which puts
        // back what someone changed by hand.
        let read_kernel = timed_out || !in_kernel || last_read.elapsed() >= READ_KERNEL_EVERY;
        let known = if read_kernel { None } else { current.as_ref() };
        let result = match pass(c, &desired, &owned, first, known) {
            Ok(result) => result,
            Err(e) => {
                log::error!("IPVS: {e}");
                settle(&mut reports, Some(format!("IPVS: {e}")), &state);
                client = None;
                current = Some(desired);
                in_kernel = false;
                continue;
            }
        };
        if read_kernel {
            last_read = Instant::now();
        }
        first = false;
        let failed = result.failed;
        if result.ops > 0 {
            log::info!(
                "IPVS: {} changes applied{} ({} ms, {} netlink requests)",
                result.ops - failed,
                if failed > 0 {
                    format!(", {failed} failed")
                } else {
                    String::new()
                },
                result.elapsed.as_millis(),
                result.requests
            );
        }
        let problem = result.first_failure.as_ref().map(|e| {
            format!(
                "IPVS: the kernel refused {failed} of {} changes ({e}); tried again every {} s",
                result.ops,
                RETRY_AFTER.as_secs()
            )
        });
        settle(&mut reports, problem, &state);
        owned = desired.services.keys().copied().collect();
        save_owned(&owned_path, &owned);
        retry = failed > 0;
        in_kernel = failed == 0;
        current = Some(desired);
    }
}

/// What one reconciling pass did.
#[derive(Debug, Clone)]
pub struct Pass {
    pub ops: usize,
    pub failed: usize,
    /// What the kernel said to the first operation it refused.
    pub first_failure: Option<String>,
    /// Netlink requests, the reads of the kernel's table included.
    pub requests: u64,
    pub elapsed: Duration,
}

/// Applies the operations that turn the kernel's table into `desired`; only services
/// in `owned` may be removed. The kernel's table is `known` when given, else read (an
/// error means it could not be).
pub fn pass(
    c: &mut Client,
    desired: &Table,
    owned: &BTreeSet<ServiceKey>,
    report_foreign: bool,
    known: Option<&Table>,
) -> Result<Pass, ipvs::Error> {
    let started = Instant::now();
    let requests_before = c.requests;
    let read;
    let actual = match known {
        Some(table) => table,
        None => {
            read = c.table()?;
            &read
        }
    };
    if report_foreign {
        for key in actual.services.keys() {
            if !desired.services.contains_key(key) && !owned.contains(key) {
                log::warn!("IPVS service {key} is not lvsfw's; left as it is");
            }
        }
    }
    let is_owned = |key: &ServiceKey| owned.contains(key);
    let ops = ipvs::reconcile(desired, actual, &is_owned);
    let failures = c.apply_all(&ops);
    // A kernel that refuses everything must not flood the console: a few, then a count.
    for (_, e) in failures.iter().take(10) {
        log::error!("IPVS: {e}");
    }
    if failures.len() > 10 {
        log::error!("IPVS: {} more operations refused", failures.len() - 10);
    }
    let failed = failures.len();
    Ok(Pass {
        ops: ops.len(),
        failed,
        first_failure: failures.first().map(|(_, e)| e.to_string()),
        requests: c.requests - requests_before,
        elapsed: started.elapsed(),
    })
}

/// The record is one service key a line, in its Display form.
fn load_owned(path: &PathBuf) -> BTreeSet<ServiceKey> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return BTreeSet::new();
    };
    text.lines().filter_map(parse_key).collect()
}

fn save_owned(path: &std::path::Path, owned: &BTreeSet<ServiceKey>) {
    let text: String = owned.iter().map(|k| format!("{}\n", key_text(k))).collect();
    if paths::write_atomic(path, text.as_bytes(), false).is_err() {
        log::warn!("{}: not written", path.display());
    }
}

fn key_text(key: &ServiceKey) -> String {
    match key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => format!("{} {addr} {port}", protocol.name()),
        ServiceKey::Fwmark { ipv6, mark } => {
            format!("FWM {mark} {}", if *ipv6 { "v6" } else { "v4" })
        }
    }
}

fn parse_key(line: &str) -> Option<ServiceKey> {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["FWM", mark, family] => Some(ServiceKey::Fwmark {
            ipv6: *family == "v6",
            mark: mark.parse().ok()?,
        }),
        [protocol, addr, port] => Some(ServiceKey::Addr {
            protocol: match *protocol {
                "TCP" => ipvs::Protocol::Tcp,
                "UDP" => ipvs::Protocol::Udp,
                "SCTP" => ipvs::Protocol::Sctp,
                _ => return None,
            },
            addr: addr.parse().ok()?,
            port: port.parse().ok()?,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_keys_round_trip_through_their_text() {
        let keys = [
            ServiceKey::Addr {
                protocol: ipvs::Protocol::Tcp,
                addr: "192.168.0.100".parse().unwrap(),
                port: 80,
            },
            ServiceKey::Addr {
                protocol: ipvs::Protocol::Sctp,
                addr: "fd00::100".parse().unwrap(),
                port: 9,
            },
            ServiceKey::Fwmark {
                ipv6: true,
                mark: 7,
            },
        ];
        for key in keys {
            assert_eq!(parse_key(&key_text(&key)), Some(key));
        }
        assert_eq!(parse_key("garbage"), None);
    }
}
