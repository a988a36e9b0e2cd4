//! A sans-IO SMTP client for one mail (RFC 5321), plain as keepalived's: the caller
//! connects, feeds what the server sends to [`Session::receive`] and writes what it
//! returns. The dialogue is the minimal one of RFC 5321 section 3.3 / 4.3.2: greeting
//! 220, EHLO (HELO when the server does not know it, section 3.2) 250, MAIL FROM 250,
//! RCPT TO 250 per recipient, DATA 354, the message 250, QUIT 221.

use std::fmt;

/// Longest reply line taken, CRLF included (RFC 5321 4.5.3.1.5 says 512; some servers'
/// EHLO lines are longer, so a margin).
const MAX_LINE: usize = 2048;
/// Most lines in one multi-line reply (an EHLO lists one extension a line).
const MAX_REPLY_LINES: usize = 64;
/// Most of the server's reply text kept in an error.
const MAX_ERROR_TEXT: usize = 200;

/// What is sent in the envelope and as the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The name for EHLO/HELO.
    pub helo: String,
    /// The reverse path, a bare address (`root@lb1`).
    pub from: String,
    /// The forward paths, bare addresses.
    pub to: Vec<String>,
    /// The message (headers, blank line, body), lines ending in LF or CRLF; dot-stuffed
    /// and terminated here.
    pub message: String,
}

/// Where the dialogue is: the command whose reply is awaited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Greeting,
    Ehlo,
    Helo,
    MailFrom,
    /// Awaiting the reply to RCPT TO of recipient N (from 0).
    RcptTo(usize),
    Data,
    Message,
    Quit,
    Finished,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Greeting => f.write_str("greeting"),
            Step::Ehlo => f.write_str("EHLO"),
            Step::Helo => f.write_str("HELO"),
            Step::MailFrom => f.write_str("MAIL FROM"),
            Step::RcptTo(n) => write!(f, "RCPT TO (recipient {})", n + 1),
            Step::Data => f.write_str("DATA"),
            Step::Message => f.write_str("message"),
            Step::Quit => f.write_str("QUIT"),
            Step::Finished => f.write_str("end"),
        }
    }
}

/// Why a mail was not sent, and at which step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub step: Step,
    pub kind: ErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// The server answered with another code than the step expects.
    Refused { code: u16, text: String },
    /// A reply line that is not `DDD[ -]text` (RFC 5321 4.2).
    Malformed(String),
    /// A reply line or a multi-line reply beyond our bounds.
    TooLong,
    /// The server spoke before it was asked (no pipelining here).
    OutOfTurn,
    /// The connection closed before the mail was taken.
    Closed,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at {}: ", self.step)?;
        match &self.kind {
            ErrorKind::Refused { code, text } => write!(f, "the server replied {code} {text}"),
            ErrorKind::Malformed(line) => write!(f, "malformed reply {line:?}"),
            ErrorKind::TooLong => f.write_str("reply too long"),
            ErrorKind::OutOfTurn => f.write_str("the server sent a reply nobody asked for"),
            ErrorKind::Closed => f.write_str("the server closed the connection"),
        }
    }
}

/// What the caller does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Write these bytes, then read again.
    Send(Vec<u8>),
    /// Read more: the reply is not complete.
    Wait,
    /// The mail was taken and the session ended: close.
    Done,
    /// The mail was not taken: write [`QUIT`] (best effort, as keepalived does) and close.
    Failed(Error),
}

/// Sent after a failure, to leave politely.
pub const QUIT: &[u8] = b"QUIT\r\n";

/// One mail's dialogue.
pub struct Session {
    envelope: Envelope,
    step: Step,
    /// Bytes of a reply not complete yet.
    pending: Vec<u8>,
    /// Lines of the multi-line reply read so far.
    lines: usize,
    /// The server took the message (its 250 after the data): a QUIT that goes wrong
    /// afterwards does not undo that.
    delivered: bool,
}

impl Session {
    pub fn new(envelope: Envelope) -> Session {
        Session {
            envelope,
            step: Step::Greeting,
            pending: Vec::new(),
            lines: 0,
            delivered: false,
        }
    }

    pub fn step(&self) -> Step {
        self.step
    }

