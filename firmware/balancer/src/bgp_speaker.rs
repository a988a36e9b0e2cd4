//! `lvsfw bgp-speaker`: one announce-only BGP session as an ordinary process, for host
//! tests against real routers (FRR, BIRD) until the balancer runs the speaker from its
//! configuration. Not in the usage: a test and debugging tool.
//!
//! SIGUSR1 withdraws every prefix (after the graceful-shutdown wait when one is set),
//! SIGUSR2 announces them again, SIGTERM or SIGINT ends the session with
//! Cease/Administrative Shutdown and exits.

use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

use bgp::{Prefix, Settings};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use crate::bgp_peer::{self, Command, Peer};

pub const USAGE: &str = "lvsfw bgp-speaker --peer ADDRESS --remote-as N --local-as N \
[--local-address A] [--router-id A] [--port N] [--hold-time S] [--keepalive S] \
[--connect-retry S] [--idle-hold S] [--graceful-shutdown S] [--next-hop-v6 A] \
[--password KEY] PREFIX...";

struct Options {
    peer: Peer,
    prefixes: Vec<Prefix>,
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut peer: Option<IpAddr> = None;
    let (mut remote_as, mut local_as) = (None, None);
    let (mut local, mut router_id, mut next_hop_v6) = (None, None, None);
    let mut port = bgp_peer::PORT;
    let mut password = None;
    let mut numbers: Vec<(&str, u64)> = Vec::new();
    let mut prefixes = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{arg} needs a value; usage: {USAGE}"))
        };
        let address = |v: &str| {
            v.parse::<IpAddr>()
                .map_err(|_| format!("{arg}: {v:?} is not an address"))
        };
        let number = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("{arg}: {v:?} is not a number"))
        };
        match arg.as_str() {
            "--peer" => peer = Some(address(value()?)?),
            "--local-address" => local = Some(address(value()?)?),
            "--router-id" => router_id = Some(address(value()?)?),
            "--next-hop-v6" => next_hop_v6 = Some(address(value()?)?),
            "--remote-as" => remote_as = Some(number(value()?)?),
            "--local-as" => local_as = Some(number(value()?)?),
            // TCP-MD5 (RFC 2385), checked as the config's `password`; a test tool's
            // argument (visible in /proc), never logged.
            "--password" => {
                password = Some(
                    config::keepalived::Md5Password::new(value()?)
                        .map_err(|why| format!("--password: {why}"))?,
                )
            }
            "--port" => {
                port = u16::try_from(number(value()?)?).map_err(|_| format!("{arg}: not a port"))?
            }
            "--hold-time"
            | "--keepalive"
            | "--connect-retry"
            | "--idle-hold"
            | "--graceful-shutdown" => numbers.push((arg.as_str(), number(value()?)?)),
            a if a.starts_with('-') => {
                return Err(format!("unknown argument \"{a}\"; usage: {USAGE}"))
            }
            p => prefixes.push(
                p.parse::<Prefix>()
                    .map_err(|e| format!("prefix {p:?}: {e}"))?,
            ),
        }
    }
    let peer = peer.ok_or_else(|| format!("no --peer; usage: {USAGE}"))?;
    let as_number = |v: Option<u64>, name: &str| {
        v.and_then(|v| u32::try_from(v).ok())
            .filter(|&v| v != 0)
            .ok_or_else(|| format!("{name} needs an AS number from 1 to 4294967295"))
    };
    let remote_as = as_number(remote_as, "--remote-as")?;
    let local_as = as_number(local_as, "--local-as")?;
    let router_id = match router_id.or(local) {
        Some(IpAddr::V4(id)) => id,
        _ => {
            return Err(
                "--router-id needs an IPv4 address (or give an IPv4 --local-address)".into(),
            )
        }
    };
    let session_addr =
        local.ok_or("--local-address is needed: it is the NEXT_HOP of what is announced")?;
    let mut settings = Settings::new(local_as, remote_as, router_id, session_addr);
    settings.next_hop_v6 = match next_hop_v6 {
        Some(IpAddr::V6(a)) => Some(a),
        Some(IpAddr::V4(a)) => return Err(format!("--next-hop-v6: {a} is not IPv6")),
        None => None,
    };
    for (name, v) in numbers {
        let secs = Duration::from_secs(v);
        match name {
            "--hold-time" => {
                settings.hold_time = u16::try_from(v)
                    .ok()
                    .filter(|&h| h == 0 || h >= 3)
                    .ok_or("--hold-time must be 0 or 3 to 65535 seconds (RFC 4271 §4.2)")?
            }
            "--keepalive" => {
                settings.keepalive = Some(u16::try_from(v).map_err(|_| "--keepalive: too large")?)
            }
            "--connect-retry" => settings.connect_retry = secs.max(Duration::from_secs(1)),
            "--idle-hold" => settings.idle_hold = secs,
            _ => settings.graceful_shutdown = secs,
        }
    }
    Ok(Options {
        peer: Peer {
            address: peer,
            port,
            local,
            settings,
            password,
            bfd: None,
        },
        prefixes,
    })
}

