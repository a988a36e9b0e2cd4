//! The last hour for the status page's charts: the kernel's IPVS counters read every
//! [`STEP_S`] seconds, and the VRRP instances' and real servers' transitions as they come.
//! The history itself (bounded, pure) is `web::history`; these tasks only feed it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use web::history::{real_server_key, History, Kind, Totals, Transition, STEP_S};

use super::lvs::ServerHealth;
use super::page::{endpoint, service_name};

pub type Shared = Arc<Mutex<History>>;

fn lock(history: &Shared) -> std::sync::MutexGuard<'_, History> {
    history.lock().unwrap_or_else(|p| p.into_inner())
}

fn now_ms() -> u64 {
    super::vrrp::status::unix_ms(std::time::SystemTime::now())
}

/// Every service's and real server's cumulative counters, as the kernel has them.
fn read_totals() -> Result<Vec<Totals>, String> {
    let mut client = ipvs::Client::connect().map_err(|e| e.to_string())?;
    let table = client.status().map_err(|e| e.to_string())?;
    let mut totals = Vec::new();
    for (service, dests) in table {
        let name = service_name(&service.service.key);
        for d in &dests {
            let s = &d.stats;
            totals.push(Totals {
                kind: Kind::RealServer,
                key: real_server_key(&name, &endpoint(d.destination.addr, d.destination.port)),
                conns: s.conns,
                bytes: s.in_bytes.saturating_add(s.out_bytes),
            });
        }
        let s = &service.stats;
        totals.push(Totals {
            kind: Kind::Service,
            key: name,
            conns: s.conns,
            bytes: s.in_bytes.saturating_add(s.out_bytes),
        });
    }
    Ok(totals)
}

/// Reads the counters every [`STEP_S`] seconds, for ever. A reading that fails (no IPVS
/// in the kernel) is a step without rows, said once.
pub async fn sample(history: Shared) {
    let mut ticker = tokio::time::interval(Duration::from_secs(STEP_S));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut previous: Option<Instant> = None;
    let mut said = false;
    loop {
        ticker.tick().await;
        // The netlink dump blocks; a table of 100,000 servers takes a while.
        let totals = match tokio::task::spawn_blocking(read_totals).await {
            Ok(Ok(totals)) => totals,
            Ok(Err(e)) => {
                if !said {
                    log::warn!("charts: cannot read the IPVS counters: {e}");
                    said = true;
                }
                Vec::new()
            }
            Err(_) => Vec::new(),
        };
        let now = Instant::now();
        let elapsed = previous.map_or(STEP_S as f64, |p| (now - p).as_secs_f64());
        previous = Some(now);
        lock(&history).observe(now_ms(), elapsed, totals);
    }
}

/// Notes the VRRP instances' state changes until `states` closes (the VRRP tasks
/// stopped; the next ones are followed by the next call).
pub async fn follow_vrrp(
    history: Shared,
    mut states: watch::Receiver<Vec<(String, ::status::VrrpState)>>,
) {
    let mut had: BTreeMap<String, ::status::VrrpState> = BTreeMap::new();
    loop {
        let now: BTreeMap<String, ::status::VrrpState> =
            states.borrow_and_update().iter().cloned().collect();
        for (name, state) in &now {
            if had.get(name) != Some(state) {
                lock(&history).transition(Transition {
                    at_ms: now_ms(),
                    what: "vrrp",
                    subject: name.clone(),
                    to: state.to_string(),
                });
            }
        }
        had = now;
        if states.changed().await.is_err() {
            return;
        }
    }
}

/// Notes real servers going up or down (checked ones only) for as long as the balancer
/// runs.
pub async fn follow_health(history: Shared, mut health: watch::Receiver<Arc<Vec<ServerHealth>>>) {
    let mut had: BTreeMap<String, bool> = BTreeMap::new();
    loop {
        let snapshot = health.borrow_and_update().clone();
        let mut now = BTreeMap::new();
        for h in snapshot.iter().filter(|h| h.checked) {
            let key = real_server_key(&service_name(&h.service), &endpoint(h.addr, h.port));
            // The first word is not a transition: a server is first known when its
            // service is configured.
            if had.get(&key).is_some_and(|&alive| alive != h.alive) {
                lock(&history).transition(Transition {
                    at_ms: now_ms(),
                    what: "health",
                    subject: key.clone(),
                    to: if h.alive { "up" } else { "down" }.into(),
                });
            }
            now.insert(key, h.alive);
        }
        had = now;
        if health.changed().await.is_err() {
            return;
        }
    }
}
