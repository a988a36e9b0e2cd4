//! The set of HTTP status codes that count as a pass for one `url`.

use std::fmt;
use std::ops::RangeInclusive;

/// keepalived accepts status codes 100..=599 in `status_code` (check_http.h
/// HTTP_STATUS_CODE_MIN/MAX); a response outside that range never passes.
pub const MIN: u16 = 100;
pub const MAX: u16 = 599;

const WORDS: usize = (MAX - MIN + 1).div_ceil(64) as usize;

/// keepalived's `status_code 200-299 400-499 503`: a set of codes, one bit each.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusCodes {
    bits: [u64; WORDS],
}

impl StatusCodes {
    /// No code at all; add ranges with [`StatusCodes::insert`].
    pub const fn empty() -> Self {
        StatusCodes { bits: [0; WORDS] }
    }

    /// keepalived's default when a `url` names no `status_code`: 200-299
    /// (keepalived.conf(5), HTTP_GET `url`: "Default is 200-299").
    pub fn keepalived_default() -> Self {
        Self::from_ranges([200..=299]).expect("200-299 is in range")
    }

    /// The set of the given ranges (a single code is `200..=200`).
    pub fn from_ranges<I>(ranges: I) -> Result<Self, String>
    where
        I: IntoIterator<Item = RangeInclusive<u16>>,
    {
        let mut set = Self::empty();
        for range in ranges {
            set.insert(range)?;
        }
        Ok(set)
    }

    pub fn insert(&mut self, range: RangeInclusive<u16>) -> Result<(), String> {
        let (low, high) = (*range.start(), *range.end());
        if low > high || low < MIN || high > MAX {
            return Err(format!(
                "status code range {low}-{high} is outside {MIN}-{MAX}"
            ));
        }
        for code in range {
            let bit = usize::from(code - MIN);
            self.bits[bit / 64] |= 1 << (bit % 64);
        }
        Ok(())
    }

    pub fn contains(&self, code: u16) -> bool {
        if !(MIN..=MAX).contains(&code) {
            return false;
        }
        let bit = usize::from(code - MIN);
        self.bits[bit / 64] & (1 << (bit % 64)) != 0
    }

    pub fn is_empty(&self) -> bool {
        self.bits.iter().all(|w| *w == 0)
    }

    /// The set as maximal ranges, lowest first.
    pub fn ranges(&self) -> impl Iterator<Item = RangeInclusive<u16>> + '_ {
        let mut code = MIN;
        std::iter::from_fn(move || {
            while code <= MAX && !self.contains(code) {
                code += 1;
            }
            if code > MAX {
                return None;
            }
            let low = code;
            while code <= MAX && self.contains(code) {
                code += 1;
            }
            Some(low..=code - 1)
        })
    }
}

impl Default for StatusCodes {
    fn default() -> Self {
        Self::keepalived_default()
    }
}

/// The form keepalived's `status_code` takes: `200`, `200-299 503`.
impl fmt::Display for StatusCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for range in self.ranges() {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            if range.start() == range.end() {
                write!(f, "{}", range.start())?;
            } else {
                write!(f, "{}-{}", range.start(), range.end())?;
            }
        }
        if first {
            f.write_str("none")?;
        }
        Ok(())
    }
}

impl fmt::Debug for StatusCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StatusCodes({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_2xx() {
        let set = StatusCodes::default();
        assert!(set.contains(200));
        assert!(set.contains(299));
        assert!(!set.contains(199));
        assert!(!set.contains(300));
        assert_eq!(set.to_string(), "200-299");
    }

    #[test]
    fn ranges_and_single_codes_merge_in_display() {
        let set = StatusCodes::from_ranges([503..=503, 200..=204, 205..=206, 100..=100]).unwrap();
        assert_eq!(set.to_string(), "100 200-206 503");
        assert!(set.contains(100) && set.contains(206) && set.contains(503));
        assert!(!set.contains(207) && !set.contains(502));
    }

    #[test]
    fn out_of_range_codes_are_refused_and_never_contained() {
        assert!(StatusCodes::from_ranges([99..=200]).is_err());
        assert!(StatusCodes::from_ranges([599..=600]).is_err());
        // Reversed on purpose: an empty range is refused, not ignored.
        assert!(StatusCodes::from_ranges([RangeInclusive::new(300, 200)]).is_err());
        let all = StatusCodes::from_ranges([MIN..=MAX]).unwrap();
        assert!(all.contains(MAX) && !all.contains(600) && !all.contains(0));
        assert_eq!(all.to_string(), "100-599");
    }

    #[test]
    fn empty_set_says_none() {
        assert!(StatusCodes::empty().is_empty());
        assert_eq!(StatusCodes::empty().to_string(), "none");
    }
}
