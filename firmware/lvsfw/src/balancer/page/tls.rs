//! The page's certificate as the balancer serves it: the TLS configuration from the
//! files in service, and the certificate's names a request's Host may give.

use std::sync::Arc;

use super::WebBackend;

/// The page's TLS configuration from the certificate files in service (an operator's
/// if installed, else the box's own); `None`, said in the log, when there is none
/// usable: HTTPS connections are then closed.
pub fn load_tls(paths: &crate::ops::tls::TlsPaths) -> Option<Arc<rustls::ServerConfig>> {
    let loaded = crate::ops::tls::served(paths).and_then(|(pair, installed)| {
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
        let tls = crate::ops::Paths::appliance().tls;
        let stamp = [&tls.installed_chain, &tls.own_chain]
            .map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        let mut cache = self
            .certificate_names
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if cache.0 != stamp {
            let names = crate::ops::tls::served(&tls)
                .and_then(|(pair, _)| web::certificate::summary(&pair.chain))
                .map(|s| s.dns_names)
                .unwrap_or_default();
            *cache = (stamp, names);
        }
        cache.1.clone()
    }
}
