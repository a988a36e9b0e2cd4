//! Saves and loads on a file: newest wins, a torn save leaves the old one, and the
//! hygiene of issue 14: erase leaves nothing, a damaged header allocates nothing large,
//! two savers take turns, and what was written is read back.

use super::*;

const LEN: u64 = 64 * 1024;

fn store() -> (tempfile::NamedTempFile, Store) {
    let file = tempfile::NamedTempFile::new().unwrap();
    file.as_file().set_len(LEN).unwrap();
    let store = Store::new(file.reopen().unwrap(), LEN);
    (file, store)
}

#[test]
fn empty_until_saved_then_newest_wins() {
    let (_f, s) = store();
    assert_eq!(s.load().unwrap(), None);
    for n in 1..=5u8 {
        s.save(&[n; 10]).unwrap();
        assert_eq!(s.load().unwrap(), Some(vec![n; 10]));
    }
}

#[test]
fn erase_returns_to_nothing_saved() {
    let (_f, s) = store();
    s.save(b"one").unwrap();
    s.save(b"two").unwrap();
    s.erase().unwrap();
    assert_eq!(s.load().unwrap(), None);
    s.save(b"three").unwrap();
    assert_eq!(s.load().unwrap(), Some(b"three".to_vec()));
}

#[test]
fn too_large_is_refused_and_changes_nothing() {
    let (_f, s) = store();
    s.save(b"kept").unwrap();
    let err = s.save(&vec![0u8; LEN as usize]).unwrap_err();
    assert!(err.to_string().contains("does not fit"), "{err}");
    assert_eq!(s.load().unwrap(), Some(b"kept".to_vec()));
}

/// A power loss while saving: only a prefix of the new slot's bytes reached the
/// device (anything from nothing to all but the last byte). Whatever the prefix,
/// the store reads either the old or the new configuration, never anything else.
#[test]
fn a_torn_save_leaves_the_old_or_the_new_configuration() {
    let old = b"{\"hostname\":\"old\"}".to_vec();
    let new = b"{\"hostname\":\"new\",\"interfaces\":[]}".to_vec();
    let (_f, s) = store();
    s.save(b"first").unwrap();
    s.save(&old).unwrap(); // slot 1 holds old (sequence 2), slot 0 "first" (sequence 1)
    let new_bytes = Record {
        sequence: 3,
        payload: new.clone(),
    }
    .encode();
    let snapshot = {
        let mut b = vec![0u8; LEN as usize];
        s.device.read_exact_at(&mut b, 0).unwrap();
        b
    };
    for cut in 0..=new_bytes.len() {
        s.device.write_all_at(&snapshot, 0).unwrap();
        s.device.write_all_at(&new_bytes[..cut], 0).unwrap();
        let loaded = s.load().unwrap();
        let expected = if cut == new_bytes.len() { &new } else { &old };
        assert_eq!(loaded.as_ref(), Some(expected), "cut after {cut} bytes");
    }
}

