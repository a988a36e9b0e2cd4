//! The kernel's messages, read from /dev/kmsg into the log, so that they no longer go
//! straight to the serial line over the operator's typing: once the console is PID 1's,
//! the kernel's own console level is lowered to 1 (only KERN_EMERG; a panic raises it
//! again by itself) and the lines the kernel would have printed (its level below the
//! console level the board's `loglevel=` set) are printed through the log, above the
//! edit line like every other line. The others are kept for `show log` only.
//!
//! A line reads `[    5.123456] kernel: error: text`: the source is `kernel`, the
//! severity the syslog one of the record's priority, as a prefix ([`SEVERITY_PREFIX`];
//! none for info), so that whoever forwards the log can give it back its severity.
//!
//! Bounded: the descriptor is non-blocking, a turn reads at most [`RECORDS_PER_TURN`]
//! records, and records the kernel overwrote before we read them are counted, not
//! waited for.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;

use super::logs::Logs;

const KMSG: &str = "/dev/kmsg";
const PRINTK: &str = "/proc/sys/kernel/printk";
/// Records read per turn of PID 1's loop, so that a flood cannot starve the console.
pub const RECORDS_PER_TURN: usize = 256;
/// The kernel's records are at most this long (its LOG_LINE_MAX is 1024 less a header).
const RECORD_MAX: usize = 2048;
/// The console level set once the kernel's lines go through the log.
const QUIET_CONSOLE_LEVEL: u8 = 1;
/// syslog's severities 0 to 7 as a log line's prefix.
pub const SEVERITY_PREFIX: [&str; 8] = [
    "emergency: ",
    "alert: ",
    "critical: ",
    "error: ",
    "warning: ",
    "notice: ",
    "",
    "debug: ",
];

/// One record of /dev/kmsg.
#[derive(Debug, PartialEq, Eq)]
pub struct Record {
    /// syslog severity (0 emergency .. 7 debug) and facility (0 kernel, 1 user, ...).
    pub severity: u8,
    pub facility: u8,
    /// When the kernel logged it, microseconds since boot.
    pub micros: u64,
    pub text: String,
}

/// `prio,seq,usec,flags[,...];text` then, on lines of their own starting with a space,
/// key=value pairs that are not part of the message.
pub fn parse(record: &[u8]) -> Option<Record> {
    let record = String::from_utf8_lossy(record);
    let (header, rest) = record.split_once(';')?;
    let mut fields = header.split(',');
    let prio: u32 = fields.next()?.parse().ok()?;
    let _seq = fields.next()?;
    let micros: u64 = fields.next()?.parse().ok()?;
    let text = rest.split('\n').next().unwrap_or("").to_string();
    Some(Record {
        severity: (prio & 7) as u8,
        facility: (prio >> 3).min(255) as u8,
        micros,
        text,
    })
}

impl Record {
    pub fn line(&self) -> String {
        format!(
            "[{:5}.{:06}] kernel: {}{}\n",
            self.micros / 1_000_000,
            self.micros % 1_000_000,
            SEVERITY_PREFIX[self.severity as usize & 7],
            self.text
        )
    }
}

#[derive(Default)]
pub struct Kmsg {
    fd: Option<OwnedFd>,
    /// Records of a level below this were printed on the console by the kernel (before
    /// [`Kmsg::open`] lowered it) or are to be printed through the log now.
    console_level: u8,
    /// Records up to this time (µs since boot) were printed by the kernel itself.
    printed_until: u64,
    /// Records the kernel overwrote before they were read.
    lost: u64,
}

