//! The configuration history: every `config save` keeps a numbered revision (when, who,
//! a one-line summary, and the configuration itself) inside the saved record, so that
//! history and configuration are written together by the store's power-loss-safe save
//! and survive updates (the configuration partition is not touched by one).
//!
//! A revision holds config.json and keepalived.conf deflated (miniz_oxide) and in
//! base64: a keepalived.conf of hundreds of kilobytes is mostly repeated stanzas and
//! shrinks ten to twenty times, so that ten and more fit half the partition beside the
//! verbatim running copy. When they do not, the oldest go first ([`fit`]); at most
//! [`MAX_REVISIONS`] are kept in any case. Revisions are numbered from 1 and never
//! reused; the numbers of dropped ones are simply gone.

use std::fmt::Write as _;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::Texts;

/// The most revisions kept, even when more would fit.
pub const MAX_REVISIONS: usize = 50;
/// The largest text a revision unpacks to (the store's largest record).
const MAX_UNPACKED: usize = store::MAX_PAYLOAD;
/// Who and the summary are cut to these many characters.
const MAX_WHO: usize = 64;
const MAX_SUMMARY: usize = 160;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revision {
    pub rev: u64,
    /// Seconds since the Unix epoch, by the box's clock when it was saved.
    pub time: u64,
    pub who: String,
    pub summary: String,
    /// The configuration: [`pack`]ed.
    pub data: String,
}

/// Oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct History {
    /// The number the next revision gets.
    pub next: u64,
    pub revisions: Vec<Revision>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Content {
    #[serde(rename = "config.json")]
    native: String,
    #[serde(rename = "keepalived.conf")]
    keepalived: Option<String>,
}

/// The texts deflated, in base64.
pub fn pack(texts: &Texts) -> String {
    let json = serde_json::to_vec(&Content {
        native: texts.native.clone(),
        keepalived: texts.keepalived.clone(),
    })
    .expect("strings always serialize");
    let deflated = miniz_oxide::deflate::compress_to_vec(&json, 9);
    base64::engine::general_purpose::STANDARD.encode(deflated)
}

pub fn unpack(data: &str) -> Result<Texts, String> {
    let bad = |why: String| format!("a revision in the history is not readable: {why}");
    let deflated = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| bad(e.to_string()))?;
    let json = miniz_oxide::inflate::decompress_to_vec_with_limit(&deflated, MAX_UNPACKED)
        .map_err(|e| bad(format!("{e:?}")))?;
    let content: Content = serde_json::from_slice(&json).map_err(|e| bad(e.to_string()))?;
    Ok(Texts {
        native: content.native,
        keepalived: content.keepalived,
    })
}

fn cut(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .take(max)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().count() > max {
        out.push_str("...");
    }
    out
}

impl History {
    /// Adds `texts` as the newest revision; its number.
    pub fn record(&mut self, texts: &Texts, time: u64, who: &str, summary: &str) -> u64 {
        let rev = self.next.max(1);
        self.revisions.push(Revision {
            rev,
            time,
            who: cut(who, MAX_WHO),
            summary: cut(summary, MAX_SUMMARY),
            data: pack(texts),
        });
        self.next = rev + 1;
        if self.revisions.len() > MAX_REVISIONS {
            let extra = self.revisions.len() - MAX_REVISIONS;
            self.revisions.drain(..extra);
        }
        rev
    }

    /// Revision `rev`, or an error that says which ones there are.
    pub fn get(&self, rev: u64) -> Result<&Revision, String> {
        self.revisions
            .iter()
            .find(|r| r.rev == rev)
            .ok_or_else(|| match (self.revisions.first(), self.revisions.last()) {
                (Some(first), Some(last)) => format!(
                    "no revision {rev}: the history holds revisions {} to {} (\"config history\" lists them)",
                    first.rev, last.rev
                ),
                _ => format!("no revision {rev}: the history is empty (every \"config save\" adds one)"),
            })
    }

