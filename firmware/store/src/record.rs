//! One slot's bytes: a header with magic, sequence, length and CRC-32, then the payload.
//!
//! ```text
//!  0  magic "LVSFWCF1"   8 bytes
//!  8  sequence           u64 little-endian
//! 16  payload length     u32 little-endian
//! 20  crc32 of bytes 0..20 and of the payload
//! 24  payload
//! ```

pub const HEADER_LEN: usize = 24;
pub(crate) const MAGIC: &[u8; 8] = b"LVSFWCF1";
/// The largest configuration a slot takes: keepalived configurations of thousands of
/// real servers are a few hundred kilobytes.
pub const MAX_PAYLOAD: usize = 4 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub sequence: u64,
    pub payload: Vec<u8>,
}

fn checksum(header: &[u8], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(header);
    hasher.update(payload);
    hasher.finalize()
}

impl Record {
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(HEADER_LEN + self.payload.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&self.sequence.to_le_bytes());
        bytes.extend_from_slice(&(self.payload.len() as u32).to_le_bytes());
        let crc = checksum(&bytes, &self.payload);
        bytes.extend_from_slice(&crc.to_le_bytes());
        bytes.extend_from_slice(&self.payload);
        bytes
    }

    /// The record at the start of `bytes`, or `None` if there is no complete, intact one.
    pub fn decode(bytes: &[u8]) -> Option<Record> {
        let header = bytes.get(..HEADER_LEN)?;
        if &header[..8] != MAGIC {
            return None;
        }
        let sequence = u64::from_le_bytes(header[8..16].try_into().ok()?);
        let len = u32::from_le_bytes(header[16..20].try_into().ok()?) as usize;
        let crc = u32::from_le_bytes(header[20..24].try_into().ok()?);
        if len > MAX_PAYLOAD {
            return None;
        }
        let payload = bytes.get(HEADER_LEN..HEADER_LEN + len)?;
        if checksum(&header[..20], payload) != crc {
            return None;
        }
        Some(Record {
            sequence,
            payload: payload.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_layout() {
        let r = Record {
            sequence: 7,
            payload: b"{\"hostname\":\"lb1\"}".to_vec(),
        };
        let bytes = r.encode();
        assert_eq!(&bytes[..8], b"LVSFWCF1");
        assert_eq!(bytes[8], 7);
        assert_eq!(bytes[16], 18);
        assert_eq!(bytes.len(), HEADER_LEN + 18);
        assert_eq!(Record::decode(&bytes), Some(r));
    }

    #[test]
    fn any_damage_makes_it_unreadable() {
        let bytes = Record {
            sequence: 1,
            payload: vec![0x5a; 100],
        }
        .encode();
        for at in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x01;
            assert_eq!(
                Record::decode(&damaged),
                None,
                "a flipped bit at byte {at} went unnoticed"
            );
        }
        for len in 0..bytes.len() {
            assert_eq!(
                Record::decode(&bytes[..len]),
                None,
                "a record cut at {len} bytes was accepted"
            );
        }
        assert_eq!(Record::decode(&[0u8; 64]), None);
    }
}
