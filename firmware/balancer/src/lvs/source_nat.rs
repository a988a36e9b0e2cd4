//! `lb_kind FNAT` / `lvs_method FNAT`: which IPVS connections leave with the box's own
//! address as their source (ipvs::fullnat), and putting that in the kernel.

use std::net::IpAddr;

use config::keepalived::{Keepalived, LbKind, VirtualServer};
use ipvs::fullnat::SourceNat;

use super::from_config::service_keys;

/// The kernel modules FNAT needs besides IPVS (with their dependencies: nf_tables,
/// nf_nat, nf_conntrack); loaded only when a virtual server uses it, as conntrack costs
/// every connection of the box.
pub const MODULES: [&str; 3] = ["nft_ct", "nft_masq", "nft_chain_nat"];

/// The rules `k` asks for: one per service whose real servers (and sorry server) are all
/// FNAT; where only some are, one per such real server, so that the others (DR, TUN,
/// NAT) are left as they are.
pub fn wanted(k: &Keepalived) -> Vec<SourceNat> {
    let mut rules = Vec::new();
    for vs in &k.virtual_servers {
        let servers = servers(vs);
        let fnat: Vec<(IpAddr, u16)> = servers
            .iter()
            .filter(|(_, kind)| *kind == LbKind::Fnat)
            .map(|(server, _)| *server)
            .collect();
        if fnat.is_empty() {
            continue;
        }
        let every = fnat.len() == servers.len();
        for service in service_keys(k, vs) {
            if every {
                rules.push(SourceNat {
                    service,
                    real_server: None,
                });
            } else {
                rules.extend(fnat.iter().map(|&server| SourceNat {
                    service,
                    real_server: Some(server),
                }));
            }
        }
    }
    rules.sort();
    rules.dedup();
    rules
}

/// Each real server (and the sorry server) with the kind IPVS forwards it by.
fn servers(vs: &VirtualServer) -> Vec<((IpAddr, u16), LbKind)> {
    let mut list: Vec<_> = vs
        .real_servers
        .iter()
        .map(|rs| ((rs.ip, rs.port), rs.lvs_method.unwrap_or(vs.lb_kind)))
        .collect();
    if let Some(sorry) = vs.sorry_server {
        list.push((sorry, vs.sorry_server_lvs_method.unwrap_or(vs.lb_kind)));
    }
    list
}

/// Whether `k` uses FNAT anywhere (its modules are then needed).
pub fn used(k: &Keepalived) -> bool {
    !wanted(k).is_empty()
}

/// Puts `rules` in the kernel, the table replaced whole (IPVS's conntrack, which they
/// need, is vs_sysctls'). Blocking (netlink).
pub fn apply(rules: &[SourceNat]) -> Result<(), String> {
    ipvs::fullnat::apply(rules).map_err(|e| format!("FNAT: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipvs::{Protocol, ServiceKey};

    fn config(text: &str) -> Keepalived {
        config::keepalived::read_text(text, "k.conf")
            .expect("a valid configuration")
            .config
    }

    #[test]
    fn a_fnat_service_is_one_rule_and_a_nat_one_none() {
        let k = config(
            "virtual_server 192.168.0.100 80 {\n lb_kind FNAT\n protocol TCP\n\
             real_server 10.0.0.1 80 {\n }\n real_server 10.0.0.2 80 {\n }\n}\n\
             virtual_server 192.168.0.100 443 {\n lb_kind NAT\n protocol TCP\n\
             real_server 10.0.0.1 443 {\n }\n}\n",
        );
        assert_eq!(
            wanted(&k),
            [SourceNat {
                service: ServiceKey::Addr {
                    protocol: Protocol::Tcp,
                    addr: "192.168.0.100".parse().unwrap(),
                    port: 80
                },
                real_server: None
            }]
        );
        assert!(used(&k));
    }

    #[test]
    fn only_the_fnat_real_servers_of_a_mixed_service_and_every_address_of_a_group() {
        let k = config(
            "virtual_server_group web {\n 192.168.0.100-101 80\n}\n\
             virtual_server group web {\n lb_kind DR\n protocol TCP\n\
             real_server 10.0.0.1 80 {\n lvs_method FNAT\n }\n real_server 10.0.0.2 80 {\n }\n}\n",
        );
        let rules = wanted(&k);
        assert_eq!(rules.len(), 2, "{rules:?}");
        for (rule, last) in rules.iter().zip([100, 101]) {
            assert_eq!(rule.real_server, Some(("10.0.0.1".parse().unwrap(), 80)));
            let ServiceKey::Addr { addr, .. } = rule.service else {
                panic!("{rule:?}")
            };
            assert_eq!(addr, IpAddr::from([192, 168, 0, last]));
        }
        let none = config(
            "virtual_server 192.168.0.100 80 {\n lb_kind NAT\n protocol TCP\n\
             real_server 10.0.0.1 80 {\n }\n}\n",
        );
        assert!(!used(&none));
    }

    #[test]
    fn a_sorry_server_of_another_kind_makes_the_rules_per_real_server() {
        let k = config(
            "virtual_server 192.168.0.100 80 {\n lb_kind FNAT\n protocol TCP\n\
             sorry_server 10.0.9.9 80\n sorry_server_lvs_method DR\n\
             real_server 10.0.0.1 80 {\n }\n}\n",
        );
        let rules = wanted(&k);
        assert_eq!(rules.len(), 1);
        assert_eq!(
            rules[0].real_server,
            Some(("10.0.0.1".parse().unwrap(), 80))
        );
    }
}
