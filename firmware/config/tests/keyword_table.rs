//! KEYWORDS.md, row by row: the reader does what each row says (implemented: into the
//! model and back out; noted: accepted, kept word for word, named by a note; refused: an
//! error with the row's reason), and every keyword the reader reads itself has a row.

use config::keepalived::table::{self, Row, Status};
use config::keepalived::{read_text, to_keepalived_conf};

const SCRIPT: &str = "vrrp_script chk {\n PING_CHECK {\n  connect_ip 192.0.2.1\n }\n}\n";
const INSTANCE: &str = "vrrp_instance V {\n interface ext\n virtual_router_id 1\n}\n";

/// `body` inside the blocks of `path`, with what each block needs around it.
fn within(path: &str, body: &str) -> String {
    let (parent, last) = match path.rsplit_once('/') {
        Some((p, l)) => (Some(p), l),
        None => (None, path),
    };
    let here = match last {
        "-" => return format!("{INSTANCE}{body}\n"),
        "global_defs" => return format!("global_defs {{\n{body}\n}}\n{INSTANCE}"),
        "vrrp_instance" => {
            return format!(
                "{SCRIPT}vrrp_instance V {{\n interface ext\n virtual_router_id 1\n{body}\n}}\n"
            )
        }
        "vrrp_sync_group" => {
            let group = if body.is_empty() || body.starts_with("group") {
                ""
            } else {
                " group {\n  V\n }\n"
            };
            return format!("{SCRIPT}{INSTANCE}vrrp_sync_group G {{\n{group}{body}\n}}\n");
        }
        "vrrp_script" => {
            // A check, or keepalived's script, is what the script is about: the row's
            // example brings its own.
            let check = if body.is_empty()
                || body.contains("_CHECK {")
                || body.contains("_GET {")
                || body.starts_with("script")
            {
                ""
            } else {
                " PING_CHECK {\n  connect_ip 192.0.2.1\n }\n"
            };
            return format!("vrrp_script chk {{\n{check}{body}\n}}\n");
        }
        "virtual_server" => {
            return format!("virtual_server 10.0.0.1 80 {{\n protocol TCP\n{body}\n}}\n")
        }
        "real_server" => format!("real_server 10.0.1.1 80 {{\n{body}\n}}"),
        "HTTP_GET" | "SSL_GET" if !body.contains("url {") => {
            format!("{last} {{\n url {{\n  path /\n }}\n{body}\n}}")
        }
        "url" => format!("url {{\n path /\n{body}\n}}"),
        "authentication" => format!("authentication {{\n auth_type PASS\n auth_pass x\n{body}\n}}"),
        // lvsfw's bgp block needs its AS, and a virtual server for what it announces.
        "bgp" => {
            let local = if body.starts_with("local_as") {
                ""
            } else {
                " local_as 65001\n"
            };
            return format!(
                "virtual_server 10.0.0.1 80 {{\n protocol TCP\n}}\nbgp {{\n{local}{body}\n}}\n"
            );
        }
        "neighbor" => {
            let remote = if body.starts_with("remote_as") {
                ""
            } else {
                " remote_as 65000\n"
            };
            format!("neighbor 192.0.2.1 {{\n{remote}{body}\n}}")
        }
        "vrrp_track_process" | "track_file" | "vrrp_track_file" | "track_group"
        | "bfd_instance" => return format!("{last} one {{\n{body}\n}}\n"),
        // the rest: a block of that name (a check, host, SSL, garp_group, ...)
        _ => format!("{last} {{\n{body}\n}}"),
    };
    within(parent.unwrap_or("-"), &here)
}

/// The row's configuration: its example, or the keyword alone.
fn text(row: &Row) -> String {
    let body = if row.example.is_empty() {
        row.keyword.to_string()
    } else {
        row.example.join("\n")
    };
    within(row.block, &body)
}

/// The same configuration without the row's keyword: the lines before it in the example
/// (they set up what it needs), or nothing.
fn baseline(row: &Row) -> String {
    let body = match row.example.split_last() {
        Some((last, before)) if last.starts_with(row.keyword) && !before.is_empty() => {
            before.join("\n")
        }
        _ => String::new(),
    };
    within(row.block, &body)
}

/// The row that decides for `row`: itself, or the noted or refused block it sits in.
fn decider(row: &Row) -> &'static Row {
    let mut path = row.block;
    let mut found = table::find(row.block, row.keyword).expect("a row of the table");
    while let Some((parent, last)) = path.rsplit_once('/') {
        if let Some(p) = table::find(parent, last) {
            if p.status != (Status::Implemented { acted: true })
                && p.status != (Status::Implemented { acted: false })
            {
                found = p;
            }
        }
        path = parent;
    }
    if let Some(top) = table::find("-", path) {
        if matches!(top.status, Status::Noted | Status::Refused) && row.block != "-" {
            found = top;
        }
    }
    found
}

/// The keyword an export writes for one that keepalived.conf also spells otherwise.
fn written_as<'a>(block: &str, keyword: &'a str) -> &'a str {
    match keyword {
        "lvs_method" if block == "virtual_server" => "lb_kind",
        "lvs_sched" => "lb_algo",
        "nb_get_retry" => "retry",
        "lvs_sync_daemon_interface" => "lvs_sync_daemon",
        // SMTP_CHECK's hosts are written as one SMTP_CHECK each.
        "host" => "SMTP_CHECK",
        // The default: nothing is written.
        "preempt" => "",
        other => other,
    }
}

