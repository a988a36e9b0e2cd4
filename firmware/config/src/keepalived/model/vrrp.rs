//! VRRP: instances, sync groups, tracked scripts, with keepalived's defaults.

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::check::Check;
use super::defaults;
use super::kept::Kept;
use super::route::{IpRoute, IpRule};
use crate::units::{opt_seconds, seconds};
use crate::IpPrefix;

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum InitialState {
    Master,
    Backup,
}

impl InitialState {
    pub fn keyword(self) -> &'static str {
        match self {
            InitialState::Master => "MASTER",
            InitialState::Backup => "BACKUP",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AuthType {
    Pass,
    Ah,
}

impl AuthType {
    pub fn keyword(self) -> &'static str {
        match self {
            AuthType::Pass => "PASS",
            AuthType::Ah => "AH",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authentication {
    pub auth_type: AuthType,
    /// At most 8 characters, as keepalived uses them (RFC 3768 §5.3.10).
    pub auth_pass: String,
}

/// One line of `virtual_ipaddress` (and `static_ipaddress`):
/// `ADDR[/LEN] [brd ADDR] [dev IF] [label L] [scope S]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vip {
    pub address: IpPrefix,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brd: Option<IpAddr>,
    /// `dev IF`; the instance's interface when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// One line of `track_interface`: `IF [weight N [reverse]]`. Without a weight, the
/// interface going down puts the instance in FAULT. In JSON a plain name (as before
/// weights were read) or an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "TrackInterfaceJson", into = "TrackInterfaceJson")]
pub struct TrackInterface {
    pub name: String,
    /// -253 to 253; keepalived's rules as for [`TrackScript`].
    pub weight: Option<i32>,
    pub reverse: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum TrackInterfaceJson {
    Name(String),
    Weighted {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weight: Option<i32>,
        #[serde(default, skip_serializing_if = "is_false")]
        reverse: bool,
    },
}

impl From<TrackInterfaceJson> for TrackInterface {
    fn from(j: TrackInterfaceJson) -> Self {
        match j {
            TrackInterfaceJson::Name(name) => TrackInterface {
                name,
                weight: None,
                reverse: false,
            },
            TrackInterfaceJson::Weighted {
                name,
                weight,
                reverse,
            } => TrackInterface {
                name,
                weight,
                reverse,
            },
        }
    }
}

impl From<TrackInterface> for TrackInterfaceJson {
    fn from(t: TrackInterface) -> Self {
        if t.weight.is_none() && !t.reverse {
            TrackInterfaceJson::Name(t.name)
        } else {
            TrackInterfaceJson::Weighted {
                name: t.name,
                weight: t.weight,
                reverse: t.reverse,
            }
        }
    }
}

/// One line of `track_script`: `NAME [weight N [reverse|noreverse]]`; the weight and
/// direction are the vrrp_script's own when absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackScript {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
    /// `reverse` (true) or `noreverse` (false) after the weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverse: Option<bool>,
}

/// `use_vmac [IFNAME] [MAC]`: the instance's VIPs on a macvlan whose MAC is the VRRP
/// virtual MAC 00:00:5e:00:01:VRID (or the MAC given).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UseVmac {
    /// The macvlan's name; keepalived's default is `vrrp.VRID`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A MAC of its own, `xx:xx:xx:xx:xx:xx`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VrrpInstance {
    pub name: String,
    #[serde(default = "backup")]
    pub state: InitialState,
    pub interface: String,
    #[serde(rename = "virtual_router_id")]
    pub vrid: u8,
    #[serde(default = "defaults::priority")]
    pub priority: u8,
    #[serde(default = "defaults::advert_int", with = "seconds")]
    pub advert_int: Duration,
    /// `version` of the instance; the global `vrrp_version` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u8>,
    #[serde(
        default,
        rename = "authentication",
        skip_serializing_if = "Option::is_none"
    )]
    pub auth: Option<Authentication>,
    #[serde(default, rename = "virtual_ipaddress")]
    pub vips: Vec<Vip>,
    #[serde(
        default,
        rename = "virtual_ipaddress_excluded",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub excluded_vips: Vec<Vip>,
    #[serde(default)]
    pub nopreempt: bool,
    #[serde(default, with = "seconds")]
    pub preempt_delay: Duration,
    #[serde(
        default,
        rename = "track_interface",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub track_interfaces: Vec<TrackInterface>,
    #[serde(
        default,
        rename = "track_script",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub track_scripts: Vec<TrackScript>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unicast_src_ip: Option<IpAddr>,
    #[serde(
        default,
        rename = "unicast_peer",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub unicast_peers: Vec<IpAddr>,
    /// The instance's own; the global `vrrp_garp_master_*` when absent.
    #[serde(default, with = "opt_seconds", skip_serializing_if = "Option::is_none")]
    pub garp_master_delay: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub garp_master_repeat: Option<u32>,
    #[serde(default, with = "opt_seconds", skip_serializing_if = "Option::is_none")]
    pub garp_master_refresh: Option<Duration>,
    /// `accept` / `no_accept`; absent: keepalived's default (accept unless strict).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept: Option<bool>,
    /// `strict_mode`; the global `vrrp_strict` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict_mode: Option<bool>,
    // From here on, KEYWORDS.md says which the appliance acts on yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_vmac: Option<UseVmac>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub use_vmac_addr: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub vmac_xmit_base: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcast_src_ip: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcast_dst_ip: Option<IpAddr>,
    /// 1 to 255.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unicast_ttl: Option<u8>,
    /// The instance's own; the global `vrrp_check_unicast_src` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_unicast_src: Option<bool>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub unicast_fault_no_peer: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub dont_track_primary: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub virtual_routes: Vec<IpRoute>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub virtual_rules: Vec<IpRule>,
    /// The instance's own; the global `smtp_alert` / `smtp_alert_vrrp` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_alert: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub garp_master_refresh_repeat: Option<u32>,
    #[serde(default, with = "opt_seconds", skip_serializing_if = "Option::is_none")]
    pub garp_lower_prio_delay: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub garp_lower_prio_repeat: Option<u32>,
    /// The instance's own; the global `vrrp_lower_prio_no_advert` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lower_prio_no_advert: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub higher_prio_send_advert: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_check_adv_addr: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_ignore_adverts: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v3_checksum_as_v2: Option<bool>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub no_virtual_ipaddress: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub native_ipv6: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub track_src_ip: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub promote_secondaries: bool,
    /// 1 to 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down_timer_adverts: Option<u32>,
    /// Noted keywords (notify scripts, ...), word for word.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub noted: Vec<Kept>,
}

fn backup() -> InitialState {
    InitialState::Backup
}

impl VrrpInstance {
    /// An instance with keepalived's defaults; `virtual_router_id` 0 stands for "not set".
    pub fn new(name: &str) -> VrrpInstance {
        VrrpInstance {
            name: name.into(),
            state: InitialState::Backup,
            interface: String::new(),
            vrid: 0,
            priority: defaults::PRIORITY,
            advert_int: defaults::ADVERT_INT,
            version: None,
            auth: None,
            vips: Vec::new(),
            excluded_vips: Vec::new(),
            nopreempt: false,
            preempt_delay: Duration::ZERO,
            track_interfaces: Vec::new(),
            track_scripts: Vec::new(),
            unicast_src_ip: None,
            unicast_peers: Vec::new(),
            garp_master_delay: None,
            garp_master_repeat: None,
            garp_master_refresh: None,
            accept: None,
            strict_mode: None,
            use_vmac: None,
            use_vmac_addr: false,
            vmac_xmit_base: false,
            mcast_src_ip: None,
            mcast_dst_ip: None,
            unicast_ttl: None,
            check_unicast_src: None,
            unicast_fault_no_peer: false,
            dont_track_primary: false,
            virtual_routes: Vec::new(),
            virtual_rules: Vec::new(),
            smtp_alert: None,
            garp_master_refresh_repeat: None,
            garp_lower_prio_delay: None,
            garp_lower_prio_repeat: None,
            lower_prio_no_advert: None,
            higher_prio_send_advert: None,
            skip_check_adv_addr: None,
            owner_ignore_adverts: None,
            v3_checksum_as_v2: None,
            no_virtual_ipaddress: false,
            native_ipv6: false,
            track_src_ip: false,
            promote_secondaries: false,
            down_timer_adverts: None,
            noted: Vec::new(),
        }
    }

