//! Console log lines: `[    2.104000] balancer: interfaces up`.
//!
//! The timestamp is CLOCK_BOOTTIME, the kernel's own clock for its messages, so firmware
//! and kernel lines sort together. Each line goes out in one write, so lines from PID 1
//! and the balancer never mix within a line.
//!
//! PID 1 owns the console's edit line, so once its console is up its own lines are not
//! written at once but kept ([`capture`]) until its loop prints them above the line being
//! typed ([`take_captured`]); bounded, so a burst cannot grow without limit.
//!
//! The newest lines of the process are also kept in memory (a ring of at most
//! [`RING_LINES`] lines of at most [`RING_LINE_BYTES`] bytes) for the web page's log.

pub mod audit;

use std::collections::VecDeque;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use log::{Level, LevelFilter, Log, Metadata, Record};
use nix::time::{clock_gettime, ClockId};

struct ConsoleLogger;

/// What every line of this process is said by ([`init`]).
static COMPONENT: Mutex<&'static str> = Mutex::new("lvsfw");

fn component() -> &'static str {
    *COMPONENT.lock().unwrap_or_else(|p| p.into_inner())
}

impl Log for ConsoleLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        // The audit trail's lines go to its owner, PID 1 (crate::audit).
        let mut message = record.args().to_string();
        let component = component();
        if record.target() == "audit" {
            match crate::audit::submit(&message, component == "init") {
                Ok(()) => return,
                Err(line) => message = format!("audit line not recorded (no PID 1 socket): {line}"),
            }
        }
        emit(component, record.level(), &message);
    }

    fn flush(&self) {}
}

/// Writes one line as `component` says it (PID 1 logs the audit trail's lines with
/// component `audit`).
pub fn write_as(component: &str, level: Level, message: &str) {
    if level <= log::max_level() {
        emit(component, level, message);
    }
}

