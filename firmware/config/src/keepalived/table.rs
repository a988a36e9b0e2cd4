//! The keyword table, `KEYWORDS.md`, compiled in: what lvsfw does with each keyword
//! keepalived knows. The reader takes its notes and refusals from here, so the words an
//! operator reads in `check-config` are the words of the table, and a row changes in one
//! place.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

const TEXT: &str = include_str!("../../KEYWORDS.md");

/// What lvsfw does with a keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Read into the model; `acted` says whether the appliance acts on it yet.
    Implemented { acted: bool },
    /// Accepted and kept word for word, with a note.
    Noted,
    /// An error with the row's reason.
    Refused,
}

/// One row: a keyword in one block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The path of enclosing keywords (`virtual_server/real_server/HTTP_GET`), `-` for the
    /// top level.
    pub block: &'static str,
    pub keyword: &'static str,
    pub status: Status,
    /// Lines of a configuration that use the keyword (for the table's test).
    pub example: Vec<&'static str>,
    /// Why it is noted or refused and what to use instead; empty for an implemented one.
    pub note: &'static str,
}

struct Table {
    rows: Vec<Row>,
    /// keyword -> its rows (a keyword such as `retry` is in a dozen blocks): the reader
    /// looks up every statement, so the key is the short word and the block is compared
    /// after.
    index: HashMap<&'static str, Vec<usize>, BuildHasherDefault<Fnv>>,
}

/// FNV-1a: the reader looks a keyword up for every statement, and these keys are short
/// and not chosen by an attacker against this map (a miss is just "unknown keyword").
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let rows = parse(TEXT);
        let mut index: HashMap<&'static str, Vec<usize>, BuildHasherDefault<Fnv>> =
            HashMap::default();
        for (n, r) in rows.iter().enumerate() {
            index.entry(r.keyword).or_default().push(n);
        }
        Table { rows, index }
    })
}

/// Every row, in the table's order.
pub fn rows() -> &'static [Row] {
    &table().rows
}

/// The row of `keyword` in `block`, if keepalived knows it there.
pub fn find(block: &str, keyword: &str) -> Option<&'static Row> {
    let table = table();
    table
        .index
        .get(keyword)?
        .iter()
        .map(|&n| &table.rows[n])
        .find(|r| r.block == block)
}

/// Whether the table has a section for `block` (a block of keywords, not of values).
pub fn has_block(block: &str) -> bool {
    rows().iter().any(|r| r.block == block)
}

/// The keywords of `block`, for "did you mean" hints.
pub fn keywords(block: &str) -> Vec<&'static str> {
    rows()
        .iter()
        .filter(|r| r.block == block)
        .map(|r| r.keyword)
        .collect()
}

/// Rows from the `### \`BLOCK\`` sections' tables: `| \`keyword\` | status | example | note |`.
/// A malformed row is a defect of the table, which the table's test reports; here it is
/// skipped, so that the reader never fails on its own table.
fn parse(text: &'static str) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut block: Option<&'static str> = None;
    for line in text.lines() {
        if let Some(title) = line.strip_prefix("### ") {
            block = Some(match title.trim().trim_matches('`') {
                "top level" => "-",
                other => other,
            });
            continue;
        }
        let (Some(block), Some(cells)) = (block, line.strip_prefix("| `")) else {
            continue;
        };
        let cells: Vec<&'static str> = cells.split(" | ").collect();
        let [keyword, status, example, note] = cells.as_slice() else {
            continue;
        };
        let keyword = keyword.split('`').next().unwrap_or_default();
        let status = match status.trim() {
            "implemented" => Status::Implemented { acted: true },
            "implemented, not yet acted on" => Status::Implemented { acted: false },
            "noted" => Status::Noted,
            "refused" => Status::Refused,
            _ => continue,
        };
        let example = example
            .split("<br>")
            .map(|l| l.trim().trim_matches('`'))
            .filter(|l| !l.is_empty())
            .collect();
        let note = note.trim().trim_end_matches('|').trim();
        rows.push(Row {
            block,
            keyword,
            status,
            example,
            note,
        });
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_reads() {
        let row = find("vrrp_instance", "priority").unwrap();
        assert_eq!(row.status, Status::Implemented { acted: true });
        assert_eq!(row.example, vec!["priority 150"]);
        let row = find("virtual_server/real_server", "MISC_CHECK").unwrap();
        assert_eq!(row.status, Status::Noted);
        assert!(row.note.contains("no shell"), "{}", row.note);
        assert!(find("vrrp_instance", "priorty").is_none());
        assert!(find("-", "vrrp_instance").is_some());
    }
}
