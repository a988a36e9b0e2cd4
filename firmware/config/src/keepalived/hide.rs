//! keepalived.conf text for people to read: the secrets replaced by `(hidden)` — the BGP
//! neighbors' TCP-MD5 keys (see [`super::Md5Password`]) and the VRRP instances'
//! `auth_pass` — everything else as written.

use super::tree::{self, Stmt, Word};
use crate::Issues;

/// What a hidden key reads as.
pub const HIDDEN: &str = "(hidden)";

/// `text` with the value of every `password` of a `bgp` block's neighbors and every
/// `auth_pass` of a `vrrp_instance`'s `authentication` hidden. Text that does not read
/// is still hidden word by word where it does.
pub fn hide_secrets(text: &str) -> String {
    let stmts = tree::read_text(text, "keepalived.conf", &mut Issues::default());
    let mut words: Vec<&Word> = Vec::new();
    for bgp in stmts.iter().filter(|s| s.keyword.text == "bgp") {
        for neighbor in children(bgp).filter(|s| s.keyword.text == "neighbor") {
            for p in children(neighbor).filter(|s| s.keyword.text == "password") {
                words.extend(&p.args);
            }
        }
    }
    for instance in stmts.iter().filter(|s| s.keyword.text == "vrrp_instance") {
        for auth in children(instance).filter(|s| s.keyword.text == "authentication") {
            for p in children(auth).filter(|s| s.keyword.text == "auth_pass") {
                words.extend(&p.args);
            }
        }
    }
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    // From the last word back, so that a line's earlier columns stay where they were.
    words.sort_by_key(|w| (w.pos.line, w.pos.col));
    for w in words.iter().rev() {
        let Some(line) = lines.get_mut(w.pos.line.wrapping_sub(1)) else {
            continue;
        };
        let Some((start, _)) = line.char_indices().nth(w.pos.col.saturating_sub(1)) else {
            continue;
        };
        let rest = &line[start..];
        let len = if let Some(quoted) = rest.strip_prefix('"') {
            quoted.find('"').map_or(rest.len(), |end| end + 2)
        } else {
            rest.find(|c: char| c.is_whitespace() || "{}!#".contains(c))
                .unwrap_or(rest.len())
        };
        line.replace_range(start..start + len, HIDDEN);
    }
    let mut out = lines.join("\n");
    if text.ends_with('\n') {
        out.push('\n');
    }
    out
}

fn children(s: &Stmt) -> impl Iterator<Item = &Stmt> {
    s.block.as_deref().unwrap_or(&[]).iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vrrp_auth_pass_is_hidden_too() {
        let text = "vrrp_instance VI_1 {\n  state MASTER\n  authentication {\n    auth_type PASS\n    auth_pass vrrp-s3c\n  }\n}\n";
        let shown = hide_secrets(text);
        assert!(!shown.contains("vrrp-s3c"), "{shown}");
        assert!(shown.contains("    auth_pass (hidden)\n"), "{shown}");
        assert!(shown.contains("auth_type PASS"), "{shown}");
    }

    #[test]
    fn keys_are_hidden_and_the_rest_kept() {
        let text = "vrrp_instance VI_1 {\n  state MASTER\n}\nbgp {\n  local_as 65001\n  neighbor 192.0.2.1 {\n    remote_as 65000\n    password s3cret-key # the router's\n  }\n  neighbor 192.0.2.2 { remote_as 65000\n password \"two words\" }\n}\n";
        let shown = hide_secrets(text);
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(!shown.contains("two words"), "{shown}");
        assert!(
            shown.contains("    password (hidden) # the router's\n"),
            "{shown}"
        );
        assert!(shown.contains(" password (hidden) }"), "{shown}");
        assert_eq!(
            shown.replace("(hidden)", ""),
            text.replace("s3cret-key", "").replace("\"two words\"", "")
        );
    }

    #[test]
    fn text_without_keys_is_unchanged() {
        let text = "bgp {\n  local_as 1\n}\nglobal_defs { router_id password }";
        assert_eq!(hide_secrets(text), text);
    }
}
