//! HTTP_GET/SSL_GET `regex`: a pattern the response body must (or with `regex_no_match`
//! must not) match, its match starting within `regex_min_offset`..=`regex_max_offset`
//! bytes of the body. No I/O.
//!
//! keepalived (check_http.c `check_regex`, keepalived.conf(5) `url`) uses PCRE2 without
//! the UTF option: the body and the pattern are bytes, one character each, `\w`, `\d`,
//! `\s` and `caseless` are ASCII. lvsfw gets the same from regex-lite by reading every
//! byte, of the body and of the pattern, as the character of that number (ISO 8859-1):
//! "é" written in a UTF-8 keepalived.conf is the two bytes C3 A9 to PCRE2 and to lvsfw
//! alike, and `\xe9` is the one byte E9. With `regex_options utf` both are UTF-8 instead,
//! and a body that is not UTF-8 does not match, as PCRE2 reports an error for it.
//!
//! regex-lite has no look-around and no back-references; a pattern using them is refused
//! when the check is set. Without `multiline` and `dollar_endonly`, PCRE2's `$` also
//! matches before a newline that ends the body, regex-lite's only at the end: lvsfw also
//! searches the body without that newline.
//!
//! keepalived matches the whole body as it streams in; lvsfw keeps up to
//! [`MAX_REGEX_BODY`] bytes and fails a check whose body is longer and has not matched
//! by then, as it cannot know the rest.

use std::fmt;
use std::str::FromStr;

use regex_lite::{Regex, RegexBuilder};

use crate::outcome::Failure;
use crate::spec::SpecError;

/// The body kept for a regex: a health page is far smaller.
pub const MAX_REGEX_BODY: usize = 64 * 1024;
/// A bound on the compiled pattern (regex-lite's own default is larger).
const SIZE_LIMIT: usize = 1024 * 1024;

/// `regex`, its options and offsets, of one `url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegexCheck {
    pub pattern: String,
    /// `regex_options`.
    pub options: Vec<RegexOption>,
    /// `regex_no_match`: the check passes when the body does not match.
    pub no_match: bool,
    /// `regex_min_offset`: the earliest byte of the body a match may start at.
    pub min_offset: usize,
    /// `regex_max_offset`: the last byte of the body a match may start at.
    pub max_offset: Option<usize>,
}

impl RegexCheck {
    pub fn new(pattern: impl Into<String>) -> Self {
        RegexCheck {
            pattern: pattern.into(),
            options: Vec::new(),
            no_match: false,
            min_offset: 0,
            max_offset: None,
        }
    }

    fn has(&self, option: RegexOption) -> bool {
        self.options.contains(&option)
    }

    /// Compiles the pattern; refuses what regex-lite cannot match as PCRE2 would.
    pub fn compile(&self) -> Result<CompiledRegex, SpecError> {
        if let Some(option) = self.options.iter().find(|o| !o.is_supported()) {
            return Err(SpecError(format!(
                "regex_options {option} is not supported by lvsfw (it changes what PCRE2 \
                 reads in the pattern)"
            )));
        }
        if self.max_offset.is_some_and(|max| max < self.min_offset) {
            return Err(SpecError(format!(
                "regex_min_offset {} is beyond regex_max_offset {}",
                self.min_offset,
                self.max_offset.unwrap_or_default()
            )));
        }
        let utf = self.has(RegexOption::Utf);
        let pattern = if utf {
            self.pattern.clone()
        } else {
            latin1(self.pattern.as_bytes())
        };
        let regex = RegexBuilder::new(&pattern)
            .case_insensitive(self.has(RegexOption::Caseless))
            .dot_matches_new_line(self.has(RegexOption::Dotall))
            .ignore_whitespace(self.has(RegexOption::Extended))
            .multi_line(self.has(RegexOption::Multiline))
            .swap_greed(self.has(RegexOption::Ungreedy))
            .size_limit(SIZE_LIMIT)
            .build()
            .map_err(|e| SpecError(format!("regex {:?}: {e}", self.pattern)))?;
        let dollar_before_final_newline = self.pattern.contains('$')
            && !self.has(RegexOption::Multiline)
            && !self.has(RegexOption::DollarEndonly);
        Ok(CompiledRegex {
            regex,
            pattern: self.pattern.clone(),
            utf,
            no_match: self.no_match,
            min_offset: self.min_offset,
            max_offset: self.max_offset,
            firstline: self.has(RegexOption::Firstline),
            dollar_before_final_newline,
        })
    }
}

