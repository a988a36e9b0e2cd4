//! keepalived's `static_routes` / `virtual_routes` and `static_rules` / `virtual_rules`
//! as the kernel holds them, and the plan that makes the kernel hold what is wanted.
//!
//! Pure: [`plan`] takes what is wanted, what the kernel reports and what lvsfw installed
//! before, and says what to remove and what to add. Only what lvsfw installed is ever
//! removed; the operator's routes and rules stay (keepalived tags its own with
//! `protocol keepalived`, RTPROT_KEEPALIVED; lvsfw does too, and also remembers them).

use std::net::IpAddr;

use config::IpPrefix;

/// RTN_UNICAST: a route type when none is given.
pub const UNICAST: u8 = 1;
/// The metric the kernel gives an IPv6 route that has none (IP6_RT_PRIO_USER).
const IPV6_DEFAULT_METRIC: u32 = 1024;
/// RT_SCOPE_NOWHERE: on a delete, any scope (as keepalived and `ip route del` send).
pub const SCOPE_ANY: u8 = 255;

/// One route, in the kernel's numbers. What is wanted leaves `src` and `oif` out when
/// the line does not say them; what the kernel reports has them when it has them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RouteSpec {
    pub to: IpPrefix,
    pub table: u32,
    /// RTN_* (unicast, blackhole, ...).
    pub kind: u8,
    pub protocol: u8,
    pub scope: u8,
    /// `None`: the kernel's default (0 for IPv4, 1024 for IPv6).
    pub metric: Option<u32>,
    /// The preferred source address (`src`).
    pub src: Option<IpAddr>,
    pub via: Option<IpAddr>,
    /// The output link's index (`dev`).
    pub oif: Option<u32>,
    pub onlink: bool,
}

/// One rule (FR_ACT_TO_TBL: look up `table`), in the kernel's numbers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RuleSpec {
    pub ipv6: bool,
    pub priority: u32,
    pub from: Option<IpPrefix>,
    pub to: Option<IpPrefix>,
    pub table: u32,
    pub fwmark: Option<u32>,
    pub fwmask: Option<u32>,
    /// Link names, as the kernel keeps them in a rule.
    pub iif: Option<String>,
    pub oif: Option<String>,
    /// FRA_PROTOCOL (kernel 4.17 and later report it; 0 when not).
    pub protocol: u8,
}

/// Whether what the kernel has is the wanted thing (or stands for it).
pub trait Matches {
    fn matches(&self, actual: &Self) -> bool;
}

impl RouteSpec {
    pub fn ipv6(&self) -> bool {
        self.to.addr.is_ipv6()
    }

    /// The metric the kernel shows for this route.
    pub fn kernel_metric(&self) -> u32 {
        match self.metric {
            Some(m) => m,
            None if self.ipv6() => IPV6_DEFAULT_METRIC,
            None => 0,
        }
    }
}

impl Matches for RouteSpec {
    fn matches(&self, actual: &RouteSpec) -> bool {
        self.to == actual.to
            && self.table == actual.table
            && self.kind == actual.kind
            && self.protocol == actual.protocol
            // IPv6 routes have no scope: the kernel reports every one as global.
            && (self.ipv6() || self.scope == actual.scope)
            && self.kernel_metric() == actual.kernel_metric()
            && self.via == actual.via
            && self.src.is_none_or(|s| actual.src == Some(s))
            && self.oif.is_none_or(|o| actual.oif == Some(o))
            && (!self.onlink || actual.onlink)
    }
}

impl Matches for RuleSpec {
    fn matches(&self, actual: &RuleSpec) -> bool {
        // A kernel without FRA_PROTOCOL reports 0 for every rule.
        let protocol = actual.protocol == 0 || self.protocol == actual.protocol;
        RuleSpec {
            protocol: actual.protocol,
            ..self.clone()
        } == *actual
            && protocol
    }
}

/// What to take out of the kernel (first) and put in (then).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan<T> {
    pub remove: Vec<T>,
    pub add: Vec<T>,
}

impl<T> Plan<T> {
    pub fn is_empty(&self) -> bool {
        self.remove.is_empty() && self.add.is_empty()
    }
}

/// Remove what lvsfw installed (`owned`) and no longer wants, if the kernel still has it;
/// add what is wanted and the kernel lacks. What matches is kept untouched; what lvsfw
/// never installed is never removed.
pub fn plan<T: Matches + Clone + PartialEq>(desired: &[T], actual: &[T], owned: &[T]) -> Plan<T> {
    let present = |t: &T| actual.iter().any(|a| t.matches(a));
    let mut remove: Vec<T> = Vec::new();
    for o in owned {
        if !desired.contains(o) && present(o) && !remove.contains(o) {
            remove.push(o.clone());
        }
    }
    let mut add: Vec<T> = Vec::new();
    for d in desired {
        if !present(d) && !add.contains(d) {
            add.push(d.clone());
        }
    }
    Plan { remove, add }
}

