//! HTTPS on loopback: a real TLS client gets the page; plain HTTP, garbage and a client
//! that never finishes its hello are cut off without an answer.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::tests::{limits, statuses, Echo};
use super::*;
use crate::certificate;

/// An HTTPS listener on loopback with a fresh certificate for 127.0.0.1; its address,
/// the certificate's PEM, the handler, and the server task.
async fn https_server() -> (SocketAddr, String, Arc<Echo>, JoinHandle<()>) {
    let pair =
        certificate::generate("lb1", &["127.0.0.1".parse().unwrap()], SystemTime::now()).unwrap();
    let config = tls::server_config(&pair).unwrap();
    let (_keep, tls) = watch::channel(Some(config));
    let echo = Arc::new(Echo {
        handled: AtomicUsize::new(0),
    });
    let shared = Shared::new(echo.clone(), limits(), tls);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _keep = _keep;
        accept_loop(listener, shared, Scheme::Https).await
    });
    (addr, pair.chain, echo, task)
}

/// A client that trusts exactly `chain_pem`, speaking only `version`.
fn client(
    chain_pem: &str,
    version: &'static rustls::SupportedProtocolVersion,
) -> tokio_rustls::TlsConnector {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(chain_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

#[tokio::test]
async fn a_tls_client_gets_the_page_over_tls_1_2_and_1_3() {
    let (addr, chain, echo, task) = https_server().await;
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let mut tls = client(&chain, version).connect(name, tcp).await.unwrap();
        tls.write_all(b"GET /over-tls HTTP/1.1\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut text = String::new();
        // The server ends with close_notify: a clean end, not a truncation.
        tls.read_to_string(&mut text).await.unwrap();
        assert_eq!(statuses(&text), ["200"], "{text}");
        assert!(text.ends_with("GET /over-tls 0 bytes\n"), "{text}");
    }
    assert_eq!(echo.handled.load(Ordering::SeqCst), 2);
    task.abort();
}

#[tokio::test]
async fn plain_http_garbage_and_silent_clients_are_cut_off_on_the_tls_port() {
    let (addr, _, echo, task) = https_server().await;
    for bytes in [
        &b"GET / HTTP/1.1\r\nHost: lb1\r\n\r\n"[..],
        &[0u8, 1, 2, 3, 255, 254][..],
        // A TLS hello cut short, then nothing: the handshake's time limit.
        &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"[..],
        // Nothing at all.
        &b""[..],
    ] {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(bytes).await.unwrap();
        let mut out = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
        assert!(read.is_ok(), "{bytes:?}: still open after 5 s");
        assert!(
            !String::from_utf8_lossy(&out).contains("HTTP/1.1"),
            "{bytes:?}: {out:?}"
        );
    }
    assert_eq!(echo.handled.load(Ordering::SeqCst), 0, "no handler ran");
    task.abort();
}

#[tokio::test]
async fn without_a_certificate_tls_connections_are_closed() {
    let echo = Arc::new(Echo {
        handled: AtomicUsize::new(0),
    });
    let shared = Shared::new(echo, limits(), super::tests::no_tls());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(accept_loop(listener, shared, Scheme::Https));
    let pair = certificate::generate("x", &[], SystemTime::now()).unwrap();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let result = tokio::time::timeout(
        Duration::from_secs(5),
        client(&pair.chain, &rustls::version::TLS13).connect(name, tcp),
    )
    .await
    .unwrap();
    assert!(result.is_err());
    task.abort();
}
