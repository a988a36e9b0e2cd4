//! Health checks of real servers (and of `vrrp_script`s), keepalived's keywords and
//! defaults. One struct for every kind: the fields a kind does not use stay empty, and
//! validation says so when JSON sets one.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::defaults;
use super::kept::Kept;
use crate::units::{opt_digest, opt_seconds, seconds};

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CheckKind {
    #[serde(rename = "HTTP_GET")]
    HttpGet,
    #[serde(rename = "SSL_GET")]
    SslGet,
    #[serde(rename = "TCP_CHECK")]
    Tcp,
    #[serde(rename = "PING_CHECK")]
    Ping,
    #[serde(rename = "UDP_CHECK")]
    Udp,
    #[serde(rename = "DNS_CHECK")]
    Dns,
    #[serde(rename = "SMTP_CHECK")]
    Smtp,
}

impl CheckKind {
    pub const ALL: [CheckKind; 7] = [
        CheckKind::HttpGet,
        CheckKind::SslGet,
        CheckKind::Tcp,
        CheckKind::Ping,
        CheckKind::Udp,
        CheckKind::Dns,
        CheckKind::Smtp,
    ];

    pub fn keyword(self) -> &'static str {
        match self {
            CheckKind::HttpGet => "HTTP_GET",
            CheckKind::SslGet => "SSL_GET",
            CheckKind::Tcp => "TCP_CHECK",
            CheckKind::Ping => "PING_CHECK",
            CheckKind::Udp => "UDP_CHECK",
            CheckKind::Dns => "DNS_CHECK",
            CheckKind::Smtp => "SMTP_CHECK",
        }
    }

    pub fn from_keyword(word: &str) -> Option<CheckKind> {
        CheckKind::ALL.into_iter().find(|k| k.keyword() == word)
    }

    pub fn is_http(self) -> bool {
        matches!(self, CheckKind::HttpGet | CheckKind::SslGet)
    }

    /// keepalived's `delay_before_retry` when none is given (check_api.c, check_http.c,
    /// check_dns.c: DNS waits the delay_loop, shown here as `None`).
    pub fn default_delay_before_retry(self) -> Option<Duration> {
        match self {
            CheckKind::HttpGet | CheckKind::SslGet => Some(defaults::DELAY_BEFORE_RETRY_HTTP),
            CheckKind::Dns => None,
            _ => Some(defaults::DELAY_BEFORE_RETRY_TCP),
        }
    }

    /// keepalived's `retry` when none is given (DNS_CHECK: 3).
    pub fn default_retry(self) -> u32 {
        match self {
            CheckKind::Dns => defaults::RETRY_DNS,
            _ => defaults::RETRY,
        }
    }
}

/// The record types keepalived's DNS_CHECK asks for (check_dns.c), SOA by default.
pub const DNS_TYPES: &[&str] = &[
    "A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA", "RRSIG", "DNSKEY",
];

/// `http_protocol`: what keepalived sends in the request line and Connection header.
pub const HTTP_PROTOCOLS: &[&str] = &["1.0", "1.1", "1.0C"];

/// PCRE2 options keepalived's `regex_options` names (check_http.c).
pub const REGEX_OPTIONS: &[&str] = &[
    "allow_empty_class",
    "alt_bsux",
    "auto_callout",
    "caseless",
    "dollar_endonly",
    "dotall",
    "dupnames",
    "extended",
    "firstline",
    "match_unset_backref",
    "multiline",
    "never_ucp",
    "never_utf",
    "no_auto_capture",
    "no_auto_possess",
    "no_dotstar_anchor",
    "no_start_optimize",
    "ucp",
    "ungreedy",
    "utf",
];

/// keepalived's `status_code 200-299 401 503`: ranges of codes from 100 to 599. Written
/// in JSON as keepalived writes it, one string.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatusCodes(pub Vec<(u16, u16)>);

