//! What one probe found: a pass, or a failure with its reason in words an operator reads.

use std::fmt;
use std::time::Duration;

use crate::StatusCodes;

/// The result of one probe, as the I/O shell hands it to the [`crate::Checker`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeResult {
    Passed(Passed),
    Failed(Failure),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Passed {
    /// TCP_CHECK: the handshake completed.
    Connected,
    /// HTTP_GET/SSL_GET: the status (and the digest and regex, if any) matched.
    Http { status: u16 },
    /// PING_CHECK: the echo reply came.
    Echo,
    /// UDP_CHECK: a reply of this length (that matched, if a reply was required).
    Reply { len: usize },
    /// UDP_CHECK without `require_reply`: no ICMP error within `connect_timeout`.
    NoError,
    /// DNS_CHECK: a response with RCODE 0.
    Dns,
    /// SMTP_CHECK: 220 greeting, 250 to HELO, a reply to QUIT.
    Smtp,
}

impl fmt::Display for Passed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Passed::Connected => f.write_str("TCP connect succeeded"),
            Passed::Http { status } => write!(f, "HTTP status {status}"),
            Passed::Echo => f.write_str("ICMP echo reply"),
            Passed::Reply { len } => write!(f, "UDP reply of {len} bytes"),
            Passed::NoError => f.write_str("no ICMP error to the UDP datagram"),
            Passed::Dns => f.write_str("DNS response, RCODE 0"),
            Passed::Smtp => f.write_str("SMTP greeting, HELO and QUIT answered"),
        }
    }
}

/// Why a probe failed. Every variant is a failed attempt in keepalived's sense: it counts
/// toward `retry` and, once the retries are used up, takes the server down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The `bindto` address cannot be used (not configured, wrong family).
    Bind {
        addr: std::net::IpAddr,
        error: String,
    },
    /// RST to our SYN: nothing listens on the port.
    Refused,
    /// No route, host or network unreachable, and other connect errors.
    Connect(String),
    ConnectTimeout(Duration),
    /// The TLS handshake failed (SSL_GET).
    Tls(String),
    /// SSL_GET on a build without the `tls` feature.
    TlsUnavailable,
    /// A read or write of the exchange took longer than `connect_timeout`.
    Timeout {
        phase: Phase,
        after: Duration,
    },
    /// The whole exchange took longer than lvsfw allows one probe (see `probe`).
    TooSlow {
        limit: Duration,
    },
    /// The socket failed while sending or reading.
    Io {
        phase: Phase,
        error: String,
    },
    /// The connection closed before a byte of the response (keepalived: "no data received").
    NoResponse,
    /// The connection closed in the middle of the status line and headers.
    TruncatedHeader,
    HeaderTooLarge {
        limit: usize,
    },
    Malformed(String),
    Status {
        got: u16,
        expected: StatusCodes,
    },
    Digest {
        got: [u8; 16],
        expected: [u8; 16],
    },
    /// A body to digest, or to match a regex against that has not matched yet, was longer
    /// than we read (keepalived reads any length).
    BodyTooLarge {
        limit: usize,
    },
    /// The body did or did not match the `regex` (`matched`), against what was wanted.
    Regex {
        pattern: String,
        matched: bool,
    },
    /// PING_CHECK, DNS_CHECK, UDP_CHECK with `require_reply`: nothing came back in time.
    NoReply(Duration),
    /// An ICMP destination unreachable answered the datagram (UDP_CHECK, DNS_CHECK).
    Unreachable(Unreachable),
    /// The datagram could not be sent.
    Send(String),
    /// UDP_CHECK: a reply outside `min_reply_length`..=`max_reply_length`.
    ReplyLength {
        got: usize,
        min: u16,
        max: u16,
    },
    /// UDP_CHECK: the reply differs from `require_reply`'s bytes at this byte.
    ReplyMismatch {
        at: usize,
    },
    /// DNS_CHECK: a response with this nonzero RCODE (RFC 1035 §4.1.1).
    DnsRcode(u8),
    /// SMTP_CHECK: a reply with the wrong code (the reply's last line).
    SmtpReply {
        stage: SmtpStage,
        line: String,
    },
    /// SMTP_CHECK: the server closed the connection before its reply.
    SmtpClosed {
        stage: SmtpStage,
    },
    /// SMTP_CHECK: a reply line or a multi-line reply beyond RFC 5321's limits.
    SmtpLineTooLong {
        stage: SmtpStage,
    },
    /// The probe itself broke (a bug): counted as a failure rather than lost.
    Internal(String),
}

/// Which reply of SMTP_CHECK's dialogue a failure is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpStage {
    Greeting,
    Helo,
    Quit,
}

impl fmt::Display for SmtpStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SmtpStage::Greeting => "greeting",
            SmtpStage::Helo => "reply to HELO",
            SmtpStage::Quit => "reply to QUIT",
        })
    }
}

/// The ICMP destination unreachable code (RFC 792, RFC 4443 §3.1), as the kernel
/// reports it for a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unreachable {
    pub v6: bool,
    pub code: u8,
}

impl fmt::Display for Unreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match (self.v6, self.code) {
            (false, 0) | (true, 0) => "network unreachable",
            (false, 1) | (true, 3) => "host unreachable",
            (false, 3) | (true, 4) => "port unreachable",
            (false, 2) => "protocol unreachable",
            (false, 9 | 10 | 13) | (true, 1) => "administratively prohibited",
            _ => "destination unreachable",
        };
        write!(
            f,
            "ICMP{} {what} (code {})",
            if self.v6 { "v6" } else { "" },
            self.code
        )
    }
}

