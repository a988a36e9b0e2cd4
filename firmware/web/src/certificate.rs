//! The page's TLS certificate: the box's own (an ECDSA P-256 key and a self-signed
//! certificate, made with rcgen), or one an operator installs, checked here before it
//! is served. Pure: the caller brings the time (the box's clock, which may be wrong:
//! there is no NTP yet) and stores the PEM text.
//!
//! An operator's chain is checked with what the firmware already links: rustls-pki-types
//! reads the PEM, rustls says whether the key belongs to the first certificate, webpki
//! parses every certificate and verifies each signature up the chain; the `der` crate
//! reads the validity dates webpki keeps to itself.

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};

/// A certificate chain and its key, as PEM text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// The server's certificate first, then the ones that issued it.
    pub chain: String,
    /// PKCS#8 (or SEC1, PKCS#1 when an operator's).
    pub key: String,
}

/// What an operator is shown of a certificate, and pins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// SHA-256 of the first certificate, as browsers show it (`AB:CD:...`).
    pub sha256: String,
    /// SHA-256 of its SubjectPublicKeyInfo in base64: chromium's
    /// `--ignore-certificate-errors-spki-list`, curl's `--pinnedpubkey sha256//...`.
    pub spki_sha256: String,
    /// Seconds since the Unix epoch.
    pub not_before: u64,
    pub not_after: u64,
    pub dns_names: Vec<String>,
    /// Certificates in the chain.
    pub certificates: usize,
    pub self_signed: bool,
}

/// Certificates a pasted chain may hold, and how large each may be.
const MAX_CERTIFICATES: usize = 8;
const MAX_CERTIFICATE_LEN: usize = 16 * 1024;
/// The box's own certificate: 825 days, the most Apple's systems take for a TLS server
/// certificate even when it is trusted by hand; the box reissues it (same key, so the
/// same pin) before it runs out.
pub const OWN_VALIDITY: Duration = Duration::from_secs(825 * 86400);
/// Reissued when fewer than this many days are left.
pub const RENEW_BEFORE: Duration = Duration::from_secs(30 * 86400);
/// The earliest `not_before` the box writes: a clock that never was set (1970, 2000)
/// still gives a certificate that clients with a right clock take.
const EARLIEST: u64 = 1_735_689_600; // 2025-01-01T00:00:00Z

fn seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn date(secs: u64) -> String {
    status::time::utc(secs.saturating_mul(1000))
}

/// Makes the box's own key and a self-signed certificate for its host name and
/// management addresses.
pub fn generate(hostname: &str, addresses: &[IpAddr], now: SystemTime) -> Result<Pair, String> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| format!("making a key: {e}"))?;
    let chain = issue(&key, hostname, addresses, now)?;
    Ok(Pair {
        chain,
        key: pem("PRIVATE KEY", &key.serialize_der()),
    })
}

/// A new self-signed certificate for the box's key `key_pem` (new names, or a new
/// validity): the public key stays, and with it the SPKI pin.
pub fn reissue(
    key_pem: &str,
    hostname: &str,
    addresses: &[IpAddr],
    now: SystemTime,
) -> Result<String, String> {
    let key = match private_key(key_pem)? {
        PrivateKeyDer::Pkcs8(der) => {
            rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&der, &rcgen::PKCS_ECDSA_P256_SHA256)
        }
        _ => return Err("the box's key is not PKCS#8".into()),
    }
    .map_err(|e| format!("the box's key: {e}"))?;
    issue(&key, hostname, addresses, now)
}

fn issue(
    key: &rcgen::KeyPair,
    hostname: &str,
    addresses: &[IpAddr],
    now: SystemTime,
) -> Result<String, String> {
    use rcgen::{DnType, ExtendedKeyUsagePurpose, IsCa, KeyUsagePurpose, SerialNumber};
    let mut names = vec![hostname.to_string()];
    names.extend(addresses.iter().map(IpAddr::to_string));
    let mut params = rcgen::CertificateParams::new(names).map_err(|e| format!("{e}"))?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, hostname);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let start = seconds(now).saturating_sub(86400).max(EARLIEST);
    let time = |secs: u64| rcgen::date_time_ymd(1970, 1, 1) + Duration::from_secs(secs);
    params.not_before = time(start);
    params.not_after = time(start + OWN_VALIDITY.as_secs());
    // RFC 5280 4.1.2.2: unique per issuer; random, positive (top bit clear).
    let mut serial = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut serial)
        .map_err(|_| "no random bytes for the serial number".to_string())?;
    serial[0] &= 0x7f;
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    let certificate = params
        .self_signed(key)
        .map_err(|e| format!("making the certificate: {e}"))?;
    Ok(pem("CERTIFICATE", certificate.der()))
}

