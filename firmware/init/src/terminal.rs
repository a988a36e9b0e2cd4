//! The serial console as PID 1 drives it: raw mode (no echo, no line discipline; the
//! session's editor does both), non-blocking both ways, output through a bounded queue
//! written as the port takes it. A slow or stuck serial line slows the output, never PID 1.

use std::collections::VecDeque;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::termios::{self, InputFlags, LocalFlags, SetArg, SpecialCharacterIndices};

/// Queued output beyond which log lines are dropped and a command's output waits.
pub const MAX_QUEUE: usize = 256 << 10;

pub struct Terminal {
    queue: VecDeque<u8>,
    /// The last byte queued ended a line (or nothing was written yet).
    line_start: bool,
    /// Input reached its end (no console attached): stop polling it.
    pub closed: bool,
}

pub enum Read {
    Bytes(usize),
    /// Nothing to read now.
    Nothing,
    Closed,
}

fn stdin() -> BorrowedFd<'static> {
    // SAFETY: fd 0 stays open for the life of PID 1 (the kernel's /dev/console).
    unsafe { BorrowedFd::borrow_raw(0) }
}

fn stdout() -> BorrowedFd<'static> {
    // SAFETY: as for fd 0.
    unsafe { BorrowedFd::borrow_raw(1) }
}

impl Terminal {
    /// Puts the console in raw mode (output processing stays on, so "\n" is "\r\n")
    /// and makes it non-blocking. Without a terminal (a pipe, a file) it still works.
    pub fn open() -> Terminal {
        match termios::tcgetattr(stdin()) {
            Ok(mut t) => {
                t.input_flags.remove(
                    InputFlags::ICRNL
                        | InputFlags::INLCR
                        | InputFlags::IGNCR
                        | InputFlags::IXON
                        | InputFlags::ISTRIP
                        | InputFlags::BRKINT
                        | InputFlags::PARMRK,
                );
                t.local_flags.remove(
                    LocalFlags::ECHO
                        | LocalFlags::ECHONL
                        | LocalFlags::ICANON
                        | LocalFlags::ISIG
                        | LocalFlags::IEXTEN,
                );
                t.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
                t.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
                if let Err(e) = termios::tcsetattr(stdin(), SetArg::TCSANOW, &t) {
                    log::warn!("console: raw mode: {}", e.desc());
                }
            }
            Err(e) => log::warn!("console: not a terminal ({}); line input only", e.desc()),
        }
        for fd in [stdin(), stdout()] {
            let flags = fcntl(fd, FcntlArg::F_GETFL)
                .map(OFlag::from_bits_truncate)
                .unwrap_or(OFlag::O_RDWR);
            if let Err(e) = fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK)) {
                log::warn!("console: non-blocking: {}", e.desc());
            }
        }
        Terminal {
            queue: VecDeque::new(),
            line_start: true,
            closed: false,
        }
    }

    /// A terminal that only queues (tests: nothing touches the real fds 0 and 1).
    #[cfg(test)]
    pub fn detached() -> Terminal {
        Terminal {
            queue: VecDeque::new(),
            line_start: true,
            closed: true,
        }
    }

    /// What is queued, as text (tests).
    #[cfg(test)]
    pub fn queued(&self) -> String {
        String::from_utf8_lossy(&self.queue.iter().copied().collect::<Vec<u8>>()).into_owned()
    }

    pub fn input_fd(&self) -> BorrowedFd<'static> {
        stdin()
    }

    pub fn output_fd(&self) -> BorrowedFd<'static> {
        stdout()
    }

    pub fn write(&mut self, text: &str) {
        self.write_bytes(text.as_bytes());
    }

    pub fn write_bytes(&mut self, bytes: &[u8]) {
        if let Some(&last) = bytes.last() {
            self.line_start = last == b'\n';
            self.queue.extend(bytes);
        }
    }

    /// Whether the cursor is at the start of a line (as far as this terminal wrote).
    pub fn at_line_start(&self) -> bool {
        self.line_start
    }

    /// Whether more output may be queued (command output waits otherwise).
    pub fn has_room(&self) -> bool {
        self.queue.len() < MAX_QUEUE
    }

    pub fn wants_write(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Writes what the port takes now.
    pub fn flush(&mut self) {
        while !self.queue.is_empty() {
            let (front, _) = self.queue.as_slices();
            match nix::unistd::write(stdout(), front) {
                Ok(0) => return,
                Ok(n) => {
                    self.queue.drain(..n);
                }
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => return,
                Err(_) => {
                    // A broken console: nothing can be shown; do not let it grow.
                    self.queue.clear();
                    return;
                }
            }
        }
    }

    /// At shutdown: writes what is queued, waiting for the port at most `limit`.
    pub fn flush_for(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            self.flush();
            let left = deadline.saturating_duration_since(Instant::now());
            if self.queue.is_empty() || left.is_zero() {
                return;
            }
            let mut fds = [PollFd::new(stdout(), PollFlags::POLLOUT)];
            let _ = poll(
                &mut fds,
                PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX),
            );
        }
    }

    pub fn read(&mut self, buf: &mut [u8]) -> Read {
        match nix::unistd::read(stdin().as_fd(), buf) {
            Ok(0) => Read::Closed,
            Ok(n) => Read::Bytes(n),
            Err(Errno::EAGAIN) | Err(Errno::EINTR) => Read::Nothing,
            Err(_) => Read::Closed,
        }
    }
}
