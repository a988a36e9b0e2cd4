//! The configuration page's forms as edits of the keepalived model: VRRP priority and
//! VIPs, a virtual server's delay_loop and scheduler, real servers (add, remove, weight,
//! enable/disable, check timing). Pure: an edit either changes the model and says what
//! it did in keepalived's words, or names the field that was wrong and changes nothing.

use std::net::IpAddr;
use std::time::Duration;

use config::keepalived::{Keepalived, RealServer, Vip, VirtualServer, VsKey, SCHEDULERS};
use config::IpPrefix;

use crate::form::{format_seconds, Form};

/// keepalived's range for a real server's `weight`.
pub const MAX_WEIGHT: u32 = 65_535;

#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    Priority {
        instance: usize,
        priority: u8,
    },
    AddVip {
        instance: usize,
        vip: Vip,
    },
    RemoveVip {
        instance: usize,
        vip: usize,
    },
    SetVirtualServer {
        vs: usize,
        delay_loop: Duration,
        lb_algo: String,
    },
    SetRealServer {
        vs: usize,
        rs: usize,
        weight: u32,
        /// Applied to every check of the server; `None` leaves them.
        connect_timeout: Option<Duration>,
        retry: Option<u32>,
        delay_before_retry: Option<Duration>,
    },
    /// Weight 0: IPVS keeps the server's connections but sends it no new ones.
    DisableRealServer {
        vs: usize,
        rs: usize,
    },
    /// Back to weight 1 (a disabled server's old weight is not kept anywhere).
    EnableRealServer {
        vs: usize,
        rs: usize,
    },
    RemoveRealServer {
        vs: usize,
        rs: usize,
    },
    /// A new real server; its checks are copied from the virtual server's first real
    /// server, so that it is checked the same way.
    AddRealServer {
        vs: usize,
        ip: IpAddr,
        port: u16,
        weight: u32,
    },
}

fn index(form: &Form, name: &str) -> Result<usize, String> {
    form.number(name, "an index")
}

fn weight(form: &Form) -> Result<u32, String> {
    let w: u32 = form.number("weight", "a weight from 0 to 65535")?;
    if w > MAX_WEIGHT {
        return Err(format!("weight: {w} is not from 0 to {MAX_WEIGHT}"));
    }
    Ok(w)
}

/// An optional field: empty means "leave as it is".
fn optional<T>(
    form: &Form,
    name: &str,
    read: impl Fn(&Form, &str) -> Result<T, String>,
) -> Result<Option<T>, String> {
    match form.get(name) {
        None => Ok(None),
        Some(v) if v.trim().is_empty() => Ok(None),
        Some(_) => read(form, name).map(Some),
    }
}

impl Edit {
    /// The edit a form asks for (its `op` field says which).
    pub fn from_form(form: &Form) -> Result<Edit, String> {
        let op = form.text("op")?;
        Ok(match op {
            "priority" => {
                let priority: u8 = form.number("priority", "a priority from 1 to 255")?;
                if priority == 0 {
                    return Err("priority: 0 is not from 1 to 255".into());
                }
                Edit::Priority {
                    instance: index(form, "instance")?,
                    priority,
                }
            }
            "vip-add" => {
                let text = form.text("address")?.trim();
                let address: IpPrefix = text.parse().map_err(|e| format!("address: {e}"))?;
                let dev = form
                    .get("dev")
                    .map(str::trim)
                    .filter(|d| !d.is_empty())
                    .map(str::to_string);
                Edit::AddVip {
                    instance: index(form, "instance")?,
                    vip: Vip {
                        address,
                        brd: None,
                        dev,
                        label: None,
                        scope: None,
                    },
                }
            }
            "vip-remove" => Edit::RemoveVip {
                instance: index(form, "instance")?,
                vip: index(form, "vip")?,
            },
            "vs-set" => {
                let lb_algo = form.text("lb_algo")?.trim().to_string();
                if !SCHEDULERS.contains(&lb_algo.as_str()) {
                    return Err(format!(
                        "lb_algo: \"{lb_algo}\" is not a scheduler (expected one of {})",
                        SCHEDULERS.join(" ")
                    ));
                }
                let delay_loop = form.seconds("delay_loop")?;
                if delay_loop.is_zero() {
                    return Err("delay_loop: must be more than 0 seconds".into());
                }
                Edit::SetVirtualServer {
                    vs: index(form, "vs")?,
                    delay_loop,
                    lb_algo,
                }
            }
            "rs-set" => Edit::SetRealServer {
                vs: index(form, "vs")?,
                rs: index(form, "rs")?,
                weight: weight(form)?,
                connect_timeout: optional(form, "connect_timeout", Form::seconds)?,
                retry: optional(form, "retry", |f, n| f.number(n, "a number of retries"))?,
                delay_before_retry: optional(form, "delay_before_retry", Form::seconds)?,
            },
            "rs-disable" => Edit::DisableRealServer {
                vs: index(form, "vs")?,
                rs: index(form, "rs")?,
            },
            "rs-enable" => Edit::EnableRealServer {
                vs: index(form, "vs")?,
                rs: index(form, "rs")?,
            },
            "rs-remove" => Edit::RemoveRealServer {
                vs: index(form, "vs")?,
                rs: index(form, "rs")?,
            },
            "rs-add" => {
                let text = form.text("ip")?.trim();
                let ip: IpAddr = text
                    .parse()
                    .map_err(|_| format!("ip: \"{text}\" is not an IPv4 or IPv6 address"))?;
                Edit::AddRealServer {
                    vs: index(form, "vs")?,
                    ip,
                    port: form.number("port", "a port from 0 to 65535")?,
                    weight: weight(form)?,
                }
            }
            other => return Err(format!("op: \"{other}\" is not an edit this page makes")),
        })
    }

