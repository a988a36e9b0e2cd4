//! An announce-only BGP-4 speaker without I/O: the wire format of the few messages it
//! needs ([`wire`]), the NOTIFICATION codes with their names ([`notify`]), and the
//! session state machine of RFC 4271 §8 driven as `(event, now) -> actions` ([`session`]).
//!
//! It announces the prefixes it is told to, withdraws them (after a graceful-shutdown
//! re-announcement, RFC 8326, when asked), and validates and discards whatever the peer
//! sends: it installs no routes.

pub mod notify;
pub mod session;
pub mod wire;

pub use notify::Notification;
pub use session::{Action, Event, Session, Settings, State};
pub use wire::{Prefix, WireError};
