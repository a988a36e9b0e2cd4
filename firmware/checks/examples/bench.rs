//! Benchmark: thousands of real servers checked with `delay_loop 1`, on 127.0.0.0/8 only.
//!
//! ```text
//! cargo run --release -p lvsfw-checks --example bench [-- --servers 2000 --seconds 10 --runs 3
//!     --checks TCP_CHECK,HTTP_GET,...]
//! ```
//!
//! Three processes' worth of roles, all this one binary:
//! - the driver (no arguments) starts the servers, runs each scenario `--runs` times and
//!   prints a table of medians;
//! - `serve`: 200 HTTP and 200 TLS listeners on 127.0.1.x and 127.0.2.x, answering every
//!   request with a small page, and 200 UDP echo sockets on 127.0.1.x; a process of its
//!   own so that its CPU is not counted (PING_CHECK's echo replies come from the kernel,
//!   in whichever process sent the request);
//! - `measure`: one scheduler on a current-thread runtime (one core) checking `--servers`
//!   checkers spread over those listeners. After the start-up spread (1 s + warmup) it
//!   measures its own CPU time (getrusage) over `--seconds` of wall time, and its peak RSS.

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use checks::{CheckSpec, Health, HttpCheck, Limits, Scheduler, UdpCheck, Url};
use md5::{Digest, Md5};
use nix::sys::resource::{getrlimit, getrusage, setrlimit, Resource, UsageWho};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

const BODY: &str = "<html><h1>Hello Docker1</h1></html>";
const LISTENERS: u8 = 200;
/// The server process ends by itself after this, whatever happens to the driver.
const SERVER_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// Start-up spread before measuring: 1 s bootstrap + warmup (1 s) + margin.
const SETTLE: Duration = Duration::from_millis(2500);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Scenario {
    Tcp,
    Http,
    HttpDigest,
    Ssl,
    Ping,
    Udp,
}

impl Scenario {
    const ALL: [Scenario; 6] = [
        Scenario::Tcp,
        Scenario::Http,
        Scenario::HttpDigest,
        Scenario::Ssl,
        Scenario::Ping,
        Scenario::Udp,
    ];

