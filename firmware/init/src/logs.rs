//! Log lines on the console: PID 1's own (kept by the logger) and its children's (their
//! stdout and stderr are one pipe that PID 1 reads), printed above the line being typed
//! and the edit line drawn again under them. While the operator is typing, lines wait a
//! moment (at most [`HOLD`]) so that a command is not cut in two on the screen. The
//! latest lines are kept for `show log`. Everything here is bounded.

use std::collections::VecDeque;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};

use super::session::Session;
use super::terminal::Terminal;

/// How long log lines wait while something is being typed.
pub const HOLD: Duration = Duration::from_secs(1);
/// A line longer than this is cut (the rest comes as the next line).
const MAX_LINE: usize = 8192;
/// Lines waiting to be printed; beyond this the oldest are dropped and counted.
const MAX_PENDING: usize = 2000;
/// What `show log` keeps.
const RECENT_LINES: usize = 500;
const RECENT_BYTES: usize = 128 << 10;
/// Read from the pipe per turn of the loop, so one chatty child cannot starve the rest.
const READ_PER_TURN: usize = 64 << 10;

pub struct Logs {
    read_end: Option<OwnedFd>,
    write_end: Option<OwnedFd>,
    partial: Vec<u8>,
    pending: VecDeque<String>,
    held_since: Option<Instant>,
    recent: VecDeque<String>,
    recent_bytes: usize,
    dropped: u64,
    /// Every new line, for remote syslog (bounded like the pending ones).
    fresh: VecDeque<String>,
}

