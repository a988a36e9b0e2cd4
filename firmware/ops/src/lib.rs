//! The operator's operations on the configuration, the same for the console and the page:
//! edit the candidate, validate it, compare it, put it in service, save it, export it.
//!
//! Three copies of the configuration exist, each a native `config.json` (hostname,
//! interfaces, routes, admin) and a `keepalived.conf` (virtual servers, VRRP):
//!
//! | copy | where | changed by |
//! |---|---|---|
//! | candidate | `/run/lvsfw/candidate.{json,conf}` | `set ...`, `config import`, the page's forms and editor |
//! | running | `/etc/lvsfw/config.json`, `/etc/lvsfw/keepalived.conf` | `config apply`, the page's Apply, its native editor |
//! | saved | the configuration disk ([`saved`]) | `config save`; read back at boot |
//!
//! There is one candidate, on disk, whoever stages a change: the console (`set`, `config
//! import`) and the page (its forms and editor) both go through [`execute`], so a change
//! staged on one shows on the other, and an apply from either applies it all. Who
//! changed it is kept beside it (`candidate.changes`, one line each) for the page.
//!
//! A candidate file that does not exist means "the same as running". Every function
//! here reads and writes files only; the caller (a child process of PID 1 for the
//! console, so that untrusted text is never parsed in PID 1; the balancer for the page)
//! tells the balancer to read the running files again ([`op::Report::in_service`]). An error names what was wrong and leaves every file as it was.

mod apply;
pub mod boot;
pub mod confirm;
mod diff;
pub mod disk;
pub mod exit_code;
pub mod history;
pub mod listen;
mod login;
mod op;
pub mod put;
pub mod saved;
mod set;
mod setup;
pub mod tls;

pub use apply::*;
pub use login::*;
pub use op::{execute, pending, Change, Error, Op, Report};
pub use set::*;
pub use setup::*;

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use config::{Config, Interface, IpPrefix, PasswordHash, Role, Route};

#[derive(Debug, Clone)]
pub struct Paths {
    pub running_json: PathBuf,
    pub running_conf: PathBuf,
    pub candidate_json: PathBuf,
    pub candidate_conf: PathBuf,
    /// Who changed the candidate and how, one line a change (`console: hostname: lb1`).
    pub candidate_changes: PathBuf,
    /// The SHA-256 of what a reboot would bring back (the saved record, or the image's
    /// files when nothing is saved), left by `restore` and `save`: whether the running
    /// configuration is saved is then known without reading the disk, whoever changed
    /// it ([`saved::state`]).
    pub saved_digest: PathBuf,
    /// The board file: which NIC roles the box has.
    pub board: PathBuf,
    /// What the running configuration was when the candidate was started (a digest):
    /// `config apply` refuses a candidate the running configuration has moved on from.
    pub candidate_base: PathBuf,
    /// The page's certificate and key ([`tls`]).
    pub tls: tls::TlsPaths,
    /// A change waiting for its confirmation ([`confirm`]).
    pub rollback: PathBuf,
    /// Present while the box is drained (`drain`); in /run, so a reboot ends it.
    pub drain: PathBuf,
}

impl Paths {
    pub fn appliance() -> Paths {
        Paths {
            running_json: paths::CONFIG_JSON.into(),
            running_conf: paths::KEEPALIVED_CONF.into(),
            candidate_json: paths::CANDIDATE_JSON.into(),
            candidate_conf: paths::CANDIDATE_CONF.into(),
            candidate_changes: paths::CANDIDATE_CHANGES.into(),
            saved_digest: paths::SAVED_DIGEST.into(),
            board: paths::BOARD.into(),
            candidate_base: paths::CANDIDATE_BASE.into(),
            tls: tls::TlsPaths::under(Path::new(paths::TLS_DIR)),
            rollback: paths::ROLLBACK.into(),
            drain: paths::DRAIN.into(),
        }
    }

