//! The page's TLS: a rustls server configuration from the certificate chain and key in
//! service, and the handshake of one connection, bounded in time like a request head.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::certificate::Pair;

/// The server configuration in service; `None` while there is no certificate (HTTPS
/// connections are closed then). The balancer replaces it when the files change.
pub type Tls = watch::Receiver<Option<Arc<ServerConfig>>>;

/// TLS 1.2 and 1.3 with rustls' default (safe) cipher suites on ring, no client
/// certificates, HTTP/1.1 by ALPN.
pub fn server_config(pair: &Pair) -> Result<Arc<ServerConfig>, String> {
    let chain = CertificateDer::pem_slice_iter(pair.chain.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("the certificate: {e}"))?;
    let key =
        PrivateKeyDer::from_pem_slice(pair.key.as_bytes()).map_err(|e| format!("the key: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("TLS: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The handshake of a new connection, within `limit` (a client that sends its hello
/// slowly, or not at all, is cut off); `None` when it fails or there is no certificate.
pub async fn handshake(
    stream: TcpStream,
    tls: &Tls,
    limit: Duration,
) -> Result<TlsStream<TcpStream>, String> {
    let Some(config) = tls.borrow().clone() else {
        return Err("no certificate in service".into());
    };
    match tokio::time::timeout(limit, TlsAcceptor::from(config).accept(stream)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(format!("TLS handshake: {e}")),
        Err(_) => Err(format!(
            "TLS handshake not done within {} s",
            limit.as_secs()
        )),
    }
}
