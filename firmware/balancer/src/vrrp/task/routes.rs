//! A member's `virtual_routes` and `virtual_rules`: in the kernel while it is MASTER,
//! as its VIPs are (keepalived's vrrp_handle_iproutes / vrrp_handle_iprules).
//!
//! They are added and removed one by one, without reading the kernel's tables first:
//! this runs before a new master's first advert, and a box with a large routing table
//! would take long to list it. Only a refusal is looked into.

use netif::routes::{route_words, rule_words, Matches};

use super::GroupTask;

/// What the kernel answers for a route or rule it already has, and one it has not.
const EEXIST: i32 = 17;
const ENOENT: i32 = 2;
const ESRCH: i32 = 3;

impl GroupTask {
    /// Adds the member's routes and rules; one already there as wanted is fine.
    pub(super) async fn add_routes(&self, i: usize) {
        let m = &self.members[i].spec;
        let mut clashes = Vec::new();
        for r in &m.routes {
            match self.kernel.add_route(r).await {
                Ok(()) => {}
                Err(e) if e.errno() == Some(EEXIST) => clashes.push(r),
                Err(e) => log::error!("{}: virtual_routes: {e}", m.name),
            }
        }
        let mut rule_clashes = Vec::new();
        for r in &m.rules {
            match self.kernel.add_rule(r).await {
                Ok(()) => {}
                Err(e) if e.errno() == Some(EEXIST) => rule_clashes.push(r),
                Err(e) => log::error!("{}: virtual_rules: {e}", m.name),
            }
        }
        if clashes.is_empty() && rule_clashes.is_empty() {
            return;
        }
        // Ours from before (a restart as master), or another one in its place, which
        // stays: only what lvsfw installed is ever replaced or removed.
        let to: Vec<config::IpPrefix> = clashes.iter().map(|r| r.to).collect();
        let listed = self.kernel.read_installed_to(|r| to.contains(&r.to)).await;
        let Ok(installed) = listed else {
            return;
        };
        for r in clashes {
            if !installed.routes.iter().any(|a| r.matches(a)) {
                log::error!(
                    "{}: virtual_routes: the kernel has another route where {} goes; it stays",
                    m.name,
                    route_words(r)
                );
            }
        }
        for r in rule_clashes {
            if !installed.rules.iter().any(|a| r.matches(a)) {
                log::error!(
                    "{}: virtual_rules: the kernel has another rule like {}; it stays",
                    m.name,
                    rule_words(r)
                );
            }
        }
    }

    /// Removes the member's routes and rules, as they were installed (the kernel
    /// removes only one that matches); one that is not there is fine.
    pub(super) async fn remove_routes(&self, i: usize) {
        let m = &self.members[i].spec;
        for r in &m.rules {
            match self.kernel.del_rule(r).await {
                Ok(()) => {}
                Err(e) if matches!(e.errno(), Some(ENOENT | ESRCH)) => {}
                Err(e) => log::error!("{}: virtual_rules: {e}", m.name),
            }
        }
        for r in &m.routes {
            match self.kernel.del_route(r).await {
                Ok(()) => {}
                Err(e) if matches!(e.errno(), Some(ENOENT | ESRCH)) => {}
                Err(e) => log::error!("{}: virtual_routes: {e}", m.name),
            }
        }
    }
}
