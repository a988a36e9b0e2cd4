//! Boot's restore and the balancer's first start, in one child of PID 1.
//!
//! The child is a copy of PID 1 made by fork alone: it restores the saved configuration
//! (ops::boot::at_boot), tells PID 1 in one byte on a pipe what the console opens, and
//! goes on as the balancer. Loading the 6 MB binary anew for each of the two, and
//! translating its code anew under emulation, was about a third of /init → "interfaces
//! up" (issue 19's boot goal). Its restarts start the balancer anew (jobs::spawn), each
//! with an address-space layout of its own.
//!
//! The restore stays in a child, so that a dead disk holds up nothing but that child
//! (RESTORE_LIMIT, then SIGKILL) and the disk is never read in PID 1 itself. When PID 1
//! has more than one thread, a fork would copy locks their holders do not release in
//! the copy; then both are started anew, one after the other, as they were before.

use std::io::Write as _;
use std::os::fd::OwnedFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

use super::{jobs, BalancerMain, Pid1, RESTORE_LIMIT};

/// The exit code of a Rust program that panicked; PID 1 reads it as "did not finish".
const PANICKED: i32 = 101;

/// The restore under way: in a forked child that goes on as the balancer, or (PID 1 has
/// more than one thread, or no pipe or fork) to be started anew.
pub(super) enum Restore {
    Forked { child: Pid, word: OwnedFd },
    Anew,
}

/// Starts the restore in a copy of PID 1 that then runs the balancer with `args` (its
/// output into `output`, PID 1's log pipe). Returns in PID 1 only.
pub(super) fn begin(output: Option<OwnedFd>, args: &[String], balancer: BalancerMain) -> Restore {
    if !single_threaded() {
        return Restore::Anew;
    }
    let (word_from_child, word_to_pid1) = match nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) {
        Ok(ends) => ends,
        Err(e) => {
            log::warn!("restore: no pipe ({}); started anew", e.desc());
            return Restore::Anew;
        }
    };
    // The child's copy of an unwritten buffer would be written twice.
    let _ = std::io::stdout().flush();
    // SAFETY: PID 1 has no other thread (checked above; nothing since starts one), so
    // no lock in the child's copy of the memory is held by a thread missing there. The
    // child never returns into PID 1's code: it ends with _exit.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            drop(word_from_child);
            restore_then_balancer(word_to_pid1, output, args, balancer)
        }
        Ok(ForkResult::Parent { child }) => Restore::Forked {
            child,
            word: word_from_child,
        },
        Err(e) => {
            log::warn!("restore: fork: {}; started anew", e.desc());
            Restore::Anew
        }
    }
}

impl Restore {
    /// Whether the balancer will be running once the restore is done.
    pub(super) fn forked(&self) -> bool {
        matches!(self, Restore::Forked { .. })
    }

    /// Waits for the restore (started anew now if it was not forked); its exit code, None
    /// when it did not finish. When the balancer runs afterwards, `pid1.balancer.pid`
    /// says so.
    pub(super) fn finish(self, pid1: &mut Pid1) -> Option<i32> {
        match self {
            Restore::Forked { child, word } => {
                let code = wait_for_word(&word, child);
                if code.is_some() {
                    pid1.balancer.pid = Some(child);
                    pid1.balancer.started = Instant::now();
                    log::info!("balancer started (pid {child}, the restore's process going on)");
                }
                code
            }
            Restore::Anew => restore_started_anew(),
        }
    }
}

