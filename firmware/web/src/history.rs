//! The last hour of each virtual service's and real server's traffic, and of the VRRP and
//! health transitions, for the status page's charts.
//!
//! The balancer reads the kernel's cumulative counters every [`STEP_S`] seconds and hands
//! them to [`History::observe`]; a sample is the rate over that step. Everything is
//! bounded: [`SAMPLES`] samples a row, at most [`MAX_ROWS`] rows (virtual services are
//! offered before real servers, so they are the last to go without a chart), at most
//! [`MAX_TRANSITIONS`] transitions. A rate takes one byte ([`encode`]: a logarithmic
//! scale, 8 steps an octave, so a value is within 4.4 % of what was measured, under two
//! pixels of a chart), which keeps a row at 720 bytes of samples.

use std::collections::{BTreeMap, VecDeque};

/// Seconds between samples.
pub const STEP_S: u64 = 10;
/// One hour of samples.
pub const SAMPLES: usize = 360;
/// Rows with samples; further rows are counted, not kept.
pub const MAX_ROWS: usize = 12_000;
/// Transitions kept (the oldest go first).
pub const MAX_TRANSITIONS: usize = 256;
/// Longest row key kept (a service's name and a server's address are far shorter).
const MAX_KEY: usize = 160;

/// Codes per doubling of a rate.
const STEPS_PER_OCTAVE: f64 = 8.0;

/// The scale a rate is kept on: code 1 is `2^-min_octave`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Connections per second: from 1/16 (one connection in a step shows) to 2.3e8.
    PerSecond,
    /// Bytes per second: from 1 to 3.6e9 (29 Gbit/s).
    Bytes,
}

impl Scale {
    fn min_octave(self) -> f64 {
        match self {
            Scale::PerSecond => -4.0,
            Scale::Bytes => 0.0,
        }
    }
}

/// A rate as one byte: 0 is zero, `c` is `2^((c-1)/8 + min)`; above the top it is the top.
pub fn encode(value: f64, scale: Scale) -> u8 {
    if value.is_nan() || value <= 0.0 {
        return 0;
    }
    let code = (value.log2() - scale.min_octave()) * STEPS_PER_OCTAVE + 1.0;
    code.round().clamp(1.0, 255.0) as u8
}

/// The rate a code stands for.
pub fn decode(code: u8, scale: Scale) -> f64 {
    if code == 0 {
        return 0.0;
    }
    ((f64::from(code) - 1.0) / STEPS_PER_OCTAVE + scale.min_octave()).exp2()
}

/// What a row counts: a virtual service, or a real server of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Service,
    RealServer,
}

/// One row's counters as the kernel has them now (cumulative).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totals {
    pub kind: Kind,
    /// A service's name as the page shows it (`TCP 10.0.0.1:80`); a real server's is its
    /// service's name, a space and its address.
    pub key: String,
    pub conns: u64,
    /// In and out together.
    pub bytes: u64,
}

/// A real server's row key: its service's name as the page shows it, a space, its address.
pub fn real_server_key(service: &str, address: &str) -> String {
    format!("{service} {address}")
}

struct Row {
    kind: Kind,
    /// Code pairs (connections/s, bytes/s), indexed by step modulo [`SAMPLES`].
    codes: Box<[[u8; 2]]>,
    /// The step of its first sample.
    first_step: u64,
    last: (u64, u64),
    /// The step it was last seen at.
    seen: u64,
}

/// A change of state worth a mark on the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub at_ms: u64,
    /// `vrrp` or `health`.
    pub what: &'static str,
    /// The instance's name, or the real server (`TCP 10.0.0.1:80 10.0.0.11:80`).
    pub subject: String,
    /// The new state: MASTER, BACKUP, FAULT, up, down...
    pub to: String,
}

/// One row's last hour, oldest first; `None` before its first sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub conns_per_s: Vec<Option<f64>>,
    pub bytes_per_s: Vec<Option<f64>>,
}

impl Series {
    /// The largest connection rate of the hour: the busiest rows are charted first.
    pub fn peak_conns(&self) -> f64 {
        self.conns_per_s
            .iter()
            .flatten()
            .fold(0.0, |a, &b| a.max(b))
    }
}

#[derive(Default)]
pub struct History {
    rows: BTreeMap<String, Row>,
    /// Steps observed so far; the next sample is step `steps`.
    steps: u64,
    /// When the newest step was observed (milliseconds since the Unix epoch).
    last_ms: Option<u64>,
    /// Rows that had no room.
    untracked: usize,
    transitions: VecDeque<Transition>,
}

impl History {
    pub fn new() -> History {
        History::default()
    }

