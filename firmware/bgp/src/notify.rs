//! NOTIFICATION codes and subcodes with their names (RFC 4271 §4.5 and the IANA "BGP
//! Error (Notification) Codes" registry), so a log line reads "Cease/Administrative
//! Shutdown" rather than "6/2".

use std::fmt;

/// Message Header Error (RFC 4271 §4.5, §6.1).
pub const HEADER: u8 = 1;
/// OPEN Message Error (RFC 4271 §4.5, §6.2).
pub const OPEN: u8 = 2;
/// UPDATE Message Error (RFC 4271 §4.5, §6.3).
pub const UPDATE: u8 = 3;
/// Hold Timer Expired (RFC 4271 §4.5, §6.5).
pub const HOLD_TIMER_EXPIRED: u8 = 4;
/// Finite State Machine Error (RFC 4271 §6.6, subcodes RFC 6608 §3).
pub const FSM: u8 = 5;
/// Cease (RFC 4271 §6.7, subcodes RFC 4486 §3).
pub const CEASE: u8 = 6;

// Message Header Error subcodes (RFC 4271 §4.5).
pub const CONNECTION_NOT_SYNCHRONIZED: u8 = 1;
pub const BAD_MESSAGE_LENGTH: u8 = 2;
pub const BAD_MESSAGE_TYPE: u8 = 3;
// OPEN Message Error subcodes (RFC 4271 §4.5; 7 from RFC 5492 §5).
pub const UNSUPPORTED_VERSION: u8 = 1;
pub const BAD_PEER_AS: u8 = 2;
pub const BAD_BGP_IDENTIFIER: u8 = 3;
pub const UNSUPPORTED_OPTIONAL_PARAMETER: u8 = 4;
pub const UNACCEPTABLE_HOLD_TIME: u8 = 6;
pub const UNSUPPORTED_CAPABILITY: u8 = 7;
// UPDATE Message Error subcodes (RFC 4271 §4.5).
pub const MALFORMED_ATTRIBUTE_LIST: u8 = 1;
pub const UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE: u8 = 2;
pub const MISSING_WELL_KNOWN_ATTRIBUTE: u8 = 3;
pub const ATTRIBUTE_FLAGS_ERROR: u8 = 4;
pub const ATTRIBUTE_LENGTH_ERROR: u8 = 5;
pub const INVALID_ORIGIN: u8 = 6;
pub const INVALID_NEXT_HOP: u8 = 8;
pub const OPTIONAL_ATTRIBUTE_ERROR: u8 = 9;
pub const INVALID_NETWORK_FIELD: u8 = 10;
pub const MALFORMED_AS_PATH: u8 = 11;
// Finite State Machine Error subcodes (RFC 6608 §3).
pub const FSM_UNEXPECTED_IN_OPEN_SENT: u8 = 1;
pub const FSM_UNEXPECTED_IN_OPEN_CONFIRM: u8 = 2;
pub const FSM_UNEXPECTED_IN_ESTABLISHED: u8 = 3;
// Cease subcodes (RFC 4486 §3).
pub const ADMINISTRATIVE_SHUTDOWN: u8 = 2;
pub const ADMINISTRATIVE_RESET: u8 = 4;
/// Cease subcode "BFD Down" (RFC 9384 §2).
pub const BFD_DOWN: u8 = 10;

/// The most data a NOTIFICATION we keep carries: a message is at most 4096 octets
/// (RFC 4271 §4.1), of which 21 are header, code and subcode.
pub const MAX_DATA: usize = 4096 - 21;

/// One NOTIFICATION (RFC 4271 §4.5), sent or received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub code: u8,
    pub subcode: u8,
    pub data: Vec<u8>,
}

impl Notification {
    pub fn new(code: u8, subcode: u8, data: &[u8]) -> Notification {
        let data = data[..data.len().min(MAX_DATA)].to_vec();
        Notification {
            code,
            subcode,
            data,
        }
    }

