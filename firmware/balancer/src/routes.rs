//! keepalived's `static_routes` / `virtual_routes` and `static_rules` / `virtual_rules`
//! lines as the kernel is to hold them: `dev` names resolved as `virtual_ipaddress`'s are
//! (an interface role on the appliance), keepalived's defaults filled in. Pure.
//!
//! The global lists are installed at start and kept by the interfaces' passes
//! (`super::interfaces`); an instance's are installed with its VIPs on becoming MASTER
//! and removed with them (`super::vrrp`).

use config::keepalived::{route_line, rule_line, IpRoute, IpRule, Keepalived};
use netif::routes::{RouteSpec, RuleSpec};

use super::vrrp::Resolve;

/// keepalived gives a rule without a priority the next one down from 16384 (one count
/// per family, in the order of the configuration), so that rules added and removed as
/// instances change state always sit in the same order.
const RULE_START_PRIORITY: u32 = 16384;

/// A line's kernel form, or why it cannot be installed, naming the line as written.
pub fn route(keyword: &str, r: &IpRoute, names: &dyn Resolve) -> Result<RouteSpec, String> {
    let named = |why: String| format!("{keyword} \"{}\": {why}", route_line(r));
    if let Some(why) = r.not_installable() {
        return Err(named(why));
    }
    let oif = match &r.dev {
        Some(dev) => Some(names.link(dev).map_err(named)?.index),
        None => None,
    };
    Ok(RouteSpec {
        to: r.to,
        table: r.table_id().map_err(named)?,
        kind: r.type_id().map_err(named)?,
        protocol: r.protocol_id().map_err(named)?,
        scope: r.scope_id().map_err(named)?,
        metric: r.metric,
        src: r.src,
        via: r.via,
        oif,
        onlink: r.onlink,
    })
}

/// A rule line's kernel form; `priority` is the one the line gives or keepalived's.
pub fn rule(
    keyword: &str,
    r: &IpRule,
    priority: u32,
    names: &dyn Resolve,
) -> Result<RuleSpec, String> {
    let named = |why: String| format!("{keyword} \"{}\": {why}", rule_line(r));
    if let Some(why) = r.not_installable() {
        return Err(named(why));
    }
    // The kernel keeps a rule's interfaces by name: the role's link as it is named now.
    let link_name = |name: &Option<String>| -> Result<Option<String>, String> {
        match name {
            Some(n) => Ok(Some(names.link(n).map_err(named)?.name.clone())),
            None => Ok(None),
        }
    };
    let fw = r.fwmark_mask().map_err(named)?;
    Ok(RuleSpec {
        ipv6: r.is_ipv6(),
        priority,
        from: r.from,
        to: r.to,
        table: r.table_id().map_err(named)?,
        fwmark: fw.map(|(mark, _)| mark),
        // The kernel reports a mark given alone with a mask of all ones.
        fwmask: fw.map(|(_, mask)| mask.unwrap_or(u32::MAX)),
        iif: link_name(&r.iif)?,
        oif: link_name(&r.oif)?,
        // keepalived tags a tracked rule as its own; a line has no other protocol to
        // give (`protocol` is an option lvsfw refuses), so every rule carries the tag.
        protocol: config::keepalived::PROTOCOL_KEEPALIVED,
    })
}

/// Each rule's priority: its own, or keepalived's next one for its family, counting
/// `static_rules` first and then each instance's `virtual_rules` in order. The first
/// list is the static rules', then one per instance.
pub fn rule_priorities(k: &Keepalived) -> Vec<Vec<u32>> {
    let mut next = [RULE_START_PRIORITY; 2];
    let lists =
        std::iter::once(&k.static_rules).chain(k.vrrp_instances.iter().map(|i| &i.virtual_rules));
    lists
        .map(|rules| {
            rules
                .iter()
                .map(|r| match r.priority {
                    Some(p) => p,
                    None => {
                        let n = &mut next[usize::from(r.is_ipv6())];
                        let p = *n;
                        *n = n.saturating_sub(1);
                        p
                    }
                })
                .collect()
        })
        .collect()
}

/// What a list of lines comes to.
#[derive(Debug, Default)]
pub struct Resolved {
    pub routes: Vec<RouteSpec>,
    pub rules: Vec<RuleSpec>,
    /// Lines with what the appliance does not act on (an `ip route` option such as
    /// `mtu` or `nexthop`): skipped, as keepalived skips a line it cannot read; the
    /// reason names the line.
    pub skipped: Vec<String>,
    /// Lines whose interface is not there: the reason names the line.
    pub unresolved: Vec<String>,
}

/// Every line of `routes` and `rules` that can be installed, and why each other cannot.
pub fn resolve_all(
    (route_keyword, routes): (&str, &[IpRoute]),
    (rule_keyword, rules, priorities): (&str, &[IpRule], &[u32]),
    names: &dyn Resolve,
) -> Resolved {
    let mut out = Resolved::default();
    for r in routes {
        if let Some(why) = r.not_installable() {
            out.skipped
                .push(format!("{route_keyword} \"{}\": {why}", route_line(r)));
            continue;
        }
        match route(route_keyword, r, names) {
            Ok(spec) => out.routes.push(spec),
            Err(why) => out.unresolved.push(why),
        }
    }
    for (n, r) in rules.iter().enumerate() {
        if let Some(why) = r.not_installable() {
            out.skipped
                .push(format!("{rule_keyword} \"{}\": {why}", rule_line(r)));
            continue;
        }
        let priority = priorities.get(n).copied().unwrap_or(RULE_START_PRIORITY);
        match rule(rule_keyword, r, priority, names) {
            Ok(spec) => out.rules.push(spec),
            Err(why) => out.unresolved.push(why),
        }
    }
    out
}

#[cfg(test)]
mod tests;
