//! Keywords the table calls *noted*: accepted, no effect on the appliance, kept word for
//! word so that an export gives them back to keepalived meaning the same.

use serde::{Deserialize, Serialize};

use crate::keepalived::tree::Stmt;

/// One statement as written: its keyword, its words (quotes removed, each word one
/// element, so `notify_master "/x.sh arg" > f` keeps its three words), and its block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kept {
    pub keyword: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block: Option<Vec<Kept>>,
}

impl Kept {
    pub(crate) fn from_stmt(st: &Stmt) -> Kept {
        Kept {
            keyword: st.keyword.text.clone(),
            args: st.args.iter().map(|w| w.text.clone()).collect(),
            block: st
                .block
                .as_ref()
                .map(|b| b.iter().map(Kept::from_stmt).collect()),
        }
    }

    /// Every word of the statement and of what it holds, keyword first.
    pub fn words(&self) -> Vec<&str> {
        let mut out = vec![self.keyword.as_str()];
        out.extend(self.args.iter().map(String::as_str));
        for inner in self.block.iter().flatten() {
            out.extend(inner.words());
        }
        out
    }

    /// Statements inside, this one counted.
    pub fn size(&self) -> usize {
        1 + self.block.iter().flatten().map(Kept::size).sum::<usize>()
    }
}
