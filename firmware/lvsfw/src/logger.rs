//! Console log lines: `[    2.104000] balancer: interfaces up`.
//!
//! The timestamp is CLOCK_BOOTTIME, the kernel's own clock for its messages, so firmware
//! and kernel lines sort together. Each line goes out in one write, so lines from PID 1
//! and the balancer never mix within a line.

use std::io::Write;

use log::{Level, LevelFilter, Log, Metadata, Record};
use nix::time::{clock_gettime, ClockId};

struct ConsoleLogger {
    component: &'static str,
}

impl Log for ConsoleLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format_line(
            boot_time_micros(),
            self.component,
            record.level(),
            &record.args().to_string(),
        );
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
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

/// Installs the console logger for this process; `component` names it in every line.
pub fn init(component: &'static str) {
    let logger = Box::leak(Box::new(ConsoleLogger { component }));
    if log::set_logger(logger).is_ok() {
        log::set_max_level(LevelFilter::Info);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
