use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use crate::keepalived::Keepalived;
use crate::{IpPrefix, PasswordHash};

/// Addresses one interface may carry in the configuration (VIPs are not counted here).
pub const MAX_ADDRESSES_PER_INTERFACE: usize = 64;
/// Static routes in one configuration.
pub const MAX_ROUTES: usize = 256;

/// The whole validated configuration of one appliance.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    /// `None` keeps the board's default hostname.
    pub hostname: Option<String>,
    pub interfaces: Vec<Interface>,
    pub routes: Vec<Route>,
    pub admin: Admin,
    /// Load balancing and VRRP, as keepalived.conf says them.
    pub keepalived: Keepalived,
    /// Remote syslog servers (`crate::syslog`).
    pub syslog: Vec<crate::syslog::SyslogServer>,
    /// The NTP servers the clock follows (port 123), at most [`MAX_NTP_SERVERS`];
    /// empty: the clock is left as the hardware set it.
    pub ntp_servers: Vec<IpAddr>,
}

/// NTP servers the configuration may name (the client asks each every round).
pub const MAX_NTP_SERVERS: usize = 8;

/// Who may manage the appliance, and where.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Admin {
    /// The address the management page and API listen on: one of the mgmt interface's
    /// addresses. `None`: every mgmt address.
    pub management_address: Option<IpAddr>,
    /// `None`: no password set yet (the console asks for one).
    pub password: Option<PasswordHash>,
    /// SHA-256 (lower-case hex) of the bearer token that reads `/metrics` and the JSON
    /// API without a session; the token itself is shown once and kept nowhere.
    pub metrics_token_sha256: Option<String>,
    /// Seconds without a key pressed after which the console logs out; `None`: the
    /// default ([`DEFAULT_CONSOLE_IDLE_TIMEOUT`]), 0: never.
    pub console_idle_timeout: Option<u32>,
}

/// The console's idle logout when the configuration does not set one: 15 minutes.
pub const DEFAULT_CONSOLE_IDLE_TIMEOUT: u32 = 15 * 60;

impl Admin {
    /// The console's idle logout; `None`: never.
    pub fn console_idle_limit(&self) -> Option<std::time::Duration> {
        match self
            .console_idle_timeout
            .unwrap_or(DEFAULT_CONSOLE_IDLE_TIMEOUT)
        {
            0 => None,
            secs => Some(std::time::Duration::from_secs(u64::from(secs))),
        }
    }
}

impl Config {
    pub fn interface(&self, role: Role) -> Option<&Interface> {
        self.interfaces.iter().find(|i| i.role == role)
    }

    /// Takes out what must not leave the box unless asked for as a backup: the admin
    /// password's hash (it can be cracked offline), the BGP neighbors' TCP-MD5 keys and
    /// the VRRP instances' `auth_pass` (emptied: such an export does not import until
    /// it is given again). The one place that knows which fields are secret.
    pub fn hide_secrets(&mut self) {
        self.admin.password = None;
        if let Some(bgp) = &mut self.keepalived.bgp {
            for n in &mut bgp.neighbors {
                n.password = None;
            }
        }
        for instance in &mut self.keepalived.vrrp_instances {
            if let Some(auth) = &mut instance.auth {
                auth.auth_pass.clear();
            }
        }
    }
}

/// What a NIC is for. The board maps each role to one physical NIC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Faces the clients; carries the virtual service addresses.
    Ext,
    /// Faces the real servers; carries the gateway address they route through.
    Int,
    /// The management network: web page and API.
    Mgmt,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Ext, Role::Int, Role::Mgmt];

    /// The role's name, which is also the kernel name its interface is given.
    pub fn name(self) -> &'static str {
        match self {
            Role::Ext => "ext",
            Role::Int => "int",
            Role::Mgmt => "mgmt",
        }
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.name() == text)
            .ok_or_else(|| format!("\"{text}\" is not a NIC role (expected ext, int or mgmt)"))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub role: Role,
    pub addresses: Vec<IpPrefix>,
    /// `None` leaves the driver's MTU as it is.
    pub mtu: Option<u32>,
    /// Take IPv6 router advertisements on this interface (addresses and routes from the
    /// network); off unless asked for, so that nobody on a link can route the box.
    pub accept_ra: bool,
    /// The role is an 802.1Q VLAN on another role's link rather than a NIC of its own
    /// (e.g. management on a VLAN of int on a two-NIC box). `None`: the board's NIC.
    pub vlan: Option<Vlan>,
}

/// An 802.1Q VLAN (IEEE 802.1Q §9.6: VLAN IDs 1 to 4094) on the link of role `on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Vlan {
    pub id: u16,
    pub on: Role,
}

impl Vlan {
    /// The usable VLAN IDs: 0 means "priority tag only" and 4095 is reserved.
    pub const IDS: std::ops::RangeInclusive<u16> = 1..=4094;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Route {
    pub to: IpPrefix,
    pub via: IpAddr,
}
