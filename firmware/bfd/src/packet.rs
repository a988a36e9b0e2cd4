//! The BFD control packet, RFC 5880 §4.1, without authentication:
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! |Vers |  Diag   |Sta|P|F|C|A|D|M|  Detect Mult  |    Length     |
//! |                       My Discriminator                        |
//! |                      Your Discriminator                       |
//! |                    Desired Min TX Interval                    |
//! |                   Required Min RX Interval                    |
//! |                 Required Min Echo RX Interval                 |
//! ```
//!
//! [`Control::parse`] applies the checks of §6.8.6 that need no session (the rest, the
//! discriminator lookup and the session's own state, are the session's); a packet that
//! fails one is a [`Drop`] naming the rule, counted by the session.

use std::fmt;

/// The length of a control packet without authentication (RFC 5880 §4.1).
pub const LEN: usize = 24;
/// The protocol version (RFC 5880 §4.1).
pub const VERSION: u8 = 1;

/// The session states as they go on the wire (RFC 5880 §4.1, "Sta").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    AdminDown = 0,
    Down = 1,
    Init = 2,
    Up = 3,
}

impl State {
    fn from_bits(b: u8) -> State {
        match b & 3 {
            0 => State::AdminDown,
            1 => State::Down,
            2 => State::Init,
            _ => State::Up,
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The diagnostic code: why the session last left Up (RFC 5880 §4.1, "Diag").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Diag(pub u8);

impl Diag {
    pub const NONE: Diag = Diag(0);
    pub const DETECTION_TIME_EXPIRED: Diag = Diag(1);
    pub const NEIGHBOR_SIGNALED_DOWN: Diag = Diag(3);
    pub const ADMINISTRATIVELY_DOWN: Diag = Diag(7);

    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "No Diagnostic",
            1 => "Control Detection Time Expired",
            2 => "Echo Function Failed",
            3 => "Neighbor Signaled Session Down",
            4 => "Forwarding Plane Reset",
            5 => "Path Down",
            6 => "Concatenated Path Down",
            7 => "Administratively Down",
            8 => "Reverse Concatenated Path Down",
            _ => "unassigned",
        }
    }
}

impl fmt::Display for Diag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

/// Why a received packet was discarded: one rule of RFC 5880 §6.8.6 (or RFC 5881 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Drop {
    /// Fewer bytes than a control packet without authentication.
    Short,
    /// "If the version number is not correct (1), the packet MUST be discarded."
    Version,
    /// "If the Length field is less than the minimum correct value (24 if the A bit is
    /// clear, or 26 if the A bit is set), the packet MUST be discarded."
    Length,
    /// "If the Length field is greater than the payload of the encapsulating protocol,
    /// the packet MUST be discarded."
    Truncated,
    /// "If the Detect Mult field is zero, the packet MUST be discarded."
    DetectMult,
    /// "If the Multipoint (M) bit is nonzero, the packet MUST be discarded."
    Multipoint,
    /// "If the My Discriminator field is zero, the packet MUST be discarded."
    MyDiscriminator,
    /// "If the Your Discriminator field is zero and the State field is not Down or
    /// AdminDown, the packet MUST be discarded."
    YourDiscriminatorZero,
    /// "If the A bit is set and no authentication is in use (bfd.AuthType is zero), the
    /// packet MUST be discarded."
    Authentication,
    /// "If the Your Discriminator field is nonzero, it MUST be used to select the
    /// session ...  If no session is found, the packet MUST be discarded."
    UnknownDiscriminator,
    /// "If bfd.SessionState is AdminDown: Discard the packet."
    AdminDown,
    /// A TTL / hop limit other than 255 on a single-hop session (RFC 5881 §5, GTSM).
    Ttl,
}

impl Drop {
    pub const ALL: [Drop; 12] = [
        Drop::Short,
        Drop::Version,
        Drop::Length,
        Drop::Truncated,
        Drop::DetectMult,
        Drop::Multipoint,
        Drop::MyDiscriminator,
        Drop::YourDiscriminatorZero,
        Drop::Authentication,
        Drop::UnknownDiscriminator,
        Drop::AdminDown,
        Drop::Ttl,
    ];

    /// A short name for logs and metrics labels.
    pub fn name(self) -> &'static str {
        match self {
            Drop::Short => "short",
            Drop::Version => "version",
            Drop::Length => "length",
            Drop::Truncated => "truncated",
            Drop::DetectMult => "detect_mult_zero",
            Drop::Multipoint => "multipoint",
            Drop::MyDiscriminator => "my_discriminator_zero",
            Drop::YourDiscriminatorZero => "your_discriminator_zero",
            Drop::Authentication => "authentication",
            Drop::UnknownDiscriminator => "unknown_discriminator",
            Drop::AdminDown => "admin_down",
            Drop::Ttl => "ttl",
        }
    }
}

impl fmt::Display for Drop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A control packet's fields; intervals in microseconds as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Control {
    pub diag: Diag,
    pub state: State,
    pub poll: bool,
    pub final_: bool,
    /// Control Plane Independent: we never claim it (a userspace process shares fate
    /// with the control plane, RFC 5880 §4.1).
    pub cpi: bool,
    pub demand: bool,
    pub detect_mult: u8,
    pub my_discriminator: u32,
    pub your_discriminator: u32,
    pub desired_min_tx: u32,
    pub required_min_rx: u32,
    pub required_min_echo_rx: u32,
}

