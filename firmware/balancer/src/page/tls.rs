//! The page's certificate as the balancer serves it: the TLS configuration from the
//! files in service, and the certificate's names a request's Host may give.

use std::sync::Arc;

use super::WebBackend;

/// The page's TLS configuration from the certificate files in service (an operator's
/// if installed, else the box's own); `None`, said in the log, when there is none
/// usable: HTTPS connections are then closed.
pub fn load_tls(paths: &ops::tls::TlsPaths) -> Option<Arc<rustls::ServerConfig>> {
    load_tls_or(paths, true)
}

/// [`load_tls`]; with `say_none` false, no certificate at all is not said (at start,
/// when PID 1 is still making the box's own).
fn load_tls_or(paths: &ops::tls::TlsPaths, say_none: bool) -> Option<Arc<rustls::ServerConfig>> {
    if !say_none && ops::tls::read(paths).is_ok_and(|f| f.own.is_none() && f.installed.is_none()) {
        return None;
    }
    let loaded = ops::tls::served(paths).and_then(|(pair, installed)| {
        web::tls::server_config(&pair).map(|config| (config, installed))
    });
    match loaded {
        Ok((config, installed)) => {
            log::info!(
                "web: serving {} certificate",
                if installed {
                    "the installed"
                } else {
                    "the box's own"
                }
            );
            Some(config)
        }
        Err(e) => {
            log::error!("web: no certificate to serve HTTPS with: {e}");
            None
        }
    }
}

/// What the page serves HTTPS with; `None`: HTTPS connections are closed.
type Served = Option<Arc<rustls::ServerConfig>>;

/// How long the balancer waits at start for the box's own certificate (PID 1 makes it
/// after starting the balancer when no disk keeps one), looking every [`CERTIFICATE_EVERY`].
const CERTIFICATE_WITHIN: std::time::Duration = std::time::Duration::from_secs(120);
const CERTIFICATE_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// The TLS configuration at the balancer's start, and when there is no certificate yet,
/// a task that serves it as soon as it is there (said as [`load_tls`] says it), or says
/// after [`CERTIFICATE_WITHIN`] that there is none, as it would have at once.
pub fn load_tls_at_start(
    paths: ops::tls::TlsPaths,
) -> (
    tokio::sync::watch::Sender<Served>,
    tokio::sync::watch::Receiver<Served>,
) {
    let first = load_tls_or(&paths, false);
    let waiting = first.is_none()
        && ops::tls::read(&paths).is_ok_and(|f| f.own.is_none() && f.installed.is_none());
    let (tx, rx) = tokio::sync::watch::channel(first);
    if waiting {
        let tx = tx.clone();
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + CERTIFICATE_WITHIN;
            loop {
                tokio::time::sleep(CERTIFICATE_EVERY).await;
                // Served already (a reload found one): nothing to wait for.
                if tx.borrow().is_some() {
                    return;
                }
                let last = tokio::time::Instant::now() >= deadline;
                if let Some(config) = load_tls_or(&paths, last) {
                    tx.send_if_modified(|had| {
                        let none = had.is_none();
                        if none {
                            *had = Some(config);
                        }
                        none
                    });
                    return;
                }
                if last {
                    return;
                }
            }
        });
    }
    (tx, rx)
}

/// `lvsfw.debug lvsfw.bench-plain-http` on the kernel command line: port 80 serves the
/// page as well, so that `scripts/bench-web` can put HTTP and HTTPS side by side. Never
/// on a box in service (the command line is the owner's anyway).
pub fn plain_http_for_benchmark() -> bool {
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    let words: Vec<&str> = cmdline.split_whitespace().collect();
    let on = words.contains(&"lvsfw.debug") && words.contains(&"lvsfw.bench-plain-http");
    if on {
        log::warn!(
            "web: lvsfw.bench-plain-http: the page is served on plain HTTP too (benchmark only)"
        );
    }
    on
}

/// The modification times of the installed and the own chain, and the DNS names read.
pub type CertificateNames = ([Option<std::time::SystemTime>; 2], Vec<String>);

impl WebBackend {
    /// The DNS names of the served certificate, read again only when its files change
    /// (this is asked on every request).
    pub(super) fn certificate_names(&self) -> Vec<String> {
        let tls = ops::Paths::appliance().tls;
        let stamp = [&tls.installed_chain, &tls.own_chain]
            .map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        let mut cache = self
            .certificate_names
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if cache.0 != stamp {
            let names = ops::tls::served(&tls)
                .and_then(|(pair, _)| web::certificate::summary(&pair.chain))
                .map(|s| s.dns_names)
                .unwrap_or_default();
            *cache = (stamp, names);
        }
        cache.1.clone()
    }
}
