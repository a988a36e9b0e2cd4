//! Two slots on one device, each half of it.

use std::fmt;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use crate::record::{Record, HEADER_LEN, MAGIC};

#[derive(Debug)]
pub enum Error {
    Io(io::Error),
    /// The payload does not fit in a slot (half the partition less the audit area).
    TooLarge {
        len: usize,
        max: usize,
    },
    /// Another saver holds the lock and the caller cannot wait (PID 1's audit append).
    WouldBlock,
    /// Another process (the page's save, the console's) held the lock this long.
    Busy {
        waited: Duration,
    },
    /// The device took the write and the sync, but reads back something else.
    ReadBack,
    /// Neither slot holds an intact record, yet at least one holds a record's start: a
    /// configuration was saved and is damaged. Not the same as nothing saved.
    Damaged,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "config partition: {e}"),
            Error::TooLarge { len, max } => {
                write!(
                    f,
                    "configuration of {len} bytes does not fit the partition (at most {max}: \
                     half of it, less the audit trail's area at its end)"
                )
            }
            Error::WouldBlock => write!(f, "config partition: busy with a save; try again"),
            Error::Busy { waited } => write!(
                f,
                "another save of the configuration is in progress (waited {:.1} s); nothing saved",
                waited.as_secs_f64()
            ),
            Error::ReadBack => write!(
                f,
                "config partition: what was read back is not what was written; the save did not take"
            ),
            Error::Damaged => write!(
                f,
                "config partition: a configuration was saved there but neither slot holds an intact one (damaged)"
            ),
        }
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