/// A pattern ready to judge bodies; built once per check.
#[derive(Debug, Clone)]
pub struct CompiledRegex {
    regex: Regex,
    /// As configured, for messages (the compiled one may be the ISO 8859-1 reading).
    pattern: String,
    utf: bool,
    no_match: bool,
    min_offset: usize,
    max_offset: Option<usize>,
    firstline: bool,
    dollar_before_final_newline: bool,
}

impl CompiledRegex {
    /// The verdict on a whole `body` (or its first [`MAX_REGEX_BODY`] bytes, when
    /// `truncated`).
    pub fn judge(&self, body: &[u8], truncated: bool) -> Result<(), Failure> {
        let matched = self.matches(body);
        if truncated && !matched {
            return Err(Failure::BodyTooLarge {
                limit: MAX_REGEX_BODY,
            });
        }
        if matched == self.no_match {
            return Err(Failure::Regex {
                pattern: self.pattern.clone(),
                matched,
            });
        }
        Ok(())
    }

    /// Whether a match starts within the offsets (keepalived: the leftmost match at or
    /// after `regex_min_offset` must start at or before `regex_max_offset`).
    fn matches(&self, body: &[u8]) -> bool {
        if self.min_offset > body.len() {
            return false;
        }
        let mut last_start = self.max_offset.unwrap_or(usize::MAX);
        if self.firstline {
            // PCRE2_FIRSTLINE: the match starts before or at the first newline.
            if let Some(newline) = body.iter().position(|b| *b == b'\n') {
                last_start = last_start.min(newline);
            }
        }
        let start = if self.utf {
            let Ok(text) = std::str::from_utf8(body) else {
                return false;
            };
            if !text.is_char_boundary(self.min_offset) {
                return false;
            }
            self.leftmost(text, self.min_offset)
        } else {
            let text = latin1(body);
            // Every byte from 0x80 up is two bytes of the text.
            let text_offset = |body_offset: usize| {
                body_offset + body[..body_offset].iter().filter(|b| **b >= 0x80).count()
            };
            self.leftmost(&text, text_offset(self.min_offset))
                .map(|start| text[..start].chars().count())
        };
        start.is_some_and(|start| start <= last_start)
    }

    /// The start of the leftmost match at or after `from`, both offsets into `text`.
    fn leftmost(&self, text: &str, from: usize) -> Option<usize> {
        let whole = self.regex.find_at(text, from).map(|m| m.start());
        let Some(short) = text.strip_suffix('\n') else {
            return whole;
        };
        if !self.dollar_before_final_newline || from > short.len() {
            return whole;
        }
        let before_newline = self.regex.find_at(short, from).map(|m| m.start());
        match (whole, before_newline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Each byte as the character of that number.
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|b| char::from(*b)).collect()
}

/// keepalived's `regex_options` words (check_http.c `regex_options`, PCRE2's options).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegexOption {
    AllowEmptyClass,
    AltBsux,
    AutoCallout,
    Caseless,
    DollarEndonly,
    Dotall,
    Dupnames,
    Extended,
    Firstline,
    MatchUnsetBackref,
    Multiline,
    NeverUcp,
    NeverUtf,
    NoAutoCapture,
    NoAutoPossess,
    NoDotstarAnchor,
    NoStartOptimize,
    Ucp,
    Ungreedy,
    Utf,
    NeverBackslashC,
    AltCircumflex,
    AltVerbnames,
    UseOffsetLimit,
}

impl RegexOption {
    pub const ALL: [RegexOption; 24] = [
        RegexOption::AllowEmptyClass,
        RegexOption::AltBsux,
        RegexOption::AutoCallout,
        RegexOption::Caseless,
        RegexOption::DollarEndonly,
        RegexOption::Dotall,
        RegexOption::Dupnames,
        RegexOption::Extended,
        RegexOption::Firstline,
        RegexOption::MatchUnsetBackref,
        RegexOption::Multiline,
        RegexOption::NeverUcp,
        RegexOption::NeverUtf,
        RegexOption::NoAutoCapture,
        RegexOption::NoAutoPossess,
        RegexOption::NoDotstarAnchor,
        RegexOption::NoStartOptimize,
        RegexOption::Ucp,
        RegexOption::Ungreedy,
        RegexOption::Utf,
        RegexOption::NeverBackslashC,
        RegexOption::AltCircumflex,
        RegexOption::AltVerbnames,
        RegexOption::UseOffsetLimit,
    ];

