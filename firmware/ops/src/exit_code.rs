//! The exit codes of `lvsfw config ...` (the front end in the lvsfw binary's cli/) that
//! PID 1 branches on when it runs them as children for boot and the console: here, so
//! that init and the command agree without init depending on the binary's front ends.

/// Exit code: no admin password is set.
pub const NO_PASSWORD: u8 = 3;
/// Exit code: applied, but something configured does not run.
pub const NOT_ALL_RUNNING: u8 = 4;
/// Exit code of `restore`: the saved configuration could not be read; nothing is in
/// service (see ops::boot).
pub const RESTORE_FAILED: u8 = 4;
