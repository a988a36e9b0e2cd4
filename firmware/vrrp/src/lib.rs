//! VRRP without I/O: packets (RFC 3768 for v2, RFC 5798 for v3) and, in later steps,
//! the per-instance state machine driven as `(event, now) -> actions`.

pub mod packet;

pub use packet::{Auth, ChecksumMode, Error, Packet, Repr, Version};
