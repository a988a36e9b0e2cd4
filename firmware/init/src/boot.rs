//! PID 1's start: mounts, the board, its kernel modules, the saved configuration
//! restored, the balancer started and the console opened. Whatever fails here is
//! logged and the rest goes on: PID 1 never dies.

use std::path::Path;
use std::time::Duration;

use nix::sys::reboot::set_cad_enabled;
use nix::unistd::sethostname;

use super::power_button::PowerButton;
use super::session::Start;
use super::trial::Trial;
use super::{first_start, jobs, mounts, watchdog, BalancerMain, Logs, Pid1};
use config::board::{self, Board};
use ops::exit_code::{NO_PASSWORD, RESTORE_FAILED};

pub(super) fn start(balancer: BalancerMain) -> Pid1 {
    mounts::mount_all();
    let rcu = ExpeditedRcu::start();
    let board = load_board();
    log::info!(
        "lvsfw {} starting on board {}",
        slots::running_version(),
        board.as_ref().map_or("(unknown)", |b| b.name.as_str())
    );
    let hostname = board
        .as_ref()
        .and_then(|b| b.hostname.clone())
        .unwrap_or_else(|| "lvsfw".into());
    if let Err(e) = sethostname(&hostname) {
        log::error!("setting hostname {hostname}: {}", e.desc());
    }
    // The interfaces' and disks' drivers first: the restore reads the disk, the
    // balancer brings the NICs up; the rest once it runs (modules::Round).
    let root = modules::running_root();
    if let Some(board) = &board {
        let first = modules::in_round(&board.modules, modules::Round::First);
        let loaded = modules::load(&root, &first, &board.module_options);
        log::info!("loaded {loaded} kernel modules for the NICs and disks");
    }
    let logs = Logs::new();
    let balancer_args = match &board {
        Some(_) => vec!["balancer".into(), "--board".into(), paths::BOARD.into()],
        None => vec!["balancer".into()],
    };
    // The restore (the balancer reads what it restores), whose process goes on as the
    // balancer (first_start); PID 1's own start-up meanwhile waits below them.
    let restore = first_start::begin(logs.writer(), &balancer_args, balancer);
    let mut low = restore.forked().then(BelowTheBalancer::start);
    if let Err(e) = set_cad_enabled(false) {
        log::warn!("ctrl-alt-del stays a hard reboot: {}", e.desc());
    }
    let mut pid1 = Pid1::minimal(logs);
    pid1.board_name = board.as_ref().map(|b| b.name.clone());
    pid1.balancer_args = balancer_args;
    // After the modules (the driver is one).
    pid1.watchdog = board
        .as_ref()
        .and_then(|b| b.watchdog.as_ref())
        .and_then(|w| watchdog::HardwareWatchdog::open(&w.device, w.timeout_s));
    let restored = restore.finish(&mut pid1);
    pid1.audit.attach_store();
    log::info!(target: "audit", "system: booted lvsfw {}", slots::running_version());
    let restore_failed = !matches!(restored, Some(c) if c == 0 || c == i32::from(NO_PASSWORD));
    if restore_failed && restored != Some(i32::from(RESTORE_FAILED)) {
        // It did not finish, so it did not say why: the page must stay closed anyway.
        let _ = paths::write_atomic(
            Path::new(paths::RESTORE_FAILED),
            b"the restore did not finish\n",
            true,
        );
    }
    pid1.trial = Trial::at_boot(restore_failed);
    if pid1.balancer.pid.is_none() {
        // Started anew, it keeps PID 1's priority: the usual one.
        drop(low.take());
        pid1.start_balancer();
    }
    let low = low.unwrap_or_else(BelowTheBalancer::start);
    certificate_later(&mut pid1);
    if let Some(board) = &board {
        let later = modules::in_round(&board.modules, modules::Round::Later);
        let loaded = modules::load(&root, &later, &board.module_options);
        log::info!("loaded {loaded} more kernel modules (power button, vfat, VLANs, bonds)");
    }
    drop(low);
    drop(rcu);
    answer_the_kernels_module_requests();
    // After the modules (`button` and `evdev` are two).
    pid1.buttons = open_power_buttons();
    let start = if pid1.nologin {
        Start::Open
    } else {
        Start::after_restore(restored, setup_defaults)
    };
    pid1.open_console(start);
    pid1
}

