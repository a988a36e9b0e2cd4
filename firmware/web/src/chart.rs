//! Small charts as inline SVG, drawn on the server: the page stays without JavaScript and
//! its Content-Security-Policy as it is (SVG's presentation attributes are not styles).
//! Every number is ours; every name in them is escaped here ([`text`]).

use std::fmt::Write;

use crate::history::{Transition, SAMPLES, STEP_S};

/// What a chart's values are, for its labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    PerSecond,
    /// Bytes per second, labelled in bits per second as network people read it.
    Bytes,
}

impl Unit {
    fn label(self, value: f64) -> String {
        match self {
            Unit::PerSecond if value < 10.0 => format!("{value:.1}/s"),
            Unit::PerSecond => format!("{value:.0}/s"),
            Unit::Bytes => crate::pages::rate_text(value.round() as u64),
        }
    }
}

/// `s` made safe inside SVG text and attributes.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// `values` averaged into `points` groups (a group without any sample is `None`).
fn downsample(values: &[Option<f64>], points: usize) -> Vec<Option<f64>> {
    let per = values.len().div_ceil(points.max(1)).max(1);
    values
        .chunks(per)
        .map(|group| {
            let known: Vec<f64> = group.iter().flatten().copied().collect();
            (!known.is_empty()).then(|| known.iter().sum::<f64>() / known.len() as f64)
        })
        .collect()
}

/// An area chart of `values` (oldest first, spanning the last hour), `width` × `height`
/// pixels with `points` columns; `title` says what it is (a tooltip and the label read
/// to screen readers). The axis is linear from zero to the peak, which is printed.
pub fn area(
    title: &str,
    unit: Unit,
    values: &[Option<f64>],
    width: u32,
    height: u32,
    points: usize,
) -> String {
    let values = downsample(values, points);
    let peak = values.iter().flatten().fold(0.0f64, |a, &b| a.max(b));
    let (w, h) = (f64::from(width), f64::from(height));
    let top = 2.0;
    let x = |i: usize| i as f64 * w / values.len().max(1) as f64;
    let y = |v: f64| {
        if peak > 0.0 {
            h - (v / peak) * (h - top)
        } else {
            h
        }
    };
    let mut path = String::new();
    let mut open = false;
    for (i, v) in values.iter().enumerate() {
        match (v, open) {
            (Some(v), false) => {
                let _ = write!(path, "M{:.1},{h:.0}L{:.1},{:.1}", x(i), x(i), y(*v));
                let _ = write!(path, "L{:.1},{:.1}", x(i + 1), y(*v));
                open = true;
            }
            (Some(v), true) => {
                let _ = write!(
                    path,
                    "L{:.1},{:.1}L{:.1},{:.1}",
                    x(i),
                    y(*v),
                    x(i + 1),
                    y(*v)
                );
            }
            (None, true) => {
                let _ = write!(path, "L{:.1},{h:.0}Z", x(i));
                open = false;
            }
            (None, false) => {}
        }
    }
    if open {
        let _ = write!(path, "L{w:.1},{h:.0}Z");
    }
    let title = text(title);
    let peak_label = if values.iter().all(Option::is_none) {
        "no samples yet".to_string()
    } else {
        format!("peak {}", unit.label(peak))
    };
    let mut svg = format!(
        r##"<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{title}: {peak_label}"><title>{title}: {peak_label}</title><rect width="{width}" height="{height}" fill="#f4f6f8"/>"##
    );
    if !path.is_empty() {
        let _ = write!(
            svg,
            r##"<path d="{path}" fill="#9cc3e6" stroke="#2a6fb0" stroke-width="1"/>"##
        );
    }
    if height >= 30 {
        let _ = write!(
            svg,
            r##"<text x="3" y="11" font-size="10" fill="#333">{peak_label}</text>"##
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The colour of a state's mark: the page's own for up, down, MASTER, BACKUP, FAULT.
fn colour(to: &str) -> &'static str {
    match to {
        "MASTER" | "up" => "#1a7f37",
        "BACKUP" => "#2a6fb0",
        "FAULT" | "down" => "#c62828",
        _ => "#777",
    }
}

/// A strip of the last hour with a mark per transition (its tooltip says what changed
/// and when), `width` pixels wide; the newest hour ends at `now_ms`.
pub fn timeline(transitions: &[Transition], now_ms: u64, width: u32) -> String {
    let hour_ms = SAMPLES as u64 * STEP_S * 1000;
    let start = now_ms.saturating_sub(hour_ms);
    let w = f64::from(width);
    let mut svg = format!(
        r##"<svg class="timeline" width="{width}" height="34" viewBox="0 0 {width} 34" role="img" aria-label="{} transitions in the last hour"><title>VRRP and health transitions, last hour</title><rect width="{width}" height="22" fill="#f4f6f8"/>"##,
        transitions.len()
    );
    for t in transitions.iter().filter(|t| t.at_ms >= start) {
        let x = (t.at_ms.min(now_ms) - start) as f64 / hour_ms as f64 * (w - 4.0) + 2.0;
        let y = if t.what == "vrrp" { 7 } else { 16 };
        let _ = write!(
            svg,
            r##"<g class="mark"><title>{} {} {} &#8594; {}</title><rect x="{:.1}" y="{}" width="3" height="7" fill="{}"/></g>"##,
            status::time::utc(t.at_ms),
            t.what,
            text(&t.subject),
            text(&t.to),
            x - 1.5,
            y - 3,
            colour(&t.to),
        );
    }
    let _ = write!(
        svg,
        r##"<text x="2" y="32" font-size="9" fill="#555">-60 min</text><text x="{}" y="32" font-size="9" fill="#555" text-anchor="end">now</text></svg>"##,
        width - 2
    );
    svg
}

#[cfg(test)]
#[path = "chart/tests.rs"]
mod tests;
