//! One probe at a time against real servers on 127.0.0.1: what is sent, and what each kind
//! of answer (or silence) makes of the probe.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use checks::outcome::Phase;
use checks::{
    CheckSpec, Failure, HttpCheck, HttpProtocol, Passed, ProbeResult, Prober, RegexCheck,
    StatusCodes, Url,
};
use common::{blackhole, closed_port, http_response, serve, serve_on, Behaviour, PATIENCE};
use md5::{Digest, Md5};

const HELLO: &str = "<html><h1>Hello Docker1</h1></html>";
const SHORT: Duration = Duration::from_millis(300);

fn http(addr: SocketAddr, url: Url) -> CheckSpec {
    let mut spec = CheckSpec::http(addr, HttpCheck::new(vec![url]));
    spec.timing.connect_timeout = SHORT;
    spec
}

fn tcp(addr: SocketAddr) -> CheckSpec {
    let mut spec = CheckSpec::tcp(addr);
    spec.timing.connect_timeout = SHORT;
    spec
}

async fn probe(spec: &CheckSpec) -> ProbeResult {
    let prober = Prober::new();
    tokio::time::timeout(PATIENCE, prober.run(spec, Some(0)))
        .await
        .expect("a probe always ends within its own deadlines")
}

fn failed(result: ProbeResult) -> Failure {
    match result {
        ProbeResult::Failed(failure) => failure,
        ProbeResult::Passed(passed) => panic!("expected a failure, got {passed:?}"),
    }
}

#[tokio::test]
async fn tcp_check_passes_on_a_listener_and_fails_on_a_closed_port() {
    let server = serve(Behaviour::Hangup).await;
    assert_eq!(
        probe(&tcp(server.addr)).await,
        ProbeResult::Passed(Passed::Connected)
    );
    assert_eq!(
        failed(probe(&tcp(closed_port().await)).await),
        Failure::Refused
    );
}

#[tokio::test]
async fn connect_timeout_when_syns_go_unanswered() {
    let hole = blackhole().await;
    let failure = failed(probe(&tcp(hole.addr)).await);
    assert_eq!(failure, Failure::ConnectTimeout(SHORT));
    assert_eq!(failure.to_string(), "connect timeout after 0.3 s");
}

#[tokio::test]
async fn http_get_sends_keepalived_request_and_passes_on_200() {
    let server = serve(Behaviour::Answer(http_response("200 OK", HELLO))).await;
    let result = probe(&http(server.addr, Url::new("/index.html"))).await;
    assert_eq!(result, ProbeResult::Passed(Passed::Http { status: 200 }));
    let requests = server.seen.requests.lock().unwrap().clone();
    assert_eq!(
        requests,
        [format!(
            "GET /index.html HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: {}\r\n\r\n",
            server.addr
        )
        .into_bytes()]
    );
}

#[tokio::test]
async fn http_503_fails_with_the_status_in_the_reason() {
    let server = serve(Behaviour::Answer(http_response("503 Busy", "busy"))).await;
    let failure = failed(probe(&http(server.addr, Url::new("/"))).await);
    assert_eq!(failure.to_string(), "HTTP status 503, expected 200-299");
}

#[tokio::test]
async fn status_code_given_in_the_url_is_the_one_that_passes() {
    let server = serve(Behaviour::Answer(http_response("302 Found", ""))).await;
    let mut url = Url::new("/");
    url.status_codes = StatusCodes::from_ranges([302..=302]).unwrap();
    assert_eq!(
        probe(&http(server.addr, url)).await,
        ProbeResult::Passed(Passed::Http { status: 302 })
    );
    let failure = failed(probe(&http(server.addr, Url::new("/"))).await);
    assert!(
        matches!(failure, Failure::Status { got: 302, .. }),
        "{failure}"
    );
}

#[tokio::test]
async fn digest_of_the_body_passes_and_a_wrong_one_fails() {
    let server = serve(Behaviour::Answer(http_response("200 OK", HELLO))).await;
    let right: [u8; 16] = Md5::digest(HELLO.as_bytes()).into();
    let mut url = Url::new("/");
    url.digest = Some(right);
    assert_eq!(
        probe(&http(server.addr, url.clone())).await,
        ProbeResult::Passed(Passed::Http { status: 200 })
    );
    url.digest = Some([0x11; 16]);
    let failure = failed(probe(&http(server.addr, url)).await);
    assert_eq!(
        failure,
        Failure::Digest {
            got: right,
            expected: [0x11; 16]
        }
    );
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_reading() {
    let server = serve(Behaviour::Silent).await;
    let failure = failed(probe(&http(server.addr, Url::new("/"))).await);
    assert_eq!(
        failure,
        Failure::Timeout {
            phase: Phase::Response,
            after: SHORT
        }
    );
}

#[tokio::test]
async fn a_server_that_closes_after_the_request_gives_no_response() {
    let server = serve(Behaviour::Answer(Vec::new())).await;
    let failure = failed(probe(&http(server.addr, Url::new("/"))).await);
    assert_eq!(failure, Failure::NoResponse);
}

#[tokio::test]
async fn http_on_a_closed_port_is_refused() {
    let failure = failed(probe(&http(closed_port().await, Url::new("/"))).await);
    assert_eq!(failure, Failure::Refused);
}

#[tokio::test]
async fn virtualhost_and_protocol_1_1_shape_the_request() {
    let server = serve(Behaviour::Answer(http_response("200 OK", HELLO))).await;
    let mut check = HttpCheck::new(vec![Url::new("/")]);
    check.virtualhost = Some("www.example.com".into());
    check.protocol = HttpProtocol::Http11;
    let mut spec = CheckSpec::http(server.addr, check);
    spec.timing.connect_timeout = SHORT;
    assert!(matches!(probe(&spec).await, ProbeResult::Passed(_)));
    let request = server.seen.requests.lock().unwrap()[0].clone();
    assert_eq!(
        String::from_utf8(request).unwrap(),
        "GET / HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\n\
         Host: www.example.com\r\n\r\n"
    );
}

#[tokio::test]
async fn bindto_sets_the_source_address() {
    // All of 127.0.0.0/8 is local on Linux: listen on .1, connect from .2.
    let server = serve_on(
        "127.0.0.1:0".parse().unwrap(),
        Behaviour::Answer(http_response("200 OK", HELLO)),
    )
    .await;
    let mut spec = http(server.addr, Url::new("/"));
    spec.bindto = Some("127.0.0.2".parse().unwrap());
    assert!(matches!(probe(&spec).await, ProbeResult::Passed(_)));
    let peers = server.seen.peers.lock().unwrap().clone();
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0].ip().to_string(), "127.0.0.2");
}

