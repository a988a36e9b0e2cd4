//! `lvsfw run -f keepalived.conf`: the balancer's VRRP and LVS as an ordinary process,
//! outside the appliance (no PID 1 duties, no board, interface names used as they are).
//! Useful on a host, and how the namespace tests run lvsfw.

use std::path::PathBuf;
use std::process::ExitCode;

use netif::kernel::Kernel;
use tokio::signal::unix::{signal, SignalKind};

use crate::balancer::{self, alerts, lvs, vrrp};

pub const USAGE: &str = "lvsfw run -f FILE [--status FILE] [--ipvs-owned FILE]";

struct Options {
    keepalived: PathBuf,
    status: PathBuf,
    ipvs_owned: PathBuf,
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut keepalived = None;
    let mut status = PathBuf::from(paths::VRRP_STATUS);
    let mut ipvs_owned = PathBuf::from(paths::IPVS_OWNED);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .map(PathBuf::from)
                .ok_or_else(|| format!("{arg} needs a file"))
        };
        match arg.as_str() {
            "-f" | "--use-file" => keepalived = Some(value()?),
            "--status" => status = value()?,
            "--ipvs-owned" => ipvs_owned = value()?,
            other => return Err(format!("unknown argument \"{other}\"; usage: {USAGE}")),
        }
    }
    let keepalived = keepalived.ok_or_else(|| format!("no configuration; usage: {USAGE}"))?;
    Ok(Options {
        keepalived,
        status,
        ipvs_owned,
    })
}

pub fn run(args: &[String]) -> ExitCode {
    crate::service::run("lvsfw", args, parse_args, serve)
}

async fn serve(options: Options) -> ExitCode {
    let (mut term, mut int) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(t), Ok(i)) => (t, i),
        _ => {
            log::error!("cannot watch for SIGTERM");
            return ExitCode::FAILURE;
        }
    };
    let k = match balancer::load_keepalived(&options.keepalived, None) {
        balancer::Loaded::Config { config, notes } => {
            for note in notes {
                log::info!("note: {note}");
            }
            config
        }
        balancer::Loaded::Absent => {
            log::error!("{}: no such file", options.keepalived.display());
            return ExitCode::FAILURE;
        }
        balancer::Loaded::Invalid => return ExitCode::FAILURE,
    };
    let kernel = match Kernel::connect() {
        Ok(k) => k,
        Err(e) => {
            log::error!("rtnetlink: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Mail alerts as keepalived.conf's global_defs say, as in the balancer.
    let (mail, alerts) = alerts::start();
    mail.configure(&k);
    // Kept open for the life of the process, as in the balancer.
    let (plans, plans_rx) = tokio::sync::mpsc::channel(4);
    if !k.virtual_servers.is_empty() {
        match ipvs::Client::connect() {
            Ok(_) => {
                let worker = lvs::IpvsWorker::start(options.ipvs_owned.clone());
                tokio::spawn(lvs::run(plans_rx, worker, alerts.clone()));
                let _ = plans.send(lvs::plan(&k).into()).await;
            }
            Err(e) => log::warn!(
                "IPVS is not available in this kernel ({e}): the {} virtual servers are not set up; running VRRP alone",
                k.virtual_servers.len()
            ),
        }
    }
    let links = match vrrp::links(&kernel).await {
        Ok(links) => links,
        Err(e) => {
            log::error!("reading the interfaces: {e}");
            return ExitCode::FAILURE;
        }
    };
    let vrrp = vrrp::Vrrp::start(&k, &vrrp::HostNames(&links), options.status).await;
    tokio::spawn(alerts.follow_vrrp(vrrp.states()));
    if vrrp.is_empty() && !k.vrrp_instances.is_empty() {
        log::error!("no VRRP instance could start");
    }
    // Unlike the appliance's balancer, `run -f` does not retry: a host's operator sees
    // the errors and starts it again.
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    log::info!("stopping");
    vrrp.stop().await;
    drop(plans);
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments() {
        let args = |v: &[&str]| parse_args(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let o = args(&["-f", "/k.conf", "--status", "/tmp/s.json"]).unwrap();
        assert_eq!(o.keepalived, PathBuf::from("/k.conf"));
        assert_eq!(o.status, PathBuf::from("/tmp/s.json"));
        assert!(args(&[]).err().unwrap().starts_with("no configuration"));
        assert_eq!(args(&["-f"]).err().unwrap(), "-f needs a file");
    }
}
