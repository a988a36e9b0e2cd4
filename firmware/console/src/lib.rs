//! The serial console without I/O: a line editor that turns keystrokes into lines and
//! the bytes to echo, so that every key is testable without a terminal.

pub mod editor;

pub use editor::{Editor, Input};
