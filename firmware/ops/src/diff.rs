//! A line diff for `config diff`, in the unified format operators know from `diff -u`.
//!
//! Lines common to both ends are trimmed first; the middle is compared by longest common
//! subsequence when it is small enough (a table of at most [`MAX_CELLS`] entries), and
//! shown as removed-then-added otherwise, so a huge paste costs bounded time and memory.

/// The largest LCS table, in cells (u32 each: 16 MiB).
const MAX_CELLS: usize = 4 << 20;
/// Unchanged lines shown around each change.
const CONTEXT: usize = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op<'a> {
    Same(&'a str),
    Removed(&'a str),
    Added(&'a str),
}

fn ops<'a>(old: &[&'a str], new: &[&'a str]) -> Vec<Op<'a>> {
    let prefix = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let suffix = old[prefix..]
        .iter()
        .rev()
        .zip(new[prefix..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let (a, b) = (
        &old[prefix..old.len() - suffix],
        &new[prefix..new.len() - suffix],
    );
    let mut out: Vec<Op> = old[..prefix].iter().map(|l| Op::Same(l)).collect();
    if (a.len() + 1).saturating_mul(b.len() + 1) <= MAX_CELLS {
        // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
        let width = b.len() + 1;
        let mut lcs = vec![0u32; (a.len() + 1) * width];
        for i in (0..a.len()).rev() {
            for j in (0..b.len()).rev() {
                lcs[i * width + j] = if a[i] == b[j] {
                    lcs[(i + 1) * width + j + 1] + 1
                } else {
                    lcs[(i + 1) * width + j].max(lcs[i * width + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            if i < a.len() && j < b.len() && a[i] == b[j] {
                out.push(Op::Same(a[i]));
                i += 1;
                j += 1;
            } else if i < a.len()
                && (j == b.len() || lcs[(i + 1) * width + j] >= lcs[i * width + j + 1])
            {
                // Removals first where either order keeps the LCS, as diff -u shows them.
                out.push(Op::Removed(a[i]));
                i += 1;
            } else {
                out.push(Op::Added(b[j]));
                j += 1;
            }
        }
    } else {
        out.extend(a.iter().map(|l| Op::Removed(l)));
        out.extend(b.iter().map(|l| Op::Added(l)));
    }
    out.extend(old[old.len() - suffix..].iter().map(|l| Op::Same(l)));
    out
}

/// `diff -u`-style text of `old` against `new`; empty when they are the same.
pub fn unified(old_name: &str, new_name: &str, old: &str, new: &str) -> String {
    let old_lines: Vec<&str> = old.lines().collect();
    let new_lines: Vec<&str> = new.lines().collect();
    let ops = ops(&old_lines, &new_lines);
    let changed: Vec<usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, op)| !matches!(op, Op::Same(_)))
        .map(|(i, _)| i)
        .collect();
    if changed.is_empty() {
        return String::new();
    }
    let mut out = format!("--- {old_name}\n+++ {new_name}\n");
    // Hunks: runs of changes closer than 2 x CONTEXT lines belong together.
    let mut hunks: Vec<(usize, usize)> = Vec::new();
    for &i in &changed {
        let start = i.saturating_sub(CONTEXT);
        let end = (i + CONTEXT + 1).min(ops.len());
        match hunks.last_mut() {
            Some(last) if start <= last.1 => last.1 = end,
            _ => hunks.push((start, end)),
        }
    }
    for (start, end) in hunks {
        // Line numbers at the hunk's start, counted in each file.
        let old_at = 1 + ops[..start]
            .iter()
            .filter(|o| !matches!(o, Op::Added(_)))
            .count();
        let new_at = 1 + ops[..start]
            .iter()
            .filter(|o| !matches!(o, Op::Removed(_)))
            .count();
        let old_len = ops[start..end]
            .iter()
            .filter(|o| !matches!(o, Op::Added(_)))
            .count();
        let new_len = ops[start..end]
            .iter()
            .filter(|o| !matches!(o, Op::Removed(_)))
            .count();
        out.push_str(&format!("@@ -{old_at},{old_len} +{new_at},{new_len} @@\n"));
        for op in &ops[start..end] {
            let (mark, line) = match op {
                Op::Same(l) => (' ', l),
                Op::Removed(l) => ('-', l),
                Op::Added(l) => ('+', l),
            };
            out.push(mark);
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_text_has_no_diff() {
        assert_eq!(unified("a", "b", "x\ny\n", "x\ny\n"), "");
        assert_eq!(unified("a", "b", "", ""), "");
    }

    #[test]
    fn a_changed_line_with_context() {
        let old = "1\n2\n3\n4\n5\n6\n7\n8\n";
        let new = "1\n2\n3\nfour\n5\n6\n7\n8\n";
        assert_eq!(
            unified("old", "new", old, new),
            "--- old\n+++ new\n@@ -2,5 +2,5 @@\n 2\n 3\n-4\n+four\n 5\n 6\n"
        );
    }

    #[test]
    fn additions_removals_and_separate_hunks() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n";
        let new = "a\nB\nb\nc\nd\ne\nf\ng\nh\nj\n";
        assert_eq!(
            unified("old", "new", old, new),
            "--- old\n+++ new\n@@ -1,3 +1,4 @@\n a\n+B\n b\n c\n@@ -7,4 +8,3 @@\n g\n h\n-i\n j\n"
        );
        assert_eq!(
            unified("old", "new", "", "x\n"),
            "--- old\n+++ new\n@@ -1,0 +1,1 @@\n+x\n"
        );
    }

    #[test]
    fn a_huge_change_is_bounded() {
        let old: String = (0..5000).map(|i| format!("old {i}\n")).collect();
        let new: String = (0..5000).map(|i| format!("new {i}\n")).collect();
        let out = unified("old", "new", &old, &new);
        assert_eq!(out.lines().filter(|l| l.starts_with('-')).count(), 5001);
        assert_eq!(out.lines().filter(|l| l.starts_with('+')).count(), 5001);
    }
}
