//! The status page's charts: which services and servers get one (the busiest, so that a
//! page of thousands of services stays a page), drawn from the balancer's history.

use super::*;
use crate::chart::{self, Unit};
use crate::history::{real_server_key, History, Series, SAMPLES, STEP_S};

/// Services drawn with charts, the busiest of the hour first.
pub const MAX_CHARTED_SERVICES: usize = 20;
/// Real servers of a charted service drawn with small charts.
pub const MAX_CHARTED_SERVERS: usize = 16;
/// Transitions listed as text under the strip, newest first.
const MAX_LISTED_TRANSITIONS: usize = 20;

/// How busy a row was in the hour: connections, then bytes.
fn activity(series: &Series) -> (u64, u64) {
    let sum = |v: &[Option<f64>]| v.iter().flatten().sum::<f64>() as u64;
    (sum(&series.conns_per_s), sum(&series.bytes_per_s))
}

/// The indexes of the `limit` busiest of `series` (in their order on the page).
fn busiest(series: &[Option<Series>], limit: usize) -> Vec<usize> {
    let mut ranked: Vec<(usize, (u64, u64))> = series
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.as_ref().map(|s| (i, activity(s))))
        .collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut chosen: Vec<usize> = ranked.into_iter().take(limit).map(|(i, _)| i).collect();
    chosen.sort_unstable();
    chosen
}

impl StatusView {
    /// Adds the last hour from `history`: charts for the busiest services and their
    /// busiest servers, and the transitions' strip.
    pub fn with_history(mut self, history: &History, now_ms: u64) -> StatusView {
        let mut notes = Vec::new();
        if history.last_ms().is_none() {
            notes.push(format!(
                "The charts start with the first sample, {STEP_S} s after the balancer starts."
            ));
        }
        let series: Vec<Option<Series>> = self
            .services
            .iter()
            .map(|s| history.series(&s.name))
            .collect();
        let charted = busiest(&series, MAX_CHARTED_SERVICES);
        if self.services.len() > charted.len() && !charted.is_empty() {
            notes.push(format!(
                "Charts are drawn for the {} busiest of {} virtual services.",
                charted.len(),
                self.services.len()
            ));
        }
        for i in charted {
            let (Some(s), service) = (&series[i], &mut self.services[i]) else {
                continue;
            };
            service.chart_conns = Some(chart::area(
                &format!("{}: connections per second, last hour", service.name),
                Unit::PerSecond,
                &s.conns_per_s,
                360,
                48,
                SAMPLES,
            ));
            service.chart_bytes = Some(chart::area(
                &format!("{}: throughput in and out, last hour", service.name),
                Unit::Bytes,
                &s.bytes_per_s,
                360,
                48,
                SAMPLES,
            ));
            let servers: Vec<Option<Series>> = service
                .real_servers
                .iter()
                .map(|r| history.series(&real_server_key(&service.name, &r.address)))
                .collect();
            for j in busiest(&servers, MAX_CHARTED_SERVERS) {
                let (Some(s), server) = (&servers[j], &mut service.real_servers[j]) else {
                    continue;
                };
                let title = |what: &str| format!("{}: {what}, last hour", server.address);
                server.spark_conns = Some(chart::area(
                    &title("connections per second"),
                    Unit::PerSecond,
                    &s.conns_per_s,
                    64,
                    16,
                    60,
                ));
                server.spark_bytes = Some(chart::area(
                    &title("throughput"),
                    Unit::Bytes,
                    &s.bytes_per_s,
                    64,
                    16,
                    60,
                ));
            }
        }
        let transitions = history.transitions(now_ms);
        if history.last_ms().is_some() || !transitions.is_empty() {
            self.timeline = Some(chart::timeline(&transitions, now_ms, 720));
        }
        self.transitions = transitions
            .iter()
            .rev()
            .take(MAX_LISTED_TRANSITIONS)
            .map(|t| {
                let what = if t.what == "vrrp" { "VRRP" } else { "health" };
                format!("{} {what} {} \u{2192} {}", utc(t.at_ms), t.subject, t.to)
            })
            .collect();
        self.charts_note = (!notes.is_empty()).then(|| notes.join(" "));
        self
    }
}

#[cfg(test)]
#[path = "charts_tests.rs"]
mod tests;
