//! How long to wait before restarting a child that died.

use std::time::Duration;

/// Doubles the delay after each quick death, up to `max`; a child that ran for at least
/// `stable` before dying counts as a fresh start again.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    stable: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration, stable: Duration) -> Backoff {
        Backoff {
            min,
            max,
            stable,
            next: min,
        }
    }

    /// The delay before the restart that follows a child death after `ran_for`.
    pub fn after_exit(&mut self, ran_for: Duration) -> Duration {
        if ran_for >= self.stable {
            self.next = self.min;
        }
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn quick_deaths_double_the_delay_up_to_the_cap() {
        let mut b = Backoff::new(ms(200), ms(1000), ms(30_000));
        let delays: Vec<u64> = (0..5)
            .map(|_| b.after_exit(ms(10)).as_millis() as u64)
            .collect();
        assert_eq!(delays, vec![200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn a_stable_run_resets_the_delay() {
        let mut b = Backoff::new(ms(200), ms(30_000), ms(30_000));
        b.after_exit(ms(10));
        b.after_exit(ms(10));
        assert_eq!(b.after_exit(ms(30_000)), ms(200));
        assert_eq!(b.after_exit(ms(10)), ms(400));
    }
}
