//! The scheduler end to end: real servers on 127.0.0.1 turned bad and good again, with
//! short keepalived timers. Waits are bounded; nothing asserts how long anything took.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::Duration;

use checks::{
    CheckSpec, DnsCheck, Handle, Health, HttpCheck, Limits, Report, Scheduler, Timing, UdpCheck,
    Url,
};
use common::{http_response, serve, Behaviour, Server, PATIENCE};
use tokio::sync::mpsc;

fn fast() -> Timing {
    Timing {
        connect_timeout: Duration::from_millis(500),
        retry: 1,
        delay_before_retry: Duration::from_millis(50),
        delay_loop: Duration::from_millis(100),
        warmup: Duration::ZERO,
        alpha: false,
    }
}

fn http(addr: SocketAddr, path: &str) -> CheckSpec {
    CheckSpec {
        timing: fast(),
        ..CheckSpec::http(addr, HttpCheck::new(vec![Url::new(path)]))
    }
}

/// A server answering with the status in `status` at the time of each request.
async fn switchable() -> (Server, Arc<AtomicU16>) {
    let status = Arc::new(AtomicU16::new(200));
    let now = status.clone();
    let server = serve(Behaviour::Dynamic(Arc::new(move || {
        let code = now.load(Ordering::SeqCst);
        http_response(&format!("{code} X"), "body")
    })))
    .await;
    (server, status)
}

fn start(config: Limits) -> (Handle<u32>, mpsc::Receiver<Report<u32>>) {
    let (scheduler, handle) = Scheduler::new(config);
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(scheduler.run(tx));
    (handle, rx)
}

/// The next report of a change (a first result that confirms the starting state is
/// skipped).
async fn next(reports: &mut mpsc::Receiver<Report<u32>>) -> Report<u32> {
    loop {
        let report = tokio::time::timeout(PATIENCE, reports.recv())
            .await
            .expect("a report within the test's patience")
            .expect("scheduler running");
        if report.changed {
            return report;
        }
    }
}

/// Nothing changed so far: at most the first result, confirming the server is up.
fn no_change_but_up(reports: &mut mpsc::Receiver<Report<u32>>) {
    let mut confirmed = 0;
    while let Ok(report) = reports.try_recv() {
        assert!(!report.changed, "{report:?}");
        assert_eq!(report.health, Health::Up, "{report:?}");
        confirmed += 1;
    }
    assert!(confirmed <= 1, "the first result only");
}

