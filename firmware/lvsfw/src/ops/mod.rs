//! The operator's operations on the configuration, the same for the console and the page:
//! edit the candidate, validate it, compare it, put it in service, save it, export it.
//!
//! Three copies of the configuration exist, each a native `config.json` (hostname,
//! interfaces, routes, admin) and a `keepalived.conf` (virtual servers, VRRP):
//!
//! | copy | where | changed by |
//! |---|---|---|
//! | candidate | `/run/lvsfw/candidate.{json,conf}` | `set ...`, `config import` |
//! | running | `/etc/lvsfw/config.json`, `/etc/lvsfw/keepalived.conf` | `config apply` |
//! | saved | the configuration disk ([`saved`]) | `config save`; read back at boot |
//!
//! A candidate file that does not exist means "the same as running". Every function
//! here reads and writes files only; the caller (a child process of PID 1, so that
//! untrusted text is never parsed in PID 1) tells the balancer to read the running
//! files again. An error names what was wrong and leaves every file as it was.

pub mod boot;
pub mod confirm;
mod diff;
pub mod disk;
pub mod history;
pub mod saved;
pub mod tls;

use std::fmt::Write as _;
use std::io::Read as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use config::{Config, Interface, IpPrefix, PasswordHash, Role, Route};

/// The admin password's length, in characters.
pub const PASSWORD_LEN: std::ops::RangeInclusive<usize> = 8..=128;
/// PBKDF2 rounds of a new password hash; unit tests use the least the model takes.
const ITERATIONS: u32 = if cfg!(test) {
    config::password::MIN_ITERATIONS
} else {
    config::password::DEFAULT_ITERATIONS
};

#[derive(Debug, Clone)]
pub struct Paths {
    pub running_json: PathBuf,
    pub running_conf: PathBuf,
    pub candidate_json: PathBuf,
    pub candidate_conf: PathBuf,
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
}

impl Paths {
    pub fn appliance() -> Paths {
        Paths {
            running_json: paths::CONFIG_JSON.into(),
            running_conf: paths::KEEPALIVED_CONF.into(),
            candidate_json: paths::CANDIDATE_JSON.into(),
            candidate_conf: paths::CANDIDATE_CONF.into(),
            saved_digest: paths::SAVED_DIGEST.into(),
            board: paths::BOARD.into(),
            candidate_base: paths::CANDIDATE_BASE.into(),
            tls: tls::TlsPaths::under(Path::new(paths::TLS_DIR)),
            rollback: paths::ROLLBACK.into(),
        }
    }

