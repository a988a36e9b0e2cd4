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
mod boot;
mod console_jobs;
mod first_start;
mod guard;
mod heartbeat_age;
mod jobs;
pub mod kmsg;
mod logs;
mod mounts;
mod paste;
mod power_button;
mod session;
mod setup;
mod show;
mod supervisor;
mod syslog;
mod terminal;
mod trial;
mod watchdog;

use std::os::fd::{AsFd, BorrowedFd};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::reboot::RebootMode;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use backoff::Backoff;
use boot::start;
use jobs::Job;
use logs::Logs;
use power_button::PowerButton;
use session::{Session, Start};
use supervisor::{Balancer, Shutdown};
use terminal::Terminal;
use trial::Trial;

/// Restoring the saved configuration at boot (the disk may take a moment to appear).
const RESTORE_LIMIT: Duration = Duration::from_secs(30);

const HANDLED_SIGNALS: [Signal; 6] = [
    Signal::SIGCHLD,
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGPWR,
    Signal::SIGHUP,
    Signal::SIGUSR1,
];

/// The balancer's entry (`lvsfw balancer ARGS` without the word `balancer`): the binary
/// hands it over, so that PID 1 can start the balancer in a process it forked
/// (first_start) without depending on the balancer's crate.
pub type BalancerMain = fn(&[String]) -> std::process::ExitCode;

pub fn run(balancer: BalancerMain) -> ! {
    logger::init("init");
    logger::keep(true);
    let mut pid1 = catch_unwind(|| start(balancer)).unwrap_or_else(|_| {
        log::error!("start-up panicked; continuing with what is set up");
        let mut pid1 = Pid1::minimal(Logs::new());
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
    fn minimal(logs: Logs) -> Pid1 {
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
            logs,
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
            guard: guard::Guard::new(ops::Paths::appliance()),
            audit: audit::Audit::open(),
            syslog: syslog::Forwarder::new(ops::Paths::appliance().running_json),
        }
    }

    /// From here on the console is the session's: raw mode, and log lines through
    /// [`Logs`].
    fn open_console(&mut self, start: Start) {
        let mut terminal = Terminal::open();
        logger::capture(true);
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
}
