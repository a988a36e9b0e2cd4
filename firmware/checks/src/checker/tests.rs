//! The checker against simulated servers on a simulated clock: every time below is exact.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::outcome::{Failure, Passed, ProbeResult};
use crate::spec::{CheckSpec, HttpCheck, Url};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn addr() -> SocketAddr {
    "192.0.2.11:80".parse().unwrap()
}

/// The brief's example: delay_loop 6, retry 3, delay_before_retry 3, connect_timeout 3,
/// warmup 0 (so the first probe is at exactly 1 s).
fn timing() -> Timing {
    Timing {
        connect_timeout: secs(3),
        retry: 3,
        delay_before_retry: secs(3),
        delay_loop: secs(6),
        warmup: Duration::ZERO,
        alpha: false,
    }
}

fn tcp_spec(timing: Timing) -> CheckSpec {
    CheckSpec {
        timing,
        ..CheckSpec::tcp(addr())
    }
}

fn http_spec(timing: Timing, urls: usize, fast_recovery: bool) -> CheckSpec {
    let urls = (0..urls).map(|i| Url::new(format!("/{i}"))).collect();
    let mut http = HttpCheck::new(urls);
    http.fast_recovery = fast_recovery;
    CheckSpec {
        timing,
        ..CheckSpec::http(addr(), http)
    }
}

/// What a simulated server answers a probe started at `at` (seconds since start) for
/// `url`: how long the probe takes and its result.
type Server<'a> = dyn FnMut(Duration, Option<usize>) -> (Duration, ProbeResult) + 'a;

fn pass() -> (Duration, ProbeResult) {
    (Duration::ZERO, ProbeResult::Passed(Passed::Connected))
}

fn http_pass() -> (Duration, ProbeResult) {
    (
        Duration::ZERO,
        ProbeResult::Passed(Passed::Http { status: 200 }),
    )
}

/// A dead host: the connect times out after connect_timeout.
fn timeout() -> (Duration, ProbeResult) {
    (
        secs(3),
        ProbeResult::Failed(Failure::ConnectTimeout(secs(3))),
    )
}

fn refused() -> (Duration, ProbeResult) {
    (Duration::ZERO, ProbeResult::Failed(Failure::Refused))
}

/// One checker on a simulated clock, with what happened and when.
struct Sim {
    checker: Checker,
    start: Instant,
    now: Instant,
    /// (start time, url) of every probe.
    probes: Vec<(Duration, Option<usize>)>,
    /// (time, health, reason) of every report of a change.
    reports: Vec<(Duration, Health, String)>,
    /// (time, health) of every report that changed nothing (the first result).
    confirmations: Vec<(u64, Health)>,
}

impl Sim {
    fn new(spec: &CheckSpec, random: u32) -> Self {
        let start = Instant::now();
        Sim {
            checker: Checker::new(spec, start, random),
            start,
            now: start,
            probes: Vec::new(),
            reports: Vec::new(),
            confirmations: Vec::new(),
        }
    }

    fn at(&self) -> Duration {
        self.now - self.start
    }

    /// Runs probes until the next one would start after `until`.
    fn run(&mut self, until: Duration, server: &mut Server<'_>) {
        for _ in 0..10_000 {
            let due = self
                .checker
                .next_deadline()
                .expect("waiting between probes");
            if due - self.start > until {
                return;
            }
            self.now = due;
            let Some(Action::Probe(probe)) = self.checker.on_event(Event::Timer, self.now) else {
                panic!("a due timer must start a probe");
            };
            self.probes.push((self.at(), probe.url));
            assert_eq!(self.checker.next_deadline(), None);
            let (took, result) = server(self.at(), probe.url);
            self.now += took;
            match self.checker.on_event(Event::Probed(result), self.now) {
                Some(Action::Report(t)) if !t.changed => {
                    self.confirmations.push((self.at().as_secs(), t.health));
                }
                Some(Action::Report(t)) => {
                    let reason = t.cause.to_string();
                    self.reports.push((self.at(), t.health, reason));
                }
                Some(Action::Probe(_)) => panic!("a result never starts a probe"),
                None => {}
            }
        }
        panic!("simulation did not reach {until:?}");
    }

    fn probe_times(&self) -> Vec<u64> {
        self.probes.iter().map(|(t, _)| t.as_secs()).collect()
    }

