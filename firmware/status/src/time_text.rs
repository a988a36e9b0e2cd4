//! `show time`'s words, from what the balancer's time task last published: PID 1
//! answers the console's `show time` with them, the balancer logs its clock steps
//! with [`precise_utc`].

use crate::TimeStatus;

/// `2026-12-05 00:20:01.234Z`.
pub fn precise_utc(ms: u64) -> String {
    let whole = crate::time::utc(ms);
    format!("{}.{:03}Z", whole.trim_end_matches('Z'), ms % 1000)
}

/// `show time`: the clock now and what NTP says of it, from `status` (none: the
/// balancer has not said yet); `now_ms` is the wall clock.
pub fn render(status: Option<&TimeStatus>, now_ms: u64) -> String {
    let mut out = format!("time: {} (UTC)\n", precise_utc(now_ms));
    let Some(s) = status else {
        out.push_str("synchronised: no (the balancer has not reported on NTP yet)\n");
        return out;
    };
    if s.servers.is_empty() {
        out.push_str("synchronised: no (no ntp_servers configured)\n");
        return out;
    }
    match (&s.server, s.synchronised) {
        (Some(server), true) => out.push_str(&format!(
            "synchronised: yes, from {server} (stratum {})\n",
            s.stratum.unwrap_or(0)
        )),
        _ => out.push_str("synchronised: no\n"),
    }
    if let (Some(offset), Some(delay), Some(at)) = (s.offset_ms, s.delay_ms, s.last_sync_ms) {
        out.push_str(&format!(
            "last sync: {} ({} s ago) from {}, offset {offset:+.3} ms, delay {delay:.3} ms\n",
            crate::time::utc(at),
            now_ms.saturating_sub(at) / 1000,
            s.server.as_deref().unwrap_or("?"),
        ));
    }
    if let (Some(at), Some(by)) = (s.last_step_ms, s.last_step_by_ms) {
        out.push_str(&format!(
            "last step: {} by {:+.3} s\n",
            crate::time::utc(at),
            by / 1000.0
        ));
    }
    out.push_str(&format!("servers: {}\n", s.servers.join(", ")));
    for p in &s.problems {
        out.push_str(&format!("  {p}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_time_says_synchronised_from_which_server_with_what_offset() {
        let now = 1_796_429_000_123;
        let s = TimeStatus {
            servers: vec!["192.168.0.1".into(), "192.168.0.2".into()],
            synchronised: true,
            server: Some("192.168.0.1".into()),
            stratum: Some(8),
            offset_ms: Some(0.25),
            delay_ms: Some(1.5),
            last_sync_ms: Some(now - 6_000),
            last_step_ms: Some(now - 14_000),
            last_step_by_ms: Some(31_536_000_123.0),
            problems: vec!["192.168.0.2: no answer within 2 s".into()],
        };
        assert_eq!(
            render(Some(&s), now),
            "time: 2026-12-05 00:03:20.123Z (UTC)\n\
             synchronised: yes, from 192.168.0.1 (stratum 8)\n\
             last sync: 2026-12-05 00:03:14Z (6 s ago) from 192.168.0.1, offset +0.250 ms, delay 1.500 ms\n\
             last step: 2026-12-05 00:03:06Z by +31536000.123 s\n\
             servers: 192.168.0.1, 192.168.0.2\n  192.168.0.2: no answer within 2 s\n"
        );
        let none = TimeStatus {
            servers: vec!["192.0.2.9".into()],
            problems: vec!["192.0.2.9: no answer within 2 s".into()],
            ..TimeStatus::default()
        };
        assert_eq!(
            render(Some(&none), now),
            "time: 2026-12-05 00:03:20.123Z (UTC)\nsynchronised: no\nservers: 192.0.2.9\n  192.0.2.9: no answer within 2 s\n"
        );
        assert!(render(Some(&TimeStatus::default()), now)
            .ends_with("synchronised: no (no ntp_servers configured)\n"));
        assert!(render(None, now).contains("has not reported"));
    }
}
