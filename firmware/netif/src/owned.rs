//! What lvsfw itself put into the kernel, remembered across restarts of the balancer.
//!
//! The record lives on /run (tmpfs): after a reboot the kernel starts empty and so does
//! the record. Without it a restarted balancer could not tell its own stale addresses
//! from an operator's.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::Path;

use config::{IpPrefix, Route};

use crate::routes::{parse_route_words, parse_rule_words, route_words, rule_words};
use crate::routes::{RouteSpec, RuleSpec};
use crate::Desired;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Owned {
    /// (link name, address) pairs.
    pub addresses: BTreeSet<(String, IpPrefix)>,
    pub routes: BTreeSet<Route>,
    /// keepalived's static_routes and static_rules as installed.
    pub ip_routes: BTreeSet<RouteSpec>,
    pub ip_rules: BTreeSet<RuleSpec>,
}

impl Owned {
    pub fn from_desired(desired: &Desired) -> Owned {
        Owned {
            addresses: desired
                .links
                .iter()
                .flat_map(|l| l.addresses.iter().map(|p| (l.name.clone(), *p)))
                .collect(),
            routes: desired.routes.iter().copied().collect(),
            ip_routes: BTreeSet::new(),
            ip_rules: BTreeSet::new(),
        }
    }

    /// One line an entry: `address LINK PREFIX`, `route PREFIX via ADDRESS`,
    /// `iproute WORDS` or `iprule WORDS` ([`route_words`], [`rule_words`]).
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        for (link, prefix) in &self.addresses {
            text.push_str(&format!("address {link} {prefix}\n"));
        }
        for route in &self.routes {
            text.push_str(&format!("route {} via {}\n", route.to, route.via));
        }
        for route in &self.ip_routes {
            text.push_str(&format!("iproute {}\n", route_words(route)));
        }
        for rule in &self.ip_rules {
            text.push_str(&format!("iprule {}\n", rule_words(rule)));
        }
        text
    }

    /// Reads a record; lines that do not parse are skipped, as the record is only a hint
    /// written by this program (a damaged one must not stop the balancer).
    pub fn from_text(text: &str) -> Owned {
        let mut owned = Owned::default();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("iproute ") {
                owned.ip_routes.extend(parse_route_words(rest));
                continue;
            }
            if let Some(rest) = line.strip_prefix("iprule ") {
                owned.ip_rules.extend(parse_rule_words(rest));
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["address", link, prefix] => {
                    if let Ok(prefix) = prefix.parse() {
                        owned.addresses.insert((link.to_string(), prefix));
                    }
                }
                ["route", to, "via", via] => {
                    if let (Ok(to), Ok(via)) = (to.parse(), via.parse()) {
                        owned.routes.insert(Route { to, via });
                    }
                }
                _ => {}
            }
        }
        owned
    }

    pub fn load(path: &Path) -> Owned {
        fs::read_to_string(path)
            .map(|t| Owned::from_text(&t))
            .unwrap_or_default()
    }

    /// Replaced whole, so a crash leaves the old or the new record; an error names `path`.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        paths::write_atomic(path, self.to_text().as_bytes(), false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DesiredLink;

    #[test]
    fn round_trips_through_its_file() {
        let desired = Desired {
            links: vec![DesiredLink {
                index: 2,
                name: "ext".into(),
                mtu: None,
                addresses: vec![
                    "192.168.0.101/24".parse().unwrap(),
                    "fd00::1/64".parse().unwrap(),
                ],
                up: true,
            }],
            routes: vec![Route {
                to: "0.0.0.0/0".parse().unwrap(),
                via: "192.168.0.1".parse().unwrap(),
            }],
        };
        let mut owned = Owned::from_desired(&desired);
        owned.ip_routes.extend(crate::routes::parse_route_words(
            "10.8.0.0/16 table 254 type 1 proto 18 scope 0 via 192.168.33.1 oif 2",
        ));
        owned.ip_rules.extend(crate::routes::parse_rule_words(
            "inet priority 100 table 8 proto 18 from 192.168.8.0/24",
        ));
        assert_eq!((owned.ip_routes.len(), owned.ip_rules.len()), (1, 1));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lvsfw/netif.owned");
        owned.save(&path).unwrap();
        assert_eq!(Owned::load(&path), owned);
        assert_eq!(owned.addresses.len(), 2);
    }

    #[test]
    fn damaged_lines_are_skipped_and_a_missing_file_is_empty() {
        let owned = Owned::from_text(
            "address ext 192.168.0.101/24\naddress ext nonsense\ngarbage\nroute 1.2.3.0/24 via\n",
        );
        assert_eq!(owned.addresses.len(), 1);
        assert!(owned.routes.is_empty());
        assert_eq!(
            Owned::load(Path::new("/nonexistent/lvsfw")),
            Owned::default()
        );
    }
}
