//! TLS to the appliance's page with its certificate pinned by the SHA-256 of its
//! SubjectPublicKeyInfo (what `show certificate` prints), as an operator pins it: the
//! connection is made only to that key. Not a blanket "accept any certificate": the
//! handshake's signatures are verified, and any other key is refused.

use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};

use crate::command::Error;

/// The pin of a certificate (DER): base64 of the SHA-256 of its SubjectPublicKeyInfo.
pub fn spki_pin(der: &CertificateDer<'_>) -> Result<String, String> {
    let cert = webpki::EndEntityCert::try_from(der).map_err(|e| format!("{e}"))?;
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        cert.subject_public_key_info().as_ref(),
    );
    Ok(base64::engine::general_purpose::STANDARD.encode(digest.as_ref()))
}

/// Trusts the key `pin`, or (`None`, a test's first use only) any key, remembering it.
#[derive(Debug)]
struct Pinned {
    pin: Option<String>,
    seen: std::sync::Mutex<Option<String>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let pin = spki_pin(end_entity).map_err(rustls::Error::General)?;
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(pin.clone());
        match &self.pin {
            Some(pinned) if *pinned != pin => Err(rustls::Error::General(format!(
                "the server's key {pin} is not the pinned {pinned}"
            ))),
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn verifier(pin: Option<&str>) -> Arc<Pinned> {
    Arc::new(Pinned {
        pin: pin.map(str::to_string),
        seen: std::sync::Mutex::new(None),
        provider: Arc::new(rustls::crypto::ring::default_provider()),
    })
}

fn config_with(verifier: Arc<Pinned>) -> Arc<ClientConfig> {
    let config = ClientConfig::builder_with_provider(verifier.provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring's default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Arc::new(config)
}

/// A client configuration that trusts the key `pin` only.
pub fn client_config(pin: &str) -> Arc<ClientConfig> {
    config_with(verifier(Some(pin)))
}

pub type TlsStream = StreamOwned<ClientConnection, TcpStream>;

/// A TLS connection to `addr` trusting `config`, its handshake done.
fn handshake(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
    timeout: Duration,
) -> Result<TlsStream, Error> {
    let mut tcp = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| Error(format!("connecting to {addr}: {e}")))?;
    tcp.set_read_timeout(Some(timeout))?;
    tcp.set_write_timeout(Some(timeout))?;
    tcp.set_nodelay(true)?;
    let name = ServerName::IpAddress(addr.ip().into());
    let mut conn =
        ClientConnection::new(config, name).map_err(|e| Error(format!("TLS to {addr}: {e}")))?;
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp)
            .map_err(|e| Error(format!("TLS handshake with {addr}: {e}")))?;
    }
    Ok(StreamOwned::new(conn, tcp))
}

/// A TLS connection to `addr` whose key is `pin`, its handshake done (so that it can be
/// timed apart).
pub fn connect(addr: SocketAddr, pin: &str, timeout: Duration) -> Result<TlsStream, Error> {
    handshake(addr, client_config(pin), timeout)
}

/// Trust on first use, for a test only: the key a server shows before anything was
/// pinned (before first-boot setup, when `show certificate` cannot be typed yet); the
/// test then checks it is the key the console names after setup.
pub fn first_use(addr: SocketAddr, timeout: Duration) -> Result<String, Error> {
    let any = verifier(None);
    handshake(addr, config_with(any.clone()), timeout)?;
    let seen = any.seen.lock().unwrap_or_else(|p| p.into_inner()).take();
    seen.ok_or_else(|| Error(format!("{addr} showed no certificate")))
}

/// Sends raw bytes inside a TLS connection to the server whose key is `pin`, ends its
/// sending side, and reads until the server closes (or `limit` passes).
pub fn raw(addr: SocketAddr, pin: &str, bytes: &[u8], limit: Duration) -> Result<String, Error> {
    use std::io::{Read, Write};
    let mut tls = connect(addr, pin, limit)?;
    // The server may answer and close before all of a large request is sent.
    let _ = tls.write_all(bytes);
    let _ = tls.flush();
    tls.conn.send_close_notify();
    let _ = tls.flush();
    let mut out = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        match tls.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}
