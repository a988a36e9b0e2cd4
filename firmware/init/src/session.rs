//! The console session, without I/O: first-boot setup, login, the command line, the
//! paste of `config import`, and the questions some commands ask (a new password,
//! factory-reset's confirmation).
//!
//! Bytes typed go in with [`Session::push`]; [`Session::next`] edits them into lines
//! and says what PID 1 should do ([`Request`]), writing what the terminal should show
//! into `out`. While PID 1 carries a request out (a child runs) the session is busy:
//! what is typed waits (bounded) except ctrl-c, which asks to stop it. PID 1 ends the
//! request with [`Session::finish`], and the prompt comes back.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use console::{Command, Editor, Input};

use super::paste::{self, Paste, Pasted};
use super::setup::{Answer, Questions};
#[cfg(test)]
use ops::Setup;

pub use requests::{Outcome, PasteOf, Request, Start};

mod requests;

pub const PROMPT: &str = "lvsfw> ";
/// The prompt while what runs is not saved (a reboot would lose it); it still ends in
/// [`PROMPT`].
const UNSAVED_PROMPT: &str = "(unsaved) lvsfw> ";
/// After a boot that could not read the saved configuration: only what gets it back.
pub const RECOVERY_PROMPT: &str = "recovery> ";
const RECOVERY_INTRO: &str = "\
The saved configuration could not be read (the reason is above): nothing is in service
and the page is closed. Commands now: config restore (try again), factory-reset (erase
the disk and start over), reboot, poweroff, show log, show version, help.
";
const PASSWORD_PROMPT: &str = "Password: ";
const CONFIRM_PROMPT: &str =
    "Erase the saved configuration and reboot with the factory one? Type \"yes\" to confirm: ";
/// Input typed while a command runs, kept for when it has finished.
const MAX_TYPEAHEAD: usize = 64 << 10;

#[derive(Debug)]
enum Mode {
    Setup(Questions),
    Login,
    Command,
    /// The restore at boot failed: a few commands only (RECOVERY_INTRO), no login (the
    /// console is where the box is trusted first, as at first-boot setup).
    Recovery,
    /// `config import` (a keepalived.conf) or, quiet, `certificate import`.
    Paste(Paste, PasteOf),
    Confirm,
    /// `set password`: the first entry once given.
    NewPassword(Option<String>),
    /// Powering off or rebooting: nothing more is read.
    Closed,
}

pub struct Session {
    editor: Editor,
    mode: Mode,
    busy: bool,
    typeahead: VecDeque<u8>,
    /// Typed-ahead bytes dropped since the last report.
    dropped: usize,
    login: bool,
    setup_defaults: [String; 4],
    /// The running configuration differs from the saved one: the prompt says so.
    unsaved: bool,
    /// `lvsfw.debug`: the debug commands are allowed.
    debug: bool,
    /// At the recovery prompt, or in one of its questions (factory-reset's).
    recovering: bool,
    /// Logged out after this long without a key pressed (when there is a login).
    idle_limit: Option<Duration>,
    last_input: Option<Instant>,
}

impl Session {
    pub fn new(start: Start, out: &mut String) -> Session {
        let mut s = Session {
            editor: Editor::new(PROMPT),
            mode: Mode::Command,
            busy: false,
            typeahead: VecDeque::new(),
            dropped: 0,
            login: start != Start::Open,
            setup_defaults: Default::default(),
            unsaved: false,
            debug: false,
            recovering: false,
            idle_limit: None,
            last_input: None,
        };
        match start {
            Start::Setup(defaults) => s.start_setup(defaults, out),
            Start::Login => s.start_login(out),
            Start::Recovery => s.start_recovery(out),
            Start::Open => s.enter(Mode::Command, out),
        }
        s
    }

    /// Whether what runs is unsaved, for the command prompt from the next one on.
    pub fn set_unsaved(&mut self, unsaved: bool) {
        self.unsaved = unsaved;
        if matches!(self.mode, Mode::Command) {
            self.editor.set_prompt(self.command_prompt());
        }
    }