    fn report_times(&self) -> Vec<(u64, Health)> {
        self.reports
            .iter()
            .map(|(t, h, _)| (t.as_secs(), *h))
            .collect()
    }
}

#[test]
fn tcp_dead_server_goes_down_after_retry_plus_one_attempts_at_the_exact_time() {
    let mut sim = Sim::new(&tcp_spec(timing()), 0);
    // Alive until 20 s, then the host is gone: every connect times out after 3 s.
    sim.run(secs(45), &mut |at, _| {
        if at < secs(20) {
            pass()
        } else {
            timeout()
        }
    });
    // Passes at 1, 7, 13, 19; the probe at 25 fails at 28, retries at 31, 37, 43 (each
    // delay_before_retry after the previous failure), the fourth failure at 46.
    assert_eq!(sim.probe_times(), [1, 7, 13, 19, 25, 31, 37, 43]);
    assert_eq!(sim.report_times(), [(46, Health::Down)]);
    assert_eq!(sim.reports[0].2, "connect timeout after 3 s (4 attempts)");
    // 46 - 25 = (retry + 1) × connect_timeout + retry × delay_before_retry.
}

#[test]
fn tcp_down_server_is_probed_every_delay_loop_and_comes_up_on_its_first_pass() {
    let mut sim = Sim::new(&tcp_spec(timing()), 0);
    // Refused from the start: the first failure takes it down at once (keepalived starts
    // the retry counter at `retry`), then one probe per delay_loop; back at 20 s.
    sim.run(secs(30), &mut |at, _| {
        if at < secs(20) {
            refused()
        } else {
            pass()
        }
    });
    assert_eq!(sim.probe_times(), [1, 7, 13, 19, 25]);
    assert_eq!(sim.report_times(), [(1, Health::Down), (25, Health::Up)]);
    assert_eq!(sim.reports[0].2, "connection refused");
    assert_eq!(sim.reports[1].2, "TCP connect succeeded");
}

#[test]
fn tcp_a_pass_between_failures_resets_the_retry_count() {
    let mut sim = Sim::new(&tcp_spec(timing()), 0);
    // Up; then refused three times (1 + 2 retries, one short of down), one pass, then
    // refused for good: the count starts again, so it takes four more failures.
    let mut script = vec![
        pass(),
        refused(),
        refused(),
        refused(),
        pass(),
        refused(),
        refused(),
        refused(),
        refused(),
    ]
    .into_iter();
    sim.run(secs(40), &mut |_, _| script.next().unwrap_or_else(refused));
    assert_eq!(sim.probe_times(), [1, 7, 10, 13, 16, 22, 25, 28, 31, 37]);
    assert_eq!(sim.report_times(), [(31, Health::Down)]);
    assert_eq!(sim.reports[0].2, "connection refused (4 attempts)");
}

#[test]
fn tcp_with_retry_zero_goes_down_on_one_failure() {
    let timing = Timing {
        retry: 0,
        ..timing()
    };
    let mut sim = Sim::new(&tcp_spec(timing), 0);
    sim.run(secs(20), &mut |at, _| {
        if at < secs(5) {
            pass()
        } else {
            refused()
        }
    });
    assert_eq!(sim.probe_times(), [1, 7, 13, 19]);
    assert_eq!(sim.report_times(), [(7, Health::Down)]);
}

#[test]
fn alpha_starts_down_and_comes_up_on_a_pass_without_reporting_the_start_failure() {
    let timing = Timing {
        alpha: true,
        ..timing()
    };
    let mut sim = Sim::new(&tcp_spec(timing), 0);
    assert_eq!(sim.checker.health(), Health::Down);
    sim.run(secs(10), &mut |at, _| {
        if at < secs(5) {
            refused()
        } else {
            pass()
        }
    });
    assert_eq!(sim.probe_times(), [1, 7]);
    assert_eq!(sim.report_times(), [(7, Health::Up)]);
}

#[test]
fn warmup_spreads_the_first_probe_over_one_second_plus_warmup() {
    let timing = Timing {
        warmup: secs(60),
        ..timing()
    };
    let spec = tcp_spec(timing);
    let start = Instant::now();
    let first = |random| Checker::new(&spec, start, random).next_deadline().unwrap() - start;
    assert_eq!(first(0), BOOTSTRAP_DELAY);
    assert_eq!(first(u32::MAX), BOOTSTRAP_DELAY + secs(60));
    let half = first(u32::MAX / 2);
    assert!(half > secs(30) && half < secs(31), "{half:?}");
}

