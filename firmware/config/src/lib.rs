//! The lvsfw configuration: one validated model and the readers that fill it.
//!
//! No I/O here beyond what a caller hands in: readers take text and return either a
//! [`Config`] or every problem they found, each naming where it is.

pub mod board;
mod issue;
mod model;
pub mod password;
mod plural;
mod prefix;
mod suggest;
pub mod syslog;
mod units;

pub mod keepalived;

pub mod native;

pub use issue::{Issue, Issues};
pub use model::{
    Admin, Config, Interface, Role, Route, Vlan, MAX_ADDRESSES_PER_INTERFACE, MAX_NTP_SERVERS,
    MAX_ROUTES,
};
pub use password::PasswordHash;
pub use plural::count;
pub use prefix::IpPrefix;
pub use suggest::did_you_mean;
