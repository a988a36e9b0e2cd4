//! A small line editor for a VT100-style serial terminal (what QEMU's serial socket,
//! screen, minicom and PuTTY speak): insert, backspace, delete, ctrl-a/e/u/k/w, arrows,
//! home/end, history, and tab completion through a callback.
//!
//! Every key returns the bytes to write back; the whole line is redrawn after each edit
//! (`\r`, erase the line, prompt, text, cursor back), which costs a few dozen bytes and
//! keeps the terminal right whatever came before. The erase comes first so that the
//! prompt, the text and any characters echoed after it stay one unbroken run of bytes:
//! a transcript of the console (a test, a serial logger) reads as the screen does.

use std::collections::VecDeque;

/// The longest line kept; longer input is refused whole (`Input::TooLong`).
pub const MAX_LINE: usize = 4096;
/// Lines kept in the history.
pub const HISTORY: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Enter was pressed on this line.
    Line(String),
    /// ctrl-c: the line was abandoned.
    Interrupt,
    /// ctrl-d on an empty line.
    Eof,
    /// Enter ended a line that had grown past [`MAX_LINE`]; it was dropped.
    TooLong,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Escape {
    #[default]
    None,
    /// After ESC.
    Start,
    /// After ESC [ or ESC O, with any digits so far.
    Csi(u8),
}

#[derive(Debug, Default)]
pub struct Editor {
    prompt: String,
    line: Vec<char>,
    cursor: usize,
    overlong: bool,
    escape: Escape,
    history: VecDeque<String>,
    /// Position while walking the history; `None` is the line being typed.
    browsing: Option<usize>,
    /// The typed line, kept while browsing the history.
    draft: Vec<char>,
    after_cr: bool,
    /// Whether echo is on (off for passwords: nothing typed is shown).
    pub secret: bool,
    /// Lines are not kept in the history (pasted text, answers to questions).
    pub no_history: bool,
}

impl Editor {
    pub fn new(prompt: &str) -> Editor {
        Editor {
            prompt: prompt.to_string(),
            ..Editor::default()
        }
    }

    pub fn set_prompt(&mut self, prompt: &str) {
        self.prompt = prompt.to_string();
    }

    pub fn text(&self) -> String {
        self.line.iter().collect()
    }

    /// Whether anything has been typed on the current line (log lines wait for it).
    pub fn is_empty(&self) -> bool {
        self.line.is_empty() && !self.overlong
    }

    /// Forgets the line being typed (and any half-read escape sequence), as when a
    /// question is asked afresh.
    pub fn reset(&mut self) {
        self.reset_line();
        self.escape = Escape::None;
    }

    /// The prompt and the line as they should now appear, cursor in place.
    pub fn redraw(&self) -> String {
        let shown: String = if self.secret {
            String::new()
        } else {
            self.line.iter().collect()
        };
        let back = if self.secret {
            0
        } else {
            self.line.len() - self.cursor
        };
        let mut out = format!("\r\x1b[K{}{}", self.prompt, shown);
        if back > 0 {
            out.push_str(&format!("\x1b[{back}D"));
        }
        out
    }

    /// The prompt and the line at the start of a new line, where there is nothing to
    /// erase: no escape sequence, so a transcript shows the prompt as it is.
    pub fn fresh(&self) -> String {
        let mut out = self.redraw();
        out.replace_range(..4, "\r");
        out
    }

