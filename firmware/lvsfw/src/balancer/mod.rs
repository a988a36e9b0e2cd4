//! The balancer: the child PID 1 supervises. It owns the interfaces, the virtual
//! services and their checks, VRRP, and the web page on the management address.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use config::Config;
use netif::kernel::Kernel;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

use crate::board;
use interfaces::InterfaceReconciler;

pub mod heartbeat;
mod interfaces;
pub mod lvs;
mod page;
mod sync_daemon;
pub mod vrrp;

pub const CONFIG_PATH: &str = "/etc/lvsfw/config.json";
/// The pasted keepalived.conf, when there is one.
pub const KEEPALIVED_PATH: &str = "/etc/lvsfw/keepalived.conf";
/// Which IPVS services lvsfw made, across restarts of the balancer.
const IPVS_OWNED_PATH: &str = "/run/lvsfw/ipvs.owned";
/// How often the interfaces are compared with the configuration again, so that a link
/// taken down or an address removed by hand comes back.
const RECONCILE_EVERY: Duration = Duration::from_secs(10);
/// In a test image only (build-image with LVSFW_TEST_BREAK_BALANCER=1): the balancer
/// fails at start, so that the update test sees a trial fall back.
const TEST_BREAK_PATH: &str = "/etc/lvsfw/test-break-balancer";

struct Options {
    board: Option<PathBuf>,
    config: PathBuf,
    keepalived: PathBuf,
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        board: None,
        config: CONFIG_PATH.into(),
        keepalived: KEEPALIVED_PATH.into(),
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
    crate::logger::keep_recent(true);
    if Path::new(TEST_BREAK_PATH).exists() {
        log::error!(
            "{TEST_BREAK_PATH} exists: this test image's balancer fails at start on purpose"
        );
        return ExitCode::FAILURE;
    }
    let (ready_tx, ready_rx) = watch::channel(false);
    tokio::spawn(heartbeat::run(heartbeat::PATH.into(), ready_rx));
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
    let mut ticker = tokio::time::interval(RECONCILE_EVERY);
    ticker.tick().await;
    // Kept open for the life of the balancer: a reload sends the next plan on it.
    let (plans, plans_rx) = tokio::sync::mpsc::channel(4);
    let (health_tx, health_rx) = watch::channel(Arc::default());
    let (running_tx, running_rx) = watch::channel(page::Running {
        native: config.clone().map(Arc::new),
        keepalived: None,
    });
    let (listen_tx, listen_rx) = watch::channel(Vec::new());
    let (reload_tx, mut reloads) = tokio::sync::mpsc::channel::<page::Reload>(4);
    let mut b = Balancer {
        options,
        board,
        config,
        kernel,
        interfaces: InterfaceReconciler::default(),
        plans,
        plans_rx: Some((plans_rx, health_tx)),
        vrrp: VrrpRunning::default(),
        running: running_tx,
        listen: listen_tx,
    };
    b.pass().await;
    // The page starts once the interfaces carry its addresses.
    start_web(&b, running_rx, health_rx, reload_tx, listen_rx);
    // Real servers are added only once the interfaces that reach them are up: the
    // kernel refuses a NAT destination it has no route to.
    let loaded = b.load_keepalived().await;
    b.set_ready(&ready_tx, loaded.is_ok());

