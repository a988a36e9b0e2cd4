//! Web page benchmark (issues 6 and 14): the size of each page, and HTTP beside HTTPS in
//! one run: the handshake, the status page's latency with many clients at once, and the
//! balancer's memory, against one appliance running the seed's 3-1 in QEMU (TCG), from
//! a namespace on the management network. The box serves the page on plain HTTP too
//! only because the benchmark boots it with `lvsfw.debug lvsfw.bench-plain-http`
//! (a box in service only redirects port 80). Prints tables; asserts nothing about time.
//! Run with `scripts/bench-web` (root; expects `scripts/build-image qemu-x86_64`).
//!
//!     bench_web [CLIENTS [REQUESTS-PER-CLIENT [ROUNDS]]]   (default 50 x 20, 3 rounds)

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use lvsfw_lab::http::{self, ApiSession, Connection};
use lvsfw_lab::seed::{web_lab, web_lb1_config, MGMT_LB, SEED_3_1};
use lvsfw_lab::{ApplianceSpec, Error, Host, Net};

const PASSWORD: &str = "correct horse";
/// Sequential connections whose handshake is timed.
const HANDSHAKES: usize = 20;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    percentile(&values, 0.5)
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// How a client reaches the page.
#[derive(Clone, Copy)]
enum Scheme<'a> {
    Http(SocketAddr),
    Https(SocketAddr, &'a str),
}

impl Scheme<'_> {
    fn open(&self) -> Result<Connection, Error> {
        let limit = Duration::from_secs(120);
        match *self {
            Scheme::Http(addr) => Connection::open(addr, limit),
            Scheme::Https(addr, pin) => Connection::open_tls(addr, pin, limit),
        }
    }
}

