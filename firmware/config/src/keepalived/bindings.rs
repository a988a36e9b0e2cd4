//! What keepalived.conf binds to on the appliance: every interface it names must be one
//! of the box's NIC roles, and every local address it sends from must be an address the
//! native configuration gives that interface. Checked before a configuration is put in
//! service, so that "applied" never hides an instance that cannot open its socket.
//!
//! keepalived itself only finds these at run time (an instance that cannot bind stays in
//! FAULT, or a socket error is logged); the appliance knows its own interfaces and says
//! so before anything changes.

use std::net::IpAddr;

use super::model::*;
use super::validate::Finding;
use crate::{Config, IpPrefix, Role};

/// Every binding of `k` that the box with `native` (and, when known, the NIC roles of
/// its board) cannot provide.
pub fn check(k: &Keepalived, native: &Config, board_roles: Option<&[Role]>) -> Vec<Finding> {
    let mut b = Bindings {
        native,
        board_roles,
        findings: Vec::new(),
    };
    for (n, i) in k.vrrp_instances.iter().enumerate() {
        b.instance(i, &format!("vrrp_instances[{n}]"));
    }
    let group_sync = k.bgp.as_ref().and_then(|g| g.lvs_sync_daemon.as_ref());
    let syncs = [
        k.global
            .lvs_sync_daemon
            .as_ref()
            .map(|s| ("global_defs.lvs_sync_daemon", &s.interface)),
        group_sync.map(|s| ("bgp.lvs_sync_daemon", &s.interface)),
    ];
    for (at, interface) in syncs.into_iter().flatten() {
        if let Some(role) = b.role(at, "lvs_sync_daemon", interface) {
            if !b.addresses(role).iter().any(|p| p.addr.is_ipv4()) {
                b.push(
                    at,
                    format!(
                        "lvs_sync_daemon: interface {role} has no IPv4 address in the configuration; the kernel's sync daemon sends from one"
                    ),
                );
            }
        }
    }
    for (n, vs) in k.virtual_servers.iter().enumerate() {
        for (r, rs) in vs.real_servers.iter().enumerate() {
            for (c, check) in rs.checks.iter().enumerate() {
                if let Some(ip) = check.bindto {
                    let at = format!("virtual_servers[{n}].real_servers[{r}].checks[{c}].bindto");
                    b.own_address(&at, "bindto", ip, None);
                }
            }
        }
    }
    b.findings
}

struct Bindings<'a> {
    native: &'a Config,
    board_roles: Option<&'a [Role]>,
    findings: Vec<Finding>,
}

impl Bindings<'_> {
    fn push(&mut self, path: impl Into<String>, message: String) {
        self.findings.push(Finding {
            path: path.into(),
            message,
        });
    }

    /// The role `name` stands for, if it is one this box has.
    fn role(&mut self, at: &str, keyword: &str, name: &str) -> Option<Role> {
        let roles = self.board_roles.unwrap_or(&Role::ALL);
        let role = match name.parse::<Role>() {
            Ok(role) => role,
            Err(_) => {
                let names: Vec<&str> = roles.iter().map(|r| r.name()).collect();
                self.push(
                    at,
                    format!(
                        "{keyword}: \"{name}\" is not an interface of this appliance ({}): keepalived.conf names them by role",
                        names.join(", ")
                    ),
                );
                return None;
            }
        };
        if !roles.contains(&role) {
            self.push(at, format!("{keyword}: this board has no {role} NIC"));
            return None;
        }
        Some(role)
    }

    fn addresses(&self, role: Role) -> &[IpPrefix] {
        self.native
            .interface(role)
            .map(|i| i.addresses.as_slice())
            .unwrap_or(&[])
    }

    /// `ip` must be an address of `role` (or of any interface when `None`).
    fn own_address(&mut self, at: &str, keyword: &str, ip: IpAddr, role: Option<Role>) {
        let own = |p: &&IpPrefix| p.addr == ip;
        let found = match role {
            Some(role) => self.addresses(role).iter().any(|p| own(&p)),
            None => self
                .native
                .interfaces
                .iter()
                .flat_map(|i| &i.addresses)
                .any(|p| own(&p)),
        };
        if found {
            return;
        }
        let message = match role {
            Some(role) => {
                let has: Vec<String> = self.addresses(role).iter().map(|p| p.to_string()).collect();
                format!(
                    "{keyword}: {ip} is not an address of interface {role} (it has {})",
                    if has.is_empty() {
                        "none".to_string()
                    } else {
                        has.join(", ")
                    }
                )
            }
            None => format!("{keyword}: {ip} is not an address of this appliance"),
        };
        self.push(at, message);
    }

    fn instance(&mut self, i: &VrrpInstance, at: &str) {
        let role = self.role(&format!("{at}.interface"), "interface", &i.interface);
        for (n, tracked) in i.track_interfaces.iter().enumerate() {
            self.role(
                &format!("{at}.track_interface[{n}]"),
                "track_interface",
                &tracked.name,
            );
        }
        for (field, list) in [
            ("virtual_ipaddress", &i.vips),
            ("virtual_ipaddress_excluded", &i.excluded_vips),
        ] {
            for (n, vip) in list.iter().enumerate() {
                if let Some(dev) = &vip.dev {
                    self.role(&format!("{at}.{field}[{n}]"), "dev", dev);
                }
            }
        }
        let Some(role) = role else { return };
        let ipv6 = i.vips.first().is_some_and(|v| v.address.addr.is_ipv6());
        // keepalived's mcast_src_ip and unicast_src_ip both set the source.
        let given = match (i.unicast_src_ip, i.mcast_src_ip) {
            (Some(ip), _) => Some(("unicast_src_ip", ip)),
            (None, Some(ip)) => Some(("mcast_src_ip", ip)),
            (None, None) => None,
        };
        let source = match given {
            Some((keyword, ip)) => {
                self.own_address(&format!("{at}.{keyword}"), keyword, ip, Some(role));
                Some(ip)
            }
            // IPv6 sends from the link-local address the kernel gives every interface.
            None if ipv6 => None,
            None => {
                let primary = self
                    .addresses(role)
                    .iter()
                    .map(|p| p.addr)
                    .find(|a| a.is_ipv4() && !i.vips.iter().any(|v| v.address.addr == *a));
                if primary.is_none() {
                    self.push(
                        format!("{at}.interface"),
                        format!(
                            "interface: {role} has no IPv4 address in the configuration to send adverts from; give it one or set unicast_src_ip"
                        ),
                    );
                }
                primary
            }
        };
        let v6_source = source.map_or(ipv6, |s| s.is_ipv6());
        for (n, peer) in i.unicast_peers.iter().enumerate() {
            let path = format!("{at}.unicast_peer[{n}]");
            if peer.is_ipv6() != v6_source {
                let family = |v6: bool| if v6 { "IPv6" } else { "IPv4" };
                self.push(
                    &path,
                    format!(
                        "unicast_peer: {peer} is {}, but the instance sends {}",
                        family(peer.is_ipv6()),
                        family(v6_source)
                    ),
                );
            } else if self
                .native
                .interfaces
                .iter()
                .flat_map(|i| &i.addresses)
                .any(|p| p.addr == *peer)
            {
                self.push(
                    &path,
                    format!("unicast_peer: {peer} is this appliance's own address"),
                );
            }
        }
    }
}