    /// The same names under `dir` (tests).
    #[cfg(test)]
    pub fn under(dir: &Path) -> Paths {
        Paths {
            running_json: dir.join("etc/config.json"),
            running_conf: dir.join("etc/keepalived.conf"),
            candidate_json: dir.join("run/candidate.json"),
            candidate_conf: dir.join("run/candidate.conf"),
            saved_digest: dir.join("run/saved.sha256"),
            board: dir.join("etc/board.conf"),
            candidate_base: dir.join("run/candidate.base"),
            tls: tls::TlsPaths::under(&dir.join("etc/tls")),
            rollback: dir.join("run/rollback.json"),
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

fn read_optional(path: &Path) -> Result<Option<String>, String> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

fn remove_optional(path: &Path) -> Result<(), String> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

fn write(path: &Path, text: &str) -> Result<(), String> {
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
fn running_digest(paths: &Paths) -> Result<String, String> {
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
    Ok(if had {
        "candidate discarded: the running configuration is the candidate again\n".into()
    } else {
        "no changes to discard\n".into()
    })
}

fn native(text: &str, what: &str) -> Result<Config, String> {
    config::native::from_json(text).map_err(|issues| {
        let mut report = format!("the {what} configuration is not valid:\n");
        for issue in issues.iter() {
            let _ = writeln!(report, "  {issue}");
        }
        report
    })
}

/// Changes the candidate's native part with `edit`, validates the whole result and
/// writes it; on any error nothing is written.
fn edit_candidate(
    paths: &Paths,
    edit: impl FnOnce(&mut Config) -> Result<String, String>,
) -> Result<String, String> {
    let texts = candidate(paths)?;
    let mut config = native(&texts.native, "candidate")?;
    let mut said = edit(&mut config)?;
    let text = config::native::to_json(&config);
    if let Err(issues) = config::native::from_json(&text) {
        let mut report = String::from("that would make the configuration invalid:\n");
        for issue in issues.iter() {
            let _ = writeln!(report, "  {issue}");
        }
        report.push_str("nothing changed\n");
        return Err(report);
    }
    start_candidate(paths)?;
    write(&paths.candidate_json, &text)?;
    said.push_str(
        "candidate changed; \"config diff\" shows it, \"config apply\" puts it in service\n",
    );
    Ok(said)
}

/// `set interface ROLE address A/P...`: the role's addresses become exactly these.
pub fn set_interface(paths: &Paths, role: Role, addresses: &[String]) -> Result<String, String> {
    let mut parsed = Vec::new();
    let mut bad = String::new();
    for text in addresses {
        match text.parse::<IpPrefix>() {
            Ok(p) if !text.contains('/') => {
                let _ = writeln!(
                    bad,
                    "\"{text}\": give the prefix length too, e.g. {}/{}",
                    p.addr,
                    if p.addr.is_ipv4() { 24 } else { 64 }
                );
            }
            Ok(p) if parsed.contains(&p) => {
                let _ = writeln!(bad, "\"{text}\" is given twice");
            }
            Ok(p) => parsed.push(p),
            Err(why) => {
                let _ = writeln!(bad, "{why}");
            }
        }
    }
    if !bad.is_empty() {
        return Err(format!("{bad}nothing changed\n"));
    }
    edit_candidate(paths, |config| {
        let mut said = String::new();
        match config.interfaces.iter_mut().find(|i| i.role == role) {
            Some(i) => i.addresses = parsed.clone(),
            None => config.interfaces.push(Interface {
                role,
                addresses: parsed.clone(),
                mtu: None,
                accept_ra: false,
                vlan: None,
            }),
        }
        if role == Role::Mgmt {
            if let Some(a) = config.admin.management_address {
                if !parsed.iter().any(|p| p.addr == a) {
                    let new = parsed[0].addr;
                    config.admin.management_address = Some(new);
                    let _ = writeln!(said, "management address: {a} -> {new}");
                }
            }
        }
        drop_unreachable_routes(config, &mut said);
        let list: Vec<String> = parsed.iter().map(|p| p.to_string()).collect();
        let _ = writeln!(said, "{role}: {}", list.join(" "));
        Ok(said)
    })
}

/// Routes whose gateway no interface reaches any more go, and the operator is told.
fn drop_unreachable_routes(config: &mut Config, said: &mut String) {
    let on_link = |via: IpAddr, config: &Config| {
        config
            .interfaces
            .iter()
            .flat_map(|i| &i.addresses)
            .any(|p| p.contains(via))
    };
    let before = std::mem::take(&mut config.routes);
    for route in before {
        if on_link(route.via, config) {
            config.routes.push(route);
        } else {
            let _ = writeln!(
                said,
                "route {} via {} removed: no interface reaches {} now",
                route.to, route.via, route.via
            );
        }
    }
}

pub fn set_hostname(paths: &Paths, name: &str) -> Result<String, String> {
    config::native::check_hostname(name).map_err(|why| format!("{why}; nothing changed\n"))?;
    edit_candidate(paths, |config| {
        config.hostname = Some(name.to_string());
        Ok(format!("hostname: {name}\n"))
    })
}

/// `set ntp ADDRESS...|none`: the NTP servers become exactly these.
pub fn set_ntp(paths: &Paths, servers: &[&str]) -> Result<String, String> {
    let servers = match servers {
        ["none"] => Vec::new(),
        list => list
            .iter()
            .map(|t| {
                t.parse::<IpAddr>().map_err(|_| {
                    format!("\"{t}\" is not an IPv4 or IPv6 address (names are not looked up); nothing changed\n")
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    edit_candidate(paths, |config| {
        let said = if servers.is_empty() {
            "NTP servers: none (the clock is left as it is)\n".to_string()
        } else {
            let list: Vec<String> = servers.iter().map(IpAddr::to_string).collect();
            format!("NTP servers: {}\n", list.join(", "))
        };
        config.ntp_servers = servers;
        Ok(said)
    })
}

/// `set gateway ADDRESS|none`: the default route of that address's family.
pub fn set_gateway(paths: &Paths, gateway: &str) -> Result<String, String> {
    let via = match gateway {
        "none" => None,
        text => Some(text.parse::<IpAddr>().map_err(|_| {
            format!("\"{text}\" is not an IPv4 or IPv6 address (or \"none\"); nothing changed\n")
        })?),
    };
    edit_candidate(paths, |config| {
        set_default_route(config, via, true);
        Ok(match via {
            Some(via) => format!("default gateway: {via}\n"),
            None => "default gateway: none\n".into(),
        })
    })
}

fn default_route(v4: bool) -> IpPrefix {
    if v4 {
        IpPrefix::new(IpAddr::from([0, 0, 0, 0]), 0).expect("/0 is valid")
    } else {
        IpPrefix::new(IpAddr::from([0u16; 8]), 0).expect("/0 is valid")
    }
}

/// Replaces the default route(s): of `via`'s family, or of IPv4 for `None` (and of
/// IPv6 too when `all_families`).
fn set_default_route(config: &mut Config, via: Option<IpAddr>, all_families: bool) {
    let v4 = via.is_none_or(|v| v.is_ipv4());
    config.routes.retain(|r| {
        let default = r.to.len == 0;
        let same_family = r.to.addr.is_ipv4() == v4;
        !(default && (same_family || (via.is_none() && all_families)))
    });
    if let Some(via) = via {
        config.routes.push(Route {
            to: default_route(via.is_ipv4()),
            via,
        });
    }
}

/// Length and characters; the same rule for the console's questions and the page.
pub fn check_password(password: &str) -> Result<(), String> {
    let len = password.chars().count();
    if !PASSWORD_LEN.contains(&len) {
        return Err(format!(
            "a password has {} to {} characters ({len} given)",
            PASSWORD_LEN.start(),
            PASSWORD_LEN.end()
        ));
    }
    if password.chars().any(char::is_control) {
        return Err("a password holds no control characters".into());
    }
    Ok(())
}

/// A new hash of `password` with a fresh random salt.
pub fn hash_password(password: &str) -> Result<PasswordHash, String> {
    let mut salt = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut salt))
        .map_err(|e| format!("/dev/urandom: {e}"))?;
    PasswordHash::new(password, &salt, ITERATIONS)
}

pub fn set_password(paths: &Paths, password: &str) -> Result<String, String> {
    check_password(password).map_err(|why| format!("{why}; nothing changed\n"))?;
    let hash = hash_password(password)?;
    edit_candidate(paths, |config| {
        config.admin.password = Some(hash);
        Ok("admin password: changed\n".into())
    })
}

/// What a login finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    Accepted,
    Refused,
    /// The running configuration has no admin password: first-boot setup is due.
    NoPassword,
}

pub fn login(paths: &Paths, password: &str) -> Login {
    match running(paths).ok().and_then(|t| password_of(&t.native)) {
        None => Login::NoPassword,
        Some(hash) if hash.verify(password) => Login::Accepted,
        Some(_) => Login::Refused,
    }
}

/// What the console's session goes by: the password it logged in with (a digest of the
/// stored hash, so that a change from anywhere is seen) and its idle logout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsolePolicy {
    pub epoch: Option<String>,
    pub idle: Option<std::time::Duration>,
}

pub fn console_policy(paths: &Paths) -> ConsolePolicy {
    let config = running(paths)
        .ok()
        .and_then(|t| config::native::from_json(&t.native).ok());
    let admin = config.map(|c| c.admin).unwrap_or_default();
    ConsolePolicy {
        epoch: admin.password.as_ref().map(|hash| {
            let digest = ring::digest::digest(&ring::digest::SHA256, hash.to_string().as_bytes());
            digest.as_ref()[..16]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        }),
        idle: admin.console_idle_limit(),
    }
}

/// The admin password of a native text, if it is valid and has one.
pub fn password_of(native_text: &str) -> Option<PasswordHash> {
    config::native::from_json(native_text)
        .ok()
        .and_then(|c| c.admin.password)
}

/// The roles of the box, when its board file can be read: the board's NICs, VLANs and
/// bonds, and the VLANs `config` makes.
pub fn board_roles(paths: &Paths, config: Option<&Config>) -> Option<Vec<Role>> {
    let text = std::fs::read_to_string(&paths.board).ok()?;
    let board = crate::board::parse(&text).ok()?;
    Some(crate::roles::present(&board, config))
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
fn check(
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

fn describe(config: &Config, read: Option<&config::keepalived::Read>) -> String {
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
fn diff_texts((old_name, old): (&str, &Texts), (new_name, new): (&str, &Texts)) -> String {
    let old_native = normalized(&old.native);
    let new_native = normalized(&new.native);
    let mut out = String::new();
    out.push_str(&diff::unified(
        &format!("{old_name} config.json"),
        &format!("{new_name} config.json"),
        &redact(&old_native, None),
        &redact(&new_native, Some(&old_native)),
    ));
    out.push_str(&diff::unified(
        &format!("{old_name} keepalived.conf"),
        &format!("{new_name} keepalived.conf"),
        old.keepalived.as_deref().unwrap_or(""),
        new.keepalived.as_deref().unwrap_or(""),
    ));
    out
}

/// The native text as the model writes it, so that a diff shows changes, not layout.
fn normalized(text: &str) -> String {
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
fn redact(text: &str, other: Option<&str>) -> String {
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
    if !has_candidate(paths) {
        return Err(
            "nothing to apply: no \"set\" or \"config import\" since the last apply\n".into(),
        );
    }
    let texts = candidate(paths)?;
    let (config, read) = check(Some(paths), &texts).map_err(|report| {
        format!("{report}the candidate is not valid; nothing applied, the running configuration is unchanged\n")
    })?;
    // A candidate is a whole copy: applied over a running configuration that changed
    // since (a password set on the page), it would silently undo that change.
    let base = read_optional(&paths.candidate_base)?;
    if base.as_deref().map(str::trim) != Some(running_digest(paths)?.as_str()) {
        return Err("the running configuration changed since this candidate was started (on the page, or by another console session); nothing applied. \"config diff\" shows what the candidate would change; \"config discard\" drops it, then make the change again\n".into());
    }
    let old = native(&running(paths)?.native, "running").ok();
    let armed = match confirm {
        Confirm::Never => None,
        Confirm::Minutes(m) => confirm::arm_for(paths, Some(m), None, None, who)?,
        Confirm::Default => confirm::arm_for(paths, None, old.as_ref(), Some(&config), who)?,
    };
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
        return Err(e);
    }
    remove_optional(&paths.candidate_json)?;
    remove_optional(&paths.candidate_conf)?;
    remove_optional(&paths.candidate_base)?;
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

/// Whether an export carries the admin password's hash: a hash can be cracked offline,
/// so it leaves the box only in a backup asked for as such.
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
        config.admin.password = None;
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
            out.push_str(text);
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

/// First-boot setup's answers, each already checked by the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setup {
    pub management: IpPrefix,
    pub gateway: Option<IpAddr>,
    pub hostname: String,
    pub password: String,
    /// On a box without a management NIC: management on this VLAN of int, else on
    /// int's own network.
    pub vlan: Option<u16>,
}

impl Setup {
    /// Five lines: address/prefix, gateway or "none", hostname, password, and the
    /// management VLAN on int or "none" (the line may be left out).
    pub fn from_lines(text: &str) -> Result<Setup, String> {
        let mut lines = text.lines();
        let mut next = |what: &str| {
            lines
                .next()
                .map(str::to_string)
                .ok_or_else(|| format!("setup: no {what} given"))
        };
        let management = next("management address")?.parse::<IpPrefix>()?;
        let gateway = match next("gateway")?.as_str() {
            "none" | "" => None,
            text => Some(
                text.parse::<IpAddr>()
                    .map_err(|_| format!("\"{text}\" is not an IPv4 or IPv6 address"))?,
            ),
        };
        let hostname = next("hostname")?;
        let password = next("password")?;
        let vlan = match next("VLAN").unwrap_or_default().as_str() {
            "none" | "" => None,
            text => Some(
                text.parse()
                    .ok()
                    .filter(|id| config::Vlan::IDS.contains(id))
                    .ok_or_else(|| format!("\"{text}\" is not a VLAN ID (1 to 4094)"))?,
            ),
        };
        Ok(Setup {
            management,
            gateway,
            hostname,
            password,
            vlan,
        })
    }

    pub fn to_lines(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}\n{}\n",
            self.management,
            self.gateway.map_or("none".into(), |g| g.to_string()),
            self.hostname,
            self.password,
            self.vlan.map_or("none".into(), |v| v.to_string())
        )
    }
}

/// First-boot setup: the running configuration with the answers, put in service at
/// once (the setup is the operator's confirmation). The caller saves it.
pub fn setup(paths: &Paths, answers: &Setup) -> Result<Applied, String> {
    check_password(&answers.password)?;
    config::native::check_hostname(&answers.hostname)?;
    let hash = hash_password(&answers.password)?;
    // Setup starts from the running configuration, not from a candidate left behind.
    discard(paths)?;
    // A box without a management NIC has management on int: on a VLAN of int (the mgmt
    // role), or on int's own network.
    let mgmt_nic = board_has_mgmt_nic(paths);
    edit_candidate(paths, |config| {
        config.hostname = Some(answers.hostname.clone());
        let (role, vlan) = match (mgmt_nic, answers.vlan) {
            (true, _) => (Role::Mgmt, None),
            (false, Some(id)) => (Role::Mgmt, Some(config::Vlan { id, on: Role::Int })),
            (false, None) => {
                config.interfaces.retain(|i| i.role != Role::Mgmt);
                (Role::Int, None)
            }
        };
        match config.interfaces.iter_mut().find(|i| i.role == role) {
            Some(i) => {
                i.addresses = vec![answers.management];
                i.vlan = vlan;
            }
            None => config.interfaces.push(Interface {
                role,
                addresses: vec![answers.management],
                mtu: None,
                accept_ra: false,
                vlan,
            }),
        }
        config.admin.management_address = Some(answers.management.addr);
        config.admin.password = Some(hash);
        let mut said = String::new();
        drop_unreachable_routes(config, &mut said);
        set_default_route(config, answers.gateway, false);
        Ok(said)
    })?;
    apply(paths)
}

/// After first-boot setup: which roles of the board have no address and so stay down
/// (a new box does not guess addresses on networks it was not told about).
pub fn unaddressed_roles_note(paths: &Paths) -> String {
    let config = running(paths)
        .ok()
        .and_then(|t| config::native::from_json(&t.native).ok())
        .unwrap_or_default();
    let roles = board_roles(paths, Some(&config)).unwrap_or_else(|| Role::ALL.to_vec());
    let quiet: Vec<&str> = roles
        .iter()
        .filter(|r| config.interface(**r).is_none_or(|i| i.addresses.is_empty()))
        .map(|r| r.name())
        .collect();
    match quiet.as_slice() {
        [] => String::new(),
        roles => format!(
            "{} {} no address and {} down until given one: \"set interface {} address A/P\", then \"config apply\"\n",
            roles.join(" and "),
            if roles.len() == 1 { "has" } else { "have" },
            if roles.len() == 1 { "stays" } else { "stay" },
            roles[0]
        ),
    }
}

/// Whether the board has a management NIC of its own (else management lives on int).
pub fn board_has_mgmt_nic(paths: &Paths) -> bool {
    std::fs::read_to_string(&paths.board)
        .ok()
        .and_then(|t| crate::board::parse(&t).ok())
        .is_none_or(|b| b.nic(Role::Mgmt).is_some())
}

/// What first-boot setup offers when Enter is pressed: the running configuration's
/// management address, default gateway and hostname, and on a box without a management
/// NIC its management VLAN on int or "none" (empty: the question is not asked).
pub fn setup_defaults(paths: &Paths, board_hostname: Option<&str>) -> [String; 4] {
    let config = running(paths)
        .ok()
        .and_then(|t| config::native::from_json(&t.native).ok())
        .unwrap_or_default();
    let mgmt_nic = board_has_mgmt_nic(paths);
    let vlan = config.interface(Role::Mgmt).and_then(|i| i.vlan);
    let management_role = if mgmt_nic || vlan.is_some() {
        Role::Mgmt
    } else {
        Role::Int
    };
    let first = config
        .interface(management_role)
        .and_then(|i| i.addresses.first());
    let management = first.map(|p| p.to_string()).unwrap_or_default();
    let v4 = first.is_none_or(|p| p.addr.is_ipv4());
    let gateway = config
        .routes
        .iter()
        .find(|r| r.to.len == 0 && r.to.addr.is_ipv4() == v4)
        .map_or("none".into(), |r| r.via.to_string());
    let hostname = config
        .hostname
        .or(board_hostname.map(str::to_string))
        .unwrap_or_else(|| "lvsfw".into());
    let vlan = match (mgmt_nic, vlan) {
        (true, _) => String::new(),
        (false, Some(v)) => v.id.to_string(),
        (false, None) => "none".into(),
    };
    [management, gateway, hostname, vlan]
}

#[cfg(test)]
mod tests;
