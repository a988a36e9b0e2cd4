//! The VRRP deadlines (Master_Down_Timer, Adver_Timer, gratuitous ARP repeats) with
//! microsecond precision. tokio's timer wheel ticks in milliseconds and fires after the
//! next tick: measured here, a 61 ms `sleep_until` ended 0.2 to 2.1 ms late (median 1.2
//! ms), which was most of lvsfw's takeover error against the RFC figure (issue 5's
//! benchmark: on the wire within 2 ms of 3 × interval + skew). A timerfd on
//! CLOCK_MONOTONIC, the clock std's `Instant` reads on Linux, registered with tokio's
//! reactor, fires within the kernel's timer slack (50 µs by default).

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::{Duration, Instant};

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

struct Fd(TimerFd);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// One timer, re-armed for each wait; a wait dropped half-way (a `select!` that took
/// another branch) leaves nothing behind that could end the next one early.
pub struct Deadline {
    fd: AsyncFd<Fd>,
}

impl Deadline {
    /// Needs a tokio runtime with I/O enabled.
    pub fn new() -> io::Result<Deadline> {
        let timer = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )?;
        // SAFETY: `Fd` owns the timer's descriptor and always returns that one; nothing
        // else closes or replaces it while the AsyncFd holds it.
        let fd = unsafe { AsyncFd::register_with_interest(Fd(timer), Interest::READABLE)? };
        Ok(Deadline { fd })
    }

    /// Returns at `at` or just after it, never before.
    pub async fn until(&self, at: Instant) -> io::Result<()> {
        let left = at.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        // A zero one-shot would disarm the timer; `left` is at least 1 ns here. Arming
        // anew also clears an expiry that an abandoned wait did not read.
        self.fd.get_ref().0.set(
            Expiration::OneShot(TimeSpec::from_duration(left.max(Duration::from_nanos(1)))),
            TimerSetTimeFlags::empty(),
        )?;
        loop {
            let mut ready = self.fd.readable().await?;
            match ready.try_io(|fd| fd.get_ref().0.wait().map_err(io::Error::from)) {
                // The relative arming was computed a few µs after `left`; CLOCK_MONOTONIC
                // and Instant agree, so the expiry is never before `at`.
                Ok(result) => return result,
                // Readiness left from an earlier, abandoned wait: the read found nothing.
                Err(_would_block) => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn never_ends_before_its_deadline() {
        runtime().block_on(async {
            let timer = Deadline::new().unwrap();
            for micros in [1, 300, 2_500, 10_000] {
                let at = Instant::now() + Duration::from_micros(micros);
                timer.until(at).await.unwrap();
                assert!(Instant::now() >= at);
            }
            // A deadline already past returns at once.
            timer.until(Instant::now()).await.unwrap();
        });
    }

    #[test]
    fn an_abandoned_wait_does_not_end_the_next_one_early() {
        runtime().block_on(async {
            let timer = Deadline::new().unwrap();
            // The first wait arms the timer, is dropped at once, and its timer then
            // fires unread (the thread sleeps through it).
            tokio::select! {
                biased;
                _ = timer.until(Instant::now() + Duration::from_millis(1)) => unreachable!(),
                _ = std::future::ready(()) => {}
            }
            std::thread::sleep(Duration::from_millis(5));
            // Re-armed for later: the stale expiry above must not end this wait.
            let later = Instant::now() + Duration::from_millis(20);
            timer.until(later).await.unwrap();
            assert!(Instant::now() >= later);
        });
    }
}