impl Kmsg {
    /// Opens /dev/kmsg and lowers the kernel's console level; without /dev/kmsg the
    /// kernel keeps printing on the console as before.
    pub fn open() -> Kmsg {
        let fd = match open(
            KMSG,
            OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(e) => {
                log::warn!("{KMSG}: {}; kernel messages stay on the console", e.desc());
                return Kmsg::default();
            }
        };
        let console_level = std::fs::read_to_string(PRINTK)
            .ok()
            .and_then(|t| t.split_whitespace().next()?.parse().ok())
            .unwrap_or(4u8);
        if let Err(e) = std::fs::write(PRINTK, format!("{QUIET_CONSOLE_LEVEL}\n")) {
            log::warn!("{PRINTK}: {e}; kernel messages also go to the console directly");
        }
        Kmsg {
            fd: Some(fd),
            console_level,
            printed_until: boot_micros(),
            lost: 0,
        }
    }

    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.fd.as_ref().map(|f| f.as_fd())
    }

    /// Reads what is there (at most [`RECORDS_PER_TURN`] records) into `logs`.
    pub fn read_into(&mut self, logs: &mut Logs) {
        let Some(fd) = &self.fd else { return };
        let mut buf = [0u8; RECORD_MAX];
        for _ in 0..RECORDS_PER_TURN {
            match nix::unistd::read(fd.as_fd(), &mut buf) {
                Ok(0) | Err(Errno::EAGAIN) => break,
                Ok(n) => {
                    if let Some(r) = parse(&buf[..n]) {
                        let print =
                            r.severity < self.console_level && r.micros > self.printed_until;
                        logs.add(r.line(), print);
                    }
                }
                // The kernel's ring went round under us: the next read gets the oldest
                // record still there.
                Err(Errno::EPIPE) => self.lost += 1,
                Err(Errno::EINTR) => {}
                Err(e) => {
                    log::warn!("{KMSG}: {}; no more kernel messages in the log", e.desc());
                    self.fd = None;
                    break;
                }
            }
        }
        if self.lost > 0 {
            let lost = std::mem::take(&mut self.lost);
            log::warn!(
                "kernel messages overwritten before they were read: {lost} gap{}",
                if lost == 1 { "" } else { "s" }
            );
        }
    }
}

fn boot_micros() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() as u64 * 1_000_000 + t.tv_nsec() as u64 / 1000)
        .unwrap_or(0)
}

/// `lvsfw debug kmsg COUNT` (the console's `debug kmsg`, only with lvsfw.debug): writes
/// COUNT error-level lines to /dev/kmsg, a flood of kernel messages. The kernel limits
/// what user space writes there to 10 lines in 5 s; this lifts the limit
/// (`printk_devkmsg=on`) for the rest of the boot, as a test box may.
pub fn flood(args: &[String]) -> std::process::ExitCode {
    use std::io::Write;
    let Some(count) = args
        .first()
        .and_then(|c| c.parse::<u32>().ok())
        .filter(|&c| (1..=console::command::MAX_KMSG_LINES).contains(&c))
    else {
        eprintln!("usage: lvsfw debug kmsg COUNT");
        return std::process::ExitCode::from(2);
    };
    if let Err(e) = std::fs::write("/proc/sys/kernel/printk_devkmsg", "on\n") {
        println!("printk_devkmsg: {e}; the kernel will drop most of the lines");
    }
    let mut kmsg = match std::fs::OpenOptions::new().write(true).open(KMSG) {
        Ok(f) => f,
        Err(e) => {
            println!("error: {KMSG}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    for n in 1..=count {
        // One write, one record; <3> is the error level.
        if let Err(e) =
            kmsg.write_all(format!("<3>lvsfw debug kmsg: flood line {n} of {count}\n").as_bytes())
        {
            println!("error: line {n}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    }
    println!("{count} lines written to {KMSG}");
    std::process::ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_becomes_a_kernel_line_with_its_severity() {
        let r = parse(b"3,1234,5123456,-;virtio_net virtio0 ext: link down\n SUBSYSTEM=virtio\n")
            .unwrap();
        assert_eq!(
            r,
            Record {
                severity: 3,
                facility: 0,
                micros: 5_123_456,
                text: "virtio_net virtio0 ext: link down".into()
            }
        );
        assert_eq!(
            r.line(),
            "[    5.123456] kernel: error: virtio_net virtio0 ext: link down\n"
        );
        // User space's lines carry facility 1 (user); info has no prefix.
        let r = parse(b"14,9,17,c;hello").unwrap();
        assert_eq!((r.severity, r.facility), (6, 1));
        assert_eq!(r.line(), "[    0.000017] kernel: hello\n");
        let r = parse(b"0,1,2,-;boom\n").unwrap();
        assert_eq!(r.line(), "[    0.000002] kernel: emergency: boom\n");
    }

    #[test]
    fn malformed_records_are_skipped() {
        assert_eq!(parse(b""), None);
        assert_eq!(parse(b"no header"), None);
        assert_eq!(parse(b"x,1,2,-;text"), None);
        assert_eq!(parse(b"3,1;text"), None);
    }
}
