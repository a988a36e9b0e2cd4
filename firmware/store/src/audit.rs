//! The audit trail's persisted ring: the last [`AUDIT_LEN`] bytes of the device, cut
//! into [`ENTRY_LEN`]-byte entries, so that the last few hundred audit lines survive a
//! reboot and an update.
//!
//! The slots keep their offsets (0 and len/2, as on every box in the field); the area
//! is the tail of slot 1, and [`super::Store::save`] refuses a record that would reach
//! into it (in either slot, so both slots take the same largest configuration).
//!
//! ```text
//! entry (ENTRY_LEN bytes, one disk sector: a torn write damages this entry only)
//!  0  magic "LVSFWAU1"   8 bytes
//!  8  sequence           u64 little-endian (1, 2, ...; entry n lives at index n % count)
//! 16  text length        u16 little-endian
//! 18  crc32 of bytes 0..18 and of the text
//! 22  text (UTF-8), then zeros
//! ```
//!
//! An append reads the whole area (128 KiB on the 2 MiB partition) to find the newest
//! sequence, writes the next entry over the oldest, and syncs. A torn write loses the
//! entry being written and the oldest one it replaced, nothing else.

pub const ENTRY_LEN: usize = 512;
const ENTRY_HEADER: usize = 22;
/// The longest text an entry keeps; a longer one is cut (at a character boundary).
pub const MAX_TEXT: usize = ENTRY_LEN - ENTRY_HEADER;
pub(crate) const MAGIC: &[u8; 8] = b"LVSFWAU1";
/// The audit area on a device of the image's size (2 MiB): 256 entries.
pub const AUDIT_LEN: u64 = 128 << 10;

/// The audit area's length on a device of `len` bytes: [`AUDIT_LEN`], or an eighth of
/// a smaller device, in whole entries.
pub fn area_len(len: u64) -> u64 {
    let len = AUDIT_LEN.min(len / 8);
    len - len % ENTRY_LEN as u64
}

/// One persisted audit line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub sequence: u64,
    pub text: String,
}

fn checksum(header: &[u8], text: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(header);
    hasher.update(text);
    hasher.finalize()
}

/// `text` cut to at most `max` bytes at a character boundary.
pub fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl Entry {
    /// The entry's [`ENTRY_LEN`] bytes (the text cut to [`MAX_TEXT`]).
    pub fn encode(&self) -> [u8; ENTRY_LEN] {
        let text = cut(&self.text, MAX_TEXT).as_bytes();
        let mut bytes = [0u8; ENTRY_LEN];
        bytes[..8].copy_from_slice(MAGIC);
        bytes[8..16].copy_from_slice(&self.sequence.to_le_bytes());
        bytes[16..18].copy_from_slice(&(text.len() as u16).to_le_bytes());
        let crc = checksum(&bytes[..18], text);
        bytes[18..22].copy_from_slice(&crc.to_le_bytes());
        bytes[ENTRY_HEADER..ENTRY_HEADER + text.len()].copy_from_slice(text);
        bytes
    }

    /// The intact entry in `bytes`, or `None` (never written, torn, damaged).
    pub fn decode(bytes: &[u8]) -> Option<Entry> {
        let header = bytes.get(..ENTRY_HEADER)?;
        if &header[..8] != MAGIC {
            return None;
        }
        let sequence = u64::from_le_bytes(header[8..16].try_into().ok()?);
        let len = u16::from_le_bytes(header[16..18].try_into().ok()?) as usize;
        let crc = u32::from_le_bytes(header[18..22].try_into().ok()?);
        if len > MAX_TEXT || sequence == 0 {
            return None;
        }
        let text = bytes.get(ENTRY_HEADER..ENTRY_HEADER + len)?;
        if checksum(&header[..18], text) != crc {
            return None;
        }
        Some(Entry {
            sequence,
            text: String::from_utf8(text.to_vec()).ok()?,
        })
    }
}

/// The intact entries of an area's bytes, oldest first.
pub fn entries(area: &[u8]) -> Vec<Entry> {
    let mut found: Vec<Entry> = area.chunks(ENTRY_LEN).filter_map(Entry::decode).collect();
    found.sort_by_key(|e| e.sequence);
    found
}

/// Where the next entry goes in an area of `count` entries holding `existing`: its
/// index and sequence.
pub fn next_place(existing: &[Entry], count: u64) -> (u64, u64) {
    let sequence = existing.iter().map(|e| e.sequence).max().unwrap_or(0) + 1;
    (sequence % count, sequence)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_round_trips_and_any_damage_is_seen() {
        let e = Entry {
            sequence: 42,
            text: "console: config save (saved as revision 3)".into(),
        };
        let bytes = e.encode();
        assert_eq!(Entry::decode(&bytes), Some(e.clone()));
        for at in 0..ENTRY_HEADER + e.text.len() {
            let mut damaged = bytes;
            damaged[at] ^= 0x40;
            assert_eq!(Entry::decode(&damaged), None, "byte {at}");
        }
        assert_eq!(Entry::decode(&[0u8; ENTRY_LEN]), None);
    }

    #[test]
    fn a_long_text_is_cut_at_a_character() {
        let e = Entry {
            sequence: 1,
            text: "é".repeat(400),
        };
        let back = Entry::decode(&e.encode()).unwrap();
        assert!(back.text.len() <= MAX_TEXT && back.text.len() >= MAX_TEXT - 1);
        assert!(back.text.chars().all(|c| c == 'é'));
    }

    #[test]
    fn the_area_is_whole_entries_and_bounded() {
        assert_eq!(area_len(2 << 20), AUDIT_LEN);
        assert_eq!(area_len(64 << 10), 8 << 10);
        assert_eq!(area_len(100_000) % ENTRY_LEN as u64, 0);
    }

    #[test]
    fn entries_wrap_over_the_oldest() {
        let count = 4u64;
        let mut area = vec![0u8; count as usize * ENTRY_LEN];
        for n in 1..=10u64 {
            let (index, sequence) = next_place(&entries(&area), count);
            assert_eq!(sequence, n);
            let at = index as usize * ENTRY_LEN;
            area[at..at + ENTRY_LEN].copy_from_slice(
                &Entry {
                    sequence,
                    text: format!("line {n}"),
                }
                .encode(),
            );
        }
        let texts: Vec<String> = entries(&area).into_iter().map(|e| e.text).collect();
        assert_eq!(texts, ["line 7", "line 8", "line 9", "line 10"]);
    }
}
