//! The balancer: the child PID 1 supervises. It owns the interfaces, the virtual
//! services and their checks, VRRP, and the web page on the management address.
//!
//! One owner, messages between tasks. [`Balancer`] (the loop in [`run`]) alone holds the
//! configuration and decides; each task owns its sockets and state and talks to it by
//! channels (`mpsc`: requests that want an answer; `watch`: the latest value only):
//!
//! ```text
//!  SIGHUP, SIGTERM ─────────────────┐
//!  control socket (config apply) ── mpsc Reload ──┐
//!  web::serve (page, API) ────────── mpsc Reload ──┤   watch Running, Listen, TLS,
//!        ▲ watch health, running, not_running ...  ▼   not_running ─────────► web
//!        │                                  ┌─────────────┐
//!  heartbeat ◄── watch ready ────────────── │  Balancer   │ ── netlink ──► interfaces,
//!  (PID 1's watchdog reads its file)        │  (run loop) │                routes
//!                                           └─────────────┘
//!              mpsc plan (+ oneshot report) │      │ start/stop      │ watch ntp servers
//!                                           ▼      ▼                 ▼
//!  lvs::run_reporting ── std mpsc ──► IPVS   vrrp::GroupTask (one    time (NTP task)
//!   └ checkers' scheduler  worker thread      per sync group) ◄──    └ watch TimeStatus
//!     └ watch health ──► alerts, history      mpsc script readings
//!                                             └ watch states ──► alerts (mail), history,
//!                                                                sync daemon, the page
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use config::Config;
use netif::kernel::Kernel;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

use config::board;
use interfaces::InterfaceReconciler;
use start::{load_config, set_hostname, start_web};

pub mod alerts;
pub mod bfd_link;
pub mod bgp;
pub mod bgp_peer;
pub mod bgp_speaker;
pub mod control;
pub mod foreground;
pub mod heartbeat;
mod history;
mod interfaces;
mod keepalived_file;
pub mod lvs;
mod lvs_modules;
mod lvs_running;
pub mod page;
pub mod report;
mod routes;
pub mod service;
mod start;
mod sync_daemon;
pub mod tcp_md5;
pub mod time;
mod vrrp_running;
use lvs_running::Lvs;

pub use interfaces::read_once as read_interfaces;
pub use keepalived_file::{load_keepalived, Loaded};
use vrrp_running::VrrpRunning;
pub mod vrrp;

use report::Report;

/// How often a part that could not start (a VRRP instance, the sync daemon) is tried
/// again: it starts about this soon after its cause is gone.
const RETRY_EVERY: Duration = Duration::from_secs(1);
/// How long a reload waits for the kernel's IPVS table to be reconciled with it.
const IPVS_REPORT_WAIT: Duration = Duration::from_secs(20);
/// How often the interfaces are compared with the configuration again, so that a link
/// taken down or an address removed by hand comes back.
const RECONCILE_EVERY: Duration = Duration::from_secs(10);

struct Options {
    board: Option<PathBuf>,
    config: PathBuf,
    keepalived: PathBuf,
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        board: None,
        config: paths::CONFIG_JSON.into(),
        keepalived: paths::KEEPALIVED_CONF.into(),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .map(PathBuf::from)
                .ok_or_else(|| format!("{arg} needs a file"))
        };
        match arg.as_str() {
            "--board" => options.board = Some(value()?),
            "--config" => options.config = value()?,
            "--keepalived" => options.keepalived = value()?,
            other => return Err(format!("unknown argument \"{other}\"")),
        }
    }
    Ok(options)
}

pub fn run(args: &[String]) -> ExitCode {
    crate::service::run("balancer", args, parse_args, serve)
}