    pub fn code_name(&self) -> &'static str {
        match self.code {
            HEADER => "Message Header Error",
            OPEN => "OPEN Message Error",
            UPDATE => "UPDATE Message Error",
            HOLD_TIMER_EXPIRED => "Hold Timer Expired",
            FSM => "Finite State Machine Error",
            CEASE => "Cease",
            7 => "ROUTE-REFRESH Message Error", // RFC 7313 §5
            _ => "unknown error code",
        }
    }

    /// The subcode's name; `None` where the code has no subcodes and the subcode is 0
    /// (RFC 4271 §4.5: "Unspecific").
    pub fn subcode_name(&self) -> Option<&'static str> {
        let name = match (self.code, self.subcode) {
            (HOLD_TIMER_EXPIRED, 0) => return None,
            (_, 0) => "Unspecific",
            (HEADER, CONNECTION_NOT_SYNCHRONIZED) => "Connection Not Synchronized",
            (HEADER, BAD_MESSAGE_LENGTH) => "Bad Message Length",
            (HEADER, BAD_MESSAGE_TYPE) => "Bad Message Type",
            (OPEN, UNSUPPORTED_VERSION) => "Unsupported Version Number",
            (OPEN, BAD_PEER_AS) => "Bad Peer AS",
            (OPEN, BAD_BGP_IDENTIFIER) => "Bad BGP Identifier",
            (OPEN, UNSUPPORTED_OPTIONAL_PARAMETER) => "Unsupported Optional Parameter",
            (OPEN, UNACCEPTABLE_HOLD_TIME) => "Unacceptable Hold Time",
            (OPEN, UNSUPPORTED_CAPABILITY) => "Unsupported Capability",
            (OPEN, 11) => "Role Mismatch", // RFC 9234 §4.2
            (UPDATE, MALFORMED_ATTRIBUTE_LIST) => "Malformed Attribute List",
            (UPDATE, UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE) => "Unrecognized Well-known Attribute",
            (UPDATE, MISSING_WELL_KNOWN_ATTRIBUTE) => "Missing Well-known Attribute",
            (UPDATE, ATTRIBUTE_FLAGS_ERROR) => "Attribute Flags Error",
            (UPDATE, ATTRIBUTE_LENGTH_ERROR) => "Attribute Length Error",
            (UPDATE, INVALID_ORIGIN) => "Invalid ORIGIN Attribute",
            (UPDATE, INVALID_NEXT_HOP) => "Invalid NEXT_HOP Attribute",
            (UPDATE, OPTIONAL_ATTRIBUTE_ERROR) => "Optional Attribute Error",
            (UPDATE, INVALID_NETWORK_FIELD) => "Invalid Network Field",
            (UPDATE, MALFORMED_AS_PATH) => "Malformed AS_PATH",
            (FSM, FSM_UNEXPECTED_IN_OPEN_SENT) => "Receive Unexpected Message in OpenSent State",
            (FSM, FSM_UNEXPECTED_IN_OPEN_CONFIRM) => {
                "Receive Unexpected Message in OpenConfirm State"
            }
            (FSM, FSM_UNEXPECTED_IN_ESTABLISHED) => {
                "Receive Unexpected Message in Established State"
            }
            (CEASE, 1) => "Maximum Number of Prefixes Reached",
            (CEASE, ADMINISTRATIVE_SHUTDOWN) => "Administrative Shutdown",
            (CEASE, 3) => "Peer De-configured",
            (CEASE, ADMINISTRATIVE_RESET) => "Administrative Reset",
            (CEASE, 5) => "Connection Rejected",
            (CEASE, 6) => "Other Configuration Change",
            (CEASE, 7) => "Connection Collision Resolution",
            (CEASE, 8) => "Out of Resources",
            (CEASE, 9) => "Hard Reset",         // RFC 8538 §3
            (CEASE, BFD_DOWN) => "BFD Down",    // RFC 9384 §2
            (7, 1) => "Invalid Message Length", // RFC 7313 §5
            _ => "unknown subcode",
        };
        Some(name)
    }

    /// The shutdown communication of a Cease/Administrative Shutdown or Reset: a length
    /// octet and that many octets of UTF-8 (RFC 9003 §2). `None` if absent or malformed.
    pub fn shutdown_message(&self) -> Option<&str> {
        if self.code != CEASE
            || !matches!(self.subcode, ADMINISTRATIVE_SHUTDOWN | ADMINISTRATIVE_RESET)
        {
            return None;
        }
        let (&len, rest) = self.data.split_first()?;
        let text = rest.get(..usize::from(len))?;
        std::str::from_utf8(text).ok().filter(|t| !t.is_empty())
    }
}

/// "Cease/Administrative Shutdown (6/2): "maintenance"", or "Hold Timer Expired (4/0)".
impl fmt::Display for Notification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code_name())?;
        if let Some(sub) = self.subcode_name() {
            write!(f, "/{sub}")?;
        }
        write!(f, " ({}/{})", self.code, self.subcode)?;
        if let Some(text) = self.shutdown_message() {
            write!(f, ": {text:?}")?;
        } else if !self.data.is_empty() {
            let shown = &self.data[..self.data.len().min(16)];
            f.write_str(", data")?;
            for b in shown {
                write!(f, " {b:02x}")?;
            }
            if shown.len() < self.data.len() {
                write!(f, " … ({} octets)", self.data.len())?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_code_and_subcode() {
        let n = Notification::new(CEASE, ADMINISTRATIVE_SHUTDOWN, &[]);
        assert_eq!(n.to_string(), "Cease/Administrative Shutdown (6/2)");
        let n = Notification::new(HOLD_TIMER_EXPIRED, 0, &[]);
        assert_eq!(n.to_string(), "Hold Timer Expired (4/0)");
        let n = Notification::new(HEADER, BAD_MESSAGE_LENGTH, &[0x10, 0x01]);
        assert_eq!(
            n.to_string(),
            "Message Header Error/Bad Message Length (1/2), data 10 01"
        );
    }

    #[test]
    fn shows_the_shutdown_communication() {
        let mut data = vec![11];
        data.extend_from_slice(b"maintenance");
        let n = Notification::new(CEASE, ADMINISTRATIVE_SHUTDOWN, &data);
        assert_eq!(
            n.to_string(),
            "Cease/Administrative Shutdown (6/2): \"maintenance\""
        );
        // A length beyond the data is not a communication: the octets are shown instead.
        let n = Notification::new(CEASE, ADMINISTRATIVE_SHUTDOWN, &[40, b'a']);
        assert_eq!(n.shutdown_message(), None);
    }
}