    fn name(self) -> &'static str {
        match self {
            Scenario::Tcp => "TCP_CHECK",
            Scenario::Http => "HTTP_GET",
            Scenario::HttpDigest => "HTTP_GET+digest",
            Scenario::Ssl => "SSL_GET",
            Scenario::Ping => "PING_CHECK",
            Scenario::Udp => "UDP_CHECK",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

struct Options {
    servers: usize,
    seconds: u64,
    runs: usize,
    checks: Vec<Scenario>,
}

fn option(args: &[String], name: &str, default: u64) -> u64 {
    args.windows(2)
        .find(|w| w[0] == name)
        .map(|w| {
            w[1].parse()
                .unwrap_or_else(|_| panic!("{name} takes a number"))
        })
        .unwrap_or(default)
}

fn main() {
    raise_fd_limit();
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("serve") => serve(),
        Some("measure") => measure(&args),
        _ => drive(Options {
            servers: option(&args, "--servers", 2000) as usize,
            seconds: option(&args, "--seconds", 10),
            runs: option(&args, "--runs", 3) as usize,
            checks: match args.windows(2).find(|w| w[0] == "--checks") {
                Some(w) => w[1]
                    .split(',')
                    .map(|name| Scenario::parse(name).unwrap_or_else(|| panic!("no check {name}")))
                    .collect(),
                None => Scenario::ALL.to_vec(),
            },
        }),
    }
}

fn raise_fd_limit() {
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

// ---- driver ---------------------------------------------------------------------------

struct Measured {
    cpu_percent: f64,
    user_percent: f64,
    probes_per_second: f64,
    peak_rss_mib: f64,
    downs: u64,
}

fn drive(options: Options) {
    let exe = std::env::current_exe().unwrap();
    let mut server = Command::new(&exe)
        .arg("serve")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the server process");
    let (http, tls, udp) = read_addresses(&mut server);

    println!(
        "{} real servers, delay_loop 1 s, warmup 1 s; {} s measured after {} s settling; \
         median of {} runs",
        options.servers,
        options.seconds,
        SETTLE.as_secs_f64(),
        options.runs
    );
    println!(
        "{:<16} {:>9} {:>26} {:>7} {:>13} {:>6}",
        "check", "probes/s", "CPU % of one core (runs)", "user %", "peak RSS MiB", "downs"
    );
    for &scenario in &options.checks {
        let targets = match scenario {
            Scenario::Ssl => &tls,
            Scenario::Udp => &udp,
            _ => &http,
        };
        let mut runs: Vec<Measured> = (0..options.runs)
            .map(|_| run_measure(&exe, scenario, &options, targets))
            .collect();
        let median = |runs: &mut Vec<Measured>, key: fn(&Measured) -> f64| {
            runs.sort_by(|a, b| key(a).total_cmp(&key(b)));
            key(&runs[runs.len() / 2])
        };
        let probes = median(&mut runs, |m| m.probes_per_second);
        let rss = median(&mut runs, |m| m.peak_rss_mib);
        let downs: u64 = runs.iter().map(|m| m.downs).sum();
        let user = median(&mut runs, |m| m.user_percent);
        let cpu = median(&mut runs, |m| m.cpu_percent);
        let all_cpu: Vec<String> = runs
            .iter()
            .map(|m| format!("{:.1}", m.cpu_percent))
            .collect();
        println!(
            "{:<16} {:>9.0} {:>26} {:>7.1} {:>13.1} {:>6}",
            scenario.name(),
            probes,
            format!("{cpu:.1} ({})", all_cpu.join("/")),
            user,
            rss,
            downs
        );
    }
    // Closing its stdin ends the server; kill it only if it does not go.
    drop(server.stdin.take());
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = server.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = server.kill();
    let _ = server.wait();
}

type Addresses = Vec<SocketAddr>;

fn read_addresses(server: &mut Child) -> (Addresses, Addresses, Addresses) {
    let stdout = server.stdout.take().unwrap();
    let (mut http, mut tls, mut udp) = (Vec::new(), Vec::new(), Vec::new());
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("server output");
        match line.split_once(' ') {
            Some(("http", addr)) => http.push(addr.parse().unwrap()),
            Some(("tls", addr)) => tls.push(addr.parse().unwrap()),
            Some(("udp", addr)) => udp.push(addr.parse().unwrap()),
            _ if line == "ready" => return (http, tls, udp),
            _ => panic!("unexpected server output {line:?}"),
        }
    }
    panic!("server ended before it was ready");
}

fn run_measure(
    exe: &std::path::Path,
    scenario: Scenario,
    options: &Options,
    targets: &[SocketAddr],
) -> Measured {
    let list: Vec<String> = targets.iter().map(ToString::to_string).collect();
    let output = Command::new(exe)
        .args(["measure", "--scenario", scenario.name()])
        .args(["--servers", &options.servers.to_string()])
        .args(["--seconds", &options.seconds.to_string()])
        .args(["--targets", &list.join(",")])
        .output()
        .expect("run a measurement");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no result from measure: {stdout}"));
    let fields: Vec<f64> = line.split(' ').map(|f| f.parse().unwrap()).collect();
    Measured {
        cpu_percent: fields[0],
        user_percent: fields[1],
        probes_per_second: fields[2],
        peak_rss_mib: fields[3],
        downs: fields[4] as u64,
    }
}

// ---- measure --------------------------------------------------------------------------

fn measure(args: &[String]) {
    let value = |name: &str| {
        args.windows(2)
            .find(|w| w[0] == name)
            .map(|w| w[1].clone())
            .unwrap_or_else(|| panic!("measure needs {name}"))
    };
    let scenario = Scenario::parse(&value("--scenario")).expect("a known scenario");
    let servers: usize = value("--servers").parse().unwrap();
    let seconds: u64 = value("--seconds").parse().unwrap();
    let targets: Vec<SocketAddr> = value("--targets")
        .split(',')
        .map(|a| a.parse().unwrap())
        .collect();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let (scheduler, handle) = Scheduler::new(Limits::default());
        let (reports_tx, mut reports) = tokio::sync::mpsc::channel(1024);
        tokio::spawn(scheduler.run(reports_tx));
        for id in 0..servers {
            let spec = spec(scenario, targets[id % targets.len()]);
            handle.set(id, spec).await.expect("a valid check");
        }
        let downs = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counted = downs.clone();
        tokio::spawn(async move {
            while let Some(report) = reports.recv().await {
                if report.health == Health::Down {
                    counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    eprintln!("{:?}: {}", report.id, report.reason);
                }
            }
        });

        tokio::time::sleep(SETTLE).await;
        let (cpu0, probes0, wall0) = (cpu_time(), handle.stats().probes_started, Instant::now());
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        let (cpu1, probes1, wall1) = (cpu_time(), handle.stats().probes_started, Instant::now());

        let wall = (wall1 - wall0).as_secs_f64();
        let cpu_percent = 100.0 * (cpu1.total() - cpu0.total()).as_secs_f64() / wall;
        let user_percent = 100.0 * (cpu1.user - cpu0.user).as_secs_f64() / wall;
        let probes_per_second = (probes1 - probes0) as f64 / wall;
        let peak_rss_mib = peak_rss_kib() as f64 / 1024.0;
        let downs = downs.load(std::sync::atomic::Ordering::Relaxed);
        println!(
            "RESULT {cpu_percent:.2} {user_percent:.2} {probes_per_second:.1} {peak_rss_mib:.2} \
             {downs}"
        );
    });
}

