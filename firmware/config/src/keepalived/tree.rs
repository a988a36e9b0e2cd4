//! keepalived.conf as keepalived reads it: a line is a keyword and its arguments, `{`
//! opens a block of statements and `}` closes it, `!` and `#` start comments, "…" quotes
//! a word with spaces. Every word keeps its file, line and column for error messages.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::Issues;

/// Where a word is: `file:line:col` (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pos {
    pub file: Arc<PathBuf>,
    pub line: usize,
    pub col: usize,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stmt {
    pub keyword: Word,
    pub args: Vec<Word>,
    pub block: Option<Vec<Stmt>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(Word),
    Open(Pos),
    Close(Pos),
    Newline,
}

/// Files included at most this deep (keepalived stops runaway include loops too).
const MAX_INCLUDE_DEPTH: usize = 8;
/// The most words a configuration may hold, included files counted.
pub const MAX_WORDS: usize = 4_000_000;
/// Blocks inside blocks: keepalived's deepest is 4 (virtual_server, real_server, HTTP_GET,
/// url). The limit keeps the recursive parser's stack small whatever the input.
pub const MAX_NESTING: usize = 16;

/// Tokens straight from the text, a line at a time: no token list is built, so a large
/// configuration goes through the lexer and the parser in one pass.
struct Lexer<'t> {
    lines: std::iter::Enumerate<std::str::Lines<'t>>,
    /// The line being read, its number (1-based) and what is left of it.
    line: Option<(usize, &'t str)>,
    /// Byte offset and column (1-based, in characters) of the rest of the line.
    at: usize,
    col: usize,
    file: Arc<PathBuf>,
    words: usize,
}

impl<'t> Lexer<'t> {
    fn new(text: &'t str, file: &Arc<PathBuf>) -> Self {
        Lexer {
            lines: text.lines().enumerate(),
            line: None,
            at: 0,
            col: 1,
            file: Arc::clone(file),
            words: 0,
        }
    }

    fn pos(&self, line: usize, col: usize) -> Pos {
        Pos {
            file: Arc::clone(&self.file),
            line,
            col,
        }
    }

    /// Moves past `c`, which starts at the current place.
    fn advance(&mut self, c: char) {
        self.at += c.len_utf8();
        self.col += 1;
    }

    fn next(&mut self, issues: &mut Issues) -> Option<Token> {
        let (n, text) = match self.line {
            Some(line) => line,
            None => {
                let (n, text) = self.lines.next()?;
                self.line = Some((n + 1, text));
                self.at = 0;
                self.col = 1;
                (n + 1, text)
            }
        };
        loop {
            let Some(c) = text[self.at..].chars().next() else {
                self.line = None;
                return Some(Token::Newline);
            };
            let col = self.col;
            match c {
                c if c.is_whitespace() => {
                    // Runs of blanks (indentation) in one step.
                    let rest = &text[self.at..];
                    let skipped = rest.len() - rest.trim_start().len();
                    self.col += rest[..skipped].chars().count();
                    self.at += skipped;
                }
                '!' | '#' => {
                    self.line = None;
                    return Some(Token::Newline);
                }
                '{' => {
                    self.advance(c);
                    return Some(Token::Open(self.pos(n, col)));
                }
                '}' => {
                    self.advance(c);
                    return Some(Token::Close(self.pos(n, col)));
                }
                '"' => {
                    let start = self.at + 1;
                    let Some(len) = text[start..].find('"') else {
                        issues.push(self.pos(n, col).to_string(), "unterminated quoted string");
                        self.line = None;
                        return Some(Token::Newline);
                    };
                    let word = &text[start..start + len];
                    self.at = start + len + 1;
                    self.col += word.chars().count() + 2;
                    return self.word(word, n, col, issues);
                }
                _ => {
                    let start = self.at;
                    let len = text[start..]
                        .find(|c: char| c.is_whitespace() || matches!(c, '{' | '}' | '!' | '#'))
                        .unwrap_or(text.len() - start);
                    let word = &text[start..start + len];
                    self.at = start + len;
                    self.col += word.chars().count();
                    return self.word(word, n, col, issues);
                }
            }
        }
    }

