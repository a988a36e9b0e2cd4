//! keepalived's `static_ipaddress`, `static_routes` and `static_rules`: installed at
//! start whatever the VRRP state, and kept by every pass of the interfaces (one taken
//! away is put back; a reload's changes are applied, the lines it dropped removed).

use std::path::Path;

use config::keepalived::Keepalived;
use config::{Config, Role};
use netif::kernel::Kernel;
use netif::routes::{plan, RouteSpec, RuleSpec};
use netif::{Desired, Owned};

use crate::routes;
use crate::vrrp::{LinkInfo, RoleNames};
use config::board::Board;

/// Adds each `static_ipaddress` line to the link of its `dev` role, as the operator's
/// own addresses are; the problems of lines that name no usable role.
pub(super) fn addresses(k: &Keepalived, desired: &mut Desired) -> Vec<String> {
    let mut problems = Vec::new();
    for a in &k.static_ipaddress {
        let line = format!("static_ipaddress \"{}\"", a.address);
        let Some(dev) = &a.dev else {
            problems.push(format!(
                "{line}: no dev (keepalived needs one for a static address)"
            ));
            continue;
        };
        let role: Role = match dev.parse() {
            Ok(role) => role,
            Err(why) => {
                problems.push(format!(
                    "{line}: interface {why}: on the appliance keepalived.conf names interfaces by role"
                ));
                continue;
            }
        };
        match desired.links.iter_mut().find(|l| l.name == role.name()) {
            Some(link) if !link.addresses.contains(&a.address) => link.addresses.push(a.address),
            Some(_) => {}
            None => problems.push(format!("{line}: {role} has no link on this box")),
        }
    }
    problems
}

/// What the static routes and rules came to in one pass.
#[derive(Default)]
pub(super) struct Outcome {
    /// Lines that could not be resolved, and changes the kernel refused.
    pub problems: Vec<String>,
    /// Changes the kernel took (a refused one is a problem, said once).
    pub changes: usize,
}

/// Makes the kernel hold the static routes and rules, removing those lvsfw installed
/// before and no longer wants; records what it installed in `owned`.
pub(super) async fn routes_and_rules(
    kernel: &Kernel,
    board: &Board,
    config: &Config,
    k: &Keepalived,
    owned: &mut Owned,
) -> Outcome {
    let mut out = Outcome::default();
    if k.static_routes.is_empty()
        && k.static_rules.is_empty()
        && owned.ip_routes.is_empty()
        && owned.ip_rules.is_empty()
    {
        return out;
    }
    let links = match crate::vrrp::links(kernel).await {
        Ok(links) => links,
        Err(e) => {
            out.problems
                .push(format!("static routes: reading links: {e}"));
            return out;
        }
    };
    let (desired_routes, desired_rules) = wanted(board, config, k, &links, &mut out.problems);
    // Only routes to where ours go can be ours or stand for ours.
    let destinations: std::collections::HashSet<config::IpPrefix> = desired_routes
        .iter()
        .chain(owned.ip_routes.iter())
        .map(|r| r.to)
        .collect();
    let installed = match kernel
        .read_installed_to(|r| destinations.contains(&r.to))
        .await
    {
        Ok(installed) => installed,
        Err(e) => {
            out.problems.push(format!("static routes: {e}"));
            return out;
        }
    };
    let had_routes: Vec<RouteSpec> = owned.ip_routes.iter().cloned().collect();
    let had_rules: Vec<RuleSpec> = owned.ip_rules.iter().cloned().collect();
    let route_plan = plan(&desired_routes, &installed.routes, &had_routes);
    let rule_plan = plan(&desired_rules, &installed.rules, &had_rules);
    // Rules first out and last in: no packet is steered to a table being changed.
    for r in &rule_plan.remove {
        match kernel.del_rule(r).await {
            Ok(()) => {
                owned.ip_rules.remove(r);
                out.changes += 1;
            }
            Err(e) => out.problems.push(format!("static_rules: {e}")),
        }
    }
    for r in &route_plan.remove {
        match kernel.del_route(r).await {
            Ok(()) => {
                owned.ip_routes.remove(r);
                out.changes += 1;
            }
            Err(e) => out.problems.push(format!("static_routes: {e}")),
        }
    }
    // What is gone from the kernel is no longer ours to remove.
    owned.ip_routes.retain(|r| {
        desired_routes.contains(r)
            || installed
                .routes
                .iter()
                .any(|a| netif::routes::Matches::matches(r, a))
    });
    owned.ip_rules.retain(|r| {
        desired_rules.contains(r)
            || installed
                .rules
                .iter()
                .any(|a| netif::routes::Matches::matches(r, a))
    });
    for r in &route_plan.add {
        match kernel.add_route(r).await {
            Ok(()) => {
                owned.ip_routes.insert(r.clone());
                out.changes += 1;
            }
            Err(e) => out.problems.push(format!("static_routes: {e}")),
        }
    }
    for r in &rule_plan.add {
        match kernel.add_rule(r).await {
            Ok(()) => {
                owned.ip_rules.insert(r.clone());
                out.changes += 1;
            }
            Err(e) => out.problems.push(format!("static_rules: {e}")),
        }
    }
    // Those already there as wanted are ours too (installed by an earlier balancer).
    owned.ip_routes.extend(
        desired_routes
            .iter()
            .filter(|r| !route_plan.add.contains(r))
            .cloned(),
    );
    owned.ip_rules.extend(
        desired_rules
            .iter()
            .filter(|r| !rule_plan.add.contains(r))
            .cloned(),
    );
    out
}

/// The static routes and rules in the kernel's terms.
fn wanted(
    board: &Board,
    config: &Config,
    k: &Keepalived,
    links: &[LinkInfo],
    problems: &mut Vec<String>,
) -> (Vec<RouteSpec>, Vec<RuleSpec>) {
    let names = RoleNames {
        board: Some(board),
        config: Some(config),
        links,
        class_net: Path::new("/sys/class/net"),
    };
    let priorities = routes::rule_priorities(k);
    let got = routes::resolve_all(
        ("static_routes", &k.static_routes),
        ("static_rules", &k.static_rules, &priorities[0]),
        &names,
    );
    problems.extend(got.skipped.into_iter().map(|s| format!("{s}: skipped")));
    problems.extend(got.unresolved);
    (got.routes, got.rules)
}
