//! PID 1: mounts, modules, hostname, the console, reaping, and the balancer as a
//! supervised child. Its own job stays small so that it never dies.

mod backoff;
mod console;
mod modules;
mod mounts;
mod paste;
mod power_button;

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::reboot::{reboot, set_cad_enabled, RebootMode};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{sethostname, sync, Pid};

use crate::board::{self, Board};
use backoff::Backoff;
use console::{Command, Line, LineBuffer};
use paste::{Paste, Pasted};
use power_button::PowerButton;

/// How long the balancer gets to stop after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// After SIGKILL, how long to wait for the kernel to report the child gone.
const KILL_GRACE: Duration = Duration::from_secs(1);
/// A console tool (`ipvs list`) that takes longer than this is killed.
const TOOL_LIMIT: Duration = Duration::from_secs(10);
/// `debug run` tools (ipvsadm -R of a large table under TCG) get longer.
const DEBUG_TOOL_LIMIT: Duration = Duration::from_secs(300);
/// Where `config import` leaves the pasted text for its checker.
const PASTED_PATH: &str = "/run/lvsfw/pasted.conf";
/// The largest file `debug cat` prints.
const MAX_CAT: u64 = 1 << 20;

const HANDLED_SIGNALS: [Signal; 6] = [
    Signal::SIGCHLD,
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGPWR,
    Signal::SIGHUP,
    Signal::SIGUSR1,
];

