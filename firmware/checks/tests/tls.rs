//! SSL_GET against a TLS server on 127.0.0.1 with a self-signed certificate made here.

#![cfg(feature = "tls")]

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use checks::outcome::Phase;
use checks::{CheckKind, CheckSpec, Failure, HttpCheck, Passed, ProbeResult, Prober, Url};
use common::{accept_loop, http_response, serve, Behaviour, Seen, Server, Stream, PATIENCE};
use md5::{Digest, Md5};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

const BODY: &str = "<html><h1>Hello TLS</h1></html>";

/// A TLS acceptor with a self-signed certificate made here.
fn acceptor() -> TlsAcceptor {
    let certified = rcgen::generate_simple_self_signed(vec!["real.example".into()]).unwrap();
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
    TlsAcceptor::from(Arc::new(config))
}

/// A TLS server answering `response`; the SNI of each handshake lands in `sni`.
async fn tls_server(response: Vec<u8>, sni: Arc<Mutex<Vec<Option<String>>>>) -> Server {
    let acceptor = acceptor();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let task = tokio::spawn(accept_loop(listener, seen.clone(), move |stream| {
        let acceptor = acceptor.clone();
        let response = response.clone();
        let sni = sni.clone();
        async move {
            let tls = tokio::time::timeout(PATIENCE, acceptor.accept(stream))
                .await
                .ok()?
                .ok()?;
            let name = tls.get_ref().1.server_name().map(str::to_owned);
            sni.lock().unwrap().push(name);
            Some((
                Box::new(tls) as Box<dyn Stream>,
                Behaviour::Answer(response),
            ))
        }
    }));
    Server::from_parts(addr, seen, task)
}

fn ssl_get(addr: SocketAddr, url: Url) -> CheckSpec {
    let mut check = HttpCheck::new(vec![url]);
    check.tls = true;
    let mut spec = CheckSpec::http(addr, check);
    spec.timing.connect_timeout = Duration::from_secs(2);
    spec
}

async fn probe(spec: &CheckSpec) -> ProbeResult {
    tokio::time::timeout(PATIENCE, Prober::new().run(spec, Some(0)))
        .await
        .expect("a probe always ends within its own deadlines")
}

#[tokio::test]
async fn ssl_get_accepts_a_self_signed_certificate_and_checks_the_digest() {
    let sni = Arc::default();
    let server = tls_server(http_response("200 OK", BODY), sni).await;
    let mut url = Url::new("/");
    url.digest = Some(Md5::digest(BODY.as_bytes()).into());
    assert_eq!(
        probe(&ssl_get(server.addr, url.clone())).await,
        ProbeResult::Passed(Passed::Http { status: 200 })
    );
    url.digest = Some([0; 16]);
    assert!(matches!(
        probe(&ssl_get(server.addr, url)).await,
        ProbeResult::Failed(Failure::Digest { .. })
    ));
    let request = server.seen.requests.lock().unwrap()[0].clone();
    assert!(request.starts_with(b"GET / HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\n"));
}

#[tokio::test]
async fn ssl_get_sends_sni_only_when_enabled() {
    let sni = Arc::new(Mutex::new(Vec::new()));
    let server = tls_server(http_response("200 OK", BODY), sni.clone()).await;
    let mut spec = ssl_get(server.addr, Url::new("/"));
    assert!(matches!(probe(&spec).await, ProbeResult::Passed(_)));
    if let checks::CheckKind::Http(http) = &mut spec.kind {
        http.enable_sni = true;
        http.virtualhost = Some("www.example.com".into());
    }
    assert!(matches!(probe(&spec).await, ProbeResult::Passed(_)));
    assert_eq!(
        *sni.lock().unwrap(),
        [None, Some("www.example.com".to_owned())]
    );
}

