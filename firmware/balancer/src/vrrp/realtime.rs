//! keepalived's `max_auto_priority` / `min_auto_priority_delay` (lib/process.c
//! increment_process_priority, lib/scheduler.c): when a VRRP timer fires more than the
//! delay late, the process that runs VRRP is moved to real-time scheduling (SCHED_RR),
//! one step higher each time it happens again, up to the maximum.
//!
//! On the appliance VRRP runs on the balancer's one event thread, which also runs the
//! health checks and the page; it is that thread that is raised, and it stays raised
//! (as in keepalived). The kernel's real-time throttling (sched_rt_runtime_us) still
//! leaves the rest of the box 5 % of each second. SCHED_RESET_ON_FORK keeps the
//! programs the balancer starts out of it.

use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use super::spec::AutoPriority;

/// The SCHED_RR priority the thread runs at now; 0: normal scheduling.
static CURRENT: AtomicI32 = AtomicI32::new(0);

/// The next real-time priority after `current` (0: not yet real-time), or `None` when
/// there is nothing to raise: the timer was on time, or the maximum is reached.
pub fn next_priority(current: i32, late: Duration, auto: &AutoPriority) -> Option<i32> {
    if late <= auto.delay || current >= auto.max {
        return None;
    }
    // sched_get_priority_min(SCHED_RR) is 1 on Linux.
    Some(if current == 0 { 1 } else { current + 1 }.min(auto.max))
}

/// A VRRP timer fired `late`: raises the calling thread one step when keepalived would.
pub fn timer_fired_late(late: Duration, auto: &AutoPriority) {
    let current = CURRENT.load(Ordering::Relaxed);
    let Some(priority) = next_priority(current, late, auto) else {
        return;
    };
    // musl's sched_param has more fields than glibc's: all zero but the priority.
    // SAFETY: sched_param is plain data; all-zero is a valid value.
    let mut param: nix::libc::sched_param = unsafe { std::mem::zeroed() };
    param.sched_priority = priority;
    // SAFETY: sched_setscheduler on thread 0 (the caller) with a valid sched_param.
    let rc = unsafe {
        nix::libc::sched_setscheduler(
            0,
            nix::libc::SCHED_RR | nix::libc::SCHED_RESET_ON_FORK,
            &param,
        )
    };
    if rc == 0 {
        CURRENT.store(priority, Ordering::Relaxed);
        log::warn!(
            "VRRP timer {} ms late: real-time priority {priority} (max_auto_priority {})",
            late.as_millis(),
            auto.max
        );
    } else {
        log::warn!(
            "VRRP timer {} ms late, cannot raise the priority: {}",
            late.as_millis(),
            std::io::Error::last_os_error()
        );
        // Do not try again at every late timer.
        CURRENT.store(auto.max, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_step_per_late_timer_from_the_lowest_up_to_the_maximum() {
        let auto = AutoPriority {
            max: 3,
            delay: Duration::from_millis(100),
        };
        let late = Duration::from_millis(150);
        assert_eq!(next_priority(0, Duration::from_millis(100), &auto), None);
        assert_eq!(next_priority(0, late, &auto), Some(1));
        assert_eq!(next_priority(1, late, &auto), Some(2));
        assert_eq!(next_priority(2, late, &auto), Some(3));
        assert_eq!(next_priority(3, late, &auto), None);
    }
}