    /// The listing `config history` prints, newest first.
    pub fn listing(&self) -> String {
        if self.revisions.is_empty() {
            return "no revisions yet: every \"config save\" keeps one\n".into();
        }
        let mut out = format!("{:>5}  {:<20}  {:<24}  summary\n", "rev", "saved", "by");
        for r in self.revisions.iter().rev() {
            let _ = writeln!(
                out,
                "{:>5}  {:<20}  {:<24}  {}",
                r.rev,
                ::status::time::utc(r.time.saturating_mul(1000)),
                r.who,
                r.summary
            );
        }
        let _ = writeln!(
            out,
            "{} kept (the newest that fit the configuration disk, at most {MAX_REVISIONS})",
            config::count(self.revisions.len(), "revision", "revisions")
        );
        out
    }
}

/// Drops the oldest revisions until the whole record is at most `budget` bytes;
/// `encoded_len` is the record's size with no revisions, the revisions are counted as
/// serde_json writes them in an array (one comma between two). How many were dropped,
/// or `Err` when the record does not fit even without any history.
pub fn fit(history: &mut History, budget: usize, empty_len: usize) -> Result<usize, usize> {
    if empty_len > budget {
        let dropped = history.revisions.len();
        history.revisions.clear();
        return Err(dropped);
    }
    let sizes: Vec<usize> = history
        .revisions
        .iter()
        .map(|r| serde_json::to_vec(r).map_or(0, |v| v.len()))
        .collect();
    let mut total = empty_len + sizes.iter().sum::<usize>() + sizes.len().saturating_sub(1);
    let mut dropped = 0;
    while total > budget && dropped < sizes.len() {
        total -= sizes[dropped] + usize::from(sizes.len() - dropped > 1);
        dropped += 1;
    }
    history.revisions.drain(..dropped);
    Ok(dropped)
}

/// One line on what `new` changes against the last saved `prev` (or that it goes back
/// to an older revision).
pub fn summary(prev: Option<&Texts>, new: &Texts, history: &History) -> String {
    let Some(prev) = prev else {
        return "the first saved revision".into();
    };
    let same_as = |texts: &Texts| {
        history
            .revisions
            .iter()
            .rev()
            .find(|r| unpack(&r.data).ok().as_ref() == Some(texts))
            .map(|r| r.rev)
    };
    if prev == new {
        return match same_as(new) {
            Some(rev) => format!("no change since revision {rev}"),
            None => "no change".into(),
        };
    }
    if let Some(rev) = same_as(new) {
        return format!("the same as revision {rev} (restored)");
    }
    let mut parts = Vec::new();
    let (old_v, new_v) = (
        serde_json::from_str::<serde_json::Value>(&prev.native).unwrap_or_default(),
        serde_json::from_str::<serde_json::Value>(&new.native).unwrap_or_default(),
    );
    let mut keys: Vec<&String> = old_v
        .as_object()
        .into_iter()
        .chain(new_v.as_object())
        .flat_map(|o| o.keys())
        .collect();
    keys.sort();
    keys.dedup();
    let changed: Vec<&str> = keys
        .into_iter()
        .filter(|k| old_v.get(k.as_str()) != new_v.get(k.as_str()))
        .map(|k| k.as_str())
        .collect();
    if !changed.is_empty() {
        parts.push(format!("config.json: {}", changed.join(", ")));
    } else if prev.native != new.native {
        parts.push("config.json: layout".into());
    }
    if prev.keepalived != new.keepalived {
        let diff = super::diff::unified(
            "",
            "",
            prev.keepalived.as_deref().unwrap_or(""),
            new.keepalived.as_deref().unwrap_or(""),
        );
        let lines = |mark: char| {
            diff.lines()
                .filter(|l| l.starts_with(mark) && !l.starts_with("---") && !l.starts_with("+++"))
                .count()
        };
        parts.push(format!(
            "keepalived.conf: +{} -{} lines",
            lines('+'),
            lines('-')
        ));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests;
