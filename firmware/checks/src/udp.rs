//! UDP_CHECK: what is sent, and the judging of what comes back. No I/O.
//!
//! keepalived (check_udp.c, layer4.c `udp_socket_state`, keepalived.conf(5) "UDP_CHECK"):
//! the `payload` is sent to the server; an ICMP destination unreachable in answer fails the
//! probe. Without `require_reply` silence until `connect_timeout` passes, as does any reply.
//! With `require_reply` a reply must come, its length must lie within
//! `min_reply_length`..=`max_reply_length` (default 0..=255), and when `require_reply` names
//! bytes, the reply must match them over the shorter of the two lengths, with nibbles given
//! as `x` in the configuration matching anything.
//!
//! keepalived's code checks the lengths only when `require_reply` names bytes; its manual
//! says they are checked whenever a reply is required. lvsfw does what the manual says.

use std::fmt;

use crate::outcome::{Failure, Passed};
use crate::spec::SpecError;

/// keepalived's `max_reply_length` when none is given (UINT8_MAX).
pub const DEFAULT_MAX_REPLY_LENGTH: u16 = 255;
/// The largest UDP payload over IPv4 (65,535 − 20 − 8).
pub const MAX_PAYLOAD: usize = 65_507;

/// One UDP_CHECK block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpCheck {
    /// `payload`: the datagram sent. `None`: [`DEFAULT_PAYLOAD`] (keepalived sends 32
    /// bytes of its own text).
    pub payload: Option<Vec<u8>>,
    /// `require_reply`: the probe passes only on a reply.
    pub require_reply: bool,
    /// The bytes `require_reply` names, if any.
    pub reply: ReplyPattern,
    /// `min_reply_length`, `max_reply_length`: only with `require_reply`.
    pub min_reply_length: u16,
    pub max_reply_length: u16,
}

/// What UDP_CHECK sends without a `payload`: 32 bytes, as keepalived's (UDP_BUFSIZE).
pub const DEFAULT_PAYLOAD: &[u8; 32] = b"lvsfw UDP_CHECK lvsfw UDP_CHECK ";

impl Default for UdpCheck {
    fn default() -> Self {
        UdpCheck {
            payload: None,
            require_reply: false,
            reply: ReplyPattern::default(),
            min_reply_length: 0,
            max_reply_length: DEFAULT_MAX_REPLY_LENGTH,
        }
    }
}

impl UdpCheck {
    /// The datagram each probe sends.
    pub fn datagram(&self) -> &[u8] {
        self.payload.as_deref().unwrap_or(DEFAULT_PAYLOAD)
    }

    pub fn validate(&self) -> Result<(), SpecError> {
        match &self.payload {
            Some(payload) if payload.is_empty() => {
                Err(SpecError("UDP_CHECK payload is empty".into()))
            }
            Some(payload) if payload.len() > MAX_PAYLOAD => Err(SpecError(format!(
                "UDP_CHECK payload is {} bytes; a datagram holds at most {MAX_PAYLOAD}",
                payload.len()
            ))),
            // keepalived only warns that min > max "will always fail"; so does the check.
            _ => Ok(()),
        }
    }

    /// The verdict on a reply from the server.
    pub fn judge_reply(&self, reply: &[u8]) -> Result<Passed, Failure> {
        let len = reply.len();
        if self.require_reply
            && !(usize::from(self.min_reply_length)..=usize::from(self.max_reply_length))
                .contains(&len)
        {
            return Err(Failure::ReplyLength {
                got: len,
                min: self.min_reply_length,
                max: self.max_reply_length,
            });
        }
        if self.require_reply {
            if let Some(at) = self.reply.first_mismatch(reply) {
                return Err(Failure::ReplyMismatch { at });
            }
        }
        Ok(Passed::Reply { len })
    }

    /// The verdict when `connect_timeout` passes with neither a reply nor an ICMP error.
    pub fn judge_silence(&self, after: std::time::Duration) -> Result<Passed, Failure> {
        if self.require_reply {
            Err(Failure::NoReply(after))
        } else {
            Ok(Passed::NoError)
        }
    }
}

/// The bytes a reply must start with, some nibbles of which may be anything.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ReplyPattern {
    bytes: Vec<u8>,
    /// Per byte, the bits that are not compared (0x0f, 0xf0 or 0xff for `x` nibbles).
    ignored: Vec<u8>,
}

