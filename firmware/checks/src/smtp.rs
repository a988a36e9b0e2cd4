//! SMTP_CHECK's dialogue: greeting 220, `HELO helo_name`, 250, `QUIT`, a reply. No I/O:
//! the shell feeds what it reads and sends what this asks for.
//!
//! keepalived (check_smtp.c): reads the greeting and wants 220, sends `HELO <helo_name>`,
//! wants 250, sends `QUIT` and waits for any line in answer; a closed connection or a
//! timeout at any step fails the probe. keepalived judges the first line of each reply
//! only, so a multi-line reply (`220-...`, RFC 5321 §4.2.1) fails there; lvsfw reads a
//! reply to its last line, as the RFC says a client must, and judges its code.

use crate::outcome::{Failure, Passed, SmtpStage};
use crate::spec::SpecError;

/// keepalived's `helo_name` when none is given (check_smtp.h SMTP_DEFAULT_HELO).
pub const DEFAULT_HELO_NAME: &str = "smtpchecker.keepalived.org";
/// A reply line is at most 512 bytes with its CRLF (RFC 5321 §4.5.3.1.5); keepalived
/// reads into 512 bytes too.
pub const MAX_LINE: usize = 512;
/// The lines of one reply (a multi-line greeting or EHLO list is a few dozen).
pub const MAX_REPLY_LINES: usize = 64;
/// `helo_name` fits in a command line of 512 bytes (RFC 5321 §4.5.3.1.4).
pub const MAX_HELO_NAME: usize = 255;

/// One SMTP_CHECK (keepalived makes one per `host` block as well).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpCheck {
    pub helo_name: String,
}

impl Default for SmtpCheck {
    fn default() -> Self {
        SmtpCheck {
            helo_name: DEFAULT_HELO_NAME.into(),
        }
    }
}

impl SmtpCheck {
    pub fn validate(&self) -> Result<(), SpecError> {
        let name = &self.helo_name;
        if name.is_empty() || name.len() > MAX_HELO_NAME {
            return Err(SpecError(format!(
                "SMTP_CHECK helo_name must be 1 to {MAX_HELO_NAME} bytes"
            )));
        }
        if name.bytes().any(|b| b.is_ascii_control()) {
            return Err(SpecError(format!(
                "SMTP_CHECK helo_name {name:?} has a control character"
            )));
        }
        Ok(())
    }

    /// The HELO command, byte for byte.
    pub fn helo_command(&self) -> Vec<u8> {
        format!("HELO {}\r\n", self.helo_name).into_bytes()
    }
}

pub const QUIT: &[u8] = b"QUIT\r\n";

/// What the shell does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Read more and feed it.
    Read,
    /// Send the HELO command, then read.
    SendHelo,
    /// Send QUIT, then read.
    SendQuit,
    Done(Result<Passed, Failure>),
}

/// The dialogue of one probe.
#[derive(Debug)]
pub struct Dialogue {
    stage: SmtpStage,
    /// The line being read (without its end).
    line: [u8; MAX_LINE],
    len: usize,
    /// Lines of the current reply so far.
    lines: usize,
    done: bool,
}

impl Default for Dialogue {
    fn default() -> Self {
        Self::new()
    }
}

impl Dialogue {
    /// A dialogue at its start, waiting for the greeting.
    pub fn new() -> Self {
        Dialogue {
            stage: SmtpStage::Greeting,
            line: [0; MAX_LINE],
            len: 0,
            lines: 0,
            done: false,
        }
    }

    pub fn stage(&self) -> SmtpStage {
        self.stage
    }

    /// Takes the next bytes from the server. A server does not speak before it has heard
    /// us (RFC 5321 §4.3.1), so after a `Send*` whatever followed the reply in `data` is
    /// dropped, as keepalived drops it.
    pub fn feed(&mut self, data: &[u8]) -> Next {
        if self.done {
            return Next::Read;
        }
        for &byte in data {
            if byte != b'\n' {
                if self.len == MAX_LINE {
                    return self.finish(Err(Failure::SmtpLineTooLong { stage: self.stage }));
                }
                self.line[self.len] = byte;
                self.len += 1;
                continue;
            }
            let next = self.line_done();
            if next != Next::Read {
                return next;
            }
        }
        Next::Read
    }

    /// The stream ended before the dialogue did.
    pub fn end(&mut self) -> Result<Passed, Failure> {
        self.done = true;
        Err(Failure::SmtpClosed { stage: self.stage })
    }

    fn line_done(&mut self) -> Next {
        let mut line = &self.line[..self.len];
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        let parsed = parse_line(line);
        self.len = 0;
        let Some((code, last)) = parsed else {
            let text = String::from_utf8_lossy(line).into_owned();
            return self.finish(Err(Failure::SmtpReply {
                stage: self.stage,
                line: text,
            }));
        };
        self.lines += 1;
        if !last {
            if self.lines >= MAX_REPLY_LINES {
                return self.finish(Err(Failure::SmtpLineTooLong { stage: self.stage }));
            }
            return Next::Read;
        }
        self.lines = 0;
        let wanted = match self.stage {
            SmtpStage::Greeting => Some(220),
            SmtpStage::Helo => Some(250),
            // keepalived takes any reply to QUIT.
            SmtpStage::Quit => None,
        };
        if wanted.is_some_and(|wanted| wanted != code) {
            let text = String::from_utf8_lossy(line).into_owned();
            return self.finish(Err(Failure::SmtpReply {
                stage: self.stage,
                line: text,
            }));
        }
        match self.stage {
            SmtpStage::Greeting => {
                self.stage = SmtpStage::Helo;
                Next::SendHelo
            }
            SmtpStage::Helo => {
                self.stage = SmtpStage::Quit;
                Next::SendQuit
            }
            SmtpStage::Quit => self.finish(Ok(Passed::Smtp)),
        }
    }

