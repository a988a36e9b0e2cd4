//! The balancer as PID 1's supervised child (started, restarted with a back-off, its
//! heartbeat fed to the hardware watchdog), the boot slot's trial, the timers, and
//! shutdown: the balancer stopped, the console's last words out, then reboot(2).

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::reboot::{reboot, RebootMode};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{sync, Pid};

use super::backoff::Backoff;
use super::session::Outcome;
use super::{jobs, trial, watchdog, Pid1};

/// How long the balancer gets to stop after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// After SIGKILL, how long to wait for the kernel to report the child gone.
const KILL_GRACE: Duration = Duration::from_secs(1);
/// How long the console's last words may take at power-off.
const FLUSH_AT_SHUTDOWN: Duration = Duration::from_secs(2);

pub(super) struct Balancer {
    pub(super) pid: Option<Pid>,
    pub(super) started: Instant,
    pub(super) restart_at: Option<Instant>,
    pub(super) restarts: u32,
    /// Exits since boot, for a boot slot's trial (update::trial).
    pub(super) exits: u32,
    pub(super) backoff: Backoff,
}

pub(super) struct Shutdown {
    pub(super) mode: RebootMode,
    pub(super) deadline: Instant,
    pub(super) killed: bool,
}

impl Pid1 {
    /// Every child's exit ends here, so no zombie is ever left behind.
    pub(super) fn reap(&mut self) {
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

    pub(super) fn balancer_exited(&mut self, status: WaitStatus) {
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

    pub(super) fn start_balancer(&mut self) {
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

    pub(super) fn feed_watchdog(&mut self) {
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
        let heartbeat = crate::heartbeat_age::age(Path::new(paths::HEARTBEAT));
        dog.tick(now, watchdog::balancer_alive(heartbeat, running_for));
    }

    pub(super) fn run_timers(&mut self) {
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

    pub(super) fn check_trial(&mut self) {
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

    pub(super) fn begin_shutdown(&mut self, mode: RebootMode) {
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

    pub(super) fn finish_shutdown(&mut self) -> ! {
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
        logger::capture(false);
        sync();
        loop {
            let Err(e) = reboot(mode);
            log::error!("reboot({mode:?}): {}", e.desc());
            std::thread::sleep(Duration::from_secs(5));
        }
    }
}

pub(super) fn describe(status: WaitStatus) -> String {
    match status {
        WaitStatus::Exited(_, code) => format!("exit code {code}"),
        WaitStatus::Signaled(_, signal, _) => format!("killed by {signal}"),
        other => format!("{other:?}"),
    }
}
