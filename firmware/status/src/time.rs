//! Times as every front end writes them: UTC (the appliance has no time zone), and how
//! long ago something was.

use std::time::Duration;

/// `2026-11-25 12:31:36Z`, from milliseconds since the epoch (UTC; the appliance has no
/// time zone).
pub fn utc(ms: u64) -> String {
    let t = Civil::from_unix(ms / 1000);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// A moment in UTC as the calendar says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    /// 1 to 12.
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    /// 0 is Sunday.
    pub weekday: u8,
}

impl Civil {
    pub fn from_unix(secs: u64) -> Civil {
        let (days, rest) = (secs / 86400, secs % 86400);
        // Howard Hinnant's days-to-civil algorithm.
        let z = days as i64 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        Civil {
            year: yoe + era * 400 + i64::from(month <= 2),
            month: month as u8,
            day: day as u8,
            hour: (rest / 3600) as u8,
            minute: (rest / 60 % 60) as u8,
            second: (rest % 60) as u8,
            // 1970-01-01 was a Thursday.
            weekday: ((days + 4) % 7) as u8,
        }
    }
}

/// How long before `now_ms` `then_ms` was: `4.2 s ago`, `17 min ago`, `3 h ago`.
pub fn ago(now_ms: u64, then_ms: u64) -> String {
    let d = Duration::from_millis(now_ms.saturating_sub(then_ms));
    let s = d.as_secs();
    match s {
        0..=119 => format!("{:.1} s ago", d.as_secs_f64()),
        120..=7199 => format!("{} min ago", s / 60),
        _ => format!("{} h ago", s / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ago_rounds_to_the_unit_that_reads_best() {
        assert_eq!(ago(10_000, 5_800), "4.2 s ago");
        assert_eq!(ago(17 * 60_000 + 5, 5), "17 min ago");
        assert_eq!(ago(3 * 3_600_000, 0), "3 h ago");
        assert_eq!(ago(0, 5), "0.0 s ago");
    }
}
