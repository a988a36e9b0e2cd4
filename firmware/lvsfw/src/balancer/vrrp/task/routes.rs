//! A member's `virtual_routes` and `virtual_rules`: in the kernel while it is MASTER,
//! as its VIPs are (keepalived's vrrp_handle_iproutes / vrrp_handle_iprules).

use netif::routes::{plan, Plan};

use super::GroupTask;

impl GroupTask {
    /// Adds what of the member's routes and rules the kernel lacks.
    pub(super) async fn add_routes(&self, i: usize) {
        let m = &self.members[i].spec;
        if m.routes.is_empty() && m.rules.is_empty() {
            return;
        }
        let Some((routes, rules)) = self.plans(i, true).await else {
            return;
        };
        for r in &routes.add {
            if let Err(e) = self.kernel.add_route(r).await {
                log::error!("{}: virtual_routes: {e}", m.name);
            }
        }
        for r in &rules.add {
            if let Err(e) = self.kernel.add_rule(r).await {
                log::error!("{}: virtual_rules: {e}", m.name);
            }
        }
    }

    /// Removes the member's routes and rules the kernel has; nothing else.
    pub(super) async fn remove_routes(&self, i: usize) {
        let m = &self.members[i].spec;
        if m.routes.is_empty() && m.rules.is_empty() {
            return;
        }
        let Some((routes, rules)) = self.plans(i, false).await else {
            return;
        };
        for r in &rules.remove {
            if let Err(e) = self.kernel.del_rule(r).await {
                log::error!("{}: virtual_rules: {e}", m.name);
            }
        }
        for r in &routes.remove {
            if let Err(e) = self.kernel.del_route(r).await {
                log::error!("{}: virtual_routes: {e}", m.name);
            }
        }
    }

    /// What adding (`master`) or removing the member's routes and rules takes now.
    async fn plans(
        &self,
        i: usize,
        master: bool,
    ) -> Option<(
        Plan<netif::routes::RouteSpec>,
        Plan<netif::routes::RuleSpec>,
    )> {
        let m = &self.members[i].spec;
        let installed = match self.kernel.read_installed().await {
            Ok(installed) => installed,
            Err(e) => {
                log::error!("{}: {e}", m.name);
                return None;
            }
        };
        let (routes, rules) = if master {
            (
                plan(&m.routes, &installed.routes, &[]),
                plan(&m.rules, &installed.rules, &[]),
            )
        } else {
            (
                plan(&[], &installed.routes, &m.routes),
                plan(&[], &installed.rules, &m.rules),
            )
        };
        Some((routes, rules))
    }
}