/// `ip route`'s words for a route, for logs and the record of what lvsfw installed.
pub fn route_words(r: &RouteSpec) -> String {
    let mut s = format!(
        "{} table {} type {} proto {} scope {}",
        r.to, r.table, r.kind, r.protocol, r.scope
    );
    if let Some(m) = r.metric {
        s.push_str(&format!(" metric {m}"));
    }
    if let Some(a) = r.src {
        s.push_str(&format!(" src {a}"));
    }
    if let Some(a) = r.via {
        s.push_str(&format!(" via {a}"));
    }
    if let Some(o) = r.oif {
        s.push_str(&format!(" oif {o}"));
    }
    if r.onlink {
        s.push_str(" onlink");
    }
    s
}

/// Reads [`route_words`] back; `None` for anything else.
pub fn parse_route_words(text: &str) -> Option<RouteSpec> {
    let mut words = text.split_whitespace();
    let mut r = RouteSpec {
        to: words.next()?.parse().ok()?,
        table: 0,
        kind: 0,
        protocol: 0,
        scope: 0,
        metric: None,
        src: None,
        via: None,
        oif: None,
        onlink: false,
    };
    let mut seen_table = false;
    while let Some(word) = words.next() {
        if word == "onlink" {
            r.onlink = true;
            continue;
        }
        let value = words.next()?;
        match word {
            "table" => {
                r.table = value.parse().ok()?;
                seen_table = true;
            }
            "type" => r.kind = value.parse().ok()?,
            "proto" => r.protocol = value.parse().ok()?,
            "scope" => r.scope = value.parse().ok()?,
            "metric" => r.metric = Some(value.parse().ok()?),
            "src" => r.src = Some(value.parse().ok()?),
            "via" => r.via = Some(value.parse().ok()?),
            "oif" => r.oif = Some(value.parse().ok()?),
            _ => return None,
        }
    }
    seen_table.then_some(r)
}

/// `ip rule`'s words for a rule.
pub fn rule_words(r: &RuleSpec) -> String {
    let mut s = format!(
        "{} priority {} table {} proto {}",
        if r.ipv6 { "inet6" } else { "inet" },
        r.priority,
        r.table,
        r.protocol
    );
    if let Some(p) = r.from {
        s.push_str(&format!(" from {p}"));
    }
    if let Some(p) = r.to {
        s.push_str(&format!(" to {p}"));
    }
    if let Some(m) = r.fwmark {
        s.push_str(&format!(" fwmark {m}"));
    }
    if let Some(m) = r.fwmask {
        s.push_str(&format!(" fwmask {m}"));
    }
    for (word, name) in [("iif", &r.iif), ("oif", &r.oif)] {
        if let Some(n) = name {
            s.push_str(&format!(" {word} {n}"));
        }
    }
    s
}

