//! The saved configuration: the running files, bundled into one record of the `store`
//! crate's two checksummed slots on the configuration disk.
//!
//! The record's payload is one JSON object holding both files verbatim:
//!
//! ```text
//! {"format": "lvsfw-saved-1", "config.json": "...", "keepalived.conf": "..." | null}
//! ```
//!
//! Verbatim text rather than the model, so that the operator's keepalived.conf comes
//! back as it was pasted (comments, order, layout).

use std::path::Path;

use serde::{Deserialize, Serialize};
use store::Store;

use super::{remove_optional, write, Paths, Texts};

const FORMAT: &str = "lvsfw-saved-1";

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
    match super::running(paths) {
        Ok(texts) if digest(&encode(&texts)) == remembered => State::Saved,
        Ok(_) => State::Unsaved,
        Err(e) => State::Unknown(e),
    }
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

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Bundle {
    format: String,
    #[serde(rename = "config.json")]
    native: String,
    #[serde(rename = "keepalived.conf")]
    keepalived: Option<String>,
}

pub fn encode(texts: &Texts) -> Vec<u8> {
    let bundle = Bundle {
        format: FORMAT.into(),
        native: texts.native.clone(),
        keepalived: texts.keepalived.clone(),
    };
    serde_json::to_vec(&bundle).expect("strings always serialize")
}

pub fn decode(bytes: &[u8]) -> Result<Texts, String> {
    let bundle: Bundle = serde_json::from_slice(bytes)
        .map_err(|e| format!("the saved configuration is not readable: {e}"))?;
    if bundle.format != FORMAT {
        return Err(format!(
            "the saved configuration is in format \"{}\", this firmware reads \"{FORMAT}\"",
            bundle.format
        ));
    }
    Ok(Texts {
        native: bundle.native,
        keepalived: bundle.keepalived,
    })
}

/// `config save`: the running configuration onto the disk.
pub fn save(paths: &Paths, store: &Store) -> Result<String, String> {
    let texts = super::running(paths)?;
    let bytes = encode(&texts);
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

/// What the disk held at boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restored {
    /// The saved files are now the running ones.
    Saved,
    /// Nothing saved (a new disk or after a factory reset): the image's files stay.
    Nothing,
}

/// At boot, before the balancer starts: the saved configuration becomes the running one.
pub fn restore(paths: &Paths, store: &Store) -> Result<Restored, String> {
    let Some(bytes) = store.load().map_err(|e| e.to_string())? else {
        remember_running(paths)?;
        return Ok(Restored::Nothing);
    };
    let texts = decode(&bytes)?;
    write(&paths.running_json, &texts.native)?;
    match &texts.keepalived {
        Some(text) => write(&paths.running_conf, text)?,
        None => remove_optional(&paths.running_conf)?,
    }
    remember(&paths.saved_digest, &bytes)?;
    Ok(Restored::Saved)
}

/// At boot with nothing saved (or no disk to save on): a reboot brings back the running
/// files as the image has them.
pub fn remember_running(paths: &Paths) -> Result<(), String> {
    remember(&paths.saved_digest, &encode(&super::running(paths)?))
}
