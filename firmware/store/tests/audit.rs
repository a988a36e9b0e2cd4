//! The audit area on a device of the image's size: saves cannot reach it, appends and
//! saves leave each other intact, a torn append loses one entry, a held lock does not
//! block PID 1's append. (A test binary of its own: the slots' tests count allocations.)

use std::time::Duration;

use store::audit::{area_len, Entry, AUDIT_LEN, ENTRY_LEN};
use store::{Error, Record, Store, HEADER_LEN};

const LEN: u64 = 2 << 20;

fn store() -> (tempfile::NamedTempFile, Store) {
    let file = tempfile::NamedTempFile::new().unwrap();
    file.as_file().set_len(LEN).unwrap();
    let store = Store::new(file.reopen().unwrap(), LEN);
    (file, store)
}

#[test]
fn a_save_that_would_reach_the_audit_area_is_refused_and_changes_nothing() {
    let (_f, s) = store();
    let max = s.max_payload();
    assert_eq!(max as u64, LEN / 2 - AUDIT_LEN - HEADER_LEN as u64);
    s.audit_append("kept line", Duration::ZERO).unwrap();
    s.save(b"old").unwrap();
    s.save(b"older").unwrap(); // slot 1 now holds a record
    let err = s.save(&vec![b'x'; max + 1]).unwrap_err();
    assert!(
        err.to_string().contains("less the audit trail's area"),
        "{err}"
    );
    s.save(&vec![b'y'; max]).unwrap();
    s.save(&vec![b'z'; max]).unwrap(); // both slots full to the limit
    assert_eq!(s.load().unwrap(), Some(vec![b'z'; max]));
    let texts: Vec<String> = s
        .audit_entries()
        .unwrap()
        .into_iter()
        .map(|e| e.text)
        .collect();
    assert_eq!(texts, ["kept line"]);
}

#[test]
fn appends_and_saves_leave_each_other_intact() {
    let (_f, s) = store();
    for n in 0..300u32 {
        s.audit_append(&format!("line {n}"), Duration::ZERO)
            .unwrap();
        if n % 50 == 0 {
            s.save(format!("config {n}").as_bytes()).unwrap();
        }
    }
    let kept = s.audit_entries().unwrap();
    assert_eq!(kept.len(), (AUDIT_LEN as usize) / ENTRY_LEN);
    assert_eq!(kept.last().unwrap().text, "line 299");
    assert_eq!(kept.first().unwrap().text, "line 44");
    assert_eq!(s.load().unwrap(), Some(b"config 250".to_vec()));
}

#[test]
fn a_torn_append_loses_only_the_entry_being_written() {
    let (f, s) = store();
    for n in 1..=5 {
        s.audit_append(&format!("line {n}"), Duration::ZERO)
            .unwrap();
    }
    // Entry 6 torn half way: its bytes land partly.
    let start = LEN - area_len(LEN);
    let count = area_len(LEN) / ENTRY_LEN as u64;
    let at = start + (6 % count) * ENTRY_LEN as u64;
    let bytes = Entry {
        sequence: 6,
        text: "line 6".into(),
    }
    .encode();
    std::os::unix::fs::FileExt::write_all_at(f.as_file(), &bytes[..15], at).unwrap();
    let texts: Vec<String> = s
        .audit_entries()
        .unwrap()
        .into_iter()
        .map(|e| e.text)
        .collect();
    assert_eq!(texts, ["line 1", "line 2", "line 3", "line 4", "line 5"]);
    assert_eq!(s.audit_append("line 6 again", Duration::ZERO).unwrap(), 6);
}

#[test]
fn a_busy_lock_is_would_block_for_a_caller_that_cannot_wait() {
    let (f, s) = store();
    let other = f.reopen().unwrap();
    let held = nix::fcntl::Flock::lock(other, nix::fcntl::FlockArg::LockExclusiveNonblock)
        .map_err(|(_, e)| e)
        .unwrap();
    assert!(matches!(
        s.audit_append("x", Duration::ZERO),
        Err(Error::WouldBlock)
    ));
    drop(held);
    assert_eq!(s.audit_append("x", Duration::ZERO).unwrap(), 1);
}

#[test]
fn an_old_record_reaching_into_the_area_is_not_overwritten() {
    let (f, s) = store();
    let big = Record {
        sequence: 9,
        payload: vec![b'k'; (LEN / 2 - 1000) as usize],
    }
    .encode();
    std::os::unix::fs::FileExt::write_all_at(f.as_file(), &big, LEN / 2).unwrap();
    assert!(s.audit_append("x", Duration::ZERO).is_err());
    assert_eq!(
        s.load().unwrap().map(|p| p.len()),
        Some(big.len() - HEADER_LEN)
    );
}
