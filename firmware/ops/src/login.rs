//! Logins and the console session's policy, read from the running configuration.

use super::*;

/// What a login finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    Accepted,
    Refused,
    /// The running configuration has no admin password: first-boot setup is due.
    NoPassword,
}

pub fn login(paths: &Paths, password: &str) -> Login {
    match running(paths).ok().and_then(|t| password_of(&t.native)) {
        None => Login::NoPassword,
        Some(hash) if hash.verify(password) => Login::Accepted,
        Some(_) => Login::Refused,
    }
}

/// What the console's session goes by: the password it logged in with (a digest of the
/// stored hash, so that a change from anywhere is seen) and its idle logout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsolePolicy {
    pub epoch: Option<String>,
    pub idle: Option<std::time::Duration>,
}

pub fn console_policy(paths: &Paths) -> ConsolePolicy {
    let config = running(paths)
        .ok()
        .and_then(|t| config::native::from_json(&t.native).ok());
    let admin = config.map(|c| c.admin).unwrap_or_default();
    ConsolePolicy {
        epoch: admin.password.as_ref().map(|hash| {
            let digest = ring::digest::digest(&ring::digest::SHA256, hash.to_string().as_bytes());
            digest.as_ref()[..16]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        }),
        idle: admin.console_idle_limit(),
    }
}

/// The admin password of a native text, if it is valid and has one.
pub fn password_of(native_text: &str) -> Option<PasswordHash> {
    config::native::from_json(native_text)
        .ok()
        .and_then(|c| c.admin.password)
}