/// Waits (bounded) until `done` holds, checking every 10 ms.
async fn until(mut done: impl FnMut() -> bool) {
    let wait = async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(PATIENCE, wait)
        .await
        .expect("condition within the test's patience");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_goes_down_on_503_and_comes_back_on_200() {
    let (server, status) = switchable().await;
    let (handle, mut reports) = start(Limits::default());
    handle.set(7, http(server.addr, "/health")).await.unwrap();

    // Up from the start (no alpha): no change while it answers 200.
    until(|| server.seen.connections.load(Ordering::SeqCst) >= 2).await;
    no_change_but_up(&mut reports);

    status.store(503, Ordering::SeqCst);
    let down = next(&mut reports).await;
    assert_eq!((down.id, down.health), (7, Health::Down));
    assert_eq!(
        down.reason,
        format!(
            "HTTP_GET {}/health: HTTP status 503, expected 200-299 (2 attempts)",
            server.addr
        )
    );

    status.store(200, Ordering::SeqCst);
    let up = next(&mut reports).await;
    assert_eq!((up.id, up.health), (7, Health::Up));
    assert_eq!(
        up.reason,
        format!("HTTP_GET {}/health: HTTP status 200", server.addr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_check_stops_probing() {
    let server = serve(Behaviour::Answer(http_response("200 OK", "x"))).await;
    let (handle, _reports) = start(Limits::default());
    handle.set(1, http(server.addr, "/")).await.unwrap();
    until(|| server.seen.connections.load(Ordering::SeqCst) >= 2).await;
    handle.remove(1).await.unwrap();
    // The removal is processed before the next command; a probe already out may still
    // land, nothing after it.
    handle.set(2, http(server.addr, "/other")).await.unwrap();
    let at_removal = server.seen.connections.load(Ordering::SeqCst);
    until(|| {
        let requests = server.seen.requests.lock().unwrap();
        requests
            .iter()
            .filter(|r| r.starts_with(b"GET /other "))
            .count()
            >= 3
    })
    .await;
    let requests = server.seen.requests.lock().unwrap();
    let late = requests[at_removal..]
        .iter()
        .filter(|r| r.starts_with(b"GET / "))
        .count();
    assert!(
        late <= 1,
        "{late} probes of the removed check after its removal"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_check_keeps_the_health_it_had() {
    let (server, status) = switchable().await;
    status.store(503, Ordering::SeqCst);
    let (handle, mut reports) = start(Limits::default());
    handle.set(3, http(server.addr, "/a")).await.unwrap();
    assert_eq!(next(&mut reports).await.health, Health::Down);

    // A new path on a server that still fails: it stays down, so nothing is reported;
    // when the server recovers, the changed check reports it up.
    handle.set(3, http(server.addr, "/b")).await.unwrap();
    until(|| {
        let requests = server.seen.requests.lock().unwrap();
        requests
            .iter()
            .filter(|r| r.starts_with(b"GET /b "))
            .count()
            >= 2
    })
    .await;
    status.store(200, Ordering::SeqCst);
    let up = next(&mut reports).await;
    assert_eq!(up.health, Health::Up);
    assert!(up.reason.contains("/b: HTTP status 200"), "{}", up.reason);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setting_an_invalid_check_is_refused() {
    let (handle, _reports) = start(Limits::default());
    let spec = CheckSpec::http("127.0.0.1:80".parse().unwrap(), HttpCheck::new(Vec::new()));
    let error = handle.set(1, spec).await.unwrap_err();
    assert!(error.to_string().contains("no url"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_more_probes_in_flight_than_configured() {
    // Slow answers keep each connection open a while, so probes pile up if allowed to.
    let answer = http_response("200 OK", "x");
    let server = serve(Behaviour::Slow(Duration::from_millis(20), answer)).await;
    let (handle, mut reports) = start(Limits { max_in_flight: 4 });
    // Read the reports (each server's first result), as the balancer does.
    tokio::spawn(async move { while reports.recv().await.is_some() {} });
    for id in 0..100 {
        handle.set(id, http(server.addr, "/")).await.unwrap();
    }
    until(|| server.seen.connections.load(Ordering::SeqCst) >= 200).await;
    let stats = handle.stats();
    assert_eq!(stats.checkers, 100);
    assert!(stats.in_flight <= 4, "{stats:?}");
    assert!(stats.probes_started >= 200, "{stats:?}");
    let max_open = server.seen.max_open.load(Ordering::SeqCst);
    assert!(max_open <= 4, "{max_open} connections open at once");
    assert!(
        max_open >= 2,
        "the probes did run side by side ({max_open})"
    );
}

/// A UDP echo server on `addr` (port 0: any) that counts what it got, until dropped.
async fn udp_echo(
    addr: SocketAddr,
    count: Arc<AtomicU16>,
) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let socket = tokio::net::UdpSocket::bind(addr).await.unwrap();
    let addr = socket.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut buffer = [0u8; 512];
        while let Ok((len, from)) = socket.recv_from(&mut buffer).await {
            count.fetch_add(1, Ordering::SeqCst);
            let _ = socket.send_to(&buffer[..len], from).await;
        }
    });
    (addr, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_udp_server_goes_down_when_its_port_closes_and_comes_back() {
    let count = Arc::new(AtomicU16::new(0));
    let (addr, server) = udp_echo("127.0.0.1:0".parse().unwrap(), count.clone()).await;
    let (handle, mut reports) = start(Limits::default());
    let check = UdpCheck {
        require_reply: true,
        ..UdpCheck::default()
    };
    let spec = CheckSpec {
        timing: fast(),
        ..CheckSpec::udp(addr, check)
    };
    handle.set(9, spec).await.unwrap();
    until(|| count.load(Ordering::SeqCst) >= 2).await;
    no_change_but_up(&mut reports);

    server.abort();
    let down = next(&mut reports).await;
    assert_eq!((down.id, down.health), (9, Health::Down));
    assert_eq!(
        down.reason,
        format!("UDP_CHECK {addr}: ICMP port unreachable (code 3) (2 attempts)")
    );

    let (_, _server) = udp_echo(addr, count.clone()).await;
    let up = next(&mut reports).await;
    assert_eq!((up.id, up.health), (9, Health::Up));
    assert_eq!(
        up.reason,
        format!("UDP_CHECK {addr}: UDP reply of 32 bytes")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_datagram_check_gives_back_its_place() {
    // A server that never answers, and a check that would wait long for it.
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut spec = CheckSpec::dns(silent.local_addr().unwrap(), DnsCheck::default());
    spec.timing = Timing {
        connect_timeout: PATIENCE * 10,
        ..fast()
    };
    let (handle, _reports) = start(Limits::default());
    handle.set(1, spec).await.unwrap();
    let mut buffer = [0u8; 512];
    tokio::time::timeout(PATIENCE, silent.recv_from(&mut buffer))
        .await
        .expect("the query within the test's patience")
        .unwrap();
    until(|| handle.stats().in_flight == 1).await;
    handle.remove(1).await.unwrap();
    until(|| handle.stats().in_flight == 0 && handle.stats().checkers == 0).await;
}
