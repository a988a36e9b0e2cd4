//! DNS_CHECK: the query sent over UDP and the judging of the response. No I/O.
//!
//! keepalived (check_dns.c, keepalived.conf(5) "DNS_CHECK"): one question of `type`
//! (default SOA) for `name` (default ".", the root), class IN, recursion desired, a random
//! id. A datagram shorter than a header, with another id, or that is not a response (QR
//! clear) is ignored and the probe waits on; a response with a nonzero RCODE fails; any
//! other response passes. The answer section is not looked at, as keepalived does not.

use std::fmt;
use std::str::FromStr;

use crate::outcome::{Failure, Passed};
use crate::spec::SpecError;

/// The DNS header (RFC 1035 §4.1.1).
pub const HEADER_LEN: usize = 12;
/// A name is at most 255 bytes on the wire, a label at most 63 (RFC 1035 §2.3.4).
pub const MAX_NAME_WIRE: usize = 255;
pub const MAX_LABEL: usize = 63;
/// The longest query [`DnsCheck::query`] builds: header, name, type and class.
pub const MAX_QUERY: usize = HEADER_LEN + MAX_NAME_WIRE + 4;

/// The query types keepalived's DNS_CHECK knows (check_dns.c `DNS_TYPE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DnsType {
    A,
    Ns,
    Cname,
    /// keepalived's default.
    #[default]
    Soa,
    Mx,
    Txt,
    Aaaa,
    Rrsig,
    Dnskey,
}

impl DnsType {
    pub const ALL: [DnsType; 9] = [
        DnsType::A,
        DnsType::Ns,
        DnsType::Cname,
        DnsType::Soa,
        DnsType::Mx,
        DnsType::Txt,
        DnsType::Aaaa,
        DnsType::Rrsig,
        DnsType::Dnskey,
    ];

    /// The TYPE value (RFC 1035 §3.2.2, RFC 3596 §2.1, RFC 4034 §2 and §3).
    pub fn code(self) -> u16 {
        match self {
            DnsType::A => 1,
            DnsType::Ns => 2,
            DnsType::Cname => 5,
            DnsType::Soa => 6,
            DnsType::Mx => 15,
            DnsType::Txt => 16,
            DnsType::Aaaa => 28,
            DnsType::Rrsig => 46,
            DnsType::Dnskey => 48,
        }
    }

    pub fn keyword(self) -> &'static str {
        match self {
            DnsType::A => "A",
            DnsType::Ns => "NS",
            DnsType::Cname => "CNAME",
            DnsType::Soa => "SOA",
            DnsType::Mx => "MX",
            DnsType::Txt => "TXT",
            DnsType::Aaaa => "AAAA",
            DnsType::Rrsig => "RRSIG",
            DnsType::Dnskey => "DNSKEY",
        }
    }
}

impl fmt::Display for DnsType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

/// keepalived compares the type without regard to case.
impl FromStr for DnsType {
    type Err = SpecError;

    fn from_str(word: &str) -> Result<Self, SpecError> {
        DnsType::ALL
            .into_iter()
            .find(|t| t.keyword().eq_ignore_ascii_case(word))
            .ok_or_else(|| {
                let known: Vec<&str> = DnsType::ALL.iter().map(|t| t.keyword()).collect();
                SpecError(format!(
                    "DNS_CHECK type {word:?} is none of {}",
                    known.join(" ")
                ))
            })
    }
}

/// One DNS_CHECK block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsCheck {
    /// `type`.
    pub qtype: DnsType,
    /// `name`: dotted, with or without the final dot; "." is the root.
    pub name: String,
}

impl Default for DnsCheck {
    fn default() -> Self {
        DnsCheck {
            qtype: DnsType::Soa,
            name: ".".into(),
        }
    }
}

impl DnsCheck {
    /// keepalived refuses a name with an empty label ("a..b", ".a"); the wire format also
    /// limits labels to 63 bytes and the name to 255.
    pub fn validate(&self) -> Result<(), SpecError> {
        let name = &self.name;
        let refuse = |why: &str| Err(SpecError(format!("DNS_CHECK name {name:?} {why}")));
        if name.is_empty() || name == "." {
            return Ok(());
        }
        let labels = name.strip_suffix('.').unwrap_or(name);
        let mut wire = 1;
        for label in labels.split('.') {
            if label.is_empty() {
                return refuse("has an empty label");
            }
            if label.len() > MAX_LABEL {
                return refuse(&format!("has a label longer than {MAX_LABEL} bytes"));
            }
            if label
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
            {
                return refuse("has a space or control character");
            }
            wire += 1 + label.len();
        }
        if wire > MAX_NAME_WIRE {
            return refuse(&format!("is longer than {MAX_NAME_WIRE} bytes on the wire"));
        }
        Ok(())
    }