fn emit(component: &str, level: Level, message: &str) {
    if KERNEL_LOG.load(Ordering::Relaxed) {
        let _ = std::io::stderr()
            .lock()
            .write_all(kernel_log_record(component, level, message).as_bytes());
        return;
    }
    let line = format_line(boot_time_micros(), component, level, message);
    let problem = level <= Level::Warn;
    let capturing = CAPTURING.load(Ordering::Relaxed);
    if capturing || KEEPING.load(Ordering::Relaxed) {
        let mut captured = CAPTURED.lock().unwrap_or_else(|p| p.into_inner());
        if captured.len() >= MAX_CAPTURED {
            captured.pop_front();
        }
        captured.push_back((line.clone(), !capturing));
    }
    if !capturing {
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
    remember(&line, problem);
}

static KERNEL_LOG: AtomicBool = AtomicBool::new(false);

/// From now on this process's lines are records for the kernel's log: its stderr is
/// /dev/kmsg (the kernel's modprobe helper has no other output), which stamps them and
/// which PID 1 shows as the kernel's lines, with their severity.
pub fn to_kernel_log() {
    KERNEL_LOG.store(true, Ordering::Relaxed);
}

/// A /dev/kmsg record: `<PRIORITY>component: message` (facility user, the line's
/// severity; the kernel adds the time).
fn kernel_log_record(component: &str, level: Level, message: &str) -> String {
    let severity = match level {
        Level::Error => 3,
        Level::Warn => 4,
        Level::Info => 6,
        Level::Debug | Level::Trace => 7,
    };
    format!("<{}>{component}: {message}\n", 8 + severity)
}

/// Lines kept while capturing; older ones are dropped first.
const MAX_CAPTURED: usize = 1000;
static CAPTURING: AtomicBool = AtomicBool::new(false);
static KEEPING: AtomicBool = AtomicBool::new(false);
/// Each line, and whether it was written out already.
static CAPTURED: Mutex<VecDeque<(String, bool)>> = Mutex::new(VecDeque::new());

/// From now on (true) this process's lines wait in memory for [`take_captured`]; false
/// writes them to stderr again.
pub fn capture(on: bool) {
    CAPTURING.store(on, Ordering::Relaxed);
}

/// Lines written to stderr are also kept for [`take_captured`] (marked as shown), so that
/// PID 1's first lines, before its console is up, are in `show log` too.
pub fn keep(on: bool) {
    KEEPING.store(on, Ordering::Relaxed);
}

/// The lines kept since the last call, oldest first, each with whether it was already
/// written out.
pub fn take_captured() -> Vec<(String, bool)> {
    let mut captured = CAPTURED.lock().unwrap_or_else(|p| p.into_inner());
    captured.drain(..).collect()
}

fn boot_time_micros() -> u64 {
    clock_gettime(ClockId::CLOCK_BOOTTIME)
        .map(|t| t.tv_sec() as u64 * 1_000_000 + t.tv_nsec() as u64 / 1000)
        .unwrap_or(0)
}

fn format_line(micros: u64, component: &str, level: Level, message: &str) -> String {
    let prefix = match level {
        Level::Error => "error: ",
        Level::Warn => "warning: ",
        _ => "",
    };
    format!(
        "[{:5}.{:06}] {component}: {prefix}{message}\n",
        micros / 1_000_000,
        micros % 1_000_000
    )
}

/// Lines the in-memory ring keeps.
pub const RING_LINES: usize = 500;
/// Errors and warnings kept apart, so that a flood of other lines cannot push them out.
pub const PROBLEM_LINES: usize = 100;
/// A longer line is kept cut to this many bytes.
pub const RING_LINE_BYTES: usize = 512;

static RING: Mutex<VecDeque<String>> = Mutex::new(VecDeque::new());
static PROBLEMS: Mutex<VecDeque<String>> = Mutex::new(VecDeque::new());
static RINGING: AtomicBool = AtomicBool::new(false);

/// From now on this process keeps its newest lines for [`recent`] (the balancer does,
/// for the web page).
pub fn keep_recent(on: bool) {
    RINGING.store(on, Ordering::Relaxed);
}

fn remember(line: &str, problem: bool) {
    if RINGING.load(Ordering::Relaxed) {
        keep_in(
            &mut RING.lock().unwrap_or_else(|p| p.into_inner()),
            line,
            RING_LINES,
        );
        if problem {
            let mut problems = PROBLEMS.lock().unwrap_or_else(|p| p.into_inner());
            keep_in(&mut problems, line, PROBLEM_LINES);
        }
    }
}

/// Adds `line` (without its newline, cut to [`RING_LINE_BYTES`]) to `ring`, dropping the
/// oldest beyond `max`.
fn keep_in(ring: &mut VecDeque<String>, line: &str, max: usize) {
    let line = line.trim_end_matches('\n');
    let mut end = line.len().min(RING_LINE_BYTES);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    if ring.len() == max {
        ring.pop_front();
    }
    ring.push_back(line[..end].to_string());
}

/// The newest log lines of this process, oldest first.
pub fn recent() -> Vec<String> {
    let ring = RING.lock().unwrap_or_else(|p| p.into_inner());
    ring.iter().cloned().collect()
}

/// The newest errors and warnings of this process, oldest first.
pub fn recent_problems() -> Vec<String> {
    let ring = PROBLEMS.lock().unwrap_or_else(|p| p.into_inner());
    ring.iter().cloned().collect()
}

/// Installs the console logger for this process; `component` names it in every line.
///
/// A child PID 1 forked (boot's restore going on as the balancer) calls it again: it then
/// takes the logger over as `component`, with nothing of PID 1's kept or captured.
pub fn init(component: &'static str) {
    *COMPONENT.lock().unwrap_or_else(|p| p.into_inner()) = component;
    capture(false);
    keep(false);
    drop(take_captured());
    drop(crate::audit::take_local());
    static LOGGER: ConsoleLogger = ConsoleLogger;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(LevelFilter::Info);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tests that log through the process's one logger state take turns.
    static SERIAL: Mutex<()> = Mutex::new(());

    #[test]
    fn the_ring_keeps_the_newest_lines_cut_to_size() {
        let mut ring = VecDeque::new();
        for i in 0..RING_LINES + 5 {
            keep_in(&mut ring, &format!("line {i}\n"), RING_LINES);
        }
        keep_in(&mut ring, &"é".repeat(RING_LINE_BYTES), RING_LINES);
        let lines: Vec<String> = ring.into_iter().collect();
        assert_eq!(lines.len(), RING_LINES);
        assert_eq!(lines[0], "line 6");
        assert_eq!(lines.last().unwrap().len(), RING_LINE_BYTES);
    }

    #[test]
    fn an_error_stays_when_a_flood_of_other_lines_pushes_it_out_of_the_ring() {
        let _turn = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        init("balancer");
        let logger = ConsoleLogger;
        keep_recent(true);
        let line = |level, text: &str| {
            logger.log(
                &Record::builder()
                    .level(level)
                    .args(format_args!("{text}"))
                    .build(),
            );
        };
        line(Level::Error, "VI_9: not running: flooded");
        for n in 0..RING_LINES + 10 {
            line(Level::Info, &format!("junk {n}"));
        }
        assert!(!recent().iter().any(|l| l.contains("flooded")));
        let problems = recent_problems();
        assert!(
            problems
                .iter()
                .any(|l| l.ends_with("balancer: error: VI_9: not running: flooded")),
            "{problems:?}"
        );
        assert!(!problems.iter().any(|l| l.contains("junk")));
    }

    #[test]
    fn captured_lines_wait_and_are_bounded() {
        let _turn = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        init("init");
        let logger = ConsoleLogger;
        capture(true);
        for n in 0..MAX_CAPTURED + 5 {
            logger.log(
                &Record::builder()
                    .level(Level::Info)
                    .args(format_args!("line {n}"))
                    .build(),
            );
        }
        capture(false);
        let lines = take_captured();
        assert_eq!(lines.len(), MAX_CAPTURED);
        assert!(lines[0].0.ends_with("init: line 5\n"), "{}", lines[0].0);
        assert!(!lines[0].1, "not written out");
        assert!(take_captured().is_empty());
    }

    #[test]
    fn a_forked_child_takes_the_logger_over_with_nothing_of_pid_1_kept() {
        let _turn = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        init("init");
        keep(true);
        log::info!("PID 1's line");
        log::info!(target: "audit", "PID 1's audit line");
        init("balancer");
        assert!(take_captured().is_empty(), "PID 1's kept lines are gone");
        assert!(crate::audit::take_local().is_empty());
        keep(true);
        log::info!("the balancer's line");
        let lines = take_captured();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].0.ends_with("] balancer: the balancer's line\n"),
            "{}",
            lines[0].0
        );
        keep(false);
    }

    #[test]
    fn a_kernel_log_record_has_the_user_facility_and_the_lines_severity() {
        assert_eq!(
            kernel_log_record(
                "modprobe",
                Level::Info,
                "loaded 1 kernel modules for ip_vs_dh"
            ),
            "<14>modprobe: loaded 1 kernel modules for ip_vs_dh\n"
        );
        assert_eq!(
            kernel_log_record("modprobe", Level::Error, "x"),
            "<11>modprobe: x\n"
        );
        assert_eq!(kernel_log_record("m", Level::Warn, "y"), "<12>m: y\n");
    }

    #[test]
    fn lines_carry_time_component_and_severity() {
        assert_eq!(
            format_line(2_104_000, "balancer", Level::Info, "interfaces up"),
            "[    2.104000] balancer: interfaces up\n"
        );
        assert_eq!(
            format_line(12_345_678_901, "init", Level::Error, "x"),
            "[12345.678901] init: error: x\n"
        );
        assert_eq!(
            format_line(5, "init", Level::Warn, "y"),
            "[    0.000005] init: warning: y\n"
        );
    }
}
