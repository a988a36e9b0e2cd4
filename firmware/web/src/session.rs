//! Sessions after a login, their CSRF tokens, and the login rate limit. Pure: the caller
//! brings the time and the random bytes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::client::Client;

/// The session cookie's name. `__Host-`: the browser keeps it only if it came over HTTPS
/// with `Secure`, `Path=/` and no `Domain`, so no other host (a sibling name, a
/// plain-HTTP man in the middle) can set or shadow it.
pub const COOKIE: &str = "__Host-lvsfw_session";

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
    /// The password it logged in with, as [`epoch`] names it: when the stored password
    /// is no longer that one (changed on the page, at the console, by a restore), the
    /// session has ended.
    pub epoch: String,
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

    /// Whether `token` has a live session, without marking it used.
    pub fn is_live(&self, token: &str, now: Instant) -> bool {
        self.by_token
            .get(token)
            .is_some_and(|s| alive(s, now, &self.limits))
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

/// The `Set-Cookie` value of a session: only over HTTPS, not readable by scripts, never
/// sent with a request another site started.
pub fn cookie(token: &str) -> String {
    host_cookie(COOKIE, token)
}

/// Ends the session cookie in the browser.
pub fn cookie_cleared() -> String {
    format!("{}; Max-Age=0", host_cookie(COOKIE, ""))
}

/// A `__Host-` cookie's `Set-Cookie` value.
pub fn host_cookie(name: &str, value: &str) -> String {
    format!("{name}={value}; Path=/; Secure; HttpOnly; SameSite=Strict")
}

/// What a session remembers of the password it logged in with: a digest of the stored
/// hash (not the hash itself), or "" while none is stored.
pub fn epoch(stored: Option<&config::PasswordHash>) -> String {
    stored
        .map(|hash| {
            let digest = ring::digest::digest(&ring::digest::SHA256, hash.to_string().as_bytes());
            digest.as_ref()[..16]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        })
        .unwrap_or_default()
}

/// Compares secrets in time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Password attempts, counted before the password is hashed: per client (an IPv4
/// address or an IPv6 /64) a few are free, then each further attempt waits twice as
/// long as the last, up to [`MAX_LOCKOUT`]; and for the whole box a budget that every
/// client draws from, so that guesses from many addresses cannot keep the hashing busy.
/// A success takes its attempt back.
#[derive(Debug)]
pub struct LoginLimiter {
    entries: HashMap<Client, Attempts>,
    capacity: usize,
    /// Attempts the box still takes at once, and when the next one comes back.
    budget: u32,
    refilled: Option<Instant>,
}

#[derive(Debug, Clone, Copy)]
struct Attempts {
    count: u32,
    last: Instant,
    next_allowed: Instant,
}

/// Why an attempt must wait, and how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// This client tried too often.
    Client(Client, Duration),
    /// Every client together did: the box's budget is spent.
    Everyone(Duration),
}

impl Wait {
    pub fn message(&self) -> String {
        match self {
            Wait::Client(client, wait) => format!(
                "too many failed logins from {client}; try again in {} s",
                wait.as_secs().max(1)
            ),
            Wait::Everyone(wait) => format!(
                "too many failed logins on this box from several addresses; try again in {} s",
                wait.as_secs().max(1)
            ),
        }
    }
}

/// Attempts that cost nothing.
pub const FREE_FAILURES: u32 = 3;
/// The longest wait imposed.
pub const MAX_LOCKOUT: Duration = Duration::from_secs(300);
/// Failed logins the whole box takes at once from every address together ...
pub const GLOBAL_BURST: u32 = 10;
/// ... and one more each time this passes.
pub const GLOBAL_EVERY: Duration = Duration::from_secs(6);
/// An address quiet for this long starts again from zero.
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);

impl Default for LoginLimiter {
    fn default() -> Self {
        LoginLimiter::new(1024)
    }
}

impl LoginLimiter {
    /// Remembers at most `capacity` clients (the least recent go first).
    pub fn new(capacity: usize) -> LoginLimiter {
        LoginLimiter {
            entries: HashMap::new(),
            capacity: capacity.max(1),
            budget: GLOBAL_BURST,
            refilled: None,
        }
    }

    /// Takes one attempt for `peer` before its password is hashed, or says how long it
    /// must wait. The attempt counts as failed until [`LoginLimiter::succeeded`].
    pub fn begin(&mut self, peer: IpAddr, now: Instant) -> Result<(), Wait> {
        let client = Client::of(peer);
        if let Some(a) = self.entries.get(&client) {
            if now.saturating_duration_since(a.last) >= FORGET_AFTER {
                self.entries.remove(&client);
            } else if now < a.next_allowed {
                return Err(Wait::Client(client, a.next_allowed - now));
            }
        }
        self.refill(now);
        if self.budget == 0 {
            let since = now.saturating_duration_since(self.refilled.unwrap_or(now));
            return Err(Wait::Everyone(GLOBAL_EVERY.saturating_sub(since)));
        }
        self.budget -= 1;
        if !self.entries.contains_key(&client) && self.entries.len() >= self.capacity {
            self.make_room(now);
        }
        let a = self.entries.entry(client).or_insert(Attempts {
            count: 0,
            last: now,
            next_allowed: now,
        });
        a.count += 1;
        a.last = now;
        a.next_allowed = now + lockout(a.count);
        Ok(())
    }

