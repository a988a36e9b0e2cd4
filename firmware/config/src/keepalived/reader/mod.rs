//! Statements into the model: keepalived's keywords, defaults and units. Every problem is
//! collected with its `file:line:col`; keywords lvsfw accepts but does not act on are
//! returned as notes. What each keyword gets is the keyword table's word (KEYWORDS.md):
//! a block's reader reads the implemented keywords itself and hands every other one to
//! [`Reader::other`].
//!
//! One file per kind of block: global_defs, VRRP, virtual servers, checks, routes.

mod bgp;
mod checks;
mod global;
mod lvs;
mod routes;
mod vrrp;

use std::collections::HashSet;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use super::model::*;
use super::spans::{Node, Spans};
use super::table::{self, Status};
use super::tree::{Stmt, Word};
use crate::suggest::did_you_mean;
use crate::Issues;

pub struct Reader {
    pub issues: Issues,
    pub notes: Vec<String>,
    /// Where each item came from, by its JSON path.
    pub spans: Spans,
    /// Keywords already named by a note: each is noted once a file.
    noted: HashSet<String>,
    /// Inside a block the appliance does not act on yet (its own note says so): the
    /// keywords inside get no note of their own.
    quiet: usize,
}

impl Reader {
    pub fn new() -> Reader {
        Reader {
            issues: Issues::default(),
            notes: Vec::new(),
            spans: Spans::default(),
            noted: HashSet::new(),
            quiet: 0,
        }
    }

    fn error(&mut self, at: &Word, message: impl Into<String>) {
        self.issues.push(at.pos.to_string(), message);
    }

    /// A keyword keepalived does not know in `block` either (the table has no row).
    fn unknown(&mut self, s: &Stmt, block: &str) {
        let known = table::keywords(block);
        let hint = match did_you_mean(&s.keyword.text, &known) {
            Some(k) => format!(" (did you mean \"{k}\"?)"),
            // keepalived's own sample lvs_syncd lists the members bare.
            None if block == "vrrp_sync_group" => {
                format!(" (members go in group {{ {} }})", s.keyword.text)
            }
            None => String::new(),
        };
        let within = match block {
            "-" => "the top level",
            b => b.rsplit('/').next().unwrap_or(b),
        };
        self.error(
            &s.keyword,
            format!("unknown keyword \"{}\" in {within}{hint}", s.keyword.text),
        );
    }

    /// A note on `st`'s keyword, the first time that keyword is noted in this file.
    fn note_once(&mut self, st: &Stmt, message: &str) {
        if self.noted.insert(st.keyword.text.clone()) {
            self.notes.push(format!(
                "{}: {}: {message}",
                st.keyword.pos, st.keyword.text
            ));
        }
    }

    /// Before an implemented keyword is read: a note when the appliance does not act on
    /// it yet (the table says so).
    fn seen(&mut self, block: &str, st: &Stmt) {
        self.keyword(None, block, st);
    }

    /// One look-up in the table for a statement of `block`: records where the setting is
    /// (the native JSON names each by its keyword) when `at` is given, and notes a keyword
    /// the appliance does not act on yet.
    fn keyword(&mut self, at: Option<Node>, block: &str, st: &Stmt) {
        let Some(row) = table::find(block, &st.keyword.text) else {
            return;
        };
        if let Some(at) = at {
            self.spans
                .child(at, row.keyword, None, Some(&st.keyword.pos));
        }
        if self.quiet == 0 && row.status == (Status::Implemented { acted: false }) {
            self.note_once(
                st,
                "read and kept, but the appliance does not act on it yet",
            );
        }
    }

    /// Reads a block the appliance does not act on yet (its keyword had its note): what
    /// is inside gets none of its own.
    fn quietly<T>(&mut self, quiet: bool, read: impl FnOnce(&mut Self) -> T) -> T {
        self.quiet += usize::from(quiet);
        let out = read(self);
        self.quiet -= usize::from(quiet);
        out
    }

    /// A keyword the block's reader does not read itself: what the table says. Noted ones
    /// are kept in `kept`, word for word.
    fn other(&mut self, block: &str, st: &Stmt, kept: &mut Vec<Kept>) {
        let Some(row) = table::find(block, &st.keyword.text) else {
            self.unknown(st, block);
            return;
        };
        match row.status {
            Status::Noted => {
                let message = format!("accepted and kept for export, no effect here: {}", row.note);
                self.note_once(st, &message);
                self.check_kept(block, st);
                kept.push(Kept::from_stmt(st));
            }
            Status::Refused => {
                let message = format!("{}: not supported: {}", st.keyword.text, row.note);
                self.error(&st.keyword, message);
            }
            // The table and the reader disagree: the table's test names the row.
            Status::Implemented { .. } => {
                let message = format!(
                    "{}: the keyword table says implemented, but this reader does not read it (a defect of lvsfw)",
                    st.keyword.text
                );
                self.error(&st.keyword, message);
            }
        }
    }