impl ReplyPattern {
    /// `bytes` to match, with `ignored` bits per byte (empty: all bits count).
    pub fn new(bytes: Vec<u8>, ignored: Vec<u8>) -> Result<Self, SpecError> {
        if !ignored.is_empty() && ignored.len() != bytes.len() {
            return Err(SpecError(format!(
                "UDP_CHECK require_reply: {} bytes but a mask of {}",
                bytes.len(),
                ignored.len()
            )));
        }
        Ok(ReplyPattern { bytes, ignored })
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn ignored(&self) -> &[u8] {
        &self.ignored
    }

    /// The first byte of `reply` that differs from the pattern, comparing the shorter of
    /// the two lengths (check_udp.c `check_udp_reply`).
    pub fn first_mismatch(&self, reply: &[u8]) -> Option<usize> {
        self.bytes
            .iter()
            .zip(reply)
            .enumerate()
            .find_map(|(i, (want, got))| {
                let ignored = self.ignored.get(i).copied().unwrap_or(0);
                ((want ^ got) & !ignored != 0).then_some(i)
            })
    }
}

/// As keepalived.conf writes it: hex, `x` for an ignored nibble.
impl fmt::Debug for ReplyPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReplyPattern(")?;
        for (i, byte) in self.bytes.iter().enumerate() {
            let ignored = self.ignored.get(i).copied().unwrap_or(0);
            for (shift, mask) in [(4, 0xf0u8), (0, 0x0f)] {
                if ignored & mask != 0 {
                    f.write_str("x")?;
                } else {
                    write!(f, "{:x}", (byte >> shift) & 0x0f)?;
                }
            }
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn requiring(bytes: &[u8], ignored: &[u8]) -> UdpCheck {
        UdpCheck {
            require_reply: true,
            reply: ReplyPattern::new(bytes.to_vec(), ignored.to_vec()).unwrap(),
            ..UdpCheck::default()
        }
    }

    #[test]
    fn keepalived_defaults() {
        let check = UdpCheck::default();
        assert_eq!(check.datagram().len(), 32);
        assert_eq!((check.min_reply_length, check.max_reply_length), (0, 255));
        assert!(!check.require_reply);
        assert_eq!(check.validate(), Ok(()));
    }

    #[test]
    fn without_require_reply_silence_and_any_reply_pass() {
        let check = UdpCheck::default();
        let after = Duration::from_secs(3);
        assert_eq!(check.judge_silence(after), Ok(Passed::NoError));
        assert_eq!(
            check.judge_reply(&[0; 1000]),
            Ok(Passed::Reply { len: 1000 })
        );
        let check = UdpCheck {
            require_reply: true,
            ..UdpCheck::default()
        };
        assert_eq!(check.judge_silence(after), Err(Failure::NoReply(after)));
    }

    #[test]
    fn a_required_reply_must_lie_within_the_lengths() {
        let mut check = requiring(&[], &[]);
        check.min_reply_length = 2;
        check.max_reply_length = 4;
        assert_eq!(check.judge_reply(b"ab"), Ok(Passed::Reply { len: 2 }));
        assert_eq!(check.judge_reply(b"abcd"), Ok(Passed::Reply { len: 4 }));
        assert_eq!(
            check.judge_reply(b"a"),
            Err(Failure::ReplyLength {
                got: 1,
                min: 2,
                max: 4
            })
        );
        assert_eq!(
            check.judge_reply(b"abcde"),
            Err(Failure::ReplyLength {
                got: 5,
                min: 2,
                max: 4
            })
        );
        // keepalived's default maximum is 255.
        let check = requiring(&[], &[]);
        assert!(check.judge_reply(&[0; 255]).is_ok());
        assert!(check.judge_reply(&[0; 256]).is_err());
        assert!(check.judge_reply(&[]).is_ok());
    }

    #[test]
    fn the_pattern_is_compared_over_the_shorter_length_with_wildcard_nibbles() {
        // keepalived.conf: require_reply 12 3x ff
        let check = requiring(&[0x12, 0x30, 0xff], &[0, 0x0f, 0]);
        assert_eq!(
            check.judge_reply(&[0x12, 0x3a, 0xff, 9]),
            Ok(Passed::Reply { len: 4 })
        );
        assert_eq!(
            check.judge_reply(&[0x12, 0x37]),
            Ok(Passed::Reply { len: 2 })
        );
        assert_eq!(
            check.judge_reply(&[0x12, 0x4a, 0xff]),
            Err(Failure::ReplyMismatch { at: 1 })
        );
        assert_eq!(
            check.judge_reply(&[0x13]),
            Err(Failure::ReplyMismatch { at: 0 })
        );
        assert_eq!(
            check.judge_reply(&[0x12, 0x30, 0xfe]),
            Err(Failure::ReplyMismatch { at: 2 })
        );
        assert_eq!(format!("{:?}", check.reply), "ReplyPattern(123xff)");
    }

    #[test]
    fn bad_payloads_and_masks_are_refused() {
        assert!(ReplyPattern::new(vec![1, 2], vec![0]).is_err());
        let empty = UdpCheck {
            payload: Some(Vec::new()),
            ..UdpCheck::default()
        };
        assert!(empty.validate().is_err());
        let huge = UdpCheck {
            payload: Some(vec![0; MAX_PAYLOAD + 1]),
            ..UdpCheck::default()
        };
        assert!(huge.validate().is_err());
    }
}
