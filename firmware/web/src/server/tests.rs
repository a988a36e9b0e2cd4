//! The connection loop on an in-memory pipe (and the accept loop on loopback): keep-alive,
//! pipelining, and every limit, with a handler that echoes what it got.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::net::TcpSocket;

use super::*;

pub(super) struct Echo {
    pub(super) handled: AtomicUsize,
}

impl Handler for Echo {
    fn handle(&self, request: Request) -> Response {
        self.handled.fetch_add(1, Ordering::SeqCst);
        if request.head.path == "/panic" {
            panic!("a handler bug");
        }
        Response::text(
            200,
            format!(
                "{} {} {} bytes\n",
                request.head.method_text,
                request.head.path,
                request.body.len()
            ),
        )
    }
}

/// No certificate: the tests of plain connections need none.
pub(super) fn no_tls() -> Tls {
    watch::channel(None).1
}

pub(super) fn limits() -> ServerLimits {
    ServerLimits {
        head_timeout: Duration::from_millis(300),
        body_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_millis(300),
        write_timeout: Duration::from_millis(300),
        ..ServerLimits::default()
    }
}

/// Serves one connection on a pipe; the client's end and the server task.
fn connect(limits: ServerLimits) -> (DuplexStream, Arc<Echo>, JoinHandle<()>) {
    let echo = Arc::new(Echo {
        handled: AtomicUsize::new(0),
    });
    let shared = Shared::new(echo.clone(), limits, no_tls());
    let (client, server) = duplex(64 * 1024);
    let task = tokio::spawn(async move {
        serve_connection(server, "10.0.0.2".parse().unwrap(), None, true, &shared).await;
    });
    (client, echo, task)
}

/// Everything the server writes until it closes the connection.
async fn read_all(client: &mut DuplexStream) -> String {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), client.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

pub(super) fn statuses(text: &str) -> Vec<&str> {
    text.match_indices("HTTP/1.1 ")
        .map(|(i, _)| &text[i + 9..i + 12])
        .collect()
}

#[tokio::test]
async fn keep_alive_and_pipelined_requests_are_answered_in_order() {
    let (mut client, echo, task) = connect(limits());
    client
        .write_all(b"GET /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyzGET /c HTTP/1.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let text = read_all(&mut client).await;
    task.await.unwrap();
    assert_eq!(statuses(&text), ["200", "200", "200"], "{text}");
    assert!(text.contains("GET /a 0 bytes"));
    assert!(text.contains("POST /b 3 bytes"));
    assert!(text.contains("GET /c 0 bytes"));
    assert!(text.contains("Connection: keep-alive"));
    assert!(
        text.ends_with("GET /c 0 bytes\n"),
        "closed after the last: {text}"
    );
    assert_eq!(echo.handled.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_head_request_gets_the_head_only() {
    let (mut client, _, task) = connect(limits());
    client
        .write_all(b"HEAD /x HTTP/1.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let text = read_all(&mut client).await;
    task.await.unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("Content-Length: 16\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\n"), "{text}");
}

#[tokio::test]
async fn malformed_oversized_and_flooded_requests_get_one_answer_and_are_closed() {
    let flood: String = (0..200).map(|i| format!("X-{i}: y\r\n")).collect();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"GARBAGE\r\n\r\n".to_vec(), "400"),
        (b"GET / HTTP/1.1\r\nNo Colon\r\n\r\n".to_vec(), "400"),
        (format!("GET / HTTP/1.1\r\n{flood}\r\n").into_bytes(), "431"),
        (
            format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(20_000)).into_bytes(),
            "431",
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n".to_vec(),
            "413",
        ),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(),
            "501",
        ),
        (
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec(),
            "400",
        ),
    ];
    for (bytes, want) in cases {
        let (mut client, echo, task) = connect(limits());
        client.write_all(&bytes).await.unwrap();
        let text = read_all(&mut client).await;
        task.await.unwrap();
        assert_eq!(
            statuses(&text),
            [want],
            "{:?}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(60)])
        );
        assert!(text.contains("Connection: close"));
        assert_eq!(echo.handled.load(Ordering::SeqCst), 0, "no handler ran");
    }
}