/// Reads [`rule_words`] back.
pub fn parse_rule_words(text: &str) -> Option<RuleSpec> {
    let mut words = text.split_whitespace();
    let ipv6 = match words.next()? {
        "inet" => false,
        "inet6" => true,
        _ => return None,
    };
    let mut r = RuleSpec {
        ipv6,
        priority: 0,
        from: None,
        to: None,
        table: 0,
        fwmark: None,
        fwmask: None,
        iif: None,
        oif: None,
        protocol: 0,
    };
    while let Some(word) = words.next() {
        let value = words.next()?;
        match word {
            "priority" => r.priority = value.parse().ok()?,
            "table" => r.table = value.parse().ok()?,
            "proto" => r.protocol = value.parse().ok()?,
            "from" => r.from = Some(value.parse().ok()?),
            "to" => r.to = Some(value.parse().ok()?),
            "fwmark" => r.fwmark = Some(value.parse().ok()?),
            "fwmask" => r.fwmask = Some(value.parse().ok()?),
            "iif" => r.iif = Some(value.to_string()),
            "oif" => r.oif = Some(value.to_string()),
            _ => return None,
        }
    }
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn route(to: &str, via: &str) -> RouteSpec {
        RouteSpec {
            to: to.parse().unwrap(),
            table: 254,
            kind: UNICAST,
            protocol: 18,
            scope: 0,
            metric: None,
            src: None,
            via: Some(via.parse().unwrap()),
            oif: None,
            onlink: false,
        }
    }

    fn rule(from: &str, table: u32) -> RuleSpec {
        RuleSpec {
            ipv6: false,
            priority: 100,
            from: Some(from.parse().unwrap()),
            to: None,
            table,
            fwmark: None,
            fwmask: None,
            iif: None,
            oif: None,
            protocol: 18,
        }
    }

    /// What the kernel reports for a wanted route: the link it resolved, its metric.
    fn as_kernel_has_it(r: &RouteSpec, oif: u32) -> RouteSpec {
        RouteSpec {
            oif: Some(oif),
            metric: Some(r.kernel_metric()),
            ..r.clone()
        }
    }

    #[test]
    fn a_wanted_route_the_kernel_lacks_is_added_and_one_it_has_is_kept() {
        let a = route("10.8.0.0/16", "192.168.33.1");
        let b = route("10.9.0.0/16", "192.168.33.1");
        let actual = vec![as_kernel_has_it(&a, 3)];
        let p = plan(&[a.clone(), b.clone()], &actual, std::slice::from_ref(&a));
        assert_eq!(p.add, vec![b]);
        assert!(p.remove.is_empty());
        // Once both are there, nothing to do.
        let actual = vec![as_kernel_has_it(&a, 3), as_kernel_has_it(&p.add[0], 3)];
        assert!(plan(&[a.clone(), p.add[0].clone()], &actual, &[a]).is_empty());
    }

    #[test]
    fn only_what_lvsfw_installed_is_removed() {
        let ours = route("10.8.0.0/16", "192.168.33.1");
        // The operator's: the same destination by another protocol, and another route.
        let operators = RouteSpec {
            protocol: 4,
            ..ours.clone()
        };
        let other = route("172.16.0.0/12", "192.168.33.1");
        let actual = vec![
            as_kernel_has_it(&ours, 3),
            as_kernel_has_it(&operators, 3),
            as_kernel_has_it(&other, 3),
        ];
        let p = plan(&[], &actual, std::slice::from_ref(&ours));
        assert_eq!(p.remove, vec![ours.clone()]);
        assert!(p.add.is_empty());
        // Already gone from the kernel: nothing to remove.
        assert!(plan(&[], &actual[1..], &[ours]).is_empty());
    }

    #[test]
    fn a_changed_route_is_removed_then_added() {
        let old = route("10.8.0.0/16", "192.168.33.1");
        let new = route("10.8.0.0/16", "192.168.33.2");
        let p = plan(
            std::slice::from_ref(&new),
            &[as_kernel_has_it(&old, 3)],
            std::slice::from_ref(&old),
        );
        assert_eq!(p.remove, vec![old]);
        assert_eq!(p.add, vec![new]);
    }

    #[test]
    fn routes_match_on_the_kernel_s_defaults() {
        let mut v6 = route("fd00:8::/64", "fd00::1");
        v6.scope = 253;
        let kernel = RouteSpec {
            scope: 0,
            metric: Some(1024),
            oif: Some(2),
            src: Some("fd00::2".parse().unwrap()),
            ..v6.clone()
        };
        assert!(v6.matches(&kernel), "IPv6: no scope, metric 1024");
        let v4 = route("10.8.0.0/16", "192.168.33.1");
        assert!(!v4.matches(&RouteSpec {
            scope: 253,
            ..v4.clone()
        }));
        let mut on = v4.clone();
        on.oif = Some(3);
        assert!(!on.matches(&as_kernel_has_it(&v4, 4)), "another link");
        on.metric = Some(5);
        assert!(!on.matches(&as_kernel_has_it(&v4, 3)), "another metric");
    }

    #[test]
    fn rules_are_planned_the_same_way() {
        let a = rule("192.168.8.0/24", 8);
        let b = rule("192.168.9.0/24", 9);
        // A kernel before 4.17 reports no protocol.
        let old_kernel = RuleSpec {
            protocol: 0,
            ..a.clone()
        };
        let p = plan(
            std::slice::from_ref(&b),
            &[old_kernel],
            std::slice::from_ref(&a),
        );
        assert_eq!(p.remove, vec![a.clone()]);
        assert_eq!(p.add, vec![b.clone()]);
        let operators = RuleSpec {
            protocol: 4,
            ..b.clone()
        };
        assert!(!b.matches(&operators));
    }

    #[test]
    fn words_read_back() {
        let mut r = route("10.8.0.0/16", "192.168.33.1");
        r.metric = Some(7);
        r.oif = Some(3);
        r.onlink = true;
        r.src = Some("192.168.33.20".parse().unwrap());
        assert_eq!(parse_route_words(&route_words(&r)), Some(r));
        let mut q = rule("fd00::/64", 1000);
        q.ipv6 = true;
        q.fwmark = Some(16);
        q.fwmask = Some(255);
        q.iif = Some("int".into());
        assert_eq!(parse_rule_words(&rule_words(&q)), Some(q));
        assert_eq!(parse_route_words("10.0.0.0/8 table"), None);
        assert_eq!(parse_rule_words("inet priority x"), None);
    }
}