    fn word(&mut self, text: &str, line: usize, col: usize, issues: &mut Issues) -> Option<Token> {
        self.words += 1;
        if self.words > MAX_WORDS {
            if self.words == MAX_WORDS + 1 {
                issues.push(
                    self.file.display().to_string(),
                    format!("more than {MAX_WORDS} words"),
                );
            }
            return None;
        }
        Some(Token::Word(Word {
            text: text.to_string(),
            pos: self.pos(line, col),
        }))
    }
}

/// Reads `path` (and what it includes) into statements; every problem goes to `issues`.
pub fn read_file(path: &Path, issues: &mut Issues) -> Vec<Stmt> {
    read_depth(path, None, 0, issues)
}

/// Reads configuration text that came from somewhere other than a file (a pasted
/// keepalived.conf); `name` stands for the file in messages. It may not include files:
/// whoever pastes would read the appliance's files through the error messages, or
/// block the reader on a special file.
pub fn read_text(text: &str, name: &str, issues: &mut Issues) -> Vec<Stmt> {
    let file = Arc::new(PathBuf::from(name));
    parse_block(&mut Lexer::new(text, &file), None, 0, PASTED, issues)
}

/// The include depth that marks pasted text: no include is followed from it.
const PASTED: usize = usize::MAX;

fn read_depth(path: &Path, from: Option<&Pos>, depth: usize, issues: &mut Issues) -> Vec<Stmt> {
    let where_ = from.map_or(path.display().to_string(), |p| p.to_string());
    if depth > MAX_INCLUDE_DEPTH {
        issues.push(
            where_,
            format!("includes nested deeper than {MAX_INCLUDE_DEPTH} (a loop?)"),
        );
        return Vec::new();
    }
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            issues.push(where_, format!("cannot read {}: {e}", path.display()));
            return Vec::new();
        }
    };
    let file = Arc::new(path.to_path_buf());
    parse_block(&mut Lexer::new(&text, &file), None, 0, depth, issues)
}

/// Skips a block opened at `pos` that is nested too deeply, without recursion.
fn skip_block(tokens: &mut Lexer, pos: &Pos, issues: &mut Issues) {
    issues.push(
        pos.to_string(),
        format!("blocks nested deeper than {MAX_NESTING}"),
    );
    let mut open = 1usize;
    while let Some(token) = tokens.next(issues) {
        match token {
            Token::Open(_) => open += 1,
            Token::Close(_) => {
                open -= 1;
                if open == 0 {
                    return;
                }
            }
            _ => {}
        }
    }
    issues.push(pos.to_string(), "'{' is never closed");
}

fn parse_block(
    tokens: &mut Lexer,
    opened: Option<&Pos>,
    nesting: usize,
    depth: usize,
    issues: &mut Issues,
) -> Vec<Stmt> {
    let mut stmts: Vec<Stmt> = Vec::new();
    let mut current: Option<Stmt> = None;
    while let Some(token) = tokens.next(issues) {
        match token {
            Token::Word(w) => match current.as_mut() {
                Some(stmt) => stmt.args.push(w),
                None => {
                    current = Some(Stmt {
                        keyword: w,
                        args: Vec::new(),
                        block: None,
                    })
                }
            },
            Token::Newline => finish(&mut current, &mut stmts, depth, issues),
            Token::Open(pos) if nesting == MAX_NESTING => {
                skip_block(tokens, &pos, issues);
                current = None;
            }
            Token::Open(pos) => {
                let block = parse_block(tokens, Some(&pos), nesting + 1, depth, issues);
                match current.as_mut() {
                    Some(stmt) => stmt.block = Some(block),
                    // keepalived takes the `{` on the line after its keyword too.
                    None => match stmts.last_mut() {
                        Some(previous) if previous.block.is_none() => previous.block = Some(block),
                        _ => issues.push(pos.to_string(), "a block must follow a keyword"),
                    },
                }
                finish(&mut current, &mut stmts, depth, issues);
            }
            Token::Close(pos) => {
                finish(&mut current, &mut stmts, depth, issues);
                if opened.is_none() {
                    issues.push(pos.to_string(), "'}' without a matching '{'");
                    continue;
                }
                return stmts;
            }
        }
    }
    finish(&mut current, &mut stmts, depth, issues);
    if let Some(pos) = opened {
        issues.push(pos.to_string(), "'{' is never closed");
    }
    stmts
}

