//! Children of PID 1: how they are started (signal mask cleared, output into a pipe PID 1
//! reads, stdin from a pipe filled beforehand or nothing) and the one console job that
//! runs in the foreground at a time. PID 1 reaps every child itself (see `Pid1::reap`).

use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use config::IpPrefix;
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::signal::SigSet;
use nix::unistd::Pid;

/// What PID 1 does when the job ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Its output is the answer.
    Plain,
    /// `debug run`: say how it ended and how long it took.
    Report,
    /// `config apply`: on success the balancer reads the configuration again.
    Apply,
    /// `config save`: on success the running configuration is the saved one.
    Save,
    Login,
    /// First-boot setup, for this management address.
    Setup(IpPrefix),
    /// On success, reboot.
    FactoryReset,
    /// `config restore` from the recovery prompt: its exit code says what comes next.
    Restore,
}

pub struct Job {
    pub pid: Pid,
    pub started: Instant,
    pub limit: Duration,
    pub kind: Kind,
    /// The read end of its stdout and stderr.
    pub output: Option<OwnedFd>,
    pub what: String,
}

/// A pipe whose read end PID 1 polls without blocking.
fn output_pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let flags = fcntl(&r, FcntlArg::F_GETFL).map(OFlag::from_bits_truncate)?;
    fcntl(&r, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok((r, w))
}

/// A pipe already holding `text`, for a child's stdin (a password is never an argument,
/// which /proc shows). The text is small: it fits the pipe, so writing never blocks.
fn input_pipe(text: &[u8]) -> std::io::Result<OwnedFd> {
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let limit = text.len().min(4096);
    std::fs::File::from(w).write_all(&text[..limit])?;
    Ok(r)
}

pub enum Input<'a> {
    Nothing,
    Text(&'a [u8]),
    File(std::fs::File),
}

/// Starts `program` with `args`; its stdout and stderr go to `output` (or the console
/// when there is none).
pub fn spawn(
    program: &std::path::Path,
    arg0: Option<&str>,
    args: &[String],
    input: Input,
    output: Option<OwnedFd>,
) -> std::io::Result<Pid> {
    let mut command = Process::new(program);
    if let Some(arg0) = arg0 {
        command.arg0(arg0);
    }
    command.args(args);
    command.stdin(match input {
        Input::Nothing => Stdio::null(),
        Input::Text(text) => Stdio::from(input_pipe(text)?),
        Input::File(file) => Stdio::from(file),
    });
    if let Some(out) = output {
        command.stdout(Stdio::from(out.try_clone()?));
        command.stderr(Stdio::from(out));
    }
    // SAFETY: between fork and exec only async-signal-safe calls are allowed;
    // sigprocmask is one. The child must not inherit PID 1's blocked signals.
    unsafe {
        command.pre_exec(|| {
            SigSet::empty()
                .thread_set_mask()
                .map_err(std::io::Error::from)
        });
    }
    let child = command.spawn()?;
    // `command` (with PID 1's copies of the pipe ends) is dropped here.
    Ok(Pid::from_raw(child.id() as i32))
}

/// This same binary.
pub fn self_exe() -> std::path::PathBuf {
    std::env::current_exe().unwrap_or_else(|_| "/init".into())
}

impl Job {
    /// Starts `lvsfw ARGS` (or another program) as the console's foreground job.
    pub fn start(
        program: Option<&std::path::Path>,
        args: &[String],
        input: Input,
        limit: Duration,
        kind: Kind,
    ) -> std::io::Result<Job> {
        let (read_end, write_end) = output_pipe()?;
        let exe = self_exe();
        let (program, arg0) = match program {
            Some(p) => (p, None),
            None => (exe.as_path(), Some("lvsfw")),
        };
        let pid = spawn(program, arg0, args, input, Some(write_end))?;
        Ok(Job {
            pid,
            started: Instant::now(),
            limit,
            kind,
            output: Some(read_end),
            what: {
                // For messages: what ran (never a secret: those go through stdin).
                let mut what = match arg0 {
                    Some(name) => name.to_string(),
                    None => program.display().to_string(),
                };
                for a in args {
                    what.push(' ');
                    what.push_str(a);
                }
                what.chars().take(80).collect()
            },
        })
    }

    pub fn output_fd(&self) -> Option<BorrowedFd<'_>> {
        self.output.as_ref().map(|o| o.as_fd())
    }

    /// What the job has written so far, at most `max` bytes; `None` at its end.
    pub fn read_output(&mut self, max: usize) -> Option<Vec<u8>> {
        let fd = self.output.as_ref()?;
        let mut out = Vec::new();
        let mut buf = [0u8; 8192];
        while out.len() < max {
            match nix::unistd::read(fd.as_fd(), &mut buf) {
                Ok(0) => {
                    self.output = None;
                    break;
                }
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => break,
                Err(_) => {
                    self.output = None;
                    break;
                }
            }
        }
        Some(out)
    }
}
