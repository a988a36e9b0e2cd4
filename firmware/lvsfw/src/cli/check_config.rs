//! `lvsfw check-config FILE [--json] [--strict]`: reads a keepalived.conf (or a native
//! `.json`), validates it, and prints the normalized configuration (exit 0) or every
//! error, one a line as `file:line:col: keyword: message` (exit 1), like `keepalived -t`.
//! Notes (keywords kept but without effect, settings not acted on yet, keepalived's
//! fallbacks; see firmware/config/KEYWORDS.md) go to stderr; with `--strict` each note is
//! an error instead, for an operator who wants to be sure nothing is left unacted on.
//! Runs on the build host and the appliance.

use std::path::Path;
use std::process::ExitCode;

use config::{keepalived, native, Config};

const USAGE: &str = "usage: lvsfw check-config FILE [--json] [--strict]";

pub fn run(args: &[String]) -> ExitCode {
    let mut file = None;
    let (mut json, mut strict) = (false, false);
    for arg in args {
        match arg.as_str() {
            "--json" => json = true,
            "--strict" => strict = true,
            other if file.is_none() && !other.starts_with("--") => file = Some(other),
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let Some(file) = file else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    match check(Path::new(file), json).and_then(|c| if strict { strictly(c) } else { Ok(c) }) {
        Ok(checked) => {
            for note in &checked.notes {
                eprintln!("note: {note}");
            }
            print!("{}", checked.text);
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in &errors {
                println!("{e}");
            }
            ExitCode::FAILURE
        }
    }
}

struct Checked {
    text: String,
    notes: Vec<String>,
}

/// `--strict`: every note is an error (the notes already name file:line:col).
fn strictly(checked: Checked) -> Result<Checked, Vec<String>> {
    if checked.notes.is_empty() {
        return Ok(checked);
    }
    Err(checked
        .notes
        .into_iter()
        .map(|n| format!("{n} (an error under --strict)"))
        .collect())
}

/// A `.json` file is the native configuration (printed back as JSON); anything else is
/// keepalived.conf (printed back as keepalived.conf, or as native JSON with `json`).
fn check(path: &Path, json: bool) -> Result<Checked, Vec<String>> {
    if path.extension().is_some_and(|e| e == "json") {
        let text = std::fs::read_to_string(path)
            .map_err(|e| vec![format!("{}: cannot read: {e}", path.display())])?;
        let config = native::from_json(&text).map_err(|issues| {
            issues
                .iter()
                .map(|i| format!("{}:{i}", path.display()))
                .collect::<Vec<_>>()
        })?;
        return Ok(Checked {
            text: native::to_json(&config),
            notes: Vec::new(),
        });
    }
    let read = keepalived::read_file(path)
        .map_err(|issues| issues.iter().map(|i| i.to_string()).collect::<Vec<_>>())?;
    let text = if json {
        native::to_json(&Config {
            keepalived: read.config,
            ..Config::default()
        })
    } else {
        keepalived::to_keepalived_conf(&read.config)
    };
    Ok(Checked {
        text,
        notes: read.notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../config/testdata")
            .join(name)
    }

    #[test]
    fn a_good_file_is_printed_normalized_and_reads_back_the_same() {
        let checked = check(&seed("seed-3-2.conf"), false).unwrap();
        assert!(
            checked.text.contains("    lb_kind NAT\n"),
            "{}",
            checked.text
        );
        let again = keepalived::read_text(&checked.text, "again.conf").unwrap();
        let first = keepalived::read_file(&seed("seed-3-2.conf")).unwrap();
        assert_eq!(again.config, first.config);
    }

    #[test]
    fn json_out_reads_back_as_the_native_configuration() {
        let checked = check(&seed("seed-3-1.conf"), true).unwrap();
        let config = native::from_json(&checked.text).unwrap();
        assert_eq!(config.keepalived.virtual_servers.len(), 1);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("lb.json");
        std::fs::write(&file, &checked.text).unwrap();
        assert_eq!(check(&file, false).unwrap().text, checked.text);
    }

    #[test]
    fn every_error_one_a_line_with_its_place() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("k.conf");
        std::fs::write(
            &file,
            "vrrp_instance A {\n interface ext\n virtual_router_id 1\n priorty 9\n}\nvirtual_server 10.0.0.1 80 {\n quorum none\n}\n",
        )
        .unwrap();
        let errors = check(&file, false).err().unwrap();
        let at = file.display();
        assert_eq!(
            errors,
            vec![
                format!("{at}:4:2: unknown keyword \"priorty\" in vrrp_instance (did you mean \"priority\"?)"),
                format!("{at}:7:9: quorum: \"none\" is not a whole number from 1 to 4294967295"),
            ]
        );
        let json = dir.path().join("bad.json");
        std::fs::write(&json, "{\"hostname\": 1}").unwrap();
        assert_eq!(
            check(&json, false).err().unwrap(),
            vec![format!(
                "{}:1:14: invalid type: integer `1`, expected a string",
                json.display()
            )]
        );
    }

    #[test]
    fn strict_turns_every_note_into_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("k.conf");
        std::fs::write(
            &file,
            "global_defs {\n script_user nobody\n}\nvirtual_server 10.0.0.1 80 {\n protocol TCP\n lb_algo random\n}\n",
        )
        .unwrap();
        let at = file.display();
        let checked = check(&file, false).unwrap();
        assert_eq!(checked.notes.len(), 2, "{:?}", checked.notes);
        let errors = strictly(checked).err().unwrap();
        assert_eq!(errors.len(), 2);
        assert!(
            errors[0].starts_with(&format!(
                "{at}:2:2: script_user: accepted and kept for export, no effect here"
            )),
            "{errors:?}"
        );
        assert!(
            errors[1].starts_with(&format!(
                "{at}:6:2: lb_algo: \"random\" is not a scheduler IPVS has"
            )),
            "{errors:?}"
        );
        assert!(errors
            .iter()
            .all(|e| e.ends_with("(an error under --strict)")));
        // Without notes, strict changes nothing.
        let seed = check(&seed("seed-3-1.conf"), false).unwrap();
        assert_eq!(strictly(seed).unwrap().notes, Vec::<String>::new());
    }
}