    /// Applies the edit to `k`; what changed, in keepalived's words.
    pub fn apply(&self, k: &mut Keepalived) -> Result<String, String> {
        match self {
            Edit::Priority { instance, priority } => {
                let i = instance_mut(k, *instance)?;
                let old = i.priority;
                i.priority = *priority;
                Ok(format!(
                    "vrrp_instance {}: priority {old} -> {priority}",
                    i.name
                ))
            }
            Edit::AddVip { instance, vip } => {
                let i = instance_mut(k, *instance)?;
                if i.vips.iter().any(|v| v.address.addr == vip.address.addr) {
                    return Err(format!(
                        "vrrp_instance {}: {} is already a virtual_ipaddress",
                        i.name, vip.address.addr
                    ));
                }
                i.vips.push(vip.clone());
                Ok(format!(
                    "vrrp_instance {}: virtual_ipaddress {} added",
                    i.name, vip.address
                ))
            }
            Edit::RemoveVip { instance, vip } => {
                let i = instance_mut(k, *instance)?;
                if *vip >= i.vips.len() {
                    return Err(gone("virtual_ipaddress"));
                }
                let removed = i.vips.remove(*vip);
                Ok(format!(
                    "vrrp_instance {}: virtual_ipaddress {} removed",
                    i.name, removed.address
                ))
            }
            Edit::SetVirtualServer {
                vs,
                delay_loop,
                lb_algo,
            } => {
                let v = vs_mut(k, *vs)?;
                let mut said = Vec::new();
                if v.delay_loop != *delay_loop {
                    said.push(format!(
                        "delay_loop {} -> {}",
                        format_seconds(v.delay_loop),
                        format_seconds(*delay_loop)
                    ));
                    v.delay_loop = *delay_loop;
                }
                if v.lb_algo != *lb_algo {
                    said.push(format!("lb_algo {} -> {lb_algo}", v.lb_algo));
                    v.lb_algo = lb_algo.clone();
                }
                Ok(format!("{}: {}", vs_name(v), changes(said)))
            }
            Edit::SetRealServer {
                vs,
                rs,
                weight,
                connect_timeout,
                retry,
                delay_before_retry,
            } => {
                let (v, r) = rs_mut(k, *vs, *rs)?;
                let mut said = Vec::new();
                if r.weight != *weight {
                    said.push(format!("weight {} -> {weight}", r.weight));
                    r.weight = *weight;
                }
                for check in &mut r.checks {
                    if let Some(t) = connect_timeout.filter(|t| *t != check.connect_timeout) {
                        said.push(format!(
                            "{} connect_timeout {} -> {}",
                            check.kind.keyword(),
                            format_seconds(check.connect_timeout),
                            format_seconds(t)
                        ));
                        check.connect_timeout = t;
                    }
                    if let Some(n) = retry.filter(|n| *n != check.retry) {
                        said.push(format!(
                            "{} retry {} -> {n}",
                            check.kind.keyword(),
                            check.retry
                        ));
                        check.retry = n;
                    }
                    let current = check.delay_before_retry_or_default();
                    if let Some(d) = delay_before_retry.filter(|d| Some(*d) != current) {
                        said.push(format!(
                            "{} delay_before_retry {} -> {}",
                            check.kind.keyword(),
                            current.map(format_seconds).unwrap_or_else(|| "none".into()),
                            format_seconds(d)
                        ));
                        check.delay_before_retry = Some(d);
                    }
                }
                Ok(format!("{}: {}", rs_name(&v, r), changes(said)))
            }
            Edit::DisableRealServer { vs, rs } => {
                let (v, r) = rs_mut(k, *vs, *rs)?;
                let old = r.weight;
                r.weight = 0;
                Ok(format!("{}: disabled (weight {old} -> 0)", rs_name(&v, r)))
            }
            Edit::EnableRealServer { vs, rs } => {
                let (v, r) = rs_mut(k, *vs, *rs)?;
                if r.weight > 0 {
                    return Ok(format!(
                        "{}: already enabled (weight {})",
                        rs_name(&v, r),
                        r.weight
                    ));
                }
                r.weight = 1;
                Ok(format!("{}: enabled (weight 0 -> 1)", rs_name(&v, r)))
            }
            Edit::RemoveRealServer { vs, rs } => {
                let v = vs_mut(k, *vs)?;
                if *rs >= v.real_servers.len() {
                    return Err(gone("real_server"));
                }
                let removed = v.real_servers.remove(*rs);
                Ok(format!("{}: removed", rs_name(&vs_name(v), &removed)))
            }
            Edit::AddRealServer {
                vs,
                ip,
                port,
                weight,
            } => {
                let v = vs_mut(k, *vs)?;
                if v.real_servers
                    .iter()
                    .any(|r| r.ip == *ip && r.port == *port)
                {
                    return Err(format!(
                        "{}: real_server {ip} {port} is already there",
                        vs_name(v)
                    ));
                }
                let checks = v
                    .real_servers
                    .first()
                    .map(|r| r.checks.clone())
                    .unwrap_or_default();
                let inhibit_on_failure = v.real_servers.first().and_then(|r| r.inhibit_on_failure);
                let added = RealServer {
                    weight: *weight,
                    inhibit_on_failure,
                    checks,
                    ..RealServer::new(*ip, *port)
                };
                let name = rs_name(&vs_name(v), &added);
                v.real_servers.push(added);
                Ok(format!("{name}: added with weight {weight}"))
            }
        }
    }
}

