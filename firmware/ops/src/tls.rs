//! The page's certificate as files: the box's own key and self-signed certificate
//! (made at first boot, reissued with the same key for new names or before it runs
//! out), and an operator's chain and key when one is installed, which is then served
//! instead. They live beside the running configuration (`/etc/lvsfw/tls/`, mode 0600)
//! and are saved with it on the configuration partition ([`super::saved`]).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use web::certificate::{self, Pair, Summary};

use super::{read_optional, remove_optional};

/// The four files of one place (`/etc/lvsfw/tls` on the appliance).
#[derive(Debug, Clone)]
pub struct TlsPaths {
    pub own_key: PathBuf,
    pub own_chain: PathBuf,
    pub installed_key: PathBuf,
    pub installed_chain: PathBuf,
}

impl TlsPaths {
    pub fn under(dir: &Path) -> TlsPaths {
        TlsPaths {
            own_key: dir.join("own.key"),
            own_chain: dir.join("own.crt"),
            installed_key: dir.join("installed.key"),
            installed_chain: dir.join("installed.crt"),
        }
    }
}

/// What is in the files, for saving and restoring them whole.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    pub own: Option<PairText>,
    pub installed: Option<PairText>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairText {
    pub chain: String,
    pub key: String,
}

impl From<PairText> for Pair {
    fn from(p: PairText) -> Pair {
        Pair {
            chain: p.chain,
            key: p.key,
        }
    }
}

impl From<Pair> for PairText {
    fn from(p: Pair) -> PairText {
        PairText {
            chain: p.chain,
            key: p.key,
        }
    }
}

/// Writes a secret file whole, readable by root only ([`paths::write_secret`]).
pub fn write_secret(path: &Path, text: &str) -> Result<(), String> {
    paths::write_secret(path, text.as_bytes()).map_err(|e| e.to_string())
}

fn read_pair(key: &Path, chain: &Path) -> Result<Option<PairText>, String> {
    match (read_optional(key)?, read_optional(chain)?) {
        (Some(key), Some(chain)) => Ok(Some(PairText { chain, key })),
        _ => Ok(None),
    }
}

pub fn read(paths: &TlsPaths) -> Result<TlsFiles, String> {
    Ok(TlsFiles {
        own: read_pair(&paths.own_key, &paths.own_chain)?,
        installed: read_pair(&paths.installed_key, &paths.installed_chain)?,
    })
}

/// Puts `files` in place; a pair that is `None` is removed.
pub fn write(paths: &TlsPaths, files: &TlsFiles) -> Result<(), String> {
    let place = |pair: &Option<PairText>, key: &Path, chain: &Path| match pair {
        Some(p) => write_secret(key, &p.key).and_then(|()| write_secret(chain, &p.chain)),
        None => remove_optional(key).and_then(|()| remove_optional(chain)),
    };
    place(&files.own, &paths.own_key, &paths.own_chain)?;
    place(
        &files.installed,
        &paths.installed_key,
        &paths.installed_chain,
    )
}

/// What the page serves: the installed chain and key when there are, else the box's own.
pub fn served(paths: &TlsPaths) -> Result<(Pair, bool), String> {
    let files = read(paths)?;
    match (files.installed, files.own) {
        (Some(installed), _) => Ok((installed.into(), true)),
        (None, Some(own)) => Ok((own.into(), false)),
        (None, None) => Err("no certificate yet".into()),
    }
}

/// At boot, after the restore: the box's own key and certificate exist and are not
/// about to run out. `Ok(Some(what))` when something was made, so that the caller
/// saves it.
pub fn ensure_own(
    paths: &TlsPaths,
    hostname: &str,
    addresses: &[IpAddr],
    now: SystemTime,
) -> Result<Option<String>, String> {
    match read_pair(&paths.own_key, &paths.own_chain)? {
        None => {
            let pair = certificate::generate(hostname, addresses, now)?;
            write_secret(&paths.own_key, &pair.key)?;
            write_secret(&paths.own_chain, &pair.chain)?;
            Ok(Some("made the box's own key and certificate".into()))
        }
        Some(own) if certificate::due_for_renewal(&own.chain, now) => {
            let chain = certificate::reissue(&own.key, hostname, addresses, now)?;
            write_secret(&paths.own_chain, &chain)?;
            Ok(Some(
                "renewed the box's own certificate (the same key, so the same pin)".into(),
            ))
        }
        Some(_) => Ok(None),
    }
}

