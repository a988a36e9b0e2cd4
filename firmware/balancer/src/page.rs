//! The management page inside the balancer: where it listens, and the backend that gives
//! the page the status and puts its changes in service.
//!
//! The page runs as tokio tasks of the balancer (its handlers on the blocking pool), so
//! a change is applied the way SIGHUP applies one: the files are written whole, then a
//! message on the reload channel has the balancer's own loop read them again, and the
//! page waits for what it said.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use config::keepalived::Keepalived;
use config::Config;
use tokio::sync::{mpsc, watch};
use web::backend::{Status, VrrpStatus};
use web::{Applied, Backend, Change, Listen, Notices};

mod candidates;
mod status;
mod tls;
pub(crate) use status::{endpoint, service_name};
use status::{interfaces, rss_kb, services};
pub use tls::{load_tls, load_tls_at_start, plain_http_for_benchmark, CertificateNames};

use super::lvs::ServerHealth;
use super::report::Report;
#[cfg(test)]
use ops::put::{config_file_json, write_files};
use ops::{self, Op};

/// How long the page waits for the balancer to take a reload.
const RELOAD_WAIT: Duration = Duration::from_secs(60);
/// `lvsfw config save` writes and syncs the disk; a hung one is killed after this.
const SAVE_LIMIT: Duration = Duration::from_secs(120);

/// What the balancer runs with, as the page sees it.
#[derive(Debug, Clone, Default)]
pub struct Running {
    pub native: Option<Arc<Config>>,
    pub keepalived: Option<Arc<Keepalived>>,
}

/// A request to read config.json and keepalived.conf again; the answer says what
/// happened.
pub struct Reload {
    /// Room for the one answer, so the balancer never waits to give it.
    pub done: std::sync::mpsc::SyncSender<Report>,
}

pub struct WebBackend {
    /// The clock, as the time task last said.
    pub time: watch::Receiver<web::backend::TimeStatus>,
    pub running: watch::Receiver<Running>,
    pub health: watch::Receiver<Arc<Vec<ServerHealth>>>,
    pub reloads: mpsc::Sender<Reload>,
    /// What does not run, as the balancer last said.
    pub not_running: watch::Receiver<Vec<String>>,
    pub config_path: PathBuf,
    pub keepalived_path: PathBuf,
    pub vrrp_status_path: PathBuf,
    /// The BGP task's status file (absent: no `bgp` block).
    pub bgp_status_path: PathBuf,
    pub started: Instant,
    /// Where the page listens: its addresses are the names a request may give as Host.
    pub listen: watch::Receiver<Vec<Listen>>,
    /// The served certificate's DNS names, and the files' times they were read at.
    pub certificate_names: std::sync::Mutex<CertificateNames>,
    /// The last hour for the charts.
    pub history: super::history::Shared,
}

/// Runs `program args` to its end (killed after `limit`): what it printed, as `Ok` when
/// it exited 0.
fn run_tool(program: &Path, args: &[&str], limit: Duration) -> Result<String, String> {
    use std::process::{Command, Stdio};
    let what = format!("{} {}", program.display(), args.join(" "));
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{what}: {e}"))?;
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{what}: no answer within {} s; killed",
                    limit.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(format!("{what}: {e}")),
        }
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("{what}: {e}"))?;
    let mut said = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let errors = String::from_utf8_lossy(&output.stderr).trim().to_string();
    if !errors.is_empty() {
        if !said.is_empty() {
            said.push('\n');
        }
        said.push_str(&errors);
    }
    if output.status.success() {
        Ok(said)
    } else {
        Err(said)
    }
}

impl WebBackend {
    /// The appliance's configuration files, with the running ones this balancer reads.
    fn paths(&self) -> ops::Paths {
        ops::Paths {
            running_json: self.config_path.clone(),
            running_conf: self.keepalived_path.clone(),
            ..ops::Paths::appliance()
        }
    }

    fn vrrp(&self, keepalived: Option<&Keepalived>) -> (Vec<VrrpStatus>, Option<String>) {
        let configured = keepalived.map_or(0, |k| k.vrrp_instances.len());
        if configured == 0 {
            return (Vec::new(), Some("No vrrp_instance is configured.".into()));
        }
        let file = match super::vrrp::status::read(&self.vrrp_status_path) {
            Ok(f) => f,
            Err(e) => {
                return (
                    Vec::new(),
                    Some(format!(
                        "{} configured; no status yet ({e})",
                        super::report::count(configured, "VRRP instance", "VRRP instances")
                    )),
                )
            }
        };
        let vips = |name: &str| -> Vec<String> {
            keepalived
                .and_then(|k| k.vrrp_instances.iter().find(|i| i.name == name))
                .map(|i| i.vips.iter().map(|v| v.address.to_string()).collect())
                .unwrap_or_default()
        };
        let list = file
            .instances
            .into_iter()
            .map(|i| {
                let vips = vips(&i.name);
                VrrpStatus::new(i, vips)
            })
            .collect();
        (list, None)
    }
}

