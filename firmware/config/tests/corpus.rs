//! keepalived.conf files as they are written: keepalived's own doc/samples (as Debian's
//! keepalived package installs them) and the field files in testdata/field (written for
//! these tests after deployment guides, templates and configurations posted in
//! keepalived's issues; each one keepalived 2.2.7's `keepalived -t` takes, apart from
//! interfaces missing on the test host and its warnings). Every file is read, nothing in
//! it is dropped without a note, and its export reads back to the same model.

use std::path::{Path, PathBuf};

use config::keepalived::{read_file, read_text, table, to_keepalived_conf, Read};

/// Where Debian's keepalived package puts keepalived's doc/samples (scripts/setup
/// installs keepalived for the interop tests).
const SAMPLES: &str = "/usr/share/doc/keepalived/samples";

/// The samples lvsfw refuses, and why: only for a refusal the table documents (the
/// parser directives) or for what keepalived itself reports as an unknown keyword.
const REFUSED_SAMPLES: &[(&str, &str)] = &[
    // `@high` / `@low` lines: keepalived's config id, a refused parser directive.
    (
        "keepalived.conf.conditional_conf",
        ":3:1: @high: a line for keepalived's config id (-i) is not supported",
    ),
    // Members listed without `group { }`: keepalived 2.2.7 says "Unknown keyword 'VI_2'"
    // too, and then runs without the sync group; lvsfw refuses rather than lose it.
    (
        "keepalived.conf.vrrp.lvs_syncd",
        ":4:3: unknown keyword \"VI_2\" in vrrp_sync_group (members go in group { VI_2 })",
    ),
];

fn files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e} (scripts/setup installs keepalived)", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .collect();
    out.sort();
    out
}

fn samples() -> Vec<PathBuf> {
    files(Path::new(SAMPLES), "keepalived.conf")
}

fn field() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/field");
    files(&dir, "")
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect()
}

fn seeds() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    files(&dir, "seed-")
}

fn name(path: &Path) -> &str {
    path.file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
}

/// Every file that is accepted, read.
fn accepted() -> Vec<(PathBuf, Read)> {
    let mut out = Vec::new();
    for path in samples().into_iter().chain(field()).chain(seeds()) {
        if REFUSED_SAMPLES.iter().any(|(n, _)| *n == name(&path)) {
            continue;
        }
        match read_file(&path) {
            Ok(read) => out.push((path, read)),
            Err(issues) => panic!("{} is refused:\n{issues}", path.display()),
        }
    }
    out
}

#[test]
fn keepalived_s_samples_are_read_or_refused_where_the_table_says() {
    let samples = samples();
    assert!(
        samples.len() >= 25,
        "{} samples in {SAMPLES}",
        samples.len()
    );
    for path in &samples {
        let result = read_file(path);
        match REFUSED_SAMPLES.iter().find(|(n, _)| *n == name(path)) {
            None => {
                if let Err(issues) = result {
                    panic!("{} is refused:\n{issues}", path.display());
                }
            }
            Some((_, why)) => {
                let issues = result
                    .err()
                    .unwrap_or_else(|| panic!("{} is accepted", path.display()));
                let first = issues.iter().next().unwrap().to_string();
                assert!(
                    first.ends_with(why) || first.contains(why),
                    "{}: {first}",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn the_field_corpus_is_read() {
    let field = field();
    assert!(field.len() >= 15, "{} field files", field.len());
    for path in &field {
        if let Err(issues) = read_file(path) {
            panic!("{} is refused:\n{issues}", path.display());
        }
    }
}

/// The keyword an export writes for one that keepalived.conf also spells otherwise (or
/// leaves out, being the default).
fn written_as(keyword: &str) -> &[&str] {
    match keyword {
        "lvs_sched" => &["lb_algo"],
        "lvs_method" => &["lb_kind", "lvs_method"],
        "nb_get_retry" => &["retry"],
        "host" => &["SMTP_CHECK"],
        _ => &[],
    }
}

/// Nothing is dropped without a note: every keyword of every file (the first word of
/// each line that is a keyword keepalived knows) is in the export or named by a note.
#[test]
fn nothing_is_dropped_without_a_note() {
    let keywords: std::collections::HashSet<&str> =
        table::rows().iter().map(|r| r.keyword).collect();
    let mut dropped = Vec::new();
    for (path, read) in accepted() {
        let export = to_keepalived_conf(&read.config);
        let exported: std::collections::HashSet<&str> = export.split_whitespace().collect();
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, line) in text.lines().enumerate() {
            let line = line.split(['!', '#']).next().unwrap_or_default();
            let Some(first) = line.split_whitespace().next() else {
                continue;
            };
            if !keywords.contains(first) {
                continue;
            }
            // `preempt` is keepalived's default: the export says it by leaving nopreempt out.
            let in_export = first == "preempt"
                || exported.contains(first)
                || written_as(first).iter().any(|w| exported.contains(w));
            let named = read
                .notes
                .iter()
                .any(|note| note.split([' ', ':']).any(|w| w == first));
            // A line that says what keepalived does anyway (`rise 1`, `quorum 1`): the model
            // is the same without it, so the export means it too.
            let default = || {
                let without: Vec<&str> = text
                    .lines()
                    .enumerate()
                    .filter(|(m, _)| *m != n)
                    .map(|(_, l)| l)
                    .collect();
                !line.contains('{')
                    && read_text(&without.join("\n"), &path.display().to_string())
                        .is_ok_and(|r| r.config == read.config)
            };
            if !in_export && !named && !default() {
                dropped.push(format!("{}:{}: {first}", path.display(), n + 1));
            }
        }
    }
    assert!(
        dropped.is_empty(),
        "dropped without a note:\n{}",
        dropped.join("\n")
    );
}

#[test]
fn every_accepted_file_s_export_reads_back_the_same() {
    for (path, read) in accepted() {
        let export = to_keepalived_conf(&read.config);
        let again = read_text(&export, "export.conf").unwrap_or_else(|e| {
            panic!("{}: the export is refused:\n{export}\n{e}", path.display())
        });
        assert_eq!(again.config, read.config, "{}:\n{export}", path.display());
        assert_eq!(
            to_keepalived_conf(&again.config),
            export,
            "{}",
            path.display()
        );
    }
}