    /// The VRRP version the instance speaks: its own, else the global one.
    pub fn effective_version(&self, global: &super::GlobalDefs) -> u8 {
        self.version.unwrap_or(global.vrrp_version)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncGroup {
    pub name: String,
    /// The `group { ... }` block: names of vrrp_instances.
    #[serde(rename = "group")]
    pub members: Vec<String>,
    #[serde(
        default,
        rename = "track_interface",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub track_interfaces: Vec<TrackInterface>,
    #[serde(
        default,
        rename = "track_script",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub track_scripts: Vec<TrackScript>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_alert: Option<bool>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub global_tracking: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub sync_group_tracking_weight: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub noted: Vec<Kept>,
}

impl SyncGroup {
    pub fn new(name: &str) -> SyncGroup {
        SyncGroup {
            name: name.into(),
            members: Vec::new(),
            track_interfaces: Vec::new(),
            track_scripts: Vec::new(),
            smtp_alert: None,
            global_tracking: false,
            sync_group_tracking_weight: false,
            noted: Vec::new(),
        }
    }
}

/// `vrrp_script NAME { ... }`. keepalived's runs `script`, which the appliance cannot
/// (kept in `noted`); lvsfw's holds a native `check` instead (see KEYWORDS.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VrrpScript {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<Check>,
    /// Between two checks; keepalived's default 1 s.
    #[serde(default = "defaults::script_interval", with = "seconds")]
    pub interval: Duration,
    /// The check's connect_timeout unless it sets one; absent: the interval.
    #[serde(default, with = "opt_seconds", skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// -253 to 253, keepalived's default 0.
    #[serde(default)]
    pub weight: i32,
    #[serde(default, skip_serializing_if = "is_false")]
    pub reverse: bool,
    /// Successes in a row before the script counts as up; keepalived's default 1.
    #[serde(default = "defaults::one")]
    pub rise: u32,
    #[serde(default = "defaults::one")]
    pub fall: u32,
    /// Start as failed rather than as up.
    #[serde(default, skip_serializing_if = "is_false")]
    pub init_fail: bool,
    /// `script` and `user`, word for word.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub noted: Vec<Kept>,
}

impl VrrpScript {
    pub fn new(name: &str) -> VrrpScript {
        VrrpScript {
            name: name.into(),
            check: None,
            interval: defaults::SCRIPT_INTERVAL,
            timeout: None,
            weight: 0,
            reverse: false,
            rise: 1,
            fall: 1,
            init_fail: false,
            noted: Vec::new(),
        }
    }
}

/// A vrrp_script with a native check as one instance tracks it: the weight and direction
/// that apply (the track_script line's, else the script's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tracked<'a> {
    pub script: &'a VrrpScript,
    pub weight: i32,
    pub reverse: bool,
}

impl Tracked<'_> {
    /// keepalived's rule for one tracked item whose check is `up`: see [`track_effect`].
    pub fn effect(&self, up: bool) -> Option<i32> {
        track_effect(self.weight, self.reverse, up)
    }
}

