//! PID 1: mounts, modules, hostname, the console, reaping, and the balancer as a
//! supervised child. Its own job stays small so that it never dies.
//!
//! The console is PID 1's: the terminal in raw mode, the session (setup, login, the
//! command line) and every log line go through it, so a log line never garbles what is
//! being typed. Commands that read untrusted text or take time run as child processes
//! (`lvsfw config ...`, `lvsfw ipvs ...`, `lvsfw ping ...`), one at a time, their
//! output read from a pipe; PID 1 only waits for them in its poll loop.

mod audit;
mod backoff;
mod guard;
mod jobs;
pub mod kmsg;
mod logs;
pub(crate) mod modules;
mod mounts;
mod paste;
mod power_button;
mod session;
mod setup;
mod syslog;
mod terminal;
mod trial;
mod watchdog;

use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::{Duration, Instant};

use console::Command;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::reboot::{reboot, set_cad_enabled, RebootMode};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{sethostname, sync, Pid};

use crate::board::{self, Board};
use crate::config_cli::{NOT_ALL_RUNNING, NO_PASSWORD, RESTORE_FAILED};
use crate::ops::{Change, Confirm, Op, Secrets};
use backoff::Backoff;
use jobs::{Job, Kind};
use logs::Logs;
use power_button::PowerButton;
use session::{Outcome, Request, Session, Start};
use terminal::Terminal;
use trial::Trial;

