//! What an instance tracks, with keepalived's weights and its rules for sync groups and
//! address owners (vrrp.c vrrp_complete_instance and sync_group_tracking_init,
//! add_vrrp_to_interface; vrrp_track.c):
//! - its interface and the interfaces of its VIPs, unweighted (FAULT when down), unless
//!   `dont_track_primary` (then the instance's own interface is not tracked);
//! - each `track_interface` and `track_script` with its weight; an interface the
//!   instance tracks anyway stays unweighted;
//! - in a sync group without `sync_group_tracking_weight` (or the older
//!   `global_tracking`), a member's own weights are dropped: weighted interfaces become
//!   unweighted, weighted scripts are not tracked; the address owner (255) drops its own
//!   weighted objects in any case;
//! - the sync group's `track_interface` and `track_script` apply to every member, with
//!   their weights, unweighted when a member is the address owner.

use config::keepalived::{Keepalived, SyncGroup, VrrpInstance};

use super::{LinkInfo, Resolve, Vip};
use crate::vrrp::tracking::{Object, Tracked};

const OWNER: u8 = vrrp::instance::OWNER_PRIORITY;

// Each argument is one thing keepalived's tracking reads.
#[allow(clippy::too_many_arguments)]
pub(super) fn tracked(
    k: &Keepalived,
    i: &VrrpInstance,
    sync: Option<&SyncGroup>,
    link: &LinkInfo,
    vips: &[Vip],
    route_links: &[(String, u32)],
    names: &dyn Resolve,
    warnings: &mut Vec<String>,
) -> Result<Vec<Tracked>, String> {
    let owner = i.priority == OWNER;
    let own_weights = sync.is_none_or(|g| g.sync_group_tracking_weight || g.global_tracking);
    let group_has_owner = sync.is_some_and(|g| {
        k.vrrp_instances
            .iter()
            .any(|m| g.members.contains(&m.name) && m.priority == OWNER)
    });
    let why = |what: &str| {
        if owner {
            format!("{what}: its weight is ignored (the address owner's priority never moves)")
        } else {
            format!(
                "{what}: its weight is ignored in a sync group without sync_group_tracking_weight"
            )
        }
    };
    let mut out: Vec<Tracked> = Vec::new();
    for t in &i.track_interfaces {
        let l = names.link(&t.name)?;
        if out.iter().any(|o| same_link(o, l.index)) {
            continue;
        }
        let mut weight = t.weight.unwrap_or(0);
        if weight != 0 && (owner || !own_weights) {
            warnings.push(why(&format!("track_interface {}", l.name)));
            if owner {
                continue;
            }
            weight = 0;
        }
        out.push(link_item(l, weight, t.reverse));
    }
    if !i.dont_track_primary {
        unweighted(&mut out, &link.name, link.index);
    }
    for vip in vips {
        if !(i.dont_track_primary && vip.ifindex == link.index) {
            unweighted(&mut out, &vip.ifname, vip.ifindex);
        }
    }
    // The links of the virtual routes and rules that are tracked (not no_track).
    for (name, index) in route_links {
        if !(i.dont_track_primary && *index == link.index) {
            unweighted(&mut out, name, *index);
        }
    }
    if let Some(g) = sync {
        for t in &g.track_interfaces {
            let l = names.link(&t.name)?;
            let weight = if group_has_owner {
                0
            } else {
                t.weight.unwrap_or(0)
            };
            match out.iter_mut().find(|o| same_link(o, l.index)) {
                // keepalived: the sync group's weight, unless the instance's is unweighted.
                Some(o) if o.weight != 0 => {
                    o.weight = weight;
                    o.reverse = t.reverse;
                }
                Some(_) => {}
                None => out.push(link_item(l, weight, t.reverse)),
            }
        }
    }
    for t in k.tracked_scripts(&i.track_scripts) {
        if t.weight != 0 && (owner || !own_weights) {
            warnings.push(why(&format!("track_script {}", t.script.name)));
            continue;
        }
        push_script(&mut out, &t.script.name, t.weight, t.reverse);
    }
    if let Some(g) = sync {
        for t in k.tracked_scripts(&g.track_scripts) {
            let weight = if group_has_owner { 0 } else { t.weight };
            push_script(&mut out, &t.script.name, weight, t.reverse);
        }
    }
    Ok(out)
}

fn same_link(t: &Tracked, index: u32) -> bool {
    matches!(t.object, Object::Link { index: i, .. } if i == index)
}

fn link_item(l: &LinkInfo, weight: i32, reverse: bool) -> Tracked {
    Tracked {
        object: Object::Link {
            name: l.name.clone(),
            index: l.index,
        },
        weight,
        reverse,
    }
}

/// A link the instance needs: unweighted, whatever weight a track_interface gave it
/// (keepalived's add_vrrp_to_interface leaves an unweighted entry as it is).
fn unweighted(out: &mut Vec<Tracked>, name: &str, index: u32) {
    match out.iter_mut().find(|o| same_link(o, index)) {
        Some(o) if o.weight != 0 => {
            o.weight = 0;
            o.reverse = false;
        }
        Some(_) => {}
        None => out.push(Tracked {
            object: Object::Link {
                name: name.to_string(),
                index,
            },
            weight: 0,
            reverse: false,
        }),
    }
}

/// keepalived ignores a script tracked twice ("duplicate track_script").
fn push_script(out: &mut Vec<Tracked>, name: &str, weight: i32, reverse: bool) {
    let object = Object::Script(name.to_string());
    if !out.iter().any(|o| o.object == object) {
        out.push(Tracked {
            object,
            weight,
            reverse,
        });
    }
}
