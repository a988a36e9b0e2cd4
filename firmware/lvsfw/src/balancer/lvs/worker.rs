//! The IPVS worker: a thread of its own with a netlink client, reconciling the kernel's
//! table with the newest desired table it was given. Submitting never blocks; tables
//! that arrive while it works are coalesced into the newest.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::mpsc as std_mpsc;

use ipvs::{Client, ServiceKey, Table};

/// How soon a pass that failed is tried again.
const RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(5);

pub struct IpvsWorker {
    tables: std_mpsc::Sender<Table>,
}

impl IpvsWorker {
    /// Starts the worker thread. `owned_path` records which services lvsfw made, so that
    /// a restarted balancer removes its stale ones and leaves an operator's alone.
    pub fn start(owned_path: PathBuf) -> IpvsWorker {
        let (tables, incoming) = std_mpsc::channel::<Table>();
        std::thread::Builder::new()
            .name("ipvs".into())
            .spawn(move || work(incoming, owned_path))
            .expect("spawning the IPVS worker thread");
        IpvsWorker { tables }
    }

    pub fn submit(&self, table: Table) {
        let _ = self.tables.send(table);
    }
}

fn work(incoming: std_mpsc::Receiver<Table>, owned_path: PathBuf) {
    let mut client: Option<Client> = None;
    let mut unavailable_said = false;
    let mut owned = load_owned(&owned_path);
    let mut first = true;
    let mut last: Option<Table> = None;
    let mut retry = false;
    loop {
        // After a failed pass, the same table is tried again when nothing newer comes.
        let received = if retry {
            incoming
                .recv_timeout(RETRY_AFTER)
                .map_err(|e| e == std_mpsc::RecvTimeoutError::Disconnected)
        } else {
            incoming.recv().map_err(|_| true)
        };
        let mut desired = match (received, last.take()) {
            (Ok(table), _) => table,
            (Err(false), Some(previous)) => previous,
            _ => return,
        };
        while let Ok(newer) = incoming.try_recv() {
            desired = newer;
        }
        retry = true;
        if client.is_none() {
            match Client::connect() {
                Ok(c) => client = Some(c),
                Err(ipvs::Error::Unavailable) => {
                    if !unavailable_said {
                        log::warn!("IPVS is not available in this kernel: virtual services are not programmed");
                        unavailable_said = true;
                    }
                    retry = false;
                    continue;
                }
                Err(e) => {
                    log::error!("IPVS: {e}");
                    last = Some(desired);
                    continue;
                }
            }
        }
        let Some(c) = client.as_mut() else { continue };
        let actual = match c.table() {
            Ok(t) => t,
            Err(e) => {
                log::error!("IPVS: {e}");
                client = None;
                last = Some(desired);
                continue;
            }
        };
        if first {
            for key in actual.services.keys() {
                if !desired.services.contains_key(key) && !owned.contains(key) {
                    log::warn!("IPVS service {key} is not lvsfw's; left as it is");
                }
            }
            first = false;
        }
        let is_owned = |key: &ServiceKey| owned.contains(key);
        let ops = ipvs::reconcile(&desired, &actual, &is_owned);
        let mut failed = 0;
        for op in &ops {
            if let Err(e) = c.apply(op) {
                log::error!("IPVS: {e}");
                failed += 1;
            }
        }
        if !ops.is_empty() {
            log::info!(
                "IPVS: {} changes applied{}",
                ops.len() - failed,
                if failed > 0 {
                    format!(", {failed} failed")
                } else {
                    String::new()
                }
            );
        }
        owned = desired.services.keys().copied().collect();
        save_owned(&owned_path, &owned);
        retry = failed > 0;
        last = Some(desired);
    }
}

/// The record is one service key a line, in its Display form.
fn load_owned(path: &PathBuf) -> BTreeSet<ServiceKey> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return BTreeSet::new();
    };
    text.lines().filter_map(parse_key).collect()
}

fn save_owned(path: &PathBuf, owned: &BTreeSet<ServiceKey>) {
    let text: String = owned.iter().map(|k| format!("{}\n", key_text(k))).collect();
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let tmp = path.with_extension("tmp");
    if std::fs::write(&tmp, text)
        .and_then(|_| std::fs::rename(&tmp, path))
        .is_err()
    {
        log::warn!("{}: not written", path.display());
    }
}

fn key_text(key: &ServiceKey) -> String {
    match key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => format!("{} {addr} {port}", protocol.name()),
        ServiceKey::Fwmark { ipv6, mark } => {
            format!("FWM {mark} {}", if *ipv6 { "v6" } else { "v4" })
        }
    }
}

fn parse_key(line: &str) -> Option<ServiceKey> {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["FWM", mark, family] => Some(ServiceKey::Fwmark {
            ipv6: *family == "v6",
            mark: mark.parse().ok()?,
        }),
        [protocol, addr, port] => Some(ServiceKey::Addr {
            protocol: match *protocol {
                "TCP" => ipvs::Protocol::Tcp,
                "UDP" => ipvs::Protocol::Udp,
                "SCTP" => ipvs::Protocol::Sctp,
                _ => return None,
            },
            addr: addr.parse().ok()?,
            port: port.parse().ok()?,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_keys_round_trip_through_their_text() {
        let keys = [
            ServiceKey::Addr {
                protocol: ipvs::Protocol::Tcp,
                addr: "192.168.0.100".parse().unwrap(),
                port: 80,
            },
            ServiceKey::Addr {
                protocol: ipvs::Protocol::Sctp,
                addr: "fd00::100".parse().unwrap(),
                port: 9,
            },
            ServiceKey::Fwmark {
                ipv6: true,
                mark: 7,
            },
        ];
        for key in keys {
            assert_eq!(parse_key(&key_text(&key)), Some(key));
        }
        assert_eq!(parse_key("garbage"), None);
    }
}
