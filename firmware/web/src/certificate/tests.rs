//! The box's own certificate, and an operator's refused for each reason the issue names:
//! a key that is not the certificate's, not yet valid or expired by the box's clock, a
//! malformed chain.

use super::*;

fn at(y: i32, m: u8, d: u8) -> SystemTime {
    let t = rcgen::date_time_ymd(y, m, d);
    UNIX_EPOCH + Duration::from_secs(t.unix_timestamp() as u64)
}

fn now() -> SystemTime {
    at(2026, 3, 1)
}

fn addresses() -> Vec<IpAddr> {
    vec!["10.1.0.1".parse().unwrap(), "fd01::1".parse().unwrap()]
}

/// A certificate made by an operator's tools: `params` signed by `issuer` (or itself).
fn made(
    params: rcgen::CertificateParams,
    key: &rcgen::KeyPair,
    issuer: Option<(&rcgen::Issuer<'_, rcgen::KeyPair>,)>,
) -> String {
    match issuer {
        Some((issuer,)) => params.signed_by(key, issuer).unwrap().pem(),
        None => params.self_signed(key).unwrap().pem(),
    }
}

fn params(
    name: &str,
    from: (i32, u8, u8),
    to: (i32, u8, u8),
    ca: bool,
) -> rcgen::CertificateParams {
    let mut p = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(rcgen::DnType::CommonName, name);
    p.not_before = rcgen::date_time_ymd(from.0, from.1, from.2);
    p.not_after = rcgen::date_time_ymd(to.0, to.1, to.2);
    p.is_ca = if ca {
        rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained)
    } else {
        rcgen::IsCa::ExplicitNoCa
    };
    p
}

fn key() -> rcgen::KeyPair {
    rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap()
}

#[test]
fn the_boxs_own_certificate_names_the_box_and_passes_its_own_check() {
    let pair = generate("lb1", &addresses(), now()).unwrap();
    assert!(pair.key.starts_with(&begin_key()), "{}", pair.key);
    let s = check(&pair.chain, &pair.key, now()).unwrap();
    assert_eq!(s.dns_names, ["lb1"]);
    assert!(s.self_signed);
    assert_eq!(s.certificates, 1);
    assert_eq!(s.sha256.len(), 32 * 3 - 1);
    assert_eq!(s.spki_sha256.len(), 44, "{}", s.spki_sha256);
    assert_eq!(s.not_before, seconds(now()) - 86400);
    assert_eq!(s.not_after - s.not_before, OWN_VALIDITY.as_secs());
    assert!(!due_for_renewal(&pair.chain, now()));
    assert!(due_for_renewal(
        &pair.chain,
        now() + OWN_VALIDITY - RENEW_BEFORE
    ));
    // The addresses are in it too (rustls checks them as a client would).
    let der = certificates(&pair.chain).unwrap().remove(0);
    let cert = webpki::EndEntityCert::try_from(&der).unwrap();
    for ip in ["10.1.0.1", "fd01::1"] {
        let name = rustls::pki_types::ServerName::try_from(ip).unwrap();
        cert.verify_is_valid_for_subject_name(&name).unwrap();
    }
}

#[test]
fn a_clock_that_was_never_set_still_gives_a_usable_certificate() {
    let pair = generate("lb1", &addresses(), at(1970, 1, 2)).unwrap();
    let s = summary(&pair.chain).unwrap();
    assert_eq!(s.not_before, EARLIEST);
}

#[test]
fn a_reissued_certificate_keeps_the_pin() {
    let pair = generate("lvsfw", &[], now()).unwrap();
    let again = reissue(&pair.key, "lb1", &addresses(), now()).unwrap();
    let (a, b) = (summary(&pair.chain).unwrap(), summary(&again).unwrap());
    assert_eq!(a.spki_sha256, b.spki_sha256);
    assert_ne!(a.sha256, b.sha256);
    assert_eq!(b.dns_names, ["lb1"]);
    check(&again, &pair.key, now()).unwrap();
}

#[test]
fn a_key_of_another_certificate_is_refused() {
    let pair = generate("lb1", &addresses(), now()).unwrap();
    let other = generate("lb1", &addresses(), now()).unwrap();
    let e = check(&pair.chain, &other.key, now()).unwrap_err();
    assert_eq!(
        e,
        "the key does not belong to the certificate: their public keys differ"
    );
}

#[test]
fn not_yet_valid_or_expired_by_the_boxs_clock_is_refused() {
    let k = key();
    let cert = made(params("lb1", (2026, 6, 1), (2027, 6, 1), false), &k, None);
    let e = check(&cert, &k.serialize_pem(), now()).unwrap_err();
    assert_eq!(
        e,
        "certificate 1 of 1 is not valid before 2026-06-01 00:00:00Z by this box's clock (now 2026-03-01 00:00:00Z; it has no NTP yet)"
    );
    let e = check(&cert, &k.serialize_pem(), at(2027, 7, 1)).unwrap_err();
    assert_eq!(
        e,
        "certificate 1 of 1 expired on 2027-06-01 00:00:00Z by this box's clock (now 2027-07-01 00:00:00Z)"
    );
    assert!(check(&cert, &k.serialize_pem(), at(2026, 7, 1)).is_ok());
}

