//! The virtual services: health checks feed the real servers' health, which with the
//! plan gives the IPVS table, which a worker thread reconciles with the kernel.

mod from_config;
mod plan;
mod worker;

pub use from_config::plan;
pub use plan::{CheckId, HealthBook, Plan, ServerHealth};
pub use worker::{pass, IpvsWorker};

use std::sync::Arc;

use checks::{Handle, Health, Limits, Report, Scheduler};
use tokio::sync::{mpsc, watch};

/// Health reports waiting to be applied before the checks wait.
const REPORT_QUEUE: usize = 4096;

/// Runs the checks of `plan` and keeps the kernel's table in step with their results,
/// until `plans` closes. A new plan on `plans` replaces the old one (a reload): checks
/// of servers that stay keep their state, the table changes only where it must.
pub async fn run(plans: mpsc::Receiver<Plan>, worker: IpvsWorker) {
    run_reporting(plans, worker, watch::channel(Arc::default()).0).await
}

/// [`run`], publishing every real server's check result on `health` whenever one
/// changes (the web page shows it).
pub async fn run_reporting(
    mut plans: mpsc::Receiver<Plan>,
    worker: IpvsWorker,
    health_tx: watch::Sender<Arc<Vec<ServerHealth>>>,
) {
    let (scheduler, handle) = Scheduler::<CheckId>::new(Limits::default());
    let (reports_tx, mut reports) = mpsc::channel::<Report<CheckId>>(REPORT_QUEUE);
    tokio::spawn(scheduler.run(reports_tx));
    let mut plan = Plan::default();
    let mut health = HealthBook::default();
    loop {
        tokio::select! {
            next = plans.recv() => {
                let Some(next) = next else { break };
                apply_plan(&handle, &plan, &next, &mut health).await;
                plan = next;
            }
            report = reports.recv() => {
                let Some(report) = report else { break };
                let up = report.health == Health::Up;
                log::info!("real server {}:{} of {}: {} ({})",
                    report.id.addr, report.id.port, report.id.service,
                    if up { "up" } else { "down" }, report.reason);
                health.set(report.id, up);
                // Drain what else has arrived, so a burst makes one table, not many.
                while let Ok(more) = reports.try_recv() {
                    health.set(more.id, more.health == Health::Up);
                }
            }
        }
        worker.submit(plan.desired(&mut health));
        health_tx.send_replace(Arc::new(health.snapshot(&plan)));
    }
}

async fn apply_plan(handle: &Handle<CheckId>, old: &Plan, new: &Plan, health: &mut HealthBook) {
    let old_ids: Vec<CheckId> = old.check_ids().into_iter().map(|(id, _)| id).collect();
    let new_checks = new.check_ids();
    for id in old_ids
        .iter()
        .filter(|id| !new_checks.iter().any(|(n, _)| n == *id))
    {
        if let Err(e) = handle.remove(*id).await {
            log::error!("health checks: {e}");
        }
    }
    for (id, spec) in new_checks {
        if spec.timing.alpha && !old_ids.contains(&id) {
            health.start_down(id);
        }
        if let Err(e) = handle.set(id, spec.clone()).await {
            log::error!("health check of {}:{}: {e}", id.addr, id.port);
        }
    }
    health.retain(new);
}