impl FromStr for StatusCodes {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let mut ranges = Vec::new();
        for word in text.split_whitespace() {
            let (low, high) = word.split_once('-').unwrap_or((word, word));
            match (low.parse::<u16>(), high.parse::<u16>()) {
                (Ok(l), Ok(h)) if (100..=599).contains(&l) && (100..=599).contains(&h) && l <= h => {
                    ranges.push((l, h))
                }
                _ => {
                    return Err(format!(
                        "\"{word}\" is not a status code or range from 100 to 599 (such as 200 or 200-299)"
                    ))
                }
            }
        }
        if ranges.is_empty() {
            return Err("expected status codes or ranges such as 200-299 503".into());
        }
        Ok(StatusCodes(ranges))
    }
}

impl fmt::Display for StatusCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, (low, high)) in self.0.iter().enumerate() {
            if n > 0 {
                f.write_str(" ")?;
            }
            if low == high {
                write!(f, "{low}")?;
            } else {
                write!(f, "{low}-{high}")?;
            }
        }
        Ok(())
    }
}

/// One code is a number in JSON (as it was before ranges were read), more a string.
impl Serialize for StatusCodes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [(low, high)] if low == high => s.serialize_u16(*low),
            _ => s.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for StatusCodes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Json {
            Code(u64),
            Text(String),
        }
        let text = match Json::deserialize(d)? {
            Json::Code(n) => n.to_string(),
            Json::Text(t) => t,
        };
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// keepalived's hex strings (`payload`, `require_reply`): hex digits, two to a byte,
/// blanks allowed between bytes (a lone digit before a blank is a byte of its own); in
/// `require_reply` an `X` matches any digit. Kept as written (upper-cased, one blank
/// between words), so that what is exported means what was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HexBytes(String);

impl HexBytes {
    /// `wildcards`: whether `X` is allowed (require_reply).
    pub fn parse(text: &str, wildcards: bool) -> Result<HexBytes, String> {
        let words: Vec<String> = text
            .split_whitespace()
            .map(|w| w.to_ascii_uppercase())
            .collect();
        let ok = |c: char| c.is_ascii_hexdigit() || (wildcards && c == 'X');
        if words.is_empty() || !words.iter().all(|w| w.chars().all(ok)) {
            return Err(format!(
                "\"{text}\" is not hex digits{}",
                if wildcards { " (X for any)" } else { "" }
            ));
        }
        Ok(HexBytes(words.join(" ")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The bytes and, for each, the mask of the bits that must match (0 where `X`), read
    /// as keepalived's read_hex_str reads them.
    pub fn bytes_and_mask(&self) -> (Vec<u8>, Vec<u8>) {
        let mut out = (Vec::new(), Vec::new());
        for word in self.0.split(' ') {
            let digits: Vec<char> = word.chars().collect();
            for pair in digits.chunks(2) {
                let (mut value, mut mask) = (0u8, 0u8);
                for &c in pair {
                    value <<= 4;
                    mask <<= 4;
                    if let Some(d) = c.to_digit(16) {
                        value |= d as u8;
                        mask |= 0xf;
                    }
                }
                out.0.push(value);
                out.1.push(mask);
            }
        }
        out
    }
}

impl Serialize for HexBytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for HexBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        HexBytes::parse(&String::deserialize(d)?, true).map_err(serde::de::Error::custom)
    }
}

/// `require_reply [HEX]`: a reply is needed, and with HEX it must start so.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RequireReply {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<HexBytes>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlCheck {
    pub path: String,
    /// keepalived's default when absent: 200-299.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<StatusCodes>,
    /// MD5 of the body, 32 hex digits.
    #[serde(default, with = "opt_digest", skip_serializing_if = "Option::is_none")]
    pub digest: Option<[u8; 16]>,
    /// The url's own Host; the check's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtualhost: Option<String>,
    /// A PCRE2 pattern the body must match (or, with `regex_no_match`, must not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub regex_no_match: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regex_options: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex_min_offset: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex_max_offset: Option<u32>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub tls_compliant: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub noted: Vec<Kept>,
}

