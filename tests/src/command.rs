//! Running host commands with errors that say which command failed and why.

use std::fmt;
use std::process::{Command, Output};

#[derive(Debug)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error(e.to_string())
    }
}

impl From<String> for Error {
    fn from(s: String) -> Self {
        Error(s)
    }
}

/// Runs `program args` to completion; a non-zero exit is an error carrying its stderr.
pub fn run(program: &str, args: &[&str]) -> Result<Output, Error> {
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| Error(format!("{program} {}: {e}", args.join(" "))))?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(Error(format!(
            "{program} {} failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

pub fn ip(args: &[&str]) -> Result<(), Error> {
    run("ip", args).map(|_| ())
}
