//! The candidate checked, compared, put in service; the running configuration shown and
//! exported.

use super::*;

/// The roles of the box, when its board file can be read: the board's NICs, VLANs and
/// bonds, and the VLANs `config` makes.
pub fn board_roles(paths: &Paths, config: Option<&Config>) -> Option<Vec<Role>> {
    let board = paths.board()?;
    Some(netif::roles::present(&board, config))
}

/// keepalived.conf text checked as a candidate part: alone, against the interfaces and
/// routes of `native`, and what it binds to against the box.
pub fn check_keepalived(
    paths: &Paths,
    text: &str,
    name: &str,
    native: &Config,
) -> Result<config::keepalived::Read, config::Issues> {
    let roles = board_roles(paths, Some(native));
    config::keepalived::read_text(text, name).and_then(|read| {
        read.validate_with(native)?;
        read.check_bindings(native, roles.as_deref())?;
        Ok(read)
    })
}

/// Both parts checked together: each on its own, then keepalived.conf against the
/// interfaces and routes of the native part, and (for a candidate, `box_paths`) what it
/// binds to against the box.
pub(super) fn check(
    box_paths: Option<&Paths>,
    texts: &Texts,
) -> Result<(Config, Option<config::keepalived::Read>), String> {
    let config = native(&texts.native, "candidate")?;
    let read = match &texts.keepalived {
        None => None,
        Some(text) => {
            let read = match box_paths {
                Some(paths) => check_keepalived(paths, text, "keepalived.conf", &config),
                None => config::keepalived::read_text(text, "keepalived.conf")
                    .and_then(|read| read.validate_with(&config).map(|()| read)),
            }
            .map_err(|issues| {
                let mut report = String::new();
                for issue in issues.iter() {
                    let _ = writeln!(report, "{issue}");
                }
                report
            })?;
            Some(read)
        }
    };
    Ok((config, read))
}

pub(super) fn describe(config: &Config, read: Option<&config::keepalived::Read>) -> String {
    let interfaces: Vec<String> = config
        .interfaces
        .iter()
        .map(|i| {
            let a: Vec<String> = i.addresses.iter().map(|a| a.to_string()).collect();
            format!(
                "{} {}",
                i.role,
                if a.is_empty() {
                    "-".into()
                } else {
                    a.join(" ")
                }
            )
        })
        .collect();
    let keepalived = read.map_or_else(
        || config::keepalived::Keepalived::default().summary(),
        |r| r.config.summary(),
    );
    format!(
        "hostname {}; {}; {keepalived}",
        config.hostname.as_deref().unwrap_or("(board default)"),
        if interfaces.is_empty() {
            "no interfaces".into()
        } else {
            interfaces.join(", ")
        }
    )
}

pub fn validate(paths: &Paths) -> Result<String, String> {
    let texts = candidate(paths)?;
    match check(Some(paths), &texts) {
        Ok((config, read)) => Ok(format!("valid: {}\n", describe(&config, read.as_ref()))),
        Err(report) => Err(format!("{report}the candidate is not valid\n")),
    }
}

pub fn diff(paths: &Paths) -> Result<String, String> {
    if !has_candidate(paths) {
        return Ok("no changes: the candidate is the running configuration\n".into());
    }
    let out = diff_texts(
        ("running", &running(paths)?),
        ("candidate", &candidate(paths)?),
    );
    Ok(if out.is_empty() {
        "no changes: the candidate is the running configuration\n".into()
    } else {
        out
    })
}