pub fn run(args: &[String]) -> ExitCode {
    crate::service::run("bgp", args, parse_args, serve)
}

async fn serve(options: Options) -> ExitCode {
    let (Ok(mut term), Ok(mut int), Ok(mut usr1), Ok(mut usr2)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::user_defined1()),
        signal(SignalKind::user_defined2()),
    ) else {
        log::error!("cannot watch for signals");
        return ExitCode::FAILURE;
    };
    let (tx, rx) = mpsc::channel(16);
    log::info!(
        "speaking BGP to {} port {} (AS {} to AS {}), announcing {}",
        options.peer.address,
        options.peer.port,
        options.peer.settings.local_as,
        options.peer.settings.remote_as,
        options
            .prefixes
            .iter()
            .map(Prefix::to_string)
            .collect::<Vec<_>>()
            .join(" "),
    );
    for p in &options.prefixes {
        let _ = tx.send(Command::Announce(*p)).await;
    }
    let prefixes = options.prefixes.clone();
    // Nobody reads the status here: the log says what happens.
    let (status, _) = tokio::sync::watch::channel(bgp_peer::PeerStatus::new());
    let task = tokio::spawn(bgp_peer::run(options.peer, rx, status));
    loop {
        let commands: Vec<Command> = tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = usr1.recv() => {
                log::info!("SIGUSR1: withdrawing {} prefixes", prefixes.len());
                prefixes.iter().map(|p| Command::Withdraw(*p)).collect()
            }
            _ = usr2.recv() => {
                log::info!("SIGUSR2: announcing {} prefixes", prefixes.len());
                prefixes.iter().map(|p| Command::Announce(*p)).collect()
            }
        };
        for c in commands {
            let _ = tx.send(c).await;
        }
    }
    log::info!("stopping");
    let _ = tx.send(Command::Stop).await;
    let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Result<Options, String> {
        parse_args(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn arguments() {
        let o = args(&[
            "--peer",
            "10.0.0.1",
            "--remote-as",
            "65001",
            "--local-as",
            "4200000000",
            "--local-address",
            "10.0.0.2",
            "--hold-time",
            "9",
            "--graceful-shutdown",
            "3",
            "192.0.2.10/32",
            "2001:db8::10",
        ])
        .unwrap();
        assert_eq!(o.peer.settings.router_id.to_string(), "10.0.0.2");
        assert_eq!(o.peer.settings.hold_time, 9);
        assert_eq!(o.peer.settings.graceful_shutdown, Duration::from_secs(3));
        assert_eq!(o.prefixes.len(), 2);
        let base = [
            "--peer",
            "10.0.0.1",
            "--remote-as",
            "65001",
            "--local-as",
            "65002",
            "--local-address",
            "10.0.0.2",
        ];
        let with = |extra: &[&str]| args(&[&base[..], extra].concat());
        assert!(with(&["--hold-time", "2"])
            .err()
            .unwrap()
            .contains("RFC 4271"));
        assert!(with(&["192.0.2.1/24"]).err().unwrap().contains("host bits"));
        let key = with(&["--password", "s3cret"]).unwrap().peer.password;
        assert_eq!(key.unwrap().reveal(), "s3cret");
        let e = with(&["--password", &"k".repeat(81)]).err().unwrap();
        assert!(e.contains("--password: is 81 bytes long"), "{e}");
        assert!(!e.contains("kkk"), "{e}");
        assert!(
            args(&["--peer", "10.0.0.1", "--remote-as", "0", "--local-as", "1"])
                .err()
                .unwrap()
                .contains("--remote-as")
        );
    }
}
