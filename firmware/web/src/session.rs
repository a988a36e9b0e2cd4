//! Sessions after a login, their CSRF tokens, and the login rate limit. Pure: the caller
//! brings the time and the random bytes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The session cookie's name.
pub const COOKIE: &str = "lvsfw_session";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// Sessions at once; a new login ends the oldest beyond this.
    pub max_sessions: usize,
    /// A session not used for this long ends.
    pub idle: Duration,
    /// A session ends this long after its login however busy it is.
    pub max_age: Duration,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits {
            max_sessions: 16,
            idle: Duration::from_secs(30 * 60),
            max_age: Duration::from_secs(12 * 3600),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Sent with every form and every API change; compared with what comes back.
    pub csrf: String,
    pub created: Instant,
    pub last_seen: Instant,
    /// Logged in with the factory password: only the password page until it is changed.
    pub must_change_password: bool,
    /// Where the login came from, for the log's "who".
    pub peer: IpAddr,
    /// A short, public name of the session for the log (not the token).
    pub label: String,
    /// Messages for the next page (after a form's redirect).
    pub flash: Vec<crate::pages::Message>,
}

#[derive(Debug, Default)]
pub struct Sessions {
    limits: SessionLimits,
    by_token: HashMap<String, Session>,
}

impl Sessions {
    pub fn new(limits: SessionLimits) -> Sessions {
        Sessions {
            limits,
            by_token: HashMap::new(),
        }
    }

    /// A new session for `token` (random, from the caller); the oldest session goes if
    /// there are too many.
    pub fn create(&mut self, token: String, session: Session) {
        self.by_token
            .retain(|_, s| alive(s, session.created, &self.limits));
        while self.by_token.len() >= self.limits.max_sessions.max(1) {
            let oldest = self
                .by_token
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(t, _)| t.clone());
            match oldest {
                Some(t) => {
                    self.by_token.remove(&t);
                }
                None => break,
            }
        }
        self.by_token.insert(token, session);
    }

    /// The live session of `token`, marked as used now; an expired one is forgotten.
    pub fn touch(&mut self, token: &str, now: Instant) -> Option<&Session> {
        let live = alive(self.by_token.get(token)?, now, &self.limits);
        if !live {
            self.by_token.remove(token);
            return None;
        }
        let session = self.by_token.get_mut(token)?;
        session.last_seen = now;
        Some(session)
    }

    pub fn get_mut(&mut self, token: &str) -> Option<&mut Session> {
        self.by_token.get_mut(token)
    }

    pub fn remove(&mut self, token: &str) {
        self.by_token.remove(token);
    }

    /// Ends every session but `keep` (after a password change).
    pub fn retain_only(&mut self, keep: &str) {
        self.by_token.retain(|t, _| t == keep);
    }

    pub fn len(&self) -> usize {
        self.by_token.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_token.is_empty()
    }
}

fn alive(s: &Session, now: Instant, limits: &SessionLimits) -> bool {
    now.saturating_duration_since(s.last_seen) < limits.idle
        && now.saturating_duration_since(s.created) < limits.max_age
}

/// The `Set-Cookie` value of a session: not readable by scripts, never sent with a
/// request another site started.
pub fn cookie(token: &str) -> String {
    format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict")
}

/// Ends the session cookie in the browser.
pub fn cookie_cleared() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// Compares secrets in time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Failed logins per client address: a few are free, then each further attempt waits
/// twice as long as the last, up to [`MAX_LOCKOUT`].
#[derive(Debug)]
pub struct LoginLimiter {
    entries: HashMap<IpAddr, Attempts>,
    capacity: usize,
}

#[derive(Debug, Clone, Copy)]
struct Attempts {
    failures: u32,
    last: Instant,
    next_allowed: Instant,
}

/// Failed attempts that cost nothing.
pub const FREE_FAILURES: u32 = 3;
/// The longest wait imposed.
pub const MAX_LOCKOUT: Duration = Duration::from_secs(300);
/// An address quiet for this long starts again from zero.
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);

impl Default for LoginLimiter {
    fn default() -> Self {
        LoginLimiter::new(1024)
    }
}

impl LoginLimiter {
    /// Remembers at most `capacity` addresses (the least recent go first).
    pub fn new(capacity: usize) -> LoginLimiter {
        LoginLimiter {
            entries: HashMap::new(),
            capacity: capacity.max(1),
        }
    }

    /// `Err(wait)` if `peer` must wait before trying again.
    pub fn check(&mut self, peer: IpAddr, now: Instant) -> Result<(), Duration> {
        let Some(a) = self.entries.get(&peer) else {
            return Ok(());
        };
        if now.saturating_duration_since(a.last) >= FORGET_AFTER {
            self.entries.remove(&peer);
            return Ok(());
        }
        if now < a.next_allowed {
            return Err(a.next_allowed - now);
        }
        Ok(())
    }