/// The child's word: the restore's exit code. None when the child ended without one (the
/// restore panicked) or took too long or the pipe failed (then it is killed; the loop's
/// reaper collects it whenever it dies: a child stuck on a dead disk may not die at once).
fn wait_for_word(word: &OwnedFd, child: Pid) -> Option<i32> {
    use std::os::fd::AsFd as _;
    let deadline = Instant::now() + RESTORE_LIMIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            log::error!("restoring the saved configuration took too long; stopped");
            let _ = kill(child, Signal::SIGKILL);
            return None;
        }
        let mut fds = [PollFd::new(word.as_fd(), PollFlags::POLLIN)];
        let timeout = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
        // An error (EINTR) only ends this turn.
        if !matches!(poll(&mut fds, timeout), Ok(n) if n > 0) {
            continue;
        }
        let mut byte = [0u8; 1];
        return match nix::unistd::read(word, &mut byte) {
            Ok(1) => Some(i32::from(byte[0])),
            Ok(_) => {
                log::error!("restoring the saved configuration: its process ended early");
                None
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => {
                log::error!("restoring the saved configuration: {}", e.desc());
                // Not left to go on as a balancer PID 1 does not know of.
                let _ = kill(child, Signal::SIGKILL);
                None
            }
        };
    }
}

/// In the forked child: the restore, its word to PID 1, then the balancer. Never returns.
fn restore_then_balancer(
    word: OwnedFd,
    output: Option<OwnedFd>,
    args: &[String],
    balancer: BalancerMain,
) -> ! {
    let code = catch_unwind(restore_in_child).unwrap_or_else(|_| exit_now(PANICKED));
    // Without its word PID 1 cannot know it runs: the child stops, PID 1 sees the pipe
    // close, takes the restore as unfinished (the page stays closed) and starts the
    // balancer anew.
    if nix::unistd::write(&word, &[code as u8]) != Ok(1) {
        exit_now(1);
    }
    drop(word);
    as_a_started_child(output);
    let ended = catch_unwind(AssertUnwindSafe(|| balancer(args.get(1..).unwrap_or(&[]))));
    let _ = std::io::stdout().flush();
    exit_now(match ended {
        Ok(code) if code == ExitCode::SUCCESS => 0,
        Ok(_) => 1,
        Err(_) => PANICKED,
    })
}

/// What `lvsfw config restore --certificate-later` does; its exit code. The certificate,
/// when there is no disk to keep it, comes after the balancer starts
/// (boot::certificate_later).
fn restore_in_child() -> i32 {
    // As a started child would be: no blocked signals, nothing to read.
    let _ = SigSet::empty().thread_set_mask();
    if let Ok(null) = std::fs::File::open("/dev/null") {
        let _ = nix::unistd::dup2_stdin(null);
    }
    let (code, said) = ops::boot::at_boot(&ops::Paths::appliance(), true);
    print!("{said}");
    let _ = std::io::stdout().flush();
    i32::from(code)
}

/// The rest of what jobs::spawn gives the balancer: its output into PID 1's log pipe
/// (stdin is /dev/null already), and none of the other descriptors PID 1 held when it
/// forked (the log pipe's read end among them).
fn as_a_started_child(output: Option<OwnedFd>) {
    if let Some(output) = output {
        let _ = nix::unistd::dup2_stdout(&output);
        let _ = nix::unistd::dup2_stderr(&output);
    }
    close_from(3);
}

/// Closes every descriptor from `first` on (close_range, Linux 5.9; else one by one from
/// /proc/self/fd).
fn close_from(first: i32) {
    // SAFETY: close_range takes plain integers; nothing in this process uses the
    // descriptors it closes afterwards (the child's own are opened later).
    let closed = unsafe {
        nix::libc::syscall(
            nix::libc::SYS_close_range,
            first as nix::libc::c_uint,
            nix::libc::c_uint::MAX,
            0 as nix::libc::c_uint,
        )
    } == 0;
    if closed {
        return;
    }
    let open: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .filter(|&fd| fd >= first)
                .collect()
        })
        .unwrap_or_default();
    for fd in open {
        // SAFETY: closing a descriptor number; the directory's own is already gone and
        // fails harmlessly.
        unsafe { nix::libc::close(fd) };
    }
}

fn exit_now(code: i32) -> ! {
    // SAFETY: _exit ends this process at once; it runs none of PID 1's exit handlers
    // in the copy.
    unsafe { nix::libc::_exit(code) }
}

/// Whether this process has one thread (/proc/self/task lists them).
fn single_threaded() -> bool {
    std::fs::read_dir("/proc/self/task").is_ok_and(|tasks| tasks.count() == 1)
}