fn changes(said: Vec<String>) -> String {
    if said.is_empty() {
        "nothing changed".into()
    } else {
        said.join(", ")
    }
}

/// The page was made from another candidate: the item it named is not there any more.
fn gone(what: &str) -> String {
    format!("that {what} is not in the candidate any more; reload the page")
}

fn instance_mut(
    k: &mut Keepalived,
    i: usize,
) -> Result<&mut config::keepalived::VrrpInstance, String> {
    k.vrrp_instances
        .get_mut(i)
        .ok_or_else(|| gone("vrrp_instance"))
}

fn vs_mut(k: &mut Keepalived, i: usize) -> Result<&mut VirtualServer, String> {
    k.virtual_servers
        .get_mut(i)
        .ok_or_else(|| gone("virtual_server"))
}

fn rs_mut(k: &mut Keepalived, vs: usize, rs: usize) -> Result<(String, &mut RealServer), String> {
    let v = vs_mut(k, vs)?;
    let name = vs_name(v);
    let r = v
        .real_servers
        .get_mut(rs)
        .ok_or_else(|| gone("real_server"))?;
    Ok((name, r))
}

/// `virtual_server 192.168.0.100 80`, as keepalived.conf says it.
pub fn vs_name(v: &VirtualServer) -> String {
    match &v.key {
        VsKey::Addr { ip, port } => format!("virtual_server {ip} {port}"),
        VsKey::Fwmark(mark) => format!("virtual_server fwmark {mark}"),
        VsKey::Group(name) => format!("virtual_server group {name}"),
    }
}

