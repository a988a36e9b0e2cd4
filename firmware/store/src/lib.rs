//! The saved configuration, on a small partition (or any file), written so that a
//! power loss at any moment leaves either the old or the new configuration readable.
//!
//! The partition holds two slots. A save writes the slot that does not hold the newest
//! record, with a sequence number one higher, and syncs it; a load reads both and takes
//! the newest whose checksum verifies. A torn write can only damage the slot being
//! written, which was the older one, so the newest complete record always survives.

pub mod audit;
mod audit_store;
mod record;
mod slots;

pub use record::{Record, HEADER_LEN, MAX_PAYLOAD};
pub use slots::{Device, Error, Store};