/// How long the balancer gets to stop after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// After SIGKILL, how long to wait for the kernel to report the child gone.
const KILL_GRACE: Duration = Duration::from_secs(1);
/// A console job (`show ipvs`, `config apply`) that takes longer than this is killed.
const TOOL_LIMIT: Duration = Duration::from_secs(10);
/// Jobs that hash a password (PBKDF2, 600,000 rounds: seconds under emulation) or
/// write the disk get longer.
const SLOW_TOOL_LIMIT: Duration = Duration::from_secs(120);
/// `ping`: at most 10 requests a second apart, and a margin.
const PING_LIMIT: Duration = Duration::from_secs(15);
/// `debug run` tools (ipvsadm -R of a large table under TCG) get longer.
const DEBUG_TOOL_LIMIT: Duration = Duration::from_secs(300);
/// Restoring the saved configuration at boot (the disk may take a moment to appear).
const RESTORE_LIMIT: Duration = Duration::from_secs(30);
/// How long the console's last words may take at power-off.
const FLUSH_AT_SHUTDOWN: Duration = Duration::from_secs(2);

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
    crate::logger::keep(true);
    let mut pid1 = catch_unwind(start).unwrap_or_else(|_| {
        log::error!("start-up panicked; continuing with what is set up");
        let mut pid1 = Pid1::minimal();
        let start = if pid1.nologin {
            Start::Open
        } else {
            Start::Login
        };
        pid1.open_console(start);
        pid1
    });
    loop {
        if catch_unwind(AssertUnwindSafe(|| pid1.step())).is_err() {
            log::error!("the init loop panicked; it goes on");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Adds `fd` to the poll set; its index there.
fn slot<'a>(
    fds: &mut Vec<PollFd<'a>>,
    fd: Option<BorrowedFd<'a>>,
    events: PollFlags,
) -> Option<usize> {
    fd.map(|fd| {
        fds.push(PollFd::new(fd, events));
        fds.len() - 1
    })
}

fn kernel_cmdline_has(word: &str) -> bool {
    std::fs::read_to_string("/proc/cmdline").is_ok_and(|c| c.split_whitespace().any(|w| w == word))
}

fn start() -> Pid1 {
    mounts::mount_all();
    let board = load_board();
    log::info!(
        "lvsfw {} starting on board {}",
        crate::slots::running_version(),
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
        let loaded = modules::load(&root, &board.modules, &board.module_options);
        log::info!("loaded {loaded} kernel modules");
    }
    if let Err(e) = set_cad_enabled(false) {
        log::warn!("ctrl-alt-del stays a hard reboot: {}", e.desc());
    }
    let mut pid1 = Pid1::minimal();
    pid1.board_name = board.as_ref().map(|b| b.name.clone());
    // After the modules (the driver is one).
    pid1.watchdog = board
        .as_ref()
        .and_then(|b| b.watchdog.as_ref())
        .and_then(|w| watchdog::HardwareWatchdog::open(&w.device, w.timeout_s));
    // Before the balancer starts: it reads the restored configuration.
    let restored = restore_saved();
    pid1.audit.attach_store();
    log::info!(target: "audit", "system: booted lvsfw {}", crate::slots::running_version());
    let restore_failed = !matches!(restored, Some(c) if c == 0 || c == i32::from(NO_PASSWORD));
    if restore_failed && restored != Some(i32::from(RESTORE_FAILED)) {
        // It did not finish, so it did not say why: the page must stay closed anyway.
        let _ = paths::write_atomic(
            Path::new(paths::RESTORE_FAILED),
            b"the restore did not finish\n",
            true,
        );
    }
    pid1.buttons = open_power_buttons();
    pid1.balancer_args = match board {
        Some(_) => vec!["balancer".into(), "--board".into(), paths::BOARD.into()],
        None => vec!["balancer".into()],
    };
    pid1.trial = Trial::at_boot(restore_failed);
    pid1.start_balancer();
    let start = if pid1.nologin {
        Start::Open
    } else {
        Start::after_restore(restored, setup_defaults)
    };
    pid1.open_console(start);
    pid1
}

/// `lvsfw config restore`, waited for: the saved configuration becomes the running
/// one. Its exit code says whether an admin password is set (see config_cli).
fn restore_saved() -> Option<i32> {
    let args = vec!["config".to_string(), "restore".into()];
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
    loop {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => return Some(code),
            Ok(WaitStatus::StillAlive) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Ok(WaitStatus::StillAlive) => {
                log::error!("restoring the saved configuration took too long; stopped");
                // Not waited for: a child stuck on a dead disk may not die at once; the
                // loop's reaper collects it whenever it does.
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

/// First-boot setup's defaults as `restore` (or `login`) left them; a line that does not
/// read as what it should be is no default.
fn setup_defaults() -> [String; 4] {
    use std::io::Read as _;
    let mut text = String::new();
    let _ = std::fs::File::open(paths::SETUP_DEFAULTS)
        .and_then(|f| f.take(1024).read_to_string(&mut text));
    let mut lines = text.lines().map(str::trim);
    let mut next = || lines.next().unwrap_or("").to_string();
    let (address, gateway, hostname, vlan) = (next(), next(), next(), next());
    [
        if address.parse::<config::IpPrefix>().is_ok() {
            address
        } else {
            String::new()
        },
        if gateway == "none" || gateway.parse::<std::net::IpAddr>().is_ok() {
            gateway
        } else {
            "none".into()
        },
        if config::native::check_hostname(&hostname).is_ok() {
            hostname
        } else {
            "lvsfw".into()
        },
        // Empty: the box has a management NIC, no VLAN question.
        if vlan.is_empty() || vlan == "none" || vlan.parse::<u16>().is_ok() {
            vlan
        } else {
            "none".into()
        },
    ]
}

fn load_board() -> Option<Board> {
    let text = match std::fs::read_to_string(paths::BOARD) {
        Ok(text) => text,
        Err(e) => {
            log::error!("{}: {e}", paths::BOARD);
            return None;
        }
    };
    match board::parse(&text) {
        Ok(board) => Some(board),
        Err(issues) => {
            for issue in issues.iter() {
                log::error!("{}:{issue}", paths::BOARD);
            }
            log::error!(
                "{}: not used; no modules loaded and NIC roles unmapped",
                paths::BOARD
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

struct Balancer {
    pid: Option<Pid>,
    started: Instant,
    restart_at: Option<Instant>,
    restarts: u32,
    /// Exits since boot, for a boot slot's trial (update::trial).
    exits: u32,
    backoff: Backoff,
}

struct Shutdown {
    mode: RebootMode,
    deadline: Instant,
    killed: bool,
}

struct Pid1 {
    signals: Option<SignalFd>,
    terminal: Option<Terminal>,
    session: Session,
    logs: Logs,
    /// The kernel's messages, into the log once the console is open.
    kmsg: kmsg::Kmsg,
    buttons: Vec<PowerButton>,
    balancer: Balancer,
    balancer_args: Vec<String>,
    shutdown: Option<Shutdown>,
    booted: Instant,
    /// The console command running in the foreground.
    job: Option<Job>,
    /// `lvsfw.debug` on the kernel command line: `debug run` is allowed.
    debug: bool,
    /// `lvsfw.nologin`: the console opens without login or first-boot setup.
    nologin: bool,
    board_name: Option<String>,
    /// A boot slot on trial, until it is marked good or given up.
    trial: Option<Trial>,
    watchdog: Option<watchdog::HardwareWatchdog>,
    /// Ends the console session when the password changes elsewhere or it is idle.
    guard: guard::Guard,
    /// The audit trail's owner.
    audit: audit::Audit,
    /// Remote syslog: every log line PID 1 sees.
    syslog: syslog::Forwarder,
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
        let mut unused = String::new();
        Pid1 {
            signals,
            terminal: None,
            session: Session::new(Start::Open, &mut unused),
            logs: Logs::new(),
            kmsg: kmsg::Kmsg::default(),
            buttons: Vec::new(),
            balancer: Balancer {
                pid: None,
                started: Instant::now(),
                restart_at: None,
                restarts: 0,
                exits: 0,
                backoff: Backoff::new(
                    Duration::from_millis(200),
                    Duration::from_secs(30),
                    Duration::from_secs(30),
                ),
            },
            balancer_args: vec!["balancer".into()],
            shutdown: None,
            booted: Instant::now(),
            job: None,
            debug: kernel_cmdline_has("lvsfw.debug"),
            nologin: kernel_cmdline_has("lvsfw.nologin"),
            board_name: None,
            trial: None,
            watchdog: None,
            guard: guard::Guard::new(crate::ops::Paths::appliance()),
            audit: audit::Audit::open(),
            syslog: syslog::Forwarder::new(crate::ops::Paths::appliance().running_json),
        }
    }

    /// From here on the console is the session's: raw mode, and log lines through
    /// [`Logs`].
    fn open_console(&mut self, start: Start) {
        let mut terminal = Terminal::open();
        crate::logger::capture(true);
        let mut out = String::new();
        self.session = Session::new(start, &mut out);
        self.session.allow_debug(self.debug);
        terminal.write(&out);
        self.terminal = Some(terminal);
        // From here on the kernel's lines come through the log too.
        self.kmsg = kmsg::Kmsg::open();
    }

    fn say(&mut self, text: &str) {
        if let Some(t) = &mut self.terminal {
            t.write(text);
        }
    }

    /// One turn of the loop: wait for a signal, console input, a child's output, the
    /// power button or a timer, then handle what happened.
    fn step(&mut self) {
        let now = Instant::now();
        let next_timer = [
            self.balancer.restart_at,
            self.shutdown.as_ref().map(|s| s.deadline),
            self.job.as_ref().map(|j| j.started + j.limit),
            self.logs.deadline(),
            self.trial.as_ref().map(|t| t.next_check),
            self.watchdog.as_ref().map(|w| w.next_feed()),
            self.guard.deadline(&self.session),
            self.audit.deadline(),
            Some(self.syslog.deadline()),
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

        let mut fds: Vec<PollFd> = Vec::new();
        let signal_slot = slot(
            &mut fds,
            self.signals.as_ref().map(|s| s.as_fd()),
            PollFlags::POLLIN,
        );
        let terminal = self.terminal.as_ref();
        let input_slot = slot(
            &mut fds,
            terminal.filter(|t| !t.closed).map(|t| t.input_fd()),
            PollFlags::POLLIN,
        );
        slot(
            &mut fds,
            terminal.filter(|t| t.wants_write()).map(|t| t.output_fd()),
            PollFlags::POLLOUT,
        );
        // The log pipe and the console's output only need to wake the loop: the logs
        // are read and the output written on every turn.
        slot(&mut fds, self.logs.reader(), PollFlags::POLLIN);
        slot(&mut fds, self.audit.fd(), PollFlags::POLLIN);
        slot(&mut fds, self.kmsg.fd(), PollFlags::POLLIN);
        let room = terminal.is_none_or(|t| t.has_room());
        let job_slot = slot(
            &mut fds,
            self.job
                .as_ref()
                .filter(|_| room)
                .and_then(|j| j.output_fd()),
            PollFlags::POLLIN,
        );
        let first_button = fds.len();
        for b in &self.buttons {
            fds.push(PollFd::new(b.fd(), PollFlags::POLLIN));
        }
        if fds.is_empty() && timeout == PollTimeout::NONE {
            std::thread::sleep(Duration::from_secs(1));
            return;
        }
        let ready = |fds: &[PollFd], i: Option<usize>| {
            i.is_some_and(|i| fds[i].revents().is_some_and(|r| !r.is_empty()))
        };
        let mut buttons_ready = Vec::new();
        let (mut signal_ready, mut input_ready, mut job_ready) = (false, false, false);
        match poll(&mut fds, timeout) {
            Ok(_) => {
                signal_ready = ready(&fds, signal_slot);
                input_ready = ready(&fds, input_slot);
                job_ready = ready(&fds, job_slot);
                buttons_ready = (first_button..fds.len())
                    .filter(|&i| ready(&fds, Some(i)))
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

        // A job's output before its end (SIGCHLD), so that nothing it said comes after
        // the prompt.
        if job_ready {
            self.job_output(64 << 10);
        }
        if signal_ready {
            self.handle_signals();
        }
        if input_ready {
            self.read_console();
        }
        for i in buttons_ready {
            if self.buttons[i].pressed() {
                log::info!("power button pressed");
                self.begin_shutdown(RebootMode::RB_POWER_OFF);
            }
        }
        self.run_timers();
        self.feed_watchdog();
        self.show_logs(false);
        if let Some(t) = &mut self.terminal {
            t.flush();
        }
    }

    fn show_logs(&mut self, force: bool) {
        self.audit.collect();
        self.kmsg.read_into(&mut self.logs);
        self.logs.collect();
        // The servers first (a look at the configuration when due), then the lines.
        self.syslog.pump();
        for line in self.logs.take_fresh() {
            self.syslog.offer(&line);
        }
        self.syslog.pump();
        match &mut self.terminal {
            Some(t) => self.logs.deliver(t, &self.session, force),
            None => {
                // Before the console is open: straight out, as the logger does.
                use std::io::Write as _;
                let _ = std::io::stderr().write_all(self.logs.take_pending().as_bytes());
            }
        }
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
                    let pid = status.pid();
                    if pid.is_some() && pid == self.balancer.pid {
                        self.balancer_exited(status);
                    } else if pid.is_some() && pid == self.job.as_ref().map(|j| j.pid) {
                        self.job_ended(status);
                    }
                }
            }
        }
    }

    fn balancer_exited(&mut self, status: WaitStatus) {
        self.balancer.pid = None;
        self.balancer.exits += 1;
        // A trial is judged at once on an exit, not at its next once-a-second look: it
        // is left at exactly its last allowed failure, before another start.
        if let Some(trial) = &mut self.trial {
            trial.next_check = Instant::now();
        }
        let how = describe(status);
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
        let exe = jobs::self_exe();
        match jobs::spawn(
            &exe,
            Some("lvsfw"),
            &self.balancer_args,
            jobs::Input::Nothing,
            self.logs.writer(),
        ) {
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

    fn feed_watchdog(&mut self) {
        let Some(dog) = self.watchdog.as_mut() else {
            return;
        };
        let now = Instant::now();
        if now < dog.next_feed() {
            return;
        }
        let running_for = self
            .balancer
            .pid
            .map(|_| now.saturating_duration_since(self.balancer.started));
        let heartbeat = crate::balancer::heartbeat::age(Path::new(paths::HEARTBEAT));
        dog.tick(now, watchdog::balancer_alive(heartbeat, running_for));
    }

    fn run_timers(&mut self) {
        let now = Instant::now();
        let mut out = String::new();
        self.guard.check(&mut self.session, now, false, &mut out);
        self.say(&out);
        let overdue = self
            .job
            .as_ref()
            .filter(|j| j.started + j.limit <= now)
            .map(|j| (j.pid, j.limit, j.what.clone()));
        if let Some((pid, limit, what)) = overdue {
            self.say(&format!(
                "\nerror: stopped: no answer within {} s\n",
                limit.as_secs()
            ));
            log::warn!(
                "console job {what} (pid {pid}) took longer than {} s; killed",
                limit.as_secs()
            );
            let _ = kill(pid, Signal::SIGKILL);
            // Its end is reaped like any other; until then no second limit.
            if let Some(job) = &mut self.job {
                job.limit = Duration::from_secs(3600);
            }
        }
        if self.shutdown.is_none() && self.trial.as_ref().is_some_and(|t| t.next_check <= now) {
            self.check_trial();
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

    fn check_trial(&mut self) {
        let Some(trial) = &mut self.trial else { return };
        match trial.check(self.booted.elapsed(), self.balancer.exits) {
            trial::Next::Wait => {}
            trial::Next::Done => self.trial = None,
            trial::Next::Reboot => {
                self.trial = None;
                self.begin_shutdown(RebootMode::RB_AUTOBOOT);
            }
        }
    }

    fn begin_shutdown(&mut self, mode: RebootMode) {
        if self.shutdown.is_some() {
            return;
        }
        log::info!(
            target: "audit",
            "system: {}",
            if mode == RebootMode::RB_AUTOBOOT { "reboot" } else { "power off" }
        );
        let mut out = String::new();
        self.session.finish(Outcome::Closed, &mut out);
        self.say(&out);
        self.balancer.restart_at = None;
        if let Some(pid) = self.balancer.pid {
            log::info!("stopping the balancer");
            let _ = kill(pid, Signal::SIGTERM);
        }
        if let Some(job) = &self.job {
            let _ = kill(job.pid, Signal::SIGKILL);
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
        self.show_logs(true);
        self.audit.persist(Duration::from_secs(1));
        if let Some(t) = &mut self.terminal {
            t.flush_for(FLUSH_AT_SHUTDOWN);
        }
        // A moment for remote syslog to take the last lines (a reboot among them).
        self.syslog.pump();
        crate::logger::capture(false);
        sync();
        loop {
            let Err(e) = reboot(mode);
            log::error!("reboot({mode:?}): {}", e.desc());
            std::thread::sleep(Duration::from_secs(5));
        }
    }

    fn read_console(&mut self) {
        let Some(terminal) = &mut self.terminal else {
            return;
        };
        let mut buf = [0u8; 4096];
        match terminal.read(&mut buf) {
            terminal::Read::Bytes(n) => {
                // A password changed elsewhere ends the session before what was typed
                // is carried out.
                let now = Instant::now();
                let mut out = String::new();
                self.guard.check(&mut self.session, now, true, &mut out);
                self.say(&out);
                self.session.input_at(now);
                self.session.push(&buf[..n]);
            }
            terminal::Read::Nothing => return,
            terminal::Read::Closed => {
                // No console attached (EOF) or a broken one: stop polling it rather than spin.
                terminal.closed = true;
                return;
            }
        }
        self.work_session();
    }

    /// Carries out what the session asks for, until it waits for a job or for input.
    fn work_session(&mut self) {
        let mut out = String::new();
        while let Some(request) = self.session.next(&mut out) {
            self.say(&std::mem::take(&mut out));
            self.handle(request);
            if self.session.busy() {
                break;
            }
        }
        self.say(&out);
    }

    fn finish(&mut self, outcome: Outcome) {
        // Whoever changed the running files (a job, the page), the prompt tells.
        let unsaved = crate::ops::saved::state(&crate::ops::Paths::appliance())
            == crate::ops::saved::State::Unsaved;
        self.session.set_unsaved(unsaved);
        let mut out = String::new();
        if self.terminal.as_ref().is_some_and(|t| !t.at_line_start()) {
            out.push('\n');
        }
        self.session.finish(outcome, &mut out);
        self.say(&out);
    }

    fn handle(&mut self, request: Request) {
        let start = |args: &[&str]| args.iter().map(|a| a.to_string()).collect::<Vec<String>>();
        match request {
            Request::Interrupt => {
                if let Some(job) = &self.job {
                    let _ = kill(job.pid, Signal::SIGINT);
                }
            }
            Request::Command(command) => self.command(command),
            Request::Login(password) => self.job(
                &start(&["config", "login"]),
                jobs::Input::Text(password.as_bytes()),
                SLOW_TOOL_LIMIT,
                Kind::Login,
            ),
            Request::Setup(answers) => self.job(
                &start(&["config", "setup"]),
                jobs::Input::Text(answers.to_lines().as_bytes()),
                SLOW_TOOL_LIMIT,
                Kind::Setup(answers.management),
            ),
            Request::SetPassword(password) => self.job(
                &start(&["config", "set", "password"]),
                jobs::Input::Text(password.as_bytes()),
                SLOW_TOOL_LIMIT,
                Kind::Plain,
            ),
            Request::ImportCertificate(text) => {
                let path = Path::new(paths::PASTED_CERTIFICATE);
                if let Err(e) = crate::ops::tls::write_secret(path, &text) {
                    self.say(&format!("error: {e}; nothing installed\n"));
                    self.finish(Outcome::Done);
                    return;
                }
                self.job(
                    &start(&["certificate", "install", paths::PASTED_CERTIFICATE]),
                    jobs::Input::Nothing,
                    TOOL_LIMIT,
                    Kind::Apply,
                );
            }
            Request::Import(text) => {
                if let Err(e) =
                    paths::write_atomic(Path::new(paths::PASTED_CONF), text.as_bytes(), true)
                {
                    self.say(&format!("error: {e}; nothing imported\n"));
                    self.finish(Outcome::Done);
                    return;
                }
                self.job(
                    &start(&["config", "import", paths::PASTED_CONF]),
                    jobs::Input::Nothing,
                    TOOL_LIMIT,
                    Kind::Plain,
                );
            }
            Request::FactoryReset => self.job(
                &start(&["config", "factory-reset"]),
                jobs::Input::Nothing,
                SLOW_TOOL_LIMIT,
                Kind::FactoryReset,
            ),
        }
    }

    /// Starts a console job, `lvsfw ARGS...`; the session waits for its end.
    fn job(&mut self, args: &[String], input: jobs::Input, limit: Duration, kind: Kind) {
        match Job::start(None, args, input, limit, kind) {
            Ok(job) => self.job = Some(job),
            Err(e) => {
                self.say(&format!("error: starting {}: {e}\n", args.join(" ")));
                let outcome = match kind {
                    Kind::Login => Outcome::LoginRefused,
                    Kind::Setup(_) => Outcome::SetupFailed,
                    _ => Outcome::Done,
                };
                self.finish(outcome);
            }
        }
    }

    fn command(&mut self, command: Command) {
        let words = |list: &[&str]| list.iter().map(|w| w.to_string()).collect::<Vec<String>>();
        let (args, limit, kind) = match command {
            Command::Help => return self.answer(console::help()),
            Command::ShowStatus => return self.answer(self.status()),
            Command::ShowLog => return self.answer(self.logs.recent()),
            Command::ShowAudit => return self.answer(self.audit.shown()),
            Command::ShowVersion => return self.answer(self.version()),
            Command::ShowTime => return self.answer(show_time()),
            Command::Reboot => return self.begin_shutdown(RebootMode::RB_AUTOBOOT),
            Command::Poweroff => return self.begin_shutdown(RebootMode::RB_POWER_OFF),
            // The session lets debug commands through only with lvsfw.debug.
            Command::FreezeBalancer => {
                let said = match self.balancer.pid {
                    Some(pid) => {
                        log::warn!("debug: stopping the balancer (pid {pid}) as if it hung");
                        let _ = kill(pid, Signal::SIGSTOP);
                        String::new()
                    }
                    None => "the balancer is not running\n".into(),
                };
                return self.answer(said);
            }
            Command::KillBalancer => {
                let said = match self.balancer.pid {
                    Some(pid) => {
                        log::warn!("debug: killing the balancer (pid {pid})");
                        let _ = kill(pid, Signal::SIGKILL);
                        String::new()
                    }
                    None => "the balancer is not running\n".into(),
                };
                return self.answer(said);
            }
            // The session handles these itself.
            Command::ConfigImport
            | Command::CertificateImport
            | Command::SetPassword
            | Command::FactoryReset
            | Command::Logout => return self.answer(String::new()),
            Command::ShowCertificate => (words(&["certificate", "show"]), TOOL_LIMIT, Kind::Plain),
            Command::CertificateOwn => (words(&["certificate", "own"]), TOOL_LIMIT, Kind::Apply),
            Command::ConfigDiscard => (Op::Discard.to_args(), TOOL_LIMIT, Kind::Plain),
            Command::ConfigRestore => (
                words(&["config", "restore", "--reload"]),
                RESTORE_LIMIT,
                Kind::Restore,
            ),
            Command::DebugRun { argv, stdin } => return self.debug_run(&argv, stdin.as_deref()),
            Command::ShowVrrp => (words(&["vrrp", "status"]), TOOL_LIMIT, Kind::Plain),
            Command::ShowIpvs(columns) => {
                let mut args = words(&["ipvs", "list"]);
                args.extend(columns.option().map(str::to_string));
                (args, TOOL_LIMIT, Kind::Plain)
            }
            Command::Ipvs(args) => {
                let mut all = words(&["ipvs"]);
                all.extend(args);
                (all, TOOL_LIMIT, Kind::Plain)
            }
            Command::ShowInterfaces => (words(&["show", "interfaces"]), TOOL_LIMIT, Kind::Plain),
            Command::ShowConfig => (Op::Show.to_args(), TOOL_LIMIT, Kind::Plain),
            Command::ShowSlots => (words(&["slots"]), TOOL_LIMIT, Kind::Plain),
            // Hashes the file twice and writes 10-20 MB to the ESP: long under emulation.
            Command::Update {
                file,
                allow_downgrade,
            } => {
                let mut args = words(&["update"]);
                args.extend(allow_downgrade.then(|| "--allow-downgrade".to_string()));
                args.push(file);
                (args, DEBUG_TOOL_LIMIT, Kind::Plain)
            }
            // The operations API's own words (ops::Op), parsed in the child.
            Command::SetInterface { role, addresses } => (
                Op::at_console(Change::Interface { role, addresses }).to_args(),
                TOOL_LIMIT,
                Kind::Plain,
            ),
            Command::SetHostname(name) => (
                Op::at_console(Change::Hostname(name)).to_args(),
                TOOL_LIMIT,
                Kind::Plain,
            ),
            Command::SetNtp(servers) => (
                Op::at_console(Change::Ntp(servers)).to_args(),
                TOOL_LIMIT,
                Kind::Plain,
            ),
            Command::SetGateway(gateway) => (
                Op::at_console(Change::Gateway(gateway)).to_args(),
                TOOL_LIMIT,
                Kind::Plain,
            ),
            Command::ConfigValidate => (Op::Validate.to_args(), TOOL_LIMIT, Kind::Plain),
            Command::ConfigDiff => (Op::Diff.to_args(), TOOL_LIMIT, Kind::Plain),
            // Waits for the balancer to say what runs (its IPVS pass, its VRRP sockets).
            Command::ConfigApply => (
                Op::apply_at_console(Confirm::Default).to_args(),
                SLOW_TOOL_LIMIT,
                Kind::Apply,
            ),
            Command::ConfigApplyConfirm(minutes) => (
                Op::apply_at_console(Confirm::Minutes(minutes)).to_args(),
                SLOW_TOOL_LIMIT,
                Kind::Apply,
            ),
            Command::ConfigConfirm => (Op::confirm_at_console().to_args(), TOOL_LIMIT, Kind::Plain),
            Command::ConfigHistory => (Op::History.to_args(), TOOL_LIMIT, Kind::Plain),
            Command::ConfigDiffRevision(rev) => {
                (Op::DiffRevision(rev).to_args(), TOOL_LIMIT, Kind::Plain)
            }
            Command::ConfigRestoreRevision(rev) => (
                Op::restore_at_console(rev).to_args(),
                SLOW_TOOL_LIMIT,
                Kind::Apply,
            ),
            Command::ConfigSave => (Op::save_at_console().to_args(), SLOW_TOOL_LIMIT, Kind::Save),
            Command::ConfigExport { with_secrets } => (
                Op::Export(if with_secrets {
                    Secrets::Included
                } else {
                    Secrets::Hidden
                })
                .to_args(),
                TOOL_LIMIT,
                Kind::Plain,
            ),
            Command::Ping(address) => (
                words(&["ping", &address.to_string()]),
                PING_LIMIT,
                Kind::Plain,
            ),
            Command::DebugCat(file) => (words(&["debug", "cat", &file]), TOOL_LIMIT, Kind::Plain),
            Command::DebugKmsg(count) => (
                words(&["debug", "kmsg", &count.to_string()]),
                DEBUG_TOOL_LIMIT,
                Kind::Plain,
            ),
        };
        self.job(&args, jobs::Input::Nothing, limit, kind);
    }

    /// A command answered by PID 1 itself.
    fn answer(&mut self, text: String) {
        self.say(&text);
        self.finish(Outcome::Done);
    }

    fn debug_run(&mut self, argv: &[String], stdin: Option<&str>) {
        let input = match stdin {
            None => jobs::Input::Nothing,
            // Non-blocking open: a FIFO without a writer must not stop PID 1.
            Some(file) => match std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(nix::libc::O_NONBLOCK)
                .open(file)
            {
                Ok(f) => jobs::Input::File(f),
                Err(e) => return self.answer(format!("error: {file}: {e}\n")),
            },
        };
        match Job::start(
            Some(Path::new(&argv[0])),
            &argv[1..],
            input,
            DEBUG_TOOL_LIMIT,
            Kind::Report,
        ) {
            Ok(job) => self.job = Some(job),
            Err(e) => self.answer(format!("error: {}: {e}\n", argv[0])),
        }
    }

    /// Copies what the job wrote to the console, at most `max` bytes now.
    fn job_output(&mut self, max: usize) {
        let Some(job) = &mut self.job else { return };
        if let Some(bytes) = job.read_output(max) {
            if let Some(t) = &mut self.terminal {
                t.write_bytes(&bytes);
            }
        }
    }

    fn job_ended(&mut self, status: WaitStatus) {
        // Everything it wrote is in the pipe now; a grandchild holding the pipe open
        // (a daemon started by `debug run`) cannot make this wait: reads stop at EAGAIN.
        self.job_output(usize::MAX);
        let Some(job) = self.job.take() else { return };
        let code = match status {
            WaitStatus::Exited(_, code) => Some(code),
            _ => None,
        };
        audit_console_job(&job, code);
        let outcome = match job.kind {
            Kind::Plain => Outcome::Done,
            Kind::Report => {
                self.say(&format!(
                    "debug run: {} after {} ms\n",
                    describe(status),
                    job.started.elapsed().as_millis()
                ));
                Outcome::Done
            }
            // The job asked the balancer itself and said what runs.
            Kind::Save => Outcome::Done,
            Kind::Apply => {
                if code == Some(0) || code == Some(i32::from(NOT_ALL_RUNNING)) {
                    // The console's own password change does not end its session.
                    self.guard.logged_in(&mut self.session, Instant::now());
                }
                Outcome::Done
            }
            // From the recovery prompt; the job had the balancer read what it restored.
            Kind::Restore => match code {
                Some(0) => Outcome::Login,
                Some(c) if c == i32::from(NO_PASSWORD) => Outcome::Setup(setup_defaults()),
                _ => Outcome::Recovery,
            },
            Kind::Login => match code {
                Some(0) => {
                    log::info!("console: admin logged in");
                    self.guard.logged_in(&mut self.session, Instant::now());
                    Outcome::LoginAccepted
                }
                Some(c) if c == i32::from(NO_PASSWORD) => Outcome::Setup(setup_defaults()),
                _ => Outcome::LoginRefused,
            },
            Kind::Setup(management) => {
                if code == Some(0) || code == Some(i32::from(NOT_ALL_RUNNING)) {
                    let page = match management.addr {
                        std::net::IpAddr::V6(a) => format!("[{a}]"),
                        a => a.to_string(),
                    };
                    self.say(&format!(
                        "setup complete; the management address is {management}; the page: https://{page}/ (pin its certificate: above)\n"
                    ));
                    log::info!("console: first-boot setup complete");
                    // Setup logged the console in with the password it set.
                    self.guard.logged_in(&mut self.session, Instant::now());
                    Outcome::Done
                } else {
                    Outcome::SetupFailed
                }
            }
            Kind::FactoryReset => {
                if code == Some(0) {
                    self.say("rebooting with the factory configuration\n");
                    self.begin_shutdown(RebootMode::RB_AUTOBOOT);
                    return;
                }
                Outcome::Done
            }
        };
        if code.is_none() && job.kind != Kind::Report {
            self.say(&format!("{}: stopped ({})\n", job.what, describe(status)));
        }
        self.finish(outcome);
        self.work_session();
    }

    fn status(&self) -> String {
        let balancer = match self.balancer.pid {
            Some(pid) => format!(
                "running, pid {pid}, up {} s",
                self.balancer.started.elapsed().as_secs()
            ),
            None => "not running".into(),
        };
        let paths = crate::ops::Paths::appliance();
        let saved = match crate::ops::saved::state(&paths) {
            crate::ops::saved::State::Saved => "running as saved".to_string(),
            crate::ops::saved::State::Unsaved => {
                "applied since the last save (\"config save\" keeps it; a reboot loses it)".into()
            }
            crate::ops::saved::State::Unknown(why) => {
                format!("not known whether it is saved ({why})")
            }
        };
        let mut candidate = if crate::ops::has_candidate(&paths) {
            "; a candidate differs from it (\"config diff\", \"config apply\")"
        } else {
            ""
        }
        .to_string();
        // Only whether the file is there: its texts are not parsed in PID 1.
        if paths.rollback.exists() {
            candidate.push_str("\nrollback: a change waits for its confirmation (\"show config\" says how long is left; \"config confirm\" keeps it)");
        }
        let hostname = nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default();
        let restarts = self.balancer.restarts;
        let mut out = format!(
            "lvsfw {} on {hostname}\nuptime: {} s\nbalancer: {balancer}, {}\nconfiguration: {saved}{candidate}\n",
            crate::slots::running_version(),
            self.booted.elapsed().as_secs(),
            crate::balancer::report::count(restarts as usize, "restart", "restarts"),
        );
        out.push_str(&not_running_lines());
        out
    }

    fn version(&self) -> String {
        let kernel = nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default();
        let slot = crate::slots::running_slot()
            .map(|s| format!(" (boot slot {s}; \"show slots\" for both)"))
            .unwrap_or_default();
        format!(
            "lvsfw {}{slot}\nkernel {kernel}\nboard {}\n",
            crate::slots::running_version(),
            self.board_name.as_deref().unwrap_or("(unknown)")
        )
    }
}

/// What the balancer last said does not run, for `show status`; it rewrites the file
/// whenever that changes.
/// `show time`: the wall clock now, and what the balancer's time task last wrote.
fn show_time() -> String {
    use crate::balancer::time;
    let status = std::fs::read_to_string(paths::TIME)
        .ok()
        .and_then(|t| serde_json::from_str::<::status::TimeStatus>(&t).ok());
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    time::render(status.as_ref(), now_ms)
}

fn not_running_lines() -> String {
    use std::io::Read as _;
    let mut text = String::new();
    let read = std::fs::File::open(paths::NOT_RUNNING)
        .and_then(|f| f.take(16 << 10).read_to_string(&mut text));
    match read {
        Err(_) => "running: not known (the balancer has not said yet)\n".into(),
        Ok(_) if text.trim().is_empty() => "running: everything configured\n".into(),
        Ok(_) => {
            let mut out = String::from("not running (tried again until it runs):\n");
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                out.push_str(&format!("  {line}\n"));
            }
            out
        }
    }
}

/// The audit trail's line for a console job that logs in or changes something.
fn audit_console_job(job: &Job, code: Option<i32>) {
    let what = job.what.strip_prefix("lvsfw ").unwrap_or(&job.what);
    let result = match code {
        Some(0) => "done".to_string(),
        Some(c) if c == i32::from(NOT_ALL_RUNNING) => "done, not all running".into(),
        Some(c) => format!("failed (exit {c})"),
        None => "stopped".into(),
    };
    match job.kind {
        Kind::Login if code == Some(0) => log::info!(target: "audit", "console: login"),
        Kind::Login if code == Some(i32::from(NO_PASSWORD)) => {}
        Kind::Login => log::info!(target: "audit", "console: failed login"),
        _ => {
            let changes = [
                "config set",
                "config apply",
                "config save",
                "config import",
                "config discard",
                "config setup",
                "config restore",
                "config factory-reset",
                "certificate install",
                "certificate own",
                "update",
            ];
            if changes.iter().any(|c| what.starts_with(c)) {
                log::info!(target: "audit", "console: {what}: {result}");
            }
        }
    }
}

fn describe(status: WaitStatus) -> String {
    match status {
        WaitStatus::Exited(_, code) => format!("exit code {code}"),
        WaitStatus::Signaled(_, signal, _) => format!("killed by {signal}"),
        other => format!("{other:?}"),
    }
}
