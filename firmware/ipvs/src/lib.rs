//! The kernel's IPVS, over its generic-netlink family "IPVS" (include/uapi/linux/ip_vs.h).
//!
//! - [`model`]: services, destinations, statistics, as lvsfw thinks of them;
//! - [`message`]: those as IPVS generic-netlink messages, both ways (no I/O);
//! - [`reconcile`]: desired table against the kernel's ⇒ the fewest operations (no I/O);
//! - [`client`]: a netlink socket that sends requests and collects replies;
//! - [`listing`]: the table printed the way `ipvsadm -Ln` prints it;
//! - [`fullnat`]: FNAT's source rewrite, an nf_tables table of masquerade rules.
//!
//! Our own encoding on netlink-packet-generic rather than `netlink-packet-ipvs` 0.0.1
//! (written for an older netlink-packet-core, no destinations' statistics or sync daemon)
//! or `nlrs` (a different netlink stack from the rtnetlink crates we already carry).

mod attr;
pub mod client;
mod constants;
pub mod fullnat;
pub mod listing;
pub mod message;
pub mod model;
pub mod reconcile;

pub use client::{Client, Error};
pub use model::{
    Destination, Encap, EncapCsum, EncapKind, Forward, Info, Protocol, Service, ServiceKey, Stats,
    SyncDaemon, SyncState, Timeouts,
};
pub use reconcile::{keeps_order, reconcile, Op, Table};
