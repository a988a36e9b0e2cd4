//! `config import` on the console: the pasted lines of a keepalived.conf, kept until a
//! line holding a single `.`, with a bound so a runaway paste cannot fill PID 1's memory.

/// The largest keepalived.conf the console takes (a generated one with thousands of
/// real servers stays well below).
pub const MAX_PASTE: usize = 4 << 20;

#[derive(Debug, Default)]
pub struct Paste {
    text: String,
    too_big: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Pasted {
    More,
    Done(String),
    TooBig,
}

impl Paste {
    pub fn line(&mut self, line: &str) -> Pasted {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_kept_until_a_single_dot() {
        let mut p = Paste::default();
        assert_eq!(p.line("global_defs {"), Pasted::More);
        assert_eq!(p.line("}"), Pasted::More);
        assert_eq!(p.line(" . "), Pasted::Done("global_defs {\n}\n".into()));
    }

    #[test]
    fn a_paste_over_the_bound_is_refused_whole() {
        let mut p = Paste::default();
        let line = "x".repeat(1000);
        for _ in 0..(MAX_PASTE / 1000 + 1) {
            assert_eq!(p.line(&line), Pasted::More);
        }
        assert_eq!(p.line("."), Pasted::TooBig);
    }
}
