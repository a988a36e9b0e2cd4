//! `lvsfw config ...`: the configuration operations of [`crate::ops`] as commands. PID 1
//! runs them as children for the console, so that reading untrusted text (a paste, a
//! password) and the slow parts (hashing, the disk) never happen in PID 1 itself.
//!
//! Exit codes: 0 done, 1 refused (the reason on stdout, nothing changed), 2 usage;
//! `login` 1 for a wrong password and 3 when none is set; `restore` 3 when no admin
//! password is set (first-boot setup is due) and 4 when the saved configuration could
//! not be read; `apply` and `setup` 4 when the change is in service but something
//! configured does not run (the output says what and why).

use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use crate::ops::{self, saved, Login, Paths};

/// The checked keepalived.conf waiting for `config apply`.
pub const CANDIDATE_PATH: &str = "/run/lvsfw/candidate.conf";
/// First-boot setup's defaults, one a line (address/prefix, gateway, hostname), written
/// by `restore` for PID 1.
pub const SETUP_DEFAULTS_PATH: &str = "/run/lvsfw/setup.defaults";
/// Exit code: no admin password is set.
pub const NO_PASSWORD: u8 = 3;
/// Exit code: applied, but something configured does not run.
pub const NOT_ALL_RUNNING: u8 = 4;
/// Exit code of `restore`: the saved configuration could not be read; nothing is in
/// service (see ops::boot).
pub const RESTORE_FAILED: u8 = 4;
/// A wrong password is answered after this long, so that guessing is slow.
const REFUSED_DELAY: Duration = Duration::from_secs(2);

const USAGE: &str = "\
usage: lvsfw config COMMAND
  import FILE                             check a keepalived.conf; it becomes the candidate's
  set interface ROLE address A/P [A/P...] the candidate's addresses of ROLE (ext, int, mgmt)
  set hostname NAME | set gateway ADDRESS|none | set ntp ADDRESS...|none
  set password                            the password on stdin
  validate | diff | apply | discard       the candidate: check, compare, put in service, drop
  apply confirm MINUTES                   in service; rolls back by itself unless confirmed
  confirm                                 the change waiting for its confirmation stays
  save [--who WHO] | show | export [--with-secrets]
                                          the running configuration: to disk (a new revision),
                                          for people, as JSON (the hash only with --with-secrets)
  history | diff REV | restore REV [--who WHO]
                                          the saved revisions; one against what runs; one back
                                          into service (through apply)
  restore                                 at boot: the saved configuration becomes the running one
  setup                                   first-boot answers on stdin, one a line
  login                                   the password on stdin: exit 0 if it is right
  factory-reset                           erase the saved configuration";

fn usage() -> ExitCode {
    eprintln!("{USAGE}");
    ExitCode::from(2)
}