    pub fn keyword(self) -> &'static str {
        match self {
            RegexOption::AllowEmptyClass => "allow_empty_class",
            RegexOption::AltBsux => "alt_bsux",
            RegexOption::AutoCallout => "auto_callout",
            RegexOption::Caseless => "caseless",
            RegexOption::DollarEndonly => "dollar_endonly",
            RegexOption::Dotall => "dotall",
            RegexOption::Dupnames => "dupnames",
            RegexOption::Extended => "extended",
            RegexOption::Firstline => "firstline",
            RegexOption::MatchUnsetBackref => "match_unset_backref",
            RegexOption::Multiline => "multiline",
            RegexOption::NeverUcp => "never_ucp",
            RegexOption::NeverUtf => "never_utf",
            RegexOption::NoAutoCapture => "no_auto_capture",
            RegexOption::NoAutoPossess => "no_auto_possess",
            RegexOption::NoDotstarAnchor => "no_dotstar_anchor",
            RegexOption::NoStartOptimize => "no_start_optimize",
            RegexOption::Ucp => "ucp",
            RegexOption::Ungreedy => "ungreedy",
            RegexOption::Utf => "utf",
            RegexOption::NeverBackslashC => "never_backslash_c",
            RegexOption::AltCircumflex => "alt_circumflex",
            RegexOption::AltVerbnames => "alt_verbnames",
            RegexOption::UseOffsetLimit => "use_offset_limit",
        }
    }

    /// Options that change how PCRE2 reads a pattern in ways regex-lite does not follow
    /// (`[]` as a class, `\U` `\u` `\x` as in JavaScript, `^` after a final newline,
    /// Unicode properties for `\w`) are refused; the others either have their effect
    /// here or none on whether a body matches (optimisations, callouts, which regex-lite
    /// has not; `never_*` forbid what lvsfw does not do anyway).
    pub fn is_supported(self) -> bool {
        !matches!(
            self,
            RegexOption::AllowEmptyClass
                | RegexOption::AltBsux
                | RegexOption::AltCircumflex
                | RegexOption::Ucp
        )
    }
}

impl fmt::Display for RegexOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

impl FromStr for RegexOption {
    type Err = SpecError;

