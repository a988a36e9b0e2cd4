//! `lvsfw config ...`: the configuration operations of [`ops`] as commands
//! ([`ops::Op::from_args`] reads them), and boot's and the console session's own. PID 1
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

use ops::exit_code::NOT_ALL_RUNNING;
use ops::{self, saved, Login, Op, Paths};

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
    // The operations every front end shares; the rest are the console's and boot's own.
    if let Some(op) = Op::from_args(&args, stdin_text) {
        let code = match op.and_then(|op| ops::execute(&paths, op)) {
            Ok(report) if report.in_service => {
                print!("{}", report.said);
                reload_balancer()
            }
            Ok(report) => done(Ok(report.said)),
            Err(e) => done(Err(e.to_string())),
        };
        let _ = std::io::stdout().flush();
        return code;
    }
    let code = match args.as_slice() {
        ["restore"] => return restore(&paths, false),
        // PID 1 at boot: the certificate is made after the balancer starts, when no
        // disk would keep it (ops::boot::restore).
        ["restore", "--certificate-later"] => return restore(&paths, true),
        ["restore", "--certificate"] => {
            let board = paths.board();
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

/// The running files changed: the balancer reads them again, and says what runs.
pub fn reload_balancer() -> ExitCode {
    let path = Path::new(paths::BALANCER_SOCKET);
    match balancer::control::request_reload(path) {
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

/// At boot (ops::boot::at_boot); the exit code says what the console opens.
fn restore(paths: &Paths, certificate_later: bool) -> ExitCode {
    let (code, said) = ops::boot::at_boot(paths, certificate_later);
    print!("{said}");
    ExitCode::from(code)
}

/// No admin password: first-boot setup is due (ops::boot::setup_due).
fn setup_due(paths: &Paths) -> ExitCode {
    ExitCode::from(ops::boot::setup_due(paths, paths.board().as_ref()))
}

fn setup(paths: &Paths) -> Result<String, String> {
    let answers = ops::Setup::from_lines(&stdin_text())?;
    let applied = ops::setup(paths, &answers)?;
    let mut said = applied.report;
    said.push_str(&ops::unaddressed_roles_note(paths));
    // The box's own certificate for its new names (the same key: the same pin).
    let (hostname, addresses) = ops::boot::certificate_names(paths, paths.board().as_ref());
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

/// `config import FILE` as the console ran it before the operations API (tests).
#[cfg(test)]
fn import(file: &Path, paths: &Paths) -> Result<String, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}\n", file.display()))?;
    ops::stage_keepalived(paths, &text, "pasted")
}

#[cfg(test)]
mod tests {
    use super::*;
    use paths::write_atomic;

    #[test]
    fn a_valid_paste_becomes_the_candidate() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let paths = Paths::under(dir);
        let pasted = dir.join("pasted.conf");
        let candidate = &paths.candidate_conf;
        let seed = include_str!("../../../config/testdata/seed-3-1.conf");
        write_atomic(&pasted, seed.as_bytes(), true).unwrap();
        let summary = import(&pasted, &paths).unwrap();
        assert!(
            summary.ends_with("imported: 1 virtual server, 0 VRRP instances; \"config apply\" puts it in service\n"),
            "{summary}"
        );
        assert_eq!(std::fs::read_to_string(candidate).unwrap(), seed);

        // An invalid paste names each error and leaves the candidate as it was.
        write_atomic(
            &pasted,
            b"virtual_server 10.0.0.1 80 {\n  quorum none\n  delay_lop 6\n}\n",
            true,
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
        write_atomic(
            &paths.running_json,
            br#"{"interfaces": [{"role": "int", "addresses": ["10.0.0.1/24"]}]}"#,
            true,
        )
        .unwrap();
        write_atomic(&pasted, seed.as_bytes(), true).unwrap();
        let report = import(&pasted, &paths).unwrap_err();
        assert!(report.contains("pasted:"), "{report}");
        assert_eq!(std::fs::read_to_string(candidate).unwrap(), seed);
    }
}