/// The first line of stdin (a password, never an argument: arguments are visible in
/// /proc), at most 4 KiB of it.
fn stdin_text() -> String {
    let mut bytes = Vec::new();
    let _ = std::io::stdin().take(4096).read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

fn done(result: Result<String, String>) -> ExitCode {
    match result {
        Ok(said) => {
            print!("{said}");
            ExitCode::SUCCESS
        }
        Err(said) => {
            print!(
                "{}",
                if said.ends_with('\n') {
                    said
                } else {
                    said + "\n"
                }
            );
            ExitCode::FAILURE
        }
    }
}

pub fn run(args: &[String]) -> ExitCode {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let paths = Paths::appliance();
    let code = match args.as_slice() {
        ["import", file] => done(import(Path::new(file), &paths)),
        ["set", "interface", role, "address", addresses @ ..] if !addresses.is_empty() => {
            let addresses: Vec<String> = addresses.iter().map(|a| a.to_string()).collect();
            done(
                role.parse()
                    .and_then(|role| ops::set_interface(&paths, role, &addresses)),
            )
        }
        ["set", "hostname", name] => done(ops::set_hostname(&paths, name)),
        ["set", "gateway", gateway] => done(ops::set_gateway(&paths, gateway)),
        ["set", "ntp", servers @ ..] if !servers.is_empty() => done(ops::set_ntp(&paths, servers)),
        ["set", "password"] => done(ops::set_password(&paths, first_line(&stdin_text()))),
        ["validate"] => done(ops::validate(&paths)),
        ["diff"] => done(ops::diff(&paths)),
        ["discard"] => done(ops::discard(&paths)),
        ["apply"] => applied(ops::apply_as(&paths, ops::Confirm::Default, "console")),
        ["apply", "confirm", minutes] => match ops::confirm::parse_minutes(minutes) {
            Ok(m) => applied(ops::apply_as(&paths, ops::Confirm::Minutes(m), "console")),
            Err(e) => done(Err(e)),
        },
        ["confirm"] => done(ops::confirm::confirm(&paths, "console")),
        ["save"] => done(with_store(|store| saved::save(&paths, store, "console"))),
        ["save", "--who", who] => done(with_store(|store| saved::save(&paths, store, who))),
        ["history"] => done(with_store(|store| {
            saved::history(store).map(|h| h.listing())
        })),
        ["diff", rev] => done(
            revision(rev)
                .and_then(|rev| with_store(|store| saved::diff_revision(&paths, store, rev))),
        ),
        ["restore", rev] if !rev.starts_with('-') => restore_revision(&paths, rev, "console"),
        ["restore", rev, "--who", who] => restore_revision(&paths, rev, who),
        ["show"] => done(ops::show(&paths)),
        ["export"] => done(ops::export(&paths, ops::Secrets::Hidden)),
        ["export", "--with-secrets"] => done(ops::export(&paths, ops::Secrets::Included)),
        ["restore"] => return restore(&paths, false),
        // PID 1 at boot: the certificate is made after the balancer starts, when no
        // disk would keep it (ops::boot::restore).
        ["restore", "--certificate-later"] => return restore(&paths, true),
        ["restore", "--certificate"] => {
            let board = std::fs::read_to_string(&paths.board)
                .ok()
                .and_then(|t| crate::board::parse(&t).ok());
            print!(
                "{}",
                ops::boot::certificate_later(&paths, board.as_ref(), std::time::SystemTime::now())
            );
            ExitCode::SUCCESS
        }
        // Again, from the console's recovery prompt: the balancer runs and reads it.
        ["restore", "--reload"] => {
            let code = restore(&paths, false);
            let _ = reload_balancer();
            return code;
        }
        ["setup"] => match setup(&paths) {
            Ok(said) => {
                print!("{said}");
                reload_balancer()
            }
            Err(e) => done(Err(e)),
        },
        ["login"] => return login(&paths),
        ["factory-reset"] => done(factory_reset()),
        _ => return usage(),
    };
    let _ = std::io::stdout().flush();
    code
}

fn with_store(f: impl FnOnce(&store::Store) -> Result<String, String>) -> Result<String, String> {
    ops::disk::open()
        .map_err(String::from)
        .and_then(|store| f(&store))
}

/// A revision number as typed.
fn revision(text: &str) -> Result<u64, String> {
    text.parse::<u64>().map_err(|_| {
        format!(
            "\"{text}\" is not a revision number (\"config history\" lists them); nothing changed"
        )
    })
}

fn restore_revision(paths: &Paths, rev: &str, who: &str) -> ExitCode {
    let result = revision(rev).and_then(|rev| {
        ops::disk::open()
            .map_err(String::from)
            .and_then(|store| saved::restore_revision(paths, &store, rev, who))
    });
    applied(result)
}

/// A change in service: the balancer reads the files again.
fn applied(result: Result<ops::Applied, String>) -> ExitCode {
    match result {
        Ok(applied) => {
            print!("{}", applied.report);
            reload_balancer()
        }
        Err(e) => done(Err(e)),
    }
}

/// The running files changed: the balancer reads them again, and says what runs.
pub fn reload_balancer() -> ExitCode {
    let path = Path::new(crate::balancer::control::PATH);
    match crate::balancer::control::request_reload(path) {
        Ok(report) => {
            print!("{}", report.text());
            if report.all_running() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(NOT_ALL_RUNNING)
            }
        }
        Err(e) => {
            println!("{e}");
            ExitCode::SUCCESS
        }
    }
}