const P: u8 = 0x20;
const F: u8 = 0x10;
const C: u8 = 0x08;
const A: u8 = 0x04;
const D: u8 = 0x02;
const M: u8 = 0x01;

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl Control {
    /// The UDP payload as a control packet, or the §6.8.6 rule it breaks (in the RFC's
    /// order, so that the reason counted is the first that applies).
    pub fn parse(b: &[u8]) -> Result<Control, Drop> {
        // Version first: a future version may be shorter, and is counted as what it is.
        if b.is_empty() {
            return Err(Drop::Short);
        }
        if b[0] >> 5 != VERSION {
            return Err(Drop::Version);
        }
        if b.len() < LEN {
            return Err(Drop::Short);
        }
        let flags = b[1];
        let length = usize::from(b[3]);
        let min = if flags & A != 0 { LEN + 2 } else { LEN };
        if length < min {
            return Err(Drop::Length);
        }
        if length > b.len() {
            return Err(Drop::Truncated);
        }
        let c = Control {
            diag: Diag(b[0] & 0x1f),
            state: State::from_bits(flags >> 6),
            poll: flags & P != 0,
            final_: flags & F != 0,
            cpi: flags & C != 0,
            demand: flags & D != 0,
            detect_mult: b[2],
            my_discriminator: be32(b, 4),
            your_discriminator: be32(b, 8),
            desired_min_tx: be32(b, 12),
            required_min_rx: be32(b, 16),
            required_min_echo_rx: be32(b, 20),
        };
        if c.detect_mult == 0 {
            return Err(Drop::DetectMult);
        }
        if flags & M != 0 {
            return Err(Drop::Multipoint);
        }
        if c.my_discriminator == 0 {
            return Err(Drop::MyDiscriminator);
        }
        if c.your_discriminator == 0 && !matches!(c.state, State::Down | State::AdminDown) {
            return Err(Drop::YourDiscriminatorZero);
        }
        // bfd.AuthType is always zero here (no authentication in this round).
        if flags & A != 0 {
            return Err(Drop::Authentication);
        }
        Ok(c)
    }

    /// The 24 bytes on the wire (A and M always clear).
    pub fn emit(&self) -> [u8; LEN] {
        let mut b = [0u8; LEN];
        b[0] = (VERSION << 5) | (self.diag.0 & 0x1f);
        let mut flags = (self.state as u8) << 6;
        for (on, bit) in [
            (self.poll, P),
            (self.final_, F),
            (self.cpi, C),
            (self.demand, D),
        ] {
            if on {
                flags |= bit;
            }
        }
        b[1] = flags;
        b[2] = self.detect_mult;
        b[3] = LEN as u8;
        for (at, v) in [
            (4, self.my_discriminator),
            (8, self.your_discriminator),
            (12, self.desired_min_tx),
            (16, self.required_min_rx),
            (20, self.required_min_echo_rx),
        ] {
            b[at..at + 4].copy_from_slice(&v.to_be_bytes());
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Control {
        Control {
            diag: Diag::DETECTION_TIME_EXPIRED,
            state: State::Up,
            poll: true,
            final_: false,
            cpi: false,
            demand: false,
            detect_mult: 3,
            my_discriminator: 0x0102_0304,
            your_discriminator: 0x0a0b_0c0d,
            desired_min_tx: 300_000,
            required_min_rx: 200_000,
            required_min_echo_rx: 0,
        }
    }

    #[test]
    fn round_trip_and_layout() {
        let b = sample().emit();
        // Version 1, diag 1; Up (3) with P; mult 3; length 24 (RFC 5880 §4.1).
        assert_eq!(&b[..4], &[0x21, 0xe0, 3, 24]);
        assert_eq!(&b[4..8], &[1, 2, 3, 4]);
        assert_eq!(&b[12..16], &300_000u32.to_be_bytes());
        assert_eq!(Control::parse(&b), Ok(sample()));
        // Trailing bytes past Length (padding of the encapsulation) are allowed.
        let mut long = b.to_vec();
        long.extend_from_slice(&[0; 8]);
        assert_eq!(Control::parse(&long), Ok(sample()));
    }

    #[test]
    fn every_reception_check() {
        let good = sample().emit();
        let with = |f: &dyn Fn(&mut [u8; LEN])| {
            let mut b = good;
            f(&mut b);
            Control::parse(&b)
        };
        assert_eq!(Control::parse(&[]), Err(Drop::Short));
        assert_eq!(Control::parse(&good[..23]), Err(Drop::Short));
        assert_eq!(with(&|b| b[0] = (2 << 5) | 1), Err(Drop::Version));
        assert_eq!(with(&|b| b[3] = 23), Err(Drop::Length));
        // With A set the minimum is 26 (§6.8.6), 24 is too short.
        assert_eq!(with(&|b| b[1] |= A), Err(Drop::Length));
        assert_eq!(with(&|b| b[3] = 25), Err(Drop::Truncated));
        assert_eq!(with(&|b| b[2] = 0), Err(Drop::DetectMult));
        assert_eq!(with(&|b| b[1] |= M), Err(Drop::Multipoint));
        assert_eq!(with(&|b| b[4..8].fill(0)), Err(Drop::MyDiscriminator));
        assert_eq!(
            with(&|b| b[8..12].fill(0)),
            Err(Drop::YourDiscriminatorZero)
        );
        // Your Discriminator zero is fine in Down and AdminDown.
        let down = with(&|b| {
            b[8..12].fill(0);
            b[1] = (State::Down as u8) << 6;
        });
        assert!(down.is_ok());
        let mut auth = good.to_vec();
        auth.extend_from_slice(&[1, 2]);
        auth[1] |= A;
        auth[3] = 26;
        assert_eq!(Control::parse(&auth), Err(Drop::Authentication));
    }
}
