//! `lvsfw run -f keepalived.conf`: the balancer's VRRP and LVS as an ordinary process,
//! outside the appliance (no PID 1 duties, no board, interface names used as they are).
//! Useful on a host, and how the namespace tests run lvsfw.

use std::path::PathBuf;
use std::process::ExitCode;

use netif::kernel::Kernel;
use tokio::signal::unix::{signal, SignalKind};

use crate::{alerts, bgp, lvs, vrrp};

pub const USAGE: &str = "lvsfw run -f FILE [--status FILE] [--bgp-status FILE] [--ipvs-owned FILE]";

struct Options {
    keepalived: PathBuf,
    status: PathBuf,
    bgp_status: PathBuf,
    ipvs_owned: PathBuf,
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut keepalived = None;
    let mut status = PathBuf::from(paths::VRRP_STATUS);
    let mut ipvs_owned = PathBuf::from(paths::IPVS_OWNED);
    let mut bgp_status = PathBuf::from(paths::BGP_STATUS);
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
            "--bgp-status" => bgp_status = value()?,
            "--ipvs-owned" => ipvs_owned = value()?,
            other => return Err(format!("unknown argument \"{other}\"; usage: {USAGE}")),
        }
    }
    let keepalived = keepalived.ok_or_else(|| format!("no configuration; usage: {USAGE}"))?;
    Ok(Options {
        keepalived,
        status,
        bgp_status,
        ipvs_owned,
    })
}

pub fn run(args: &[String]) -> ExitCode {
    crate::service::run("lvsfw", args, parse_args, serve)
}

async fn serve(options: Options) -> ExitCode {
    let (mut term, mut int, mut usr1, mut usr2) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::user_defined1()),
        signal(SignalKind::user_defined2()),
    ) {
        (Ok(t), Ok(i), Ok(u1), Ok(u2)) => (t, i, u1, u2),
        _ => {
            log::error!("cannot watch for SIGTERM");
            return ExitCode::FAILURE;
        }
    };
    let k = match crate::load_keepalived(&options.keepalived, None) {
        crate::Loaded::Config { config, notes } => {
            for note in notes {
                log::info!("note: {note}");
            }
            config
        }
        crate::Loaded::Absent => {
            log::error!("{}: no such file", options.keepalived.display());
            return ExitCode::FAILURE;
        }
        crate::Loaded::Invalid => return ExitCode::FAILURE,
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
    let (health_tx, health_rx) = tokio::sync::watch::channel(std::sync::Arc::default());
    if !k.virtual_servers.is_empty() {
        let ipvs = ipvs::Client::connect();
        if let Err(e) = &ipvs {
            log::warn!(
                "IPVS is not available in this kernel ({e}): the {} virtual servers are not set up{}",
                k.virtual_servers.len(),
                if k.bgp.is_some() {
                    "; their checks run for BGP"
                } else {
                    "; running VRRP alone"
                }
            );
        }
        // Without IPVS the checks still decide what BGP announces (a host test has no
        // IPVS); the worker says once that it cannot reach the kernel's table.
        if ipvs.is_ok() || k.bgp.is_some() {
            let worker = lvs::IpvsWorker::start(options.ipvs_owned.clone());
            tokio::spawn(lvs::run_reporting(
                plans_rx,
                worker,
                health_tx,
                alerts.clone(),
            ));
            let _ = plans.send(lvs::plan(&k).into()).await;
        }
    }
    let links = match vrrp::links(&kernel).await {
        Ok(links) => links,
        Err(e) => {
            log::error!("reading the interfaces: {e}");
            return ExitCode::FAILURE;
        }
    };
    let speaker = start_bgp(&k, &links, health_rx, options.bgp_status).await;
    let vrrp = vrrp::Vrrp::start(&k, &vrrp::HostNames(&links), options.status).await;
    tokio::spawn(alerts.follow_vrrp(vrrp.states()));
    if vrrp.is_empty() && !k.vrrp_instances.is_empty() {
        log::error!("no VRRP instance could start");
    }
    // Unlike the appliance's balancer, `run -f` does not retry: a host's operator sees
    // the errors and starts it again.
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = usr1.recv() => speaker.send(bgp::Msg::Drain(true)).await,
            _ = usr2.recv() => speaker.send(bgp::Msg::Drain(false)).await,
        }
    }
    log::info!("stopping");
    speaker.stop().await;
    vrrp.stop().await;
    drop(plans);
    ExitCode::SUCCESS
}

/// The BGP task, with the host's addresses standing in for the appliance's interfaces
/// (a neighbor's source address is the host's address in its subnet; the router id,
/// unless set, the first IPv4 address). A host's links count as up.
async fn start_bgp(
    k: &config::keepalived::Keepalived,
    links: &[vrrp::LinkInfo],
    health: tokio::sync::watch::Receiver<std::sync::Arc<Vec<lvs::ServerHealth>>>,
    status: PathBuf,
) -> bgp::Handle {
    let handle = bgp::Handle::start(health, status);
    let Some(b) = &k.bgp else {
        return handle;
    };
    let host = config::Config {
        interfaces: vec![config::Interface {
            role: config::Role::Ext,
            addresses: links
                .iter()
                .flat_map(|l| l.addresses.iter().copied())
                .collect(),
            mtu: None,
            accept_ra: false,
            vlan: None,
        }],
        ..config::Config::default()
    };
    match bgp::plan::plan(b, Some(&host)) {
        Ok(plan) => handle.send(bgp::Msg::Configure(Some(plan))).await,
        Err(problems) => {
            for p in problems {
                log::error!("{p}");
            }
        }
    }
    handle.send(bgp::Msg::Serving(true)).await;
    handle.send(bgp::Msg::Links(true)).await;
    handle
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