    /// Clears the current line so that a log line can be printed in its place; call
    /// [`Editor::redraw`] after it.
    pub fn clear(&self) -> &'static str {
        "\r\x1b[K"
    }

    /// Feeds one byte of input; returns a finished input, if any, and what to echo.
    pub fn feed(
        &mut self,
        byte: u8,
        complete: &dyn Fn(&str) -> Vec<String>,
    ) -> (Option<Input>, String) {
        let after_cr = std::mem::replace(&mut self.after_cr, byte == b'\r');
        match self.escape {
            Escape::Start => return (None, self.escape_start(byte)),
            Escape::Csi(n) => return (None, self.csi(n, byte)),
            Escape::None => {}
        }
        match byte {
            b'\n' if after_cr => (None, String::new()),
            b'\r' | b'\n' => self.enter(),
            0x1b => {
                self.escape = Escape::Start;
                (None, String::new())
            }
            0x03 => {
                self.reset_line();
                (Some(Input::Interrupt), format!("^C\r\n{}", self.redraw()))
            }
            0x04 if self.line.is_empty() => (Some(Input::Eof), String::new()),
            0x04 => (None, self.delete_at_cursor()),
            0x7f | 0x08 => (None, self.backspace()),
            0x01 => self.moved(0),
            0x05 => self.moved(self.line.len()),
            0x02 => self.moved(self.cursor.saturating_sub(1)),
            0x06 => self.moved((self.cursor + 1).min(self.line.len())),
            0x15 => {
                self.line.drain(..self.cursor);
                self.cursor = 0;
                (None, self.redraw())
            }
            0x0b => {
                self.line.truncate(self.cursor);
                (None, self.redraw())
            }
            0x17 => (None, self.delete_word()),
            0x0c => (None, format!("\x1b[H\x1b[2J{}", self.redraw())),
            b'\t' => (None, self.complete(complete)),
            b if (0x20..0x7f).contains(&b) => (None, self.insert(b as char)),
            _ => (None, String::new()),
        }
    }

    fn enter(&mut self) -> (Option<Input>, String) {
        let overlong = self.overlong;
        let text = self.text();
        self.reset_line();
        if overlong {
            return (Some(Input::TooLong), "\r\n".into());
        }
        let remember = !self.secret && !self.no_history;
        if !text.trim().is_empty() && remember && self.history.back() != Some(&text) {
            if self.history.len() == HISTORY {
                self.history.pop_front();
            }
            self.history.push_back(text.clone());
        }
        (Some(Input::Line(text)), "\r\n".into())
    }

    fn reset_line(&mut self) {
        self.line.clear();
        self.cursor = 0;
        self.overlong = false;
        self.browsing = None;
        self.draft.clear();
    }

    fn insert(&mut self, c: char) -> String {
        if self.line.len() >= MAX_LINE {
            self.overlong = true;
            return String::new();
        }
        self.line.insert(self.cursor, c);
        self.cursor += 1;
        if self.secret {
            String::new()
        } else if self.cursor == self.line.len() {
            c.to_string()
        } else {
            self.redraw()
        }
    }

    fn backspace(&mut self) -> String {
        if self.cursor == 0 {
            return String::new();
        }
        self.cursor -= 1;
        self.line.remove(self.cursor);
        self.redraw()
    }

    fn delete_at_cursor(&mut self) -> String {
        if self.cursor < self.line.len() {
            self.line.remove(self.cursor);
        }
        self.redraw()
    }

    fn delete_word(&mut self) -> String {
        let mut start = self.cursor;
        while start > 0 && self.line[start - 1] == ' ' {
            start -= 1;
        }
        while start > 0 && self.line[start - 1] != ' ' {
            start -= 1;
        }
        self.line.drain(start..self.cursor);
        self.cursor = start;
        self.redraw()
    }

    fn moved(&mut self, to: usize) -> (Option<Input>, String) {
        self.cursor = to;
        (None, self.redraw())
    }

    fn escape_start(&mut self, byte: u8) -> String {
        self.escape = match byte {
            b'[' | b'O' => Escape::Csi(0),
            _ => Escape::None,
        };
        String::new()
    }

    /// ESC [ A..D arrows, H/F home/end, 1~ 4~ home/end, 3~ delete (xterm and VT220).
    fn csi(&mut self, number: u8, byte: u8) -> String {
        if byte.is_ascii_digit() {
            self.escape = Escape::Csi(number.saturating_mul(10).saturating_add(byte - b'0'));
            return String::new();
        }
        self.escape = Escape::None;
        match (byte, number) {
            (b'A', _) => self.history_step(true),
            (b'B', _) => self.history_step(false),
            (b'C', _) => self.moved((self.cursor + 1).min(self.line.len())).1,
            (b'D', _) => self.moved(self.cursor.saturating_sub(1)).1,
            (b'H', _) | (b'~', 1) | (b'~', 7) => self.moved(0).1,
            (b'F', _) | (b'~', 4) | (b'~', 8) => self.moved(self.line.len()).1,
            (b'~', 3) => self.delete_at_cursor(),
            _ => String::new(),
        }
    }

    fn history_step(&mut self, older: bool) -> String {
        if self.history.is_empty() || self.secret || self.no_history {
            return String::new();
        }
        let next = match (self.browsing, older) {
            (None, true) => {
                self.draft = self.line.clone();
                Some(self.history.len() - 1)
            }
            (None, false) => return String::new(),
            (Some(0), true) => Some(0),
            (Some(i), true) => Some(i - 1),
            (Some(i), false) if i + 1 < self.history.len() => Some(i + 1),
            (Some(_), false) => None,
        };
        self.browsing = next;
        self.line = match next {
            Some(i) => self.history[i].chars().collect(),
            None => std::mem::take(&mut self.draft),
        };
        self.cursor = self.line.len();
        self.redraw()
    }

    /// Tab: completes the word before the cursor when there is one candidate, completes
    /// the common prefix when there are several and lists them.
    fn complete(&mut self, complete: &dyn Fn(&str) -> Vec<String>) -> String {
        if self.secret {
            return String::new();
        }
        let before: String = self.line[..self.cursor].iter().collect();
        let candidates = complete(&before);
        let word_start = before.rfind(' ').map_or(0, |i| i + 1);
        let typed = &before[word_start..];
        match candidates.as_slice() {
            [] => "\x07".into(),
            [only] => {
                let rest: String = only
                    .chars()
                    .skip(typed.chars().count())
                    .chain([' '])
                    .collect();
                for c in rest.chars() {
                    self.line.insert(self.cursor, c);
                    self.cursor += 1;
                }
                self.redraw()
            }
            many => {
                let common = common_prefix(many);
                for c in common.chars().skip(typed.chars().count()) {
                    self.line.insert(self.cursor, c);
                    self.cursor += 1;
                }
                format!("\r\n{}\r\n{}", many.join("  "), self.redraw())
            }
        }
    }
}

fn common_prefix(words: &[String]) -> String {
    let first = &words[0];
    let mut len = first.len();
    for w in &words[1..] {
        len = len.min(
            first
                .bytes()
                .zip(w.bytes())
                .take_while(|(a, b)| a == b)
                .count(),
        );
    }
    first[..len].to_string()
}

#[cfg(test)]
mod tests;
