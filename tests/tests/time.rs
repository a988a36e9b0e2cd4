//! Issue 20's time and kernel messages, in one boot: the box's real-time clock starts a
//! year behind (QEMU's `-rtc base=`); its NTP server (Debian's chrony, `local stratum
//! 8`, in a lab namespace, `-x` so that it never touches the host's clock) is
//! unreachable at first: the box says it is not synchronised and VRRP takes over on
//! time. Then chrony starts: the box steps its clock by a year, says so in the log, and
//! its clock is within 100 ms of the host's (read through `show time`, bracketed by the
//! host's clock before and after the command); the next answer is slewed and measures
//! less than 100 ms. Last, a flood of kernel messages (`debug kmsg`): the lines come
//! through the firmware's log (never straight from the kernel onto the console), the
//! log and PID 1's memory stay bounded, the console answers, VRRP stays master.

use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lvsfw_lab::addresses::*;
use lvsfw_lab::{Appliance, ApplianceSpec, Error, Lab, Net};

const NTP_HOST: &str = "192.168.0.123";
/// A second server that never answers: nothing has this address.
const DEAD_NTP: &str = "192.168.0.124";
const YEAR_S: i64 = 365 * 86_400;
/// Kernel messages in the flood.
const FLOOD: u32 = 20_000;

fn config() -> String {
    format!(
        r#"{{"hostname": "lb1", "interfaces": [
            {{"role": "ext", "addresses": ["{LB1_EXT}/24"]}},
            {{"role": "int", "addresses": ["{LB1_INT}/24"]}}],
            "ntp_servers": ["{NTP_HOST}"]}}"#
    )
}

fn keepalived_conf() -> String {
    format!(
        "vrrp_instance VI_1 {{
    state BACKUP
    interface ext
    virtual_router_id 51
    priority 150
    advert_int 1
    virtual_ipaddress {{
        {VIP}/24
    }}
}}
"
    )
}

fn host_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// `2025-12-05T00:20:01` for QEMU's -rtc base=, `secs` after the epoch (UTC).
fn rtc_base(secs: i64) -> Result<String, Error> {
    let out = Command::new("date")
        .args(["-u", "-d", &format!("@{secs}"), "+%Y-%m-%dT%H:%M:%S"])
        .output()?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `show time`'s first line, `time: 2026-12-05 00:20:01.234Z (UTC)`, as ms since the epoch.
fn shown_time_ms(shown: &str) -> Result<i64, Error> {
    let bad = || Error(format!("no time line in:\n{shown}"));
    let line = shown
        .lines()
        .find_map(|l| l.trim().strip_prefix("time: "))
        .ok_or_else(bad)?;
    let n = |range: std::ops::Range<usize>| -> Result<i64, Error> {
        line.get(range).and_then(|t| t.parse().ok()).ok_or_else(bad)
    };
    let days = days_from_civil(n(0..4)?, n(5..7)?, n(8..10)?);
    let secs = days * 86_400 + n(11..13)? * 3600 + n(14..16)? * 60 + n(17..19)?;
    Ok(secs * 1000 + n(20..23)?)
}

/// The offset on `show time`'s "last sync" line, in ms.
fn shown_offset_ms(shown: &str) -> Option<f64> {
    let line = shown.lines().find(|l| l.contains("last sync: "))?;
    let at = line.find("offset ")? + "offset ".len();
    line[at..].split(' ').next()?.parse().ok()
}

/// The kernel time of the first console line holding `pattern` (`[   5.123456] ...`).
fn boot_time_of(console: &str, pattern: &str) -> Option<f64> {
    let line = console.lines().find(|l| l.contains(pattern))?;
    // The stamp is the last `[...]` before the pattern (the line may start with the
    // console's erase sequence, ESC [ K).
    let before = &line[..line.find(pattern)?];
    let stamp = before[before.rfind('[')? + 1..].split(']').next()?;
    stamp.trim().parse().ok()
}

fn vm_rss_kb(lb1: &mut Appliance) -> Result<u64, Error> {
    let status = lb1.command("debug cat /proc/1/status", Duration::from_secs(20))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| Error(format!("no VmRSS in:\n{status}")))
}

fn chrony_conf(dir: &std::path::Path) -> String {
    format!(
        "local stratum 8\nallow\nport 123\ncmdport 0\npidfile {0}/chronyd.pid\ndriftfile {0}/drift\n",
        dir.display()
    )
}