    /// The attempt begun for `peer` had the right password: its client starts again
    /// from zero and the box's budget gets the attempt back.
    pub fn succeeded(&mut self, peer: IpAddr) {
        self.entries.remove(&Client::of(peer));
        self.budget = (self.budget + 1).min(GLOBAL_BURST);
    }

    fn refill(&mut self, now: Instant) {
        let Some(at) = self.refilled else {
            self.refilled = Some(now);
            return;
        };
        let periods = now.saturating_duration_since(at).as_nanos() / GLOBAL_EVERY.as_nanos();
        if periods > 0 {
            let periods = u32::try_from(periods).unwrap_or(u32::MAX);
            self.budget = self.budget.saturating_add(periods).min(GLOBAL_BURST);
            self.refilled = Some(at + GLOBAL_EVERY * periods.min(1 << 20));
        }
    }

    fn make_room(&mut self, now: Instant) {
        self.entries
            .retain(|_, a| now.saturating_duration_since(a.last) < FORGET_AFTER);
        if self.entries.len() >= self.capacity {
            if let Some(oldest) = self.entries.iter().min_by_key(|(_, a)| a.last) {
                let oldest = *oldest.0;
                self.entries.remove(&oldest);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// 0 for the free attempts, then 1 s, 2 s, 4 s ... up to [`MAX_LOCKOUT`].
fn lockout(attempts: u32) -> Duration {
    if attempts <= FREE_FAILURES {
        return Duration::ZERO;
    }
    let exp = (attempts - FREE_FAILURES - 1).min(16);
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
            epoch: "e1".into(),
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
            "__Host-lvsfw_session=t0k; Path=/; Secure; HttpOnly; SameSite=Strict"
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
        let client = Client::of(ip);
        let mut l = LoginLimiter::default();
        for _ in 0..=FREE_FAILURES {
            assert_eq!(l.begin(ip, t0), Ok(()));
        }
        assert_eq!(
            l.begin(ip, t0),
            Err(Wait::Client(client, Duration::from_secs(1)))
        );
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(l.begin(ip, t1), Ok(()));
        assert_eq!(
            l.begin(ip, t1),
            Err(Wait::Client(client, Duration::from_secs(2)))
        );
        // Another address is not affected.
        assert_eq!(l.begin("10.0.0.8".parse().unwrap(), t1), Ok(()));
        // A success clears the count; so does a long quiet.
        l.succeeded(ip);
        assert_eq!(l.begin(ip, t1), Ok(()));
        let t2 = t1 + FORGET_AFTER;
        for _ in 0..=FREE_FAILURES {
            assert_eq!(l.begin(ip, t2), Ok(()));
        }
        assert!(l.begin(ip, t2).is_err());
        assert_eq!(l.begin(ip, t2 + FORGET_AFTER), Ok(()));
    }

    #[test]
    fn the_lockout_doubles_up_to_its_limit() {
        assert_eq!(lockout(FREE_FAILURES), Duration::ZERO);
        assert_eq!(lockout(FREE_FAILURES + 1), Duration::from_secs(1));
        assert_eq!(lockout(FREE_FAILURES + 3), Duration::from_secs(4));
        assert_eq!(lockout(u32::MAX), MAX_LOCKOUT);
    }

    #[test]
    fn the_box_budget_is_shared_and_comes_back() {
        let t0 = Instant::now();
        let mut l = LoginLimiter::default();
        let ip = |i: u32| IpAddr::from([10, 1, (i / 256) as u8, (i % 256) as u8]);
        for i in 0..GLOBAL_BURST {
            assert_eq!(l.begin(ip(i), t0), Ok(()));
        }
        assert_eq!(l.begin(ip(100), t0), Err(Wait::Everyone(GLOBAL_EVERY)));
        // A success gives its attempt back.
        l.succeeded(ip(0));
        assert_eq!(l.begin(ip(100), t0), Ok(()));
        assert!(l.begin(ip(101), t0).is_err());
        assert_eq!(l.begin(ip(101), t0 + GLOBAL_EVERY), Ok(()));
        assert!(l.begin(ip(102), t0 + GLOBAL_EVERY).is_err());
        let later = t0 + GLOBAL_EVERY * (GLOBAL_BURST + 5);
        for i in 200..200 + GLOBAL_BURST {
            assert_eq!(l.begin(ip(i), later), Ok(()), "{i}");
        }
        assert!(l.begin(ip(300), later).is_err());
    }

    #[test]
    fn the_limiter_remembers_a_bounded_number_of_clients() {
        let t0 = Instant::now();
        let mut l = LoginLimiter::new(8);
        for i in 0..100u32 {
            let ip = IpAddr::from([10, 0, (i / 256) as u8, (i % 256) as u8]);
            let at = t0 + GLOBAL_EVERY * i;
            let _ = l.begin(ip, at);
        }
        assert_eq!(l.len(), 8);
    }
}