#[tokio::test]
async fn bindto_an_address_the_host_lacks_fails_without_sending_anything() {
    let server = serve(Behaviour::Hangup).await;
    let mut spec = tcp(server.addr);
    // TEST-NET-1: never configured here; the bind fails locally, no packet leaves.
    spec.bindto = Some("192.0.2.1".parse().unwrap());
    let failure = failed(probe(&spec).await);
    assert!(
        matches!(&failure, Failure::Bind { addr, .. } if addr.to_string() == "192.0.2.1"),
        "{failure}"
    );
    assert_eq!(server.seen.connections.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_non_http_answer_is_malformed() {
    let server = serve(Behaviour::Answer(b"SSH-2.0-OpenSSH_9.2\r\n".to_vec())).await;
    let failure = failed(probe(&http(server.addr, Url::new("/"))).await);
    assert!(matches!(failure, Failure::Malformed(_)), "{failure}");
}

#[tokio::test]
async fn http_get_over_ipv6_brackets_the_host() {
    let server = serve_on(
        "[::1]:0".parse().unwrap(),
        Behaviour::Answer(http_response("200 OK", HELLO)),
    )
    .await;
    let mut spec = http(server.addr, Url::new("/"));
    spec.bindto = Some("::1".parse().unwrap());
    assert_eq!(
        probe(&spec).await,
        ProbeResult::Passed(Passed::Http { status: 200 })
    );
    let request = server.seen.requests.lock().unwrap()[0].clone();
    let host = format!("\r\nHost: [::1]:{}\r\n\r\n", server.addr.port());
    assert!(
        String::from_utf8_lossy(&request).ends_with(&host),
        "{request:?}"
    );
}

#[tokio::test]
async fn status_code_ranges_and_lists_pass_their_codes_only() {
    // keepalived.conf: status_code 200-299 400-499 503
    let codes = StatusCodes::from_ranges([200..=299, 400..=499, 503..=503]).unwrap();
    for (status, passes) in [
        ("204 No Content", true),
        ("404 Not Found", true),
        ("503 Busy", true),
        ("500 Oops", false),
        ("302 Found", false),
    ] {
        let server = serve(Behaviour::Answer(http_response(status, ""))).await;
        let mut url = Url::new("/");
        url.status_codes = codes;
        let result = probe(&http(server.addr, url)).await;
        assert_eq!(
            matches!(result, ProbeResult::Passed(_)),
            passes,
            "{status}: {result:?}"
        );
    }
}

#[tokio::test]
async fn a_regex_on_the_body_decides_the_probe() {
    let server = serve(Behaviour::Answer(http_response("200 OK", HELLO))).await;
    let with = |regex: RegexCheck| {
        let mut url = Url::new("/");
        url.regex = Some(regex);
        http(server.addr, url)
    };
    assert_eq!(
        probe(&with(RegexCheck::new("Hello Docker[0-9]"))).await,
        ProbeResult::Passed(Passed::Http { status: 200 })
    );
    let failure = failed(probe(&with(RegexCheck::new("Goodbye"))).await);
    assert_eq!(failure.to_string(), "body does not match regex \"Goodbye\"");
    let no_match = RegexCheck {
        no_match: true,
        ..RegexCheck::new("(?i)hello")
    };
    let failure = failed(probe(&with(no_match)).await);
    assert_eq!(failure.to_string(), "body matches regex \"(?i)hello\"");
    // The match must start within the offsets: "Hello" is at byte 10 of the body.
    let offsets = RegexCheck {
        min_offset: 11,
        ..RegexCheck::new("Hello")
    };
    assert!(matches!(
        probe(&with(offsets)).await,
        ProbeResult::Failed(Failure::Regex { matched: false, .. })
    ));
}

#[tokio::test]
async fn after_its_verdict_an_http_probe_waits_for_the_server_to_close_first() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // keepalived reads every response to its end, so the server closes first and keeps
    // the TIME_WAIT. The server here answers, then waits a moment for the client's FIN.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = [0u8; 1024];
        let _ = stream.read(&mut request).await.unwrap();
        stream
            .write_all(&http_response("200 OK", HELLO))
            .await
            .unwrap();
        let mut rest = [0u8; 16];
        let client_closed_first = matches!(
            tokio::time::timeout(Duration::from_millis(300), stream.read(&mut rest)).await,
            Ok(Ok(0))
        );
        drop(stream);
        client_closed_first
    });
    assert_eq!(
        probe(&http(addr, Url::new("/"))).await,
        ProbeResult::Passed(Passed::Http { status: 200 })
    );
    let client_closed_first = tokio::time::timeout(PATIENCE, server)
        .await
        .unwrap()
        .unwrap();
    assert!(
        !client_closed_first,
        "the probe closed before the server did"
    );
}