fn check_row(row: &Row) -> Result<(), String> {
    let conf = text(row);
    let decider = decider(row);
    let read = read_text(&conf, "k.conf");
    match decider.status {
        Status::Implemented { acted } => {
            let read = read.map_err(|e| format!("refused:\n{conf}\n{e}"))?;
            // The row's own note, or that of the block it is in, when the appliance does not
            // act on the whole block yet (then only the block's keyword is noted).
            let mut enclosing = row.block.split('/').chain([row.keyword]);
            let noted_yet = enclosing.any(|k| {
                let not_yet =
                    format!(": {k}: read and kept, but the appliance does not act on it yet");
                read.notes.iter().any(|n| n.contains(&not_yet))
            });
            if !acted && !noted_yet {
                return Err(format!("no \"not yet acted on\" note: {:?}", read.notes));
            }
            let own = format!(
                ": {}: read and kept, but the appliance does not act on it yet",
                row.keyword
            );
            if acted && read.notes.iter().any(|n| n.contains(&own)) {
                return Err(format!(
                    "a \"not yet acted on\" note for an acted-on keyword: {:?}",
                    read.notes
                ));
            }
            if read
                .notes
                .iter()
                .any(|n| n.contains("accepted and kept for export"))
            {
                return Err(format!("noted, not read: {:?}", read.notes));
            }
            if let Ok(base) = read_text(&baseline(row), "k.conf") {
                if base.config == read.config {
                    return Err(format!("the model is the same without it:\n{conf}"));
                }
            }
            let export = to_keepalived_conf(&read.config);
            let word = written_as(row.block, row.keyword);
            if !export.split_whitespace().any(|w| w == word) && !word.is_empty() {
                return Err(format!("not in the export:\n{export}"));
            }
            let again = read_text(&export, "export.conf")
                .map_err(|e| format!("export refused:\n{export}\n{e}"))?;
            if again.config != read.config {
                return Err(format!("the export reads back otherwise:\n{export}"));
            }
        }
        Status::Noted => {
            let read = read.map_err(|e| format!("refused:\n{conf}\n{e}"))?;
            let note = format!(
                ": {}: accepted and kept for export, no effect here: {}",
                decider.keyword, decider.note
            );
            if !read.notes.iter().any(|n| n.contains(&note)) {
                return Err(format!("no note \"{note}\": {:?}", read.notes));
            }
            let export = to_keepalived_conf(&read.config);
            if !export.split_whitespace().any(|w| w == row.keyword) {
                return Err(format!("not kept in the export:\n{export}"));
            }
        }
        Status::Refused => {
            let Err(issues) = read else {
                return Err(format!("accepted:\n{conf}"));
            };
            let reason = format!(": {}: not supported: {}", decider.keyword, decider.note);
            if !issues.iter().any(|i| i.to_string().contains(&reason)) {
                return Err(format!("no error \"{reason}\": {issues}"));
            }
        }
    }
    Ok(())
}

#[test]
fn the_reader_does_what_every_row_says() {
    let rows = table::rows();
    assert!(rows.len() > 500, "the table has {} rows", rows.len());
    let failures: Vec<String> = rows
        .iter()
        .filter_map(|row| {
            check_row(row)
                .err()
                .map(|e| format!("{} {} ({:?}): {e}", row.block, row.keyword, row.status))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} rows:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn every_noted_or_refused_row_says_why_and_every_row_is_whole() {
    for row in table::rows() {
        if matches!(row.status, Status::Noted | Status::Refused) {
            assert!(
                row.note.len() > 10,
                "{} {}: no reason",
                row.block,
                row.keyword
            );
        } else {
            assert!(
                !row.example.is_empty(),
                "{} {}: no example",
                row.block,
                row.keyword
            );
        }
    }
    // The table's rows are what the file holds: none lost to a malformed line.
    let md = include_str!("../KEYWORDS.md");
    let lines = md.lines().filter(|l| l.starts_with("| `")).count();
    assert_eq!(lines, table::rows().len());
}

/// Every keyword a block reader matches by name has a row (in some block): the reader
/// knows nothing the table does not say.
#[test]
fn every_keyword_the_reader_reads_is_in_the_table() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/keepalived/reader");
    let known: std::collections::HashSet<&str> = table::rows().iter().map(|r| r.keyword).collect();
    // Values the readers match, not keywords: lvs_timeouts' protocols.
    // Values the readers match, not keywords: lvs_timeouts' protocols, a switch's words,
    // the top level's block name.
    let values = [
        "tcp", "tcpfin", "udp", "on", "off", "true", "false", "yes", "no", "-",
    ];
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        // routes.rs matches `ip route` / `ip rule` options, which are values of a line.
        if path.ends_with("routes.rs") {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        for line in source.lines() {
            let arm = line.trim_start();
            if !arm.starts_with('"') && !arm.starts_with("| \"") {
                continue;
            }
            for word in arm.split('"').skip(1).step_by(2) {
                let is_keyword = word
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if is_keyword && !known.contains(word) && !values.contains(&word) {
                    missing.push(format!("{}: {word}", path.display()));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "not in KEYWORDS.md:\n{}",
        missing.join("\n")
    );
}
