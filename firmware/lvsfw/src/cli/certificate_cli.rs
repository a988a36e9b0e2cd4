//! `lvsfw certificate ...`: the page's certificate for the console (PID 1 runs these as
//! children, so that a pasted key is never parsed in PID 1).
//!
//! Exit codes: 0 done, 1 refused (the reason on stdout, nothing changed), 2 usage.

use std::path::Path;
use std::process::ExitCode;
use std::time::SystemTime;

use ops::{tls, Paths};

const USAGE: &str = "\
usage: lvsfw certificate COMMAND
  show           the certificate the page serves: names, validity, fingerprint, SPKI pin
  install FILE   a certificate chain (the server's first) and its key, PEM, from FILE;
                 checked, then served (FILE is removed: it holds a key)
  own            serve the box's own certificate again";

pub fn run(args: &[String]) -> ExitCode {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let paths = Paths::appliance();
    let result = match args.as_slice() {
        ["show"] => show(&paths),
        ["install", file] => install(&paths, Path::new(file)),
        ["own"] => tls::remove_installed(&paths.tls).map(|had| {
            if had {
                "the box's own certificate is served again (\"config save\" keeps it so)\n".into()
            } else {
                "the box's own certificate is already the one served\n".into()
            }
        }),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(said) if args[0] == "show" => {
            print!("{said}");
            ExitCode::SUCCESS
        }
        // The balancer reads the certificate files again: new connections get it.
        Ok(said) => {
            print!("{said}");
            crate::cli::config_cli::reload_balancer()
        }
        Err(why) => {
            println!("error: {}", why.trim_end());
            ExitCode::FAILURE
        }
    }
}

/// What is served, with its PEM (to put in a trust store or curl's --cacert).
fn show(paths: &Paths) -> Result<String, String> {
    let (pair, installed) = tls::served(&paths.tls)?;
    let mut out = tls::describe(&pair, installed)?;
    out.push_str(&pair.chain);
    Ok(out)
}

/// The pasted text holds the chain and the key together; each part is taken by its
/// PEM label.
fn install(paths: &Paths, file: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()));
    let _ = std::fs::remove_file(file);
    let pair = web::certificate::split(&text?)?;
    let summary = tls::install(&paths.tls, &pair.chain, &pair.key, SystemTime::now())?;
    let (pair, _) = tls::served(&paths.tls)?;
    let mut said = String::from("installed; \"config save\" keeps it across a reboot\n");
    said.push_str(&tls::describe(&pair, true)?);
    if summary.certificates == 1 && !summary.self_signed {
        said.push_str(
            "note: the chain holds only the server's certificate: clients must have its issuer\n",
        );
    }
    Ok(said)
}