    /// Inside a noted block whose keywords the table lists: each is one keepalived knows
    /// there (a typo is still an error), and refused ones stay refused.
    fn check_kept(&mut self, block: &str, st: &Stmt) {
        let Some(inner) = &st.block else { return };
        let path = if block == "-" {
            st.keyword.text.clone()
        } else {
            format!("{block}/{}", st.keyword.text)
        };
        if !table::has_block(&path) {
            return;
        }
        for s in inner {
            match table::find(&path, &s.keyword.text) {
                None => self.unknown(s, &path),
                Some(row) if row.status == Status::Refused => {
                    let message = format!("{}: not supported: {}", s.keyword.text, row.note);
                    self.error(&s.keyword, message);
                }
                Some(_) => self.check_kept(&path, s),
            }
        }
    }

    /// The statement's single argument.
    fn one<'a>(&mut self, s: &'a Stmt, expected: &str) -> Option<&'a Word> {
        match s.args.as_slice() {
            [w] => Some(w),
            _ => {
                self.error(
                    &s.keyword,
                    format!("{}: expected {expected}", s.keyword.text),
                );
                None
            }
        }
    }

    fn parse<T: FromStr>(&mut self, s: &Stmt, w: &Word, expected: &str) -> Option<T> {
        match w.text.parse() {
            Ok(v) => Some(v),
            Err(_) => {
                self.error(
                    w,
                    format!("{}: \"{}\" is not {expected}", s.keyword.text, w.text),
                );
                None
            }
        }
    }

    fn number(&mut self, s: &Stmt, min: u64, max: u64) -> Option<u64> {
        // Written only for an error: this runs for most statements of a large file.
        let expected = || format!("a whole number from {min} to {max}");
        let [w] = s.args.as_slice() else {
            self.one(s, &expected());
            return None;
        };
        match w.text.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                let expected = expected();
                self.error(
                    w,
                    format!("{}: \"{}\" is not {expected}", s.keyword.text, w.text),
                );
                None
            }
        }
    }

    /// Seconds, with decimals as keepalived allows them ("0.1", "3").
    fn seconds(&mut self, s: &Stmt, max: f64) -> Option<Duration> {
        let expected = || format!("a number of seconds up to {max}");
        let [w] = s.args.as_slice() else {
            self.one(s, &expected());
            return None;
        };
        match w.text.parse::<f64>() {
            Ok(v) if v.is_finite() && (0.0..=max).contains(&v) => {
                Some(Duration::from_micros((v * 1e6).round() as u64))
            }
            _ => {
                let expected = expected();
                self.error(
                    w,
                    format!("{}: \"{}\" is not {expected}", s.keyword.text, w.text),
                );
                None
            }
        }
    }

    /// A switch: the keyword alone means on; keepalived also takes on/off, true/false,
    /// yes/no after it.
    fn flag(&mut self, s: &Stmt) -> bool {
        match s.args.as_slice() {
            [] => true,
            [w] => match w.text.as_str() {
                "on" | "true" | "yes" => true,
                "off" | "false" | "no" => false,
                other => {
                    let msg = format!(
                        "{}: \"{other}\" is not on, off, true, false, yes or no",
                        s.keyword.text
                    );
                    self.error(w, msg);
                    true
                }
            },
            [_, extra, ..] => {
                let msg = format!("{}: takes at most one value (on or off)", s.keyword.text);
                self.error(extra, msg);
                true
            }
        }
    }

    fn address(&mut self, s: &Stmt, w: &Word) -> Option<IpAddr> {
        self.parse(s, w, "an IPv4 or IPv6 address")
    }

    /// A port from 0 to 65535; whether 0 is allowed there is for validation to judge
    /// (keepalived takes it for fwmark and persistent services).
    fn port(&mut self, s: &Stmt, w: &Word) -> Option<u16> {
        match w.text.parse::<u16>() {
            Ok(p) => Some(p),
            _ => {
                self.error(
                    w,
                    format!(
                        "{}: \"{}\" is not a port (0 to 65535)",
                        s.keyword.text, w.text
                    ),
                );
                None
            }
        }
    }

    fn block<'a>(&mut self, s: &'a Stmt) -> &'a [Stmt] {
        match &s.block {
            Some(b) => b,
            None => {
                self.error(
                    &s.keyword,
                    format!("{}: expected a {{ block }}", s.keyword.text),
                );
                &[]
            }
        }
    }

    /// A whole number from `min` to `max` (negative ones too, unlike [`Reader::number`]).
    fn int(&mut self, s: &Stmt, w: &Word, min: i64, max: i64) -> Option<i64> {
        match w.text.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                self.error(
                    w,
                    format!(
                        "{}: \"{}\" is not a whole number from {min} to {max}",
                        s.keyword.text, w.text
                    ),
                );
                None
            }
        }
    }

    /// The statement's single word, as text.
    fn text(&mut self, s: &Stmt, expected: &str) -> Option<String> {
        self.one(s, expected).map(|w| w.text.clone())
    }

    /// A statement that takes no value at all.
    fn bare(&mut self, s: &Stmt) {
        if let Some(extra) = s.args.first() {
            let message = format!("{}: takes no value", s.keyword.text);
            self.error(extra, message);
        }
    }

    pub fn read(&mut self, stmts: &[Stmt]) -> Keepalived {
        let mut k = Keepalived::default();
        for s in stmts {
            self.seen("-", s);
            match s.keyword.text.as_str() {
                "global_defs" => {
                    let at = self.item(Spans::ROOT, "global_defs", None, s);
                    self.global_defs(s, at, &mut k)
                }
                "vrrp_instance" => {
                    let n = k.vrrp_instances.len();
                    let at = self.item(Spans::ROOT, "vrrp_instances", Some(n), s);
                    if let Some(i) = self.vrrp_instance(s, at, &mut k.global) {
                        k.vrrp_instances.push(i);
                    }
                }
                "vrrp_sync_group" => {
                    let n = k.sync_groups.len();
                    let at = self.item(Spans::ROOT, "vrrp_sync_groups", Some(n), s);
                    if let Some(g) = self.sync_group(s, at) {
                        k.sync_groups.push(g);
                    }
                }
                "vrrp_script" => {
                    let n = k.vrrp_scripts.len();
                    let at = self.item(Spans::ROOT, "vrrp_scripts", Some(n), s);
                    if let Some(script) = self.vrrp_script(s, at) {
                        k.vrrp_scripts.push(script);
                    }
                }
                "virtual_server_group" => {
                    let n = k.virtual_server_groups.len();
                    let at = self.item(Spans::ROOT, "virtual_server_groups", Some(n), s);
                    if let Some(g) = self.virtual_server_group(s, at) {
                        k.virtual_server_groups.push(g);
                    }
                }
                "virtual_server" => {
                    let n = k.virtual_servers.len();
                    let at = self.item(Spans::ROOT, "virtual_servers", Some(n), s);
                    if let Some(vs) = self.virtual_server(s, at) {
                        k.virtual_servers.push(vs);
                    }
                }
                "static_ipaddress" => {
                    let start = k.static_ipaddress.len();
                    let vips = self.vips(s, Spans::ROOT, "static_ipaddress", start);
                    k.static_ipaddress.extend(vips);
                }
                "static_routes" => {
                    let routes = self.routes(s, Spans::ROOT, "static_routes");
                    k.static_routes.extend(routes);
                }
                "bgp" => {
                    let at = self.item(Spans::ROOT, "bgp", None, s);
                    if k.bgp.is_some() {
                        self.error(
                            &s.keyword,
                            "bgp: given twice (one bgp block a configuration)",
                        );
                    } else {
                        k.bgp = self.bgp(s, at);
                    }
                }
                "static_rules" => {
                    let rules = self.rules(s, Spans::ROOT, "static_rules");
                    k.static_rules.extend(rules);
                }
                _ => self.other("-", s, &mut k.noted),
            }
        }
        self.track_scripts_exist(&mut k);
        k
    }

    /// Records that the item `at.field[index]` is the statement `st`.
    fn item(&mut self, at: Node, field: &'static str, index: Option<usize>, st: &Stmt) -> Node {
        self.spans.child(at, field, index, Some(&st.keyword.pos))
    }

    /// Records where the setting `st` of `at` is, by its keyword (the native JSON names
    /// each setting by its keyword).
    fn mark(&mut self, at: Node, block: &str, st: &Stmt) {
        if let Some(row) = table::find(block, &st.keyword.text) {
            self.spans
                .child(at, row.keyword, None, Some(&st.keyword.pos));
        }
    }
}

/// Whether the appliance acts on `keyword` in `block` (the table says so; a keyword
/// without a row is someone else's error).
fn acted(block: &str, keyword: &str) -> bool {
    table::find(block, keyword)
        .is_none_or(|row| row.status != (Status::Implemented { acted: false }))
}

impl Default for Reader {
    fn default() -> Self {
        Reader::new()
    }
}