    /// The server's bytes, as they came (any split).
    pub fn receive(&mut self, bytes: &[u8]) -> Progress {
        if self.step == Step::Finished {
            return Progress::Done;
        }
        self.pending.extend_from_slice(bytes);
        loop {
            let Some(end) = self.pending.windows(2).position(|w| w == b"\r\n") else {
                if self.pending.len() > MAX_LINE {
                    return self.fail(ErrorKind::TooLong);
                }
                return Progress::Wait;
            };
            let line: Vec<u8> = self.pending.drain(..end + 2).take(end).collect();
            let line = String::from_utf8_lossy(&line).into_owned();
            let Some((code, last, text)) = parse_line(&line) else {
                return self.fail(ErrorKind::Malformed(printable(&line)));
            };
            if !last {
                self.lines += 1;
                if self.lines >= MAX_REPLY_LINES {
                    return self.fail(ErrorKind::TooLong);
                }
                continue;
            }
            self.lines = 0;
            if !self.pending.is_empty() {
                return self.fail(ErrorKind::OutOfTurn);
            }
            return self.reply(code, text);
        }
    }

    /// The connection closed (a read of 0 bytes).
    pub fn closed(&mut self) -> Progress {
        if self.delivered {
            self.step = Step::Finished;
            Progress::Done
        } else {
            self.fail(ErrorKind::Closed)
        }
    }

    /// The last line of a reply: its code decides the next step (RFC 5321 4.2: the
    /// code of the last line is the reply's).
    fn reply(&mut self, code: u16, text: &str) -> Progress {
        let expected = match self.step {
            Step::Greeting => 220,
            Step::Ehlo | Step::Helo | Step::MailFrom | Step::RcptTo(_) | Step::Message => 250,
            Step::Data => 354,
            Step::Quit => 221,
            Step::Finished => return Progress::Done,
        };
        // RFC 5321 4.1.4: a server that does not know EHLO says 500/502 (504, 550 seen
        // too); the client then uses HELO.
        if self.step == Step::Ehlo && matches!(code, 500 | 502 | 504 | 550) {
            self.step = Step::Helo;
            return self.command(format!("HELO {}\r\n", self.envelope.helo));
        }
        // RFC 5321 4.2.5: 251 ("will forward") takes a recipient as 250 does.
        let ok = code == expected || (matches!(self.step, Step::RcptTo(_)) && code == 251);
        if !ok {
            if self.step == Step::Quit && self.delivered {
                self.step = Step::Finished;
                return Progress::Done;
            }
            return self.fail(ErrorKind::Refused {
                code,
                text: printable(text),
            });
        }
        match self.step {
            Step::Greeting => {
                self.step = Step::Ehlo;
                self.command(format!("EHLO {}\r\n", self.envelope.helo))
            }
            Step::Ehlo | Step::Helo => {
                self.step = Step::MailFrom;
                self.command(format!("MAIL FROM:<{}>\r\n", self.envelope.from))
            }
            Step::MailFrom => self.rcpt(0),
            Step::RcptTo(n) if n + 1 < self.envelope.to.len() => self.rcpt(n + 1),
            Step::RcptTo(_) => {
                self.step = Step::Data;
                self.command("DATA\r\n".into())
            }
            Step::Data => {
                self.step = Step::Message;
                Progress::Send(dot_stuffed(&self.envelope.message))
            }
            Step::Message => {
                self.delivered = true;
                self.step = Step::Quit;
                Progress::Send(QUIT.to_vec())
            }
            Step::Quit | Step::Finished => {
                self.step = Step::Finished;
                Progress::Done
            }
        }
    }

    fn rcpt(&mut self, n: usize) -> Progress {
        let Some(to) = self.envelope.to.get(n) else {
            // No recipient: nothing to send; the caller never builds such a session.
            self.step = Step::Quit;
            return Progress::Send(QUIT.to_vec());
        };
        let line = format!("RCPT TO:<{to}>\r\n");
        self.step = Step::RcptTo(n);
        self.command(line)
    }

    fn command(&self, line: String) -> Progress {
        Progress::Send(line.into_bytes())
    }