    fn from_str(word: &str) -> Result<Self, SpecError> {
        RegexOption::ALL
            .into_iter()
            .find(|o| o.keyword() == word)
            .ok_or_else(|| SpecError(format!("{word:?} is not one of keepalived's regex_options")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compiled(pattern: &str, options: &[RegexOption]) -> CompiledRegex {
        RegexCheck {
            options: options.to_vec(),
            ..RegexCheck::new(pattern)
        }
        .compile()
        .unwrap()
    }

    fn matches(pattern: &str, options: &[RegexOption], body: &[u8]) -> bool {
        compiled(pattern, options).matches(body)
    }

    #[test]
    fn a_match_passes_and_no_match_fails_unless_inverted() {
        let check = RegexCheck::new("status: (ok|degraded)");
        let regex = check.compile().unwrap();
        assert_eq!(regex.judge(b"{\"status: ok\"}", false), Ok(()));
        assert_eq!(
            regex.judge(b"status: down", false),
            Err(Failure::Regex {
                pattern: "status: (ok|degraded)".into(),
                matched: false
            })
        );
        let inverted = RegexCheck {
            no_match: true,
            ..check
        }
        .compile()
        .unwrap();
        assert_eq!(inverted.judge(b"status: down", false), Ok(()));
        assert!(inverted.judge(b"status: ok", false).is_err());
    }

    #[test]
    fn bodies_are_bytes_as_for_pcre2_without_utf() {
        // Not UTF-8: a Latin-1 page. `.` is one byte, \xe9 is the byte E9.
        assert!(matches(r"caf\xe9", &[], b"un caf\xe9"));
        assert!(matches(r"^a.b$", &[], b"a\xffb"));
        // A UTF-8 "é" in the pattern is the two bytes C3 A9, as in PCRE2.
        assert!(matches("café", &[], "un café".as_bytes()));
        assert!(!matches("caf.$", &[], "café".as_bytes()));
        assert!(matches("caf..$", &[], "café".as_bytes()));
        // With utf, a character is a character, and a body that is not UTF-8 never matches.
        assert!(matches("caf.$", &[RegexOption::Utf], "café".as_bytes()));
        assert!(!matches("caf", &[RegexOption::Utf], b"caf\xe9"));
    }

    #[test]
    fn options_become_regex_lite_flags() {
        assert!(!matches("HEALTHY", &[], b"healthy"));
        assert!(matches("HEALTHY", &[RegexOption::Caseless], b"healthy"));
        // caseless is ASCII only, as in PCRE2 without UTF.
        assert!(!matches(
            "\u{e9}",
            &[RegexOption::Caseless, RegexOption::Utf],
            "É".as_bytes()
        ));
        assert!(!matches("a.b", &[], b"a\nb"));
        assert!(matches("a.b", &[RegexOption::Dotall], b"a\nb"));
        assert!(!matches("^ok$", &[], b"x\nok\ny"));
        assert!(matches("^ok$", &[RegexOption::Multiline], b"x\nok\ny"));
        assert!(matches("o k # comment", &[RegexOption::Extended], b"ok"));
        assert!(matches("a+?b", &[RegexOption::Ungreedy], b"aab"));
    }

    #[test]
    fn dollar_also_matches_before_a_final_newline_as_in_pcre2() {
        assert!(matches("^OK$", &[], b"OK\n"));
        assert!(matches("OK$", &[], b"OK"));
        assert!(!matches("OK$", &[], b"OK\n\n"));
        assert!(!matches("^OK$", &[RegexOption::DollarEndonly], b"OK\n"));
    }

    #[test]
    fn the_match_must_start_between_the_offsets() {
        let body = b"0123456789 ok ok";
        let at = |min, max| {
            RegexCheck {
                min_offset: min,
                max_offset: max,
                ..RegexCheck::new("ok")
            }
            .compile()
            .unwrap()
            .matches(body)
        };
        assert!(at(0, None));
        assert!(at(11, Some(11)));
        assert!(!at(0, Some(10)));
        // The first match at or after the minimum is at 14, beyond the maximum 13.
        assert!(!at(12, Some(13)));
        assert!(at(12, None));
        assert!(!at(15, None));
        assert!(!at(100, None));
        // Offsets count bytes of the body, also past bytes from 0x80 up.
        let check = RegexCheck {
            min_offset: 3,
            max_offset: Some(3),
            ..RegexCheck::new("ok")
        };
        assert!(check.compile().unwrap().matches(b"\xe9\xe9\xe9ok"));
        assert!(!check.compile().unwrap().matches(b"\xe9\xe9\xe9xok"));
    }

    #[test]
    fn firstline_wants_the_match_to_start_in_the_first_line() {
        assert!(matches("ok", &[RegexOption::Firstline], b"xx ok\nok"));
        assert!(!matches("ok", &[RegexOption::Firstline], b"xx\nok"));
        // It may end after the newline.
        assert!(matches("x\nok", &[RegexOption::Firstline], b"xx\nok"));
    }

    #[test]
    fn a_long_body_that_has_not_matched_fails_as_undecided() {
        let regex = RegexCheck::new("ok").compile().unwrap();
        assert_eq!(
            regex.judge(b"nothing", true),
            Err(Failure::BodyTooLarge {
                limit: MAX_REGEX_BODY
            })
        );
        assert_eq!(regex.judge(b"ok", true), Ok(()));
    }

    #[test]
    fn what_regex_lite_cannot_do_is_refused_when_set() {
        for pattern in [r"(a)\1", "(?=a)b", "(", "a{5"] {
            let error = RegexCheck::new(pattern).compile().unwrap_err();
            assert!(
                error.0.starts_with(&format!("regex {pattern:?}: ")),
                "{error}"
            );
        }
        let check = RegexCheck {
            options: vec![RegexOption::Ucp],
            ..RegexCheck::new("a")
        };
        assert!(check.compile().unwrap_err().0.contains("regex_options ucp"));
        let check = RegexCheck {
            min_offset: 5,
            max_offset: Some(4),
            ..RegexCheck::new("a")
        };
        assert!(check.compile().is_err());
    }

    #[test]
    fn option_words_are_keepalived_s() {
        assert_eq!("caseless".parse::<RegexOption>(), Ok(RegexOption::Caseless));
        assert!("CASELESS".parse::<RegexOption>().is_err());
        for option in RegexOption::ALL {
            assert_eq!(option.keyword().parse::<RegexOption>(), Ok(option));
        }
    }
}
