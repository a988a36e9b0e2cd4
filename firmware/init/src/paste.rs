//! `config import` on the console: the pasted lines of a keepalived.conf, kept until a
//! line holding a single `.`, with a bound so a runaway paste cannot fill PID 1's memory.
//!
//! Pasted text does not go through the line editor: tabs are text here, not completion,
//! and nothing of it is kept in the history.

/// The largest keepalived.conf the console takes (a generated one with thousands of
/// real servers stays well below).
pub const MAX_PASTE: usize = 4 << 20;
/// The longest pasted line kept; a longer one abandons the import.
pub const MAX_LINE: usize = 4096;

#[derive(Debug, Default)]
pub struct Paste {
    text: String,
    too_big: bool,
    lines: LineBuffer,
    /// A certificate and its private key: only the PEM markers are echoed, so that the
    /// key does not go back out on the serial line (and into a console server's log).
    quiet: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Pasted {
    More,
    Done(String),
    TooBig,
    /// A line longer than [`MAX_LINE`].
    TooLong,
}

impl Paste {
    /// A paste whose lines are not echoed, but for the PEM markers.
    pub fn quiet() -> Paste {
        Paste {
            quiet: true,
            ..Paste::default()
        }
    }

    /// Takes one byte; says what it finished, and gives the line to echo when one ended.
    pub fn byte(&mut self, b: u8) -> (Pasted, Option<String>) {
        match self.lines.push(b) {
            None => (Pasted::More, None),
            Some(Line::TooLong) => (Pasted::TooLong, None),
            Some(Line::Text(line)) if self.quiet && !line.starts_with("-----") => {
                (self.line(&line), None)
            }
            Some(Line::Text(line)) => {
                let echo: String = line
                    .chars()
                    .map(|c| if c.is_control() && c != '\t' { '?' } else { c })
                    .collect();
                (self.line(&line), Some(echo))
            }
        }
    }

    fn line(&mut self, line: &str) -> Pasted {
        if line.trim() == "." {
            return if self.too_big {
                Pasted::TooBig
            } else {
                Pasted::Done(std::mem::take(&mut self.text))
            };
        }
        if self.text.len() + line.len() + 1 > MAX_PASTE {
            self.too_big = true;
            self.text = String::new();
        }
        if !self.too_big {
            self.text.push_str(line);
            self.text.push('\n');
        }
        Pasted::More
    }
}

/// Cuts bytes into lines of at most [`MAX_LINE`] bytes (CR, LF or CR LF end one).
#[derive(Debug, Default)]
pub struct LineBuffer {
    pending: Vec<u8>,
    overlong: bool,
    after_cr: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    Text(String),
    /// A line that was too long and was dropped whole.
    TooLong,
}

impl LineBuffer {
    pub fn push(&mut self, b: u8) -> Option<Line> {
        let after_cr = std::mem::replace(&mut self.after_cr, b == b'\r');
        match b {
            b'\n' if after_cr => None,
            b'\n' | b'\r' => {
                let line = if self.overlong {
                    Line::TooLong
                } else {
                    Line::Text(String::from_utf8_lossy(&self.pending).into_owned())
                };
                self.pending.clear();
                self.overlong = false;
                Some(line)
            }
            _ if self.overlong => None,
            _ if self.pending.len() >= MAX_LINE => {
                self.overlong = true;
                self.pending.clear();
                None
            }
            _ => {
                self.pending.push(b);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(p: &mut Paste, bytes: &[u8]) -> Vec<Pasted> {
        bytes
            .iter()
            .map(|&b| p.byte(b).0)
            .filter(|r| *r != Pasted::More)
            .collect()
    }

    #[test]
    fn lines_are_kept_until_a_single_dot() {
        let mut p = Paste::default();
        assert_eq!(
            feed(&mut p, b"global_defs {\r\n\tnotification_email\r}\n . \r"),
            vec![Pasted::Done(
                "global_defs {\n\tnotification_email\n}\n".into()
            )]
        );
    }

    #[test]
    fn pasted_lines_are_echoed_without_control_characters() {
        let mut p = Paste::default();
        let echoed: Vec<String> = b"\tweight 1\x1b[A\r"
            .iter()
            .filter_map(|&b| p.byte(b).1)
            .collect();
        assert_eq!(echoed, vec!["\tweight 1?[A".to_string()]);
    }

    #[test]
    fn a_paste_over_the_bound_is_refused_whole() {
        let mut p = Paste::default();
        let line = format!("{}\n", "x".repeat(1000));
        for _ in 0..(MAX_PASTE / 1000 + 1) {
            assert_eq!(feed(&mut p, line.as_bytes()), vec![]);
        }
        assert_eq!(feed(&mut p, b".\n"), vec![Pasted::TooBig]);
    }

    #[test]
    fn an_overlong_line_is_reported() {
        let mut p = Paste::default();
        let long = vec![b'x'; 100 * 1024];
        assert_eq!(feed(&mut p, &long), vec![]);
        assert_eq!(feed(&mut p, b"\n"), vec![Pasted::TooLong]);
    }
}