#[test]
fn early_timers_and_stray_results_change_nothing() {
    let spec = tcp_spec(timing());
    let start = Instant::now();
    let mut checker = Checker::new(&spec, start, 0);
    let due = checker.next_deadline().unwrap();
    assert_eq!(
        checker.on_event(Event::Timer, due - Duration::from_nanos(1)),
        None
    );
    let stray = Event::Probed(ProbeResult::Failed(Failure::Refused));
    assert_eq!(checker.on_event(stray.clone(), due), None);
    assert_eq!(checker.health(), Health::Up);
    assert_eq!(checker.next_deadline(), Some(due));

    assert!(matches!(
        checker.on_event(Event::Timer, due),
        Some(Action::Probe(_))
    ));
    assert!(checker.is_probing());
    // A second timer while the probe is out does not start another.
    assert_eq!(checker.on_event(Event::Timer, due + secs(100)), None);
}

#[test]
fn http_dead_server_goes_down_at_the_same_time_as_tcp() {
    let mut sim = Sim::new(&http_spec(timing(), 1, false), 0);
    sim.run(secs(45), &mut |at, _| {
        if at < secs(20) {
            http_pass()
        } else {
            timeout()
        }
    });
    assert_eq!(sim.probe_times(), [1, 7, 13, 19, 25, 31, 37, 43]);
    assert_eq!(sim.report_times(), [(46, Health::Down)]);
}

#[test]
fn http_recovery_needs_the_failed_url_and_then_a_full_round() {
    let timing = Timing {
        delay_before_retry: secs(10),
        ..timing()
    };
    let mut sim = Sim::new(&http_spec(timing, 1, false), 0);
    let status = |code| {
        let expected = crate::StatusCodes::default();
        ProbeResult::Failed(Failure::Status {
            got: code,
            expected,
        })
    };
    // 503 from the start: down at once; while down the failed URL is probed every
    // max(delay_before_retry, delay_loop) = 10 s. It answers 200 from 25 s on: the
    // failed URL passes at 31, the round from the first URL passes at 37 (a delay_loop
    // later): up at 37.
    sim.run(secs(40), &mut |at, _| {
        if at < secs(25) {
            (Duration::ZERO, status(503))
        } else {
            http_pass()
        }
    });
    assert_eq!(sim.probe_times(), [1, 11, 21, 31, 37]);
    assert_eq!(sim.report_times(), [(1, Health::Down), (37, Health::Up)]);
    assert_eq!(sim.reports[0].2, "HTTP status 503, expected 200-299");
    assert_eq!(sim.reports[1].2, "HTTP status 200");
}

#[test]
fn http_urls_take_turns_while_up_and_the_failing_one_is_retried() {
    let mut sim = Sim::new(&http_spec(timing(), 3, false), 0);
    // URL 1 starts failing at 30 s.
    sim.run(secs(60), &mut |at, url| {
        if url == Some(1) && at >= secs(30) {
            refused()
        } else {
            http_pass()
        }
    });
    let urls: Vec<_> = sim
        .probes
        .iter()
        .map(|(t, u)| (t.as_secs(), u.unwrap()))
        .collect();
    assert_eq!(
        urls,
        [
            (1, 0),
            (7, 1),
            (13, 2),
            (19, 0),
            (25, 1),
            (31, 2),
            (37, 0),
            // URL 1 fails at 43 and is retried alone, delay_before_retry apart; the
            // fourth failure (52) takes the server down; then every delay_loop.
            (43, 1),
            (46, 1),
            (49, 1),
            (52, 1),
            (58, 1),
        ]
    );
    assert_eq!(sim.report_times(), [(52, Health::Down)]);
    assert_eq!(sim.reports[0].2, "connection refused (4 attempts)");
}

#[test]
fn http_comes_up_only_after_every_url_passed_in_turn() {
    let timing = Timing {
        alpha: true,
        ..timing()
    };
    let mut sim = Sim::new(&http_spec(timing, 3, false), 0);
    sim.run(secs(20), &mut |_, _| http_pass());
    assert_eq!(sim.probe_times(), [1, 7, 13, 19]);
    assert_eq!(sim.report_times(), [(13, Health::Up)]);
    assert_eq!(sim.reports[0].2, "HTTP status 200; all 3 URLs passed");
}

