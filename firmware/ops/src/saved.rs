//! The saved configuration: the running files and the page's certificate, bundled into
//! one record of the `store` crate's two checksummed slots on the configuration disk.
//!
//! The record's payload is one JSON object holding the files verbatim:
//!
//! ```text
//! {"format": "lvsfw-saved-3", "config.json": "..." | null, "keepalived.conf": "..." | null,
//!  "tls": {"own": {"chain": "...", "key": "..."} | null, "installed": ... | null} | null,
//!  "history": {"next": 13, "revisions": [{"rev": 12, "time": ..., "who": "...",
//!              "summary": "...", "data": "(deflated, base64)"}, ...]}}
//! ```
//!
//! The history ([`super::history`]) sits in the same record so that it is written with
//! the configuration in one power-loss-safe save; when the record would not fit the
//! partition's half, the oldest revisions are dropped and the save says how many stay.
//!
//! Verbatim text rather than the model, so that the operator's keepalived.conf comes
//! back as it was pasted (comments, order, layout). `config.json` is null when only the
//! box's own certificate was saved (at its first boot, before any setup): the image's
//! configuration then stays. `lvsfw-saved-1` (no certificate) and `-2` (no history) are
//! still read; a format
//! this firmware does not know is an error, never "nothing saved".

use std::path::Path;

use serde::{Deserialize, Serialize};
use store::Store;

use super::history::{self, History};
use super::tls::{self, TlsFiles};
use super::{remove_optional, write, Paths, Texts};

const FORMAT: &str = "lvsfw-saved-3";
const FORMAT_2: &str = "lvsfw-saved-2";
const FORMAT_1: &str = "lvsfw-saved-1";