/// The certificates of a PEM chain, at least one, each within the limits.
fn certificates(chain_pem: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let mut out = Vec::new();
    for (i, item) in CertificateDer::pem_slice_iter(chain_pem.as_bytes()).enumerate() {
        let der = item.map_err(|e| format!("certificate {}: not readable PEM: {e}", i + 1))?;
        if out.len() == MAX_CERTIFICATES {
            return Err(format!(
                "more than {MAX_CERTIFICATES} certificates in the chain"
            ));
        }
        if der.len() > MAX_CERTIFICATE_LEN {
            return Err(format!(
                "certificate {} is {} bytes, more than {MAX_CERTIFICATE_LEN}",
                i + 1,
                der.len()
            ));
        }
        out.push(der);
    }
    if out.is_empty() {
        return Err("no certificate: expected -----BEGIN CERTIFICATE-----".into());
    }
    Ok(out)
}

fn private_key(key_pem: &str) -> Result<PrivateKeyDer<'static>, String> {
    if key_pem.contains("ENCRYPTED PRIVATE KEY") {
        return Err(
            "the key is encrypted: paste it without its passphrase (openssl pkey -in KEY)".into(),
        );
    }
    PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| {
        format!(
            "no private key: expected -----BEGIN {label}----- (or EC / RSA {label}): {e}",
            // Put together here: no private-key marker stands in the sources.
            label = ["PRIVATE", "KEY"].join(" ")
        )
    })
}

/// A certificate's `notBefore` and `notAfter` in seconds since the epoch (RFC 5280
/// 4.1: Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL,
/// serialNumber, signature, issuer, validity SEQUENCE { notBefore, notAfter }, ... }).
fn validity(der: &[u8]) -> Result<(u64, u64), String> {
    use der::asn1::{Any, GeneralizedTime, UtcTime};
    use der::{Decode, Reader, SliceReader, Tag, TagNumber};
    let read = || -> der::Result<(u64, u64)> {
        let mut reader = SliceReader::new(der)?;
        reader.sequence(|cert| {
            let times = cert.sequence(|tbs| {
                let version = Tag::ContextSpecific {
                    constructed: true,
                    number: TagNumber::N0,
                };
                if tbs.peek_tag()? == version {
                    Any::decode(tbs)?;
                }
                for _ in 0..3 {
                    Any::decode(tbs)?; // serialNumber, signature, issuer
                }
                let times = tbs.sequence(|v| {
                    let mut time = || match v.peek_tag()? {
                        Tag::UtcTime => UtcTime::decode(v).map(|t| t.to_unix_duration()),
                        _ => GeneralizedTime::decode(v).map(|t| t.to_unix_duration()),
                    };
                    Ok((time()?.as_secs(), time()?.as_secs()))
                })?;
                while !tbs.is_finished() {
                    Any::decode(tbs)?;
                }
                Ok(times)
            })?;
            while !cert.is_finished() {
                Any::decode(cert)?;
            }
            Ok(times)
        })
    };
    read().map_err(|e| format!("its validity dates are not readable: {e}"))
}

fn spki_pin(cert: &webpki::EndEntityCert<'_>) -> String {
    let spki = cert.subject_public_key_info();
    let digest = ring::digest::digest(&ring::digest::SHA256, spki.as_ref());
    base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
}

fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    digest
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// PEM text of `der` under `label`, in lines of 64 characters (RFC 7468).
fn pem(label: &str, der: &[u8]) -> String {
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in text.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A certificate chain and its key pasted as one text (in any order, with anything
/// around them): each part on its own, written again as plain PEM. Not checked yet.
pub fn split(text: &str) -> Result<Pair, String> {
    let chain: String = certificates(text)?
        .iter()
        .map(|der| pem("CERTIFICATE", der))
        .collect();
    let key = match private_key(text)? {
        PrivateKeyDer::Pkcs8(k) => pem("PRIVATE KEY", k.secret_pkcs8_der()),
        PrivateKeyDer::Sec1(k) => pem("EC PRIVATE KEY", k.secret_sec1_der()),
        PrivateKeyDer::Pkcs1(k) => pem("RSA PRIVATE KEY", k.secret_pkcs1_der()),
        _ => return Err("the key is of a kind this box does not know".into()),
    };
    Ok(Pair { chain, key })
}

/// What a chain is (the box's own or one already checked), for the page and the console.
pub fn summary(chain_pem: &str) -> Result<Summary, String> {
    let certs = certificates(chain_pem)?;
    let first = webpki::EndEntityCert::try_from(&certs[0])
        .map_err(|e| format!("certificate 1 is not a valid X.509 v3 certificate: {e}"))?;
    let (not_before, not_after) = validity(&certs[0]).map_err(|e| format!("certificate 1: {e}"))?;
    Ok(Summary {
        sha256: fingerprint(&certs[0]),
        spki_sha256: spki_pin(&first),
        not_before,
        not_after,
        dns_names: first.valid_dns_names().map(str::to_string).collect(),
        certificates: certs.len(),
        self_signed: certs.len() == 1 && first.issuer() == first.subject(),
    })
}

/// An operator's certificate chain and key, checked before they are served: the PEM
/// reads, every certificate is a valid X.509 v3 certificate and valid now by the box's
/// clock, the key belongs to the first one, and each is issued (signed) by the next.
/// The error names what is wrong and where.
pub fn check(chain_pem: &str, key_pem: &str, now: SystemTime) -> Result<Summary, String> {
    let certs = certificates(chain_pem)?;
    let key = private_key(key_pem)?;
    let count = certs.len();
    let which = |i: usize| format!("certificate {} of {count}", i + 1);
    let mut parsed = Vec::new();
    for (i, der) in certs.iter().enumerate() {
        let cert = webpki::EndEntityCert::try_from(der)
            .map_err(|e| format!("{} is not a valid X.509 v3 certificate: {e}", which(i)))?;
        parsed.push(cert);
    }
    let clock = seconds(now);
    for (i, der) in certs.iter().enumerate() {
        let (not_before, not_after) = validity(der).map_err(|e| format!("{}: {e}", which(i)))?;
        if clock < not_before {
            return Err(format!(
                "{} is not valid before {} by this box's clock (now {}; it has no NTP yet)",
                which(i),
                date(not_before),
                date(clock)
            ));
        }
        if clock > not_after {
            return Err(format!(
                "{} expired on {} by this box's clock (now {})",
                which(i),
                date(not_after),
                date(clock)
            ));
        }
    }
    let signing = rustls::crypto::ring::sign::any_supported_type(&key).map_err(|e| {
        format!("the key is not one this box can use (RSA, ECDSA P-256/P-384, Ed25519): {e}")
    })?;
    rustls::sign::CertifiedKey::new(certs.clone(), signing)
        .keys_match()
        .map_err(|_| {
            "the key does not belong to the certificate: their public keys differ".to_string()
        })?;
    for i in 0..count.saturating_sub(1) {
        if parsed[i].issuer() != parsed[i + 1].subject() {
            return Err(format!(
                "{} was not issued by {}: its issuer is not that one's subject (give the server's certificate first, then each issuer in order)",
                which(i),
                which(i + 1)
            ));
        }
    }
    // The last certificate stands for what clients trust: every signature below it is
    // verified. A single certificate is checked against itself when it is self-signed;
    // one issued by a CA that is not pasted cannot be checked here.
    let last = &certs[count - 1];
    let self_signed = parsed[count - 1].issuer() == parsed[count - 1].subject();
    if count > 1 || self_signed {
        let anchor = webpki::anchor_from_trusted_cert(last)
            .map_err(|e| format!("{}: {e}", which(count - 1)))?;
        let provider = rustls::crypto::ring::default_provider();
        let intermediates = if count > 2 { &certs[1..count - 1] } else { &[] };
        parsed[0]
            .verify_for_usage(
                provider.signature_verification_algorithms.all,
                &[anchor],
                intermediates,
                UnixTime::since_unix_epoch(Duration::from_secs(clock)),
                webpki::KeyUsage::server_auth(),
                None,
                None,
            )
            .map_err(|e| chain_error(e, count))?;
    }
    let mut summary = summary(chain_pem)?;
    summary.self_signed = count == 1 && self_signed;
    Ok(summary)
}

fn chain_error(e: webpki::Error, count: usize) -> String {
    use webpki::Error::*;
    match e {
        CaUsedAsEndEntity => "the first certificate is a CA certificate (basicConstraints CA:TRUE); browsers refuse it for a server: make it with basicConstraints CA:FALSE".into(),
        EndEntityUsedAsCa => "a certificate further down the chain is not a CA (basicConstraints), yet it issued the one before it".into(),
        UnknownIssuer | InvalidSignatureForPublicKey | UnsupportedSignatureAlgorithmForPublicKeyContext(_) => format!(
            "the chain of {count} does not verify: a signature is not the next certificate's ({e:?})"
        ),
        RequiredEkuNotFoundContext(_) => "the first certificate is not for TLS servers (its extended key usage lacks serverAuth)".into(),
        other => format!("the chain of {count} does not verify: {other:?}"),
    }
}

/// Whether the box's own certificate should be made again now: it runs out within
/// [`RENEW_BEFORE`] by the box's clock, or does not read.
pub fn due_for_renewal(chain_pem: &str, now: SystemTime) -> bool {
    summary(chain_pem).map_or(true, |s| {
        s.not_after.saturating_sub(seconds(now)) < RENEW_BEFORE.as_secs()
    })
}

#[cfg(test)]
mod tests;