/// At boot: the disk's configuration and certificate go into service (ops::boot); the
/// exit code says what the console opens: 0 login, NO_PASSWORD setup, RESTORE_FAILED
/// the recovery prompt (the reason is left in saved::RESTORE_FAILED_PATH for the page).
fn restore(paths: &Paths, certificate_later: bool) -> ExitCode {
    let board = std::fs::read_to_string(&paths.board)
        .ok()
        .and_then(|t| crate::board::parse(&t).ok());
    let (boot, said) = ops::boot::restore_with(
        paths,
        ops::disk::open(),
        board.as_ref(),
        std::time::SystemTime::now(),
        certificate_later,
    );
    print!("{said}");
    let failed = Path::new(saved::RESTORE_FAILED_PATH);
    match boot {
        ops::boot::Boot::Failed(why) => {
            let _ = write_whole(failed, format!("{why}\n").as_bytes());
            ExitCode::from(RESTORE_FAILED)
        }
        ops::boot::Boot::Login => {
            let _ = std::fs::remove_file(failed);
            ExitCode::SUCCESS
        }
        ops::boot::Boot::SetupDue => {
            let _ = std::fs::remove_file(failed);
            setup_due(paths)
        }
    }
}

/// No admin password: first-boot setup is due; its defaults are left for PID 1.
fn setup_due(paths: &Paths) -> ExitCode {
    let board_hostname = std::fs::read_to_string(crate::board::PATH)
        .ok()
        .and_then(|t| crate::board::parse(&t).ok())
        .and_then(|b| b.hostname);
    let defaults = ops::setup_defaults(paths, board_hostname.as_deref());
    let _ = write_whole(
        Path::new(SETUP_DEFAULTS_PATH),
        format!("{}\n", defaults.join("\n")).as_bytes(),
    );
    ExitCode::from(NO_PASSWORD)
}

fn setup(paths: &Paths) -> Result<String, String> {
    let answers = ops::Setup::from_lines(&stdin_text())?;
    let applied = ops::setup(paths, &answers)?;
    let mut said = applied.report;
    said.push_str(&ops::unaddressed_roles_note(paths));
    // The box's own certificate for its new names (the same key: the same pin).
    let board = std::fs::read_to_string(&paths.board)
        .ok()
        .and_then(|t| crate::board::parse(&t).ok());
    let (hostname, addresses) = ops::boot::certificate_names(paths, board.as_ref());
    let now = std::time::SystemTime::now();
    let certificate = ops::tls::reissue_own(&paths.tls, &hostname, &addresses, now)
        .or_else(|_| ops::tls::ensure_own(&paths.tls, &hostname, &addresses, now).map(|_| ()))
        .and_then(|()| ops::tls::served(&paths.tls))
        .and_then(|(pair, installed)| ops::tls::describe(&pair, installed));
    match certificate {
        Ok(text) => said.push_str(&format!("the page's certificate (pin it):\n{text}")),
        Err(e) => said.push_str(&format!("error: the page's certificate: {e}\n")),
    }
    match ops::disk::open()
        .map_err(String::from)
        .and_then(|store| saved::save(paths, &store, "console (first-boot setup)"))
    {
        Ok(saved) => said.push_str(&saved),
        Err(e) => said.push_str(&format!("warning: not saved: {}", e.trim_end())),
    }
    if !said.ends_with('\n') {
        said.push('\n');
    }
    Ok(said)
}