#[test]
fn http_fast_recovery_checks_the_remaining_urls_at_once() {
    let timing = Timing {
        alpha: true,
        ..timing()
    };
    let mut sim = Sim::new(&http_spec(timing, 3, true), 0);
    sim.run(secs(8), &mut |_, _| http_pass());
    // Start: all three at 1 s; up; then the usual one URL per delay_loop.
    assert_eq!(sim.probe_times(), [1, 1, 1, 7]);
    assert_eq!(sim.report_times(), [(1, Health::Up)]);
}

#[test]
fn http_fast_recovery_after_a_failure_in_the_recovery_round_waits_delay_before_retry() {
    let timing = Timing {
        alpha: true,
        ..timing()
    };
    let mut sim = Sim::new(&http_spec(timing, 2, true), 0);
    // URL 0 passes at start, URL 1 is refused once (at 1 s), then both pass.
    let mut url1_failures = 1;
    sim.run(secs(8), &mut |_, url| {
        if url == Some(1) && url1_failures > 0 {
            url1_failures -= 1;
            refused()
        } else {
            http_pass()
        }
    });
    // URL 1's failure in the first round: retry counter starts at `retry`, so it is the
    // failed URL now; probed again max(dbr, delay_loop) later, then the round again.
    assert_eq!(sim.probe_times(), [1, 1, 7, 7, 7]);
    assert_eq!(sim.report_times(), [(7, Health::Up)]);
}

#[test]
fn http_failure_in_the_recovery_round_is_retried_after_delay_before_retry() {
    // keepalived does not mark the URL as failed again while the server is down and
    // recovering; its next try is delay_before_retry later, not delay_loop.
    let mut sim = Sim::new(&http_spec(timing(), 2, false), 0);
    let mut script = vec![
        (Some(0), refused()),   // 1: down at once
        (Some(0), http_pass()), // 7: the failed URL passes, round from URL 0
        (Some(0), http_pass()), // 13
        (Some(1), refused()),   // 19: URL 1 fails while recovering
        (Some(1), http_pass()), // 22 = 19 + delay_before_retry
    ]
    .into_iter();
    sim.run(secs(22), &mut |_, url| {
        let (want, answer) = script.next().expect("no probe beyond the script");
        assert_eq!(url, want);
        answer
    });
    assert_eq!(sim.probe_times(), [1, 7, 13, 19, 22]);
    assert_eq!(sim.report_times(), [(1, Health::Down), (22, Health::Up)]);
}

#[test]
fn http_first_round_after_start_needs_one_failure_only_on_any_url() {
    let mut sim = Sim::new(&http_spec(timing(), 2, false), 0);
    sim.run(secs(8), &mut |_, url| {
        if url == Some(1) {
            refused()
        } else {
            http_pass()
        }
    });
    assert_eq!(sim.probe_times(), [1, 7]);
    assert_eq!(sim.report_times(), [(7, Health::Down)]);
    assert_eq!(sim.checker.health(), Health::Down);
}

#[test]
fn resume_keeps_a_down_server_down_until_a_pass() {
    let spec = tcp_spec(timing());
    let start = Instant::now();
    let mut checker = Checker::resume(&spec, start, 0, Health::Down);
    assert_eq!(checker.health(), Health::Down);
    let due = checker.next_deadline().unwrap();
    checker.on_event(Event::Timer, due);
    let failed = Event::Probed(ProbeResult::Failed(Failure::Refused));
    // The first result is reported, as changing nothing.
    let Some(Action::Report(t)) = checker.on_event(failed.clone(), due) else {
        panic!("the first result is reported");
    };
    assert_eq!((t.health, t.changed), (Health::Down, false));
    let due = checker.next_deadline().unwrap();
    assert_eq!(due - start, BOOTSTRAP_DELAY + secs(6));
    checker.on_event(Event::Timer, due);
    assert_eq!(checker.on_event(failed, due), None, "only the first");
    let due = checker.next_deadline().unwrap();
    checker.on_event(Event::Timer, due);
    let passed = Event::Probed(ProbeResult::Passed(Passed::Connected));
    let Some(Action::Report(t)) = checker.on_event(passed, due) else {
        panic!("a pass of a down server is reported");
    };
    assert_eq!((t.health, t.changed), (Health::Up, true));
}

fn smtp_spec(timing: Timing) -> CheckSpec {
    CheckSpec {
        timing,
        ..CheckSpec::smtp(addr(), crate::smtp::SmtpCheck::default())
    }
}