/// Both files of `old` against `new`, each end named ("running", "revision 3"),
/// layout-normalized and with the password hash redacted; empty when the same.
pub(super) fn diff_texts(
    (old_name, old): (&str, &Texts),
    (new_name, new): (&str, &Texts),
) -> String {
    let old_native = normalized(&old.native);
    let new_native = normalized(&new.native);
    let mut out = String::new();
    out.push_str(&diff::unified(
        &format!("{old_name} config.json"),
        &format!("{new_name} config.json"),
        &redact(&old_native, None),
        &redact(&new_native, Some(&old_native)),
    ));
    // The secrets (BGP TCP-MD5 keys, VRRP auth_pass) hidden on both sides; a change of a
    // secret alone is still said, without either value.
    let (old_conf, new_conf) = (
        old.keepalived.as_deref().unwrap_or(""),
        new.keepalived.as_deref().unwrap_or(""),
    );
    let (old_shown, new_shown) = (
        config::keepalived::hide_secrets(old_conf),
        config::keepalived::hide_secrets(new_conf),
    );
    out.push_str(&diff::unified(
        &format!("{old_name} keepalived.conf"),
        &format!("{new_name} keepalived.conf"),
        &old_shown,
        &new_shown,
    ));
    if old_shown == new_shown && old_conf != new_conf {
        let _ = writeln!(
            out,
            "{new_name} keepalived.conf: a secret changed (a BGP neighbor's password or a VRRP auth_pass; values not shown)"
        );
    }
    out
}

/// The native text as the model writes it, so that a diff shows changes, not layout.
pub(super) fn normalized(text: &str) -> String {
    config::native::from_json(text)
        .map(|c| {
            config::native::to_json(&Config {
                keepalived: Default::default(),
                ..c
            })
        })
        .unwrap_or_else(|_| text.to_string())
}

