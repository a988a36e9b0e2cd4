//! The native configuration: JSON, as the web API and the config partition carry it.
//!
//! Parsing happens in two steps: serde_json reads the text into a raw tree of strings
//! and numbers (a syntax or type error names its line and column), then [`validate`]
//! turns that into a [`Config`], collecting every problem with the JSON path where it
//! was found. The `keepalived` part is the keepalived model itself (its fields named by
//! keepalived's keywords), checked by the same validation as a keepalived.conf.
//! [`to_json`] writes a configuration back, so JSON → model → JSON gives the same text.
//!
//! serde_json rather than the design card's serde-json-core: serde-json-core reports no
//! position for an error, and with its `custom-error-messages` feature it panics on an
//! unknown-field message longer than 64 bytes.

use std::collections::HashSet;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::keepalived::{self, Keepalived};
use crate::{Admin, Config, Interface, IpPrefix, Issues, PasswordHash, Role, Route, Vlan};
use crate::{MAX_ADDRESSES_PER_INTERFACE, MAX_ROUTES};

/// The largest native configuration accepted, in bytes: room for 10,000 virtual servers
/// of 10 real servers each with their checks.
pub const MAX_TEXT_LEN: usize = 64 << 20;

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    hostname: Option<String>,
    interfaces: Option<Vec<RawInterface>>,
    routes: Option<Vec<RawRoute>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    admin: Option<RawAdmin>,
    keepalived: Option<Keepalived>,
    #[serde(skip_serializing_if = "Option::is_none")]
    syslog: Option<Vec<crate::syslog::RawSyslogServer>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    ntp_servers: Vec<String>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawInterface {
    role: String,
    addresses: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mtu: Option<u32>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    accept_ra: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    vlan: Option<RawVlan>,
}

/// `"vlan": {"id": 10, "on": "int"}`: the role is VLAN 10 on int's link.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawVlan {
    id: u16,
    on: String,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    to: String,
    via: String,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawAdmin {
    #[serde(skip_serializing_if = "Option::is_none")]
    management_address: Option<String>,
    /// `$pbkdf2-sha256$i=…$salt$hash`; see [`PasswordHash`].
    #[serde(skip_serializing_if = "Option::is_none")]
    password_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics_token_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    console_idle_timeout: Option<u32>,
}

/// The configuration as native JSON, pretty-printed; [`from_json`] reads it back to the
/// same configuration.
pub fn to_json(config: &Config) -> String {
    let admin = &config.admin;
    let raw = RawConfig {
        hostname: config.hostname.clone(),
        interfaces: Some(
            config
                .interfaces
                .iter()
                .map(|i| RawInterface {
                    role: i.role.name().into(),
                    addresses: Some(i.addresses.iter().map(|a| a.to_string()).collect()),
                    mtu: i.mtu,
                    accept_ra: i.accept_ra,
                    vlan: i.vlan.map(|v| RawVlan {
                        id: v.id,
                        on: v.on.name().into(),
                    }),
                })
                .collect(),
        ),
        routes: Some(
            config
                .routes
                .iter()
                .map(|r| RawRoute {
                    to: r.to.to_string(),
                    via: r.via.to_string(),
                })
                .collect(),
        ),
        admin: (*admin != Admin::default()).then(|| RawAdmin {
            management_address: admin.management_address.map(|a| a.to_string()),
            password_hash: admin.password.as_ref().map(|p| p.to_string()),
            metrics_token_sha256: admin.metrics_token_sha256.clone(),
            console_idle_timeout: admin.console_idle_timeout,
        }),
        keepalived: Some(config.keepalived.clone()),
        syslog: crate::syslog::to_raw(&config.syslog),
        ntp_servers: config.ntp_servers.iter().map(|a| a.to_string()).collect(),
    };
    let mut text = serde_json::to_string_pretty(&raw).expect("the model always serializes");
    text.push('\n');
    text
}

/// Which parts a native JSON text leaves out of [`to_json`]'s whole document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Without {
    /// `keepalived`: config.json and the page's native editor leave it to keepalived.conf.
    pub keepalived: bool,
    /// `admin.password_hash` (and `admin` when nothing else is in it): what the page
    /// shows never carries the hash.
    pub password_hash: bool,
}

/// The configuration as a JSON value without the parts `without` names: the one helper
/// behind config.json, the page's native editor and the API's export.
pub fn to_value(config: &Config, without: Without) -> serde_json::Value {
    let mut value: serde_json::Value =
        serde_json::from_str(&to_json(config)).unwrap_or(serde_json::Value::Null);
    if without.keepalived {
        if let Some(object) = value.as_object_mut() {
            object.remove("keepalived");
        }
    }
    if without.password_hash {
        strip_password_hash(&mut value);
    }
    value
}

/// [`to_value`] as pretty text with a final newline.
pub fn to_text(config: &Config, without: Without) -> String {
    let mut text = serde_json::to_string_pretty(&to_value(config, without)).unwrap_or_default();
    text.push('\n');
    text
}