    /// The board file as parsed; none when it cannot be read or is not valid (PID 1
    /// logs why at boot).
    pub fn board(&self) -> Option<config::board::Board> {
        let text = std::fs::read_to_string(&self.board).ok()?;
        config::board::parse(&text).ok()
    }

    /// The same names under `dir` (the tests, here and in the binary's front ends).
    pub fn under(dir: &Path) -> Paths {
        Paths {
            running_json: dir.join("etc/config.json"),
            running_conf: dir.join("etc/keepalived.conf"),
            candidate_json: dir.join("run/candidate.json"),
            candidate_conf: dir.join("run/candidate.conf"),
            candidate_changes: dir.join("run/candidate.changes"),
            saved_digest: dir.join("run/saved.sha256"),
            board: dir.join("etc/board.conf"),
            candidate_base: dir.join("run/candidate.base"),
            tls: tls::TlsPaths::under(&dir.join("etc/tls")),
            rollback: dir.join("run/rollback.json"),
            drain: dir.join("run/drain"),
        }
    }
}

/// One copy of the configuration as text: the native JSON and the keepalived.conf (if
/// there is one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Texts {
    pub native: String,
    pub keepalived: Option<String>,
}

pub(crate) fn read_optional(path: &Path) -> Result<Option<String>, String> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

pub(crate) fn remove_optional(path: &Path) -> Result<(), String> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

pub(crate) fn write(path: &Path, text: &str) -> Result<(), String> {
    paths::write_atomic(path, text.as_bytes(), true).map_err(|e| e.to_string())
}

/// The configuration in service. A missing config.json is an empty configuration.
pub fn running(paths: &Paths) -> Result<Texts, String> {
    Ok(Texts {
        native: read_optional(&paths.running_json)?.unwrap_or_else(|| "{}\n".into()),
        keepalived: read_optional(&paths.running_conf)?,
    })
}

/// The candidate: what `set` and `config import` changed, the running rest.
pub fn candidate(paths: &Paths) -> Result<Texts, String> {
    let running = running(paths)?;
    Ok(Texts {
        native: read_optional(&paths.candidate_json)?.unwrap_or(running.native),
        keepalived: read_optional(&paths.candidate_conf)?.or(running.keepalived),
    })
}

pub fn has_candidate(paths: &Paths) -> bool {
    paths.candidate_json.exists() || paths.candidate_conf.exists()
}

/// A digest of the running configuration, both files.
pub(crate) fn running_digest(paths: &Paths) -> Result<String, String> {
    let texts = running(paths)?;
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    context.update(texts.native.as_bytes());
    match &texts.keepalived {
        Some(k) => {
            context.update(b"\0keepalived.conf\0");
            context.update(k.as_bytes());
        }
        None => context.update(b"\0no keepalived.conf"),
    }
    Ok(context
        .finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Before the first change of a new candidate: remembers what it starts from.
pub fn start_candidate(paths: &Paths) -> Result<(), String> {
    if has_candidate(paths) {
        return Ok(());
    }
    write(&paths.candidate_base, &running_digest(paths)?)
}

/// `config discard`: the candidate goes; the running configuration is the candidate again.
pub fn discard(paths: &Paths) -> Result<String, String> {
    let had = has_candidate(paths);
    remove_optional(&paths.candidate_json)?;
    remove_optional(&paths.candidate_conf)?;
    remove_optional(&paths.candidate_base)?;
    remove_optional(&paths.candidate_changes)?;
    Ok(if had {
        "candidate discarded: the running configuration is the candidate again\n".into()
    } else {
        "no changes to discard\n".into()
    })
}

pub(crate) fn native(text: &str, what: &str) -> Result<Config, String> {
    config::native::from_json(text).map_err(|issues| {
        let mut report = format!("the {what} configuration is not valid:\n");
        for issue in issues.iter() {
            let _ = writeln!(report, "  {issue}");
        }
        report
    })
}

#[cfg(test)]
mod tests;
