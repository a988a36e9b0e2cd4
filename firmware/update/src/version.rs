//! An image's version and the order updates are judged by.
//!
//! `MAJOR.MINOR.PATCH-BUILD[-LABEL]`, for example `0.1.0-412-g633566c` or
//! `0.2.0-1-lab-v2`:
//!
//! - `MAJOR.MINOR.PATCH`: the release, the workspace version in Cargo.toml.
//! - `BUILD`: which build of that release; a number that grows along one line of
//!   history (buildroot/board/lvsfw/version uses the commit count).
//! - `LABEL`: which build it is, for a person (the commit, `-dirty`, `lab-v2`).
//!
//! Versions compare by release, then build, number by number (so 0.10.0 is newer than
//! 0.9.9). The label has no order: two versions that differ only in their label are the
//! same version, and neither is older than the other.

use std::cmp::Ordering;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    release: [u32; 3],
    build: u64,
    text: String,
}

impl Version {
    /// What is wrong names the part: `"0.1.0-abc": the build "abc" is not a number`.
    pub fn parse(text: &str) -> Result<Version, String> {
        let bad = |why: &str| {
            Err(format!(
                "version \"{text}\": {why} (want MAJOR.MINOR.PATCH-BUILD[-LABEL], e.g. 0.1.0-412-g633566c)"
            ))
        };
        if text.is_empty()
            || text.len() > 64
            || !text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b))
        {
            return bad("use 1 to 64 of A-Z a-z 0-9 . _ + -");
        }
        let mut parts = text.splitn(3, '-');
        let release_text = parts.next().unwrap_or_default();
        let Some(build_text) = parts.next() else {
            return bad("no build number after the release");
        };
        let label = parts.next();
        let numbers: Vec<&str> = release_text.split('.').collect();
        let mut release = [0u32; 3];
        if numbers.len() != 3 {
            return bad(&format!(
                "the release \"{release_text}\" is not three numbers"
            ));
        }
        for (slot, n) in release.iter_mut().zip(&numbers) {
            match number(n) {
                Some(v) => *slot = v,
                None => return bad(&format!("\"{n}\" in the release is not a number")),
            }
        }
        let Some(build) = number(build_text) else {
            return bad(&format!("the build \"{build_text}\" is not a number"));
        };
        if label == Some("") {
            return bad("an empty label after the build");
        }
        Ok(Version {
            release,
            build,
            text: text.to_string(),
        })
    }

    /// Release, then build; the label does not count.
    pub fn order(&self, other: &Version) -> Ordering {
        (self.release, self.build).cmp(&(other.release, other.build))
    }

    pub fn is_older_than(&self, other: &Version) -> bool {
        self.order(other) == Ordering::Less
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Decimal digits only (no sign, no spaces), as `u32::from_str` alone would not insist.
fn number<T: std::str::FromStr>(text: &str) -> Option<T> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap()
    }

    #[test]
    fn release_then_build_number_by_number_and_the_label_does_not_count() {
        let ordered = [
            "0.1.0-7",
            "0.1.0-12-g633566c",
            "0.1.0-100-gabc",
            "0.1.1-1",
            "0.9.9-1",
            "0.10.0-0-lab",
            "1.0.0-0",
        ];
        for pair in ordered.windows(2) {
            assert!(v(pair[0]).is_older_than(&v(pair[1])), "{pair:?}");
            assert!(!v(pair[1]).is_older_than(&v(pair[0])), "{pair:?}");
        }
        let a = v("0.1.0-12-g633566c");
        let b = v("0.1.0-12-g633566c-dirty");
        assert_eq!(a.order(&b), Ordering::Equal);
        assert!(!a.is_older_than(&b) && !b.is_older_than(&a));
        assert_eq!(b.to_string(), "0.1.0-12-g633566c-dirty");
    }

    #[test]
    fn a_version_without_order_says_which_part() {
        let err = |text: &str| Version::parse(text).unwrap_err();
        assert_eq!(
            err("0.1.0-633566c"),
            "version \"0.1.0-633566c\": the build \"633566c\" is not a number \
             (want MAJOR.MINOR.PATCH-BUILD[-LABEL], e.g. 0.1.0-412-g633566c)"
        );
        assert!(err("lab-v2").contains("the release \"lab\" is not three numbers"));
        assert!(err("0.1.0").contains("no build number after the release"));
        assert!(err("0.x.0-1").contains("\"x\" in the release is not a number"));
        assert!(err("0.1.0-+1").contains("the build \"+1\" is not a number"));
        assert!(err("0.1.0-1-").contains("an empty label"));
        assert!(err("0.1.0-1 x").contains("use 1 to 64 of"));
        assert!(err("0.1.0-99999999999999999999").contains("is not a number"));
    }
}
