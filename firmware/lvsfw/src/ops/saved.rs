//! The saved configuration: the running files and the page's certificate, bundled into
//! one record of the `store` crate's two checksummed slots on the configuration disk.
//!
//! The record's payload is one JSON object holding the files verbatim:
//!
//! ```text
//! {"format": "lvsfw-saved-2", "config.json": "..." | null, "keepalived.conf": "..." | null,
//!  "tls": {"own": {"chain": "...", "key": "..."} | null, "installed": ... | null} | null}
//! ```
//!
//! Verbatim text rather than the model, so that the operator's keepalived.conf comes
//! back as it was pasted (comments, order, layout). `config.json` is null when only the
//! box's own certificate was saved (at its first boot, before any setup): the image's
//! configuration then stays. `lvsfw-saved-1` (no certificate) is still read; a format
//! this firmware does not know is an error, never "nothing saved".

use std::path::Path;

use serde::{Deserialize, Serialize};
use store::Store;

use super::tls::{self, TlsFiles};
use super::{remove_optional, write, Paths, Texts};

const FORMAT: &str = "lvsfw-saved-2";
const FORMAT_1: &str = "lvsfw-saved-1";

fn digest(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn remember(digest_path: &Path, bytes: &[u8]) -> Result<(), String> {
    crate::config_cli::write_whole(digest_path, format!("{}\n", digest(bytes)).as_bytes())
        .map_err(|e| format!("{}: {e}", digest_path.display()))
}

/// What runs now (the configuration and the page's certificate), as `save` would write it.
fn current(paths: &Paths) -> Result<Saved, String> {
    Ok(Saved {
        texts: Some(super::running(paths)?),
        tls: Some(tls::read(&paths.tls)?),
    })
}

/// Whether what runs is what a reboot would bring back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Saved,
    /// Applied since the last save: a reboot would lose it.
    Unsaved,
    /// Not known (no digest: the box did not restore at boot).
    Unknown(String),
}

/// Compares the running files with what `save` or `restore` left.
pub fn state(paths: &Paths) -> State {
    let digest_path = &paths.saved_digest;
    let remembered = match std::fs::read_to_string(digest_path) {
        Ok(text) => text.trim().to_string(),
        Err(e) => return State::Unknown(format!("{}: {e}", digest_path.display())),
    };
    match current(paths) {
        Ok(now) if digest(&encode(&now)) == remembered => State::Saved,
        Ok(_) => State::Unsaved,
        Err(e) => State::Unknown(e),
    }
}

/// What runs now is what a reboot brings back (just saved or restored, or the image's
/// files with nothing saved over them).
pub fn remember_running(paths: &Paths) -> Result<(), String> {
    remember(&paths.saved_digest, &encode(&current(paths)?))
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Bundle {
    format: String,
    #[serde(rename = "config.json")]
    native: Option<String>,
    #[serde(rename = "keepalived.conf")]
    keepalived: Option<String>,
    #[serde(default)]
    tls: Option<TlsFiles>,
}

/// What a saved record holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    /// The configuration, unless only the certificate was saved.
    pub texts: Option<Texts>,
    pub tls: Option<TlsFiles>,
}

pub fn encode(saved: &Saved) -> Vec<u8> {
    let bundle = Bundle {
        format: FORMAT.into(),
        native: saved.texts.as_ref().map(|t| t.native.clone()),
        keepalived: saved.texts.as_ref().and_then(|t| t.keepalived.clone()),
        tls: saved.tls.clone(),
    };
    serde_json::to_vec(&bundle).expect("strings always serialize")
}

pub fn decode(bytes: &[u8]) -> Result<Saved, String> {
    let bundle: Bundle = serde_json::from_slice(bytes)
        .map_err(|e| format!("the saved configuration is not readable: {e}"))?;
    if bundle.format != FORMAT && bundle.format != FORMAT_1 {
        return Err(format!(
            "the saved configuration is in format \"{}\", this firmware reads \"{FORMAT}\" and \"{FORMAT_1}\"",
            bundle.format
        ));
    }
    if bundle.format == FORMAT_1 && (bundle.native.is_none() || bundle.tls.is_some()) {
        return Err(format!(
            "the saved configuration is not a valid \"{FORMAT_1}\""
        ));
    }
    Ok(Saved {
        texts: bundle.native.map(|native| Texts {
            native,
            keepalived: bundle.keepalived,
        }),
        tls: bundle.tls,
    })
}

/// `config save`: the running configuration and the page's certificate onto the disk.
pub fn save(paths: &Paths, store: &Store) -> Result<String, String> {
    let bytes = encode(&current(paths)?);
    store
        .save(&bytes)
        .map_err(|e| format!("{e}; nothing saved\n"))?;
    if let Err(e) = remember(&paths.saved_digest, &bytes) {
        log::warn!("{e}");
    }
    let mut said = format!(
        "saved: the running configuration ({} bytes) is on the configuration disk\n",
        bytes.len()
    );
    if super::has_candidate(paths) {
        said.push_str("note: the candidate is not applied, so it is not saved\n");
    }
    Ok(said)
}

/// Only the page's certificate: at a first boot, when nothing else was saved (the
/// image's configuration is not written to the disk as if the operator had saved it).
pub fn save_certificate(paths: &Paths, store: &Store) -> Result<(), String> {
    let saved = Saved {
        texts: None,
        tls: Some(tls::read(&paths.tls)?),
    };
    store.save(&encode(&saved)).map_err(|e| e.to_string())?;
    remember_running(paths)
}

/// What the disk held at boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restored {
    /// The saved files are now the running ones.
    Saved,
    /// No configuration saved (a new disk, after a factory reset, or only the
    /// certificate): the image's files stay.
    Nothing,
}

/// At boot, before the balancer starts: the saved configuration becomes the running one,
/// and the saved certificate the one in service. An error when the disk cannot be read
/// or holds what this firmware does not understand: never taken for "nothing saved".
pub fn restore(paths: &Paths, store: &Store) -> Result<Restored, String> {
    let Some(bytes) = store.load().map_err(|e| e.to_string())? else {
        remember_running(paths)?;
        return Ok(Restored::Nothing);
    };
    let saved = decode(&bytes)?;
    if let Some(files) = &saved.tls {
        tls::write(&paths.tls, files)?;
    }
    let Some(texts) = saved.texts else {
        remember_running(paths)?;
        return Ok(Restored::Nothing);
    };
    write(&paths.running_json, &texts.native)?;
    match &texts.keepalived {
        Some(text) => write(&paths.running_conf, text)?,
        None => remove_optional(&paths.running_conf)?,
    }
    remember_running(paths)?;
    Ok(Restored::Saved)
}

/// Left by PID 1 when the saved configuration could not be restored at boot: why. While
/// it exists the page stays closed (what runs is not the operator's configuration).
pub const RESTORE_FAILED_PATH: &str = "/run/lvsfw/restore-failed";

/// The reason [`RESTORE_FAILED_PATH`] (or `path`) holds, if it exists.
pub fn restore_failed(path: &std::path::Path) -> Option<String> {
    use std::io::Read as _;
    let mut text = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(4096)
        .read_to_string(&mut text)
        .ok()?;
    let text = text.trim();
    Some(format!(
        "The saved configuration could not be read at boot ({}), so the page stays closed: see the serial console.",
        if text.is_empty() { "no reason given" } else { text }
    ))
}
