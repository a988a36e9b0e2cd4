//! A netlink attribute tree: enough structure to build IPVS requests and read replies.

use netlink_packet_core::{DecodeError, Emitable, Nla, NLA_F_NESTED, NLA_F_NET_BYTEORDER};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    U8(u8),
    U16(u16),
    /// Network byte order, for ports.
    Be16(u16),
    U32(u32),
    /// Network byte order, for IPv4 netmasks.
    Be32(u32),
    Bytes(Vec<u8>),
    /// A NUL-terminated string.
    Str(String),
    Nested(Vec<Attr>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    pub kind: u16,
    pub value: Value,
}

impl Attr {
    pub fn new(kind: u16, value: Value) -> Attr {
        Attr { kind, value }
    }
}

impl Nla for Attr {
    fn value_len(&self) -> usize {
        match &self.value {
            Value::U8(_) => 1,
            Value::U16(_) | Value::Be16(_) => 2,
            Value::U32(_) | Value::Be32(_) => 4,
            Value::Bytes(b) => b.len(),
            Value::Str(s) => s.len() + 1,
            Value::Nested(attrs) => attrs.as_slice().buffer_len(),
        }
    }

    fn kind(&self) -> u16 {
        match self.value {
            Value::Nested(_) => self.kind | NLA_F_NESTED,
            _ => self.kind,
        }
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        match &self.value {
            Value::U8(v) => buffer[0] = *v,
            Value::U16(v) => buffer[..2].copy_from_slice(&v.to_ne_bytes()),
            Value::Be16(v) => buffer[..2].copy_from_slice(&v.to_be_bytes()),
            Value::U32(v) => buffer[..4].copy_from_slice(&v.to_ne_bytes()),
            Value::Be32(v) => buffer[..4].copy_from_slice(&v.to_be_bytes()),
            Value::Bytes(b) => buffer[..b.len()].copy_from_slice(b),
            Value::Str(s) => {
                buffer[..s.len()].copy_from_slice(s.as_bytes());
                buffer[s.len()] = 0;
            }
            Value::Nested(attrs) => attrs.as_slice().emit(buffer),
        }
    }
}

/// The attributes in `buffer`, as (kind with the nested and byte-order flags cleared,
/// value bytes). A malformed header ends the walk with an error.
pub fn iter(buffer: &[u8]) -> impl Iterator<Item = Result<(u16, &[u8]), DecodeError>> {
    let mut rest = buffer;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let header = rest.get(..4).map(|h| {
            (
                usize::from(u16::from_ne_bytes([h[0], h[1]])),
                u16::from_ne_bytes([h[2], h[3]]),
            )
        });
        match header {
            Some((len, kind)) if (4..=rest.len()).contains(&len) => {
                let value = &rest[4..len];
                rest = rest.get(len.next_multiple_of(4)..).unwrap_or(&[]);
                Some(Ok((kind & !(NLA_F_NESTED | NLA_F_NET_BYTEORDER), value)))
            }
            _ => {
                let err = format!("malformed attribute in {} bytes", rest.len());
                rest = &[];
                Some(Err(DecodeError::from(err)))
            }
        }
    })
}

fn sized<const N: usize>(value: &[u8], what: &str) -> Result<[u8; N], DecodeError> {
    value
        .get(..N)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| DecodeError::from(format!("{what}: {} bytes, expected {N}", value.len())))
}

pub fn u16_of(value: &[u8], what: &str) -> Result<u16, DecodeError> {
    Ok(u16::from_ne_bytes(sized(value, what)?))
}

pub fn be16_of(value: &[u8], what: &str) -> Result<u16, DecodeError> {
    Ok(u16::from_be_bytes(sized(value, what)?))
}

pub fn u32_of(value: &[u8], what: &str) -> Result<u32, DecodeError> {
    Ok(u32::from_ne_bytes(sized(value, what)?))
}

pub fn u64_of(value: &[u8], what: &str) -> Result<u64, DecodeError> {
    Ok(u64::from_ne_bytes(sized(value, what)?))
}

pub fn string_of(value: &[u8]) -> String {
    let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
    String::from_utf8_lossy(&value[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(attrs: &[Attr]) -> Vec<u8> {
        let mut buf = vec![0xaa; attrs.buffer_len()];
        attrs.emit(&mut buf);
        buf
    }

    #[test]
    fn scalars_are_laid_out_with_header_and_padding() {
        let b = bytes(&[Attr::new(4, Value::Be16(80)), Attr::new(1, Value::U16(2))]);
        assert_eq!(
            b,
            [
                6, 0, 4, 0, 0, 80, 0, 0, // len 6, kind 4, port 80 big-endian, 2 bytes padding
                6, 0, 1, 0, 2, 0, 0, 0, // len 6, kind 1, AF_INET native
            ]
        );
    }

    #[test]
    fn strings_carry_their_nul_and_nested_sets_the_flag() {
        let b = bytes(&[Attr::new(
            1,
            Value::Nested(vec![Attr::new(6, Value::Str("rr".into()))]),
        )]);
        assert_eq!(b, [12, 0, 1, 0x80, 7, 0, 6, 0, b'r', b'r', 0, 0]);
    }

    #[test]
    fn reads_back_what_it_wrote() {
        let b = bytes(&[
            Attr::new(8, Value::U32(300)),
            Attr::new(6, Value::Str("wlc".into())),
        ]);
        let read: Vec<(u16, Vec<u8>)> = iter(&b)
            .map(|r| r.map(|(k, v)| (k, v.to_vec())))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(read[0].0, 8);
        assert_eq!(u32_of(&read[0].1, "timeout").unwrap(), 300);
        assert_eq!(string_of(&read[1].1), "wlc");
    }

    #[test]
    fn short_values_are_errors_not_panics() {
        assert!(u32_of(&[1, 2], "weight")
            .unwrap_err()
            .to_string()
            .contains("weight: 2 bytes, expected 4"));
        assert!(iter(&[8, 0, 1]).next().unwrap().is_err());
    }
}
