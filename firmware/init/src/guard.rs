//! What ends a console session besides `logout`: the admin password changing anywhere
//! (on the page, by a restore, by another console session) and time without input
//! (`admin.console_idle_timeout`, 15 minutes by default). PID 1 asks [`Guard::check`]
//! on every turn of its loop; config.json is read at most every [`CHECK_EVERY`], and
//! again before every command.

use std::time::{Duration, Instant};

use super::session::Session;
use ops::{self, Paths};

/// How often a logged-in console looks at the password while nothing is typed.
const CHECK_EVERY: Duration = Duration::from_secs(2);

pub const PASSWORD_CHANGED: &str =
    "logged out: the admin password was changed (on the page, or by a restore); log in again";

pub struct Guard {
    paths: Paths,
    /// The password the session logged in with (ops::ConsolePolicy::epoch).
    epoch: Option<String>,
    next_check: Option<Instant>,
}

impl Guard {
    pub fn new(paths: Paths) -> Guard {
        Guard {
            paths,
            epoch: None,
            next_check: None,
        }
    }

    /// The session has just logged in, or changed the password itself: what it goes by.
    pub fn logged_in(&mut self, session: &mut Session, now: Instant) {
        let policy = ops::console_policy(&self.paths);
        self.epoch = policy.epoch;
        session.set_idle_limit(policy.idle);
        session.input_at(now);
        self.next_check = Some(now + CHECK_EVERY);
    }

    /// When [`Guard::check`] has something to do next.
    pub fn deadline(&self, session: &Session) -> Option<Instant> {
        let look = self.next_check.filter(|_| session.logged_in());
        [look, session.idle_deadline()].into_iter().flatten().min()
    }

    /// Logs the session out if its time ran out or the password changed (looked at
    /// when due, or now with `force`, before a command is carried out).
    pub fn check(&mut self, session: &mut Session, now: Instant, force: bool, out: &mut String) {
        session.tick(now, out);
        if !session.logged_in() {
            return;
        }
        if !force && self.next_check.is_some_and(|at| now < at) {
            return;
        }
        self.next_check = Some(now + CHECK_EVERY);
        let policy = ops::console_policy(&self.paths);
        if policy.epoch != self.epoch {
            log::info!("console: the admin password changed elsewhere; the console session ended");
            session.logout(PASSWORD_CHANGED, out);
        } else {
            session.set_idle_limit(policy.idle);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{Outcome, Start};

    fn set_up(dir: &std::path::Path, password: &str, idle: u32) -> Paths {
        let paths = Paths::under(dir);
        let mut config = config::Config::default();
        config.admin.password = Some(ops::hash_password(password).unwrap());
        config.admin.console_idle_timeout = Some(idle);
        paths::write_atomic(
            &paths.running_json,
            config::native::to_json(&config).as_bytes(),
            true,
        )
        .unwrap();
        paths
    }

    fn logged_in_session(guard: &mut Guard, now: Instant) -> (Session, String) {
        let mut out = String::new();
        let mut s = Session::new(Start::Login, &mut out);
        s.push(b"secret\r");
        assert!(s.next(&mut out).is_some());
        s.finish(Outcome::LoginAccepted, &mut out);
        guard.logged_in(&mut s, now);
        assert!(s.logged_in());
        (s, out)
    }

    #[test]
    fn a_password_changed_elsewhere_ends_the_console_session() {
        let dir = tempfile::tempdir().unwrap();
        let paths = set_up(dir.path(), "console password", 900);
        let mut guard = Guard::new(paths.clone());
        let t0 = Instant::now();
        let (mut s, mut out) = logged_in_session(&mut guard, t0);
        guard.check(&mut s, t0 + CHECK_EVERY, false, &mut out);
        assert!(s.logged_in(), "nothing changed: still in");
        // The page sets another password.
        let other = set_up(dir.path(), "page password", 900);
        assert_eq!(other.running_json, paths.running_json);
        // Before the next command it is seen at once.
        guard.check(&mut s, t0 + CHECK_EVERY, true, &mut out);
        assert!(!s.logged_in());
        assert!(out.contains(PASSWORD_CHANGED), "{out}");
        assert!(out.ends_with("Password: "), "{out:?}");
    }

    #[test]
    fn an_idle_console_logs_out_after_its_time() {
        let dir = tempfile::tempdir().unwrap();
        let paths = set_up(dir.path(), "console password", 300);
        let mut guard = Guard::new(paths);
        let t0 = Instant::now();
        let (mut s, mut out) = logged_in_session(&mut guard, t0);
        assert_eq!(
            guard.deadline(&s),
            Some(t0 + CHECK_EVERY),
            "the password is looked at first"
        );
        s.input_at(t0 + Duration::from_secs(200));
        guard.check(&mut s, t0 + Duration::from_secs(499), false, &mut out);
        assert!(s.logged_in(), "5 min after the last key, not before");
        guard.check(&mut s, t0 + Duration::from_secs(500), false, &mut out);
        assert!(!s.logged_in());
        assert!(
            out.contains("logged out after 5 min without input"),
            "{out}"
        );
        // The login prompt does not time out.
        assert_eq!(s.idle_deadline(), None);
    }
}