fn smtp_pass() -> (Duration, ProbeResult) {
    (Duration::ZERO, ProbeResult::Passed(Passed::Smtp))
}

#[test]
fn smtp_needs_retry_plus_one_failures_in_one_round_even_at_start() {
    let mut sim = Sim::new(&smtp_spec(timing()), 0);
    // Refused from the start: unlike the other checks, one failure is not enough; the
    // fourth, delay_before_retry after each other, takes it down at 10. The next round
    // starts a delay_loop later and is tried retry + 1 times again, without a report.
    sim.run(secs(40), &mut |_, _| refused());
    assert_eq!(
        sim.probe_times(),
        [1, 4, 7, 10, 16, 19, 22, 25, 31, 34, 37, 40]
    );
    assert_eq!(sim.report_times(), [(10, Health::Down)]);
    assert_eq!(sim.reports[0].2, "connection refused (4 attempts)");
}

#[test]
fn smtp_a_down_server_comes_up_on_a_pass_at_any_try_of_a_round() {
    let mut sim = Sim::new(&smtp_spec(timing()), 0);
    let mut script = vec![
        refused(),   // 1
        refused(),   // 4
        refused(),   // 7
        refused(),   // 10: down
        refused(),   // 16: a new round
        smtp_pass(), // 19: up
        refused(),   // 25: up, so a retry at 28 ...
        smtp_pass(), // 28: ... which passes: the count starts again
    ]
    .into_iter();
    sim.run(secs(34), &mut |_, _| {
        script.next().unwrap_or_else(smtp_pass)
    });
    assert_eq!(sim.probe_times(), [1, 4, 7, 10, 16, 19, 25, 28, 34]);
    assert_eq!(sim.report_times(), [(10, Health::Down), (19, Health::Up)]);
    assert_eq!(sim.reports[1].2, "SMTP greeting, HELO and QUIT answered");
}

#[test]
fn ping_udp_and_dns_follow_tcp_checks_rules() {
    let specs = [
        CheckSpec::ping(addr().ip()),
        CheckSpec::udp(addr(), crate::udp::UdpCheck::default()),
        CheckSpec::dns(addr(), crate::dns::DnsCheck::default()),
    ];
    for spec in specs {
        let spec = CheckSpec {
            timing: timing(),
            ..spec
        };
        let mut sim = Sim::new(&spec, 0);
        // As tcp_dead_server_goes_down_after_retry_plus_one_attempts_at_the_exact_time.
        sim.run(secs(45), &mut |at, url| {
            assert_eq!(url, None);
            if at < secs(20) {
                pass()
            } else {
                timeout()
            }
        });
        assert_eq!(sim.probe_times(), [1, 7, 13, 19, 25, 31, 37, 43]);
        assert_eq!(
            sim.report_times(),
            [(46, Health::Down)],
            "{}",
            spec.kind_name()
        );
    }
}

/// The status page shows each server's last check: the first result is reported even
/// when it only confirms the state the server started in, and only that one.
#[test]
fn the_first_result_is_reported_once_even_when_it_changes_nothing() {
    let mut sim = Sim::new(&tcp_spec(timing()), 0);
    sim.run(secs(30), &mut |_, _| pass());
    assert_eq!(sim.confirmations, [(1, Health::Up)]);
    assert!(sim.reports.is_empty(), "{:?}", sim.reports);

    let mut sim = Sim::new(&http_spec(timing(), 2, false), 0);
    sim.run(secs(30), &mut |_, _| http_pass());
    assert_eq!(
        sim.confirmations,
        [(7, Health::Up)],
        "after both URLs passed"
    );
    assert!(sim.reports.is_empty(), "{:?}", sim.reports);

    // alpha, with retries to spend: the server is down from the start and says why at
    // its first failure, then nothing until it comes up.
    for spec in [
        tcp_spec(alpha_timing()),
        http_spec(alpha_timing(), 1, false),
    ] {
        let mut sim = Sim::new(&spec, 0);
        sim.run(secs(40), &mut |at, _| {
            if at < secs(30) {
                refused()
            } else {
                pass()
            }
        });
        assert_eq!(sim.confirmations, [(1, Health::Down)], "{spec:?}");
        assert_eq!(sim.report_times().len(), 1, "{:?}", sim.reports);
        assert_eq!(sim.report_times()[0].1, Health::Up);
    }
}

fn alpha_timing() -> Timing {
    Timing {
        alpha: true,
        ..timing()
    }
}
