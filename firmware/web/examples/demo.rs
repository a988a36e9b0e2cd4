//! The management page on a developer's machine, with an in-memory appliance behind it:
//!
//!     cargo run -p lvsfw-web --example demo [PORT]      (default 8081, on 127.0.0.1)
//!
//! It serves HTTPS with a certificate of its own, made at start; it prints the pin.
//!
//! Log in with the password "demo password". Changes go to memory only.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use config::Config;
use web::backend::{
    Counters, InterfaceStatus, RealServerStatus, ServiceStatus, Status, VrrpStatus,
};
use web::{App, Applied, Backend, Change, Listen, Notices, Options, ServerLimits, Shared};

const SEED: &str = include_str!("../../config/testdata/seed-3-1.conf");
const PASSWORD: &str = "demo password";
const NATIVE: &str = r#"{"hostname": "demo", "interfaces": [
    {"role": "ext", "addresses": ["192.168.0.101/24", "192.168.0.100/24"]},
    {"role": "int", "addresses": ["192.168.33.20/24"]},
    {"role": "mgmt", "addresses": ["127.0.0.1/8"]}]}"#;

struct Memory {
    native: Mutex<Config>,
    text: Mutex<String>,
    chain: String,
}

impl Backend for Memory {
    fn status(&self) -> Status {
        let k = config::keepalived::read_text(&self.text.lock().unwrap(), "k")
            .map(|r| r.config)
            .unwrap_or_default();
        Status {
            version: env!("CARGO_PKG_VERSION").into(),
            hostname: "demo".into(),
            uptime_s: 4000,
            balancer_uptime_s: 3990,
            balancer_rss_kb: Some(5200),
            vrrp: vec![VrrpStatus {
                name: "VI_1".into(),
                interface: "mgmt".into(),
                vrid: 51,
                version: 2,
                state: web::backend::VrrpState::Master,
                priority: 101,
                master: Some("10.0.0.1".into()),
                since_ms: Some(1_700_000_000_000),
                became_master: 1,
                vips: vec!["192.168.0.100/24".into()],
                ..VrrpStatus::default()
            }],
            services: k
                .virtual_servers
                .iter()
                .map(|v| ServiceStatus {
                    name: format!("TCP {:?}", v.key),
                    scheduler: v.lb_algo.clone(),
                    persistence_timeout: v.persistence_timeout,
                    stats: Counters {
                        conns: 120,
                        in_bps: 2500,
                        out_bps: 90_000,
                        ..Counters::default()
                    },
                    real_servers: v
                        .real_servers
                        .iter()
                        .map(|r| RealServerStatus {
                            address: format!("{}:{}", r.ip, r.port),
                            forward: "Masq".into(),
                            weight: Some(r.weight),
                            health: "up".into(),
                            active_conns: 2,
                            inactive_conns: 5,
                            ..RealServerStatus::default()
                        })
                        .collect(),
                })
                .collect(),
            interfaces: vec![InterfaceStatus {
                name: "ext".into(),
                state: "up".into(),
                mac: "52:54:00:00:00:10".into(),
                mtu: Some(1500),
                addresses: vec!["192.168.0.101/24".into()],
                rx_bytes: 123_456,
                tx_bytes: 654_321,
            }],
            ..Status::default()
        }
    }
    fn native(&self) -> Option<Config> {
        Some(self.native.lock().unwrap().clone())
    }
    fn keepalived_text(&self) -> Result<Option<String>, String> {
        Ok(Some(self.text.lock().unwrap().clone()))
    }
    fn apply(&self, change: Change) -> Result<Applied, String> {
        if let Some(n) = change.native {
            *self.native.lock().unwrap() = n;
        }
        if let Some(t) = change.keepalived {
            *self.text.lock().unwrap() = t;
        }
        Ok(Applied {
            said: "kept in memory".into(),
            not_running: Vec::new(),
        })
    }
    fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").into()
    }
    fn notices(&self) -> Notices {
        Notices::default()
    }
    fn save(&self) -> Result<String, String> {
        Err("the demo has nowhere to save".into())
    }
    fn reboot(&self) -> Result<(), String> {
        Err("the demo does not reboot".into())
    }
    fn log_lines(&self) -> Vec<String> {
        vec!["[    1.000000] balancer: demo started".into()]
    }
    fn log_problems(&self) -> Vec<String> {
        Vec::new()
    }
    fn names(&self) -> web::Names {
        web::Names {
            hostname: "demo".into(),
            addresses: vec!["127.0.0.1".parse().unwrap()],
            certificate: vec!["localhost".into()],
        }
    }
    fn page_closed(&self) -> Option<String> {
        None
    }
    fn certificate(&self) -> Result<(String, bool), String> {
        Ok((self.chain.clone(), false))
    }
    fn install_certificate(&self, _: Option<web::certificate::Pair>) -> Result<String, String> {
        Err("the demo keeps its own certificate".into())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(8081);
    let mut native = config::native::from_json(NATIVE).unwrap();
    native.admin.password = Some(
        config::PasswordHash::new(PASSWORD, &[1u8; 16], config::password::MIN_ITERATIONS).unwrap(),
    );
    // A certificate of its own, as the box makes one at first boot.
    let pair = web::certificate::generate(
        "localhost",
        &["127.0.0.1".parse().unwrap()],
        std::time::SystemTime::now(),
    )
    .expect("a certificate");
    let backend = Memory {
        native: Mutex::new(native),
        text: Mutex::new(SEED.into()),
        chain: pair.chain.clone(),
    };
    let app = App::new(
        Arc::new(backend),
        Options {
            hash_iterations: config::password::MIN_ITERATIONS,
            ..Options::default()
        },
    );
    let pin = web::certificate::summary(&pair.chain)
        .expect("it reads")
        .spki_sha256;
    let tls = web::tls::server_config(&pair).expect("TLS");
    let (_tls, tls) = tokio::sync::watch::channel(Some(tls));
    let shared = Shared::new(Arc::new(app), ServerLimits::default(), tls);
    let listen = vec![Listen {
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        device: None,
        scheme: web::Scheme::Https,
    }];
    let (_keep, rx) = tokio::sync::watch::channel(listen);
    eprintln!("https://127.0.0.1:{port}/ (password: {PASSWORD}); a self-signed certificate:");
    eprintln!("  chromium --ignore-certificate-errors-spki-list={pin}");
    eprintln!("  curl --pinnedpubkey sha256//{pin} -k https://127.0.0.1:{port}/login");
    web::serve(rx, shared).await;
}
