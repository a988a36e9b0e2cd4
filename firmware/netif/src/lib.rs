//! Interfaces, addresses, routes and sysctls: what the configuration wants, compared with
//! what the kernel has, and only the difference applied.
//!
//! [`plan`] is pure (desired, actual, owned ⇒ operations); [`kernel`] reads the kernel and
//! applies operations over rtnetlink; [`nic`] finds a role's NIC in sysfs by PCI address or
//! MAC, never by probe order.

pub mod announce;
pub mod kernel;
pub mod link_probe;
pub mod nic;
pub mod owned;
pub mod plan;
pub mod roles;
pub mod routes;
pub mod routes_kernel;
pub mod sysctl;
pub mod virtual_link;
pub mod vmac;
pub mod vrrp_socket;

pub use nic::NicMatch;
pub use owned::Owned;
pub use plan::{plan, Actual, ActualLink, Desired, DesiredLink, Op};
pub use virtual_link::{plan_virtual, BondMode, DesiredVirtual, FailOverMac, LinkKind};
