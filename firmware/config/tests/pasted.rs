//! Text pasted on the page or the console (issue 14, defect 6): `include` would read
//! files of the appliance (their contents come back in error messages; a file such as
//! /proc/kmsg blocks the reader), so pasted text may not include anything. A file read from disk still
//! follows keepalived's includes (tests/keywords.rs).

use config::keepalived::read_text;

fn errors(text: &str) -> Vec<String> {
    match read_text(text, "pasted") {
        Ok(_) => Vec::new(),
        Err(issues) => issues.iter().map(|i| i.to_string()).collect(),
    }
}

#[test]
fn pasted_text_includes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret.conf");
    std::fs::write(&secret, "vrrp_instance SECRET_CONTENT {\n}\n").unwrap();
    let text = format!(
        "global_defs {{\n  include {}\n}}\ninclude {}\n",
        secret.display(),
        secret.display()
    );
    let found = errors(&text);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found[0].starts_with("pasted:2:3: include is not allowed in pasted text"),
        "{found:?}"
    );
    assert!(found[1].starts_with("pasted:4:1: include"), "{found:?}");
    assert!(
        found.iter().all(|e| !e.contains("SECRET_CONTENT")),
        "a file's contents came back: {found:?}"
    );
}
