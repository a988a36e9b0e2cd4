//! keepalived.conf, taken as it is: the same grammar, keywords, defaults and units.
//!
//! Reading has two stages, like a compiler's: the text into the model (unknown keywords,
//! bad values), then [`validate`] on the model (what only the whole configuration shows).
//! Each stage reports all its problems at once; the second runs when the first found none,
//! so that a value that could not be read does not also show up as a wrong one.

mod bindings;
mod export;
mod hide;
pub mod model;
mod reader;
mod spans;
pub mod table;
pub(crate) mod tree;
mod validate;

use std::path::Path;

pub use export::{route_line, rule_line, to_keepalived_conf};
pub use hide::{hide_secrets, HIDDEN};
pub use model::*;
pub use spans::Spans;
pub use validate::{validate, Finding};

use crate::{Config, Issues, Role};

/// What reading gave: the model, notes on keywords accepted but not acted on, and where
/// each item came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    pub config: Keepalived,
    pub notes: Vec<String>,
    pub spans: Spans,
    /// The file as messages name it, for findings that have no place of their own.
    pub name: String,
}

impl Read {
    /// Validation again, now knowing the appliance's interfaces and routes (the address
    /// owner's priority, NAT real servers behind `int`). Each finding at `file:line:col`.
    pub fn validate_with(&self, native: &Config) -> Result<(), Issues> {
        placed(self, validate(&self.config, Some(native)))
    }

    /// Before it is put in service: every interface it names is one of the box's NIC
    /// roles (those of `board_roles`, when the board is known) and every local address
    /// it sends from is an address `native` gives that interface.
    pub fn check_bindings(
        &self,
        native: &Config,
        board_roles: Option<&[Role]>,
    ) -> Result<(), Issues> {
        placed(self, bindings::check(&self.config, native, board_roles))
    }
}

/// Reads a keepalived.conf file and what it includes, then validates it; every error of
/// a stage at once.
pub fn read_file(path: &Path) -> Result<Read, Issues> {
    let mut issues = Issues::default();
    let stmts = tree::read_file(path, &mut issues);
    finish(&stmts, issues, path.display().to_string())
}

/// Reads pasted keepalived.conf text; `name` stands for the file in messages.
pub fn read_text(text: &str, name: &str) -> Result<Read, Issues> {
    let mut issues = Issues::default();
    let stmts = tree::read_text(text, name, &mut issues);
    finish(&stmts, issues, name.to_string())
}

fn finish(stmts: &[tree::Stmt], mut issues: Issues, name: String) -> Result<Read, Issues> {
    let mut reader = reader::Reader::new();
    let config = reader.read(stmts);
    issues.0.extend(reader.issues.0);
    if !issues.is_empty() {
        return Err(issues);
    }
    let read = Read {
        config,
        notes: reader.notes,
        spans: reader.spans,
        name,
    };
    placed(&read, validate(&read.config, None))?;
    Ok(read)
}

/// Findings as issues at the place their item came from.
fn placed(read: &Read, findings: Vec<Finding>) -> Result<(), Issues> {
    let mut issues = Issues::default();
    for f in findings {
        let at = read
            .spans
            .locate(&f.path)
            .unwrap_or_else(|| read.name.clone());
        issues.push(at, f.message);
    }
    if issues.is_empty() {
        Ok(())
    } else {
        Err(issues)
    }
}

#[cfg(test)]
mod tests;