    fn finish(&mut self, verdict: Result<Passed, Failure>) -> Next {
        self.done = true;
        Next::Done(verdict)
    }
}

/// A reply line (RFC 5321 §4.2): three digits, then a space, a hyphen (more lines follow)
/// or nothing. Returns the code and whether this is the reply's last line.
fn parse_line(line: &[u8]) -> Option<(u16, bool)> {
    let (digits, rest) = line.split_at_checked(3)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = digits
        .iter()
        .fold(0u16, |code, d| code * 10 + u16::from(d - b'0'));
    match rest.first() {
        None | Some(b' ') => Some((code, true)),
        Some(b'-') => Some((code, false)),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds the server's side in pieces of `step` bytes; returns what the client sent and
    /// the verdict.
    fn talk(server: &[&[u8]], step: usize) -> (Vec<&'static str>, Result<Passed, Failure>) {
        let mut dialogue = Dialogue::new();
        let mut sent = Vec::new();
        for reply in server {
            for piece in reply.chunks(step) {
                match dialogue.feed(piece) {
                    Next::Read => {}
                    Next::SendHelo => sent.push("HELO"),
                    Next::SendQuit => sent.push("QUIT"),
                    Next::Done(verdict) => return (sent, verdict),
                }
            }
        }
        (sent, dialogue.end())
    }

    const GOOD: [&[u8]; 3] = [
        b"220 mx.example.com ESMTP\r\n",
        b"250 mx.example.com\r\n",
        b"221 2.0.0 Bye\r\n",
    ];

    #[test]
    fn a_good_server_passes_in_any_chunking() {
        for step in [1, 3, 100] {
            assert_eq!(talk(&GOOD, step), (vec!["HELO", "QUIT"], Ok(Passed::Smtp)));
        }
    }

    #[test]
    fn the_helo_command_names_the_helo_name() {
        assert_eq!(
            SmtpCheck::default().helo_command(),
            b"HELO smtpchecker.keepalived.org\r\n"
        );
        assert!(SmtpCheck {
            helo_name: "a\r\nRCPT".into()
        }
        .validate()
        .is_err());
        assert!(SmtpCheck {
            helo_name: String::new()
        }
        .validate()
        .is_err());
        assert_eq!(SmtpCheck::default().validate(), Ok(()));
    }

    #[test]
    fn multi_line_replies_are_read_to_their_last_line() {
        let server: [&[u8]; 3] = [
            b"220-mx.example.com ESMTP\r\n220-no UCE\r\n220 ready\r\n",
            b"250 hello\r\n",
            b"221 bye\n",
        ];
        assert_eq!(talk(&server, 5), (vec!["HELO", "QUIT"], Ok(Passed::Smtp)));
        // A bare code with no text is a whole reply (RFC 5321 §4.2).
        let bare: [&[u8]; 3] = [b"220\r\n", b"250\r\n", b"221\r\n"];
        assert_eq!(talk(&bare, 2), (vec!["HELO", "QUIT"], Ok(Passed::Smtp)));
    }

    #[test]
    fn a_wrong_code_fails_at_its_stage_with_the_line() {
        let (sent, verdict) = talk(&[b"554 go away\r\n"], 4);
        assert!(sent.is_empty());
        assert_eq!(
            verdict,
            Err(Failure::SmtpReply {
                stage: SmtpStage::Greeting,
                line: "554 go away".into()
            })
        );
        let (sent, verdict) = talk(&[b"220 hi\r\n", b"501 syntax\r\n"], 100);
        assert_eq!(sent, ["HELO"]);
        assert_eq!(
            verdict,
            Err(Failure::SmtpReply {
                stage: SmtpStage::Helo,
                line: "501 syntax".into()
            })
        );
        // Any reply to QUIT will do, as for keepalived.
        let (_, verdict) = talk(&[b"220 hi\r\n", b"250 ok\r\n", b"500 what\r\n"], 100);
        assert_eq!(verdict, Ok(Passed::Smtp));
    }

    #[test]
    fn garbage_a_close_and_endless_lines_fail() {
        let (_, verdict) = talk(&[b"HTTP/1.0 400 Bad\r\n"], 100);
        assert!(
            matches!(verdict, Err(Failure::SmtpReply { .. })),
            "{verdict:?}"
        );
        let (_, verdict) = talk(&[b"22"], 100);
        assert_eq!(
            verdict,
            Err(Failure::SmtpClosed {
                stage: SmtpStage::Greeting
            })
        );
        let (_, verdict) = talk(&[b"220 hi\r\n", b"250 ok"], 100);
        assert_eq!(
            verdict,
            Err(Failure::SmtpClosed {
                stage: SmtpStage::Helo
            })
        );
        let long = vec![b'2'; MAX_LINE + 1];
        let (_, verdict) = talk(&[&long], 100);
        assert_eq!(
            verdict,
            Err(Failure::SmtpLineTooLong {
                stage: SmtpStage::Greeting
            })
        );
        let endless = b"220-more\r\n".repeat(MAX_REPLY_LINES);
        let (_, verdict) = talk(&[&endless], 1000);
        assert_eq!(
            verdict,
            Err(Failure::SmtpLineTooLong {
                stage: SmtpStage::Greeting
            })
        );
    }
}
