//! Semantic validation of a keepalived model, however it was read: what keepalived.conf's
//! grammar (or JSON's types) cannot say on their own. Every finding names the item by its
//! JSON path; the caller turns that into `file:line:col` or keeps the path.
//!
//! What needs the appliance's own addresses (the address owner's priority, NAT real
//! servers behind `int`) is checked only when the native configuration is given.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

mod bgp;
mod lvs;
mod vrrp;

use super::model::*;
use super::table::{self, Status};
use crate::suggest::did_you_mean;
use crate::units::duration_to_seconds;
use crate::{Config, Role};

/// One problem: which item (its JSON path) and what is wrong, starting with the keyword.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub path: String,
    pub message: String,
}

struct Validator<'a> {
    k: &'a Keepalived,
    native: Option<&'a Config>,
    findings: Vec<Finding>,
}

/// Every finding of `k`, in the order of the model. A native configuration without
/// interfaces says nothing about the appliance's addresses and counts as none.
pub fn validate(k: &Keepalived, native: Option<&Config>) -> Vec<Finding> {
    let mut v = Validator {
        k,
        native: native.filter(|n| !n.interfaces.is_empty()),
        findings: Vec::new(),
    };
    v.global();
    v.instances();
    v.sync_groups();
    v.scripts();
    v.statics();
    v.groups();
    v.virtual_servers();
    v.bgp();
    v.findings
}

fn family(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() {
        "IPv4"
    } else {
        "IPv6"
    }
}

fn seconds(d: Duration) -> f64 {
    duration_to_seconds(d)
}

fn key_text(key: &VsKey) -> String {
    match key {
        VsKey::Addr { ip, port } => format!("{ip} {port}"),
        VsKey::Fwmark(mark) => format!("fwmark {mark}"),
        VsKey::Group(name) => format!("group {name}"),
    }
}

