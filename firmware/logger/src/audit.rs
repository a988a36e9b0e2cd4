//! The audit trail: logins, failed logins, every change with who and what, updates,
//! reboots. One API for every writer: `log::info!(target: "audit", "{who}: {what}")`.
//! The logger hands such a record here instead of printing it:
//!
//! - in PID 1 it waits in a small queue for PID 1's loop ([`take_local`]);
//! - in any other process (the balancer with the page, a console job, `lvsfw update`)
//!   it goes to PID 1 as one datagram on [`paths::AUDIT_SOCKET`], without blocking (a full or absent
//!   socket: the line is printed as an ordinary log line instead, marked as such).
//!
//! PID 1 owns the trail (`init::audit`): it stamps each line with the wall clock, keeps
//! the last [`RING_LINES`] in a ring of their own (the page's 500-line log ring is for
//! everything else, so junk requests cannot push these out), logs each line with source
//! `audit` (and so to syslog), persists it to the configuration partition's audit area,
//! and writes the ring to [`paths::AUDIT`] for the page and `show audit`.
//!
//! A datagram is one line by construction: no text in an ordinary log line (a request
//! path, a header) can pose as an audit line.

use std::collections::VecDeque;
use std::sync::Mutex;

/// Lines the ring keeps (the partition's area keeps 256 too).
pub const RING_LINES: usize = 256;
/// The longest line taken; the rest is cut (one entry of the persisted area).
pub const MAX_LINE: usize = store::audit::MAX_TEXT;

/// `text` as one line: control characters (a newline in a user-given name) become
/// spaces, and it is cut to [`MAX_LINE`].
pub fn one_line(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    store::audit::cut(clean.trim(), MAX_LINE).to_string()
}

/// The last audit lines, oldest first: at most `max` of them.
#[derive(Debug, Default)]
pub struct Ring {
    lines: VecDeque<String>,
}

impl Ring {
    pub fn push(&mut self, line: String) {
        if self.lines.len() >= RING_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }

    pub fn text(&self) -> String {
        self.lines.iter().map(|l| format!("{l}\n")).collect()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lines.len()
    }
}

/// Audit lines PID 1 itself made, waiting for its loop (bounded like everything).
static LOCAL: Mutex<VecDeque<String>> = Mutex::new(VecDeque::new());
const MAX_LOCAL: usize = 64;

/// Hands an audit line on: to PID 1's own queue (`in_pid1`) or to PID 1 over the
/// socket. `Err` gives the line back when it could not be sent.
pub fn submit(text: &str, in_pid1: bool) -> Result<(), String> {
    let line = one_line(text);
    if in_pid1 {
        let mut local = LOCAL.lock().unwrap_or_else(|p| p.into_inner());
        if local.len() >= MAX_LOCAL {
            local.pop_front();
        }
        local.push_back(line);
        return Ok(());
    }
    let socket = std::os::unix::net::UnixDatagram::unbound().map_err(|_| line.clone())?;
    socket.set_nonblocking(true).map_err(|_| line.clone())?;
    socket
        .send_to(line.as_bytes(), paths::AUDIT_SOCKET)
        .map(|_| ())
        .map_err(|_| line)
}

/// PID 1's own audit lines since the last call.
pub fn take_local() -> Vec<String> {
    let mut local = LOCAL.lock().unwrap_or_else(|p| p.into_inner());
    local.drain(..).collect()
}

/// `show audit` and the page: the ring PID 1 wrote, or why there is none.
pub fn shown() -> String {
    std::fs::read_to_string(paths::AUDIT).unwrap_or_else(|e| format!("(no audit trail: {e})\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_one_line_and_bounded() {
        assert_eq!(
            one_line("admin from 1.2.3.4: set hostname\nfake: x"),
            "admin from 1.2.3.4: set hostname fake: x"
        );
        assert!(one_line(&"x".repeat(2000)).len() <= MAX_LINE);
    }

    #[test]
    fn the_ring_keeps_the_newest() {
        let mut ring = Ring::default();
        for n in 0..RING_LINES + 3 {
            ring.push(format!("line {n}"));
        }
        assert_eq!(ring.len(), RING_LINES);
        assert!(ring.text().starts_with("line 3\n"));
        assert!(ring.text().ends_with(&format!("line {}\n", RING_LINES + 2)));
    }

    #[test]
    fn pid1_lines_wait_in_its_bounded_queue() {
        for n in 0..MAX_LOCAL + 2 {
            submit(&format!("console: x{n}"), true).unwrap();
        }
        let taken = take_local();
        assert_eq!(taken.len(), MAX_LOCAL);
        assert_eq!(taken[0], "console: x2");
        assert!(take_local().is_empty());
    }
}