/// Whether `needle` is anywhere on the device.
fn on_disk(file: &tempfile::NamedTempFile, needle: &[u8]) -> bool {
    let bytes = std::fs::read(file.path()).unwrap();
    bytes.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn erase_leaves_nothing_of_what_was_saved() {
    let (f, s) = store();
    s.save(b"{\"password_hash\": \"pbkdf2-sha256$600000$SECRET-HASH\"}")
        .unwrap();
    s.save(b"{\"auth_pass\": \"VRRP-SECRET\"}").unwrap();
    assert!(on_disk(&f, b"SECRET-HASH") && on_disk(&f, b"VRRP-SECRET"));
    s.erase().unwrap();
    assert!(
        !on_disk(&f, b"SECRET-HASH"),
        "the password hash is still on the disk"
    );
    assert!(
        !on_disk(&f, b"VRRP-SECRET"),
        "auth_pass is still on the disk"
    );
    assert_eq!(s.load().unwrap(), None);
}

/// The largest single allocation of this test binary (store tests allocate little).
struct Counting;

static LARGEST: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only records the size asked for.
unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), std::sync::atomic::Ordering::SeqCst);
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: `ptr` came from `alloc` above.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn a_damaged_length_is_refused_before_anything_is_allocated() {
    // A large disk (sparse) whose first slot's header says 400 MiB follow.
    const BIG: u64 = 1 << 30;
    let file = tempfile::NamedTempFile::new().unwrap();
    file.as_file().set_len(BIG).unwrap();
    let mut header = Vec::new();
    header.extend_from_slice(b"LVSFWCF1");
    header.extend_from_slice(&1u64.to_le_bytes());
    header.extend_from_slice(&(400u32 << 20).to_le_bytes());
    header.extend_from_slice(&0u32.to_le_bytes());
    file.as_file().write_all_at(&header, 0).unwrap();
    let s = Store::new(file.reopen().unwrap(), BIG);
    let _ = s.load();
    let largest = LARGEST.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        largest <= crate::MAX_PAYLOAD + HEADER_LEN,
        "a load asked for {largest} bytes at once"
    );
}

#[test]
fn a_second_saver_waits_for_the_first() {
    let (f, s) = store();
    s.save(b"before").unwrap();
    // Another process saving: it holds the device's lock.
    let other = f.reopen().unwrap();
    let held = nix::fcntl::Flock::lock(other, nix::fcntl::FlockArg::LockExclusiveNonblock)
        .map_err(|(_, e)| e)
        .unwrap();
    let s = s.with_lock_wait(std::time::Duration::from_millis(200));
    let e = s.save(b"while another saves").unwrap_err();
    assert_eq!(
        e.to_string(),
        "another save of the configuration is in progress (waited 0.2 s); nothing saved"
    );
    assert_eq!(s.load().unwrap(), Some(b"before".to_vec()));
    drop(held);
    s.save(b"after").unwrap();
    assert_eq!(s.load().unwrap(), Some(b"after".to_vec()));
}

/// A device that says it wrote what it did not: its last byte never lands.
struct Lossy(File);

impl Device for Lossy {
    fn read(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.0.read_exact_at(buf, offset)
    }
    fn write(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.0
            .write_all_at(&buf[..buf.len().saturating_sub(1)], offset)
    }
    fn sync(&self) -> io::Result<()> {
        self.0.sync_data()
    }
    fn file(&self) -> &File {
        &self.0
    }
}

#[test]
fn what_was_written_is_read_back() {
    let file = tempfile::NamedTempFile::new().unwrap();
    file.as_file().set_len(LEN).unwrap();
    let s = Store::on(Lossy(file.reopen().unwrap()), LEN);
    let e = s.save(b"kept?").unwrap_err();
    assert_eq!(
        e.to_string(),
        "config partition: what was read back is not what was written; the save did not take"
    );
}

#[test]
fn a_damaged_store_is_not_an_empty_one() {
    let (f, s) = store();
    s.save(b"{\"hostname\": \"lb1\"}").unwrap();
    // One bit of the only record flips: that is not "nothing saved".
    let mut byte = [0u8; 1];
    f.as_file().read_exact_at(&mut byte, 30).unwrap();
    f.as_file().write_all_at(&[byte[0] ^ 1], 30).unwrap();
    assert_eq!(
        s.load().unwrap_err().to_string(),
        "config partition: a configuration was saved there but neither slot holds an intact one (damaged)"
    );
    // Garbage where no record ever was is damage too; zeros are nothing.
    let (g, t) = store();
    g.as_file().write_all_at(b"not a record", 0).unwrap();
    assert!(matches!(t.load(), Err(Error::Damaged)));
    // An I/O error is an error, never "nothing saved".
    let dir = tempfile::tempdir().unwrap();
    let unreadable = Store::new(File::open(dir.path()).unwrap(), LEN);
    assert!(matches!(unreadable.load(), Err(Error::Io(_))));
}
