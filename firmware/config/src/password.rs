//! The admin password, stored only as a salted PBKDF2-HMAC-SHA256 hash.
//!
//! Written as `$pbkdf2-sha256$i=ITERATIONS$SALT$HASH` (salt and hash in hex), in the
//! spirit of the PHC string format. The hash comes from ring, which the firmware already
//! links for SSL_GET checks; ring's `verify` compares in constant time. This crate does
//! no I/O, so the caller brings the random salt.

use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;

use ring::pbkdf2;

use crate::units::hex;

const ALGORITHM: pbkdf2::Algorithm = pbkdf2::PBKDF2_HMAC_SHA256;
const PREFIX: &str = "$pbkdf2-sha256$i=";
/// For new hashes: OWASP's 2023 figure for PBKDF2-HMAC-SHA256.
pub const DEFAULT_ITERATIONS: u32 = 600_000;
/// A stored hash outside these is refused: too few is weak, too many lets a configuration
/// make every login take minutes.
pub const MIN_ITERATIONS: u32 = 1_000;
pub const MAX_ITERATIONS: u32 = 10_000_000;
pub const MIN_SALT_LEN: usize = 8;
pub const MAX_SALT_LEN: usize = 64;
const HASH_LEN: usize = 32;

/// A new admin password's length, in characters: the one rule of the console, the
/// page and the API.
pub const LEN: std::ops::RangeInclusive<usize> = 8..=128;

/// Why a new password is refused ([`check_new`]); each front end words it its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Fewer than `LEN.start()` characters (how many were given).
    TooShort(usize),
    /// More than `LEN.end()` characters.
    TooLong(usize),
    /// A control character (a pasted newline, an escape) is never part of a password.
    Control,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::TooShort(len) | Refused::TooLong(len) => write!(
                f,
                "a password has {} to {} characters ({len} given)",
                LEN.start(),
                LEN.end()
            ),
            Refused::Control => f.write_str("a password holds no control characters"),
        }
    }
}

/// Length and characters of a new password: the same rule everywhere.
pub fn check_new(password: &str) -> Result<(), Refused> {
    let len = password.chars().count();
    if len < *LEN.start() {
        return Err(Refused::TooShort(len));
    }
    if len > *LEN.end() {
        return Err(Refused::TooLong(len));
    }
    if password.chars().any(char::is_control) {
        return Err(Refused::Control);
    }
    Ok(())
}

#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash {
    iterations: NonZeroU32,
    salt: Vec<u8>,
    hash: [u8; HASH_LEN],
}

impl PasswordHash {
    /// Hashes `password` with `salt` (at least 8 random bytes; 16 is usual).
    pub fn new(password: &str, salt: &[u8], iterations: u32) -> Result<PasswordHash, String> {
        check_parameters(iterations, salt.len())?;
        let iterations = NonZeroU32::new(iterations).ok_or("0 iterations")?;
        let mut hash = [0u8; HASH_LEN];
        pbkdf2::derive(ALGORITHM, iterations, salt, password.as_bytes(), &mut hash);
        Ok(PasswordHash {
            iterations,
            salt: salt.to_vec(),
            hash,
        })
    }

    pub fn verify(&self, password: &str) -> bool {
        pbkdf2::verify(
            ALGORITHM,
            self.iterations,
            &self.salt,
            password.as_bytes(),
            &self.hash,
        )
        .is_ok()
    }
}

fn check_parameters(iterations: u32, salt_len: usize) -> Result<(), String> {
    if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
        return Err(format!(
            "{iterations} iterations is not from {MIN_ITERATIONS} to {MAX_ITERATIONS}"
        ));
    }
    if !(MIN_SALT_LEN..=MAX_SALT_LEN).contains(&salt_len) {
        return Err(format!(
            "a salt of {salt_len} bytes is not from {MIN_SALT_LEN} to {MAX_SALT_LEN}"
        ));
    }
    Ok(())
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

impl FromStr for PasswordHash {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let expected = || {
            format!(
                "not a password hash (expected {PREFIX}ITERATIONS$SALT$HASH, salt and hash in hex)"
            )
        };
        let rest = text.strip_prefix(PREFIX).ok_or_else(expected)?;
        let mut parts = rest.split('$');
        let (Some(iterations), Some(salt), Some(hash), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(expected());
        };
        let iterations: u32 = iterations.parse().map_err(|_| expected())?;
        let salt = unhex(salt).ok_or_else(expected)?;
        check_parameters(iterations, salt.len())?;
        let hash: [u8; HASH_LEN] = unhex(hash)
            .and_then(|h| h.try_into().ok())
            .ok_or_else(|| format!("the hash is not {HASH_LEN} bytes in hex"))?;
        Ok(PasswordHash {
            iterations: NonZeroU32::new(iterations).ok_or_else(expected)?,
            salt,
            hash,
        })
    }
}

impl fmt::Display for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PREFIX}{}${}${}",
            self.iterations,
            hex(&self.salt),
            hex(&self.hash)
        )
    }
}

/// Never prints the hash itself into logs.
impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PasswordHash(pbkdf2-sha256, {} iterations)",
            self.iterations
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SALT: &[u8] = b"0123456789abcdef";

    #[test]
    fn verifies_the_right_password_only() {
        let h = PasswordHash::new("s3cret", SALT, MIN_ITERATIONS).unwrap();
        assert!(h.verify("s3cret"));
        assert!(!h.verify("s3cret "));
        assert!(!h.verify(""));
    }

    #[test]
    fn text_round_trip_and_a_known_vector() {
        // An independent implementation's answer, Python's:
        // hashlib.pbkdf2_hmac('sha256', b'password', b'saltsalt', 1000).hex()
        let h = PasswordHash::new("password", b"saltsalt", 1000).unwrap();
        assert_eq!(
            h.to_string(),
            "$pbkdf2-sha256$i=1000$73616c7473616c74$135f7a66144fcf0fb003ce048f31f024ed5cbff30525d3ba0bfb3199479362a6"
        );
        assert_eq!(h.to_string().parse::<PasswordHash>().unwrap(), h);
    }

    #[test]
    fn bad_hashes_say_what_is_wrong() {
        assert!("plain"
            .parse::<PasswordHash>()
            .unwrap_err()
            .starts_with("not a password hash"));
        assert_eq!(
            "$pbkdf2-sha256$i=10$73616c7473616c74$00"
                .parse::<PasswordHash>()
                .unwrap_err(),
            "10 iterations is not from 1000 to 10000000"
        );
        assert_eq!(
            "$pbkdf2-sha256$i=1000$7361$00"
                .parse::<PasswordHash>()
                .unwrap_err(),
            "a salt of 2 bytes is not from 8 to 64"
        );
        assert_eq!(
            "$pbkdf2-sha256$i=1000$73616c7473616c74$00"
                .parse::<PasswordHash>()
                .unwrap_err(),
            "the hash is not 32 bytes in hex"
        );
    }

    #[test]
    fn debug_does_not_show_the_hash() {
        let h = PasswordHash::new("x", SALT, MIN_ITERATIONS).unwrap();
        assert_eq!(
            format!("{h:?}"),
            "PasswordHash(pbkdf2-sha256, 1000 iterations)"
        );
    }
}
