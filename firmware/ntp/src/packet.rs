//! The NTP packet (RFC 5905 §7.3) as a client needs it: the request it sends and the
//! checks an answer must pass before its timestamps are believed (RFC 4330 §5, RFC 5905
//! §8), then offset and delay from the four timestamps.
//!
//! The request carries no clock reading: its transmit timestamp is a random nonce that
//! the server echoes as the origin timestamp (what chrony and ntpd do, and what the
//! NTP data-minimisation draft asks for). An answer whose origin is not our nonce is
//! not ours (spoofed, or a late duplicate) and is dropped. The real send time (T1)
//! stays with the caller.

use std::fmt;

/// Seconds from 1900-01-01 (NTP's era 0) to 1970-01-01 (Unix).
const UNIX_EPOCH_IN_NTP: u64 = 2_208_988_800;
/// Every NTP packet this client sends or reads (no extension fields, no MAC).
pub const PACKET_LEN: usize = 48;
/// The server mode of an answer.
const MODE_SERVER: u8 = 4;
const MODE_CLIENT: u8 = 3;
const VERSION: u8 = 4;

/// An NTP timestamp: seconds since 1900 modulo 2^32 in the high half, the fraction in
/// the low half. Differences of two are right across an era change as long as the two
/// are within 68 years (RFC 5905 §6), which is why offsets are computed from
/// differences only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NtpTime(pub u64);

impl NtpTime {
    /// From a Unix time (seconds, nanoseconds).
    pub fn from_unix(secs: i64, nanos: u32) -> NtpTime {
        let secs = (secs as i128 + UNIX_EPOCH_IN_NTP as i128).rem_euclid(1 << 32) as u64;
        let frac = ((nanos.min(999_999_999) as u64) << 32) / 1_000_000_000;
        NtpTime(secs << 32 | frac)
    }

    /// As Unix time (seconds, nanoseconds). The era is guessed: a time before 1968 (the
    /// high bit clear) is taken as era 1 (from 2036 on).
    pub fn to_unix(self) -> (i64, u32) {
        let mut secs = (self.0 >> 32) as i64;
        if secs < 1 << 31 {
            secs += 1 << 32;
        }
        let nanos = ((self.0 & 0xffff_ffff) * 1_000_000_000) >> 32;
        (secs - UNIX_EPOCH_IN_NTP as i64, nanos as u32)
    }

    /// `self - earlier` in nanoseconds (positive when self is later), within ±68 years.
    pub fn since(self, earlier: NtpTime) -> i64 {
        let fixed = self.0.wrapping_sub(earlier.0) as i64 as i128;
        ((fixed * 1_000_000_000) >> 32) as i64
    }

    /// This time moved by `nanos`.
    pub fn plus(self, nanos: i64) -> NtpTime {
        let fixed = ((nanos as i128) << 32) / 1_000_000_000;
        NtpTime(self.0.wrapping_add(fixed as i64 as u64))
    }
}

/// Why an answer is not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reject {
    /// Fewer than 48 bytes.
    Short(usize),
    /// Not a server's answer (the mode it carries).
    NotServer(u8),
    /// A version this client does not read.
    Version(u8),
    /// The origin timestamp is not the nonce we sent: spoofed, or an old duplicate.
    NotOurs,
    /// Stratum 0: the server tells us to go away or slow down (RFC 5905 §7.4), with its
    /// four-letter code (`RATE`, `DENY`, `RSTR`, ...).
    KissOfDeath(String),
    /// Leap indicator 3: the server's own clock is not synchronised.
    Alarm,
    /// Stratum 16 or more: unsynchronised.
    Stratum(u8),
    /// A zero receive or transmit timestamp: the server did not fill it in.
    ZeroTimestamp,
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reject::Short(n) => write!(f, "answer of {n} bytes, {PACKET_LEN} expected"),
            Reject::NotServer(m) => write!(f, "answer in mode {m}, not a server's (4)"),
            Reject::Version(v) => write!(f, "answer of NTP version {v}"),
            Reject::NotOurs => write!(
                f,
                "answer whose origin timestamp is not what we sent (spoofed or late)"
            ),
            Reject::KissOfDeath(code) => write!(f, "kiss-o'-death {code}"),
            Reject::Alarm => write!(f, "the server's clock is not synchronised (leap 3)"),
            Reject::Stratum(s) => write!(f, "the server is unsynchronised (stratum {s})"),
            Reject::ZeroTimestamp => write!(f, "answer with a zero timestamp"),
        }
    }
}

/// What one good answer says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// How far our clock is behind the server's, in nanoseconds (θ, RFC 5905 §8): add
    /// it to the clock.
    pub offset_ns: i64,
    /// The round trip minus the server's own time (δ), never below 0.
    pub delay_ns: i64,
    pub stratum: u8,
    /// The leap indicator (0: none, 1: a leap second is added at the end of the day,
    /// 2: one is taken away).
    pub leap: u8,
}

/// The request: version 4, client mode, everything zero but the transmit timestamp,
/// which is `nonce`.
pub fn request(nonce: NtpTime) -> [u8; PACKET_LEN] {
    let mut p = [0u8; PACKET_LEN];
    p[0] = VERSION << 3 | MODE_CLIENT;
    p[40..48].copy_from_slice(&nonce.0.to_be_bytes());
    p
}

fn timestamp(p: &[u8], at: usize) -> NtpTime {
    let mut b = [0u8; 8];
    b.copy_from_slice(&p[at..at + 8]);
    NtpTime(u64::from_be_bytes(b))
}

/// Checks the answer `p` to the request that carried `nonce`, sent at our time `t1`
/// and received at our time `t4`, and computes offset and delay.
pub fn answer(p: &[u8], nonce: NtpTime, t1: NtpTime, t4: NtpTime) -> Result<Sample, Reject> {
    if p.len() < PACKET_LEN {
        return Err(Reject::Short(p.len()));
    }
    let leap = p[0] >> 6;
    let version = (p[0] >> 3) & 7;
    let mode = p[0] & 7;
    let stratum = p[1];
    if mode != MODE_SERVER {
        return Err(Reject::NotServer(mode));
    }
    if !(1..=4).contains(&version) {
        return Err(Reject::Version(version));
    }
    // Before anything the answer says is believed: is it the answer to our request?
    if timestamp(p, 24) != nonce {
        return Err(Reject::NotOurs);
    }
    if stratum == 0 {
        let code = p[12..16]
            .iter()
            .map(|&b| if b.is_ascii_graphic() { b as char } else { '?' })
            .collect();
        return Err(Reject::KissOfDeath(code));
    }
    if leap == 3 {
        return Err(Reject::Alarm);
    }
    if stratum > 15 {
        return Err(Reject::Stratum(stratum));
    }
    let t2 = timestamp(p, 32);
    let t3 = timestamp(p, 40);
    if t2.0 == 0 || t3.0 == 0 {
        return Err(Reject::ZeroTimestamp);
    }
    // RFC 5905 §8: θ = ((T2 − T1) + (T3 − T4)) / 2, δ = (T4 − T1) − (T3 − T2); in i128 so
    // that a year's offset in nanoseconds cannot overflow the sum.
    let there = t2.since(t1) as i128;
    let back = t3.since(t4) as i128;
    let offset = (there + back) / 2;
    let delay = t4.since(t1) as i128 - t3.since(t2) as i128;
    Ok(Sample {
        offset_ns: offset as i64,
        delay_ns: delay.max(0) as i64,
        stratum,
        leap,
    })
}

#[cfg(test)]
mod tests;
