use super::super::{confirm, disk, set_hostname};
use super::*;

fn setup(disk_len: u64) -> (tempfile::TempDir, tempfile::NamedTempFile, Paths, Store) {
    let tmp = tempfile::tempdir().unwrap();
    let paths = Paths::under(tmp.path());
    write(&paths.running_json, "{}\n").unwrap();
    let file = tempfile::NamedTempFile::new().unwrap();
    file.as_file().set_len(disk_len).unwrap();
    let store = disk::open_path(file.path()).unwrap();
    (tmp, file, paths, store)
}

fn running_hostname(paths: &Paths) -> String {
    std::fs::read_to_string(&paths.running_json).unwrap()
}

#[test]
fn every_save_is_a_revision_and_an_old_one_comes_back_through_apply() {
    let (_tmp, _file, paths, store) = setup(1 << 20);
    for i in 1..=10 {
        set_hostname(&paths, &format!("lb{i}")).unwrap();
        super::super::apply(&paths).unwrap();
        let said = save(&paths, &store, "console").unwrap();
        assert!(said.contains(&format!("as revision {i}: ")), "{said}");
    }
    let history = history(&store).unwrap();
    assert_eq!(history.revisions.len(), 10);
    assert_eq!(history.revisions[1].summary, "config.json: hostname");
    let listing = history.listing();
    assert!(listing.contains("10 revisions kept"), "{listing}");

    let diff = diff_revision(&paths, &store, 3).unwrap();
    assert!(
        diff.contains("--- running config.json\n+++ revision 3 config.json"),
        "{diff}"
    );
    assert!(diff.contains("+  \"hostname\": \"lb3\""), "{diff}");
    assert!(diff_revision(&paths, &store, 10)
        .unwrap()
        .starts_with("no changes"));
    assert!(diff_revision(&paths, &store, 99_999)
        .unwrap_err()
        .contains("no revision 99999: the history holds revisions 1 to 10"));

    // Restored through the candidate and apply; saved, it is a revision of its own.
    let applied = restore_revision(&paths, &store, 3, "console").unwrap();
    assert!(
        applied
            .report
            .starts_with("revision 3 restored: in service"),
        "{}",
        applied.report
    );
    assert!(running_hostname(&paths).contains("\"lb3\""));
    assert!(!super::super::has_candidate(&paths));
    let said = save(&paths, &store, "console").unwrap();
    assert!(
        said.contains("revision 11: the same as revision 3 (restored)"),
        "{said}"
    );

    // While a change waits for its confirmation: no restore, no save, nothing changes.
    confirm::arm(&paths, 1, "console", "test").unwrap();
    let before = running_hostname(&paths);
    let e = restore_revision(&paths, &store, 5, "console").unwrap_err();
    assert!(
        e.contains("config restore is refused while a change waits"),
        "{e}"
    );
    assert!(save(&paths, &store, "console")
        .unwrap_err()
        .contains("config save is refused"));
    assert_eq!(running_hostname(&paths), before);
    assert!(!super::super::has_candidate(&paths));
    confirm::confirm(&paths, "test").unwrap();
    assert!(restore_revision(&paths, &store, 99_999, "console").is_err());
    assert!(!super::super::has_candidate(&paths));
}

#[test]
fn older_formats_are_read_and_a_full_disk_drops_the_oldest() {
    let v2 = br#"{"format":"lvsfw-saved-2","config.json":"{}","keepalived.conf":null,"tls":null}"#;
    let saved = decode(v2).unwrap();
    assert_eq!(saved.history, History::default());
    let v1 = br#"{"format":"lvsfw-saved-1","config.json":"{}","keepalived.conf":null}"#;
    assert!(decode(v1).is_ok());
    let bad = br#"{"format":"lvsfw-saved-2","config.json":"{}","keepalived.conf":null,"history":{"next":1,"revisions":[]}}"#;
    assert!(decode(bad).is_err());

    // A small partition: the record with a verbatim keepalived.conf and its history
    // does not fit, so the oldest revisions go and the save says so.
    let (_tmp, _file, paths, store) = setup(64 * 1024);
    let mut dropped_said = None;
    for i in 0..30 {
        let conf: String = (0..200)
            .map(|n| {
                format!(
                    "# {i} line {n} of a configuration that changes every time {}\n",
                    i * n
                )
            })
            .collect();
        write(&paths.running_conf, &conf).unwrap();
        let said = save(&paths, &store, "console").unwrap();
        if said.contains("oldest dropped") {
            dropped_said = Some(said);
        }
    }
    let said = dropped_said.expect("the history outgrew the disk");
    assert!(said.contains("oldest dropped to fit the disk"), "{said}");
    let history = history(&store).unwrap();
    assert!(history.revisions.len() < 30);
    assert_eq!(history.revisions.last().unwrap().rev, 30);
}