    loop {
        tokio::select! {
            _ = ticker.tick() => b.pass().await,
            // keepalived's reload signal: the files are read again; an invalid one
            // changes nothing and the running configuration stays.
            _ = hup.recv() => {
                log::info!("SIGHUP: reading the configuration again");
                let said = b.reload().await;
                b.set_ready(&ready_tx, said.is_ok());
            }
            // The page applied a change: the same, and it hears what happened.
            Some(request) = reloads.recv() => {
                let said = b.reload().await;
                b.set_ready(&ready_tx, said.is_ok());
                let _ = request.done.try_send(said);
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    log::info!("stopping");
    b.vrrp.stop().await;
    ExitCode::SUCCESS
}

fn set_hostname(config: Option<&Config>) {
    if let Some(name) = config.and_then(|c| c.hostname.as_deref()) {
        if let Err(e) = nix::unistd::sethostname(name) {
            log::error!("setting hostname {name}: {}", e.desc());
        }
    }
}

/// The web page: a task of its own, its handlers on the blocking pool.
fn start_web(
    b: &Balancer,
    running: watch::Receiver<page::Running>,
    health: watch::Receiver<Arc<Vec<lvs::ServerHealth>>>,
    reloads: tokio::sync::mpsc::Sender<page::Reload>,
    listen: watch::Receiver<Vec<web::Listen>>,
) {
    let backend = page::WebBackend {
        running,
        health,
        reloads,
        config_path: b.options.config.clone(),
        keepalived_path: b.options.keepalived.clone(),
        vrrp_status_path: vrrp::status::DEFAULT_PATH.into(),
        started: std::time::Instant::now(),
    };
    let app = web::App::new(Arc::new(backend), web::Options::default());
    let shared = web::Shared::new(Arc::new(app), web::ServerLimits::default());
    tokio::spawn(web::serve(listen, shared));
}

/// What the LVS task starts with: its plans, and where it reports the servers' health.
type LvsStart = (
    tokio::sync::mpsc::Receiver<lvs::Plan>,
    watch::Sender<Arc<Vec<lvs::ServerHealth>>>,
);

/// What the balancer's loop owns.
struct Balancer {
    options: Options,
    board: Option<board::Board>,
    config: Option<Config>,
    kernel: Kernel,
    interfaces: InterfaceReconciler,
    plans: tokio::sync::mpsc::Sender<lvs::Plan>,
    /// Until the LVS task starts: its plan receiver and where it reports health.
    plans_rx: Option<LvsStart>,
    vrrp: VrrpRunning,
    /// What the page sees of the running configuration.
    running: watch::Sender<page::Running>,
    /// Where the page listens.
    listen: watch::Sender<Vec<web::Listen>>,
}

impl Balancer {
    /// Ready (the heartbeat says so) once the configuration is in service: config.json
    /// read and keepalived.conf, if there is one, applied with its VRRP instances
    /// started. Once ready it stays so: a later invalid edit leaves the running
    /// configuration in service.
    fn set_ready(&self, ready: &watch::Sender<bool>, loaded: bool) {
        if loaded && self.config.is_some() && !*ready.borrow() {
            log::info!("ready: the configuration is applied");
            ready.send_replace(true);
        }
    }

    /// One pass of the interfaces; the page's addresses follow the configuration.
    async fn pass(&mut self) {
        if let (Some(board), Some(config)) = (&self.board, &self.config) {
            self.interfaces.pass(&self.kernel, board, config).await;
        }
        let wanted = page::listen_addresses(self.board.as_ref(), self.config.as_ref());
        self.listen.send_if_modified(|had| {
            let changed = *had != wanted;
            *had = wanted;
            changed
        });
    }

    /// Reads keepalived.conf and puts it in service; what it holds, or why not.
    async fn load_keepalived(&mut self) -> Result<String, String> {
        match load_keepalived(&self.options.keepalived, self.config.as_ref()) {
            Loaded::Config(k) => {
                start_lvs(&self.plans, &mut self.plans_rx, &k).await;
                self.vrrp.apply(&k, &self.kernel, self.board.as_ref()).await;
                let said = format!(
                    "keepalived.conf: {} virtual servers, {} VRRP instances",
                    k.virtual_servers.len(),
                    k.vrrp_instances.len()
                );
                self.running
                    .send_modify(|r| r.keepalived = Some(Arc::new(*k)));
                Ok(said)
            }
            Loaded::Absent => Ok("no keepalived.conf".into()),
            Loaded::Invalid => Err(format!(
                "{} has errors (see the log); the running configuration stays",
                self.options.keepalived.display()
            )),
        }
    }

    /// config.json, then keepalived.conf, read again; a file that is gone or invalid
    /// leaves its part of the running configuration as it is.
    async fn reload(&mut self) -> Result<String, String> {
        let mut said = Vec::new();
        let mut failed = Vec::new();
        // The native part first: keepalived.conf's addresses may depend on it.
        if self.options.config.exists() {
            match load_config(&self.options.config) {
                Some(new) if Some(&new) == self.config.as_ref() => {}
                Some(new) => {
                    log::info!("{}: changes taken", self.options.config.display());
                    set_hostname(Some(&new));
                    self.config = Some(new);
                    self.running
                        .send_modify(|r| r.native = self.config.clone().map(Arc::new));
                    self.pass().await;
                    said.push("config.json: interfaces reconciled".to_string());
                }
                None => failed.push(format!(
                    "{} has errors (see the log); the running one stays",
                    self.options.config.display()
                )),
            }
        }
        log::info!("reading {} again", self.options.keepalived.display());
        if self.options.keepalived.exists() {
            match self.load_keepalived().await {
                Ok(s) => said.push(s),
                Err(e) => failed.push(e),
            }
        } else if self.vrrp.running.is_some() || self.plans_rx.is_none() {
            log::warn!(
                "{}: gone; the running configuration stays",
                self.options.keepalived.display()
            );
        }
        if failed.is_empty() {
            Ok(if said.is_empty() {
                "nothing changed".into()
            } else {
                said.join("; ")
            })
        } else {
            Err(failed.join("; "))
        }
    }
}

/// The VRRP tasks and the part of keepalived.conf they were started from.
#[derive(Default)]
struct VrrpRunning {
    running: Option<(vrrp::Vrrp, VrrpConfig)>,
}

/// What the VRRP tasks depend on: a reload that leaves it alone leaves them alone.
type VrrpConfig = (
    config::keepalived::GlobalDefs,
    Vec<config::keepalived::VrrpInstance>,
    Vec<config::keepalived::SyncGroup>,
);

impl VrrpRunning {
    /// Starts the instances of `k`; on a reload, restarts them only if their part of the
    /// file changed (then masters step down with priority 0 and all start as backup).
    async fn apply(
        &mut self,
        k: &config::keepalived::Keepalived,
        kernel: &Kernel,
        board: Option<&board::Board>,
    ) {
        let wanted = (
            k.global.clone(),
            k.vrrp_instances.clone(),
            k.sync_groups.clone(),
        );
        if self.running.as_ref().is_some_and(|(_, had)| *had == wanted) {
            return;
        }
        if let Some((old, _)) = self.running.take() {
            log::info!("VRRP configuration changed: restarting the instances");
            old.stop().await;
        }
        if k.vrrp_instances.is_empty() {
            return;
        }
        // On the appliance keepalived.conf names interfaces by role (ext, int, mgmt);
        // the board says which NIC each role is.
        let links = vrrp::links(kernel).await.unwrap_or_else(|e| {
            log::error!("VRRP: {e}");
            Vec::new()
        });
        let names = vrrp::RoleNames {
            board,
            links: &links,
            class_net: Path::new("/sys/class/net"),
        };
        let started = vrrp::Vrrp::start(k, &names, vrrp::status::DEFAULT_PATH.into()).await;
        self.running = Some((started, wanted));
    }

    async fn stop(&mut self) {
        if let Some((running, _)) = self.running.take() {
            running.stop().await;
        }
    }
}

/// Whether the LVS task was started (it takes the receiver on first use).
/// Hands the virtual servers of `k` to the LVS task, starting it on first use.
async fn start_lvs(
    plans: &tokio::sync::mpsc::Sender<lvs::Plan>,
    plans_rx: &mut Option<LvsStart>,
    k: &config::keepalived::Keepalived,
) {
    if let Some((rx, health)) = plans_rx.take() {
        let worker = lvs::IpvsWorker::start(IPVS_OWNED_PATH.into());
        tokio::spawn(lvs::run_reporting(rx, worker, health));
    }
    if plans.send(lvs::plan(k)).await.is_err() {
        log::error!("the LVS task has stopped; virtual servers not updated");
    }
}

pub(crate) enum Loaded {
    /// Boxed: the model is a few hundred bytes, the other variants none.
    Config(Box<config::keepalived::Keepalived>),
    Absent,
    Invalid,
}

/// keepalived.conf is optional: without it the balancer only keeps the interfaces.
/// With the appliance's own configuration (`native`), what only both show is checked
/// too: a priority of 255 only for the address owner, NAT real servers reachable
/// through an int address.
pub(crate) fn load_keepalived(path: &Path, native: Option<&Config>) -> Loaded {
    if !path.exists() {
        return Loaded::Absent;
    }
    let read = config::keepalived::read_file(path).and_then(|read| match native {
        Some(native) => read.validate_with(native).map(|()| read),
        None => Ok(read),
    });
    match read {
        Ok(read) => {
            for note in &read.notes {
                log::info!("note: {note}");
            }
            log::info!(
                "{}: {} virtual servers, {} VRRP instances",
                path.display(),
                read.config.virtual_servers.len(),
                read.config.vrrp_instances.len()
            );
            Loaded::Config(Box::new(read.config))
        }
        Err(issues) => {
            for issue in issues.iter() {
                log::error!("{issue}");
            }
            log::error!("{}: not used; nothing of it is applied", path.display());
            Loaded::Invalid
        }
    }
}

fn load_config(path: &Path) -> Option<Config> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            log::error!("{}: {e}", path.display());
            return None;
        }
    };
    match config::native::from_json(&text) {
        Ok(config) => Some(config),
        Err(issues) => {
            for issue in issues.iter() {
                let separator = if issue.location.starts_with(|c: char| c.is_ascii_digit()) {
                    ":"
                } else {
                    ": "
                };
                log::error!("{}{separator}{issue}", path.display());
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_name_what_is_wrong() {
        let args = |v: &[&str]| parse_args(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let o = args(&["--board", "/b", "--config", "/c"]).unwrap();
        assert_eq!(o.board.as_deref(), Some(Path::new("/b")));
        assert_eq!(o.config, Path::new("/c"));
        assert_eq!(args(&["--board"]).err().unwrap(), "--board needs a file");
        assert_eq!(
            args(&["--bored", "x"]).err().unwrap(),
            "unknown argument \"--bored\""
        );
    }
}