    /// The query with id 0 (each probe sets its own with [`set_id`]); call on a
    /// validated check.
    pub fn query(&self) -> Vec<u8> {
        let mut query = Vec::with_capacity(MAX_QUERY);
        // id 0, flags: RD (RFC 1035 §4.1.1), one question.
        query.extend_from_slice(&[0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
        let labels = self.name.strip_suffix('.').unwrap_or(&self.name);
        for label in labels.split('.').filter(|l| !l.is_empty()) {
            query.push(label.len().min(MAX_LABEL) as u8);
            query.extend_from_slice(label.as_bytes());
        }
        query.push(0);
        query.extend_from_slice(&self.qtype.code().to_be_bytes());
        // Class IN.
        query.extend_from_slice(&1u16.to_be_bytes());
        query
    }
}

/// Puts a probe's id into a query built by [`DnsCheck::query`].
pub fn set_id(query: &mut [u8], id: u16) {
    if let Some(field) = query.get_mut(..2) {
        field.copy_from_slice(&id.to_be_bytes());
    }
}

/// What a datagram from the server means for the probe with query id `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// Not the response to this query: wait on.
    Ignored,
    Judged(Result<Passed, Failure>),
}

pub fn judge(id: u16, datagram: &[u8]) -> Response {
    if datagram.len() < HEADER_LEN || u16::from_be_bytes([datagram[0], datagram[1]]) != id {
        return Response::Ignored;
    }
    let flags = u16::from_be_bytes([datagram[2], datagram[3]]);
    let is_response = flags & 0x8000 != 0;
    if !is_response {
        return Response::Ignored;
    }
    let rcode = (flags & 0x000f) as u8;
    if rcode != 0 {
        return Response::Judged(Err(Failure::DnsRcode(rcode)));
    }
    Response::Judged(Ok(Passed::Dns))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(qtype: DnsType, name: &str) -> DnsCheck {
        DnsCheck {
            qtype,
            name: name.into(),
        }
    }

    #[test]
    fn keepalived_default_is_soa_of_the_root() {
        let query = DnsCheck::default().query();
        // RD set, one question: the root (a single zero byte), type SOA (6), class IN.
        assert_eq!(query, [0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 1]);
        // An empty name is the root too.
        assert_eq!(check(DnsType::Soa, "").query(), query);
    }

    #[test]
    fn a_name_is_sent_as_labels_with_or_without_the_final_dot() {
        let mut query = check(DnsType::Aaaa, "www.example.com").query();
        let mut expected = vec![0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        expected.extend_from_slice(b"\x03www\x07example\x03com\x00\x00\x1c\x00\x01");
        set_id(&mut query, 0x1234);
        assert_eq!(query, expected);
        let mut dotted = check(DnsType::Aaaa, "www.example.com.").query();
        set_id(&mut dotted, 0x1234);
        assert_eq!(dotted, expected);
    }

    #[test]
    fn types_are_keepalived_words_in_any_case() {
        assert_eq!("soa".parse::<DnsType>(), Ok(DnsType::Soa));
        assert_eq!("DnsKey".parse::<DnsType>(), Ok(DnsType::Dnskey));
        assert_eq!(DnsType::Mx.code(), 15);
        let error = "PTR".parse::<DnsType>().unwrap_err();
        assert!(
            error.0.contains("\"PTR\" is none of A NS CNAME SOA"),
            "{error}"
        );
    }

    #[test]
    fn names_keepalived_or_the_wire_refuses_are_refused() {
        for name in ["a..b", ".a", "a.b..", &"x".repeat(64), "a b"] {
            assert!(check(DnsType::A, name).validate().is_err(), "{name:?}");
        }
        let long = vec!["a".repeat(63); 4].join(".");
        assert!(check(DnsType::A, &long).validate().is_err());
        for name in [".", "", "example.com.", "example.com", &"x".repeat(63)] {
            assert_eq!(check(DnsType::A, name).validate(), Ok(()), "{name:?}");
        }
    }

    #[test]
    fn responses_are_judged_by_id_qr_and_rcode_only() {
        let response = |id: u16, flags: u16| {
            let mut d = id.to_be_bytes().to_vec();
            d.extend_from_slice(&flags.to_be_bytes());
            d.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
            d
        };
        assert_eq!(
            judge(7, &response(7, 0x8180)),
            Response::Judged(Ok(Passed::Dns))
        );
        // NXDOMAIN (3), SERVFAIL (2), REFUSED (5) fail.
        for rcode in [2u8, 3, 5] {
            assert_eq!(
                judge(7, &response(7, 0x8180 | u16::from(rcode))),
                Response::Judged(Err(Failure::DnsRcode(rcode)))
            );
        }
        // Another id, a query (QR clear) and a short datagram are not the answer.
        assert_eq!(judge(7, &response(8, 0x8180)), Response::Ignored);
        assert_eq!(judge(7, &response(7, 0x0100)), Response::Ignored);
        assert_eq!(judge(7, &response(7, 0x8180)[..11]), Response::Ignored);
    }
}