/// Which step of an HTTP exchange a timeout or I/O error hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The TLS handshake (SSL_GET).
    Handshake,
    Request,
    Response,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Handshake => "in the TLS handshake",
            Phase::Request => "sending the request",
            Phase::Response => "reading the response",
        })
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Bind { addr, error } => write!(f, "cannot bind to {addr}: {error}"),
            Failure::Refused => f.write_str("connection refused"),
            Failure::Connect(error) => write!(f, "connect failed: {error}"),
            Failure::ConnectTimeout(after) => {
                write!(f, "connect timeout after {}", Seconds(*after))
            }
            Failure::Tls(error) => write!(f, "TLS handshake failed: {error}"),
            Failure::TlsUnavailable => f.write_str("SSL_GET needs a build with TLS"),
            Failure::Timeout { phase, after } => {
                write!(f, "timeout {phase} after {}", Seconds(*after))
            }
            Failure::TooSlow { limit } => {
                write!(f, "no complete response within {}", Seconds(*limit))
            }
            Failure::Io { phase, error } => write!(f, "error {phase}: {error}"),
            Failure::NoResponse => f.write_str("connection closed without a response"),
            Failure::TruncatedHeader => f.write_str("connection closed inside the HTTP header"),
            Failure::HeaderTooLarge { limit } => {
                write!(f, "HTTP header larger than {limit} bytes")
            }
            Failure::Malformed(error) => write!(f, "malformed HTTP response: {error}"),
            Failure::Status { got, expected } => {
                write!(f, "HTTP status {got}, expected {expected}")
            }
            Failure::Digest { got, expected } => {
                write!(f, "MD5 digest {}, expected {}", Hex(got), Hex(expected))
            }
            Failure::BodyTooLarge { limit } => {
                write!(
                    f,
                    "body larger than the {limit} bytes read for a digest or regex"
                )
            }
            Failure::Regex { pattern, matched } => {
                let does = if *matched {
                    "matches"
                } else {
                    "does not match"
                };
                write!(f, "body {does} regex {pattern:?}")
            }
            Failure::NoReply(after) => write!(f, "no reply within {}", Seconds(*after)),
            Failure::Unreachable(unreachable) => write!(f, "{unreachable}"),
            Failure::Send(error) => write!(f, "send failed: {error}"),
            Failure::ReplyLength { got, min, max } => {
                write!(f, "reply of {got} bytes, expected {min} to {max}")
            }
            Failure::ReplyMismatch { at } => {
                write!(f, "reply differs from require_reply at byte {at}")
            }
            Failure::DnsRcode(rcode) => write!(
                f,
                "DNS response with RCODE {rcode} ({})",
                rcode_name(*rcode)
            ),
            Failure::SmtpReply { stage, line } => write!(f, "SMTP {stage}: {:?}", Printable(line)),
            Failure::SmtpClosed { stage } => {
                write!(f, "SMTP connection closed before the {stage}")
            }
            Failure::SmtpLineTooLong { stage } => write!(f, "SMTP {stage} too long"),
            Failure::Internal(error) => write!(f, "internal error: {error}"),
        }
    }
}

/// RFC 1035 §4.1.1 and RFC 2136 §2.2 names of the RCODEs a server gives a query.
fn rcode_name(rcode: u8) -> &'static str {
    match rcode {
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        _ => "other",
    }
}

/// A server's line as a message shows it: at most 120 characters.
struct Printable<'a>(&'a str);

impl fmt::Debug for Printable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let end = self
            .0
            .char_indices()
            .nth(120)
            .map_or(self.0.len(), |(i, _)| i);
        fmt::Debug::fmt(&self.0[..end], f)
    }
}

/// A duration the way keepalived's configuration writes it: seconds, with a fraction only
/// when there is one ("3 s", "0.25 s").
pub struct Seconds(pub Duration);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let micros = self.0.as_micros();
        let (whole, frac) = (micros / 1_000_000, micros % 1_000_000);
        if frac == 0 {
            write!(f, "{whole} s")
        } else {
            let digits = format!("{frac:06}");
            write!(f, "{whole}.{} s", digits.trim_end_matches('0'))
        }
    }
}

/// Lower-case hex, as `genhash` prints a digest.
pub struct Hex<'a>(pub &'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_as_an_operator_expects() {
        let status = Failure::Status {
            got: 503,
            expected: StatusCodes::from_ranges([200..=200]).unwrap(),
        };
        assert_eq!(status.to_string(), "HTTP status 503, expected 200");
        assert_eq!(
            Failure::ConnectTimeout(Duration::from_secs(3)).to_string(),
            "connect timeout after 3 s"
        );
        assert_eq!(
            Failure::Timeout {
                phase: Phase::Response,
                after: Duration::from_millis(1500)
            }
            .to_string(),
            "timeout reading the response after 1.5 s"
        );
        let digest = Failure::Digest {
            got: [0xab; 16],
            expected: [0x01; 16],
        };
        assert_eq!(
            digest.to_string(),
            format!(
                "MD5 digest {}, expected {}",
                "ab".repeat(16),
                "01".repeat(16)
            )
        );
    }

    #[test]
    fn seconds_drop_trailing_zeros() {
        assert_eq!(Seconds(Duration::from_millis(250)).to_string(), "0.25 s");
        assert_eq!(
            Seconds(Duration::from_micros(1_000_001)).to_string(),
            "1.000001 s"
        );
        assert_eq!(Seconds(Duration::ZERO).to_string(), "0 s");
    }
}
