//! What the status page shows of the kernel and the process: the IPVS table with each
//! real server's check, the NICs, the balancer's memory.

use std::net::IpAddr;
use std::path::Path;

use web::backend::{Counters, InterfaceStatus, RealServerStatus, ServiceStatus};

use crate::lvs::ServerHealth;

fn read_number(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn counters(s: &ipvs::Stats) -> Counters {
    Counters::from(*s)
}

/// A service as the page and `ipvsadm` name it: `TCP 192.168.0.100:80`, `FWM 5`.
pub(crate) fn service_name(key: &ipvs::ServiceKey) -> String {
    key.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

pub(crate) fn endpoint(addr: IpAddr, port: u16) -> String {
    match addr {
        IpAddr::V6(a) => format!("[{a}]:{port}"),
        IpAddr::V4(a) => format!("{a}:{port}"),
    }
}

fn health_word(h: Option<&ServerHealth>) -> String {
    match h {
        Some(h) if h.checked && h.alive => "up",
        Some(h) if h.checked => "down",
        _ => "not checked",
    }
    .into()
}

/// The server as the page shows it: its health and the check result that explains it.
fn real_server(address: String, h: Option<&ServerHealth>) -> RealServerStatus {
    let last = h.and_then(|h| h.last.as_ref());
    RealServerStatus {
        address,
        health: health_word(h),
        last_check: last.map(|l| l.reason.clone()),
        last_check_ms: last.map(|l| crate::vrrp::status::unix_ms(l.at)),
        ..RealServerStatus::default()
    }
}

/// The kernel's IPVS table with each real server's check result; servers that are down
/// and removed (no inhibit_on_failure) are listed too.
pub(super) fn services(health: &[ServerHealth]) -> Result<Vec<ServiceStatus>, String> {
    let mut client = match ipvs::Client::connect() {
        Ok(c) => c,
        Err(ipvs::Error::Unavailable) => return Err("IPVS is not available in this kernel.".into()),
        Err(e) => return Err(format!("IPVS: {e}")),
    };
    let mut table = client.status().map_err(|e| format!("IPVS: {e}"))?;
    table.sort_by_key(|(s, _)| s.service.key);
    let mut out = Vec::new();
    for (service, mut dests) in table {
        let key = service.service.key;
        dests.sort_by_key(|d| (d.destination.addr, d.destination.port));
        let mut real_servers: Vec<RealServerStatus> = dests
            .iter()
            .map(|d| {
                let dest = &d.destination;
                let h = health
                    .iter()
                    .find(|h| h.service == key && h.addr == dest.addr && h.port == dest.port);
                RealServerStatus {
                    forward: dest.forward.name().into(),
                    weight: Some(dest.weight),
                    active_conns: d.active_conns,
                    inactive_conns: d.inactive_conns,
                    stats: counters(&d.stats),
                    ..real_server(endpoint(dest.addr, dest.port), h)
                }
            })
            .collect();
        for h in health.iter().filter(|h| h.service == key) {
            let held = dests
                .iter()
                .any(|d| d.destination.addr == h.addr && d.destination.port == h.port);
            if !held {
                real_servers.push(real_server(endpoint(h.addr, h.port), Some(h)));
            }
        }
        out.push(ServiceStatus {
            name: service_name(&key),
            scheduler: service.service.scheduler.clone(),
            persistence_timeout: service.service.persistence_timeout,
            stats: counters(&service.stats),
            real_servers,
        });
    }
    Ok(out)
}

/// Every NIC but lo: its state, addresses and counters from sysfs and getifaddrs.
pub(super) fn interfaces() -> Vec<InterfaceStatus> {
    let class = Path::new("/sys/class/net");
    let mut names: Vec<String> = std::fs::read_dir(class)
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n != "lo")
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let addresses: Vec<(String, String)> = nix::ifaddrs::getifaddrs()
        .map(|all| {
            all.filter_map(|a| {
                let addr = a.address.as_ref()?;
                let mask = a.netmask.as_ref();
                let (ip, len) = if let Some(v4) = addr.as_sockaddr_in() {
                    let len = mask
                        .and_then(|m| m.as_sockaddr_in())
                        .map(|m| u32::from(m.ip()).count_ones())
                        .unwrap_or(32);
                    (IpAddr::V4(v4.ip()), len)
                } else if let Some(v6) = addr.as_sockaddr_in6() {
                    let len = mask
                        .and_then(|m| m.as_sockaddr_in6())
                        .map(|m| u128::from(m.ip()).count_ones())
                        .unwrap_or(128);
                    (IpAddr::V6(v6.ip()), len)
                } else {
                    return None;
                };
                Some((a.interface_name, format!("{ip}/{len}")))
            })
            .collect()
        })
        .unwrap_or_default();
    names
        .into_iter()
        .map(|name| {
            let dir = class.join(&name);
            let text = |file: &str| {
                std::fs::read_to_string(dir.join(file))
                    .map(|t| t.trim().to_string())
                    .unwrap_or_default()
            };
            InterfaceStatus {
                state: text("operstate"),
                mac: text("address"),
                mtu: text("mtu").parse().ok(),
                addresses: addresses
                    .iter()
                    .filter(|(n, _)| *n == name)
                    .map(|(_, a)| a.clone())
                    .collect(),
                rx_bytes: read_number(&dir.join("statistics/rx_bytes")).unwrap_or(0),
                tx_bytes: read_number(&dir.join("statistics/tx_bytes")).unwrap_or(0),
                name,
            }
        })
        .collect()
}

pub(super) fn rss_kb() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
