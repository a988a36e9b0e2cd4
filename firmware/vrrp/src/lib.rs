//! VRRP without I/O: packets (RFC 3768 for v2, RFC 5798 for v3) and the per-instance
//! state machine driven as `(event, now) -> actions`.

pub mod ah;
pub mod instance;
pub mod packet;
pub mod receive;
pub mod sync;

pub use instance::{Action, DropCounters, Event, Instance, Invalid, Settings, State};
pub use packet::{Auth, ChecksumMode, Error, Packet, Repr, Version};
pub use sync::SyncGroup;