/// What an operation said, as the page's backend answers.
fn said(result: Result<ops::Report, ops::Error>) -> Result<String, String> {
    result.map(|r| r.said).map_err(|e| e.to_string())
}

impl WebBackend {
    /// Has the balancer read its files again (the configuration, the certificate) and
    /// waits for what it said.
    fn reload(&self) -> Result<Applied, String> {
        let (done, answer) = std::sync::mpsc::sync_channel(1);
        self.reloads
            .blocking_send(Reload { done })
            .map_err(|_| "the balancer is stopping".to_string())?;
        // The balancer answers once it has read the files again; a stuck one is not
        // waited for longer than RELOAD_WAIT.
        match answer.recv_timeout(RELOAD_WAIT) {
            Ok(report) if report.refused.is_empty() => Ok(Applied {
                said: if report.said.is_empty() {
                    "nothing changed".into()
                } else {
                    report.said.join("; ")
                },
                not_running: report.not_running,
            }),
            Ok(report) => Err(report.refused.join("; ")),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                Err("the balancer dropped the reload".into())
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(format!(
                "the balancer did not answer within {} s; the files are written and it reads them when it can",
                RELOAD_WAIT.as_secs()
            )),
        }
    }
}

impl Backend for WebBackend {
    /// The configuration page's question: the VRRP status file alone, not the whole
    /// status (IPVS table, interfaces, slots).
    fn vrrp_states(&self) -> Vec<(String, web::backend::VrrpState)> {
        super::vrrp::status::read(&self.vrrp_status_path)
            .map(|f| f.instances.into_iter().map(|i| (i.name, i.state)).collect())
            .unwrap_or_default()
    }

    fn status(&self) -> Status {
        let running = self.running.borrow().clone();
        let health = self.health.borrow().clone();
        let (vrrp, vrrp_note) = self.vrrp(running.keepalived.as_deref());
        let (services, ipvs_note) = match services(&health) {
            Ok(s) if s.is_empty() => (s, Some("No virtual services in the kernel's table.".into())),
            Ok(s) => (s, None),
            Err(e) => (Vec::new(), Some(e)),
        };
        let shown = slots::read(slots::esp_if_mounted(), slots::running_slot());
        Status {
            version: shown.running_version,
            hostname: nix::unistd::gethostname()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_default(),
            uptime_s: std::fs::read_to_string("/proc/uptime")
                .ok()
                .and_then(|t| t.split('.').next()?.parse().ok())
                .unwrap_or(0),
            balancer_uptime_s: self.started.elapsed().as_secs(),
            balancer_rss_kb: rss_kb(),
            not_running: self.not_running.borrow().clone(),
            vrrp,
            vrrp_note,
            services,
            ipvs_note,
            interfaces: interfaces(),
            slots: shown.slots,
            slots_note: shown.note,
            time: self.time.borrow().clone(),
            bgp: super::bgp::status::read(&self.bgp_status_path).unwrap_or_else(|e| {
                log::warn!("{e}");
                None
            }),
        }
    }

    fn native(&self) -> Option<Config> {
        self.running.borrow().native.as_deref().cloned()
    }

    fn keepalived_text(&self) -> Result<Option<String>, String> {
        match std::fs::read_to_string(&self.keepalived_path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: {e}", self.keepalived_path.display())),
        }
    }

    fn drain(&self, on: bool, who: &str) -> Result<String, String> {
        let op = Op::Drain {
            on,
            who: who.to_string(),
        };
        let report = ops::execute(&self.paths(), op).map_err(|e| e.to_string())?;
        if report.in_service {
            self.reload()?;
        }
        Ok(report.said.trim_end().to_string())
    }

    fn apply(&self, change: Change) -> Result<Applied, String> {
        // The operations API's direct put: the console's rule and state for a rollback
        // (ops::confirm), the files written whole, all or none.
        let who = if change.who.is_empty() {
            "page".to_string()
        } else {
            change.who.clone()
        };
        let op = Op::Put {
            native: change.native.map(Box::new),
            keepalived: change.keepalived,
            rollback: change.rollback,
            who: who.clone(),
        };
        let report = ops::execute(&self.paths(), op).map_err(|e| e.to_string())?;
        let mut applied = self.reload()?;
        if !report.said.is_empty() {
            log::info!("{who}: {}", report.said);
            applied.said = format!("{}; {}", applied.said, report.said);
        }
        Ok(applied)
    }

    fn certificate(&self) -> Result<(String, bool), String> {
        ops::tls::served(&ops::Paths::appliance().tls)
            .map(|(pair, installed)| (pair.chain, installed))
    }