    /// Takes the counters read at `now_ms`: each row present gets the rate since the
    /// previous reading; rows that are gone are forgotten. `elapsed_s` is the time since
    /// the previous reading (about [`STEP_S`]).
    pub fn observe(&mut self, now_ms: u64, elapsed_s: f64, mut totals: Vec<Totals>) {
        let step = self.steps;
        let elapsed_s = elapsed_s.max(1.0);
        // Services first: when rows run out, real servers go without a chart first.
        totals.sort_by_key(|t| t.kind);
        let mut untracked = 0;
        for t in totals {
            if let Some(row) = self.rows.get_mut(&t.key) {
                // A counter that went back belongs to a service made again: count from zero.
                let conns = t.conns.checked_sub(row.last.0).unwrap_or(t.conns);
                let bytes = t.bytes.checked_sub(row.last.1).unwrap_or(t.bytes);
                row.codes[(step % SAMPLES as u64) as usize] = [
                    encode(conns as f64 / elapsed_s, Scale::PerSecond),
                    encode(bytes as f64 / elapsed_s, Scale::Bytes),
                ];
                row.last = (t.conns, t.bytes);
                row.seen = step;
            } else if self.rows.len() < MAX_ROWS && t.key.len() <= MAX_KEY {
                // The first reading only gives the totals a rate is measured from.
                self.rows.insert(
                    t.key,
                    Row {
                        kind: t.kind,
                        codes: vec![[0, 0]; SAMPLES].into_boxed_slice(),
                        first_step: step + 1,
                        last: (t.conns, t.bytes),
                        seen: step,
                    },
                );
            } else {
                untracked += 1;
            }
        }
        self.rows.retain(|_, row| row.seen == step);
        self.untracked = untracked;
        self.steps += 1;
        self.last_ms = Some(now_ms);
    }

    /// Notes a transition; the oldest goes when there are [`MAX_TRANSITIONS`].
    pub fn transition(&mut self, t: Transition) {
        if self.transitions.len() == MAX_TRANSITIONS {
            self.transitions.pop_front();
        }
        let mut t = t;
        t.subject.truncate(MAX_KEY);
        t.to.truncate(32);
        self.transitions.push_back(t);
    }

    /// The transitions of the hour before `now_ms`, oldest first.
    pub fn transitions(&self, now_ms: u64) -> Vec<Transition> {
        let since = now_ms.saturating_sub(SAMPLES as u64 * STEP_S * 1000);
        self.transitions
            .iter()
            .filter(|t| t.at_ms >= since)
            .cloned()
            .collect()
    }

    /// `key`'s last hour, oldest sample first, [`SAMPLES`] long; `None` for an unknown row.
    pub fn series(&self, key: &str) -> Option<Series> {
        let row = self.rows.get(key)?;
        let mut series = Series {
            conns_per_s: Vec::with_capacity(SAMPLES),
            bytes_per_s: Vec::with_capacity(SAMPLES),
        };
        let end = self.steps; // one past the newest step
        for step in end.saturating_sub(SAMPLES as u64)..end {
            let codes =
                (step >= row.first_step).then(|| row.codes[(step % SAMPLES as u64) as usize]);
            series
                .conns_per_s
                .push(codes.map(|c| decode(c[0], Scale::PerSecond)));
            series
                .bytes_per_s
                .push(codes.map(|c| decode(c[1], Scale::Bytes)));
        }
        // Before an hour has passed, the chart still spans an hour: empty on the left.
        let missing = SAMPLES - series.conns_per_s.len();
        series
            .conns_per_s
            .splice(0..0, std::iter::repeat_n(None, missing));
        series
            .bytes_per_s
            .splice(0..0, std::iter::repeat_n(None, missing));
        Some(series)
    }

    /// The rows kept, and how many had no room at the last reading.
    pub fn rows(&self) -> (usize, usize) {
        (self.rows.len(), self.untracked)
    }

    /// Rows of `kind`.
    pub fn keys(&self, kind: Kind) -> impl Iterator<Item = &str> {
        self.rows
            .iter()
            .filter(move |(_, r)| r.kind == kind)
            .map(|(k, _)| k.as_str())
    }

    /// When the newest reading was taken.
    pub fn last_ms(&self) -> Option<u64> {
        self.last_ms
    }

    /// The heap this history holds, counted from its parts (the benchmark measures it too).
    pub fn heap_bytes(&self) -> usize {
        let per_row = std::mem::size_of::<Row>() + SAMPLES * 2 + std::mem::size_of::<String>();
        self.rows
            .keys()
            .map(|k| k.capacity() + per_row)
            .sum::<usize>()
            + self.transitions.capacity() * std::mem::size_of::<Transition>()
            + self
                .transitions
                .iter()
                .map(|t| t.subject.capacity() + t.to.capacity())
                .sum::<usize>()
    }
}

#[cfg(test)]
#[path = "history/tests.rs"]
mod tests;