fn login(paths: &Paths) -> ExitCode {
    match ops::login(paths, first_line(&stdin_text())) {
        Login::Accepted => ExitCode::SUCCESS,
        Login::Refused => {
            std::thread::sleep(REFUSED_DELAY);
            ExitCode::FAILURE
        }
        Login::NoPassword => setup_due(paths),
    }
}

fn factory_reset() -> Result<String, String> {
    match ops::disk::open() {
        Ok(store) => store
            .erase()
            .map(|()| "the saved configuration is erased\n".to_string())
            .map_err(|e| format!("{e}; nothing erased\n")),
        Err(e) => Ok(format!("{e}; nothing saved to erase\n")),
    }
}

/// Reads `file` as pasted text and checks it, also against the candidate's interfaces
/// when they are valid; on success writes it as the candidate's keepalived.conf whole (a
/// new file renamed into place) and says what it holds; otherwise every error, and
/// nothing written.
fn import(file: &Path, paths: &Paths) -> Result<String, String> {
    let candidate = &paths.candidate_conf;
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}\n", file.display()))?;
    let native = ops::candidate(paths)
        .ok()
        .and_then(|t| config::native::from_json(&t.native).ok());
    let checked = match &native {
        Some(native) => ops::check_keepalived(paths, &text, "pasted", native),
        None => config::keepalived::read_text(&text, "pasted"),
    };
    let read = match checked {
        Ok(read) => read,
        Err(issues) => {
            let mut report: String = issues.iter().map(|i| format!("{i}\n")).collect();
            report.push_str(&format!(
                "{}; nothing imported, the running configuration is unchanged\n",
                config::count(issues.iter().count(), "error", "errors")
            ));
            return Err(report);
        }
    };
    ops::start_candidate(paths)?;
    write_whole(candidate, text.as_bytes())
        .map_err(|e| format!("{}: {e}\n", candidate.display()))?;
    let mut summary: String = read.notes.iter().map(|n| format!("note: {n}\n")).collect();
    summary.push_str(&format!(
        "imported: {}; \"config apply\" puts it in service\n",
        read.config.summary()
    ));
    Ok(summary)
}

/// Writes `bytes` to a temporary file beside `path`, syncs it and renames it over
/// `path`, so a reader sees the old file or the new one, never a part.
pub fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("new");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_paste_becomes_the_candidate() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let paths = Paths::under(dir);
        let pasted = dir.join("pasted.conf");
        let candidate = &paths.candidate_conf;
        let seed = include_str!("../../config/testdata/seed-3-1.conf");
        write_whole(&pasted, seed.as_bytes()).unwrap();
        let summary = import(&pasted, &paths).unwrap();
        assert!(
            summary.ends_with("imported: 1 virtual server, 0 VRRP instances; \"config apply\" puts it in service\n"),
            "{summary}"
        );
        assert_eq!(std::fs::read_to_string(candidate).unwrap(), seed);

        // An invalid paste names each error and leaves the candidate as it was.
        write_whole(
            &pasted,
            b"virtual_server 10.0.0.1 80 {\n  quorum none\n  delay_lop 6\n}\n",
        )
        .unwrap();
        let report = import(&pasted, &paths).unwrap_err();
        assert!(report.contains("pasted:2:"), "{report}");
        assert!(report.contains("pasted:3:"), "{report}");
        assert!(
            report
                .ends_with("2 errors; nothing imported, the running configuration is unchanged\n"),
            "{report}"
        );
        assert_eq!(std::fs::read_to_string(candidate).unwrap(), seed);

        // Checked against the candidate's interfaces: 3-1's real servers must sit
        // behind int for NAT.
        write_whole(
            &paths.running_json,
            br#"{"interfaces": [{"role": "int", "addresses": ["10.0.0.1/24"]}]}"#,
        )
        .unwrap();
        write_whole(&pasted, seed.as_bytes()).unwrap();
        let report = import(&pasted, &paths).unwrap_err();
        assert!(report.contains("pasted:"), "{report}");
        assert_eq!(std::fs::read_to_string(candidate).unwrap(), seed);
    }
}
