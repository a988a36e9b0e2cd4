//! Remote syslog's core, without I/O: which log line goes where, as what bytes.
//!
//! PID 1 sees every line of every process (its own, the balancer's, the kernel's), so it
//! forwards from there (`init::syslog` is the shell with the sockets). Here: a console
//! log line is taken apart ([`parse_line`]), given a source and severity, turned into an
//! RFC 5424 §6 message ([`format`]) and, for TCP, framed by octet counting (RFC 6587
//! §3.4.1, [`frame`]); each server has a [`Queue`] bounded in lines and bytes that drops
//! the oldest and counts what it dropped, so that a server that never reads costs a fixed
//! amount of memory and nothing else.

use std::collections::VecDeque;

use config::syslog::{Facility, Severity, Source};

/// One log line, taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line<'a> {
    pub source: Source,
    pub severity: Severity,
    pub message: &'a str,
}

/// syslog's severities by code (0 emergency .. 7 debug), beside the words
/// `init::kmsg::SEVERITY_PREFIX` writes for them (the logger's `error: ` and `warning: `
/// are the same words).
const SEVERITIES: [Severity; 8] = [
    Severity::Emerg,
    Severity::Alert,
    Severity::Crit,
    Severity::Err,
    Severity::Warning,
    Severity::Notice,
    Severity::Info,
    Severity::Debug,
];

/// `[    2.104000] balancer: warning: text` → its source, severity and text. The
/// balancer's lines are sorted further by what they are about (its web page, VRRP,
/// health checks). `None` for a line not in that form.
pub fn parse_line(line: &str) -> Option<Line<'_>> {
    let line = line.trim_end_matches('\n');
    let rest = line.strip_prefix('[')?;
    let (_, rest) = rest.split_once("] ")?;
    let (component, message) = rest.split_once(": ")?;
    // The firmware's logger writes `error: ` and `warning: `; PID 1 writes the kernel's
    // other severities too (init/kmsg.rs), in the same words.
    let (severity, message) = crate::kmsg::SEVERITY_PREFIX
        .iter()
        .zip(SEVERITIES)
        .filter(|(word, _)| !word.is_empty())
        .find_map(|(word, severity)| Some((severity, message.strip_prefix(word)?)))
        .unwrap_or((Severity::Info, message));
    let source = match component {
        "init" => Source::Init,
        "kernel" => Source::Kernel,
        "audit" => Source::Audit,
        "balancer" => about(message),
        _ => return None,
    };
    // The audit trail is what an operator must not miss.
    let severity = if source == Source::Audit {
        Severity::Notice
    } else {
        severity
    };
    Some(Line {
        source,
        severity,
        message,
    })
}

/// What a balancer line is about, from the words its writers start it with.
fn about(message: &str) -> Source {
    let first = message.split(' ').next().unwrap_or("");
    if message.starts_with("web: ") {
        Source::Web
    } else if message.starts_with("VRRP")
        || [" -> MASTER", " -> BACKUP", " -> FAULT", "-> INIT"]
            .iter()
            .any(|s| message.contains(s))
        || (first.ends_with(':') && message.contains(": effective priority"))
    {
        Source::Vrrp
    } else if message.starts_with("real server ")
        || message.contains("_CHECK")
        || message.contains("HTTP_GET")
        || message.contains("SSL_GET")
        || message.contains("MISC_CHECK")
    {
        Source::Checks
    } else {
        Source::Balancer
    }
}

/// RFC 5424 §6.2.3 TIMESTAMP of a wall-clock time (UTC, microseconds).
pub fn timestamp(unix_micros: u64) -> String {
    let c = ::status::time::Civil::from_unix(unix_micros / 1_000_000);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        c.year,
        c.month,
        c.day,
        c.hour,
        c.minute,
        c.second,
        unix_micros % 1_000_000
    )
}

/// RFC 5424 §6.1 header fields are PRINTUSASCII without spaces; anything else becomes
/// `-`'s meaning ("nil") or is cut, so that a bad hostname cannot break the frame.
fn header_field(text: &str, max: usize) -> String {
    let clean: String = text
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if clean.is_empty() {
        "-".into()
    } else {
        clean
    }
}

/// One RFC 5424 message: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG`. The
/// MSGID names the source (init, vrrp, audit, ...); STRUCTURED-DATA is nil; MSG is
/// UTF-8 without a BOM (§6.4 allows it) and one line.
pub fn format(
    facility: Facility,
    line: &Line<'_>,
    unix_micros: u64,
    hostname: &str,
    procid: u32,
) -> String {
    let pri = u16::from(facility.code()) * 8 + u16::from(line.severity.code());
    let message: String = line
        .message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!(
        "<{pri}>1 {} {} lvsfw {procid} {} - {}",
        timestamp(unix_micros),
        header_field(hostname, 255),
        line.source.name(),
        message.trim_end()
    )
}

/// RFC 6587 §3.4.1 octet counting: `MSG-LEN SP SYSLOG-MSG`.
pub fn frame(message: &str) -> Vec<u8> {
    let mut bytes = format!("{} ", message.len()).into_bytes();
    bytes.extend_from_slice(message.as_bytes());
    bytes
}

/// Messages waiting for one server, oldest first, at most [`Queue::MAX_LINES`] and
/// [`Queue::MAX_BYTES`]; beyond that the oldest go, and are counted.
#[derive(Debug, Default)]
pub struct Queue {
    waiting: VecDeque<Vec<u8>>,
    bytes: usize,
    pub dropped: u64,
    /// Bytes of the oldest message a stream has taken: while it is half sent it is
    /// never the one dropped (the receiver would get a broken frame, and the offset
    /// would point into another message).
    sent: usize,
}

