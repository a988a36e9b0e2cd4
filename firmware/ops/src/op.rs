//! One typed operations API: every front end (the console through `lvsfw config`, the
//! page through `web::Backend`, the command line) says what it wants as an [`Op`] and
//! [`execute`] does it on the one candidate and the running files. The console's words
//! travel from PID 1 to its child as arguments: [`Op::to_args`] writes them and
//! [`Op::from_args`] reads them back, one table for both ends. Untrusted text (an
//! address, a revision number) stays text in an `Op` and is parsed by `execute`, in the
//! child or the balancer, never in PID 1.

use std::fmt;
use std::path::PathBuf;

use super::*;

/// A change to the candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// `set interface ROLE address A/P...`
    Interface {
        role: String,
        addresses: Vec<String>,
    },
    /// `set hostname NAME`
    Hostname(String),
    /// `set gateway ADDRESS|none`
    Gateway(String),
    /// `set ntp ADDRESS...|none`
    Ntp(Vec<String>),
    /// `set password`: the password travels on stdin, never as an argument (arguments
    /// are visible in /proc).
    Password(String),
    /// `config import FILE`: a keepalived.conf the console's paste was written to.
    Import(PathBuf),
    /// keepalived.conf text from the page's forms or editor; `name` is what its errors
    /// call it, `note` what the change is for the pending line (empty: its summary).
    Keepalived {
        text: String,
        name: String,
        note: String,
    },
}

/// One operation on the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Changes the candidate; `who` is remembered for the page's pending line.
    Stage {
        change: Change,
        who: String,
    },
    Validate,
    /// The candidate against the running configuration.
    Diff,
    Discard,
    /// The candidate into service.
    Apply {
        confirm: Confirm,
        who: String,
    },
    /// The change waiting for its confirmation stays.
    Confirm {
        who: String,
    },
    /// The running configuration onto the disk, as a new revision.
    Save {
        who: String,
    },
    History,
    /// A saved revision (as typed) against what runs.
    DiffRevision(String),
    /// A saved revision (as typed) back into service, through the candidate.
    RestoreRevision {
        rev: String,
        who: String,
    },
    Show,
    Export(Secrets),
    /// Parts of the configuration into service at once, past the candidate (the page's
    /// native editor, the API's whole configuration); a rollback after `rollback`
    /// minutes, or when the change needs one.
    Put {
        native: Option<Box<Config>>,
        keepalived: Option<String>,
        rollback: Option<u32>,
        who: String,
    },
    /// `drain` / `drain off`: BGP withdraws every prefix (gracefully) while the box
    /// keeps serving the flows it has; not part of the configuration, ended by a reboot.
    Drain {
        on: bool,
        who: String,
    },
}

/// What an operation did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    /// For the operator, as the console prints it.
    pub said: String,
    /// The running files changed: the caller has the balancer read them again.
    pub in_service: bool,
}

/// Why an operation did nothing; `Display` is the text the console prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Bad input, or a result that would be invalid: each problem named.
    Invalid(String),
    /// `apply` with no change staged.
    NothingToApply,
    /// The running configuration changed since the candidate was started: applying it
    /// would undo that change.
    Stale,
    /// Refused by a rule (a rollback is pending, nothing to confirm, ...).
    Refused(String),
    /// A file or the configuration disk could not be read or written.
    Io(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Invalid(s) | Error::Refused(s) | Error::Io(s) => f.write_str(s),
            Error::NothingToApply => f.write_str(
                "nothing to apply: no \"set\" or \"config import\" since the last apply\n",
            ),
            Error::Stale => f.write_str("the running configuration changed since this candidate was started (on the page, or by another console session); nothing applied. \"config diff\" shows what the candidate would change; \"config discard\" drops it, then make the change again\n"),
        }
    }
}

impl std::error::Error for Error {}

/// The one who staged a change at the console, when nobody else is named.
const CONSOLE: &str = "console";

fn said(text: String) -> Report {
    Report {
        said: text,
        in_service: false,
    }
}

fn with_store<T>(f: impl FnOnce(&store::Store) -> Result<T, String>) -> Result<T, Error> {
    let store = disk::open().map_err(|e| Error::Io(String::from(e)))?;
    f(&store).map_err(Error::Io)
}

/// A revision number as typed.
fn revision(text: &str) -> Result<u64, Error> {
    text.parse::<u64>().map_err(|_| {
        Error::Invalid(format!(
            "\"{text}\" is not a revision number (\"config history\" lists them); nothing changed"
        ))
    })
}