/// Takes `admin.password_hash` out of a native JSON value, and `admin` when it is left
/// empty.
pub fn strip_password_hash(value: &mut serde_json::Value) {
    if let Some(admin) = value
        .get_mut("admin")
        .and_then(serde_json::Value::as_object_mut)
    {
        admin.remove("password_hash");
        if admin.is_empty() {
            if let Some(object) = value.as_object_mut() {
                object.remove("admin");
            }
        }
    }
}

/// Reads a native JSON configuration and validates it.
pub fn from_json(text: &str) -> Result<Config, Issues> {
    let mut issues = Issues::default();
    if text.len() > MAX_TEXT_LEN {
        issues.push("", format!("larger than {MAX_TEXT_LEN} bytes"));
        return Err(issues);
    }
    let raw: RawConfig = match serde_json::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            issues.push(
                format!("{}:{}", e.line(), e.column()),
                without_position(&e.to_string()),
            );
            return Err(issues);
        }
    };
    let config = validate(raw, &mut issues);
    if issues.is_empty() {
        Ok(config)
    } else {
        Err(issues)
    }
}

/// serde_json appends " at line L column C" to its messages; the location is ours to place.
fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

fn validate(raw: RawConfig, issues: &mut Issues) -> Config {
    let mut config = Config {
        hostname: raw.hostname,
        keepalived: raw.keepalived.unwrap_or_default(),
        ..Config::default()
    };
    if let Some(name) = &config.hostname {
        if let Err(why) = check_hostname(name) {
            issues.push("hostname", why);
        }
    }

    let mut roles_seen = HashSet::new();
    let mut addresses_seen = HashSet::new();
    for (i, raw_if) in raw.interfaces.unwrap_or_default().into_iter().enumerate() {
        let at = format!("interfaces[{i}]");
        let role = match raw_if.role.parse::<Role>() {
            Ok(role) => role,
            Err(why) => {
                issues.push(format!("{at}.role"), why);
                continue;
            }
        };
        if !roles_seen.insert(role) {
            issues.push(
                format!("{at}.role"),
                format!("role {role} is configured twice"),
            );
        }
        let raw_addresses = raw_if.addresses.unwrap_or_default();
        if raw_addresses.len() > MAX_ADDRESSES_PER_INTERFACE {
            issues.push(
                format!("{at}.addresses"),
                format!("more than {MAX_ADDRESSES_PER_INTERFACE} addresses"),
            );
        }
        let mut addresses = Vec::new();
        for (j, text) in raw_addresses.iter().enumerate() {
            let at = format!("{at}.addresses[{j}]");
            match text.parse::<IpPrefix>() {
                Ok(p) if !addresses_seen.insert(p.addr) => {
                    issues.push(at, format!("address {} is configured twice", p.addr))
                }
                Ok(p) => addresses.push(p),
                Err(why) => issues.push(at, why),
            }
        }
        if let Some(mtu) = raw_if.mtu {
            let has_v6 = addresses.iter().any(|p| p.addr.is_ipv6());
            let min = if has_v6 { 1280 } else { 68 };
            if !(min..=65535).contains(&mtu) {
                issues.push(
                    format!("{at}.mtu"),
                    format!("{mtu} is outside {min}..65535"),
                );
            }
        }
        let vlan = raw_if
            .vlan
            .and_then(|v| validate_vlan(role, &v, &format!("{at}.vlan"), issues));
        config.interfaces.push(Interface {
            role,
            addresses,
            mtu: raw_if.mtu,
            accept_ra: raw_if.accept_ra,
            vlan,
        });
    }
    // A VLAN sits on a role's own link: not on another VLAN (no 802.1ad stacking).
    for (i, interface) in config.interfaces.iter().enumerate() {
        let Some(vlan) = interface.vlan else { continue };
        if config
            .interface(vlan.on)
            .is_some_and(|on| on.vlan.is_some())
        {
            issues.push(
                format!("interfaces[{i}].vlan.on"),
                format!("{} is itself a VLAN; a VLAN sits on a NIC's link", vlan.on),
            );
        }
    }

    let raw_routes = raw.routes.unwrap_or_default();
    if raw_routes.len() > MAX_ROUTES {
        issues.push("routes", format!("more than {MAX_ROUTES} routes"));
    }
    for (i, raw_route) in raw_routes.into_iter().enumerate() {
        let at = format!("routes[{i}]");
        if let Some(route) = validate_route(&config, &raw_route, &at, issues) {
            config.routes.push(route);
        }
    }
    config.syslog = crate::syslog::validate(raw.syslog.unwrap_or_default(), issues);
    if let Some(raw_admin) = raw.admin {
        config.admin = validate_admin(&config, raw_admin, issues);
    }
    config.ntp_servers = ntp::validate_servers(&raw.ntp_servers, issues);
    for finding in keepalived::validate(&config.keepalived, Some(&config)) {
        issues.push(format!("keepalived.{}", finding.path), finding.message);
    }
    config
}