    fn fail(&mut self, kind: ErrorKind) -> Progress {
        let error = Error {
            step: self.step,
            kind,
        };
        self.step = Step::Finished;
        self.pending.clear();
        Progress::Failed(error)
    }
}

/// `DDD text` (last line) or `DDD-text` (more follow), RFC 5321 4.2; `DDD` alone too.
fn parse_line(line: &str) -> Option<(u16, bool, &str)> {
    let bytes = line.as_bytes();
    if bytes.len() < 3 || !bytes[..3].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code: u16 = line[..3].parse().ok()?;
    if !(200..=599).contains(&code) {
        return None;
    }
    match bytes.get(3) {
        None => Some((code, true, "")),
        Some(b' ') => Some((code, true, &line[4..])),
        Some(b'-') => Some((code, false, &line[4..])),
        Some(_) => None,
    }
}

/// The server's text as it may go into a log: printable ASCII, bounded.
fn printable(text: &str) -> String {
    text.chars()
        .take(MAX_ERROR_TEXT)
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// The message as DATA sends it: every line ended by CRLF, a line that starts with a
/// dot gets one more (RFC 5321 4.5.2), and the end is CRLF "." CRLF (4.1.1.4).
pub fn dot_stuffed(message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 16);
    for line in message.lines() {
        if line.starts_with('.') {
            out.push(b'.');
        }
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(to: &[&str]) -> Envelope {
        Envelope {
            helo: "lb1".into(),
            from: "root@lb1".into(),
            to: to.iter().map(|s| s.to_string()).collect(),
            message: "Subject: hi\n\nbody\n".into(),
        }
    }

    fn sent(p: Progress) -> String {
        match p {
            Progress::Send(bytes) => String::from_utf8(bytes).unwrap(),
            other => panic!("expected bytes to send, got {other:?}"),
        }
    }

    fn failed(p: Progress) -> Error {
        match p {
            Progress::Failed(e) => e,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn a_whole_dialogue_with_two_recipients_and_a_multi_line_ehlo_reply() {
        let mut s = Session::new(envelope(&["a@example.com", "b@example.com"]));
        assert_eq!(sent(s.receive(b"220 mx ESMTP\r\n")), "EHLO lb1\r\n");
        // A multi-line reply split anywhere: only its last line counts.
        assert_eq!(s.receive(b"250-mx hello\r\n250-PIPE"), Progress::Wait);
        assert_eq!(
            sent(s.receive(b"LINING\r\n250 8BITMIME\r\n")),
            "MAIL FROM:<root@lb1>\r\n"
        );
        assert_eq!(
            sent(s.receive(b"250 ok\r\n")),
            "RCPT TO:<a@example.com>\r\n"
        );
        assert_eq!(
            sent(s.receive(b"250 ok\r\n")),
            "RCPT TO:<b@example.com>\r\n"
        );
        assert_eq!(sent(s.receive(b"251 forwarded\r\n")), "DATA\r\n");
        assert_eq!(
            sent(s.receive(b"354 go ahead\r\n")),
            "Subject: hi\r\n\r\nbody\r\n.\r\n"
        );
        assert_eq!(sent(s.receive(b"250 queued\r\n")), "QUIT\r\n");
        assert_eq!(s.receive(b"221 bye\r\n"), Progress::Done);
        assert_eq!(s.step(), Step::Finished);
    }

    #[test]
    fn a_server_without_ehlo_gets_helo() {
        let mut s = Session::new(envelope(&["a@example.com"]));
        sent(s.receive(b"220 old\r\n"));
        assert_eq!(sent(s.receive(b"502 what\r\n")), "HELO lb1\r\n");
        assert_eq!(sent(s.receive(b"250 hi\r\n")), "MAIL FROM:<root@lb1>\r\n");
    }

    #[test]
    fn each_refusal_names_its_step_and_the_server_s_reply() {
        let mut s = Session::new(envelope(&["a@example.com"]));
        let e = failed(s.receive(b"554 no service\r\n"));
        assert_eq!(e.step, Step::Greeting);
        assert_eq!(
            e.to_string(),
            "at greeting: the server replied 554 no service"
        );

        let mut s = Session::new(envelope(&["a@example.com", "nobody@example.com"]));
        sent(s.receive(b"220 x\r\n"));
        sent(s.receive(b"250 x\r\n"));
        sent(s.receive(b"250 x\r\n"));
        sent(s.receive(b"250 x\r\n"));
        let e = failed(s.receive(b"550-no such\r\n550 user\r\n"));
        assert_eq!(e.step, Step::RcptTo(1));
        assert_eq!(
            e.to_string(),
            "at RCPT TO (recipient 2): the server replied 550 user"
        );
        // Finished: nothing more is sent.
        assert_eq!(s.receive(b"250 late\r\n"), Progress::Done);

        let mut s = Session::new(envelope(&["a@example.com"]));
        for reply in ["220 x", "250 x", "250 x", "250 x"] {
            sent(s.receive(format!("{reply}\r\n").as_bytes()));
        }
        let e = failed(s.receive(b"451 try later\r\n"));
        assert_eq!(e.step, Step::Data);
    }

    #[test]
    fn the_message_refused_after_data_is_an_error_of_the_message_step() {
        let mut s = Session::new(envelope(&["a@example.com"]));
        for reply in ["220 x", "250 x", "250 x", "250 x", "354 x"] {
            sent(s.receive(format!("{reply}\r\n").as_bytes()));
        }
        let e = failed(s.receive(b"552 too big\r\n"));
        assert_eq!(e.step, Step::Message);
    }

    #[test]
    fn after_the_message_is_taken_a_bad_quit_still_counts_as_sent() {
        let mut s = Session::new(envelope(&["a@example.com"]));
        for reply in ["220 x", "250 x", "250 x", "250 x", "354 x", "250 x"] {
            sent(s.receive(format!("{reply}\r\n").as_bytes()));
        }
        assert_eq!(s.closed(), Progress::Done);

        let mut s = Session::new(envelope(&["a@example.com"]));
        sent(s.receive(b"220 x\r\n"));
        assert_eq!(failed(s.closed()).kind, ErrorKind::Closed);
    }

    #[test]
    fn malformed_long_and_unasked_replies_are_errors() {
        let mut s = Session::new(envelope(&["a@example.com"]));
        let e = failed(s.receive(b"hello\r\n"));
        assert!(matches!(e.kind, ErrorKind::Malformed(_)), "{e}");

        let mut s = Session::new(envelope(&["a@example.com"]));
        let e = failed(s.receive(b"22x ok\r\n"));
        assert!(matches!(e.kind, ErrorKind::Malformed(_)), "{e}");

        let mut s = Session::new(envelope(&["a@example.com"]));
        let e = failed(s.receive(&vec![b'2'; MAX_LINE + 1]));
        assert_eq!(e.kind, ErrorKind::TooLong);

        let mut s = Session::new(envelope(&["a@example.com"]));
        let many = "250-x\r\n".repeat(MAX_REPLY_LINES);
        let e = failed(s.receive(format!("220-hi\r\n{many}").as_bytes()));
        assert_eq!(e.kind, ErrorKind::TooLong);

        let mut s = Session::new(envelope(&["a@example.com"]));
        let e = failed(s.receive(b"220 hi\r\n250 extra\r\n"));
        assert_eq!(e.kind, ErrorKind::OutOfTurn);
    }

    #[test]
    fn reply_text_in_an_error_is_printable_and_bounded() {
        let mut s = Session::new(envelope(&["a@example.com"]));
        let long = "\u{7}x".repeat(400);
        let e = failed(s.receive(format!("554 {long}\r\n").as_bytes()));
        let ErrorKind::Refused { text, .. } = e.kind else {
            panic!("{e}")
        };
        assert_eq!(text.len(), MAX_ERROR_TEXT);
        assert!(text.starts_with("?x?x"));
    }

    #[test]
    fn dot_stuffing_doubles_leading_dots_and_ends_the_data() {
        assert_eq!(
            dot_stuffed("a\n.\n..b\r\nc.d\n"),
            b"a\r\n..\r\n...b\r\nc.d\r\n.\r\n".to_vec()
        );
        // A message without a final newline still ends with CRLF.CRLF.
        assert_eq!(dot_stuffed("x"), b"x\r\n.\r\n".to_vec());
    }
}
