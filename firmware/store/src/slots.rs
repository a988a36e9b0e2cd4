//! Two slots on one device, each half of it.

use std::fmt;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use crate::record::{Record, HEADER_LEN};

#[derive(Debug)]
pub enum Error {
    Io(io::Error),
    /// The payload does not fit in half the partition.
    TooLarge {
        len: usize,
        max: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "config partition: {e}"),
            Error::TooLarge { len, max } => {
                write!(
                    f,
                    "configuration of {len} bytes does not fit the partition (at most {max})"
                )
            }
        }
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

pub struct Store {
    device: File,
    slot_len: u64,
}

impl Store {
    /// Uses `device` (a partition or a file) of `len` bytes.
    pub fn new(device: File, len: u64) -> Store {
        Store {
            device,
            slot_len: len / 2,
        }
    }

    fn read_slot(&self, index: u64) -> io::Result<Option<Record>> {
        let mut header = [0u8; HEADER_LEN];
        if self
            .device
            .read_exact_at(&mut header, index * self.slot_len)
            .is_err()
        {
            return Ok(None);
        }
        let len = u32::from_le_bytes([header[16], header[17], header[18], header[19]]) as u64;
        let total = (HEADER_LEN as u64 + len).min(self.slot_len);
        let mut bytes = vec![0u8; total as usize];
        match self.device.read_exact_at(&mut bytes, index * self.slot_len) {
            Ok(()) => Ok(Record::decode(&bytes)),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The intact record of each slot, if any.
    fn slots(&self) -> io::Result<[Option<Record>; 2]> {
        Ok([self.read_slot(0)?, self.read_slot(1)?])
    }

    /// The newest intact configuration, or `None` when nothing was ever saved (or after
    /// a factory reset).
    pub fn load(&self) -> Result<Option<Vec<u8>>, Error> {
        let [a, b] = self.slots()?;
        let newest = match (a, b) {
            (Some(a), Some(b)) => Some(if b.sequence > a.sequence { b } else { a }),
            (a, b) => a.or(b),
        };
        Ok(newest.map(|r| r.payload))
    }

    /// Writes `payload` over the older slot and syncs it to the device.
    pub fn save(&self, payload: &[u8]) -> Result<(), Error> {
        let max = (self.slot_len as usize).saturating_sub(HEADER_LEN);
        if payload.len() > max.min(crate::MAX_PAYLOAD) {
            return Err(Error::TooLarge {
                len: payload.len(),
                max: max.min(crate::MAX_PAYLOAD),
            });
        }
        let [a, b] = self.slots()?;
        let sequence_of = |r: &Option<Record>| r.as_ref().map(|r| r.sequence);
        let (target, sequence) = match (sequence_of(&a), sequence_of(&b)) {
            (None, None) => (0, 1),
            (Some(s), None) => (1, s + 1),
            (None, Some(s)) => (0, s + 1),
            (Some(sa), Some(sb)) if sa >= sb => (1, sa + 1),
            (Some(_), Some(sb)) => (0, sb + 1),
        };
        let bytes = Record {
            sequence,
            payload: payload.to_vec(),
        }
        .encode();
        self.device.write_all_at(&bytes, target * self.slot_len)?;
        self.device.sync_data()?;
        Ok(())
    }

    /// Forgets every saved configuration: the board's factory one applies again.
    pub fn erase(&self) -> Result<(), Error> {
        let zeros = [0u8; HEADER_LEN];
        self.device.write_all_at(&zeros, 0)?;
        self.device.write_all_at(&zeros, self.slot_len)?;
        self.device.sync_data()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
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
}
