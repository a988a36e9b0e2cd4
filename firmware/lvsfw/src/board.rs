//! The board file is read by `config::board`; this is where the box keeps it.

pub use config::board::*;

pub const PATH: &str = "/etc/lvsfw/board.conf";