fn finish(current: &mut Option<Stmt>, stmts: &mut Vec<Stmt>, depth: usize, issues: &mut Issues) {
    let Some(stmt) = current.take() else { return };
    if let Some(what) = directive(&stmt.keyword.text) {
        issues.push(
            stmt.keyword.pos.to_string(),
            format!("{}: {what} is not supported: write the values out (lvsfw reads one configuration per appliance)", stmt.keyword.text),
        );
        return;
    }
    if stmt.keyword.text == "include" && stmt.block.is_none() && depth == PASTED {
        issues.push(
            stmt.keyword.pos.to_string(),
            "include is not allowed in pasted text (it would read the appliance's files): paste the included text itself",
        );
    } else if stmt.keyword.text == "include" && stmt.block.is_none() {
        match stmt.args.as_slice() {
            [pattern] => stmts.extend(include(pattern, depth, issues)),
            _ => issues.push(
                stmt.keyword.pos.to_string(),
                "include: expected one file or pattern",
            ),
        }
    } else {
        stmts.push(stmt);
    }
}

/// keepalived's parser directives other than include: conditional lines (`@ID`, `@^ID`),
/// definitions (`$NAME=VALUE`), sequences (`~SEQ(...)`, `~LST(...)`).
fn directive(word: &str) -> Option<&'static str> {
    match word.chars().next()? {
        '@' => Some("a line for keepalived's config id (-i)"),
        '$' => Some("a keepalived definition ($NAME=VALUE)"),
        '~' => Some("a keepalived sequence (~SEQ, ~LST)"),
        _ => None,
    }
}

/// keepalived's `include`: a glob, relative to the including file's folder; files in
/// name order. A pattern that matches nothing is an error (a typo would drop a block).
fn include(pattern: &Word, depth: usize, issues: &mut Issues) -> Vec<Stmt> {
    let base = pattern
        .pos
        .file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let full = if Path::new(&pattern.text).is_absolute() {
        PathBuf::from(&pattern.text)
    } else {
        base.join(&pattern.text)
    };
    let paths = glob_files(&full);
    if paths.is_empty() {
        issues.push(
            pattern.pos.to_string(),
            format!("include {}: no such file", pattern.text),
        );
        return Vec::new();
    }
    paths
        .iter()
        .flat_map(|p| read_depth(p, Some(&pattern.pos), depth + 1, issues))
        .collect()
}

