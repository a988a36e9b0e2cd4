//! The console's commands: those PID 1 answers itself, and those run as child
//! processes (`lvsfw config ...`, `lvsfw ipvs ...`), one at a time in the foreground,
//! their output copied to the console and their end turned into what the session does
//! next.

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use console::Command;
use nix::sys::reboot::RebootMode;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::WaitStatus;

use super::boot::setup_defaults;
use super::jobs::{self, Job, Kind};
use super::session::{Outcome, Request};
use super::show::show_time;
use super::supervisor::describe;
use super::{terminal, Pid1, RESTORE_LIMIT};
use ops::exit_code::{NOT_ALL_RUNNING, NO_PASSWORD};
use ops::{Change, Confirm, Op, Secrets};

/// A console job (`show ipvs`, `config apply`) that takes longer than this is killed.
const TOOL_LIMIT: Duration = Duration::from_secs(10);
/// Jobs that hash a password (PBKDF2, 600,000 rounds: seconds under emulation) or
/// write the disk get longer.
const SLOW_TOOL_LIMIT: Duration = Duration::from_secs(120);
/// `ping`: at most 10 requests a second apart, and a margin.
const PING_LIMIT: Duration = Duration::from_secs(15);
/// `debug run` tools (ipvsadm -R of a large table under TCG) get longer.
const DEBUG_TOOL_LIMIT: Duration = Duration::from_secs(300);
impl Pid1 {
    pub(super) fn read_console(&mut self) {
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
    pub(super) fn work_session(&mut self) {
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

    pub(super) fn finish(&mut self, outcome: Outcome) {
        // Whoever changed the running files (a job, the page), the prompt tells.
        let unsaved = ops::saved::state(&ops::Paths::appliance()) == ops::saved::State::Unsaved;
        self.session.set_unsaved(unsaved);
        let mut out = String::new();
        if self.terminal.as_ref().is_some_and(|t| !t.at_line_start()) {
            out.push('\n');
        }
        self.session.finish(outcome, &mut out);
        self.say(&out);
    }

    pub(super) fn handle(&mut self, request: Request) {
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
            // The password goes to the child on its standard input, never in its
            // arguments (which /proc shows to every process).
            Request::SetPassword(password) => self.job(
                &Op::at_console(Change::Password(password.clone())).to_args(),
                jobs::Input::Text(password.as_bytes()),
                SLOW_TOOL_LIMIT,
                Kind::Plain,
            ),
            Request::ImportCertificate(text) => {
                let path = Path::new(paths::PASTED_CERTIFICATE);
                if let Err(e) = ops::tls::write_secret(path, &text) {
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
                    &Op::at_console(Change::Import(paths::PASTED_CONF.into())).to_args(),
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
    pub(super) fn job(&mut self, args: &[String], input: jobs::Input, limit: Duration, kind: Kind) {
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

    pub(super) fn command(&mut self, command: Command) {
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
            Command::ShowBgp => (words(&["bgp", "status"]), TOOL_LIMIT, Kind::Plain),
            // Waits for the balancer's reload, like an apply.
            Command::Drain(on) => (
                Op::Drain {
                    on,
                    who: "console".into(),
                }
                .to_args(),
                SLOW_TOOL_LIMIT,
                Kind::Apply,
            ),
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
    pub(super) fn answer(&mut self, text: String) {
        self.say(&text);
        self.finish(Outcome::Done);
    }

    pub(super) fn debug_run(&mut self, argv: &[String], stdin: Option<&str>) {
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
    pub(super) fn job_output(&mut self, max: usize) {
        let Some(job) = &mut self.job else { return };
        if let Some(bytes) = job.read_output(max) {
            if let Some(t) = &mut self.terminal {
                t.write_bytes(&bytes);
            }
        }
    }

    pub(super) fn job_ended(&mut self, status: WaitStatus) {
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