/// Does `op` on the candidate and the running files (and the disk for the saved
/// revisions). An error changes nothing.
pub fn execute(paths: &Paths, op: Op) -> Result<Report, Error> {
    match op {
        Op::Stage { change, who } => {
            let note = match &change {
                Change::Keepalived { note, .. } if !note.is_empty() => Some(note.clone()),
                _ => None,
            };
            let text = stage(paths, change).map_err(Error::Invalid)?;
            note_change(paths, &who, note.as_deref().unwrap_or(&text));
            Ok(said(text))
        }
        Op::Validate => validate(paths).map(said).map_err(Error::Invalid),
        Op::Diff => diff(paths).map(said).map_err(Error::Io),
        Op::Discard => discard(paths).map(said).map_err(Error::Io),
        Op::Apply { confirm, who } => apply_candidate(paths, confirm, &who).map(|a| Report {
            said: a.report,
            in_service: true,
        }),
        Op::Confirm { who } => confirm::confirm(paths, &who)
            .map(said)
            .map_err(Error::Refused),
        Op::Save { who } => with_store(|store| saved::save(paths, store, &who)).map(said),
        Op::History => with_store(|store| saved::history(store).map(|h| h.listing())).map(said),
        Op::DiffRevision(rev) => {
            let rev = revision(&rev)?;
            with_store(|store| saved::diff_revision(paths, store, rev)).map(said)
        }
        Op::RestoreRevision { rev, who } => {
            let rev = revision(&rev)?;
            let store = disk::open().map_err(|e| Error::Io(String::from(e)))?;
            saved::restore_revision(paths, &store, rev, &who)
                .map(|a| Report {
                    said: a.report,
                    in_service: true,
                })
                .map_err(Error::Refused)
        }
        Op::Show => show(paths).map(said).map_err(Error::Io),
        Op::Export(secrets) => export(paths, secrets).map(said).map_err(Error::Io),
        Op::Put {
            native,
            keepalived,
            rollback,
            who,
        } => put::put(
            paths,
            native.as_deref(),
            keepalived.as_deref(),
            rollback,
            &who,
        )
        .map(|text| Report {
            said: text,
            in_service: true,
        }),
        Op::Drain { on, who } => drain(paths, on, &who),
    }
}

/// The drain file, and the balancer told (it reads the file on its reload).
fn drain(paths: &Paths, on: bool, who: &str) -> Result<Report, Error> {
    let was = paths.drain.exists();
    if on {
        write(&paths.drain, &format!("{who}\n")).map_err(Error::Io)?;
    } else {
        remove_optional(&paths.drain).map_err(Error::Io)?;
    }
    let said = match (was, on) {
        (false, true) => format!("drained by {who}: every BGP prefix is withdrawn (graceful shutdown first); existing flows are still served; \"drain off\" ends it\n"),
        (true, true) => "already drained\n".to_string(),
        (true, false) => format!("drain ended by {who}: prefixes are announced again as they are ready\n"),
        (false, false) => "not drained\n".to_string(),
    };
    log::info!("{}", said.trim_end());
    Ok(Report {
        said,
        in_service: was != on,
    })
}

fn stage(paths: &Paths, change: Change) -> Result<String, String> {
    match change {
        Change::Interface { role, addresses } => role
            .parse()
            .and_then(|role| set_interface(paths, role, &addresses)),
        Change::Hostname(name) => set_hostname(paths, &name),
        Change::Gateway(gateway) => set_gateway(paths, &gateway),
        Change::Ntp(servers) => {
            let servers: Vec<&str> = servers.iter().map(String::as_str).collect();
            set_ntp(paths, &servers)
        }
        Change::Password(password) => set_password(paths, &password),
        Change::Import(file) => {
            let text =
                std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}\n", file.display()))?;
            stage_keepalived(paths, &text, "pasted")
        }
        Change::Keepalived { text, name, .. } => stage_keepalived(paths, &text, &name),
    }
}

/// What the page shows of the candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub texts: Texts,
    /// Who changed it and how, oldest first.
    pub changes: Vec<String>,
}

/// The shared candidate, if a change is staged.
pub fn pending(paths: &Paths) -> Result<Option<Pending>, Error> {
    if !has_candidate(paths) {
        return Ok(None);
    }
    let texts = candidate(paths).map_err(Error::Io)?;
    let changes = read_optional(&paths.candidate_changes)
        .map_err(Error::Io)?
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    Ok(Some(Pending { texts, changes }))
}

impl Op {
    /// A change made at the console.
    pub fn at_console(change: Change) -> Op {
        Op::Stage {
            change,
            who: CONSOLE.into(),
        }
    }

    pub fn apply_at_console(confirm: Confirm) -> Op {
        Op::Apply {
            confirm,
            who: CONSOLE.into(),
        }
    }

    pub fn confirm_at_console() -> Op {
        Op::Confirm {
            who: CONSOLE.into(),
        }
    }

    pub fn save_at_console() -> Op {
        Op::Save {
            who: CONSOLE.into(),
        }
    }

    pub fn restore_at_console(rev: String) -> Op {
        Op::RestoreRevision {
            rev,
            who: CONSOLE.into(),
        }
    }