fn digest(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn remember(digest_path: &Path, bytes: &[u8]) -> Result<(), String> {
    paths::write_atomic(digest_path, format!("{}\n", digest(bytes)).as_bytes(), true)
        .map_err(|e| e.to_string())
}

/// What runs now (the configuration and the page's certificate), as `save` would write it.
fn current(paths: &Paths) -> Result<Saved, String> {
    Ok(Saved {
        texts: Some(super::running(paths)?),
        tls: Some(tls::read(&paths.tls)?),
        history: History::default(),
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    history: Option<History>,
}

/// What a saved record holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    /// The configuration, unless only the certificate was saved.
    pub texts: Option<Texts>,
    pub tls: Option<TlsFiles>,
    /// Empty in what is compared with the running files (the saved digest).
    pub history: History,
}

pub fn encode(saved: &Saved) -> Vec<u8> {
    let bundle = Bundle {
        format: FORMAT.into(),
        native: saved.texts.as_ref().map(|t| t.native.clone()),
        keepalived: saved.texts.as_ref().and_then(|t| t.keepalived.clone()),
        tls: saved.tls.clone(),
        history: (saved.history != History::default()).then(|| saved.history.clone()),
    };
    serde_json::to_vec(&bundle).expect("strings always serialize")
}

pub fn decode(bytes: &[u8]) -> Result<Saved, String> {
    let bundle: Bundle = serde_json::from_slice(bytes)
        .map_err(|e| format!("the saved configuration is not readable: {e}"))?;
    if ![FORMAT, FORMAT_2, FORMAT_1].contains(&bundle.format.as_str()) {
        return Err(format!(
            "the saved configuration is in format \"{}\", this firmware reads \"{FORMAT}\", \"{FORMAT_2}\" and \"{FORMAT_1}\"",
            bundle.format
        ));
    }
    if bundle.format == FORMAT_1 && (bundle.native.is_none() || bundle.tls.is_some()) {
        return Err(format!(
            "the saved configuration is not a valid \"{FORMAT_1}\""
        ));
    }
    if bundle.format != FORMAT && bundle.history.is_some() {
        return Err(format!(
            "the saved configuration is not a valid \"{}\" (it has a history)",
            bundle.format
        ));
    }
    Ok(Saved {
        texts: bundle.native.map(|native| Texts {
            native,
            keepalived: bundle.keepalived,
        }),
        tls: bundle.tls,
        history: bundle.history.unwrap_or_default(),
    })
}

/// `config save`: the running configuration and the page's certificate onto the disk,
/// with a new revision in the history (`who` saved it). Refused while a change waits
/// for its confirmation: what is saved is always confirmed.
pub fn save(paths: &Paths, store: &Store, who: &str) -> Result<String, String> {
    super::confirm::refuse_while_pending(paths, "config save")?;
    let now = current(paths)?;
    let fingerprint = encode(&now);
    let mut said = String::new();
    let (mut history, prev) = match store.load().map_err(|e| e.to_string()) {
        Ok(None) => (History::default(), None),
        Ok(Some(bytes)) => match decode(&bytes) {
            Ok(old) => (old.history, old.texts),
            Err(e) => {
                said.push_str(&format!("note: the history starts again ({e})\n"));
                (History::default(), None)
            }
        },
        Err(e) => {
            said.push_str(&format!("note: the history starts again ({e})\n"));
            (History::default(), None)
        }
    };
    let texts = now.texts.clone().expect("current() always has texts");
    let summary = history::summary(prev.as_ref(), &texts, &history);
    let time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let rev = history.record(&texts, time, who, &summary);
    let mut saved = Saved { history, ..now };
    let mut bytes = encode(&saved);
    let mut dropped = 0;
    match store.save(&bytes) {
        Ok(()) => {}
        Err(store::Error::TooLarge { max, .. }) => {
            // The oldest revisions go until the record fits the partition's half.
            let empty_len = encode(&Saved {
                history: History {
                    next: saved.history.next,
                    revisions: Vec::new(),
                },
                ..saved.clone()
            })
            .len();
            dropped = match history::fit(&mut saved.history, max, empty_len) {
                Ok(n) | Err(n) => n,
            };
            bytes = encode(&saved);
            store
                .save(&bytes)
                .map_err(|e| format!("{e}; nothing saved\n"))?;
        }
        Err(e) => return Err(format!("{e}; nothing saved\n")),
    }
    if let Err(e) = remember(&paths.saved_digest, &fingerprint) {
        log::warn!("{e}");
    }
    let kept = saved.history.revisions.len();
    said.push_str(&format!(
        "saved: the running configuration ({} bytes) is on the configuration disk as revision {rev}: {summary}\n",
        bytes.len()
    ));
    said.push_str(&format!(
        "history: {} kept{}\n",
        config::count(kept, "revision", "revisions"),
        if dropped > 0 {
            format!(", the {dropped} oldest dropped to fit the disk")
        } else {
            String::new()
        }
    ));
    if super::has_candidate(paths) {
        said.push_str("note: the candidate is not applied, so it is not saved\n");
    }
    Ok(said)
}

/// The history on the disk (empty when nothing is saved).
pub fn history(store: &Store) -> Result<History, String> {
    match store.load().map_err(|e| e.to_string())? {
        None => Ok(History::default()),
        Some(bytes) => Ok(decode(&bytes)?.history),
    }
}

/// `config diff REV`: what putting revision `rev` back would change in what runs.
pub fn diff_revision(paths: &Paths, store: &Store, rev: u64) -> Result<String, String> {
    let history = history(store)?;
    let texts = history::unpack(&history.get(rev)?.data)?;
    let running = super::running(paths)?;
    let out = super::diff_texts(("running", &running), (&format!("revision {rev}"), &texts));
    Ok(if out.is_empty() {
        format!("no changes: revision {rev} is what runs\n")
    } else {
        out
    })
}

/// `config restore REV`: revision `rev` becomes the candidate and goes into service
/// through `config apply` (its rollback rules included); `config save` then records it
/// as a new revision. Refused while a change waits for its confirmation or a candidate
/// is pending; on any error nothing changed.
pub fn restore_revision(
    paths: &Paths,
    store: &Store,
    rev: u64,
    who: &str,
) -> Result<super::Applied, String> {
    super::confirm::refuse_while_pending(paths, "config restore")?;
    if super::has_candidate(paths) {
        return Err("config restore is refused while a candidate is pending (\"config diff\" shows it, \"config discard\" drops it); nothing changed\n".into());
    }
    let history = history(store)?;
    let texts =
        history::unpack(&history.get(rev)?.data).map_err(|e| format!("{e}; nothing changed\n"))?;
    super::start_candidate(paths)?;
    let running_has_conf = super::running(paths)?.keepalived.is_some();
    let staged = write(&paths.candidate_json, &texts.native).and_then(|()| {
        match (&texts.keepalived, running_has_conf) {
            (Some(text), _) => write(&paths.candidate_conf, text),
            // A revision without keepalived.conf over one with it: an empty one (no
            // virtual servers, no VRRP), since a candidate cannot remove the file.
            (None, true) => write(&paths.candidate_conf, ""),
            (None, false) => Ok(()),
        }
    });
    let applied = staged.and_then(|()| super::apply_as(paths, super::Confirm::Default, who));
    match applied {
        Ok(mut applied) => {
            applied.report = format!(
                "revision {rev} restored: {}\"config save\" keeps it (as a new revision)\n",
                applied.report
            );
            Ok(applied)
        }
        Err(e) => {
            let _ = super::discard(paths);
            Err(format!("revision {rev} not restored: {e}"))
        }
    }
}

/// Only the page's certificate: at a first boot, when nothing else was saved (the
/// image's configuration is not written to the disk as if the operator had saved it).
pub fn save_certificate(paths: &Paths, store: &Store) -> Result<(), String> {
    let saved = Saved {
        texts: None,
        tls: Some(tls::read(&paths.tls)?),
        history: History::default(),
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

/// The reason [`paths::RESTORE_FAILED`] (or `path`) holds, if it exists.
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

#[cfg(test)]
mod tests;