#[tokio::test]
async fn slow_and_truncated_clients_are_cut_off() {
    // Half a head, then nothing: 408 after the head timeout.
    let (mut client, echo, task) = connect(limits());
    client.write_all(b"GET / HTTP/1.1\r\nHo").await.unwrap();
    let text = read_all(&mut client).await;
    task.await.unwrap();
    assert_eq!(statuses(&text), ["408"], "{text}");
    // A body shorter than announced, then nothing: 408.
    let (mut client, _, task) = connect(limits());
    client
        .write_all(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
        .await
        .unwrap();
    let text = read_all(&mut client).await;
    task.await.unwrap();
    assert_eq!(statuses(&text), ["408"], "{text}");
    // A body cut by the client closing: 400.
    let (mut client, _, task) = connect(limits());
    client
        .write_all(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
        .await
        .unwrap();
    client.shutdown().await.unwrap();
    let text = read_all(&mut client).await;
    task.await.unwrap();
    assert_eq!(statuses(&text), ["400"], "{text}");
    assert!(
        text.contains("the body ended after 3 of 10 bytes"),
        "{text}"
    );
    // An idle connection is closed without a word.
    let (mut client, _, task) = connect(limits());
    let text = read_all(&mut client).await;
    task.await.unwrap();
    assert_eq!(text, "");
    assert_eq!(echo.handled.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_handler_that_panics_is_a_500_and_the_server_goes_on() {
    let (mut client, echo, task) = connect(limits());
    client
        .write_all(b"GET /panic HTTP/1.1\r\n\r\nGET /after HTTP/1.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let text = read_all(&mut client).await;
    task.await.unwrap();
    assert_eq!(statuses(&text), ["500", "200"], "{text}");
    assert_eq!(echo.handled.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn bodies_beyond_the_shared_budget_are_refused() {
    let (mut client, _, task) = connect(ServerLimits {
        small_body: 4,
        body_budget: 10,
        ..limits()
    });
    client
        .write_all(b"POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n01234567890")
        .await
        .unwrap();
    let text = read_all(&mut client).await;
    task.await.unwrap();
    assert_eq!(statuses(&text), ["503"], "{text}");
}

#[tokio::test]
async fn connections_beyond_the_limit_get_503_on_loopback() {
    let echo = Arc::new(Echo {
        handled: AtomicUsize::new(0),
    });
    let shared = Shared::new(
        echo,
        ServerLimits {
            max_connections: 2,
            idle_timeout: Duration::from_secs(5),
            ..limits()
        },
        no_tls(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(accept_loop(listener, shared, Scheme::Http));
    let a = TcpStream::connect(addr).await.unwrap();
    let b = TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut c = TcpStream::connect(addr).await.unwrap();
    let mut text = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), c.read_to_string(&mut text)).await;
    assert_eq!(statuses(&text), ["503"], "{text}");
    // Once one closes, a new connection is served.
    drop(a);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut d = TcpStream::connect(addr).await.unwrap();
    d.write_all(b"GET /ok HTTP/1.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), d.read_to_string(&mut text)).await;
    assert_eq!(statuses(&text), ["200"], "{text}");
    drop(b);
    server.abort();
}

/// Connects to `addr` from the loopback address `from` (127.x.y.z), so that a test can
/// be several clients.
async fn connect_from(from: [u8; 4], addr: std::net::SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(std::net::SocketAddr::from((from, 0))).unwrap();
    socket.connect(addr).await.unwrap()
}

#[tokio::test]
async fn one_client_cannot_take_every_connection() {
    let echo = Arc::new(Echo {
        handled: AtomicUsize::new(0),
    });
    let shared = Shared::new(
        echo,
        ServerLimits {
            idle_timeout: Duration::from_secs(5),
            ..limits()
        },
        no_tls(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(accept_loop(listener, shared, Scheme::Http));
    // One client opens as many idle connections as the server takes in all.
    let mut held = Vec::new();
    for _ in 0..ServerLimits::default().max_connections {
        held.push(connect_from([127, 0, 0, 1], addr).await);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Another client still gets in.
    let mut other = connect_from([127, 0, 0, 2], addr).await;
    other
        .write_all(b"POST /login HTTP/1.1\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc")
        .await
        .unwrap();
    let mut text = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), other.read_to_string(&mut text)).await;
    assert_eq!(statuses(&text), ["200"], "{text}");
    drop(held);
    server.abort();
}

#[tokio::test]
async fn announced_large_bodies_do_not_starve_a_login() {
    let echo = Arc::new(Echo {
        handled: AtomicUsize::new(0),
    });
    let shared = Shared::new(echo, limits(), no_tls());
    // Four connections announce 2 MiB bodies (all of the shared budget) and send none.
    let mut uploads = Vec::new();
    for _ in 0..4 {
        let (mut client, server) = duplex(64 * 1024);
        let shared = shared.clone();
        uploads.push(tokio::spawn(async move {
            serve_connection(server, "10.0.0.3".parse().unwrap(), None, true, &shared).await;
        }));
        client
            .write_all(b"POST /config/keepalived HTTP/1.1\r\nContent-Length: 2097152\r\n\r\n")
            .await
            .unwrap();
        uploads.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(250)).await;
            drop(client);
        }));
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (mut client, server) = duplex(64 * 1024);
    let task = {
        let shared = shared.clone();
        tokio::spawn(async move {
            serve_connection(server, "10.0.0.4".parse().unwrap(), None, true, &shared).await;
        })
    };
    client
        .write_all(b"POST /login HTTP/1.1\r\nContent-Length: 20\r\nConnection: close\r\n\r\npassword=0123456789a")
        .await
        .unwrap();
    let text = read_all(&mut client).await;
    task.await.unwrap();
    assert_eq!(statuses(&text), ["200"], "{text}");
    for u in uploads {
        u.await.unwrap();
    }
}