fn rs_name(vs: &str, r: &RealServer) -> String {
    format!("{vs}: real_server {} {}", r.ip, r.port)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = include_str!("../../config/testdata/seed-3-1.conf");
    const PAIR: &str = include_str!("../../config/testdata/seed-3-2.conf");

    fn form(text: &str) -> Form {
        Form::parse(text.as_bytes()).unwrap()
    }

    fn seed() -> Keepalived {
        config::keepalived::read_text(SEED, "seed").unwrap().config
    }

    fn edit(k: &mut Keepalived, text: &str) -> Result<String, String> {
        Edit::from_form(&form(text))?.apply(k)
    }

    #[test]
    fn a_weight_set_through_the_form() {
        let mut k = seed();
        let said = edit(
            &mut k,
            "op=rs-set&vs=0&rs=0&weight=0&connect_timeout=&retry=&delay_before_retry=",
        )
        .unwrap();
        assert_eq!(
            said,
            "virtual_server 192.168.0.100 80: real_server 192.168.33.11 80: weight 1 -> 0"
        );
        assert_eq!(k.virtual_servers[0].real_servers[0].weight, 0);
        assert_eq!(k.virtual_servers[0].real_servers[1].weight, 1);
    }

    #[test]
    fn check_timing_is_set_on_every_check_of_the_server() {
        let mut k = seed();
        let said = edit(
            &mut k,
            "op=rs-set&vs=0&rs=1&weight=1&connect_timeout=2.5&retry=5&delay_before_retry=3",
        )
        .unwrap();
        assert_eq!(
            said,
            "virtual_server 192.168.0.100 80: real_server 192.168.33.12 80: HTTP_GET connect_timeout 3 -> 2.5, HTTP_GET retry 3 -> 5"
        );
        let check = &k.virtual_servers[0].real_servers[1].checks[0];
        assert_eq!(check.connect_timeout, Duration::from_millis(2500));
        assert_eq!(check.retry, 5);
    }

    #[test]
    fn disable_enable_remove_and_add() {
        let mut k = seed();
        assert_eq!(
            edit(&mut k, "op=rs-disable&vs=0&rs=1").unwrap(),
            "virtual_server 192.168.0.100 80: real_server 192.168.33.12 80: disabled (weight 1 -> 0)"
        );
        assert_eq!(
            edit(&mut k, "op=rs-enable&vs=0&rs=1").unwrap(),
            "virtual_server 192.168.0.100 80: real_server 192.168.33.12 80: enabled (weight 0 -> 1)"
        );
        edit(&mut k, "op=rs-remove&vs=0&rs=0").unwrap();
        assert_eq!(k.virtual_servers[0].real_servers.len(), 1);
        assert_eq!(
            edit(&mut k, "op=rs-add&vs=0&ip=192.168.33.13&port=80&weight=2").unwrap(),
            "virtual_server 192.168.0.100 80: real_server 192.168.33.13 80: added with weight 2"
        );
        let added = &k.virtual_servers[0].real_servers[1];
        assert_eq!(added.checks, k.virtual_servers[0].real_servers[0].checks);
        assert_eq!(added.inhibit_on_failure, Some(true));
        assert_eq!(
            edit(&mut k, "op=rs-add&vs=0&ip=192.168.33.13&port=80&weight=2").unwrap_err(),
            "virtual_server 192.168.0.100 80: real_server 192.168.33.13 80 is already there"
        );
    }

    #[test]
    fn vrrp_priority_and_vips() {
        let mut k = config::keepalived::read_text(PAIR, "pair").unwrap().config;
        let name = k.vrrp_instances[0].name.clone();
        assert_eq!(
            edit(&mut k, "op=priority&instance=0&priority=150").unwrap(),
            format!("vrrp_instance {name}: priority 100 -> 150")
        );
        let before = k.vrrp_instances[0].vips.len();
        edit(
            &mut k,
            "op=vip-add&instance=0&address=192.168.0.200%2F24&dev=eth2",
        )
        .unwrap();
        assert_eq!(k.vrrp_instances[0].vips.len(), before + 1);
        assert_eq!(
            k.vrrp_instances[0].vips[before].dev.as_deref(),
            Some("eth2")
        );
        edit(&mut k, &format!("op=vip-remove&instance=0&vip={before}")).unwrap();
        assert_eq!(k.vrrp_instances[0].vips.len(), before);
    }

    #[test]
    fn bad_fields_are_named_and_change_nothing() {
        let mut k = seed();
        let before = k.clone();
        for (text, error) in [
            ("op=rs-set&vs=0&rs=0&weight=70000", "weight: 70000 is not from 0 to 65535"),
            ("op=rs-set&vs=0&rs=0&weight=-1", "weight: \"-1\" is not a weight from 0 to 65535"),
            ("op=rs-set&vs=0&rs=9&weight=1", "that real_server is not in the candidate any more; reload the page"),
            ("op=rs-set&vs=0&rs=0&weight=1&connect_timeout=soon", "connect_timeout: \"soon\" is not a number of seconds (such as 3 or 0.5)"),
            ("op=vs-set&vs=0&delay_loop=6&lb_algo=rx", "lb_algo: \"rx\" is not a scheduler (expected one of rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh)"),
            ("op=vs-set&vs=0&delay_loop=0&lb_algo=rr", "delay_loop: must be more than 0 seconds"),
            ("op=priority&instance=0&priority=0", "priority: 0 is not from 1 to 255"),
            ("op=priority&instance=0&priority=256", "priority: \"256\" is not a priority from 1 to 255"),
            ("op=vip-add&instance=0&address=1.2.3", "address: \"1.2.3\" is not an IPv4 or IPv6 address"),
            ("op=rs-add&vs=0&ip=x&port=80&weight=1", "ip: \"x\" is not an IPv4 or IPv6 address"),
            ("op=explode", "op: \"explode\" is not an edit this page makes"),
            ("vs=0", "the form has no field \"op\""),
        ] {
            assert_eq!(edit(&mut k, text).unwrap_err(), error, "{text}");
        }
        assert_eq!(k, before);
    }
}