/// Password hashes are not shown; a changed one says so.
pub(super) fn redact(text: &str, other: Option<&str>) -> String {
    let hash_line = |t: &str| {
        t.lines()
            .find(|l| l.trim_start().starts_with("\"password_hash\""))
            .map(str::to_string)
    };
    let changed = other.is_some_and(|o| hash_line(o) != hash_line(text));
    text.lines()
        .map(|l| {
            if l.trim_start().starts_with("\"password_hash\"") {
                let indent = &l[..l.len() - l.trim_start().len()];
                let comma = if l.trim_end().ends_with(',') { "," } else { "" };
                let what = if changed { "(changed)" } else { "(set)" };
                format!("{indent}\"password_hash\": \"{what}\"{comma}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect()
}

/// What `config apply` changed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Applied {
    pub hostname: Option<String>,
    pub report: String,
}

/// Whether `config apply` leaves a rollback ([`confirm`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    /// Only when the change touches what reaches the box ([`confirm::required`]).
    Default,
    /// `config apply confirm MINUTES`.
    Minutes(u32),
    /// First-boot setup: the operator is at the console and the answers are the change.
    Never,
}

/// The candidate into service without a rollback (first-boot setup, tests).
pub fn apply(paths: &Paths) -> Result<Applied, String> {
    apply_as(paths, Confirm::Never, "console")
}

pub fn apply_as(paths: &Paths, confirm: Confirm, who: &str) -> Result<Applied, String> {
    apply_candidate(paths, confirm, who).map_err(|e| e.to_string())
}

/// The shared candidate into service, whoever staged it; the error says which kind of
/// refusal it is ([`Error`]).
pub fn apply_candidate(paths: &Paths, confirm: Confirm, who: &str) -> Result<Applied, Error> {
    if !has_candidate(paths) {
        return Err(Error::NothingToApply);
    }
    let texts = candidate(paths).map_err(Error::Io)?;
    let (config, read) = check(Some(paths), &texts).map_err(|report| {
        Error::Invalid(format!("{report}the candidate is not valid; nothing applied, the running configuration is unchanged\n"))
    })?;
    // A candidate is a whole copy: applied over a running configuration that changed
    // since (a password set on the page), it would silently undo that change.
    let base = read_optional(&paths.candidate_base).map_err(Error::Io)?;
    if base.as_deref().map(str::trim) != Some(running_digest(paths).map_err(Error::Io)?.as_str()) {
        return Err(Error::Stale);
    }
    let old = native(&running(paths).map_err(Error::Io)?.native, "running").ok();
    let armed = match confirm {
        Confirm::Never => Ok(None),
        Confirm::Minutes(m) => confirm::arm_for(paths, Some(m), None, None, who),
        Confirm::Default => confirm::arm_for(paths, None, old.as_ref(), Some(&config), who),
    }
    .map_err(Error::Refused)?;
    let mut changed = Vec::new();
    let written = (|| {
        if paths.candidate_json.exists() {
            write(&paths.running_json, &texts.native)?;
            changed.push("config.json");
        }
        if let (true, Some(text)) = (paths.candidate_conf.exists(), &texts.keepalived) {
            write(&paths.running_conf, text)?;
            changed.push("keepalived.conf");
        }
        Ok::<(), String>(())
    })();
    if let Err(e) = written {
        if let Some(p) = &armed {
            // Whatever was written goes back at once; the rollback is not left waiting.
            let _ = write(&paths.running_json, &p.native);
            confirm::disarm(paths);
        }
        return Err(Error::Io(e));
    }
    discard(paths).map_err(Error::Io)?;
    Ok(Applied {
        hostname: config.hostname.clone(),
        report: format!(
            "in service: {} ({})\n{}",
            describe(&config, read.as_ref()),
            changed.join(", "),
            armed.as_ref().map(confirm::announce).unwrap_or_default()
        ),
    })
}

/// Whether an export carries the secrets ([`Config::hide_secrets`]: the admin password's
/// hash, the BGP TCP-MD5 keys): they leave the box only in a backup asked for as such.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secrets {
    Hidden,
    Included,
}

/// The running configuration as one native JSON document, keepalived part included.
pub fn export(paths: &Paths, secrets: Secrets) -> Result<String, String> {
    let texts = running(paths)?;
    let (mut config, read) = check(None, &texts)?;
    if let Some(read) = read {
        config.keepalived = read.config;
    }
    if secrets == Secrets::Hidden {
        config.hide_secrets();
    }
    Ok(config::native::to_json(&config))
}

/// The running configuration for people: the native settings, then keepalived.conf.
pub fn show(paths: &Paths) -> Result<String, String> {
    let texts = running(paths)?;
    let config = native(&texts.native, "running")?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "hostname: {}",
        config.hostname.as_deref().unwrap_or("(board default)")
    );
    out.push_str("interfaces:\n");
    for role in Role::ALL {
        let addresses = config.interface(role).map_or_else(
            || "-".to_string(),
            |i| {
                let a: Vec<String> = i.addresses.iter().map(|a| a.to_string()).collect();
                let mtu = i.mtu.map(|m| format!(" mtu {m}")).unwrap_or_default();
                format!(
                    "{}{mtu}",
                    if a.is_empty() {
                        "-".into()
                    } else {
                        a.join(" ")
                    }
                )
            },
        );
        let _ = writeln!(out, "  {:<5} {addresses}", role.name());
    }
    out.push_str("routes:\n");
    if config.routes.is_empty() {
        out.push_str("  -\n");
    }
    for r in &config.routes {
        let _ = writeln!(out, "  {} via {}", r.to, r.via);
    }
    let _ = writeln!(
        out,
        "management address: {}",
        config
            .admin
            .management_address
            .map_or("every mgmt address".to_string(), |a| a.to_string())
    );
    let _ = writeln!(
        out,
        "admin password: {}",
        if config.admin.password.is_some() {
            "set"
        } else {
            "not set"
        }
    );
    match &texts.keepalived {
        None => out.push_str("keepalived.conf: none (no virtual servers, no VRRP)\n"),
        Some(text) => {
            out.push_str("keepalived.conf:\n");
            out.push_str(&config::keepalived::hide_secrets(text));
            if !text.ends_with('\n') {
                out.push('\n');
            }
        }
    }
    if has_candidate(paths) {
        out.push_str("(the candidate differs: \"config diff\")\n");
    }
    if let Ok(Some(p)) = confirm::pending(paths) {
        let _ = writeln!(out, "rollback: {}", p.describe(confirm::boot_now()));
    }
    Ok(out)
}