#[tokio::test]
async fn ssl_get_against_a_server_that_speaks_no_tls_fails_in_the_handshake() {
    let server = serve(Behaviour::Greet(b"SSH-2.0-OpenSSH_9.2\r\n".to_vec())).await;
    let result = probe(&ssl_get(server.addr, Url::new("/"))).await;
    assert!(
        matches!(&result, ProbeResult::Failed(Failure::Tls(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn ssl_get_against_a_server_that_waits_times_out_in_the_handshake() {
    // A plain HTTP server waits for the blank line that ends a request; a ClientHello
    // has none, so nothing comes back.
    let server = serve(Behaviour::Answer(http_response("200 OK", BODY))).await;
    let mut spec = ssl_get(server.addr, Url::new("/"));
    spec.timing.connect_timeout = Duration::from_millis(300);
    let result = probe(&spec).await;
    assert_eq!(
        result,
        ProbeResult::Failed(Failure::Timeout {
            phase: Phase::Handshake,
            after: Duration::from_millis(300)
        })
    );
}

#[tokio::test]
async fn ssl_get_503_fails_on_status() {
    let server = tls_server(http_response("503 Busy", "x"), Arc::default()).await;
    let result = probe(&ssl_get(server.addr, Url::new("/"))).await;
    assert!(
        matches!(
            &result,
            ProbeResult::Failed(Failure::Status { got: 503, .. })
        ),
        "{result:?}"
    );
}

/// A TLS server that answers `response` and then reads on: each connection's end lands in
/// `closes`, true when the client sent close_notify before its FIN.
async fn close_watching_server(
    response: Vec<u8>,
    closes: Arc<Mutex<Vec<bool>>>,
) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let acceptor = acceptor();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (acceptor, response, closes) = (acceptor.clone(), response.clone(), closes.clone());
            tokio::spawn(async move {
                let talk = async {
                    let mut tls = acceptor.accept(stream).await.ok()?;
                    let mut buffer = [0u8; 4096];
                    let mut request = Vec::new();
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        let n = tls.read(&mut buffer).await.ok()?;
                        if n == 0 {
                            return None;
                        }
                        request.extend_from_slice(&buffer[..n]);
                    }
                    tls.write_all(&response).await.ok()?;
                    tls.flush().await.ok()?;
                    // Ok(0) only after a close_notify; a bare FIN is an UnexpectedEof.
                    loop {
                        match tls.read(&mut buffer).await {
                            Ok(0) => return Some(true),
                            Ok(_) => {}
                            Err(_) => return Some(false),
                        }
                    }
                };
                if let Ok(Some(clean)) = tokio::time::timeout(PATIENCE, talk).await {
                    closes.lock().unwrap().push(clean);
                }
            });
        }
    });
    (addr, task)
}

#[tokio::test]
async fn tls_compliant_ends_the_session_with_close_notify_and_the_default_does_not() {
    let closes = Arc::new(Mutex::new(Vec::new()));
    let (addr, _server) =
        close_watching_server(http_response("200 OK", BODY), closes.clone()).await;
    let wait_for = |n: usize| {
        let closes = closes.clone();
        async move {
            tokio::time::timeout(PATIENCE, async {
                while closes.lock().unwrap().len() < n {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
            .await
            .expect("the server saw the connection end");
        }
    };
    let mut spec = ssl_get(addr, Url::new("/"));
    assert!(matches!(probe(&spec).await, ProbeResult::Passed(_)));
    wait_for(1).await;
    // The checker's tls_compliant.
    if let CheckKind::Http(http) = &mut spec.kind {
        http.tls_compliant = true;
    }
    assert!(matches!(probe(&spec).await, ProbeResult::Passed(_)));
    wait_for(2).await;
    // The URL's own.
    let mut url = Url::new("/");
    url.tls_compliant = true;
    assert!(matches!(
        probe(&ssl_get(addr, url)).await,
        ProbeResult::Passed(_)
    ));
    wait_for(3).await;
    assert_eq!(*closes.lock().unwrap(), [false, true, true]);
}
