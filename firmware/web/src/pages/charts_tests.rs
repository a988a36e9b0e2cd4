use super::*;
use crate::backend::*;
use crate::history::{Kind, Totals, Transition};

fn frame() -> Frame<'static> {
    static NO_NOTICES: Notices = Notices {
        unsaved: false,
        not_running: Vec::new(),
        rollback: None,
    };
    Frame {
        title: "Status",
        hostname: "lb1",
        nav: Nav::Status,
        csrf: "tok",
        messages: &[],
        notices: &NO_NOTICES,
        refresh: 0,
    }
}

fn status(services: usize) -> Status {
    Status {
        services: (0..services)
            .map(|i| ServiceStatus {
                name: format!("TCP 10.0.0.{i}:80"),
                real_servers: vec![RealServerStatus {
                    address: format!("10.1.0.{i}:80"),
                    ..RealServerStatus::default()
                }],
                ..ServiceStatus::default()
            })
            .collect(),
        ..Status::default()
    }
}

/// `steps` readings where service `i` makes `i` connections a step.
fn history(services: usize, steps: u64) -> History {
    let mut h = History::new();
    for step in 0..steps {
        let mut totals = Vec::new();
        for i in 0..services as u64 {
            let name = format!("TCP 10.0.0.{i}:80");
            totals.push(Totals {
                kind: Kind::RealServer,
                key: real_server_key(&name, &format!("10.1.0.{i}:80")),
                conns: step * i,
                bytes: step * i * 1000,
            });
            totals.push(Totals {
                kind: Kind::Service,
                key: name,
                conns: step * i,
                bytes: step * i * 1000,
            });
        }
        h.observe(step * 10_000, 10.0, totals);
    }
    h
}

#[test]
fn the_busiest_services_get_charts_and_the_page_says_how_many() {
    let n = MAX_CHARTED_SERVICES + 5;
    let view = StatusView::new(&status(n), 100_000).with_history(&history(n, 10), 100_000);
    let charted: Vec<usize> = (0..n)
        .filter(|&i| view.services[i].chart_conns.is_some())
        .collect();
    // Service i makes i connections a step: the five quietest (0..5) go without.
    assert_eq!(charted, (5..n).collect::<Vec<_>>());
    assert!(view.services[n - 1].real_servers[0].spark_conns.is_some());
    assert!(view.services[0].real_servers[0].spark_conns.is_none());
    assert_eq!(
        view.charts_note.as_deref(),
        Some("Charts are drawn for the 20 busiest of 25 virtual services.")
    );
    let html = render(&frame(), STATUS, &view);
    assert_eq!(
        html.matches(r#"<svg class="chart""#).count(),
        20 * 2 + 20 * 2
    );
    assert!(
        html.contains(r#"<div id="timeline"><svg class="timeline""#),
        "{html}"
    );
    assert!(html.contains("No VRRP or health transitions in the last hour."));
}

#[test]
fn before_the_first_sample_the_page_says_when_charts_come() {
    let view = StatusView::new(&status(2), 0).with_history(&History::new(), 0);
    assert!(view.services.iter().all(|s| s.chart_conns.is_none()));
    assert!(view.timeline.is_none());
    let note = view.charts_note.unwrap();
    assert!(note.contains("first sample, 10 s after"), "{note}");
}

#[test]
fn transitions_show_as_marks_and_as_escaped_lines_newest_first() {
    let mut h = history(1, 3);
    for (at_ms, to) in [(20_000, "BACKUP"), (25_000, "MASTER")] {
        h.transition(Transition {
            at_ms,
            what: "vrrp",
            subject: "VI_<1>".into(),
            to: to.into(),
        });
    }
    let view = StatusView::new(&status(1), 30_000).with_history(&h, 30_000);
    assert_eq!(
        view.transitions,
        vec![
            "1970-01-01 00:00:25Z VRRP VI_<1> \u{2192} MASTER",
            "1970-01-01 00:00:20Z VRRP VI_<1> \u{2192} BACKUP"
        ]
    );
    let html = render(&frame(), STATUS, &view);
    assert!(!html.contains("VI_<1>"), "escaped everywhere");
    assert!(html.contains("VI_&lt;1&gt; \u{2192} MASTER</li>"), "{html}");
    assert_eq!(html.matches(r#"<g class="mark">"#).count(), 2);
}