impl UrlCheck {
    pub fn new(path: &str) -> UrlCheck {
        UrlCheck {
            path: path.into(),
            status_code: None,
            digest: None,
            virtualhost: None,
            regex: None,
            regex_no_match: false,
            regex_options: Vec::new(),
            regex_min_offset: None,
            regex_max_offset: None,
            tls_compliant: false,
            noted: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    pub kind: CheckKind,
    #[serde(default, rename = "url", skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<UrlCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_ip: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bindto: Option<IpAddr>,
    /// keepalived's default: 5 s.
    #[serde(default = "defaults::connect_timeout", with = "seconds")]
    pub connect_timeout: Duration,
    /// `retry` (old name `nb_get_retry`); keepalived's default 1 (DNS_CHECK 3).
    #[serde(default = "defaults::retry")]
    pub retry: u32,
    /// Absent: keepalived's default for the kind, [`CheckKind::default_delay_before_retry`].
    #[serde(default, with = "opt_seconds", skip_serializing_if = "Option::is_none")]
    pub delay_before_retry: Option<Duration>,
    #[serde(default, with = "opt_seconds", skip_serializing_if = "Option::is_none")]
    pub warmup: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtualhost: Option<String>,
    /// The checker's own `delay_loop`; the real server's, else the virtual server's.
    #[serde(default, with = "opt_seconds", skip_serializing_if = "Option::is_none")]
    pub delay_loop: Option<Duration>,
    /// The checker's own `alpha`; the real server's, else the virtual server's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<bool>,
    // Read and exported; the appliance does not act on these yet (KEYWORDS.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_if: Option<String>,
    /// SO_MARK of the check's socket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fwmark: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_all_failures: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_protocol: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub enable_sni: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sni_name: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub fast_recovery: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub tls_compliant: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<HexBytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_reply: Option<RequireReply>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_reply_length: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_reply_length: Option<u32>,
    /// DNS_CHECK `type`; keepalived's default SOA.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub dns_type: Option<String>,
    /// DNS_CHECK `name`; keepalived's default the root, ".".
    #[serde(default, rename = "name", skip_serializing_if = "Option::is_none")]
    pub dns_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helo_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub noted: Vec<Kept>,
}

impl Check {
    /// A check of `kind` with keepalived's defaults.
    pub fn new(kind: CheckKind) -> Check {
        Check {
            kind,
            urls: Vec::new(),
            connect_ip: None,
            connect_port: None,
            bindto: None,
            connect_timeout: defaults::CONNECT_TIMEOUT,
            retry: kind.default_retry(),
            delay_before_retry: None,
            warmup: None,
            virtualhost: None,
            delay_loop: None,
            alpha: None,
            bind_port: None,
            bind_if: None,
            fwmark: None,
            log_all_failures: None,
            http_protocol: None,
            enable_sni: false,
            sni_name: None,
            fast_recovery: false,
            tls_compliant: false,
            payload: None,
            require_reply: None,
            min_reply_length: None,
            max_reply_length: None,
            dns_type: None,
            dns_name: None,
            helo_name: None,
            noted: Vec::new(),
        }
    }

    /// `delay_before_retry`, or keepalived's default for the kind (`None` for DNS_CHECK:
    /// it waits the delay_loop).
    pub fn delay_before_retry_or_default(&self) -> Option<Duration> {
        self.delay_before_retry
            .or(self.kind.default_delay_before_retry())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_as_keepalived_writes_them() {
        let codes: StatusCodes = "200-299 401 503".parse().unwrap();
        assert_eq!(codes.0, vec![(200, 299), (401, 401), (503, 503)]);
        assert_eq!(codes.to_string(), "200-299 401 503");
        assert!("99".parse::<StatusCodes>().is_err());
        assert!("300-200".parse::<StatusCodes>().is_err());
        assert!("2xx".parse::<StatusCodes>().is_err());
    }

    #[test]
    fn hex_with_wildcards() {
        let h = HexBytes::parse("0a  1X ff", true).unwrap();
        assert_eq!(h.as_str(), "0A 1X FF");
        assert_eq!(
            h.bytes_and_mask(),
            (vec![0x0a, 0x10, 0xff], vec![0xff, 0xf0, 0xff])
        );
        assert_eq!(
            HexBytes::parse("a b", false).unwrap().bytes_and_mask().0,
            vec![0x0a, 0x0b]
        );
        assert!(HexBytes::parse("0x", false).is_err());
        assert!(HexBytes::parse("", false).is_err());
    }
}
