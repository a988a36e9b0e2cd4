//! The serial console without I/O: a line editor that turns keystrokes into lines and
//! the bytes to echo, and the command line's grammar (parse, help, tab completion), so
//! that every key and every command is testable without a terminal.

pub mod command;
pub mod editor;

pub use command::{complete, help, parse, Command, IpvsColumns};
pub use editor::{Editor, Input};
