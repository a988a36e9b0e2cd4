//! Where each item of a model read from keepalived.conf came from, kept beside the model
//! (not in it) so that the model stays plain data that JSON and tests compare.
//!
//! Items are named by their path in the native JSON (`virtual_servers[0].real_servers[1].weight`),
//! which is also how validation names them, so one finding can be placed in either input.

use std::collections::HashMap;

use super::tree::Pos;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spans {
    at: HashMap<String, Pos>,
}

impl Spans {
    pub fn record(&mut self, path: String, pos: &Pos) {
        self.at.insert(path, pos.clone());
    }

    /// The place of `path`, or of the nearest enclosing item that has one (a field left
    /// at its default is reported at the block that lacks it).
    pub fn locate(&self, path: &str) -> Option<String> {
        let mut path = path;
        loop {
            if let Some(pos) = self.at.get(path) {
                return Some(pos.to_string());
            }
            path = parent(path)?;
        }
    }
}

/// `a.b[2].c` → `a.b[2]` → `a.b` → `a` → none.
fn parent(path: &str) -> Option<&str> {
    let cut = path.rfind(['.', '['])?;
    Some(&path[..cut])
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;

    use super::*;

    #[test]
    fn an_item_without_a_place_takes_its_parent_s() {
        let pos = |line| Pos {
            file: Arc::new(PathBuf::from("k.conf")),
            line,
            col: 1,
        };
        let mut spans = Spans::default();
        spans.record("virtual_servers[0]".into(), &pos(3));
        spans.record("virtual_servers[0].real_servers[1]".into(), &pos(9));
        assert_eq!(
            spans
                .locate("virtual_servers[0].real_servers[1].weight")
                .as_deref(),
            Some("k.conf:9:1")
        );
        assert_eq!(
            spans.locate("virtual_servers[0].lb_algo").as_deref(),
            Some("k.conf:3:1")
        );
        assert_eq!(spans.locate("vrrp_instances[0]"), None);
    }
}