/// `*` and `?` in the last component of `pattern`.
fn glob_files(pattern: &Path) -> Vec<PathBuf> {
    let Some(name) = pattern
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
    else {
        return Vec::new();
    };
    if !name.contains(['*', '?']) {
        return if pattern.is_file() {
            vec![pattern.to_path_buf()]
        } else {
            Vec::new()
        };
    }
    let dir = pattern.parent().unwrap_or(Path::new("."));
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| wildcard(&name, &e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found
}

fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // dp[j]: pattern[..i] matches text[..j]
    let mut dp = vec![false; t.len() + 1];
    dp[0] = true;
    for &pc in &p {
        let mut next = vec![false; t.len() + 1];
        if pc == '*' {
            let mut any = false;
            for j in 0..=t.len() {
                any |= dp[j];
                next[j] = any;
            }
        } else {
            for j in 1..=t.len() {
                next[j] = dp[j - 1] && (pc == '?' || pc == t[j - 1]);
            }
        }
        dp = next;
    }
    dp[t.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Vec<Stmt>, Vec<String>) {
        let mut issues = Issues::default();
        let stmts = read_text(text, "k.conf", &mut issues);
        (stmts, issues.iter().map(|i| i.to_string()).collect())
    }

    fn shape(stmts: &[Stmt]) -> String {
        stmts
            .iter()
            .map(|s| {
                let mut out = s.keyword.text.clone();
                for a in &s.args {
                    out.push(' ');
                    out.push_str(&a.text);
                }
                if let Some(b) = &s.block {
                    out.push_str(&format!(" {{{}}}", shape(b)));
                }
                out
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    #[test]
    fn blocks_lines_comments_and_quotes() {
        let (stmts, issues) = parse(
            "! comment\nvrrp_instance VI_1 { # trailing\n  state MASTER\n  authentication {\n    auth_type PASS\n    auth_pass \"a b\" }\n}\n",
        );
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(
            shape(&stmts),
            "vrrp_instance VI_1 {state MASTER; authentication {auth_type PASS; auth_pass a b}}"
        );
        assert_eq!(
            stmts[0].block.as_ref().unwrap()[0].keyword.pos.to_string(),
            "k.conf:3:3"
        );
    }

    #[test]
    fn one_line_blocks_hold_one_statement_a_line() {
        let (stmts, _) = parse("virtual_ipaddress { 192.168.0.100 dev eth2 }\n");
        assert_eq!(shape(&stmts), "virtual_ipaddress {192.168.0.100 dev eth2}");
    }

    #[test]
    fn a_brace_on_the_next_line_opens_the_keyword_s_block() {
        let (stmts, issues) = parse("virtual_server 10.0.0.1 80\n{\n  lb_algo rr\n}\nnext\n");
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(
            shape(&stmts),
            "virtual_server 10.0.0.1 80 {lb_algo rr}; next"
        );
        let (_, issues) = parse("{\n}\n");
        assert_eq!(issues, vec!["k.conf:1:1: a block must follow a keyword"]);
    }

    #[test]
    fn keepalived_s_other_directives_are_refused_with_their_place() {
        let (_, issues) = parse("@high net_namespace high\n$IF=eth0\n~SEQ(n,1,3) x\n");
        assert_eq!(issues.len(), 3, "{issues:?}");
        assert!(
            issues[0].starts_with("k.conf:1:1: @high: a line for keepalived's config id"),
            "{issues:?}"
        );
        assert!(
            issues[1].starts_with("k.conf:2:1: $IF=eth0: a keepalived definition"),
            "{issues:?}"
        );
    }

    #[test]
    fn unbalanced_braces_and_quotes_are_reported_with_their_place() {
        let (_, issues) = parse("a {\n b\n");
        assert_eq!(issues, vec!["k.conf:1:3: '{' is never closed"]);
        let (_, issues) = parse("a\n}\n");
        assert_eq!(issues, vec!["k.conf:2:1: '}' without a matching '{'"]);
        let (_, issues) = parse("a \"b\n");
        assert_eq!(issues, vec!["k.conf:1:3: unterminated quoted string"]);
    }

    #[test]
    fn includes_are_relative_to_the_including_file_and_globbed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("conf.d")).unwrap();
        std::fs::write(dir.path().join("conf.d/b.conf"), "second\n").unwrap();
        std::fs::write(dir.path().join("conf.d/a.conf"), "first\n").unwrap();
        std::fs::write(dir.path().join("conf.d/skip.txt"), "no\n").unwrap();
        std::fs::write(
            dir.path().join("main.conf"),
            "include conf.d/*.conf\nlast\ninclude missing.conf\n",
        )
        .unwrap();
        let mut issues = Issues::default();
        let stmts = read_file(&dir.path().join("main.conf"), &mut issues);
        assert_eq!(shape(&stmts), "first; second; last");
        let messages: Vec<String> = issues.iter().map(|i| i.to_string()).collect();
        assert_eq!(messages.len(), 1);
        assert!(
            messages[0].ends_with("main.conf:3:9: include missing.conf: no such file"),
            "{messages:?}"
        );
    }

    #[test]
    fn an_include_loop_stops() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("self.conf"), "include self.conf\n").unwrap();
        let mut issues = Issues::default();
        read_file(&dir.path().join("self.conf"), &mut issues);
        assert!(
            issues.iter().any(|i| i.message.contains("deeper than")),
            "{issues:?}"
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let text = "a {\n".repeat(200_000) + &"}\n".repeat(200_000);
        let (stmts, issues) = parse(&text);
        assert_eq!(issues, vec!["k.conf:17:3: blocks nested deeper than 16"]);
        assert_eq!(stmts.len(), 1);
        let (_, issues) = parse(&"a {\n".repeat(200_000));
        assert_eq!(
            issues[..2],
            [
                "k.conf:17:3: blocks nested deeper than 16",
                "k.conf:17:3: '{' is never closed"
            ]
        );
        assert_eq!(issues.len(), 2 + 16);
    }

    #[test]
    fn wildcards() {
        assert!(wildcard("*.conf", "a.conf"));
        assert!(!wildcard("*.conf", "a.confx"));
        assert!(wildcard("a?c", "abc"));
        assert!(wildcard("*", ""));
    }
}