#[test]
fn a_year_off_clock_is_stepped_by_ntp_and_a_kernel_message_flood_stays_in_the_log(
) -> Result<(), Error> {
    let started = Instant::now();
    let mut lab = Lab::new("ntptime", false)?;
    let client = lab.add_host("client", Net::Ext, &format!("{CLIENT}/24"), None)?;
    let ntp = lab.add_host("ntp", Net::Ext, &format!("{NTP_HOST}/24"), None)?;
    let year_ago = rtc_base(host_ms() / 1000 - YEAR_S)?;
    let mut lb1 = lab.boot(ApplianceSpec {
        name: "lb1".into(),
        config_json: Some(config()),
        files: vec![(
            "etc/lvsfw/keepalived.conf".into(),
            keepalived_conf().into_bytes(),
        )],
        rtc_base: Some(year_ago),
        ..ApplianceSpec::default()
    })?;
    lb1.wait_for("balancer: interfaces up", Duration::from_secs(60))?;

    // No NTP server yet: not synchronised, and says why; the clock is a year behind.
    lb1.console.wait_anywhere(
        "NTP: no usable answer from any server (1 round in a row)",
        Duration::from_secs(30),
    )?;
    let shown = lb1.command("show time", Duration::from_secs(20))?;
    assert!(shown.contains("synchronised: no\n"), "{shown}");
    assert!(
        shown.contains(&format!("{NTP_HOST}: no answer within 2 s")),
        "{shown}"
    );
    let behind = host_ms() - shown_time_ms(&shown)?;
    assert!(
        (YEAR_S - 120) * 1000 < behind && behind < (YEAR_S + 120) * 1000,
        "the box's clock is {behind} ms behind, not a year"
    );

    // VRRP does not wait for time: alone on the segment, lb1 is master after the
    // master down interval (3 x 1 s + skew 0.41 s), measured on the box's own
    // monotonic log stamps.
    lb1.wait_for("VI_1: BACKUP -> MASTER", Duration::from_secs(30))?;
    let text = lb1.console.text();
    let backup = boot_time_of(&text, "VI_1: INIT -> BACKUP")
        .ok_or_else(|| Error(format!("no INIT -> BACKUP line in:\n{text}")))?;
    let master = boot_time_of(&text, "VI_1: BACKUP -> MASTER").unwrap_or(0.0);
    let took = master - backup;
    println!("master after {took:.3} s with the NTP server unreachable (3.41 s expected)");
    assert!(
        (3.0..4.5).contains(&took),
        "became master after {took:.3} s"
    );
    assert!(client.ping(VIP), "the VIP does not answer");

    // chrony comes: within the retries' backoff the clock is stepped by a year.
    let dir = lab.dir.join("chrony");
    std::fs::create_dir_all(&dir)?;
    let conf = dir.join("chrony.conf");
    std::fs::write(&conf, chrony_conf(&dir))?;
    let conf_arg = conf.to_string_lossy().into_owned();
    lab.spawn(
        &ntp,
        &["chronyd", "-d", "-x", "-u", "root", "-f", &conf_arg],
        "chronyd",
    )?;
    let chrony_up = Instant::now();
    let stepped = lb1
        .console
        .wait_for_line("clock stepped by ", Duration::from_secs(90))?;
    println!(
        "stepped {:.1} s after chrony started: {}",
        chrony_up.elapsed().as_secs_f64(),
        stepped.trim()
    );
    let by: f64 = stepped
        .split("clock stepped by ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| Error(format!("no step size in {stepped:?}")))?;
    assert!(
        ((YEAR_S - 120) as f64..(YEAR_S + 120) as f64).contains(&by),
        "stepped by {by} s, not a year"
    );

    // The box's clock now: within 100 ms of the host's while the command ran.
    let before = host_ms();
    let shown = lb1.command("show time", Duration::from_secs(20))?;
    let after = host_ms();
    let boxed = shown_time_ms(&shown)?;
    println!(
        "box time {boxed}, host {before}..{after} ({} ms console round trip)",
        after - before
    );
    assert!(
        before - 100 <= boxed && boxed <= after + 100,
        "the box's clock is off by more than 100 ms: {boxed} not in {before}..{after}\n{shown}"
    );
    assert!(
        shown.contains(&format!("synchronised: yes, from {NTP_HOST} (stratum ")),
        "{shown}"
    );
    assert!(shown.contains("last step: "), "{shown}");

    // The confirming answer (8 s after the step) is slewed, and small.
    let deadline = Instant::now() + Duration::from_secs(40);
    let offset = loop {
        let shown = lb1.command("show time", Duration::from_secs(20))?;
        match shown_offset_ms(&shown) {
            Some(o) if o.abs() < 100.0 => break o,
            _ if Instant::now() > deadline => {
                return Err(Error(format!("no small offset by now:\n{shown}")))
            }
            _ => std::thread::sleep(Duration::from_secs(2)),
        }
    };
    println!("offset measured after the step: {offset:+.3} ms");

    // A second, dead server set at the console: the clock follows the one that answers,
    // is not stepped again, and show time names the dead one.
    let said = lb1.command(
        &format!("set ntp {NTP_HOST} {DEAD_NTP}"),
        Duration::from_secs(20),
    )?;
    assert!(
        said.contains(&format!("NTP servers: {NTP_HOST}, {DEAD_NTP}")),
        "{said}"
    );
    lb1.command("config apply", Duration::from_secs(60))?;
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let shown = lb1.command("show time", Duration::from_secs(20))?;
        let dead = format!("{DEAD_NTP}: no answer within 2 s");
        if shown.contains(&dead) {
            assert!(
                shown.contains(&format!("synchronised: yes, from {NTP_HOST}")),
                "{shown}"
            );
            assert!(
                shown.contains(&format!("servers: {NTP_HOST}, {DEAD_NTP}")),
                "{shown}"
            );
            break;
        }
        if Instant::now() > deadline {
            return Err(Error(format!("the dead server is not named:\n{shown}")));
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    let steps = lb1.console.text().matches("clock stepped by ").count();
    assert_eq!(steps, 1, "the clock was stepped again");

    // A flood of kernel messages.
    let rss_before = vm_rss_kb(&mut lb1)?;
    let flooding = Instant::now();
    let said = lb1.command(&format!("debug kmsg {FLOOD}"), Duration::from_secs(120))?;
    assert!(said.contains(&format!("{FLOOD} lines written")), "{said}");
    let last = format!("kernel: error: lvsfw debug kmsg: flood line {FLOOD} of {FLOOD}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let log = loop {
        let log = lb1.command("show log", Duration::from_secs(30))?;
        if log.contains(&last) {
            break log;
        }
        if Instant::now() > deadline {
            return Err(Error(format!("{last:?} never reached show log")));
        }
        std::thread::sleep(Duration::from_secs(1));
    };
    println!(
        "flood of {FLOOD} kernel lines through the log in {:.1} s",
        flooding.elapsed().as_secs_f64()
    );
    let lines = log.lines().count();
    assert!(lines <= 510, "show log has {lines} lines");
    // Every flood line on the console came through the log: none straight from the
    // kernel (its own form is "[   12.345678] lvsfw debug kmsg: ...").
    let text = lb1.console.text();
    let direct = text
        .lines()
        .filter(|l| l.contains("] lvsfw debug kmsg: flood line"))
        .count();
    let through = text
        .lines()
        .filter(|l| l.contains("] kernel: error: lvsfw debug kmsg: flood line"))
        .count();
    println!(
        "flood lines on the console: {through} through the log, {direct} from the kernel directly"
    );
    assert_eq!(direct, 0, "kernel lines reached the console directly");
    assert!(through > 0, "no flood line on the console");
    let answered = Instant::now();
    let shown = lb1.command("show time", Duration::from_secs(20))?;
    println!(
        "show time after the flood answered in {} ms",
        answered.elapsed().as_millis()
    );
    assert!(shown.contains("synchronised: yes"), "{shown}");
    let rss_after = vm_rss_kb(&mut lb1)?;
    println!("PID 1 VmRSS: {rss_before} kB before the flood, {rss_after} kB after");
    assert!(
        rss_after < rss_before + 2048,
        "PID 1 grew from {rss_before} kB to {rss_after} kB"
    );

    // Through all of it VRRP stayed master.
    let text = lb1.console.text();
    assert!(!text.contains("VI_1: MASTER -> "), "a VRRP transition");
    assert!(client.ping(VIP), "the VIP does not answer");
    println!("test took {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

#[test]
fn civil_dates_count_days_from_1970() {
    assert_eq!(days_from_civil(1970, 1, 1), 0);
    assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    assert_eq!(days_from_civil(2026, 12, 5), 20_792);
    assert_eq!(
        shown_time_ms("x\ntime: 2026-12-05 00:03:20.123Z (UTC)\n").unwrap(),
        1_796_429_000_123
    );
    assert_eq!(
        boot_time_of(
            "lvsfw> \x1b[K[   10.185477] balancer: VI_1: INIT -> BACKUP",
            "VI_1: INIT"
        ),
        Some(10.185477)
    );
    assert_eq!(
        shown_offset_ms("last sync: 2026-12-05 00:03:14Z (6 s ago) from 192.168.0.1, offset -0.250 ms, delay 1.500 ms"),
        Some(-0.25)
    );
}