/// `lvsfw config restore --certificate-later` started anew and waited for; the balancer
/// is started afterwards, anew too.
fn restore_started_anew() -> Option<i32> {
    let args = ["config", "restore", "--certificate-later"].map(String::from);
    let pid = match jobs::spawn(
        &jobs::self_exe(),
        Some("lvsfw"),
        &args,
        jobs::Input::Nothing,
        None,
    ) {
        Ok(pid) => pid,
        Err(e) => {
            log::error!("restoring the saved configuration: {e}");
            return None;
        }
    };
    let deadline = Instant::now() + RESTORE_LIMIT;
    let exited = ExitWatch::open(pid);
    loop {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => return Some(code),
            Ok(WaitStatus::StillAlive) if Instant::now() < deadline => {
                exited.wait(deadline.saturating_duration_since(Instant::now()))
            }
            Ok(WaitStatus::StillAlive) => {
                log::error!("restoring the saved configuration took too long; stopped");
                // Not waited for: the loop's reaper collects it whenever it dies.
                let _ = kill(pid, Signal::SIGKILL);
                return None;
            }
            Ok(other) => {
                log::error!("restoring the saved configuration: {other:?}");
                return None;
            }
            Err(e) => {
                log::error!("restoring the saved configuration: {}", e.desc());
                return None;
            }
        }
    }
}

/// Waits for a child's end without polling every few milliseconds: its pidfd becomes
/// readable when it exits (Linux 5.3), so PID 1 goes on the moment the restore ends
/// rather than up to a polling interval later. Without a pidfd it sleeps 20 ms a turn.
struct ExitWatch(Option<OwnedFd>);

impl ExitWatch {
    fn open(pid: Pid) -> ExitWatch {
        use std::os::fd::FromRawFd as _;
        // SAFETY: pidfd_open takes a PID and flags and returns a new descriptor (or -1);
        // nothing of ours is passed by reference.
        let fd = unsafe { nix::libc::syscall(nix::libc::SYS_pidfd_open, pid.as_raw(), 0) };
        // SAFETY: a non-negative result is a descriptor that nothing else owns.
        ExitWatch((fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as i32) }))
    }

    /// Returns when the child has ended, or after at most `limit` (20 ms without a pidfd).
    fn wait(&self, limit: Duration) {
        use std::os::fd::AsFd as _;
        match &self.0 {
            Some(fd) => {
                let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
                let timeout = PollTimeout::try_from(limit).unwrap_or(PollTimeout::MAX);
                // An error (EINTR) only ends this turn: the caller looks at the child again.
                let _ = poll(&mut fds, timeout);
            }
            None => std::thread::sleep(limit.min(Duration::from_millis(20))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd as _;

    #[test]
    fn every_descriptor_from_the_first_given_is_closed() {
        // In a child of its own: the test harness's threads hold descriptors too.
        let (keep_r, keep_w) = nix::unistd::pipe().unwrap();
        // SAFETY: the child only closes descriptors, looks at two and _exits.
        match unsafe { fork() }.unwrap() {
            ForkResult::Child => {
                let (a, b) = nix::unistd::pipe().unwrap();
                let (a, b) = (a.as_raw_fd(), b.as_raw_fd());
                let first = a.min(b);
                close_from(first);
                // SAFETY: fcntl F_GETFD on plain integers.
                let gone = |fd| unsafe { nix::libc::fcntl(fd, nix::libc::F_GETFD) } == -1;
                // SAFETY: as above.
                let kept = unsafe { nix::libc::fcntl(keep_w.as_raw_fd(), nix::libc::F_GETFD) };
                exit_now(if gone(a) && gone(b) && kept != -1 {
                    0
                } else {
                    1
                })
            }
            ForkResult::Parent { child } => {
                drop((keep_r, keep_w));
                assert_eq!(
                    waitpid(child, None).unwrap(),
                    WaitStatus::Exited(child, 0),
                    "the child found a descriptor open that should be closed, or the other way round"
                );
            }
        }
    }
}