fn validate_vlan(role: Role, raw: &RawVlan, at: &str, issues: &mut Issues) -> Option<Vlan> {
    let on = match raw.on.parse::<Role>() {
        Ok(on) if on == role => {
            issues.push(
                format!("{at}.on"),
                format!("{role} cannot be a VLAN on itself"),
            );
            return None;
        }
        Ok(on) => on,
        Err(why) => {
            issues.push(format!("{at}.on"), why);
            return None;
        }
    };
    if !Vlan::IDS.contains(&raw.id) {
        issues.push(
            format!("{at}.id"),
            format!(
                "VLAN ID {} is outside {}..{} (0 and 4095 are reserved)",
                raw.id,
                Vlan::IDS.start(),
                Vlan::IDS.end()
            ),
        );
        return None;
    }
    Some(Vlan { id: raw.id, on })
}

fn validate_admin(config: &Config, raw: RawAdmin, issues: &mut Issues) -> Admin {
    let mut admin = Admin::default();
    if let Some(text) = raw.management_address {
        let at = "admin.management_address";
        match text.parse::<IpAddr>() {
            Err(_) => issues.push(at, format!("\"{text}\" is not an IPv4 or IPv6 address")),
            Ok(addr) => {
                // A two-NIC box (no mgmt in the configuration) manages on int; never ext.
                let (role, interface) = match config.interface(Role::Mgmt) {
                    Some(mgmt) => (Role::Mgmt, Some(mgmt)),
                    None => (Role::Int, config.interface(Role::Int)),
                };
                match interface {
                    Some(i) if i.addresses.iter().any(|p| p.addr == addr) => {
                        admin.management_address = Some(addr)
                    }
                    Some(_) => issues.push(
                        at,
                        format!("{addr} is not an address of the {role} interface"),
                    ),
                    None => issues.push(
                        at,
                        format!("{addr}: there is no mgmt or int interface to carry it"),
                    ),
                }
            }
        }
    }
    if let Some(text) = raw.password_hash {
        match text.parse::<PasswordHash>() {
            Ok(hash) => admin.password = Some(hash),
            Err(why) => issues.push("admin.password_hash", why),
        }
    }
    if let Some(text) = raw.metrics_token_sha256 {
        if text.len() == 64
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            admin.metrics_token_sha256 = Some(text);
        } else {
            issues.push(
                "admin.metrics_token_sha256",
                "not a SHA-256 in lower-case hex (64 characters); the page makes it",
            );
        }
    }
    if let Some(secs) = raw.console_idle_timeout {
        if secs == 0 || (60..=86_400).contains(&secs) {
            admin.console_idle_timeout = Some(secs);
        } else {
            issues.push(
                "admin.console_idle_timeout",
                format!("{secs}: seconds from 60 to 86400, or 0 for never"),
            );
        }
    }
    admin
}

fn validate_route(config: &Config, raw: &RawRoute, at: &str, issues: &mut Issues) -> Option<Route> {
    let to = match raw.to.parse::<IpPrefix>() {
        Ok(to) if to.network() != to.addr => {
            issues.push(
                format!("{at}.to"),
                format!(
                    "{to} has host bits set (did you mean {}/{}?)",
                    to.network(),
                    to.len
                ),
            );
            return None;
        }
        Ok(to) => to,
        Err(why) => {
            issues.push(format!("{at}.to"), why);
            return None;
        }
    };
    let via = match raw.via.parse::<IpAddr>() {
        Ok(via) => via,
        Err(_) => {
            issues.push(
                format!("{at}.via"),
                format!("\"{}\" is not an IPv4 or IPv6 address", raw.via),
            );
            return None;
        }
    };
    if via.is_ipv4() != to.addr.is_ipv4() {
        issues.push(
            format!("{at}.via"),
            format!("{via} is not of the same family as {to}"),
        );
        return None;
    }
    let on_link = config
        .interfaces
        .iter()
        .flat_map(|i| &i.addresses)
        .any(|p| p.contains(via));
    if !on_link {
        issues.push(
            format!("{at}.via"),
            format!("gateway {via} is not inside any configured interface address"),
        );
        return None;
    }
    Some(Route { to, via })
}

/// RFC 1123 host name: letters, digits and '-' in dot-separated labels, at most 64 bytes
/// (the kernel's limit for `sethostname`). Public so that the console's questions and
/// commands refuse a name with the same words as validation.
pub fn check_hostname(name: &str) -> Result<(), String> {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if name.is_empty() || name.len() > 64 || !name.split('.').all(label_ok) {
        return Err(format!(
            "\"{name}\" is not a host name (letters, digits and '-', dot-separated, at most 64 characters)"
        ));
    }
    Ok(())
}

mod ntp;

#[cfg(test)]
mod tests;
