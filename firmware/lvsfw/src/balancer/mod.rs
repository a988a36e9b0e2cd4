//! The balancer: the child PID 1 supervises. Today it owns the interfaces; VRRP, IPVS,
//! checks, the web page and the console commands join it in later steps.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use config::Config;
use netif::kernel::Kernel;
use tokio::signal::unix::{signal, SignalKind};

use crate::board;
use interfaces::InterfaceReconciler;

mod interfaces;
pub mod lvs;
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
    let mut config = load_config(&options.config);
    set_hostname(config.as_ref());
    let kernel = match Kernel::connect() {
        Ok(k) => k,
        Err(e) => {
            log::error!("rtnetlink: {e}");
            return ExitCode::FAILURE;
        }
    };

    let mut interfaces = InterfaceReconciler::default();
    match (&board, &config) {
        (None, _) => log::warn!("interfaces left as they are: no usable board file"),
        (_, None) => log::warn!("interfaces left as they are: no usable configuration"),
        _ => {}
    }
    let mut ticker = tokio::time::interval(RECONCILE_EVERY);
    ticker.tick().await;
    if let (Some(board), Some(config)) = (&board, &config) {
        interfaces.pass(&kernel, board, config).await;
    }
    // Real servers are added only once the interfaces that reach them are up: the
    // kernel refuses a NAT destination it has no route to.
    // Kept open for the life of the balancer: a reload sends the next plan on it.
    let (plans, plans_rx) = tokio::sync::mpsc::channel(4);
    let mut plans_rx = Some(plans_rx);
    let mut vrrp = VrrpRunning::default();
    match load_keepalived(&options.keepalived, config.as_ref()) {
        Loaded::Config(k) => {
            start_lvs(&plans, &mut plans_rx, &k).await;
            vrrp.apply(&k, &kernel, board.as_ref()).await;
        }
        Loaded::Absent | Loaded::Invalid => {}
    }

    loop {
        tokio::select! {
            _ = ticker.tick() => {
                if let (Some(board), Some(config)) = (&board, &config) {
                    interfaces.pass(&kernel, board, config).await;
                }
            }
            // keepalived's reload signal: the file is read again; an invalid one
            // changes nothing and the running configuration stays.
            _ = hup.recv() => {
                // The native part first: keepalived.conf's addresses may depend on it.
                log::info!("SIGHUP: reading the configuration again");
                if let Some(new) = reload_config(&options.config, &config) {
                    set_hostname(Some(&new));
                    config = Some(new);
                    if let (Some(board), Some(config)) = (&board, &config) {
                        interfaces.pass(&kernel, board, config).await;
                    }
                }
                log::info!("SIGHUP: reading {} again", options.keepalived.display());
                match load_keepalived(&options.keepalived, config.as_ref()) {
                    Loaded::Config(k) => {
                        start_lvs(&plans, &mut plans_rx, &k).await;
                        vrrp.apply(&k, &kernel, board.as_ref()).await;
                    }
                    Loaded::Absent if vrrp.running.is_some() || lvs_started(&plans_rx) => {
                        log::warn!("{}: gone; the running configuration stays",
                            options.keepalived.display())
                    }
                    Loaded::Absent => {}
                    Loaded::Invalid => {}
                }
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    log::info!("stopping");
    vrrp.stop().await;
    ExitCode::SUCCESS
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
fn lvs_started(plans_rx: &Option<tokio::sync::mpsc::Receiver<lvs::Plan>>) -> bool {
    plans_rx.is_none()
}

/// Hands the virtual servers of `k` to the LVS task, starting it on first use.
async fn start_lvs(
    plans: &tokio::sync::mpsc::Sender<lvs::Plan>,
    plans_rx: &mut Option<tokio::sync::mpsc::Receiver<lvs::Plan>>,
    k: &config::keepalived::Keepalived,
) {
    if let Some(rx) = plans_rx.take() {
        let worker = lvs::IpvsWorker::start(IPVS_OWNED_PATH.into());
        tokio::spawn(lvs::run(rx, worker));
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

fn set_hostname(config: Option<&Config>) {
    if let Some(name) = config.and_then(|c| c.hostname.as_deref()) {
        if let Err(e) = nix::unistd::sethostname(name) {
            log::error!("setting hostname {name}: {}", e.desc());
        }
    }
}

/// On SIGHUP: the native configuration again when it changed; an unreadable or invalid
/// one is reported and the running one stays.
fn reload_config(path: &Path, running: &Option<Config>) -> Option<Config> {
    if !path.exists() {
        return None;
    }
    let new = load_config(path)?;
    if running.as_ref() == Some(&new) {
        return None;
    }
    log::info!("{}: changes taken", path.display());
    Some(new)
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
