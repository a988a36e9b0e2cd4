//! keepalived's `use_vmac`, `use_vmac_addr` and `vmac_xmit_base`, planned (vrrp.c
//! vrrp_complete_instance): the instance's macvlan on its interface, named `vrrp.VRID`
//! unless given a name, holding the VIPs on that interface of the instance's family;
//! with `use_vmac_addr`, one more macvlan on each other interface (or family) that holds
//! VIPs, named `vrrpN.VRID`. Adverts leave through the macvlan, or through the parent
//! with `vmac_xmit_base`, which keepalived also forces for unicast peers.

use config::keepalived::{Keepalived, VrrpInstance};
use netif::vmac::{virtual_mac, Vmac};

use super::{LinkInfo, MemberSpec, Vip};

/// The macvlans of `i` and whether adverts leave through the parent; marks each VIP
/// that a macvlan holds.
pub(super) fn plan(
    i: &VrrpInstance,
    link: &LinkInfo,
    ipv6: bool,
    unicast: bool,
    vips: &mut [Vip],
    warnings: &mut Vec<String>,
) -> Result<(Vec<Vmac>, bool), String> {
    let Some(v) = &i.use_vmac else {
        return Ok((Vec::new(), false));
    };
    let given = v.mac.as_deref().map(parse_mac).transpose()?;
    let mac = |v6: bool| given.unwrap_or_else(|| virtual_mac(i.vrid, v6));
    let mut vmacs = vec![Vmac {
        name: v.name.clone().unwrap_or_else(|| default_name(0, i.vrid)),
        parent: link.index,
        parent_name: link.name.clone(),
        mac: mac(ipv6),
        ipv6,
    }];
    for vip in vips.iter_mut() {
        let v6 = vip.prefix.addr.is_ipv6();
        if vip.ifindex == link.index && v6 == ipv6 {
            vip.vmac = Some(0);
        } else if i.use_vmac_addr {
            let at = match vmacs
                .iter()
                .skip(1)
                .position(|m| m.parent == vip.ifindex && m.ipv6 == v6)
            {
                Some(n) => n + 1,
                None => {
                    vmacs.push(Vmac {
                        name: default_name(vmacs.len(), i.vrid),
                        parent: vip.ifindex,
                        parent_name: vip.ifname.clone(),
                        mac: mac(v6),
                        ipv6: v6,
                    });
                    vmacs.len() - 1
                }
            };
            vip.vmac = Some(at);
        }
    }
    let xmit_base = i.vmac_xmit_base || unicast;
    if unicast && !i.vmac_xmit_base {
        warnings.push(
            "use_vmac with unicast peers sends from the parent interface (vmac_xmit_base), as keepalived sets it"
                .into(),
        );
    }
    if ipv6 && !xmit_base {
        // keepalived puts the parent's link-local address on the macvlan to send from;
        // lvsfw does not yet.
        return Err(
            "use_vmac: an IPv6 instance needs vmac_xmit_base here (adverts from the parent's link-local address; the VIPs and their NAs are on the macvlan)"
                .into(),
        );
    }
    Ok((vmacs, xmit_base))
}

/// keepalived's names: `vrrp.VRID`, then `vrrp1.VRID`, `vrrp2.VRID` ...
fn default_name(n: usize, vrid: u8) -> String {
    if n == 0 {
        format!("vrrp.{vrid}")
    } else {
        format!("vrrp{n}.{vrid}")
    }
}

/// Two instances with the same VRID on different interfaces would both default to
/// `vrrp.VRID`: as keepalived, a name already taken moves to the next free one. Names
/// written in keepalived.conf stay as they are.
pub(super) fn unique_names<'a>(k: &Keepalived, members: impl Iterator<Item = &'a mut MemberSpec>) {
    let mut taken: Vec<String> = Vec::new();
    for m in members {
        let given = k
            .vrrp_instances
            .iter()
            .find(|i| i.name == m.name)
            .and_then(|i| i.use_vmac.as_ref())
            .and_then(|v| v.name.clone());
        let vrid = m.settings.vrid;
        for (n, vmac) in m.vmacs.iter_mut().enumerate() {
            let mine = n == 0 && given.is_some();
            if !mine && taken.contains(&vmac.name) {
                vmac.name = (0..)
                    .map(|n| default_name(n, vrid))
                    .find(|name| !taken.contains(name))
                    .unwrap_or_default();
            }
            taken.push(vmac.name.clone());
        }
    }
}

/// `xx:xx:xx:xx:xx:xx`, as the reader checked it.
fn parse_mac(text: &str) -> Result<[u8; 6], String> {
    let octets: Vec<u8> = text
        .split(':')
        .map(|o| u8::from_str_radix(o, 16))
        .collect::<Result<_, _>>()
        .map_err(|_| format!("use_vmac: \"{text}\" is not a MAC address"))?;
    octets
        .try_into()
        .map_err(|_| format!("use_vmac: \"{text}\" is not a MAC address"))
}
