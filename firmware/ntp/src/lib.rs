//! SNTP client, sans-IO (RFC 4330, RFC 5905 client mode).
//!
//! [`packet`] builds the 48-byte request and reads an answer with every sanity check a
//! client must make; [`client`] polls several servers in rounds, keeps the answer with
//! the smallest round-trip delay and says whether the clock is to be stepped or slewed.
//! Nothing here reads a clock or a socket: the caller passes the monotonic time (for
//! the schedule) and the wall clock (for the timestamps), and does what it is told.

pub mod client;
pub mod packet;

pub use client::{Adjust, Client, Event, Status, Synced};
pub use packet::{NtpTime, Reject, Sample};
