//! The virtual services: health checks feed the real servers' health, which with the
//! plan gives the IPVS table, which a worker thread reconciles with the kernel.

mod from_config;
mod plan;
pub mod source_nat;
mod timeouts;
pub mod vs_sysctls;
mod worker;

pub use from_config::{plan, script_check};
#[cfg(test)]
pub use plan::LastCheck;
pub use plan::{CheckId, HealthBook, Plan, QuorumChange, ServerHealth};
pub use timeouts::set as set_timeouts;
pub use worker::{pass, IpvsWorker};

use std::net::SocketAddr;
use std::sync::Arc;

use checks::{Handle, Health, Limits, Report, Scheduler};

use super::alerts::{Alerts, CheckerChange};
use tokio::sync::{mpsc, oneshot, watch};

/// A plan to put in service; `done`, when given, hears what did not work once the
/// kernel's table was reconciled with it (nothing: everything did).
pub struct Apply {
    pub plan: Plan,
    pub done: Option<oneshot::Sender<Vec<String>>>,
}

impl From<Plan> for Apply {
    fn from(plan: Plan) -> Apply {
        Apply { plan, done: None }
    }
}

/// Health reports waiting to be applied before the checks wait.
const REPORT_QUEUE: usize = 4096;

/// Runs the checks of `plan` and keeps the kernel's table in step with their results,
/// until `plans` closes, publishing every real server's check result on `health`
/// whenever one changes (the web page and BGP follow it). A new plan on `plans` replaces
/// the old one (a reload): checks of servers that stay keep their state, the table
/// changes only where it must.
pub async fn run_reporting(
    mut plans: mpsc::Receiver<Apply>,
    worker: IpvsWorker,
    health_tx: watch::Sender<Arc<Vec<ServerHealth>>>,
    alerts: Alerts,
) {
    let (scheduler, handle) = Scheduler::<CheckId>::new(Limits::default());
    let (reports_tx, mut reports) = mpsc::channel::<Report<CheckId>>(REPORT_QUEUE);
    tokio::spawn(scheduler.run(reports_tx));
    let mut plan = Plan::default();
    let mut health = HealthBook::default();
    loop {
        tokio::select! {
            next = plans.recv() => {
                let Some(Apply { plan: next, done }) = next else { break };
                let problems = apply_plan(&handle, &plan, &next, &mut health).await;
                plan = next;
                let table = plan.desired(&mut health);
                match done {
                    Some(done) => worker.submit_reporting(table, worker::Report { problems, done }),
                    None => worker.submit(table),
                }
            }
            report = reports.recv() => {
                let Some(report) = report else { break };
                let up = report.health == Health::Up;
                // A first result that confirms the starting state is for the status only.
                if report.changed {
                    // SocketAddr writes an IPv6 address in brackets.
                    log::info!("real server {} of {}: {} ({})",
                        SocketAddr::new(report.id.addr, report.id.port), report.id.service,
                        if up { "up" } else { "down" }, report.reason);
                }
                take(&mut health, &plan, &alerts, report);
                // Drain what else has arrived, so a burst makes one table, not many.
                while let Ok(more) = reports.try_recv() {
                    take(&mut health, &plan, &alerts, more);
                }
                worker.submit(plan.desired(&mut health));
            }
        }
        for change in health.take_quorum_changes() {
            alerts.quorum(&change);
        }
        health_tx.send_replace(Arc::new(health.snapshot(&plan)));
    }
}

/// A checker's result into the book; its change mailed when keepalived would (the
/// alert only goes into a queue: this never waits for mail).
fn take(health: &mut HealthBook, plan: &Plan, alerts: &Alerts, report: Report<CheckId>) {
    let id = report.id;
    let up = report.health == Health::Up;
    let Some(rs) = plan.real_server(id) else {
        health.set(id, up, report.reason);
        return;
    };
    let checker_was_up = health.checker_up(id);
    let alive_before = health.alive(id.service, rs);
    health.set(id, up, report.reason.clone());
    let change = CheckerChange {
        service: id.service,
        addr: id.addr,
        port: id.port,
        checker_was_up,
        checker_up: up,
        alive_before,
        alive: health.alive(id.service, rs),
        found: report.reason,
    };
    alerts.checker(rs.smtp_alert, &change);
}

/// Puts the checks of `new` in place of those of `old`; what could not be (the checker
/// refused a check, or has stopped).
async fn apply_plan(
    handle: &Handle<CheckId>,
    old: &Plan,
    new: &Plan,
    health: &mut HealthBook,
) -> Vec<String> {
    let mut problems = Vec::new();
    let old_ids: Vec<CheckId> = old.check_ids().into_iter().map(|(id, _)| id).collect();
    let new_checks = new.check_ids();
    for id in old_ids
        .iter()
        .filter(|id| !new_checks.iter().any(|(n, _)| n == *id))
    {
        if let Err(e) = handle.remove(*id).await {
            log::error!("health checks: {e}");
            problems.push(format!("health checks: {e}"));
        }
    }
    for (id, spec) in new_checks {
        if spec.timing.alpha && !old_ids.contains(&id) {
            health.start_down(id);
        }
        if let Err(e) = handle.set(id, spec.clone()).await {
            log::error!("health check of {}: {e}", SocketAddr::new(id.addr, id.port));
            problems.push(format!(
                "health check of {}:{}: not running: {e}",
                id.addr, id.port
            ));
        }
    }
    health.retain(new);
    problems
}