/// The kernel's RCU grace periods expedited while this lives: renaming a NIC (and other
/// steps of the first start) waits for one under RTNL, 10 to 20 ms each on a VM's one
/// CPU, against one or two expedited. The kernel expedites them itself until it starts
/// /init (rcu_end_inkernel_boot); this carries that on through PID 1's start only, since
/// an expedited one interrupts every CPU (rcupdate.rcu_expedited in the kernel's
/// documentation).
struct ExpeditedRcu {
    on: bool,
}

/// 1 expedites every RCU grace period, 0 leaves them to the kernel.
const RCU_EXPEDITED: &str = "/sys/kernel/rcu_expedited";

impl ExpeditedRcu {
    fn start() -> ExpeditedRcu {
        // Already on (the kernel's command line says rcupdate.rcu_expedited=1): left so.
        let already = std::fs::read_to_string(RCU_EXPEDITED).is_ok_and(|v| v.trim() != "0");
        let on = !already && std::fs::write(RCU_EXPEDITED, "1").is_ok();
        ExpeditedRcu { on }
    }
}

impl Drop for ExpeditedRcu {
    fn drop(&mut self) {
        if self.on {
            if let Err(e) = std::fs::write(RCU_EXPEDITED, "0") {
                log::warn!("{RCU_EXPEDITED} stays 1: {e}");
            }
        }
    }
}

/// From now on the kernel's own module requests (an IPVS scheduler only an ipvsadm
/// names) go to the image's modprobe ([`paths::MODPROBE`]); until now they failed at once.
fn answer_the_kernels_module_requests() {
    if let Err(e) = std::fs::write(KERNEL_MODPROBE, paths::MODPROBE) {
        log::warn!(
            "{KERNEL_MODPROBE}: {e}; the kernel cannot ask for a module (IPVS schedulers load only as the configuration names them)"
        );
    }
}

/// Which program the kernel runs for a module it needs.
const KERNEL_MODPROBE: &str = "/proc/sys/kernel/modprobe";

/// PID 1 at the lowest CPU priority while this lives, then back at its own: the balancer,
/// just started, brings the interfaces up first (a VM may have one CPU). A child PID 1
/// starts meanwhile keeps the low priority.
struct BelowTheBalancer {
    lowered: bool,
}

impl BelowTheBalancer {
    fn start() -> BelowTheBalancer {
        // SAFETY: setpriority on the calling thread (who 0) with plain integers.
        let lowered = unsafe { nix::libc::setpriority(nix::libc::PRIO_PROCESS, 0, 19) } == 0;
        BelowTheBalancer { lowered }
    }
}

impl Drop for BelowTheBalancer {
    fn drop(&mut self) {
        // SAFETY: as above; PID 1 runs as root, so it may raise its priority again.
        if self.lowered && unsafe { nix::libc::setpriority(nix::libc::PRIO_PROCESS, 0, 0) } != 0 {
            log::warn!(
                "PID 1 stays at a low CPU priority: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}

/// `lvsfw config restore --certificate`, not waited for (its end is reaped like any
/// child's): the box's own certificate when the restore left it for later; what it
/// says goes to the log. Started below the balancer ([`BelowTheBalancer`]): loading the
/// binary anew is most of a child's start under emulation.
fn certificate_later(pid1: &mut Pid1) {
    let args = ["config", "restore", "--certificate"].map(String::from);
    if let Err(e) = jobs::spawn(
        &jobs::self_exe(),
        Some("lvsfw"),
        &args,
        jobs::Input::Nothing,
        pid1.logs.writer(),
    ) {
        log::error!("making the page's certificate: {e}");
    }
}

/// First-boot setup's defaults as `restore` (or `login`) left them; a line that does not
/// read as what it should be is no default.
pub(super) fn setup_defaults() -> [String; 4] {
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
