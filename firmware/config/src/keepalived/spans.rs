//! Where each item of a model read from keepalived.conf came from, kept beside the model
//! (not in it) so that the model stays plain data that JSON and tests compare.
//!
//! Items are named by their path in the native JSON (`virtual_servers[0].real_servers[1].weight`),
//! which is also how validation names them, so one finding can be placed in either input.
//! The reader records a tree of steps (no strings formatted, nothing hashed); the index
//! that resolves a path is built only when there is something to report.

use std::collections::HashMap;

use super::tree::Pos;

/// One item in the tree of recorded places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Node(u32);

/// One segment of a path: `field` or `field[index]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Step<'a> {
    field: &'a str,
    index: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    parent: Node,
    step: Step<'static>,
    pos: Option<Pos>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spans {
    /// `entries[0]` is the root: the file itself.
    entries: Vec<Entry>,
}

impl Default for Spans {
    fn default() -> Self {
        Spans {
            entries: vec![Entry {
                parent: Node(0),
                step: Step {
                    field: "",
                    index: None,
                },
                pos: None,
            }],
        }
    }
}

pub struct SpanIndex<'a> {
    spans: &'a Spans,
    children: HashMap<(Node, Step<'a>), Node>,
}

impl Spans {
    pub const ROOT: Node = Node(0);

    /// Records `parent.field` (or `parent.field[index]`), at `pos` when it has a place of
    /// its own. Recording the same step again replaces it.
    pub fn child(
        &mut self,
        parent: Node,
        field: &'static str,
        index: Option<usize>,
        pos: Option<&Pos>,
    ) -> Node {
        let node = Node(self.entries.len() as u32);
        self.entries.push(Entry {
            parent,
            step: Step {
                field,
                index: index.map(|i| i as u32),
            },
            pos: pos.cloned(),
        });
        node
    }

    pub fn index(&self) -> SpanIndex<'_> {
        let children = self
            .entries
            .iter()
            .enumerate()
            .skip(1)
            .map(|(n, e)| ((e.parent, e.step), Node(n as u32)))
            .collect();
        SpanIndex {
            spans: self,
            children,
        }
    }

    /// See [`SpanIndex::locate`]; builds the index for one look-up.
    pub fn locate(&self, path: &str) -> Option<String> {
        self.index().locate(path)
    }
}

impl SpanIndex<'_> {
    /// The place of `path`, or of the nearest enclosing item that has one (a field left
    /// at its default is reported at the block that lacks it).
    pub fn locate(&self, path: &str) -> Option<String> {
        let mut node = Spans::ROOT;
        for segment in path.split('.') {
            let step = match segment.split_once('[') {
                Some((field, rest)) => Step {
                    field,
                    index: rest.strip_suffix(']').and_then(|i| i.parse().ok()),
                },
                None => Step {
                    field: segment,
                    index: None,
                },
            };
            match self.children.get(&(node, step)) {
                Some(child) => node = *child,
                None => break,
            }
        }
        loop {
            let entry = &self.spans.entries[node.0 as usize];
            if let Some(pos) = &entry.pos {
                return Some(pos.to_string());
            }
            if node == Spans::ROOT {
                return None;
            }
            node = entry.parent;
        }
    }
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
        let vs = spans.child(Spans::ROOT, "virtual_servers", Some(0), Some(&pos(3)));
        let key = spans.child(vs, "key", None, None);
        spans.child(key, "port", None, Some(&pos(4)));
        spans.child(vs, "real_servers", Some(1), Some(&pos(9)));
        assert_eq!(
            spans
                .locate("virtual_servers[0].real_servers[1].weight")
                .as_deref(),
            Some("k.conf:9:1")
        );
        assert_eq!(
            spans.locate("virtual_servers[0].key.port").as_deref(),
            Some("k.conf:4:1")
        );
        assert_eq!(
            spans.locate("virtual_servers[0].lb_algo").as_deref(),
            Some("k.conf:3:1")
        );
        assert_eq!(spans.locate("vrrp_instances[0]"), None);
    }
}
