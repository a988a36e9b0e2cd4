//! The clock: a task of its own asks the configured NTP servers (the `ntp` crate decides
//! what to send and what an answer means), steps or slews the kernel's clock as told,
//! and publishes what it knows (a watch for the page, [`paths::TIME`] for the console's
//! `show time`). It only waits on its sockets and its deadline, so it never holds up
//! the VRRP tasks that share the runtime.
//!
//! Every log timestamp, every certificate check and the page's sessions read the wall
//! clock, so each step is logged with its size.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Instant;

use ::status::TimeStatus;
use ntp::{Adjust, Client, Event, NtpTime};
use tokio::net::UdpSocket;
use tokio::sync::watch;

use status::time_text::precise_utc;

const NTP_PORT: u16 = 123;

/// Starts the task; it follows `servers` (the configuration's `ntp_servers`).
pub fn start(servers: watch::Receiver<Vec<IpAddr>>) -> watch::Receiver<TimeStatus> {
    let (tx, rx) = watch::channel(TimeStatus::default());
    tokio::spawn(run(servers, tx));
    rx
}

/// Milliseconds of the monotonic clock since the task started (the client's schedule).
struct Mono(Instant);

impl Mono {
    fn now_ms(&self) -> u64 {
        self.0.elapsed().as_millis() as u64
    }

    fn at(&self, ms: u64) -> tokio::time::Instant {
        tokio::time::Instant::from_std(self.0 + std::time::Duration::from_millis(ms))
    }
}

async fn run(mut servers: watch::Receiver<Vec<IpAddr>>, status: watch::Sender<TimeStatus>) {
    let mono = Mono(Instant::now());
    let mut configured = servers.borrow_and_update().clone();
    let mut client = new_client(&configured, &mono);
    let v4 = bind("0.0.0.0:0").await;
    let v6 = bind("[::]:0").await;
    let mut last_step: Option<(u64, f64)> = None;
    let mut buf4 = [0u8; 512];
    let mut buf6 = [0u8; 512];
    publish(&status, &configured, &client, &mono, last_step);
    loop {
        let wake = client.wake_at();
        let out = tokio::select! {
            _ = tokio::time::sleep_until(mono.at(wake.unwrap_or(0))), if wake.is_some() => {
                client.poll(mono.now_ms(), wall(), nonce)
            }
            Some((n, from)) = recv(v4.as_ref(), &mut buf4) => {
                client.receive(from, &buf4[..n], mono.now_ms(), wall())
            }
            Some((n, from)) = recv(v6.as_ref(), &mut buf6) => {
                client.receive(from, &buf6[..n], mono.now_ms(), wall())
            }
            changed = servers.changed() => {
                if changed.is_err() {
                    return;
                }
                let now = servers.borrow_and_update().clone();
                if now != configured {
                    configured = now;
                    log::info!("NTP servers: {}", list(&configured));
                    client = new_client(&configured, &mono).following(&client);
                }
                ntp::client::Output::default()
            }
        };
        for (to, packet) in &out.send {
            let socket = if to.is_ipv4() { &v4 } else { &v6 };
            if let Some(socket) = socket {
                // A failed send (no route yet) shows as no answer at the round's end.
                let _ = socket.send_to(packet, to).await;
            }
        }
        let mut stepped = None;
        if let Some(adjust) = out.adjust {
            if let Some((at, by, said)) = apply(adjust) {
                last_step = Some((at, by));
                stepped = Some(said);
            }
        }
        // Published before the step is logged: whoever reacts to the log line (an
        // operator's `show time`) finds the status that goes with it.
        publish(&status, &configured, &client, &mono, last_step);
        if let Some(said) = stepped {
            log::warn!("{said}");
        }
        for event in out.events {
            log_event(&event);
        }
    }
}

fn new_client(servers: &[IpAddr], mono: &Mono) -> Client {
    let addrs: Vec<SocketAddr> = servers
        .iter()
        .map(|&a| SocketAddr::new(a, NTP_PORT))
        .collect();
    Client::new(&addrs, mono.now_ms())
}

async fn bind(at: &str) -> Option<UdpSocket> {
    match UdpSocket::bind(at).await {
        Ok(s) => Some(s),
        Err(e) => {
            log::warn!("NTP: cannot open a UDP socket on {at}: {e}");
            None
        }
    }
}

/// A datagram from `socket`; never, when there is none.
async fn recv(socket: Option<&UdpSocket>, buf: &mut [u8]) -> Option<(usize, SocketAddr)> {
    match socket {
        Some(s) => s.recv_from(buf).await.ok(),
        None => std::future::pending().await,
    }
}

fn wall() -> NtpTime {
    match nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME) {
        Ok(t) => NtpTime::from_unix(t.tv_sec(), t.tv_nsec() as u32),
        Err(_) => NtpTime::default(),
    }
}

fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A random nonce for a request's transmit timestamp (see the ntp crate).
fn nonce() -> u64 {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 8];
    if ring::rand::SystemRandom::new().fill(&mut b).is_err() {
        // Never seen; the nonce is then only unpredictable by its time.
        return wall().0 ^ 0x5a5a_5a5a_5a5a_5a5a;
    }
    u64::from_ne_bytes(b)
}