/// keepalived's rule for one tracked item (interface or script) that is `up` or not:
/// what it adds to the priority, or `None` when it puts the instance in FAULT. weight > 0
/// adds while up, weight < 0 subtracts while down, weight 0 faults while down. `reverse`
/// turns the adjustment round (keepalived.conf(5): "the priority is decreased when up and
/// increased when down"): weight > 0 subtracts while up, weight < 0 adds while down, and
/// weight 0 faults while up (vrrp_track.c multiplies the weight by -1).
pub fn track_effect(weight: i32, reverse: bool, up: bool) -> Option<i32> {
    let sign = if reverse { -1 } else { 1 };
    match weight {
        0 if up == reverse => None,
        0 => Some(0),
        w if w > 0 => Some(if up { w * sign } else { 0 }),
        w => Some(if up { 0 } else { w * sign }),
    }
}

/// keepalived's effective priority: the base plus every tracked effect, kept within
/// 1..=254; an address owner (255) stays 255; `None` is FAULT.
pub fn effective_priority(base: u8, effects: impl IntoIterator<Item = Option<i32>>) -> Option<u8> {
    let mut sum = 0i32;
    for e in effects {
        sum += e?;
    }
    if base == 255 {
        return Some(255);
    }
    Some((i32::from(base) + sum).clamp(1, 254) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracked(script: &VrrpScript, weight: i32, reverse: bool) -> Tracked<'_> {
        Tracked {
            script,
            weight,
            reverse,
        }
    }

    #[test]
    fn keepalived_s_weight_rules() {
        let s = VrrpScript::new("s");
        assert_eq!(tracked(&s, 10, false).effect(true), Some(10));
        assert_eq!(tracked(&s, 10, false).effect(false), Some(0));
        assert_eq!(tracked(&s, -20, false).effect(true), Some(0));
        assert_eq!(tracked(&s, -20, false).effect(false), Some(-20));
        assert_eq!(tracked(&s, 0, false).effect(false), None);
        assert_eq!(tracked(&s, 0, false).effect(true), Some(0));
        // reverse: keepalived multiplies the weight by -1 (vrrp_track.c): a positive
        // weight is taken off while up, a negative one is given while down.
        assert_eq!(tracked(&s, 10, true).effect(true), Some(-10));
        assert_eq!(tracked(&s, 10, true).effect(false), Some(0));
        assert_eq!(tracked(&s, -20, true).effect(false), Some(20));
        assert_eq!(tracked(&s, -20, true).effect(true), Some(0));
        assert_eq!(tracked(&s, 0, true).effect(true), None);
        assert_eq!(tracked(&s, 0, true).effect(false), Some(0));
    }

    #[test]
    fn effective_priority_is_bounded_and_fault_wins() {
        assert_eq!(effective_priority(100, [Some(10), Some(-20)]), Some(90));
        assert_eq!(effective_priority(250, [Some(10)]), Some(254));
        assert_eq!(effective_priority(10, [Some(-50)]), Some(1));
        assert_eq!(effective_priority(255, [Some(-50)]), Some(255));
        assert_eq!(effective_priority(100, [Some(10), None]), None);
    }
}