/// One round of load: every client keeps one connection and asks for the status page
/// again and again; the clients are spread over `hosts` (the page takes at most 8
/// connections from one address). (sorted latencies, errors, wall time)
fn load(
    hosts: &[Host],
    scheme: Scheme,
    cookie: &str,
    clients: usize,
    per_client: usize,
) -> (Vec<Duration>, Vec<String>, Duration) {
    let started = Instant::now();
    let results: Vec<Result<Vec<Duration>, Error>> = std::thread::scope(|s| {
        let groups: Vec<_> = hosts
            .iter()
            .enumerate()
            .map(|(h, host)| {
                let mine = (0..clients).filter(|c| c % hosts.len() == h).count();
                s.spawn(move || {
                    host.in_netns(|| {
                        std::thread::scope(|s| {
                            let handles: Vec<_> = (0..mine)
                                .map(|_| {
                                    s.spawn(move || -> Result<Vec<Duration>, Error> {
                                        let mut c = scheme.open()?;
                                        let mut times = Vec::with_capacity(per_client);
                                        for _ in 0..per_client {
                                            let t = Instant::now();
                                            let r = c.request(
                                                "GET",
                                                "/status",
                                                &[("Cookie", cookie)],
                                                b"",
                                            )?;
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
                                .map(|h| {
                                    h.join()
                                        .unwrap_or_else(|_| Err(Error("a client panicked".into())))
                                })
                                .collect::<Vec<_>>()
                        })
                    })
                    .unwrap_or_else(|e| vec![Err(e)])
                })
            })
            .collect();
        groups
            .into_iter()
            .flat_map(|g| {
                g.join()
                    .unwrap_or_else(|_| vec![Err(Error("a host panicked".into()))])
            })
            .collect()
    });
    let wall = started.elapsed();
    let mut times = Vec::new();
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok(t) => times.extend(t),
            Err(e) => errors.push(e.0),
        }
    }
    times.sort();
    (times, errors, wall)
}

/// The median of `HANDSHAKES` connections' set-up time (TCP, or TCP and TLS).
fn handshake(scheme: Scheme) -> Result<Duration, Error> {
    let mut times = Vec::new();
    for _ in 0..HANDSHAKES {
        let t = Instant::now();
        let c = scheme.open()?;
        times.push(t.elapsed());
        drop(c);
    }
    Ok(median(times))
}

#[derive(Default)]
struct Column {
    handshake: Vec<Duration>,
    p50: Vec<Duration>,
    p99: Vec<Duration>,
    throughput: Vec<f64>,
    errors: usize,
    first_error: Option<String>,
    rss_after: Vec<u64>,
}

fn main() -> Result<(), Error> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let clients = args.first().copied().unwrap_or(50);
    let per_client = args.get(1).copied().unwrap_or(20);
    let rounds = args.get(2).copied().unwrap_or(3).max(1);

    let (mut lab, _client, admin) = web_lab("benchweb")?;
    // The page takes at most 8 connections from one address: the clients come from
    // enough hosts on the management network.
    let mut hosts = Vec::new();
    for i in 0..clients.div_ceil(8) {
        hosts.push(lab.add_host(
            &format!("load{i}"),
            Net::Mgmt,
            &format!("10.10.0.{}/24", 100 + i),
            None,
        )?);
    }
    let config = web_lb1_config(Some(&http::admin_json(PASSWORD)));
    let mut lb1 = lab.boot(ApplianceSpec {
        name: "lb1".into(),
        config_json: Some(config),
        files: vec![(
            "etc/lvsfw/keepalived.conf".into(),
            SEED_3_1.as_bytes().to_vec(),
        )],
        mgmt: true,
        extra_cmdline: "lvsfw.bench-plain-http".into(),
        ..ApplianceSpec::default()
    })?;
    lb1.wait_for("balancer: interfaces up", Duration::from_secs(60))?;
    lb1.console
        .wait_anywhere("IPVS: 3 changes applied", Duration::from_secs(30))?;
    lb1.console.wait_anywhere(
        "the page is served on plain HTTP too (benchmark only)",
        Duration::from_secs(10),
    )?;
    let (pin, _) = lb1.certificate()?;
    let https = SocketAddr::new(MGMT_LB.parse().unwrap(), 443);
    let plain = SocketAddr::new(MGMT_LB.parse().unwrap(), 80);

    let report = admin.in_netns(|| -> Result<(), Error> {
        let api = ApiSession::login(https, &pin, PASSWORD)?;
        let cookie = api.cookie.clone();
        println!("web page benchmark: lvsfw in QEMU (TCG, 1 vCPU), seed 3-1, from the management network");
        println!();
        println!("{:<24} {:>8} {:>10}", "page (HTTPS)", "bytes", "ms (one)");
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
            let mut c = Connection::open_tls(https, &pin, Duration::from_secs(60))?;
            // The second of two requests on one connection: nothing measured cold.
            c.request("GET", path, &headers, b"")?;
            let started = Instant::now();
            let r = c.request("GET", path, &headers, b"")?;
            let took = started.elapsed();
            if r.status != 200 {
                return Err(Error(format!("GET {path}: {}", r.status)));
            }
            println!("{path:<24} {:>8} {:>10}", r.body.len(), ms(took));
        }
        let rss = || -> Result<u64, Error> {
            Ok(api.json("/api/status")?["balancer_rss_kb"]
                .as_u64()
                .unwrap_or(0))
        };
        let rss_start = rss()?;
        let schemes = [Scheme::Http(plain), Scheme::Https(https, &pin)];
        let mut columns: [Column; 2] = Default::default();
        for _ in 0..rounds {
            for (scheme, column) in schemes.iter().zip(columns.iter_mut()) {
                column.handshake.push(handshake(*scheme)?);
                let (times, errors, wall) = load(&hosts, *scheme, &cookie, clients, per_client);
                column.p50.push(percentile(&times, 0.5));
                column.p99.push(percentile(&times, 0.99));
                column.throughput.push(times.len() as f64 / wall.as_secs_f64());
                column.errors += errors.len();
                if column.first_error.is_none() {
                    column.first_error = errors.into_iter().next();
                }
                column.rss_after.push(rss()?);
            }
        }
        println!();
        println!(
            "{clients} clients (from {} addresses) x {per_client} requests of /status, keep-alive; median of {rounds} rounds (HTTP and HTTPS alternating)",
            hosts.len()
        );
        println!();
        println!("| | HTTP | HTTPS | HTTPS / HTTP |");
        println!("|---|---:|---:|---:|");
        let [h, s] = &columns;
        let row = |name: &str, a: Duration, b: Duration| {
            println!(
                "| {name} | {} ms | {} ms | {:.2}x |",
                ms(a),
                ms(b),
                b.as_secs_f64() / a.as_secs_f64().max(1e-9)
            );
        };
        row(
            &format!("connection set-up (median of {HANDSHAKES}; TCP / TCP + TLS)"),
            median(h.handshake.clone()),
            median(s.handshake.clone()),
        );
        row("/status p50", median(h.p50.clone()), median(s.p50.clone()));
        row("/status p99", median(h.p99.clone()), median(s.p99.clone()));
        let med = |v: &[f64]| {
            let mut v = v.to_vec();
            v.sort_by(|a, b| a.total_cmp(b));
            v[v.len() / 2]
        };
        println!(
            "| throughput | {:.1} req/s | {:.1} req/s | {:.2}x |",
            med(&h.throughput),
            med(&s.throughput),
            med(&s.throughput) / med(&h.throughput).max(1e-9)
        );
        println!("| errors | {} | {} | |", h.errors, s.errors);
        println!(
            "| balancer RSS after the round (KiB; {rss_start} at the start) | {} | {} | |",
            h.rss_after.iter().max().unwrap_or(&0),
            s.rss_after.iter().max().unwrap_or(&0)
        );
        for (name, c) in [("HTTP", h), ("HTTPS", s)] {
            if let Some(e) = &c.first_error {
                println!("first {name} error: {e}");
            }
        }
        Ok(())
    })?;
    report
}
