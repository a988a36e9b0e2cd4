//! lvsfw's A/B update, the parts without I/O of their own:
//!
//! - [`payload`]: the update file (`lvsfw-VERSION.update`): a slot's files, the board
//!   and version they are for, signed with Ed25519.
//! - [`verify`]: checking an update as it streams in, the one verifier for every path.
//! - [`keys`]: the keys a firmware trusts (compiled in) and the key that signs.
//! - [`version`]: image versions and their order (no silent downgrade).
//! - [`grubenv`]: grub's 1024-byte environment block, where the good slot (`slot`), a
//!   slot to try once (`next`) and the lowest version to take (`min_version`) are kept.
//! - [`trial`]: after a boot into a tried slot, whether it is good yet, still coming up,
//!   or a failure to fall back from.

pub mod grubenv;
pub mod keys;
pub mod payload;
pub mod testing;
pub mod trial;
pub mod verify;
pub mod version;

pub use trial::Slot;