/// Where the slots are: a partition or a file, read and written at offsets.
pub trait Device {
    /// Fills `buf` from `offset`.
    fn read(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    /// Writes all of `buf` at `offset`.
    fn write(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// What was written is on the device.
    fn sync(&self) -> io::Result<()>;
    /// The open file whose lock (`flock`) takes savers in turn, across processes.
    fn file(&self) -> &File;
}

impl Device for File {
    fn read(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.read_exact_at(buf, offset)
    }
    fn write(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.write_all_at(buf, offset)
    }
    fn sync(&self) -> io::Result<()> {
        self.sync_data()
    }
    fn file(&self) -> &File {
        self
    }
}

/// How long a save waits for another one to finish (the console's and the page's are
/// children of their own; a save takes a second or two).
const LOCK_WAIT: Duration = Duration::from_secs(30);

pub struct Store<D: Device = File> {
    pub(crate) device: D,
    pub(crate) slot_len: u64,
    lock_wait: Duration,
}

/// What one slot holds.
enum Slot {
    Empty,
    Intact(Record),
    /// A record's start whose rest does not verify (a torn write, a damaged disk).
    Damaged,
}

impl Store<File> {
    /// Uses `device` (a partition or a file) of `len` bytes.
    pub fn new(device: File, len: u64) -> Store<File> {
        Store::on(device, len)
    }
}

impl<D: Device> Store<D> {
    pub fn on(device: D, len: u64) -> Store<D> {
        Store {
            device,
            slot_len: len / 2,
            lock_wait: LOCK_WAIT,
        }
    }

    /// Waits at most `wait` for another save (tests).
    pub fn with_lock_wait(mut self, wait: Duration) -> Store<D> {
        self.lock_wait = wait;
        self
    }

    fn read_slot(&self, index: u64) -> io::Result<Slot> {
        let mut header = [0u8; HEADER_LEN];
        let at = index * self.slot_len;
        match self.device.read(&mut header, at) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(Slot::Empty),
            Err(e) => return Err(e),
        }
        if &header[..8] != MAGIC {
            return Ok(if header.iter().all(|&b| b == 0) {
                Slot::Empty
            } else {
                Slot::Damaged
            });
        }
        // The length is checked before anything is allocated for it: a damaged header
        // may say anything.
        let len = u32::from_le_bytes([header[16], header[17], header[18], header[19]]) as usize;
        if len > crate::MAX_PAYLOAD || (HEADER_LEN + len) as u64 > self.slot_len {
            return Ok(Slot::Damaged);
        }
        let mut bytes = vec![0u8; HEADER_LEN + len];
        match self.device.read(&mut bytes, at) {
            Ok(()) => Ok(Record::decode(&bytes).map_or(Slot::Damaged, Slot::Intact)),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(Slot::Damaged),
            Err(e) => Err(e),
        }
    }

    /// The newest intact configuration, or `None` when nothing was ever saved (or after
    /// a factory reset). An error when the device cannot be read, or when something was
    /// saved but no slot holds it intact: "could not read" is never "nothing saved".
    pub fn load(&self) -> Result<Option<Vec<u8>>, Error> {
        let slots = [self.read_slot(0)?, self.read_slot(1)?];
        let newest = slots
            .iter()
            .filter_map(|s| match s {
                Slot::Intact(r) => Some(r),
                _ => None,
            })
            .max_by_key(|r| r.sequence);
        match newest {
            Some(r) => Ok(Some(r.payload.clone())),
            None if slots.iter().any(|s| matches!(s, Slot::Damaged)) => Err(Error::Damaged),
            None => Ok(None),
        }
    }

    /// The largest payload [`Store::save`] takes: a slot less its header and, in both
    /// slots alike, less the audit area at the device's end (which is slot 1's tail).
    pub fn max_payload(&self) -> usize {
        (self
            .slot_len
            .saturating_sub(crate::audit::area_len(2 * self.slot_len)) as usize)
            .saturating_sub(HEADER_LEN)
            .min(crate::MAX_PAYLOAD)
    }

    /// The device's lock, waited for up to `lock_wait`: one saver at a time.
    pub(crate) fn lock(&self) -> Result<nix::fcntl::Flock<File>, Error> {
        self.lock_for(self.lock_wait)
    }

    /// The device's lock, waited for up to `wait` (zero: [`Error::WouldBlock`] at once).
    pub(crate) fn lock_for(&self, wait: Duration) -> Result<nix::fcntl::Flock<File>, Error> {
        use nix::fcntl::{Flock, FlockArg};
        let started = Instant::now();
        loop {
            let file = self.device.file().try_clone()?;
            match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(lock) => return Ok(lock),
                Err((_, nix::errno::Errno::EWOULDBLOCK)) if wait.is_zero() => {
                    return Err(Error::WouldBlock)
                }
                Err((_, nix::errno::Errno::EWOULDBLOCK)) if started.elapsed() < wait => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
                    return Err(Error::Busy { waited: wait })
                }
                Err((_, e)) => return Err(Error::Io(e.into())),
            }
        }
    }

    /// Writes `bytes` at `at`, syncs them, and reads them back.
    pub(crate) fn write_checked(&self, bytes: &[u8], at: u64) -> Result<(), Error> {
        self.device.write(bytes, at)?;
        self.device.sync()?;
        let mut back = vec![0u8; bytes.len()];
        self.device.read(&mut back, at)?;
        if back != bytes {
            return Err(Error::ReadBack);
        }
        Ok(())
    }

    /// Writes `payload` over the older slot, syncs it to the device and reads it back;
    /// another saver waits meanwhile.
    pub fn save(&self, payload: &[u8]) -> Result<(), Error> {
        let max = self.max_payload();
        if payload.len() > max {
            return Err(Error::TooLarge {
                len: payload.len(),
                max,
            });
        }
        let _lock = self.lock()?;
        let sequence_of = |s: &Slot| match s {
            Slot::Intact(r) => Some(r.sequence),
            _ => None,
        };
        let (a, b) = (
            sequence_of(&self.read_slot(0)?),
            sequence_of(&self.read_slot(1)?),
        );
        let (target, sequence) = match (a, b) {
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
        self.write_checked(&bytes, target * self.slot_len)
    }

    /// Forgets every saved configuration: both slots are overwritten with zeros, whole
    /// (the password hash and VRRP secrets must not stay on a disk that is sold or sent
    /// back), so the board's factory configuration applies again. The audit area is
    /// slot 1's tail and goes with it: names and addresses leave with the secrets.
    pub fn erase(&self) -> Result<(), Error> {
        let _lock = self.lock()?;
        let zeros = vec![0u8; 64 * 1024];
        let mut at = 0;
        while at < 2 * self.slot_len {
            let n = (2 * self.slot_len - at).min(zeros.len() as u64) as usize;
            self.write_checked(&zeros[..n], at)?;
            at += n as u64;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