impl Logs {
    pub fn new() -> Logs {
        let (read_end, write_end) = match nix::unistd::pipe2(OFlag::O_CLOEXEC) {
            Ok((r, w)) => {
                // Only PID 1's end is non-blocking: a child writing a full pipe waits
                // for PID 1 to read, it does not lose its line.
                let flags = fcntl(&r, FcntlArg::F_GETFL)
                    .map(OFlag::from_bits_truncate)
                    .unwrap_or(OFlag::O_RDONLY);
                let _ = fcntl(&r, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK));
                (Some(r), Some(w))
            }
            Err(e) => {
                log::error!(
                    "log pipe: {}; children write to the console directly",
                    e.desc()
                );
                (None, None)
            }
        };
        Logs {
            read_end,
            write_end,
            partial: Vec::new(),
            pending: VecDeque::new(),
            held_since: None,
            recent: VecDeque::new(),
            recent_bytes: 0,
            dropped: 0,
            fresh: VecDeque::new(),
        }
    }

    /// A copy of the pipe's write end for a child's stdout or stderr.
    pub fn writer(&self) -> Option<OwnedFd> {
        self.write_end.as_ref().and_then(|w| w.try_clone().ok())
    }

    pub fn reader(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.read_end.as_ref().map(|r| r.as_fd())
    }

    /// Reads what the children wrote, and takes PID 1's own lines.
    pub fn collect(&mut self) {
        let mut buf = [0u8; 8192];
        let mut taken = 0;
        while let Some(r) = &self.read_end {
            if taken >= READ_PER_TURN {
                break;
            }
            match nix::unistd::read(r.as_fd(), &mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    taken += n;
                    self.bytes(&buf[..n]);
                }
                Err(Errno::EINTR) => {}
                Err(_) => break,
            }
        }
        for (line, shown) in logger::take_captured() {
            if shown {
                self.remember(line);
            } else {
                self.line(line);
            }
        }
    }

    fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if b == b'\n' || self.partial.len() >= MAX_LINE {
                let mut line = String::from_utf8_lossy(&self.partial).into_owned();
                line.push('\n');
                self.partial.clear();
                self.line(line);
                if b == b'\n' {
                    continue;
                }
            }
            self.partial.push(b);
        }
    }

    fn line(&mut self, line: String) {
        self.remember(line.clone());
        if self.pending.len() >= MAX_PENDING {
            self.pending.pop_front();
            self.dropped += 1;
        }
        self.pending.push_back(line);
    }

    /// A line from elsewhere (the kernel's): printed and kept, or only kept for `show
    /// log` when it is not for the console.
    pub fn add(&mut self, line: String, print: bool) {
        if print {
            self.line(line);
        } else {
            self.remember(line);
        }
    }

    /// Kept for `show log` only (it was shown already).
    fn remember(&mut self, line: String) {
        if self.fresh.len() >= MAX_PENDING {
            self.fresh.pop_front();
        }
        self.fresh.push_back(line.clone());
        self.recent_bytes += line.len();
        self.recent.push_back(line);
        while self.recent.len() > RECENT_LINES || self.recent_bytes > RECENT_BYTES {
            if let Some(old) = self.recent.pop_front() {
                self.recent_bytes -= old.len();
            }
        }
    }

    /// When waiting lines must be printed even though typing goes on.
    pub fn deadline(&self) -> Option<Instant> {
        self.held_since.map(|t| t + HOLD)
    }

    /// Prints the waiting lines above the edit line, unless the operator is typing and
    /// they have waited less than [`HOLD`], or first-boot setup is asking its questions
    /// (they follow its end; bounded like all waiting lines).
    pub fn deliver(&mut self, terminal: &mut Terminal, session: &Session, force: bool) {
        if self.pending.is_empty() {
            self.held_since = None;
            return;
        }
        if session.in_setup() && !force {
            self.held_since = None;
            return;
        }
        if session.typing() && !force {
            let since = *self.held_since.get_or_insert_with(Instant::now);
            if since.elapsed() < HOLD {
                return;
            }
        }
        self.held_since = None;
        let mut text = String::from(session.clear());
        if text.is_empty() && !terminal.at_line_start() {
            text.push('\n');
        }
        for line in self.pending.drain(..) {
            if terminal.has_room() || force {
                text.push_str(&line);
            } else {
                self.dropped += 1;
            }
        }
        if self.dropped > 0 {
            text.push_str(&format!(
                "[{} log lines not shown: the console is behind; \"show log\" has the latest]\n",
                std::mem::take(&mut self.dropped)
            ));
        }
        text.push_str(&session.redraw());
        terminal.write(&text);
    }

    /// The waiting lines, for whoever prints them without a session.
    pub fn take_pending(&mut self) -> String {
        self.held_since = None;
        self.pending.drain(..).collect()
    }

    /// The lines since the last call, for remote syslog.
    pub fn take_fresh(&mut self) -> VecDeque<String> {
        std::mem::take(&mut self.fresh)
    }

    /// The latest lines, for `show log`.
    pub fn recent(&self) -> String {
        self.recent.iter().map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Start;

    fn session() -> Session {
        Session::new(Start::Open, &mut String::new())
    }

    #[test]
    fn a_log_line_is_printed_above_the_prompt_and_the_prompt_drawn_again() {
        let mut logs = Logs::new();
        let mut t = Terminal::detached();
        logs.bytes(b"[ 1.0] balancer: interfaces up\n[ 1.1] balancer: half");
        logs.deliver(&mut t, &session(), false);
        assert_eq!(
            t.queued(),
            "\r\x1b[K[ 1.0] balancer: interfaces up\n\r\x1b[Klvsfw> "
        );
        assert_eq!(logs.recent(), "[ 1.0] balancer: interfaces up\n");
        logs.bytes(b" a line\n");
        assert!(logs.recent().ends_with("[ 1.1] balancer: half a line\n"));
    }

    #[test]
    fn lines_wait_while_typing_but_not_longer_than_the_hold() {
        let mut logs = Logs::new();
        let mut t = Terminal::detached();
        let mut s = session();
        s.push(b"show ver");
        assert_eq!(s.next(&mut String::new()), None);
        logs.bytes(b"[ 2.0] init: something\n");
        logs.deliver(&mut t, &s, false);
        assert_eq!(t.queued(), "", "held while typing");
        let deadline = logs.deadline().expect("a deadline to print them");
        assert!(deadline <= Instant::now() + HOLD);
        logs.held_since = Some(Instant::now() - HOLD);
        logs.deliver(&mut t, &s, false);
        assert_eq!(
            t.queued(),
            "\r\x1b[K[ 2.0] init: something\n\r\x1b[Klvsfw> show ver"
        );
        assert_eq!(logs.deadline(), None);
    }

    #[test]
    fn while_a_command_runs_lines_come_on_a_line_of_their_own() {
        let mut logs = Logs::new();
        let mut t = Terminal::detached();
        let mut s = session();
        s.push(b"ping 10.0.0.1\r");
        assert!(s.next(&mut String::new()).is_some());
        t.write("PING 10.0.0.1: 4 requests");
        logs.bytes(b"[ 3.0] init: x\n");
        logs.deliver(&mut t, &s, false);
        assert_eq!(t.queued(), "PING 10.0.0.1: 4 requests\n[ 3.0] init: x\n");
    }

    #[test]
    fn boot_messages_wait_for_first_boot_setup_to_end() {
        let mut logs = Logs::new();
        let mut t = Terminal::detached();
        let defaults = [
            "10.0.2.15/24".to_string(),
            "none".into(),
            "lvsfw".into(),
            String::new(),
        ];
        let mut out = String::new();
        let mut s = Session::new(Start::Setup(defaults), &mut out);
        logs.bytes(b"[ 5.0] balancer: interfaces up\n");
        logs.deliver(&mut t, &s, false);
        assert_eq!(t.queued(), "", "not over the setup question");
        assert_eq!(logs.deadline(), None, "nothing to wake up for");
        // Setup ends (as if its job finished): the lines follow.
        s.finish(crate::session::Outcome::LoginAccepted, &mut String::new());
        logs.deliver(&mut t, &s, false);
        assert!(
            t.queued().contains("[ 5.0] balancer: interfaces up\n"),
            "{}",
            t.queued()
        );
        // At power-off they are printed whatever the session does.
        let mut logs = Logs::new();
        let mut t = Terminal::detached();
        let s = Session::new(
            Start::Setup(["".into(), "none".into(), "lvsfw".into(), String::new()]),
            &mut String::new(),
        );
        logs.bytes(b"[ 9.0] init: powering off\n");
        logs.deliver(&mut t, &s, true);
        assert!(t.queued().contains("powering off"));
    }

    #[test]
    fn everything_is_bounded() {
        let mut logs = Logs::new();
        let mut t = Terminal::detached();
        for n in 0..MAX_PENDING + 10 {
            logs.bytes(format!("line {n}\n").as_bytes());
        }
        logs.bytes(&vec![b'y'; MAX_LINE + 5]);
        assert_eq!(logs.pending.len(), MAX_PENDING);
        assert!(logs.recent.len() <= RECENT_LINES);
        assert!(logs.recent_bytes <= RECENT_BYTES);
        // A full console: lines are counted, not queued. 10 + the cut long line fell
        // out of the pending queue, the rest could not be queued.
        t.write(&"z".repeat(crate::terminal::MAX_QUEUE));
        logs.deliver(&mut t, &session(), false);
        let queued = t.queued();
        assert!(
            queued.ends_with(&format!(
                "z\r\x1b[K[{} log lines not shown: the console is behind; \"show log\" has the latest]\n\r\x1b[Klvsfw> ",
                MAX_PENDING + 11
            )),
            "{}",
            &queued[queued.len() - 200..]
        );
    }
}
