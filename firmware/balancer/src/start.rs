//! What the balancer's start needs besides its loop: the hostname, the configuration
//! file read, the web page's task.

use std::path::Path;
use std::sync::Arc;

use config::Config;
use tokio::sync::watch;

use super::{lvs, page, Balancer};

pub(super) fn set_hostname(config: Option<&Config>) {
    if let Some(name) = config.and_then(|c| c.hostname.as_deref()) {
        if let Err(e) = nix::unistd::sethostname(name) {
            log::error!("setting hostname {name}: {}", e.desc());
        }
    }
}

/// The web page: a task of its own, its handlers on the blocking pool.
pub(super) fn start_web(
    b: &Balancer,
    running: watch::Receiver<page::Running>,
    health: watch::Receiver<Arc<Vec<lvs::ServerHealth>>>,
    reloads: tokio::sync::mpsc::Sender<page::Reload>,
    listen: watch::Receiver<Vec<web::Listen>>,
    not_running: watch::Receiver<Vec<String>>,
    tls: web::tls::Tls,
) {
    let backend = page::WebBackend {
        time: b.time.clone(),
        running,
        health,
        reloads,
        not_running,
        config_path: b.options.config.clone(),
        keepalived_path: b.options.keepalived.clone(),
        vrrp_status_path: paths::VRRP_STATUS.into(),
        bgp_status_path: paths::BGP_STATUS.into(),
        started: std::time::Instant::now(),
        listen: listen.clone(),
        certificate_names: Default::default(),
        // The VRRP tasks add their transitions to the same history.
        history: b.vrrp.charts.clone(),
    };
    let options = web::Options {
        plain_http: page::plain_http_for_benchmark(),
        ..web::Options::default()
    };
    let app = web::App::new(Arc::new(backend), options);
    let shared = web::Shared::new(Arc::new(app), web::ServerLimits::default(), tls);
    tokio::spawn(web::serve(listen, shared));
}

pub(super) fn load_config(path: &Path) -> Option<Config> {
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