    pub fn failed(&mut self, peer: IpAddr, now: Instant) {
        if !self.entries.contains_key(&peer) && self.entries.len() >= self.capacity {
            self.entries
                .retain(|_, a| now.saturating_duration_since(a.last) < FORGET_AFTER);
            if self.entries.len() >= self.capacity {
                if let Some(oldest) = self.entries.iter().min_by_key(|(_, a)| a.last) {
                    let oldest = *oldest.0;
                    self.entries.remove(&oldest);
                }
            }
        }
        let a = self.entries.entry(peer).or_insert(Attempts {
            failures: 0,
            last: now,
            next_allowed: now,
        });
        a.failures += 1;
        a.last = now;
        a.next_allowed = now + lockout(a.failures);
    }

    pub fn succeeded(&mut self, peer: IpAddr) {
        self.entries.remove(&peer);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// 0 for the free failures, then 1 s, 2 s, 4 s ... up to [`MAX_LOCKOUT`].
fn lockout(failures: u32) -> Duration {
    if failures <= FREE_FAILURES {
        return Duration::ZERO;
    }
    let exp = (failures - FREE_FAILURES - 1).min(16);
    Duration::from_secs(1u64 << exp).min(MAX_LOCKOUT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(now: Instant) -> Session {
        Session {
            csrf: "c".into(),
            created: now,
            last_seen: now,
            must_change_password: false,
            peer: "10.0.0.1".parse().unwrap(),
            label: "s1".into(),
            flash: Vec::new(),
        }
    }

    #[test]
    fn sessions_expire_when_idle_and_when_old() {
        let t0 = Instant::now();
        let mut s = Sessions::new(SessionLimits {
            max_sessions: 4,
            idle: Duration::from_secs(10),
            max_age: Duration::from_secs(25),
        });
        s.create("a".into(), session(t0));
        assert!(s.touch("a", t0 + Duration::from_secs(9)).is_some());
        assert!(s.touch("a", t0 + Duration::from_secs(18)).is_some());
        // Used every 9 s, but 25 s after the login it ends anyway.
        assert!(s.touch("a", t0 + Duration::from_secs(25)).is_none());
        assert!(s.is_empty());
        s.create("b".into(), session(t0));
        assert!(s.touch("b", t0 + Duration::from_secs(10)).is_none());
        assert!(s.touch("nope", t0).is_none());
    }

    #[test]
    fn the_oldest_session_goes_when_there_are_too_many() {
        let t0 = Instant::now();
        let mut s = Sessions::new(SessionLimits {
            max_sessions: 2,
            ..SessionLimits::default()
        });
        s.create("a".into(), session(t0));
        s.create("b".into(), session(t0 + Duration::from_secs(1)));
        s.touch("a", t0 + Duration::from_secs(2));
        s.create("c".into(), session(t0 + Duration::from_secs(3)));
        assert_eq!(s.len(), 2);
        assert!(s.touch("b", t0 + Duration::from_secs(3)).is_none());
        assert!(s.touch("a", t0 + Duration::from_secs(3)).is_some());
        s.retain_only("c");
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn cookies_are_http_only_and_strict() {
        assert_eq!(
            cookie("t0k"),
            "lvsfw_session=t0k; Path=/; HttpOnly; SameSite=Strict"
        );
        assert!(cookie_cleared().ends_with("Max-Age=0"));
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
        assert!(!same_secret("", "a"));
    }

    #[test]
    fn failed_logins_wait_longer_and_longer() {
        let t0 = Instant::now();
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        let mut l = LoginLimiter::default();
        for _ in 0..FREE_FAILURES {
            assert_eq!(l.check(ip, t0), Ok(()));
            l.failed(ip, t0);
        }
        assert_eq!(l.check(ip, t0), Ok(()));
        l.failed(ip, t0);
        assert_eq!(l.check(ip, t0), Err(Duration::from_secs(1)));
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(l.check(ip, t1), Ok(()));
        l.failed(ip, t1);
        assert_eq!(l.check(ip, t1), Err(Duration::from_secs(2)));
        // Another address is not affected.
        assert_eq!(l.check("10.0.0.8".parse().unwrap(), t1), Ok(()));
        for _ in 0..30 {
            l.failed(ip, t1);
        }
        assert_eq!(l.check(ip, t1), Err(MAX_LOCKOUT));
        // A success clears the count; so does a long quiet.
        l.succeeded(ip);
        assert_eq!(l.check(ip, t1), Ok(()));
        for _ in 0..10 {
            l.failed(ip, t1);
        }
        assert_eq!(l.check(ip, t1 + FORGET_AFTER), Ok(()));
    }

    #[test]
    fn the_limiter_remembers_a_bounded_number_of_addresses() {
        let t0 = Instant::now();
        let mut l = LoginLimiter::new(8);
        for i in 0..100u32 {
            let ip = IpAddr::from([10, 0, (i / 256) as u8, (i % 256) as u8]);
            l.failed(ip, t0 + Duration::from_millis(u64::from(i)));
        }
        assert_eq!(l.len(), 8);
    }
}