    /// The arguments of `lvsfw` that do this operation (PID 1 starts the console's
    /// commands so); a password is not among them (it goes on stdin).
    pub fn to_args(&self) -> Vec<String> {
        let mut args: Vec<String> = vec!["config".into()];
        let push = |args: &mut Vec<String>, words: &[&str]| {
            args.extend(words.iter().map(|w| w.to_string()))
        };
        let a = &mut args;
        match self {
            Op::Stage { change, .. } => match change {
                Change::Interface { role, addresses } => {
                    push(a, &["set", "interface", role, "address"]);
                    a.extend(addresses.iter().cloned());
                }
                Change::Hostname(name) => push(a, &["set", "hostname", name]),
                Change::Gateway(gateway) => push(a, &["set", "gateway", gateway]),
                Change::Ntp(servers) => {
                    push(a, &["set", "ntp"]);
                    a.extend(servers.iter().cloned());
                }
                // The password itself goes on standard input.
                Change::Password(_) => push(a, &["set", "password"]),
                Change::Import(file) => push(a, &["import", &file.to_string_lossy()]),
                // The page's own; the command line takes a file.
                Change::Keepalived { .. } => push(a, &["import", "-"]),
            },
            Op::Validate => push(a, &["validate"]),
            Op::Diff => push(a, &["diff"]),
            Op::Discard => push(a, &["discard"]),
            Op::Apply { confirm, .. } => match confirm {
                Confirm::Minutes(m) => push(a, &["apply", "confirm", &m.to_string()]),
                _ => push(a, &["apply"]),
            },
            Op::Confirm { .. } => push(a, &["confirm"]),
            Op::Save { who } if who == CONSOLE => push(a, &["save"]),
            Op::Save { who } => push(a, &["save", "--who", who]),
            Op::History => push(a, &["history"]),
            Op::DiffRevision(rev) => push(a, &["diff", rev]),
            Op::RestoreRevision { rev, who } if who == CONSOLE => push(a, &["restore", rev]),
            Op::RestoreRevision { rev, who } => push(a, &["restore", rev, "--who", who]),
            Op::Show => push(a, &["show"]),
            Op::Export(Secrets::Hidden) => push(a, &["export"]),
            Op::Export(Secrets::Included) => push(a, &["export", "--with-secrets"]),
            // The page's own, in the balancer; no command line names it.
            Op::Put { .. } => push(a, &["put"]),
            Op::Drain { on: true, .. } => push(a, &["drain"]),
            Op::Drain { on: false, .. } => push(a, &["drain", "off"]),
        }
        args
    }

    /// The operation `lvsfw config ARGS...` names (`args` without "config"); `stdin`
    /// gives the password of `set password`. `None`: not an operation (the command line
    /// has a few more commands of its own) or a usage error; `Some(Err)`: an operation
    /// whose argument is wrong.
    pub fn from_args(args: &[&str], stdin: impl FnOnce() -> String) -> Option<Result<Op, Error>> {
        let stage = |change| Op::Stage {
            change,
            who: CONSOLE.into(),
        };
        let strings = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        Some(Ok(match args {
            ["import", file] => stage(Change::Import(PathBuf::from(file))),
            ["set", "interface", role, "address", addresses @ ..] if !addresses.is_empty() => {
                stage(Change::Interface {
                    role: role.to_string(),
                    addresses: strings(addresses),
                })
            }
            ["set", "hostname", name] => stage(Change::Hostname(name.to_string())),
            ["set", "gateway", gateway] => stage(Change::Gateway(gateway.to_string())),
            ["set", "ntp", servers @ ..] if !servers.is_empty() => {
                stage(Change::Ntp(strings(servers)))
            }
            ["set", "password"] => {
                let text = stdin();
                stage(Change::Password(
                    text.lines().next().unwrap_or("").to_string(),
                ))
            }
            ["validate"] => Op::Validate,
            ["diff"] => Op::Diff,
            ["discard"] => Op::Discard,
            ["apply"] => Op::Apply {
                confirm: Confirm::Default,
                who: CONSOLE.into(),
            },
            ["apply", "confirm", minutes] => match confirm::parse_minutes(minutes) {
                Ok(m) => Op::Apply {
                    confirm: Confirm::Minutes(m),
                    who: CONSOLE.into(),
                },
                Err(e) => return Some(Err(Error::Invalid(e))),
            },
            ["confirm"] => Op::Confirm {
                who: CONSOLE.into(),
            },
            ["save"] => Op::Save {
                who: CONSOLE.into(),
            },
            ["save", "--who", who] => Op::Save {
                who: who.to_string(),
            },
            ["history"] => Op::History,
            ["diff", rev] => Op::DiffRevision(rev.to_string()),
            ["restore", rev] if !rev.starts_with('-') => Op::RestoreRevision {
                rev: rev.to_string(),
                who: CONSOLE.into(),
            },
            ["restore", rev, "--who", who] => Op::RestoreRevision {
                rev: rev.to_string(),
                who: who.to_string(),
            },
            ["show"] => Op::Show,
            ["drain"] => Op::Drain {
                on: true,
                who: CONSOLE.into(),
            },
            ["drain", "off"] => Op::Drain {
                on: false,
                who: CONSOLE.into(),
            },
            ["export"] => Op::Export(Secrets::Hidden),
            ["export", "--with-secrets"] => Op::Export(Secrets::Included),
            _ => return None,
        }))
    }
}

#[cfg(test)]
mod tests;
