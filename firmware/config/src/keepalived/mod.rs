//! keepalived.conf, taken as it is: the same grammar, keywords, defaults and units.

pub mod model;
mod reader;
mod tree;

use std::path::Path;

pub use model::*;

use crate::Issues;

/// What reading gave: the model, and notes on keywords accepted but not acted on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    pub config: Keepalived,
    pub notes: Vec<String>,
}

/// Reads a keepalived.conf file and what it includes; every error at once.
pub fn read_file(path: &Path) -> Result<Read, Issues> {
    let mut issues = Issues::default();
    let stmts = tree::read_file(path, &mut issues);
    finish(&stmts, issues)
}

/// Reads pasted keepalived.conf text; `name` stands for the file in messages.
pub fn read_text(text: &str, name: &str) -> Result<Read, Issues> {
    let mut issues = Issues::default();
    let stmts = tree::read_text(text, name, &mut issues);
    finish(&stmts, issues)
}

fn finish(stmts: &[tree::Stmt], mut issues: Issues) -> Result<Read, Issues> {
    let mut reader = reader::Reader::new();
    let config = reader.read(stmts);
    issues.0.extend(reader.issues.0);
    if issues.is_empty() {
        Ok(Read {
            config,
            notes: reader.notes,
        })
    } else {
        Err(issues)
    }
}

#[cfg(test)]
mod tests;
