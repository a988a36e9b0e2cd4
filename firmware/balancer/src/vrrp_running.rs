//! The balancer's VRRP tasks: started from keepalived.conf, restarted only when their
//! part of it changed, retried while some could not start, stopped in order.

use super::*;

/// The VRRP tasks and the part of keepalived.conf they were started from.
pub(super) struct VrrpRunning {
    pub(super) running: Option<(vrrp::Vrrp, VrrpConfig)>,
    /// Where their state changes are mailed from.
    pub(super) alerts: alerts::Alerts,
    /// Where their transitions are drawn from.
    pub(super) charts: history::Shared,
}

/// What the VRRP tasks depend on (mail keywords aside): a reload that leaves it alone
/// leaves them alone.
type VrrpConfig = (
    (
        config::keepalived::GlobalDefs,
        Vec<config::keepalived::VrrpInstance>,
        Vec<config::keepalived::SyncGroup>,
    ),
    Vec<config::keepalived::VrrpScript>,
    // The bgp block's connection sync, which runs beside the instances (or alone).
    Option<config::keepalived::GroupSync>,
);

impl VrrpRunning {
    /// Runs the instances of `k`: on a reload that changed their part of the file, all
    /// restart (masters step down with priority 0, all start as backup); otherwise only
    /// those that could not start before are tried again.
    pub(super) async fn apply(
        &mut self,
        k: &config::keepalived::Keepalived,
        kernel: &Kernel,
        board: Option<&board::Board>,
        config: Option<&Config>,
    ) {
        let group_sync = k.bgp.as_ref().and_then(|b| b.lvs_sync_daemon.clone());
        let wanted = (
            alerts::vrrp::without_mail(k),
            k.vrrp_scripts.clone(),
            group_sync,
        );
        let same = self.running.as_ref().is_some_and(|(_, had)| *had == wanted);
        if !same {
            if let Some((old, _)) = self.running.take() {
                log::info!("VRRP configuration changed: restarting the instances");
                old.stop().await;
            }
            if k.vrrp_instances.is_empty() && wanted.2.is_none() {
                return;
            }
            let running = vrrp::Vrrp::new(paths::VRRP_STATUS.into());
            tokio::spawn(self.alerts.clone().follow_vrrp(running.states()));
            tokio::spawn(history::follow_vrrp(self.charts.clone(), running.states()));
            self.running = Some((running, wanted));
        }
        let Some((running, _)) = self.running.as_mut() else {
            return;
        };
        if same && !running.incomplete() {
            return;
        }
        // On the appliance keepalived.conf names interfaces by role (ext, int, mgmt);
        // the board says which NIC each role is.
        let links = vrrp::links(kernel).await.unwrap_or_else(|e| {
            log::error!("VRRP: {e}");
            Vec::new()
        });
        let names = vrrp::RoleNames {
            board,
            config,
            links: &links,
            class_net: Path::new("/sys/class/net"),
        };
        running.reconcile(k, &names).await;
    }

    pub(super) fn incomplete(&self) -> bool {
        self.running.as_ref().is_some_and(|(v, _)| v.incomplete())
    }

    pub(super) fn problems(&self) -> Vec<String> {
        self.running
            .as_ref()
            .map(|(v, _)| v.problems())
            .unwrap_or_default()
    }

    pub(super) async fn stop(&mut self) {
        if let Some((running, _)) = self.running.take() {
            running.stop().await;
        }
    }
}
