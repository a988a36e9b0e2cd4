//! scripts/setup verifies what it installed: with one required command hidden from PATH
//! it must fail and name that command (issue 19: an install that removed qemu-img went
//! unnoticed until the image build failed).

use std::collections::HashSet;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

/// A PATH of one folder holding a link to every program of the current PATH but `hidden`.
fn path_without(hidden: &str, dir: &Path) -> String {
    let mut seen = HashSet::new();
    let path = std::env::var("PATH").unwrap_or_default();
    for folder in path.split(':').filter(|f| !f.is_empty()) {
        let Ok(entries) = std::fs::read_dir(folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name == hidden || !seen.insert(name.clone()) {
                continue;
            }
            symlink(entry.path(), dir.join(&name)).expect("link into the scratch PATH");
        }
    }
    dir.display().to_string()
}

fn setup_with_hidden(hidden: &str) -> (bool, String) {
    let scratch = std::env::temp_dir().join(format!("lvsfw-setup-path-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).expect("scratch folder");
    let path = path_without(hidden, &scratch);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new(root.join("scripts/setup"))
        .current_dir(&root)
        .env("PATH", path)
        .output()
        .expect("scripts/setup runs");
    let _ = std::fs::remove_dir_all(&scratch);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn setup_fails_naming_a_command_that_is_missing_after_the_install() {
    for hidden in ["qemu-img", "chromedriver"] {
        let (ok, text) = setup_with_hidden(hidden);
        assert!(!ok, "setup passed with {hidden} hidden:\n{text}");
        assert!(
            text.contains(&format!("missing: command {hidden} ")),
            "setup's output does not name {hidden}:\n{text}"
        );
    }
}