    fn install_certificate(&self, pair: Option<web::certificate::Pair>) -> Result<String, String> {
        let tls = ops::Paths::appliance().tls;
        let said = match pair {
            Some(pair) => {
                let s =
                    ops::tls::install(&tls, &pair.chain, &pair.key, std::time::SystemTime::now())?;
                format!(
                    "Installed: SHA-256 {}, SPKI pin {}.",
                    s.sha256, s.spki_sha256
                )
            }
            None => {
                ops::tls::remove_installed(&tls)?;
                "The box's own certificate is served again.".to_string()
            }
        };
        // The balancer's reload reads the certificate files again.
        self.reload().map(|_| said)
    }

    fn charts(&self) -> Option<super::history::Shared> {
        Some(self.history.clone())
    }

    fn begin_update(
        &self,
        allow_downgrade: bool,
    ) -> Result<Box<dyn web::backend::UpdateSink>, String> {
        let upload = slots::Upload::begin(allow_downgrade)?;
        Ok(Box::new(PageUpload(upload)))
    }

    /// `lvsfw config save`, the console's own command, as a child: the running
    /// configuration onto the configuration disk.
    fn save(&self) -> Result<String, String> {
        self.save_by("page")
    }

    fn save_by(&self, who: &str) -> Result<String, String> {
        let exe = std::env::current_exe().map_err(|e| format!("finding lvsfw: {e}"))?;
        run_tool(&exe, &["config", "save", "--who", who], SAVE_LIMIT)
    }

    fn confirm(&self, who: &str) -> Result<String, String> {
        let op = Op::Confirm {
            who: who.to_string(),
        };
        said(ops::execute(&self.paths(), op))
    }

    /// The history is read from the disk here (a blocking-pool thread).
    fn history(&self) -> Result<String, String> {
        said(ops::execute(&self.paths(), Op::History))
    }

    fn history_diff(&self, rev: u64) -> Result<String, String> {
        said(ops::execute(
            &self.paths(),
            Op::DiffRevision(rev.to_string()),
        ))
    }

    /// The console's own operation: the revision becomes the candidate, then apply.
    fn restore_revision(&self, rev: u64, who: &str) -> Result<Applied, String> {
        let op = Op::RestoreRevision {
            rev: rev.to_string(),
            who: who.to_string(),
        };
        let applied = ops::execute(&self.paths(), op).map_err(|e| e.to_string())?;
        let mut reloaded = self.reload()?;
        reloaded.said = format!("{}; {}", applied.said.trim_end(), reloaded.said);
        Ok(reloaded)
    }

    fn reboot(&self) -> Result<(), String> {
        if nix::unistd::getppid() != nix::unistd::Pid::from_raw(1) {
            return Err(
                "this balancer was not started by lvsfw's init; reboot the host yourself".into(),
            );
        }
        // PID 1 reboots on SIGINT (ctrl-alt-del), stopping the balancer cleanly first;
        // a moment later, so that the page saying so reaches the browser.
        std::thread::Builder::new()
            .name("reboot".into())
            .spawn(|| {
                std::thread::sleep(Duration::from_secs(1));
                let init = nix::unistd::Pid::from_raw(1);
                if let Err(e) = nix::sys::signal::kill(init, nix::sys::signal::Signal::SIGINT) {
                    log::error!("asking init to reboot: {}", e.desc());
                }
            })
            .map(|_| ())
            .map_err(|e| format!("asking init to reboot: {e}"))
    }

    fn version(&self) -> String {
        slots::running_version()
    }

    fn notices(&self) -> Notices {
        Notices {
            unsaved: ops::saved::state(&self.paths()) == ops::saved::State::Unsaved,
            not_running: self.not_running.borrow().clone(),
            rollback: ops::confirm::pending(&self.paths())
                .ok()
                .flatten()
                .map(|p| p.describe(ops::confirm::boot_now())),
        }
    }

    fn log_lines(&self) -> Vec<String> {
        logger::recent()
    }

    fn log_problems(&self) -> Vec<String> {
        logger::recent_problems()
    }

    fn audit_lines(&self) -> Vec<String> {
        logger::audit::shown().lines().map(str::to_string).collect()
    }

    fn candidates(&self) -> Option<&dyn web::Candidates> {
        Some(self)
    }

    fn names(&self) -> web::Names {
        let mut addresses: Vec<IpAddr> = self.listen.borrow().iter().map(|l| l.addr.ip()).collect();
        addresses.dedup();
        web::Names {
            hostname: nix::unistd::gethostname()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_default(),
            addresses,
            certificate: self.certificate_names(),
        }
    }

    fn page_closed(&self) -> Option<String> {
        ops::saved::restore_failed(Path::new(paths::RESTORE_FAILED))
    }
}

/// An update uploaded to the page, written into the other slot as its bytes arrive.
struct PageUpload(slots::Upload);

impl web::backend::UpdateSink for PageUpload {
    fn push(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.0.push(bytes)
    }

    fn finish(self: Box<Self>) -> Result<String, String> {
        self.0.finish()
    }
}

#[cfg(test)]
mod tests;
