//! How values that JSON has no type for are written in the native JSON: durations as
//! seconds (a number, decimals allowed, as keepalived writes them), prefixes as
//! `ADDR/LEN` strings, MD5 digests as 32 hex digits.

use std::time::Duration;

use serde::{de, Deserialize, Deserializer, Serializer};

use crate::IpPrefix;

/// The longest duration a configuration may hold (a year): keeps the conversion from a
/// JSON number exact to the microsecond and far away from overflow.
pub const MAX_SECONDS: f64 = 31_536_000.0;

/// Seconds as a number, microseconds exact (keepalived's smallest unit is a centisecond).
pub fn seconds_to_duration(seconds: f64) -> Option<Duration> {
    (seconds.is_finite() && (0.0..=MAX_SECONDS).contains(&seconds))
        .then(|| Duration::from_micros((seconds * 1e6).round() as u64))
}

pub fn duration_to_seconds(d: Duration) -> f64 {
    d.as_micros() as f64 / 1e6
}

/// `#[serde(with = "seconds")]` for a [`Duration`].
pub mod seconds {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(duration_to_seconds(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        seconds_to_duration(v).ok_or_else(|| {
            de::Error::custom(format!(
                "{v} is not a number of seconds from 0 to {MAX_SECONDS}"
            ))
        })
    }
}

/// `#[serde(with = "opt_seconds")]` for an `Option<Duration>`.
pub mod opt_seconds {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&duration_to_seconds(*d)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        match Option::<f64>::deserialize(d)? {
            None => Ok(None),
            Some(v) => seconds_to_duration(v).map(Some).ok_or_else(|| {
                de::Error::custom(format!(
                    "{v} is not a number of seconds from 0 to {MAX_SECONDS}"
                ))
            }),
        }
    }
}

/// `#[serde(with = "opt_digest")]`: an MD5 digest as 32 hex digits.
pub mod opt_digest {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Option<[u8; 16]>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&hex(d)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<[u8; 16]>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(text) => hex16(&text).map(Some).ok_or_else(|| {
                de::Error::custom(format!("\"{text}\" is not 32 hex digits (an MD5 digest)"))
            }),
        }
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn hex16(text: &str) -> Option<[u8; 16]> {
    if text.len() != 32 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

impl serde::Serialize for IpPrefix {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IpPrefix {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_exact_to_the_microsecond() {
        for micros in [0, 1, 10_000, 100_000, 3_000_000, 86_400_000_000] {
            let d = Duration::from_micros(micros);
            assert_eq!(seconds_to_duration(duration_to_seconds(d)), Some(d));
        }
        assert_eq!(seconds_to_duration(-1.0), None);
        assert_eq!(seconds_to_duration(f64::NAN), None);
        assert_eq!(seconds_to_duration(MAX_SECONDS + 1.0), None);
    }

    #[test]
    fn hex_both_ways() {
        let d = hex16("9b3a0c85a887a256d6939da88aabd8cd").unwrap();
        assert_eq!(hex(&d), "9b3a0c85a887a256d6939da88aabd8cd");
        assert_eq!(hex16("9b3a"), None);
        assert_eq!(hex16("zz3a0c85a887a256d6939da88aabd8cd"), None);
    }
}