async fn serve(options: Options) -> ExitCode {
    // The page's log shows the balancer's newest lines.
    logger::keep_recent(true);
    if Path::new(paths::TEST_BREAK_BALANCER).exists() {
        log::error!(
            "{} exists: this test image's balancer fails at start on purpose",
            paths::TEST_BREAK_BALANCER
        );
        return ExitCode::FAILURE;
    }
    let (ready_tx, ready_rx) = watch::channel(false);
    tokio::spawn(heartbeat::run(paths::HEARTBEAT.into(), ready_rx));
    let (mut term, mut int, mut hup) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) {
        (Ok(t), Ok(i), Ok(h)) => (t, i, h),
        _ => {
            log::error!("cannot watch for SIGTERM and SIGHUP");
            return ExitCode::FAILURE;
        }
    };
    // The board was checked by PID 1, which passes it only when it is valid.
    let board = options.board.as_deref().and_then(|path| {
        let text = std::fs::read_to_string(path).ok()?;
        board::parse(&text).ok()
    });
    let config = load_config(&options.config);
    set_hostname(config.as_ref());
    let kernel = match Kernel::connect() {
        Ok(k) => k,
        Err(e) => {
            log::error!("rtnetlink: {e}");
            return ExitCode::FAILURE;
        }
    };

    match (&board, &config) {
        (None, _) => log::warn!("interfaces left as they are: no usable board file"),
        (_, None) => log::warn!("interfaces left as they are: no usable configuration"),
        _ => {}
    }
    // The interfaces first, before the rest starts (TLS, alerts, NTP, IPVS, BGP): under
    // emulation every part's first run costs, and the box is reachable once they are up.
    // keepalived.conf's static addresses and routes follow with its first apply below.
    let mut interfaces = InterfaceReconciler::default();
    if let (Some(board), Some(config)) = (&board, &config) {
        interfaces.pass(&kernel, board, config, None).await;
    }
    let mut ticker = tokio::time::interval(RECONCILE_EVERY);
    ticker.tick().await;
    // A change waiting for its confirmation (ops::confirm): its file is looked at every
    // second, so that a restarted balancer carries out a rollback armed before.
    let mut rollback = tokio::time::interval(RETRY_EVERY);
    rollback.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut retry = tokio::time::interval(RETRY_EVERY);
    retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (health_tx, health_rx) = watch::channel(Arc::default());
    let (running_tx, running_rx) = watch::channel(page::Running {
        native: config.clone().map(Arc::new),
        keepalived: None,
    });
    let (listen_tx, listen_rx) = watch::channel(Vec::new());
    let (not_running_tx, not_running_rx) = watch::channel(Vec::new());
    let (tls_tx, tls_rx) = page::load_tls_at_start(ops::Paths::appliance().tls);
    let (reload_tx, mut reloads) = tokio::sync::mpsc::channel::<page::Reload>(4);
    let (mail, alerts) = alerts::start();
    let charts = history::Shared::default();
    // Sampled once IPVS is loaded (below).
    let charts_sampled = charts.clone();
    tokio::spawn(history::follow_health(charts.clone(), health_rx.clone()));
    let (ntp, ntp_servers) = watch::channel(
        config
            .as_ref()
            .map(|c| c.ntp_servers.clone())
            .unwrap_or_default(),
    );
    let time = time::start(ntp_servers);
    let lvs = Lvs::new(health_tx, alerts.clone(), board.as_ref());
    let bgp = bgp::Handle::start(health_rx.clone(), paths::BGP_STATUS.into());
    let mut b = Balancer {
        options,
        board,
        config,
        kernel,
        interfaces,
        lvs,
        vrrp: VrrpRunning {
            running: None,
            alerts,
            charts,
        },
        mail,
        running: running_tx,
        listen: listen_tx,
        refused: Vec::new(),
        notes: Vec::new(),
        not_running: not_running_tx,
        tls: tls_tx,
        ntp,
        time,
        bgp,
        bgp_problems: Vec::new(),
    };
    let mut ipvs_problem = b.lvs.worker_problem();
    b.follow_listen();
    // The page starts once the interfaces carry its addresses.
    start_web(
        &b,
        running_rx,
        health_rx,
        reload_tx.clone(),
        listen_rx,
        not_running_rx,
        tls_rx,
    );
    let control = reload_tx;
    tokio::spawn(async move { control::serve(Path::new(paths::BALANCER_SOCKET), control).await });
    // Real servers are added only once the interfaces that reach them are up: the
    // kernel refuses a NAT destination it has no route to.
    let first = b.load_keepalived().await;
    // IPVS itself even without virtual servers: the charts, `show ipvs` and ipvsadm
    // read it (lvs_modules; the first apply has loaded it when there are any).
    b.lvs
        .ensure_modules(&config::keepalived::Keepalived::default())
        .await;
    tokio::spawn(history::sample(charts_sampled));
    log_report("start", &first);
    b.publish();
    b.set_ready(&ready_tx);

    loop {
        tokio::select! {
            _ = ticker.tick() => {
                b.pass().await;
                b.publish();
            }
            // While something does not run, look every second whether its cause is gone:
            // a NIC that appeared gets its role and addresses, then VRRP starts on it.
            _ = retry.tick(), if b.vrrp.incomplete() || !b.interfaces.problems().is_empty() => {
                b.pass().await;
                b.retry_vrrp().await;
                b.publish();
                b.set_ready(&ready_tx);
            }
            Ok(()) = ipvs_problem.changed() => b.publish(),
            _ = rollback.tick() => {
                let paths = ops::Paths {
                    running_json: b.options.config.clone(),
                    running_conf: b.options.keepalived.clone(),
                    ..ops::Paths::appliance()
                };
                let due = tokio::task::spawn_blocking(move || {
                    ops::confirm::roll_back_if_due(&paths, ops::confirm::boot_now())
                })
                .await;
                match due {
                    Ok(Ok(Some(said))) => {
                        log::warn!("{said}");
                        let report = b.reload().await;
                        log_report("rollback", &report);
                        b.set_ready(&ready_tx);
                    }
                    Ok(Ok(None)) => {}
                    Ok(Err(e)) => log::error!("rollback: {e}"),
                    Err(e) => log::error!("rollback: {e}"),
                }
            }
            // keepalived's reload signal: the files are read again; an invalid one
            // changes nothing and the running configuration stays.
            _ = hup.recv() => {
                log::info!("SIGHUP: reading the configuration again");
                let report = b.reload().await;
                log_report("SIGHUP", &report);
                b.set_ready(&ready_tx);
            }
            // The page applied a change, or `config apply` asked on the control socket:
            // the same, and it hears what happened.
            Some(request) = reloads.recv() => {
                let report = b.reload().await;
                log_report("reload", &report);
                b.set_ready(&ready_tx);
                let _ = request.done.try_send(report);
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    let stopping = std::time::Instant::now();
    log::info!("stopping");
    // The routers move the traffic away first (graceful shutdown), then VRRP lets go.
    b.bgp.stop().await;
    b.vrrp.stop().await;
    log::info!("stopped in {} ms", stopping.elapsed().as_millis());
    ExitCode::SUCCESS
}

/// A report in the log: what does not run is an error until it runs.
fn log_report(what: &str, report: &Report) {
    if report.all_running() {
        log::info!("{what}: {}", report.text().trim_end());
    } else {
        for line in report.text().lines() {
            log::warn!("{what}: {}", line.trim());
        }
    }
}

/// What the balancer's loop owns.
struct Balancer {
    options: Options,
    board: Option<board::Board>,
    config: Option<Config>,
    kernel: Kernel,
    interfaces: InterfaceReconciler,
    lvs: Lvs,
    vrrp: VrrpRunning,
    /// What keepalived.conf says about mail alerts, for the alerts' queue and sender.
    mail: alerts::Control,
    /// What the page sees of the running configuration.
    running: watch::Sender<page::Running>,
    /// Where the page listens.
    listen: watch::Sender<Vec<web::Listen>>,
    /// A file of the configuration that could not be used at start (the parts it
    /// configures do not run).
    refused: Vec<String>,
    /// keepalived.conf's notes as last logged: printed once per change, not per reload.
    notes: Vec<String>,
    /// What does not run, for the page and `show status`.
    not_running: watch::Sender<Vec<String>>,
    /// The page's TLS configuration, from the certificate files in service.
    tls: watch::Sender<Option<Arc<rustls::ServerConfig>>>,
    /// The NTP servers the time task follows.
    ntp: watch::Sender<Vec<std::net::IpAddr>>,
    /// What the time task says of the clock, for the page.
    time: watch::Receiver<web::backend::TimeStatus>,
    /// The BGP task (route health injection).
    bgp: bgp::Handle,
    /// Why BGP sessions of the configuration do not run.
    bgp_problems: Vec<String>,
}

impl Balancer {
    /// Ready (the heartbeat says so) once the configuration is in service: config.json
    /// read and keepalived.conf, if there is one, applied with every VRRP instance
    /// running. Once ready it stays so: a later invalid edit leaves the running
    /// configuration in service.
    fn set_ready(&self, ready: &watch::Sender<bool>) {
        let loaded = self.config.is_some() && self.refused.is_empty();
        if loaded && !self.vrrp.incomplete() && !*ready.borrow() {
            log::info!("ready: the configuration is applied and VRRP runs");
            ready.send_replace(true);
        }
    }

    /// Everything that does not run now, one line each.
    fn not_running(&self) -> Vec<String> {
        let mut out: Vec<String> = self.refused.clone();
        out.extend(self.interfaces.problems().iter().cloned());
        out.extend(self.vrrp.problems());
        out.extend(self.lvs.worker_problem.borrow().clone());
        out.extend(self.bgp_problems.iter().cloned());
        out
    }

    /// The BGP task looks at ext and int itself (a VIP on a link that is down serves
    /// nobody): told once, it reads their flags every second.
    async fn bgp_links(&mut self) {
        let names = [config::Role::Ext, config::Role::Int].map(|r| r.name().to_string());
        self.bgp.send(bgp::Msg::WatchLinks(names.to_vec())).await;
    }

    /// The drain file, as ops left it.
    async fn bgp_drain(&mut self) {
        let drained = Path::new(paths::DRAIN).exists();
        self.bgp.send(bgp::Msg::Drain(drained)).await;
    }

    /// Tells the page and PID 1 what does not run, when that changed.
    fn publish(&self) {
        let now = self.not_running();
        let changed = self.not_running.send_if_modified(|had| {
            let changed = *had != now;
            *had = now.clone();
            changed
        });
        if changed || !Path::new(paths::NOT_RUNNING).exists() {
            let text: String = now.iter().map(|l| format!("{l}\n")).collect();
            if let Err(e) =
                paths::write_atomic(Path::new(paths::NOT_RUNNING), text.as_bytes(), true)
            {
                log::warn!("{e}");
            }
        }
    }

    /// One pass of the interfaces; the page's addresses follow the configuration.
    async fn pass(&mut self) {
        let k = self.running.borrow().keepalived.clone();
        self.pass_with(k.as_deref()).await;
    }

    /// [`Self::pass`] with keepalived.conf's static addresses, routes and rules from `k`.
    async fn pass_with(&mut self, k: Option<&config::keepalived::Keepalived>) {
        if let (Some(board), Some(config)) = (&self.board, &self.config) {
            self.interfaces.pass(&self.kernel, board, config, k).await;
        }
        self.follow_listen();
    }

    /// The page listens on the addresses the configuration gives the management role.
    fn follow_listen(&self) {
        let wanted = ops::listen::listen_addresses(self.board.as_ref(), self.config.as_ref());
        self.listen.send_if_modified(|had| {
            let changed = *had != wanted;
            *had = wanted;
            changed
        });
    }

    /// The groups that could not start, tried again.
    async fn retry_vrrp(&mut self) {
        let Some(k) = self.running.borrow().keepalived.clone() else {
            return;
        };
        self.vrrp
            .apply(&k, &self.kernel, self.board.as_ref(), self.config.as_ref())
            .await;
    }

    /// Reads keepalived.conf and puts it in service; what it did, and what does not run.
    async fn load_keepalived(&mut self) -> Report {
        let mut report = Report::default();
        match load_keepalived(&self.options.keepalived, self.config.as_ref()) {
            Loaded::Config { config: k, notes } => {
                if notes != self.notes {
                    for note in &notes {
                        log::info!("note: {note}");
                    }
                    self.notes = notes;
                }
                self.refused.clear();
                let k = Arc::new(*k);
                self.mail.configure(&k);
                // keepalived installs its static addresses and routes before any
                // instance starts.
                self.pass_with(Some(&k)).await;
                let lvs = self.lvs.apply(&k).await;
                self.vrrp
                    .apply(&k, &self.kernel, self.board.as_ref(), self.config.as_ref())
                    .await;
                let plan = match k
                    .bgp
                    .as_ref()
                    .map(|b| bgp::plan::plan(b, self.config.as_ref()))
                {
                    None => {
                        self.bgp_problems.clear();
                        None
                    }
                    Some(Ok(plan)) => {
                        self.bgp_problems.clear();
                        Some(plan)
                    }
                    Some(Err(problems)) => {
                        self.bgp_problems = problems;
                        None
                    }
                };
                self.bgp.send(bgp::Msg::Configure(plan)).await;
                self.bgp.send(bgp::Msg::Serving(true)).await;
                self.bgp_drain().await;
                report
                    .said
                    .push(format!("keepalived.conf: {}", k.summary()));
                self.running.send_modify(|r| r.keepalived = Some(k));
                self.bgp_links().await;
                report.not_running.extend(lvs);
                report.not_running.extend(self.bgp_problems.iter().cloned());
            }
            Loaded::Absent => report.said.push("no keepalived.conf".into()),
            Loaded::Invalid => {
                let why = format!(
                    "{} has errors (see the log); {}",
                    self.options.keepalived.display(),
                    if self.running.borrow().keepalived.is_some() {
                        "the running configuration stays"
                    } else {
                        "no virtual server or VRRP instance runs"
                    }
                );
                if self.running.borrow().keepalived.is_none() {
                    self.refused = vec![why.clone()];
                }
                report.refused.push(why);
            }
        }
        report
            .not_running
            .extend(self.interfaces.problems().iter().cloned());
        report.not_running.extend(self.vrrp.problems());
        report.not_running.dedup();
        self.publish();
        report
    }

    /// config.json, then keepalived.conf, read again; a file that is gone or invalid
    /// leaves its part of the running configuration as it is.
    async fn reload(&mut self) -> Report {
        let mut said = Vec::new();
        let mut refused = Vec::new();
        // A certificate installed on the page or at the console: new connections get it.
        self.tls
            .send_replace(page::load_tls(&ops::Paths::appliance().tls));
        // The native part first: keepalived.conf's addresses may depend on it.
        if self.options.config.exists() {
            match load_config(&self.options.config) {
                Some(new) if Some(&new) == self.config.as_ref() => {}
                Some(new) => {
                    log::info!("{}: changes taken", self.options.config.display());
                    set_hostname(Some(&new));
                    self.ntp.send_if_modified(|had| {
                        let changed = *had != new.ntp_servers;
                        had.clone_from(&new.ntp_servers);
                        changed
                    });
                    self.config = Some(new);
                    self.running
                        .send_modify(|r| r.native = self.config.clone().map(Arc::new));
                    self.pass().await;
                    said.push("config.json: interfaces reconciled".to_string());
                }
                None => refused.push(format!(
                    "{} has errors (see the log); the running one stays",
                    self.options.config.display()
                )),
            }
        }
        log::info!("reading {} again", self.options.keepalived.display());
        let mut report = if self.options.keepalived.exists() {
            self.load_keepalived().await
        } else {
            if self.running.borrow().keepalived.is_some() {
                log::warn!(
                    "{}: gone; the running configuration stays",
                    self.options.keepalived.display()
                );
            }
            let mut report = Report::default();
            report.not_running.extend(self.not_running());
            report
        };
        said.append(&mut report.said);
        report.said = said;
        refused.append(&mut report.refused);
        report.refused = refused;
        report
    }
}

#[cfg(test)]
mod tests;
