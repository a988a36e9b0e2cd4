//! Web page benchmark (issue 6): the size of each page, and the status page's latency
//! with many clients at once, against one appliance running the seed's 3-1 in QEMU
//! (TCG), from a namespace on the management network. Prints tables; asserts nothing
//! about time. Run with `scripts/bench-web` (root; expects `scripts/build-image
//! qemu-x86_64`).
//!
//!     bench_web [CLIENTS [REQUESTS-PER-CLIENT]]      (default 50 clients x 20 requests)

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use lvsfw_lab::addresses::*;
use lvsfw_lab::http::{self, ApiSession, Connection};
use lvsfw_lab::seed::{DOCKER1, DOCKER2, SEED_3_1};
use lvsfw_lab::{ApplianceSpec, Error, Lab, Net};

const MGMT_LB: &str = "10.10.0.1";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn main() -> Result<(), Error> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let clients = args.first().copied().unwrap_or(50);
    let per_client = args.get(1).copied().unwrap_or(20);

    let mut lab = Lab::new("benchweb", true)?;
    let rs1 = lab.add_host("rs1", Net::Int, &format!("{RS1}/24"), Some(LB1_INT))?;
    let rs2 = lab.add_host("rs2", Net::Int, &format!("{RS2}/24"), Some(LB1_INT))?;
    let admin = lab.add_host("admin", Net::Mgmt, "10.10.0.50/24", None)?;
    lab.serve_http(&rs1, &format!("{DOCKER1}\n"))?;
    lab.serve_http(&rs2, &format!("{DOCKER2}\n"))?;
    let config = format!(
        r#"{{"hostname": "lb1", "interfaces": [
            {{"role": "ext", "addresses": ["{LB1_EXT}/24", "{VIP}/24"]}},
            {{"role": "int", "addresses": ["{LB1_INT}/24"]}},
            {{"role": "mgmt", "addresses": ["{MGMT_LB}/24"]}}]}}"#
    );
    let mut lb1 = lab.boot(ApplianceSpec {
        name: "lb1".into(),
        config_json: Some(config),
        files: vec![(
            "etc/lvsfw/keepalived.conf".into(),
            SEED_3_1.as_bytes().to_vec(),
        )],
        mgmt: true,
        ..ApplianceSpec::default()
    })?;
    lb1.wait_for("balancer: interfaces up", Duration::from_secs(60))?;
    lb1.wait_for("IPVS: 3 changes applied", Duration::from_secs(30))?;
    let addr = SocketAddr::new(MGMT_LB.parse().unwrap(), 80);

    let report = admin.in_netns(|| -> Result<(), Error> {
        let api = ApiSession::first_login(addr, "correct horse")?;
        let cookie = api.cookie.clone();
        println!("web page benchmark: lvsfw in QEMU (TCG, 1 vCPU), seed 3-1, from the management network");
        println!();
        println!("{:<24} {:>8} {:>10}", "page", "bytes", "ms (one)");
        for (path, with_session) in [
            ("/login", false),
            ("/status", true),
            ("/config", true),
            ("/log", true),
            ("/system", true),
            ("/api/status", true),
            ("/api/config", true),
            ("/metrics", true),
        ] {
            let headers: Vec<(&str, &str)> = if with_session {
                vec![("Cookie", &cookie)]
            } else {
                Vec::new()
            };
            // The second of two requests, so that nothing is measured cold.
            http::request(addr, "GET", path, &headers, b"")?;
            let started = Instant::now();
            let r = http::request(addr, "GET", path, &headers, b"")?;
            let took = started.elapsed();
            if r.status != 200 {
                return Err(Error(format!("GET {path}: {}", r.status)));
            }
            println!("{path:<24} {:>8} {:>10}", r.body.len(), ms(took));
        }
        let rss = |api: &ApiSession| -> Result<u64, Error> {
            Ok(api.json("/api/status")?["balancer_rss_kb"]
                .as_u64()
                .unwrap_or(0))
        };
        let before = rss(&api)?;

        // Each client keeps one connection and asks for the status page again and again.
        let started = Instant::now();
        let results: Vec<Result<Vec<Duration>, Error>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..clients)
                .map(|_| {
                    let cookie = cookie.clone();
                    s.spawn(move || -> Result<Vec<Duration>, Error> {
                        let mut c = Connection::open(addr, Duration::from_secs(120))?;
                        let mut times = Vec::with_capacity(per_client);
                        for _ in 0..per_client {
                            let t = Instant::now();
                            let r = c.request("GET", "/status", &[("Cookie", &cookie)], b"")?;
                            if r.status != 200 {
                                return Err(Error(format!("status {}", r.status)));
                            }
                            times.push(t.elapsed());
                        }
                        Ok(times)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err(Error("a client panicked".into()))))
                .collect()
        });
        let wall = started.elapsed();
        let mut times: Vec<Duration> = Vec::new();
        let mut errors = Vec::new();
        for r in results {
            match r {
                Ok(t) => times.extend(t),
                Err(e) => errors.push(e.0),
            }
        }
        times.sort();
        let after = rss(&api)?;
        println!();
        println!(
            "{:>7} {:>9} {:>6} {:>8} {:>7} {:>8} {:>8} {:>8} {:>8}",
            "clients", "requests", "errors", "wall s", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms"
        );
        println!(
            "{:>7} {:>9} {:>6} {:>8.1} {:>7.1} {:>8} {:>8} {:>8} {:>8}",
            clients,
            times.len(),
            errors.len(),
            wall.as_secs_f64(),
            times.len() as f64 / wall.as_secs_f64(),
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.9)),
            ms(percentile(&times, 0.99)),
            ms(times.last().copied().unwrap_or_default()),
        );
        println!();
        println!("balancer resident memory: {before} KiB before the load, {after} KiB after");
        if let Some(e) = errors.first() {
            println!("first error: {e}");
        }
        Ok(())
    })?;
    report
}
