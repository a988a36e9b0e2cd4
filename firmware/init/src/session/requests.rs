//! What the session and PID 1 say to each other: how a session starts, what it asks
//! PID 1 to do ([`Request`]), and how PID 1 says a request ended ([`Outcome`]).

use console::Command;

use ops::Setup;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasteOf {
    Keepalived,
    Certificate,
}

/// How the session starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// First-boot setup with these defaults (address/prefix, gateway, hostname).
    Setup([String; 4]),
    Login,
    /// The saved configuration could not be read at boot.
    Recovery,
    /// `lvsfw.nologin`: straight to the command line.
    Open,
}

impl Start {
    /// What the console opens after the boot's `lvsfw config restore` ended with exit
    /// `code` (`None`: it did not end in time, or could not start). Only a restore that
    /// said so leads to setup or the login; anything else is a failed restore.
    pub fn after_restore(code: Option<i32>, setup_defaults: impl FnOnce() -> [String; 4]) -> Start {
        use ops::exit_code::{NO_PASSWORD, RESTORE_FAILED};
        match code {
            Some(0) => Start::Login,
            Some(c) if c == i32::from(NO_PASSWORD) => Start::Setup(setup_defaults()),
            Some(c) if c == i32::from(RESTORE_FAILED) => Start::Recovery,
            _ => Start::Recovery,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Command(Command),
    Login(String),
    Setup(Setup),
    SetPassword(String),
    /// The pasted keepalived.conf, to be checked.
    Import(String),
    /// The pasted certificate chain and key, to be checked and served.
    ImportCertificate(String),
    /// Confirmed.
    FactoryReset,
    /// ctrl-c while a request is carried out.
    Interrupt,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    LoginAccepted,
    LoginRefused,
    /// No admin password is set: first-boot setup with these defaults.
    Setup([String; 4]),
    SetupFailed,
    /// The login prompt (a restore that worked, from the recovery prompt).
    Login,
    /// The restore failed again: the recovery prompt.
    Recovery,
    /// Shutting down.
    Closed,
}
