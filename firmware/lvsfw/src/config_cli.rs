//! `lvsfw config import FILE`: checks a pasted keepalived.conf and, when it is valid,
//! keeps it as the candidate that `config apply` puts in service. PID 1 runs this as a
//! child so that reading untrusted text never happens in PID 1 itself.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// The checked keepalived.conf waiting for `config apply`.
pub const CANDIDATE_PATH: &str = "/run/lvsfw/candidate.conf";

const USAGE: &str = "usage: lvsfw config import FILE";

pub fn run(args: &[String]) -> ExitCode {
    let [verb, file] = args else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    if verb != "import" {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    // The appliance's own settings, when readable, let the paste be checked against its
    // addresses too (NAT real servers behind an int address, the address owner).
    let native = std::fs::read_to_string(crate::balancer::CONFIG_PATH)
        .ok()
        .and_then(|text| config::native::from_json(&text).ok());
    match import(Path::new(file), Path::new(CANDIDATE_PATH), native.as_ref()) {
        Ok(summary) => {
            print!("{summary}");
            ExitCode::SUCCESS
        }
        Err(report) => {
            print!("{report}");
            ExitCode::FAILURE
        }
    }
}

/// Reads `file` as pasted text; on success writes it to `candidate` whole (a new file
/// renamed into place) and says what it holds; otherwise every error, and nothing written.
fn import(
    file: &Path,
    candidate: &Path,
    native: Option<&config::Config>,
) -> Result<String, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}\n", file.display()))?;
    let read = config::keepalived::read_text(&text, "pasted").and_then(|read| match native {
        Some(native) => read.validate_with(native).map(|()| read),
        None => Ok(read),
    });
    let read = match read {
        Ok(read) => read,
        Err(issues) => {
            let mut report: String = issues.iter().map(|i| format!("{i}\n")).collect();
            report.push_str(&format!(
                "{} errors; nothing imported, the running configuration is unchanged\n",
                issues.iter().count()
            ));
            return Err(report);
        }
    };
    write_whole(candidate, text.as_bytes())
        .map_err(|e| format!("{}: {e}\n", candidate.display()))?;
    let mut summary: String = read.notes.iter().map(|n| format!("note: {n}\n")).collect();
    summary.push_str(&format!(
        "imported: {} virtual servers, {} VRRP instances; \"config apply\" puts it in service\n",
        read.config.virtual_servers.len(),
        read.config.vrrp_instances.len()
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
        let dir = std::env::temp_dir().join(format!("lvsfw-import-{}", std::process::id()));
        let pasted = dir.join("pasted.conf");
        let candidate = dir.join("candidate.conf");
        let seed = include_str!("../../config/testdata/seed-3-1.conf");
        write_whole(&pasted, seed.as_bytes()).unwrap();
        let summary = import(&pasted, &candidate, None).unwrap();
        assert!(
            summary.ends_with("imported: 1 virtual servers, 0 VRRP instances; \"config apply\" puts it in service\n"),
            "{summary}"
        );
        assert_eq!(std::fs::read_to_string(&candidate).unwrap(), seed);

        // An invalid paste names each error and leaves the candidate as it was.
        write_whole(
            &pasted,
            b"virtual_server 10.0.0.1 80 {\n  lb_algo rx\n  delay_lop 6\n}\n",
        )
        .unwrap();
        let report = import(&pasted, &candidate, None).unwrap_err();
        assert!(report.contains("pasted:2:"), "{report}");
        assert!(report.contains("pasted:3:"), "{report}");
        assert!(
            report
                .ends_with("2 errors; nothing imported, the running configuration is unchanged\n"),
            "{report}"
        );
        assert_eq!(std::fs::read_to_string(&candidate).unwrap(), seed);

        // Against an appliance whose int network does not hold the real servers.
        write_whole(&pasted, seed.as_bytes()).unwrap();
        let native = config::native::from_json(
            r#"{"interfaces": [{"role": "int", "addresses": ["10.1.0.1/24"]}]}"#,
        )
        .unwrap();
        let report = import(&pasted, &candidate, Some(&native)).unwrap_err();
        assert!(report.contains("192.168.33.11"), "{report}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
