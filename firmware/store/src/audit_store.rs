//! The audit area's reads and appends on a [`Store`]'s device (layout in [`crate::audit`]).

use std::time::Duration;

use crate::audit::{area_len, entries, next_place, Entry, ENTRY_LEN};
use crate::record::{HEADER_LEN, MAGIC};
use crate::slots::{Device, Error, Store};

impl<D: Device> Store<D> {
    /// Where the audit area starts, and how many entries it has (0: too small a device).
    fn audit_area(&self) -> (u64, u64) {
        let len = 2 * self.slot_len;
        let area = area_len(len);
        (len - area, area / ENTRY_LEN as u64)
    }

    /// Whether slot 1 holds a record (saved before the area existed, by an older
    /// firmware) that reaches into the area: then the area is not written, so that the
    /// record stays readable until the next save moves it.
    fn record_reaches_area(&self, start: u64) -> Result<bool, Error> {
        let mut header = [0u8; HEADER_LEN];
        self.device.read(&mut header, self.slot_len)?;
        if &header[..8] != MAGIC {
            return Ok(false);
        }
        let len = u32::from_le_bytes([header[16], header[17], header[18], header[19]]) as u64;
        Ok(self.slot_len + HEADER_LEN as u64 + len > start)
    }

    /// The persisted audit lines, oldest first (damaged or torn entries are skipped).
    pub fn audit_entries(&self) -> Result<Vec<Entry>, Error> {
        let (start, count) = self.audit_area();
        if count == 0 {
            return Ok(Vec::new());
        }
        let mut area = vec![0u8; (count as usize) * ENTRY_LEN];
        self.device.read(&mut area, start)?;
        Ok(entries(&area))
    }

    /// Appends `text` as the next audit entry over the oldest one, synced. Waits at most
    /// `wait` for a save holding the lock (zero: [`Error::WouldBlock`] at once, for a
    /// caller that must not block). Returns the entry's sequence number.
    pub fn audit_append(&self, text: &str, wait: Duration) -> Result<u64, Error> {
        let (start, count) = self.audit_area();
        if count == 0 {
            return Err(Error::TooLarge { len: 0, max: 0 });
        }
        let _lock = self.lock_for(wait)?;
        if self.record_reaches_area(start)? {
            return Err(Error::TooLarge {
                len: ENTRY_LEN,
                max: 0,
            });
        }
        let (index, sequence) = next_place(&self.audit_entries()?, count);
        let bytes = Entry {
            sequence,
            text: text.to_string(),
        }
        .encode();
        self.write_checked(&bytes, start + index * ENTRY_LEN as u64)?;
        Ok(sequence)
    }
}