impl Validator<'_> {
    fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.findings.push(Finding {
            path: path.into(),
            message: message.into(),
        });
    }

    /// A string that keepalived.conf can carry: no double quote, no control character.
    fn text(&mut self, path: impl Lazy, keyword: &str, value: &str) {
        if value.chars().any(|c| c == '"' || c.is_control()) {
            self.push(
                path.path(),
                format!("{keyword}: {value:?} cannot hold a double quote or a control character"),
            );
        }
    }

    fn too_many(&mut self, path: impl Lazy, len: usize, max: usize, what: &str) {
        if len > max {
            self.push(
                path.path(),
                format!("{what}: more than {max} (there are {len})"),
            );
        }
    }

    fn global(&mut self) {
        let g = &self.k.global;
        if !(2..=3).contains(&g.vrrp_version) {
            self.push(
                "global_defs.vrrp_version",
                format!("vrrp_version: {} is not 2 or 3", g.vrrp_version),
            );
        }
        if !(1..=255).contains(&g.garp_master_repeat) {
            self.push(
                "global_defs.vrrp_garp_master_repeat",
                format!(
                    "vrrp_garp_master_repeat: {} is not from 1 to 255",
                    g.garp_master_repeat
                ),
            );
        }
        if let Some(id) = &g.router_id {
            self.text("global_defs.router_id", "router_id", id);
        }
        if let Some(sync) = &g.lvs_sync_daemon {
            self.text(
                "global_defs.lvs_sync_daemon",
                "lvs_sync_daemon",
                &sync.interface,
            );
            self.text(
                "global_defs.lvs_sync_daemon",
                "lvs_sync_daemon",
                &sync.vrrp_instance,
            );
            if !self
                .k
                .vrrp_instances
                .iter()
                .any(|i| i.name == sync.vrrp_instance)
            {
                let message = format!(
                    "lvs_sync_daemon: vrrp_instance \"{}\" does not exist{}",
                    sync.vrrp_instance,
                    self.instance_hint(&sync.vrrp_instance)
                );
                self.push("global_defs.lvs_sync_daemon", message);
            }
        }
        for e in &g.notification_email {
            self.text("global_defs.notification_email", "notification_email", e);
        }
        self.too_many(
            "global_defs.notification_email",
            g.notification_email.len(),
            MAX_NOTIFICATION_EMAILS,
            "notification_email",
        );
        for (keyword, value) in [
            ("notification_email_from", &g.notification_email_from),
            ("smtp_helo_name", &g.smtp_helo_name),
        ] {
            if let Some(v) = value {
                self.text(|| format!("global_defs.{keyword}"), keyword, v);
            }
        }
        if let Some(s) = &g.smtp_server {
            self.text("global_defs.smtp_server", "smtp_server", &s.host);
            if s.host.is_empty() || s.port == 0 {
                self.push(
                    "global_defs.smtp_server",
                    "smtp_server: expected a host and a port from 1 to 65535",
                );
            }
        }
        if let Some(p) = g.max_auto_priority.filter(|p| !(-1..=99).contains(p)) {
            self.push(
                "global_defs.max_auto_priority",
                format!("max_auto_priority: {p} is not from -1 to 99"),
            );
        }
        if let Some(a) = g.vrrp_mcast_group4.filter(|a| !a.is_multicast()) {
            self.push(
                "global_defs.vrrp_mcast_group4",
                format!("vrrp_mcast_group4: {a} is not a multicast address"),
            );
        }
        if let Some(a) = g.vrrp_mcast_group6.filter(|a| !a.is_multicast()) {
            self.push(
                "global_defs.vrrp_mcast_group6",
                format!("vrrp_mcast_group6: {a} is not a multicast address"),
            );
        }
        for (keyword, value) in [
            (
                "vrrp_garp_master_refresh_repeat",
                g.vrrp_garp_master_refresh_repeat,
            ),
            ("vrrp_garp_lower_prio_repeat", g.vrrp_garp_lower_prio_repeat),
        ] {
            if let Some(r) = value.filter(|r| !(1..=255).contains(r)) {
                self.push(
                    format!("global_defs.{keyword}"),
                    format!("{keyword}: {r} is not from 1 to 255"),
                );
            }
        }
        if let Some(n) = g.vrrp_down_timer_adverts.filter(|n| !(1..=100).contains(n)) {
            self.push(
                "global_defs.vrrp_down_timer_adverts",
                format!("vrrp_down_timer_adverts: {n} is not from 1 to 100"),
            );
        }
        self.kept("global_defs.noted", "global_defs", &g.noted);
    }

    fn instance_hint(&self, name: &str) -> String {
        let names: Vec<&str> = self
            .k
            .vrrp_instances
            .iter()
            .map(|i| i.name.as_str())
            .collect();
        did_you_mean(name, &names)
            .map(|n| format!(" (did you mean \"{n}\"?)"))
            .unwrap_or_default()
    }

    /// Statements kept word for word: each a keyword the table notes in `block` (so JSON
    /// cannot slip anything else into an export), its words ones keepalived.conf can carry,
    /// and not too many.
    fn kept(&mut self, path: impl Lazy, block: &str, list: &[Kept]) {
        if list.is_empty() {
            return;
        }
        let path = path.path();
        let path = path.as_str();
        let size: usize = list.iter().map(Kept::size).sum();
        self.too_many(path, size, MAX_NOTED, "noted statements");
        for (n, k) in list.iter().enumerate() {
            let at = || format!("{path}[{n}]");
            match table::find(block, &k.keyword) {
                Some(row) if row.status == Status::Noted => {}
                _ => {
                    self.push(
                        at(),
                        format!(
                            "noted: \"{}\" is not a keyword the table notes in {block}",
                            k.keyword
                        ),
                    );
                    continue;
                }
            }
            for word in k.words() {
                self.text(at, &k.keyword, word);
            }
        }
    }

    /// The addresses of the interface an instance names, when the native configuration
    /// knows it (lvsfw names interfaces by their role).
    fn interface_addresses(&self, name: &str) -> Option<Vec<crate::IpPrefix>> {
        let role: Role = name.parse().ok()?;
        Some(self.native?.interface(role)?.addresses.clone())
    }
}

/// What is wrong with a `virtual_server_group` range, if anything.
fn range_problem(first: IpAddr, last: IpAddr) -> Option<String> {
    let (prefix_same, first_n, last_n) = match (first, last) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (
            a.octets()[..3] == b.octets()[..3],
            u32::from(a.octets()[3]),
            u32::from(b.octets()[3]),
        ),
        (IpAddr::V6(a), IpAddr::V6(b)) => (
            a.segments()[..7] == b.segments()[..7],
            u32::from(a.segments()[7]),
            u32::from(b.segments()[7]),
        ),
        _ => return Some(format!("{first} and {last} are of different families")),
    };
    if !prefix_same {
        return Some(format!(
            "{first} and {last} differ before the last {} (a range counts only that)",
            if first.is_ipv4() { "byte" } else { "group" }
        ));
    }
    (last_n < first_n).then(|| format!("the range {first} to {last} ends before it starts"))
}

/// A path written only when a finding needs it (`format!("{at}.retry")` formats it then).
struct At<'a>(&'a dyn Fn(&mut fmt::Formatter<'_>) -> fmt::Result);

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (self.0)(f)
    }
}

/// A path built only when there is something to report: most items are fine, and a large
/// configuration should not pay for formatting every path.
trait Lazy {
    fn path(self) -> String;
}

impl<F: FnOnce() -> String> Lazy for F {
    fn path(self) -> String {
        self()
    }
}

impl Lazy for &str {
    fn path(self) -> String {
        self.to_string()
    }
}

impl Lazy for &String {
    fn path(self) -> String {
        self.clone()
    }
}
