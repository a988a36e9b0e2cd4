//! Bidirectional Forwarding Detection without I/O: the control packet of RFC 5880 §4.1
//! with every reception check of §6.8.6 ([`packet`]), and one session's state machine in
//! asynchronous mode (§6.2, §6.8) driven as `(event, now) -> actions` ([`session`]).
//!
//! Single hop (RFC 5881): the shell sends to UDP port [`PORT`] from a source port in
//! [`SOURCE_PORTS`] with TTL / hop limit 255, and hands the session the TTL each packet
//! arrived with; the session drops any other (GTSM, RFC 5881 §5). No authentication in
//! this round: a packet with the A bit is dropped (§6.8.6, "no authentication in use"),
//! and ours never carry it. No demand mode and no echo function of our own (§6.6, §6.4):
//! we never set D and ask for no echo (Required Min Echo RX Interval 0); a peer that sets
//! D is honoured (§6.8.7).

pub mod packet;
pub mod session;

pub use packet::{Control, Diag, Drop, State};
pub use session::{Action, Counters, Event, Session, Settings};

/// The destination port of single-hop control packets (RFC 5881 §4).
pub const PORT: u16 = 3784;
/// The source ports a session may use (RFC 5881 §4).
pub const SOURCE_PORTS: std::ops::RangeInclusive<u16> = 49152..=65535;
/// The TTL / hop limit sent, and the only one accepted (RFC 5881 §5).
pub const TTL: u8 = 255;