pub fn run() -> ! {
    crate::logger::init("init");
    let mut pid1 = catch_unwind(start).unwrap_or_else(|_| {
        log::error!("start-up panicked; continuing with what is set up");
        Pid1::minimal()
    });
    loop {
        if catch_unwind(AssertUnwindSafe(|| pid1.step())).is_err() {
            log::error!("the init loop panicked; it goes on");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn start() -> Pid1 {
    mounts::mount_all();
    let board = load_board();
    log::info!(
        "lvsfw {} starting on board {}",
        env!("CARGO_PKG_VERSION"),
        board.as_ref().map_or("(unknown)", |b| b.name.as_str())
    );
    let hostname = board
        .as_ref()
        .and_then(|b| b.hostname.clone())
        .unwrap_or_else(|| "lvsfw".into());
    if let Err(e) = sethostname(&hostname) {
        log::error!("setting hostname {hostname}: {}", e.desc());
    }
    if let Some(board) = &board {
        let release = nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default();
        let root = Path::new("/lib/modules").join(release);
        let loaded = modules::load(&root, &board.modules);
        log::info!("loaded {loaded} kernel modules");
    }
    if let Err(e) = set_cad_enabled(false) {
        log::warn!("ctrl-alt-del stays a hard reboot: {}", e.desc());
    }
    let mut pid1 = Pid1::minimal();
    pid1.buttons = open_power_buttons();
    pid1.balancer_args = match board {
        Some(_) => vec!["balancer".into(), "--board".into(), board::PATH.into()],
        None => vec!["balancer".into()],
    };
    pid1.start_balancer();
    pid1.prompt();
    pid1
}

fn load_board() -> Option<Board> {
    let text = match std::fs::read_to_string(board::PATH) {
        Ok(text) => text,
        Err(e) => {
            log::error!("{}: {e}", board::PATH);
            return None;
        }
    };
    match board::parse(&text) {
        Ok(board) => Some(board),
        Err(issues) => {
            for issue in issues.iter() {
                log::error!("{}:{issue}", board::PATH);
            }
            log::error!(
                "{}: not used; no modules loaded and NIC roles unmapped",
                board::PATH
            );
            None
        }
    }
}

/// The power button appears once the `button` and `evdev` modules have bound; devtmpfs
/// creates its node shortly after, so look a few times.
fn open_power_buttons() -> Vec<PowerButton> {
    for _ in 0..20 {
        let found = PowerButton::open_all(Path::new("/sys/class/input"), Path::new("/dev/input"));
        if !found.is_empty() {
            return found;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    log::warn!("no ACPI power button found; power off with the console or SIGTERM");
    Vec::new()
}

/// Starts this same binary with `args`, its output on the console. The child is reaped
/// by `Pid1::reap` like every other, never by std.
fn spawn_self(args: &[String]) -> std::io::Result<Pid> {
    let exe = std::env::current_exe().unwrap_or_else(|_| "/init".into());
    let mut command = Process::new(exe);
    command.arg0("lvsfw").args(args).stdin(Stdio::null());
    spawn(command)
}

/// Starts `command` with every signal unblocked: the child must not inherit PID 1's
/// blocked signals. The child is reaped by `Pid1::reap`, never by std.
fn spawn(mut command: Process) -> std::io::Result<Pid> {
    // SAFETY: between fork and exec only async-signal-safe calls are allowed;
    // sigprocmask is one.
    unsafe {
        command.pre_exec(|| {
            SigSet::empty()
                .thread_set_mask()
                .map_err(std::io::Error::from)
        });
    }
    let child = command.spawn()?;
    Ok(Pid::from_raw(child.id() as i32))
}

struct Balancer {
    pid: Option<Pid>,
    started: Instant,
    restart_at: Option<Instant>,
    restarts: u32,
    backoff: Backoff,
}

struct Shutdown {
    mode: RebootMode,
    deadline: Instant,
    killed: bool,
}

struct Pid1 {
    signals: Option<SignalFd>,
    console: LineBuffer,
    console_open: bool,
    buttons: Vec<PowerButton>,
    balancer: Balancer,
    balancer_args: Vec<String>,
    shutdown: Option<Shutdown>,
    booted: Instant,
    /// A console tool running in the foreground.
    tool: Option<Tool>,
    /// `config import` is reading pasted lines.
    paste: Option<Paste>,
    /// `lvsfw.debug` on the kernel command line: `debug run` is allowed.
    debug: bool,
}

#[derive(Debug, Clone, Copy)]
struct Tool {
    pid: Pid,
    started: Instant,
    limit: Duration,
    /// Say how it ended and how long it took (for `debug run`).
    report: bool,
}

impl Pid1 {
    fn minimal() -> Pid1 {
        let mut mask = SigSet::empty();
        for s in HANDLED_SIGNALS {
            mask.add(s);
        }
        let signals = mask
            .thread_block()
            .and_then(|_| {
                SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
            })
            .map_err(|e| log::error!("signalfd: {}", e.desc()))
            .ok();
        Pid1 {
            signals,
            console: LineBuffer::default(),
            console_open: true,
            buttons: Vec::new(),
            balancer: Balancer {
                pid: None,
                started: Instant::now(),
                restart_at: None,
                restarts: 0,
                backoff: Backoff::new(
                    Duration::from_millis(200),
                    Duration::from_secs(30),
                    Duration::from_secs(30),
                ),
            },
            balancer_args: vec!["balancer".into()],
            shutdown: None,
            booted: Instant::now(),
            tool: None,
            paste: None,
            debug: std::fs::read_to_string("/proc/cmdline")
                .is_ok_and(|c| c.split_whitespace().any(|w| w == "lvsfw.debug")),
        }
    }

    /// One turn of the loop: wait for a signal, console input, the power button or a
    /// timer, then handle what happened.
    fn step(&mut self) {
        let now = Instant::now();
        let next_timer = [
            self.balancer.restart_at,
            self.shutdown.as_ref().map(|s| s.deadline),
            self.tool.map(|t| t.started + t.limit),
        ]
        .into_iter()
        .flatten()
        .min();
        let timeout = match next_timer {
            Some(at) => {
                PollTimeout::try_from(at.saturating_duration_since(now)).unwrap_or(PollTimeout::MAX)
            }
            None => PollTimeout::NONE,
        };

        let stdin = std::io::stdin();
        let mut fds: Vec<PollFd> = Vec::new();
        if let Some(s) = &self.signals {
            fds.push(PollFd::new(s.as_fd(), PollFlags::POLLIN));
        }
        let console_slot = self.console_open.then(|| {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            fds.len() - 1
        });
        let first_button = fds.len();
        for b in &self.buttons {
            fds.push(PollFd::new(b.fd(), PollFlags::POLLIN));
        }
        if fds.is_empty() && timeout == PollTimeout::NONE {
            std::thread::sleep(Duration::from_secs(1));
            return;
        }
        let ready = |fd: &PollFd| fd.revents().is_some_and(|r| !r.is_empty());
        let mut signal_ready = false;
        let mut console_ready = false;
        let mut buttons_ready = Vec::new();
        match poll(&mut fds, timeout) {
            Ok(_) => {
                signal_ready = self.signals.is_some() && ready(&fds[0]);
                console_ready = console_slot.is_some_and(|i| ready(&fds[i]));
                buttons_ready = (first_button..fds.len())
                    .filter(|&i| ready(&fds[i]))
                    .map(|i| i - first_button)
                    .collect();
            }
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => {
                log::error!("poll: {}", e.desc());
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        drop(fds);

        if signal_ready {
            self.handle_signals();
        }
        if console_ready {
            self.read_console();
        }
        for i in buttons_ready {
            if self.buttons[i].pressed() {
                log::info!("power button pressed");
                self.begin_shutdown(RebootMode::RB_POWER_OFF);
            }
        }
        self.run_timers();
    }

    fn handle_signals(&mut self) {
        let Some(signals) = &mut self.signals else {
            return;
        };
        let mut received = Vec::new();
        while let Ok(Some(info)) = signals.read_signal() {
            received.push(info.ssi_signo as i32);
        }
        for signo in received {
            match Signal::try_from(signo) {
                Ok(Signal::SIGCHLD) => self.reap(),
                Ok(Signal::SIGTERM) | Ok(Signal::SIGPWR) => {
                    self.begin_shutdown(RebootMode::RB_POWER_OFF)
                }
                Ok(Signal::SIGINT) => {
                    log::info!("ctrl-alt-del");
                    self.begin_shutdown(RebootMode::RB_AUTOBOOT)
                }
                Ok(other) => log::info!("ignoring {other}"),
                Err(_) => {}
            }
        }
    }

    /// Every child's exit ends here, so no zombie is ever left behind.
    fn reap(&mut self) {
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(status) => {
                    if status.pid().is_some() && status.pid() == self.balancer.pid {
                        self.balancer_exited(status);
                    } else if status.pid().is_some() && status.pid() == self.tool.map(|t| t.pid) {
                        if let Some(tool) = self.tool.take().filter(|t| t.report) {
                            let how = match status {
                                WaitStatus::Exited(_, code) => format!("exit code {code}"),
                                WaitStatus::Signaled(_, signal, _) => format!("killed by {signal}"),
                                other => format!("{other:?}"),
                            };
                            self.say(&format!(
                                "debug run: {how} after {} ms\n",
                                tool.started.elapsed().as_millis()
                            ));
                        }
                        self.tool = None;
                        self.prompt();
                    }
                }
            }
        }
    }

    fn balancer_exited(&mut self, status: WaitStatus) {
        self.balancer.pid = None;
        let how = match status {
            WaitStatus::Exited(_, code) => format!("exit code {code}"),
            WaitStatus::Signaled(_, signal, _) => format!("killed by {signal}"),
            other => format!("{other:?}"),
        };
        if self.shutdown.is_some() {
            log::info!("balancer stopped ({how})");
            return;
        }
        let delay = self
            .balancer
            .backoff
            .after_exit(self.balancer.started.elapsed());
        log::error!(
            "balancer exited ({how}), restarting in {} ms",
            delay.as_millis()
        );
        self.balancer.restart_at = Some(Instant::now() + delay);
    }

    fn start_balancer(&mut self) {
        self.balancer.restart_at = None;
        match spawn_self(&self.balancer_args) {
            Ok(pid) => {
                self.balancer.pid = Some(pid);
                self.balancer.started = Instant::now();
                log::info!("balancer started (pid {pid})");
            }
            Err(e) => {
                let delay = self.balancer.backoff.after_exit(Duration::ZERO);
                log::error!(
                    "starting the balancer: {e}; retrying in {} ms",
                    delay.as_millis()
                );
                self.balancer.restart_at = Some(Instant::now() + delay);
            }
        }
    }

    fn run_timers(&mut self) {
        let now = Instant::now();
        if let Some(tool) = self.tool {
            if tool.started + tool.limit <= now {
                log::warn!(
                    "console tool (pid {}) took longer than {} s; killed",
                    tool.pid,
                    tool.limit.as_secs()
                );
                let _ = kill(tool.pid, Signal::SIGKILL);
                self.tool = None;
            }
        }
        if self.shutdown.is_none() && self.balancer.restart_at.is_some_and(|at| at <= now) {
            self.balancer.restarts += 1;
            self.start_balancer();
        }
        let Some(shutdown) = &mut self.shutdown else {
            return;
        };
        match self.balancer.pid {
            None => self.finish_shutdown(),
            Some(pid) if shutdown.deadline <= now && !shutdown.killed => {
                log::warn!(
                    "balancer did not stop within {} s; killing it",
                    STOP_GRACE.as_secs()
                );
                let _ = kill(pid, Signal::SIGKILL);
                shutdown.killed = true;
                shutdown.deadline = now + KILL_GRACE;
            }
            Some(_) if shutdown.deadline <= now => self.finish_shutdown(),
            Some(_) => {}
        }
    }

    fn begin_shutdown(&mut self, mode: RebootMode) {
        if self.shutdown.is_some() {
            return;
        }
        self.balancer.restart_at = None;
        if let Some(pid) = self.balancer.pid {
            log::info!("stopping the balancer");
            let _ = kill(pid, Signal::SIGTERM);
        }
        self.shutdown = Some(Shutdown {
            mode,
            deadline: Instant::now() + STOP_GRACE,
            killed: false,
        });
    }

    fn finish_shutdown(&mut self) -> ! {
        let mode = self
            .shutdown
            .as_ref()
            .map_or(RebootMode::RB_POWER_OFF, |s| s.mode);
        log::info!(
            "{}",
            if mode == RebootMode::RB_AUTOBOOT {
                "rebooting"
            } else {
                "powering off"
            }
        );
        sync();
        loop {
            let Err(e) = reboot(mode);
            log::error!("reboot({mode:?}): {}", e.desc());
            std::thread::sleep(Duration::from_secs(5));
        }
    }

    fn read_console(&mut self) {
        let mut buf = [0u8; 4096];
        let n = match std::io::stdin().lock().read(&mut buf) {
            Ok(0) | Err(_) => {
                // No console attached (EOF) or a broken one: stop polling it rather than spin.
                self.console_open = false;
                return;
            }
            Ok(n) => n,
        };
        for line in self.console.push(&buf[..n]) {
            if self.tool.is_some() {
                self.say("busy: the previous command is still running\n");
                continue;
            }
            if let Some(paste) = &mut self.paste {
                let reply = match line {
                    Line::TooLong => {
                        self.paste = None;
                        format!(
                            "error: line longer than {} bytes; import abandoned, nothing changed\n",
                            console::MAX_LINE
                        )
                    }
                    Line::Text(text) => match paste.line(&text) {
                        Pasted::More => continue,
                        Pasted::TooBig => {
                            self.paste = None;
                            format!(
                                "error: more than {} bytes pasted; import abandoned, nothing changed\n",
                                paste::MAX_PASTE
                            )
                        }
                        Pasted::Done(text) => {
                            self.paste = None;
                            self.check_pasted(&text)
                        }
                    },
                };
                self.say(&reply);
                if self.tool.is_none() {
                    self.prompt();
                }
                continue;
            }
            let reply = match line {
                Line::TooLong => format!(
                    "error: line longer than {} bytes, ignored\n",
                    console::MAX_LINE
                ),
                Line::Text(text) => match console::parse(&text) {
                    Ok(None) => String::new(),
                    Ok(Some(command)) => self.run_command(command),
                    Err(why) => format!("error: {why}\n"),
                },
            };
            self.say(&reply);
            if self.tool.is_none() && self.paste.is_none() {
                self.prompt();
            }
        }
    }

    fn run_command(&mut self, command: Command) -> String {
        match command {
            Command::Help => console::help(),
            Command::Status => self.status(),
            Command::Poweroff => {
                self.begin_shutdown(RebootMode::RB_POWER_OFF);
                String::new()
            }
            Command::Reboot => {
                self.begin_shutdown(RebootMode::RB_AUTOBOOT);
                String::new()
            }
            Command::KillBalancer => match self.balancer.pid {
                Some(pid) => {
                    log::warn!("debug: killing the balancer (pid {pid})");
                    let _ = kill(pid, Signal::SIGKILL);
                    String::new()
                }
                None => "the balancer is not running\n".into(),
            },
            Command::Ipvs(args) => {
                let args: Vec<String> = ["ipvs".to_string()].into_iter().chain(args).collect();
                match spawn_self(&args) {
                    Ok(pid) => {
                        self.start_tool(pid, TOOL_LIMIT, false);
                        String::new()
                    }
                    Err(e) => format!("error: {e}\n"),
                }
            }
            Command::ConfigImport => {
                self.paste = Some(Paste::default());
                "paste the keepalived.conf; end with a line holding a single \".\"\n".into()
            }
            Command::ConfigApply => self.apply_candidate(),
            Command::DebugCat(file) => cat(&file),
            Command::DebugRun { argv, stdin } => {
                if !self.debug {
                    return "error: debug run needs lvsfw.debug on the kernel command line\n"
                        .into();
                }
                match run_program(&argv, stdin.as_deref()) {
                    Ok(pid) => {
                        self.start_tool(pid, DEBUG_TOOL_LIMIT, true);
                        String::new()
                    }
                    Err(e) => format!("error: {}: {e}\n", argv[0]),
                }
            }
        }
    }

    fn start_tool(&mut self, pid: Pid, limit: Duration, report: bool) {
        self.tool = Some(Tool {
            pid,
            started: Instant::now(),
            limit,
            report,
        });
    }

    /// Hands the pasted text to `lvsfw config import` in a child process.
    fn check_pasted(&mut self, text: &str) -> String {
        if let Err(e) = crate::config_cli::write_whole(Path::new(PASTED_PATH), text.as_bytes()) {
            return format!("error: {PASTED_PATH}: {e}\n");
        }
        match spawn_self(&["config".into(), "import".into(), PASTED_PATH.into()]) {
            Ok(pid) => {
                self.start_tool(pid, TOOL_LIMIT, false);
                String::new()
            }
            Err(e) => format!("error: {e}\n"),
        }
    }

    /// Moves the imported keepalived.conf into service and tells the balancer to read
    /// it again, as keepalived does on SIGHUP.
    fn apply_candidate(&mut self) -> String {
        let candidate = Path::new(crate::config_cli::CANDIDATE_PATH);
        let text = match std::fs::read(candidate) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return "error: nothing imported; use \"config import\" first\n".into()
            }
            Err(e) => return format!("error: {}: {e}\n", candidate.display()),
        };
        let running = Path::new(crate::balancer::KEEPALIVED_PATH);
        if let Err(e) = crate::config_cli::write_whole(running, &text) {
            return format!("error: {}: {e}; nothing changed\n", running.display());
        }
        let _ = std::fs::remove_file(candidate);
        match self.balancer.pid {
            Some(pid) => {
                let _ = kill(pid, Signal::SIGHUP);
                "applied; the balancer reads it now\n".into()
            }
            None => "applied; the balancer reads it when it starts\n".into(),
        }
    }

    fn status(&self) -> String {
        let balancer = match self.balancer.pid {
            Some(pid) => format!(
                "running, pid {pid}, up {} s",
                self.balancer.started.elapsed().as_secs()
            ),
            None => "not running".into(),
        };
        format!(
            "lvsfw {}\nuptime: {} s\nbalancer: {balancer}, {} restarts\n",
            env!("CARGO_PKG_VERSION"),
            self.booted.elapsed().as_secs(),
            self.balancer.restarts
        )
    }

    fn say(&self, text: &str) {
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
    }

    fn prompt(&self) {
        if self.shutdown.is_none() {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(b"lvsfw> ");
            let _ = out.flush();
        }
    }
}

fn cat(file: &str) -> String {
    use std::io::Read as _;
    let mut text = Vec::new();
    match std::fs::File::open(file).and_then(|f| f.take(MAX_CAT).read_to_end(&mut text)) {
        Ok(_) => {
            let mut text = String::from_utf8_lossy(&text).into_owned();
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text
        }
        Err(e) => format!("error: {file}: {e}\n"),
    }
}

/// Starts a program of the image for `debug run`, its output on the console.
fn run_program(argv: &[String], stdin: Option<&str>) -> std::io::Result<Pid> {
    let input = match stdin {
        Some(file) => Stdio::from(std::fs::File::open(file)?),
        None => Stdio::null(),
    };
    let mut command = Process::new(&argv[0]);
    command.args(&argv[1..]).stdin(input);
    spawn(command)
}