#[test]
fn a_chain_is_checked_link_by_link() {
    let ca_key = key();
    let ca_params = params("Example CA", (2025, 1, 1), (2035, 1, 1), true);
    let ca_cert = ca_params.clone().self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf_key = key();
    let leaf = made(
        params("lb1.example", (2025, 1, 1), (2027, 1, 1), false),
        &leaf_key,
        Some((&issuer,)),
    );
    let key_pem = leaf_key.serialize_pem();
    // The leaf, then its CA: each link verifies.
    let chain = format!("{leaf}{}", ca_cert.pem());
    let s = check(&chain, &key_pem, now()).unwrap();
    assert_eq!((s.certificates, s.self_signed), (2, false));
    assert_eq!(s.dns_names, ["lb1.example"]);
    // The leaf alone (its CA is in the clients' trust store): taken as it is.
    check(&leaf, &key_pem, now()).unwrap();
    // In the wrong order.
    let e = check(&format!("{}{leaf}", ca_cert.pem()), &key_pem, now()).unwrap_err();
    assert_eq!(
        e,
        "the key does not belong to the certificate: their public keys differ"
    );
    // Followed by a certificate that did not issue it.
    let stranger_key = key();
    let stranger = made(
        params("Example CA", (2025, 1, 1), (2035, 1, 1), true),
        &stranger_key,
        None,
    );
    let e = check(&format!("{leaf}{stranger}"), &key_pem, now()).unwrap_err();
    assert!(
        e.starts_with("the chain of 2 does not verify: a signature is not the next certificate's"),
        "{e}"
    );
    let other_ca = made(
        params("Other CA", (2025, 1, 1), (2035, 1, 1), true),
        &stranger_key,
        None,
    );
    let e = check(&format!("{leaf}{other_ca}"), &key_pem, now()).unwrap_err();
    assert!(
        e.starts_with("certificate 1 of 2 was not issued by certificate 2 of 2"),
        "{e}"
    );
    // An expired CA in the chain.
    let old_cert = params("Old CA", (2015, 1, 1), (2020, 1, 1), true)
        .self_signed(&stranger_key)
        .unwrap();
    let e = check(&format!("{leaf}{}", old_cert.pem()), &key_pem, now()).unwrap_err();
    assert!(
        e.starts_with("certificate 2 of 2 expired on 2020-01-01"),
        "{e}"
    );
}

#[test]
fn a_self_signed_ca_certificate_is_no_server_certificate() {
    let k = key();
    let cert = made(params("lb1", (2025, 1, 1), (2027, 1, 1), true), &k, None);
    let e = check(&cert, &k.serialize_pem(), now()).unwrap_err();
    assert!(
        e.starts_with("the first certificate is a CA certificate"),
        "{e}"
    );
}

#[test]
fn text_that_is_not_a_certificate_or_a_key_says_so() {
    let pair = generate("lb1", &[], now()).unwrap();
    assert_eq!(
        check("hello", &pair.key, now()).unwrap_err(),
        "no certificate: expected -----BEGIN CERTIFICATE-----"
    );
    let broken = pair.chain.replace("MI", "M!");
    assert!(check(&broken, &pair.key, now())
        .unwrap_err()
        .starts_with("certificate 1: not readable PEM"));
    let garbage = "-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n";
    let e = check(garbage, &pair.key, now()).unwrap_err();
    assert!(
        e.starts_with("certificate 1 of 1 is not a valid X.509 v3 certificate"),
        "{e}"
    );
    let e = check(&pair.chain, "nothing", now()).unwrap_err();
    assert!(
        e.starts_with(&format!("no private key: expected {}", begin_key())),
        "{e}"
    );
    let e = check(
        &pair.chain,
        &pem(&format!("ENCRYPTED {}", key_label()), &[0; 3]),
        now(),
    )
    .unwrap_err();
    assert!(e.starts_with("the key is encrypted"), "{e}");
    let many = pair.chain.repeat(MAX_CERTIFICATES + 1);
    assert_eq!(
        check(&many, &pair.key, now()).unwrap_err(),
        "more than 8 certificates in the chain"
    );
}

#[test]
fn a_pasted_chain_and_key_come_apart() {
    let pair = generate("lb1", &[], now()).unwrap();
    let pasted = format!("some words\n{}\n{}", pair.key, pair.chain);
    let parts = split(&pasted).unwrap();
    assert_eq!(parts.chain, pair.chain);
    assert!(!parts.chain.contains("PRIVATE KEY"));
    assert!(parts.key.starts_with(&format!("{}\n", begin_key())));
    assert!(!parts.key.contains("CERTIFICATE"));
    check(&parts.chain, &parts.key, now()).unwrap();
    assert!(split(&pair.chain)
        .unwrap_err()
        .starts_with("no private key"));
}

/// "PRIVATE KEY", put together at run time: no private-key marker stands in the sources.
fn key_label() -> String {
    ["PRIVATE", "KEY"].join(" ")
}

/// The first line of a PKCS#8 key's PEM.
fn begin_key() -> String {
    format!("-----BEGIN {}-----", key_label())
}
