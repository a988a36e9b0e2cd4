//! The table's bookkeeping against UDP servers on 127.0.0.1; every wait is bounded.

use std::time::Duration;

use tokio::net::UdpSocket as TokioUdp;

use super::*;
use crate::spec::CheckSpec;
use crate::udp::UdpCheck;

const PATIENCE: Duration = Duration::from_secs(10);

fn udp_check(to: SocketAddr, timeout: Duration) -> Arc<PreparedCheck> {
    let mut spec = CheckSpec::udp(to, UdpCheck::default());
    spec.timing.connect_timeout = timeout;
    Arc::new(PreparedCheck::new(spec))
}

/// A UDP server that echoes each datagram `copies` times.
async fn echo_server(copies: usize) -> (SocketAddr, JoinHandle<()>) {
    let socket = TokioUdp::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut buffer = [0u8; 2048];
        while let Ok((len, from)) = socket.recv_from(&mut buffer).await {
            for _ in 0..copies {
                let _ = socket.send_to(&buffer[..len], from).await;
            }
        }
    });
    (addr, task)
}

async fn next<T>(rx: &mut mpsc::UnboundedReceiver<(T, ProbeResult)>) -> (T, ProbeResult) {
    tokio::time::timeout(PATIENCE, rx.recv())
        .await
        .expect("a result within the test's patience")
        .expect("the channel stays open")
}

#[tokio::test]
async fn two_probes_to_one_server_go_out_on_two_sockets_and_each_gets_its_reply() {
    let (server, _task) = echo_server(1).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut datagrams = Datagrams::new(tx);
    let check = udp_check(server, PATIENCE);
    let first = datagrams.start(check.clone(), 1u32);
    let second = datagrams.start(check, 2u32);
    assert_ne!(first.key.socket, second.key.socket);
    assert_eq!(first.key.tag, second.key.tag);
    let mut tokens = Vec::new();
    for _ in 0..2 {
        let (token, result) = next(&mut rx).await;
        assert_eq!(result, ProbeResult::Passed(Passed::Reply { len: 32 }));
        tokens.push(token);
    }
    tokens.sort_unstable();
    assert_eq!(tokens, [1, 2]);
    assert_eq!(datagrams.pending(), 0);
    // Both sockets are free again: the next probe takes the first.
    let third = datagrams.start(udp_check(server, PATIENCE), 3u32);
    assert_eq!(third.key.socket, first.key.socket);
    assert_eq!(next(&mut rx).await.0, 3);
}

#[tokio::test]
async fn one_reply_per_probe_even_when_the_server_answers_twice() {
    let (server, _task) = echo_server(2).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut datagrams = Datagrams::new(tx);
    datagrams.start(udp_check(server, PATIENCE), 1u32);
    assert_eq!(next(&mut rx).await.0, 1);
    // The second copy finds no probe pending; give it time to arrive.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(rx.try_recv().is_err());
}

#[tokio::test]
async fn a_silent_server_gives_its_verdict_when_the_timeout_is_expired() {
    // Bound and never read: no reply, and no ICMP error either.
    let silent = TokioUdp::bind("127.0.0.1:0").await.unwrap();
    let to = silent.local_addr().unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut datagrams = Datagrams::new(tx);
    let timeout = Duration::from_millis(50);
    datagrams.start(udp_check(to, timeout), 1u32);
    let mut require = CheckSpec::udp(
        to,
        UdpCheck {
            require_reply: true,
            ..UdpCheck::default()
        },
    );
    require.timing.connect_timeout = timeout;
    let started = datagrams.start(Arc::new(PreparedCheck::new(require)), 2u32);
    assert_ne!(started.key.socket, 0, "a second probe to the same port");
    // Nothing before the deadline.
    datagrams.expire(Instant::now());
    assert!(rx.try_recv().is_err());
    let wake = datagrams.next_wake().expect("a timeout is pending");
    tokio::time::sleep_until(wake).await;
    datagrams.expire(Instant::now());
    let mut results = [next(&mut rx).await, next(&mut rx).await];
    results.sort_by_key(|(token, _)| *token);
    assert_eq!(results[0].1, ProbeResult::Passed(Passed::NoError));
    assert_eq!(results[1].1, ProbeResult::Failed(Failure::NoReply(timeout)));
    assert_eq!(datagrams.next_wake(), None);
}

#[tokio::test]
async fn a_forgotten_probe_gives_no_result() {
    let silent = TokioUdp::bind("127.0.0.1:0").await.unwrap();
    let to = silent.local_addr().unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut datagrams = Datagrams::new(tx);
    let started = datagrams.start(udp_check(to, Duration::from_millis(20)), 1u32);
    assert!(datagrams.forget(started));
    assert!(!datagrams.forget(started), "only once");
    tokio::time::sleep(Duration::from_millis(40)).await;
    datagrams.expire(Instant::now());
    assert!(rx.try_recv().is_err());
    assert_eq!(datagrams.pending(), 0);
}

#[tokio::test]
async fn a_closed_port_fails_at_once_with_port_unreachable() {
    let closed = TokioUdp::bind("127.0.0.1:0").await.unwrap();
    let to = closed.local_addr().unwrap();
    drop(closed);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut datagrams = Datagrams::new(tx);
    // A timeout far beyond the test's patience: the verdict must come from the ICMP error.
    datagrams.start(udp_check(to, PATIENCE * 10), 1u32);
    let (_, result) = next(&mut rx).await;
    assert_eq!(
        result,
        ProbeResult::Failed(Failure::Unreachable(Unreachable { v6: false, code: 3 }))
    );
    // The error left on the socket does not fail the next probe, to a live server.
    let (server, _task) = echo_server(1).await;
    datagrams.start(udp_check(server, PATIENCE), 2u32);
    assert_eq!(
        next(&mut rx).await,
        (2, ProbeResult::Passed(Passed::Reply { len: 32 }))
    );
}
