//! lvsfw's A/B update, the parts without I/O of their own:
//!
//! - [`payload`]: the update file (`lvsfw-VERSION.update`): a slot's files, the board
//!   and version they are for, and a SHA-256 over all of it.
//! - [`grubenv`]: grub's 1024-byte environment block, where the good slot (`slot`) and
//!   a slot to try once (`next`) are kept.
//! - [`trial`]: after a boot into a tried slot, whether it is good yet, still coming up,
//!   or a failure to fall back from.

pub mod grubenv;
pub mod payload;
pub mod trial;

pub use trial::Slot;