    fn command_prompt(&self) -> &'static str {
        if self.unsaved {
            UNSAVED_PROMPT
        } else {
            PROMPT
        }
    }

    /// Whether first-boot setup is asking its questions (or carrying out the answers).
    pub fn in_setup(&self) -> bool {
        matches!(self.mode, Mode::Setup(_))
    }

    /// `lvsfw.debug` was on the kernel command line: the debug commands work.
    pub fn allow_debug(&mut self, on: bool) {
        self.debug = on;
    }

    /// The console logs out after `limit` without input (`None`: never).
    pub fn set_idle_limit(&mut self, limit: Option<Duration>) {
        self.idle_limit = limit;
    }

    /// Whether a logged-in session is at the command line (or in a question of it).
    pub fn logged_in(&self) -> bool {
        self.login
            && !matches!(
                self.mode,
                Mode::Login | Mode::Setup(_) | Mode::Recovery | Mode::Closed
            )
    }

    /// Bytes came in at `now` (see [`Session::push`]).
    pub fn input_at(&mut self, now: Instant) {
        self.last_input = Some(now);
    }

    /// When the idle logout falls due, if one can.
    pub fn idle_deadline(&self) -> Option<Instant> {
        if !self.logged_in() || self.busy {
            return None;
        }
        Some(self.last_input? + self.idle_limit?)
    }

    /// Logs out if the idle time has run out by `now`.
    pub fn tick(&mut self, now: Instant, out: &mut String) {
        if self.idle_deadline().is_some_and(|due| now >= due) {
            let minutes = self.idle_limit.map_or(0, |l| l.as_secs() / 60);
            self.logout(
                &format!("logged out after {minutes} min without input"),
                out,
            );
        }
    }

    /// Ends the logged-in session for `why` (the password changed elsewhere, idle):
    /// whatever was being typed goes, and the login prompt comes.
    pub fn logout(&mut self, why: &str, out: &mut String) {
        if !self.logged_in() {
            return;
        }
        out.push_str(&self.clear_line());
        out.push_str(&format!("\n{why}\n"));
        self.typeahead.clear();
        self.start_login(out);
    }

    fn clear_line(&self) -> String {
        self.clear().to_string()
    }

    /// Whether a request is being carried out.
    pub fn busy(&self) -> bool {
        self.busy
    }

    /// Whether an edit line is on the screen (a log line must redraw it).
    pub fn prompt_shown(&self) -> bool {
        !self.busy && !matches!(self.mode, Mode::Paste(..) | Mode::Closed)
    }

    /// Whether something is being typed on the edit line (log lines wait a moment).
    pub fn typing(&self) -> bool {
        self.prompt_shown() && !self.editor.is_empty()
    }

    /// Erases the edit line, for a log line to take its place.
    pub fn clear(&self) -> &'static str {
        if self.prompt_shown() {
            self.editor.clear()
        } else {
            ""
        }
    }

    /// The edit line again, after a log line.
    pub fn redraw(&self) -> String {
        if self.prompt_shown() {
            self.editor.redraw()
        } else {
            String::new()
        }
    }

    /// Bytes from the terminal.
    pub fn push(&mut self, bytes: &[u8]) {
        if matches!(self.mode, Mode::Closed) {
            return;
        }
        for &b in bytes {
            if self.typeahead.len() >= MAX_TYPEAHEAD {
                self.dropped += 1;
            } else {
                self.typeahead.push_back(b);
            }
        }
    }

    /// Works through what was typed until PID 1 has something to do.
    pub fn next(&mut self, out: &mut String) -> Option<Request> {
        if self.dropped > 0 {
            out.push_str(&format!(
                "\r\n(typed ahead too much: {} bytes dropped)\n",
                std::mem::take(&mut self.dropped)
            ));
        }
        if matches!(self.mode, Mode::Closed) {
            self.typeahead.clear();
            return None;
        }
        if self.busy {
            // Only ctrl-c counts now; what came before it is dropped with it.
            let at = self.typeahead.iter().position(|&b| b == 0x03)?;
            self.typeahead.drain(..=at);
            out.push_str("^C\n");
            return Some(Request::Interrupt);
        }
        while let Some(b) = self.typeahead.pop_front() {
            if let Some(request) = self.byte(b, out) {
                return Some(request);
            }
        }
        None
    }

    fn byte(&mut self, b: u8, out: &mut String) -> Option<Request> {
        if let Mode::Paste(paste, of) = &mut self.mode {
            let of = *of;
            if b == 0x03 {
                out.push_str("^C\nimport abandoned; nothing changed\n");
                self.enter(Mode::Command, out);
                return None;
            }
            let (pasted, echo) = paste.byte(b);
            if let Some(line) = echo {
                out.push_str(&line);
                out.push('\n');
            }
            return match pasted {
                Pasted::More => None,
                Pasted::Done(text) => {
                    self.set_mode(Mode::Command);
                    self.busy = true;
                    Some(match of {
                        PasteOf::Keepalived => Request::Import(text),
                        PasteOf::Certificate => Request::ImportCertificate(text),
                    })
                }
                Pasted::TooBig => {
                    out.push_str(&format!(
                        "error: more than {} bytes pasted; import abandoned, nothing changed\n",
                        paste::MAX_PASTE
                    ));
                    self.enter(Mode::Command, out);
                    None
                }
                Pasted::TooLong => {
                    out.push_str(&format!(
                        "\nerror: a line longer than {} bytes; import abandoned, nothing changed\n",
                        paste::MAX_LINE
                    ));
                    self.enter(Mode::Command, out);
                    None
                }
            };
        }
        let completion = matches!(self.mode, Mode::Command | Mode::Recovery);
        let none = |_: &str| Vec::new();
        let (input, echo) = if completion {
            self.editor.feed(b, &console::complete)
        } else {
            self.editor.feed(b, &none)
        };
        out.push_str(&echo);
        match input? {
            Input::Line(text) => self.line(text, out),
            Input::Interrupt => {
                match self.mode {
                    Mode::Confirm | Mode::NewPassword(_) => {
                        out.push_str("cancelled; nothing changed\n");
                        self.enter(self.command_mode(), out);
                    }
                    // The editor has started a fresh line and shown the prompt.
                    _ => {}
                }
                None
            }
            Input::Eof => None,
            Input::TooLong => {
                out.push_str(&format!(
                    "error: a line longer than {} bytes, ignored\n",
                    console::editor::MAX_LINE
                ));
                self.show_prompt(out);
                None
            }
        }
    }

    fn line(&mut self, text: String, out: &mut String) -> Option<Request> {
        match &mut self.mode {
            Mode::Command => self.command(&text, out),
            Mode::Recovery => self.recovery(&text, out),
            Mode::Login => {
                self.busy = true;
                Some(Request::Login(text))
            }
            Mode::Setup(questions) => match questions.answer(&text) {
                Answer::Done(setup) => {
                    self.busy = true;
                    out.push_str("setting up...\n");
                    Some(Request::Setup(setup))
                }
                next_or_again => {
                    if let Answer::Again(why) = next_or_again {
                        out.push_str(&format!("error: {why}\n"));
                    }
                    // The next question, or the same one again.
                    let (secret, prompt) = (questions.secret(), questions.prompt());
                    self.editor.secret = secret;
                    self.editor.set_prompt(&prompt);
                    self.show_prompt(out);
                    None
                }
            },
            Mode::NewPassword(None) => {
                if let Err(why) = ops::check_password(&text) {
                    out.push_str(&format!("error: {why}; nothing changed\n"));
                    self.enter(Mode::Command, out);
                    return None;
                }
                self.enter(Mode::NewPassword(Some(text)), out);
                None
            }
            Mode::NewPassword(Some(first)) => {
                if *first != text {
                    out.push_str("error: the two passwords differ; nothing changed\n");
                    self.enter(Mode::Command, out);
                    return None;
                }
                let password = std::mem::take(first);
                self.set_mode(Mode::Command);
                self.busy = true;
                Some(Request::SetPassword(password))
            }
            Mode::Confirm => {
                if text.trim() == "yes" {
                    self.set_mode(self.command_mode());
                    self.busy = true;
                    Some(Request::FactoryReset)
                } else {
                    out.push_str("factory reset cancelled; nothing changed\n");
                    self.enter(self.command_mode(), out);
                    None
                }
            }
            Mode::Paste(..) | Mode::Closed => None,
        }
    }

    /// The recovery prompt's commands: what gets the saved configuration back, or
    /// erases it, and what shows why.
    fn recovery(&mut self, text: &str, out: &mut String) -> Option<Request> {
        let command = match console::parse(text) {
            Ok(None) => None,
            Err(why) => {
                out.push_str(&format!("error: {why}\n"));
                None
            }
            Ok(Some(Command::FactoryReset)) => {
                self.enter(Mode::Confirm, out);
                return None;
            }
            Ok(Some(
                c @ (Command::ConfigRestore
                | Command::Reboot
                | Command::Poweroff
                | Command::ShowLog
                | Command::ShowVersion
                | Command::Help),
            )) => Some(c),
            Ok(Some(_)) => {
                out.push_str("error: not now: the saved configuration could not be read; config restore, factory-reset, reboot, poweroff, show log or show version\n");
                None
            }
        };
        match command {
            Some(c) => {
                self.busy = true;
                Some(Request::Command(c))
            }
            None => {
                self.show_prompt(out);
                None
            }
        }
    }

    fn command(&mut self, text: &str, out: &mut String) -> Option<Request> {
        match console::parse(text) {
            Ok(None) => {
                self.show_prompt(out);
                None
            }
            Err(why) => {
                out.push_str(&format!("error: {why}\n"));
                self.show_prompt(out);
                None
            }
            Ok(Some(command)) if command.is_debug() && !self.debug => {
                out.push_str("error: debug commands need lvsfw.debug on the kernel command line\n");
                self.show_prompt(out);
                None
            }
            Ok(Some(Command::ConfigRestore)) => {
                out.push_str("error: config restore is for a boot that could not read the saved configuration; reboot puts the saved one in service\n");
                self.show_prompt(out);
                None
            }
            Ok(Some(Command::ConfigImport)) => {
                out.push_str(
                    "paste the keepalived.conf; end with a line holding a single \".\" (ctrl-c abandons)\n",
                );
                self.enter(Mode::Paste(Paste::default(), PasteOf::Keepalived), out);
                None
            }
            Ok(Some(Command::CertificateImport)) => {
                out.push_str(
                    "paste the certificate chain (the server's first), then its private key, PEM; end with a line holding a single \".\" (ctrl-c abandons; the key is not shown)\n",
                );
                self.enter(Mode::Paste(Paste::quiet(), PasteOf::Certificate), out);
                None
            }
            Ok(Some(Command::SetPassword)) => {
                self.enter(Mode::NewPassword(None), out);
                None
            }
            Ok(Some(Command::FactoryReset)) => {
                self.enter(Mode::Confirm, out);
                None
            }
            Ok(Some(Command::Logout)) if self.login => {
                out.push_str("logged out\n");
                self.start_login(out);
                None
            }
            Ok(Some(Command::Logout)) => {
                out.push_str("error: this console has no login (lvsfw.nologin)\n");
                self.show_prompt(out);
                None
            }
            Ok(Some(command)) => {
                self.busy = true;
                Some(Request::Command(command))
            }
        }
    }

    /// PID 1 has carried out the request.
    pub fn finish(&mut self, outcome: Outcome, out: &mut String) {
        self.busy = false;
        match outcome {
            Outcome::Closed => {
                self.mode = Mode::Closed;
                self.typeahead.clear();
            }
            Outcome::LoginAccepted => self.enter(Mode::Command, out),
            Outcome::LoginRefused => {
                out.push_str("Login incorrect\n");
                self.start_login(out);
            }
            Outcome::Setup(defaults) => self.start_setup(defaults, out),
            Outcome::SetupFailed => {
                out.push_str("setup did not complete; once more:\n");
                let defaults = self.setup_defaults.clone();
                self.start_setup(defaults, out);
            }
            Outcome::Login => self.start_login(out),
            Outcome::Recovery => self.start_recovery(out),
            Outcome::Done => {
                if matches!(self.mode, Mode::Setup(_) | Mode::Login) {
                    self.enter(Mode::Command, out)
                } else {
                    self.show_prompt(out)
                }
            }
        }
    }

    fn start_login(&mut self, out: &mut String) {
        self.recovering = false;
        out.push_str("\nlvsfw console: log in with the admin password\n");
        self.enter(Mode::Login, out);
    }

    fn start_recovery(&mut self, out: &mut String) {
        self.recovering = true;
        out.push('\n');
        out.push_str(RECOVERY_INTRO);
        self.enter(Mode::Recovery, out);
    }

    /// The prompt commands come back to: the command line, or the recovery prompt.
    fn command_mode(&self) -> Mode {
        if self.recovering {
            Mode::Recovery
        } else {
            Mode::Command
        }
    }

    fn start_setup(&mut self, defaults: [String; 4], out: &mut String) {
        self.recovering = false;
        self.setup_defaults = defaults.clone();
        out.push('\n');
        let questions = Questions::new(defaults);
        out.push_str(&questions.intro());
        self.enter(Mode::Setup(questions), out);
    }

    fn enter(&mut self, mode: Mode, out: &mut String) {
        self.set_mode(mode);
        self.show_prompt(out);
    }

    /// The mode and the editor's prompt, echo and history for it; nothing shown yet.
    fn set_mode(&mut self, mode: Mode) {
        let (prompt, secret, history) = match &mode {
            Mode::Setup(q) => (q.prompt(), q.secret(), false),
            Mode::Login => (PASSWORD_PROMPT.to_string(), true, false),
            Mode::Command => (self.command_prompt().to_string(), false, true),
            Mode::Recovery => (RECOVERY_PROMPT.to_string(), false, true),
            Mode::Paste(..) | Mode::Closed => (String::new(), false, false),
            Mode::Confirm => (CONFIRM_PROMPT.to_string(), false, false),
            Mode::NewPassword(None) => ("New admin password: ".to_string(), true, false),
            Mode::NewPassword(Some(_)) => ("New admin password again: ".to_string(), true, false),
        };
        self.mode = mode;
        self.editor.reset();
        self.editor.set_prompt(&prompt);
        self.editor.secret = secret;
        self.editor.no_history = !history;
    }

    /// The prompt on the new line the output before it ended with.
    fn show_prompt(&self, out: &mut String) {
        if self.prompt_shown() {
            out.push_str(&self.editor.fresh());
        }
    }
}

#[cfg(test)]
mod tests;