impl Queue {
    pub const MAX_LINES: usize = 1000;
    pub const MAX_BYTES: usize = 256 << 10;

    pub fn push(&mut self, message: Vec<u8>) {
        self.bytes += message.len();
        self.waiting.push_back(message);
        while self.waiting.len() > Self::MAX_LINES || self.bytes > Self::MAX_BYTES {
            let oldest = usize::from(self.sent > 0);
            match self.waiting.remove(oldest) {
                Some(old) => {
                    self.bytes -= old.len();
                    self.dropped += 1;
                }
                None => break,
            }
        }
    }

    /// What is left to write of the oldest message.
    pub fn unsent(&self) -> Option<&[u8]> {
        self.waiting.front().map(|m| &m[self.sent.min(m.len())..])
    }

    /// A stream took `n` more bytes of the oldest message; once all, it is done.
    pub fn advance(&mut self, n: usize) {
        self.sent += n;
        if self.waiting.front().is_some_and(|m| self.sent >= m.len()) {
            self.pop();
        }
    }

    /// A new connection: the oldest message goes again from its start.
    pub fn resend_whole(&mut self) {
        self.sent = 0;
    }

    pub fn front(&self) -> Option<&[u8]> {
        self.waiting.front().map(Vec::as_slice)
    }

    pub fn pop(&mut self) {
        self.sent = 0;
        if let Some(old) = self.waiting.pop_front() {
            self.bytes -= old.len();
        }
    }

    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_sorted_by_source_and_severity() {
        let cases = [
            (
                "[    2.104000] balancer: interfaces up\n",
                Source::Balancer,
                Severity::Info,
            ),
            (
                "[ 9.0] balancer: VI_1: BACKUP -> MASTER",
                Source::Vrrp,
                Severity::Info,
            ),
            (
                "[ 9.0] balancer: warning: web: failed login from 10.0.0.1",
                Source::Web,
                Severity::Warning,
            ),
            (
                "[ 9.0] balancer: error: real server 1.2.3.4:80 of x: down (refused)",
                Source::Checks,
                Severity::Err,
            ),
            (
                "[ 9.0] init: loaded 33 kernel modules",
                Source::Init,
                Severity::Info,
            ),
            (
                "[ 9.0] kernel: e1000: link up",
                Source::Kernel,
                Severity::Info,
            ),
            (
                "[ 9.0] audit: console: login",
                Source::Audit,
                Severity::Notice,
            ),
            // The kernel's own severity, as PID 1 writes it from /dev/kmsg.
            (
                "[ 9.0] kernel: critical: Out of memory",
                Source::Kernel,
                Severity::Crit,
            ),
            (
                "[ 9.0] kernel: emergency: boom",
                Source::Kernel,
                Severity::Emerg,
            ),
            (
                "[ 9.0] kernel: notice: e1000: link up",
                Source::Kernel,
                Severity::Notice,
            ),
            (
                "[ 9.0] kernel: debug: probing",
                Source::Kernel,
                Severity::Debug,
            ),
        ];
        for (text, source, severity) in cases {
            let line = parse_line(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!((line.source, line.severity), (source, severity), "{text}");
        }
        assert_eq!(parse_line("PING 10.0.0.1: 4 requests"), None);
        assert_eq!(parse_line("[ 1.0] other: x"), None);
    }

    #[test]
    fn a_message_is_rfc5424() {
        let line = parse_line("[ 9.0] balancer: VI_1: BACKUP -> MASTER").unwrap();
        // 2026-12-05 00:20:30.000123 UTC
        let at = 1_796_430_030_000_123;
        assert_eq!(
            format(Facility::Local0, &line, at, "lb1", 1),
            "<134>1 2026-12-05T00:20:30.000123Z lb1 lvsfw 1 vrrp - VI_1: BACKUP -> MASTER"
        );
        let audit = parse_line("[ 9.0] audit: console: login\r\n").unwrap();
        assert_eq!(
            format(Facility::Daemon, &audit, 0, "my host", 1),
            "<29>1 1970-01-01T00:00:00.000000Z myhost lvsfw 1 audit - console: login"
        );
        assert_eq!(frame("<29>1 x"), b"7 <29>1 x");
    }

    #[test]
    fn a_queue_drops_the_oldest_and_counts() {
        let mut q = Queue::default();
        for n in 0..Queue::MAX_LINES + 7 {
            q.push(format!("m{n}").into_bytes());
        }
        assert_eq!(q.len(), Queue::MAX_LINES);
        assert_eq!(q.dropped, 7);
        assert_eq!(q.front(), Some(&b"m7"[..]));
        q.push(vec![b'x'; Queue::MAX_BYTES]);
        assert_eq!(q.len(), 1);
        assert!(q.bytes() <= Queue::MAX_BYTES);
        q.pop();
        assert!(q.is_empty() && q.bytes() == 0);
    }

    #[test]
    fn a_message_half_written_to_a_stream_is_not_dropped_under_it() {
        // PID 1 panicked in CI when the queue dropped the message whose first bytes TCP
        // had taken and the next, shorter one was sliced at the old offset.
        let mut q = Queue::default();
        q.push(vec![b'a'; 100]);
        q.advance(91);
        for n in 0..Queue::MAX_LINES + 5 {
            q.push(format!("m{n}").into_bytes());
        }
        assert_eq!(q.unsent(), Some(&[b'a'; 9][..]));
        assert_eq!(q.len(), Queue::MAX_LINES);
        q.advance(9);
        // The oldest of the rest that were kept comes next, whole.
        assert_eq!(q.unsent(), Some(&b"m6"[..]));
        q.advance(1);
        q.resend_whole();
        assert_eq!(q.unsent(), Some(&b"m6"[..]));
    }
}