/// Does `adjust` to the kernel's clock; for a step, when (ms since the epoch), by how
/// many milliseconds, and the warning that says it (logged by the caller once the
/// status shows the step).
fn apply(adjust: Adjust) -> Option<(u64, f64, String)> {
    match adjust {
        Adjust::Step(by) => {
            let before = wall_ms();
            match step(by) {
                Ok(()) => {
                    let after = wall_ms();
                    let said = format!(
                        "clock stepped by {} (from {} to {})",
                        seconds(by),
                        precise_utc(before),
                        precise_utc(after)
                    );
                    Some((after, by as f64 / 1e6, said))
                }
                Err(e) => {
                    log::error!("clock not stepped by {}: {e}", seconds(by));
                    None
                }
            }
        }
        Adjust::Slew(by) => {
            if let Err(e) = slew(by) {
                log::error!("clock not slewed by {}: {e}", seconds(by));
            }
            None
        }
    }
}

/// The clock moved by `by` ns at once (`clock_settime`).
fn step(by: i64) -> Result<(), String> {
    use nix::time::{clock_gettime, clock_settime, ClockId};
    let now = clock_gettime(ClockId::CLOCK_REALTIME).map_err(|e| e.desc().to_string())?;
    let ns = now.tv_sec() as i128 * 1_000_000_000 + now.tv_nsec() as i128 + by as i128;
    if ns < 0 {
        return Err("the result would be before 1970".into());
    }
    let to = nix::sys::time::TimeSpec::from_duration(std::time::Duration::from_nanos(
        u64::try_from(ns).map_err(|_| "the result is out of range")?,
    ));
    clock_settime(ClockId::CLOCK_REALTIME, to).map_err(|e| e.desc().to_string())
}

/// The clock moved by `by` ns gradually: adjtime's single-shot offset, which the kernel
/// slews at 500 µs a second and which replaces what was left of the last one (the
/// new measurement includes it).
fn slew(by: i64) -> Result<(), String> {
    // SAFETY: a zeroed timex is a valid argument; adjtimex reads and writes only it.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    tx.modes = libc::ADJ_OFFSET_SINGLESHOT as libc::c_uint;
    tx.offset = (by / 1000) as libc::c_long;
    // SAFETY: `tx` is a live, initialised timex for the duration of the call.
    if unsafe { libc::adjtimex(&mut tx) } < 0 {
        return Err(std::io::Error::last_os_error().to_string());
    }
    Ok(())
}

fn seconds(ns: i64) -> String {
    format!("{:+.3} s", ns as f64 / 1e9)
}

fn millis(ns: i64) -> f64 {
    (ns as f64 / 1e3).round() / 1e3
}

fn list(servers: &[IpAddr]) -> String {
    if servers.is_empty() {
        return "none (the clock is left as it is)".into();
    }
    servers
        .iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn log_event(event: &Event) {
    match event {
        Event::Rejected(from, why) => log::warn!("NTP {}: {why}", from.ip()),
        Event::Denied(from, code) => log::warn!(
            "NTP {}: kiss-o'-death {code}: the server refuses us; not asked again until the configuration changes",
            from.ip()
        ),
        Event::NoAnswer(rounds) => log::warn!(
            "NTP: no usable answer from any server ({rounds} round{} in a row); retrying",
            if *rounds == 1 { "" } else { "s" }
        ),
        Event::Used(from, sample, Adjust::Slew(_)) => log::debug!(
            "NTP {}: offset {} ms, delay {} ms",
            from.ip(),
            millis(sample.offset_ns),
            millis(sample.delay_ns)
        ),
        Event::Used(from, sample, Adjust::Step(_)) => log::info!(
            "NTP {}: stratum {}, offset {}, delay {} ms",
            from.ip(),
            sample.stratum,
            seconds(sample.offset_ns),
            millis(sample.delay_ns)
        ),
    }
}

fn publish(
    status: &watch::Sender<TimeStatus>,
    configured: &[IpAddr],
    client: &Client,
    mono: &Mono,
    last_step: Option<(u64, f64)>,
) {
    let now = wall_ms();
    let st = client.status(mono.now_ms());
    let last = st.last;
    let new = TimeStatus {
        servers: configured.iter().map(IpAddr::to_string).collect(),
        synchronised: st.synchronised,
        server: last.map(|l| l.server.ip().to_string()),
        stratum: last.map(|l| l.sample.stratum),
        offset_ms: last.map(|l| millis(l.sample.offset_ns)),
        delay_ms: last.map(|l| millis(l.sample.delay_ns)),
        last_sync_ms: last.map(|l| now.saturating_sub(mono.now_ms() - l.at_ms)),
        last_step_ms: last_step.map(|s| s.0),
        last_step_by_ms: last_step.map(|s| s.1),
        problems: st
            .servers
            .iter()
            .filter_map(|(a, p)| Some(format!("{}: {}", a.ip(), p.as_ref()?)))
            .collect(),
    };
    // Times shift by milliseconds from call to call: compare what the reader sees.
    let changed = status.send_if_modified(|had| {
        let same = had.synchronised == new.synchronised
            && had.servers == new.servers
            && had.server == new.server
            && had.offset_ms == new.offset_ms
            && had.problems == new.problems
            && had.last_step_ms == new.last_step_ms
            && had.stratum == new.stratum;
        *had = new.clone();
        !same
    });
    if changed || !Path::new(paths::TIME).exists() {
        let text = serde_json::to_string(&new).unwrap_or_default();
        if let Err(e) = paths::write_atomic(Path::new(paths::TIME), text.as_bytes(), true) {
            log::warn!("{e}");
        }
    }
}