/// The box's own certificate again for new names (after setup); the key stays.
pub fn reissue_own(
    paths: &TlsPaths,
    hostname: &str,
    addresses: &[IpAddr],
    now: SystemTime,
) -> Result<(), String> {
    let key = read_optional(&paths.own_key)?.ok_or("the box has no key of its own yet")?;
    let chain = certificate::reissue(&key, hostname, addresses, now)?;
    write_secret(&paths.own_chain, &chain)
}

/// An operator's chain and key, checked by the box's clock, then served.
pub fn install(
    paths: &TlsPaths,
    chain: &str,
    key: &str,
    now: SystemTime,
) -> Result<Summary, String> {
    let summary = certificate::check(chain, key, now)?;
    write_secret(&paths.installed_key, key)?;
    write_secret(&paths.installed_chain, chain)?;
    Ok(summary)
}

/// Back to the box's own certificate.
pub fn remove_installed(paths: &TlsPaths) -> Result<bool, String> {
    let had = paths.installed_chain.exists();
    remove_optional(&paths.installed_key)?;
    remove_optional(&paths.installed_chain)?;
    Ok(had)
}

/// What `show certificate` and setup print: whose, for which names, valid when, and
/// the two ways to pin it.
pub fn describe(pair: &Pair, installed: bool) -> Result<String, String> {
    let s = certificate::summary(&pair.chain)?;
    let date = |secs: u64| ::status::time::utc(secs.saturating_mul(1000));
    Ok(format!(
        "certificate: {}\nnames: {}\nvalid: {} to {}\nSHA-256 fingerprint: {}\nSPKI pin (sha256, base64): {}\n",
        if installed {
            format!("installed by an operator ({} in the chain)", s.certificates)
        } else {
            "the box's own (self-signed)".to_string()
        },
        if s.dns_names.is_empty() {
            "(no DNS names)".to_string()
        } else {
            s.dns_names.join(", ")
        },
        date(s.not_before),
        date(s.not_after),
        s.sha256,
        s.spki_sha256
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_772_323_200) // 2026-03-01
    }

    #[test]
    fn the_own_certificate_is_made_once_renewed_in_time_and_kept_secret() {
        let dir = tempfile::tempdir().unwrap();
        let paths = TlsPaths::under(&dir.path().join("tls"));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(served(&paths).is_err());
        let made = ensure_own(&paths, "lb1", &[ip], now()).unwrap();
        assert_eq!(
            made.as_deref(),
            Some("made the box's own key and certificate")
        );
        let mode = std::fs::metadata(&paths.own_key)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let (pair, installed) = served(&paths).unwrap();
        assert!(!installed);
        let pin = certificate::summary(&pair.chain).unwrap().spki_sha256;
        // Nothing to do at the next boot ...
        assert_eq!(ensure_own(&paths, "lb1", &[ip], now()).unwrap(), None);
        // ... until it is about to run out: a new certificate, the same pin.
        let late = now() + certificate::OWN_VALIDITY;
        assert!(ensure_own(&paths, "lb1", &[ip], late).unwrap().is_some());
        let (renewed, _) = served(&paths).unwrap();
        assert_ne!(renewed.chain, pair.chain);
        assert_eq!(
            certificate::summary(&renewed.chain).unwrap().spki_sha256,
            pin
        );
        let shown = describe(&renewed, false).unwrap();
        assert!(
            shown.contains(&format!("SPKI pin (sha256, base64): {pin}\n")),
            "{shown}"
        );
    }

    #[test]
    fn an_installed_certificate_is_served_until_removed() {
        let dir = tempfile::tempdir().unwrap();
        let paths = TlsPaths::under(dir.path());
        ensure_own(&paths, "lb1", &[], now()).unwrap();
        let theirs = certificate::generate("lb1.example", &[], now()).unwrap();
        let other = certificate::generate("x", &[], now()).unwrap();
        // Refused: nothing installed.
        assert!(install(&paths, &theirs.chain, &other.key, now()).is_err());
        assert!(!served(&paths).unwrap().1);
        install(&paths, &theirs.chain, &theirs.key, now()).unwrap();
        let (pair, installed) = served(&paths).unwrap();
        assert!(installed);
        assert_eq!(pair.chain, theirs.chain);
        let files = read(&paths).unwrap();
        assert!(files.own.is_some() && files.installed.is_some());
        assert!(remove_installed(&paths).unwrap());
        assert!(!served(&paths).unwrap().1);
        // Written back as read: the same files.
        write(&paths, &files).unwrap();
        assert_eq!(read(&paths).unwrap(), files);
    }
}