fn spec(scenario: Scenario, target: SocketAddr) -> CheckSpec {
    let mut url = Url::new("/");
    if scenario == Scenario::HttpDigest {
        url.digest = Some(Md5::digest(BODY.as_bytes()).into());
    }
    let mut http = HttpCheck::new(vec![url]);
    http.tls = scenario == Scenario::Ssl;
    // keepalived's defaults but for the loop: connect_timeout 5 s, retry 1, ...
    let mut spec = match scenario {
        Scenario::Tcp => CheckSpec::tcp(target),
        Scenario::Ping => CheckSpec::ping(target.ip()),
        // A reply is required, so that each probe ends with its answer, not its timeout.
        Scenario::Udp => CheckSpec::udp(
            target,
            UdpCheck {
                require_reply: true,
                ..UdpCheck::default()
            },
        ),
        _ => CheckSpec::http(target, http),
    };
    spec.timing.delay_loop = Duration::from_secs(1);
    spec.timing.warmup = Duration::from_secs(1);
    spec
}

struct CpuTime {
    user: Duration,
    system: Duration,
}

impl CpuTime {
    fn total(&self) -> Duration {
        self.user + self.system
    }
}

fn cpu_time() -> CpuTime {
    let usage = getrusage(UsageWho::RUSAGE_SELF).expect("getrusage");
    let duration = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec() as u64) + Duration::from_micros(t.tv_usec() as u64)
    };
    CpuTime {
        user: duration(usage.user_time()),
        system: duration(usage.system_time()),
    }
}

/// Linux reports ru_maxrss in KiB.
fn peak_rss_kib() -> i64 {
    getrusage(UsageWho::RUSAGE_SELF)
        .map(|u| u.max_rss())
        .unwrap_or(0)
}

// ---- serve ----------------------------------------------------------------------------

fn serve() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let response: Arc<[u8]> = format!(
            "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{BODY}",
            BODY.len()
        )
        .into_bytes()
        .into();
        let acceptor = tls_acceptor();
        let mut out = std::io::stdout().lock();
        for (kind, net) in [("http", 1u8), ("tls", 2u8)] {
            for host in 1..=LISTENERS {
                let ip = IpAddr::V4(Ipv4Addr::new(127, 0, net, host));
                let listener = TcpListener::bind(SocketAddr::new(ip, 0)).await.unwrap();
                writeln!(out, "{kind} {}", listener.local_addr().unwrap()).unwrap();
                let acceptor = (kind == "tls").then(|| acceptor.clone());
                tokio::spawn(accept(listener, acceptor, response.clone()));
            }
        }
        for host in 1..=LISTENERS {
            let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 1, host));
            let socket = UdpSocket::bind(SocketAddr::new(ip, 0)).await.unwrap();
            writeln!(out, "udp {}", socket.local_addr().unwrap()).unwrap();
            tokio::spawn(echo(socket));
        }
        writeln!(out, "ready").unwrap();
        out.flush().unwrap();
        drop(out);
        // Until the driver closes our stdin (or our lifetime is over).
        let stdin_closed = tokio::task::spawn_blocking(|| {
            let mut sink = String::new();
            while std::io::stdin().read_line(&mut sink).is_ok_and(|n| n > 0) {
                sink.clear();
            }
        });
        let _ = tokio::time::timeout(SERVER_LIFETIME, stdin_closed).await;
    });
    // The blocking stdin reader may still be parked; leave without waiting for it.
    std::process::exit(0);
}

async fn accept(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    response: Arc<[u8]>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let tls = tls.clone();
        let response = response.clone();
        tokio::spawn(async move {
            let answer = async {
                match tls {
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(stream).await {
                            answer(stream, &response).await;
                        }
                    }
                    None => answer(stream, &response).await,
                }
            };
            let _ = tokio::time::timeout(Duration::from_secs(10), answer).await;
        });
    }
}

async fn echo(socket: UdpSocket) {
    let mut buffer = [0u8; 2048];
    while let Ok((len, from)) = socket.recv_from(&mut buffer).await {
        let _ = socket.send_to(&buffer[..len], from).await;
    }
}

async fn answer<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, response: &[u8]) {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 8192 {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let _ = stream.write_all(response).await;
    let _ = stream.shutdown().await;
}

fn tls_acceptor() -> tokio_rustls::TlsAcceptor {
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let certified = rcgen::generate_simple_self_signed(vec!["bench.example".into()]).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}
