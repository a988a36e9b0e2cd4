//! The site: routes, login and sessions, the pages and the JSON API, and the candidate
//! configuration that the forms and the editor change until Apply puts it in service.
//!
//! [`App::handle`] is synchronous and does no I/O of its own beyond the [`Backend`]; the
//! server runs it on the blocking pool. Every change is logged with who made it and
//! what it was. Nothing is half-applied: a change is validated whole before the backend
//! writes anything.

/// Logs a line as usual and puts it in the audit trail too (`target: "audit"`: the
/// firmware's logger hands it to PID 1, which stamps, keeps and persists it apart from
/// the ordinary log, so that junk requests cannot push it out).
macro_rules! audited {
    ($level:ident, $($arg:tt)+) => {{
        let line = format!($($arg)+);
        log::$level!("{line}");
        match line.strip_prefix("web: ") {
            Some(rest) => log::info!(target: "audit", "page: {rest}"),
            None => log::info!(target: "audit", "page: {line}"),
        }
    }};
}

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use config::Issues;
use ring::rand::{SecureRandom, SystemRandom};
use serde::Serialize;
use serde_json::{json, Value};

use crate::backend::{Applied, Backend, Change};
use crate::edit::{vs_name, Edit};
use crate::form::{format_seconds, Form};
use crate::http::{Head, Method, Request, Response};
use crate::pages::{self, Frame, Message, Nav, StatusView};
use crate::server::{BodySink, Handler};
use crate::session::{self, LoginLimiter, Session, SessionLimits, Sessions};

/// The password rule's bounds, for the page's form and messages ([`config::password::LEN`]).
pub const MIN_PASSWORD_LEN: usize = *config::password::LEN.start();
pub const MAX_PASSWORD_LEN: usize = *config::password::LEN.end();
/// The name a pasted keepalived.conf has in error messages.
const TEXT_NAME: &str = "keepalived.conf";
/// The login form's double-submit cookie (the form carries the same value).
const LOGIN_COOKIE: &str = "__Host-lvsfw_login";

/// Where random bytes come from: the kernel's getrandom in the firmware; a test brings
/// one that fails.
pub trait Random: Send + Sync {
    fn fill(&self, buf: &mut [u8]) -> Result<(), NoRandom>;
}

/// No random bytes could be had: nothing that needs a secret is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoRandom;

impl Random for SystemRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), NoRandom> {
        SecureRandom::fill(self, buf).map_err(|_| NoRandom)
    }
}

impl NoRandom {
    /// The answer when a secret could not be made.
    pub fn response(self, api: bool) -> Response {
        log::error!("web: no random bytes from the kernel; nothing that needs a secret is made");
        refusal(api, 500, "no random bytes from the kernel; try again")
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// PBKDF2 iterations of a new password hash.
    pub hash_iterations: u32,
    pub sessions: SessionLimits,
    /// Serve the page on plain HTTP too, instead of only a redirect to HTTPS: for
    /// `scripts/bench-web`'s comparison, never on a box in service.
    pub plain_http: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            hash_iterations: config::password::DEFAULT_ITERATIONS,
            sessions: SessionLimits::default(),
            plain_http: false,
        }
    }
}

/// The configuration being prepared: keepalived.conf text that the forms and the editor
/// change and Apply puts in service.
#[derive(Debug, Clone)]
struct Candidate {
    text: String,
    /// Who changed it and how, for the page and the log.
    changes: Vec<String>,
}

struct State {
    sessions: Sessions,
    limiter: LoginLimiter,
    candidate: Option<Candidate>,
    /// Counts changes of the candidate; a form made from an older one is refused.
    generation: u64,
}

pub struct App {
    backend: Arc<dyn Backend>,
    options: Options,
    state: Arc<Mutex<State>>,
    /// One password hash at a time: logins cost a core at most.
    login_gate: Mutex<()>,
    rng: Box<dyn Random>,
    clock: Box<dyn Fn() -> Instant + Send + Sync>,
}

/// How a page is framed: its answer's status, title, place in the navigation, messages
/// and template.
struct Page {
    status: u16,
    title: &'static str,
    nav: Nav,
    messages: Vec<Message>,
    template: &'static str,
    /// Seconds between automatic reloads; 0 for none.
    refresh: u32,
}

/// A logged-in request's session: its token and a copy of the session.
struct Auth {
    token: String,
    session: Session,
}

impl Auth {
    fn who(&self) -> String {
        format!("admin from {} ({})", self.session.peer, self.session.label)
    }
}

impl Handler for App {
    fn handle(&self, request: Request) -> Response {
        let now = (self.clock)();
        self.handle_at(&request, now)
    }

    /// Large bodies (a pasted keepalived.conf, a whole configuration) only from a
    /// logged-in session: a stranger's announced upload holds no memory.
    fn admits_large_body(&self, head: &Head) -> Result<(), Response> {
        let now = (self.clock)();
        let live = head
            .cookie(session::COOKIE)
            .is_some_and(|token| lock(&self.state).sessions.is_live(token, now));
        if live {
            Ok(())
        } else {
            Err(Response::text(
                401,
                "a body this large is taken only after a login\n".into(),
            ))
        }
    }

    fn streams_body(&self, request: &Request) -> Option<Result<Box<dyn BodySink>, Response>> {
        self.upload(request, (self.clock)())
    }
}

/// A message for the session's next page (at most a few wait).
fn flash_to(state: &Mutex<State>, token: &str, message: Message) {
    if let Some(s) = lock(state).sessions.get_mut(token) {
        if s.flash.len() < 8 {
            s.flash.push(message);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A handler that panicked leaves consistent data behind (every change is one
    // assignment), so a poisoned lock is used as it is.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The methods each path answers; any other method is 405.
fn allowed(path: &str) -> Option<&'static [Method]> {
    use Method::*;
    Some(match path {
        "/"
        | "/status"
        | "/config"
        | "/log"
        | "/system"
        | "/metrics"
        | "/api/status"
        | "/config/history"
        | "/config/keepalived.conf" => &[Get, Head],
        "/login" | "/password" => &[Get, Head, Post],
        "/logout"
        | "/reboot"
        | "/system/drain"
        | "/system/token"
        | "/system/certificate"
        | "/system/update"
        | "/config/edit"
        | "/config/apply"
        | "/config/discard"
        | "/config/keepalived"
        | "/config/native"
        | "/config/save"
        | "/config/confirm"
        | "/config/restore"
        | "/config/backup"
        | "/api/login"
        | "/api/logout"
        | "/api/password"
        | "/api/config/validate"
        | "/api/config/save" => &[Post],
        "/api/config" => &[Get, Head, Put],
        "/api/update" => &[Put],
        _ => return None,
    })
}

fn is_api(path: &str) -> bool {
    path.starts_with("/api/") || path == "/metrics"
}

fn api_error(status: u16, message: impl Into<String>) -> Response {
    Response::json(status, &json!({ "error": message.into() }))
}

/// A request refused before it is handled: JSON for the API, a line of text for a page.
fn refusal(api: bool, status: u16, message: &str) -> Response {
    if api {
        api_error(status, message)
    } else {
        Response::text(status, format!("{message}\n"))
    }
}

fn issues_json(issues: &Issues) -> Value {
    Value::Array(
        issues
            .iter()
            .map(|i| json!({"location": i.location, "message": i.message}))
            .collect(),
    )
}

/// Text as a textarea sends it (CRLF line ends) made into a file's text.
fn unix_lines(text: &str) -> String {
    let mut t = text.replace("\r\n", "\n").replace('\r', "\n");
    if !t.is_empty() && !t.ends_with('\n') {
        t.push('\n');
    }
    t
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl App {
    pub fn new(backend: Arc<dyn Backend>, options: Options) -> App {
        App::with_clock(backend, options, Box::new(Instant::now))
    }

    /// With a clock of the caller's (tests move time forward).
    pub fn with_clock(
        backend: Arc<dyn Backend>,
        options: Options,
        clock: Box<dyn Fn() -> Instant + Send + Sync>,
    ) -> App {
        App {
            backend,
            options,
            state: Arc::new(Mutex::new(State {
                sessions: Sessions::new(options.sessions),
                limiter: LoginLimiter::default(),
                candidate: None,
                generation: 1,
            })),
            login_gate: Mutex::new(()),
            rng: Box::new(SystemRandom::new()),
            clock,
        }
    }

    /// Random bytes from `rng` from now on (tests).
    pub fn set_random(&mut self, rng: Box<dyn Random>) {
        self.rng = rng;
    }

    /// `bytes` random bytes in hex; never a predictable value in their place.
    fn random_hex(&self, bytes: usize) -> Result<String, NoRandom> {
        let mut buf = vec![0u8; bytes];
        self.rng.fill(&mut buf)?;
        Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
    }

    fn hostname(&self) -> String {
        self.backend
            .native()
            .and_then(|c| c.hostname)
            .unwrap_or_else(|| "lvsfw".into())
    }

    pub fn handle_at(&self, req: &Request, now: Instant) -> Response {
        if let Err(refused) = self.admit(req) {
            return refused;
        }
        let path = req.path();
        let api = is_api(path);
        let post = matches!(req.method(), Method::Post | Method::Put);
        // Page forms come URL-encoded, the API speaks JSON; anything else is refused
        // before it is looked at.
        let form = if post && !api {
            if req.content_type() != "application/x-www-form-urlencoded" {
                return Response::text(
                    415,
                    "a form must be sent as application/x-www-form-urlencoded\n".into(),
                );
            }
            match Form::parse(&req.body) {
                Ok(f) => Some(f),
                Err(e) => return Response::text(400, format!("{e}\n")),
            }
        } else {
            None
        };
        if post && api && req.content_type() != "application/json"
            // A keepalived.conf to validate comes as text.
            && !(path == "/api/config/validate" && req.content_type() == "text/plain")
        {
            return api_error(415, "send the body as application/json");
        }

        match path {
            "/login" if req.method() == Method::Post => {
                return self.login_form(req, form.as_ref(), now)
            }
            "/login" => return self.login_page(req, None, 200),
            "/api/login" => return self.api_login(req, now),
            _ => {}
        }

        // Prometheus and scripts: the metrics token instead of a session, to read only.
        if let Some(token) = req
            .header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
        {
            return self.token_request(req, token.trim());
        }
        let Some(auth) = self.authenticate(req, now) else {
            return if api {
                api_error(401, "log in first: POST /api/login")
            } else {
                Response::see_other("/login")
            };
        };
        if post {
            let sent = req
                .header("x-csrf-token")
                .or_else(|| form.as_ref().and_then(|f| f.get("csrf")))
                .unwrap_or("");
            if let Err(refused) = guard::check_csrf(req, &auth, sent) {
                return refused;
            }
        }
        let form = form.unwrap_or_default();
        match (req.method(), path) {
            (_, "/") => Response::see_other("/status"),
            (_, "/status") => self.status_page(&auth, req),
            (_, "/config") => self.config_page(&auth, ConfigExtras::default(), 200),
            (_, "/log") => self.log_page(&auth),
            (_, "/system") => self.system_page(&auth, Vec::new(), 200),
            (_, "/metrics") => self.metrics(),
            (_, "/config/keepalived.conf") => self.export(),
            (Method::Post, "/logout") | (Method::Post, "/api/logout") => {
                lock(&self.state).sessions.remove(&auth.token);
                log::info!("web: {} logged out", auth.who());
                if path == "/logout" {
                    Response::see_other("/login")
                        .with_header("Set-Cookie", session::cookie_cleared())
                } else {
                    Response::json(200, &json!({"logged_out": true}))
                        .with_header("Set-Cookie", session::cookie_cleared())
                }
            }
            (Method::Post, "/password") => self.password_form(&auth, &form, now),
            (_, "/password") => self.password_page(&auth, Vec::new(), 200),
            (Method::Post, "/api/password") => self.api_password(&auth, req, now),
            (Method::Post, "/reboot") => self.reboot(&auth, &form),
            (Method::Post, "/system/drain") => self.drain(&auth, &form),
            (Method::Post, "/system/token") => self.token_form(&auth, &form),
            (Method::Post, "/system/certificate") => self.certificate_form(&auth, &form),
            (Method::Post, "/config/edit") => self.edit(&auth, &form),
            (Method::Post, "/config/apply") => self.apply_candidate(&auth, &form),
            (Method::Post, "/config/discard") => {
                match self.discard_candidate(false) {
                    Ok(true) => log::info!("web: {} discarded the candidate", auth.who()),
                    Ok(false) => {}
                    Err(e) => return self.config_error(&auth, format!("not discarded: {e}")),
                }
                self.flash(
                    &auth,
                    Message::ok("The candidate is the configuration in service again."),
                );
                Response::see_other("/config")
            }
            (Method::Post, "/config/keepalived") => self.keepalived_form(&auth, &form),
            (Method::Post, "/config/native") => self.native_form(&auth, &form, req.local),
            (Method::Post, "/config/save") | (Method::Post, "/api/config/save") => {
                self.save(&auth, path.starts_with("/api/"))
            }
            (Method::Post, "/config/backup") => self.backup(&auth, &form, now),
            (Method::Post, "/config/confirm") => self.confirm_change(&auth),
            (Method::Post, "/config/restore") => self.restore_revision(&auth, &form),
            (_, "/config/history") => self.history_page(&auth, req),
            (_, "/api/status") => self.api_status(),
            (Method::Put, "/api/config") => self.api_put_config(&auth, req),
            (_, "/api/config") => self.api_get_config(),
            (Method::Post, "/api/config/validate") => self.api_validate(req),
            _ => Response::text(404, format!("no such page: {path}\n")),
        }
    }

    /// The request's live session. One whose password is no longer the stored one
    /// (changed anywhere since its login) has ended.
    fn authenticate(&self, req: &Request, now: Instant) -> Option<Auth> {
        let token = req.cookie(session::COOKIE)?;
        let epoch = session::epoch(self.backend.native()?.admin.password.as_ref());
        let mut state = lock(&self.state);
        let session = state.sessions.touch(token, now)?.clone();
        if epoch.is_empty() || !session::same_secret(&session.epoch, &epoch) {
            state.sessions.remove(token);
            drop(state);
            log::info!(
                "web: admin from {} ({}): the password changed since the login; the session ended",
                session.peer,
                session.label
            );
            return None;
        }
        Some(Auth {
            token: token.to_string(),
            session,
        })
    }

    fn flash(&self, auth: &Auth, message: Message) {
        flash_to(&self.state, &auth.token, message);
    }

    fn take_flash(&self, auth: &Auth) -> Vec<Message> {
        lock(&self.state)
            .sessions
            .get_mut(&auth.token)
            .map(|s| std::mem::take(&mut s.flash))
            .unwrap_or_default()
    }

    fn page<C: Serialize>(&self, auth: Option<&Auth>, spec: Page, context: &C) -> Response {
        let value = serde_json::to_value(context).unwrap_or_default();
        self.page_value(auth, spec, &value)
    }

    fn page_value(&self, auth: Option<&Auth>, spec: Page, context: &Value) -> Response {
        let Page {
            status,
            title,
            nav,
            mut messages,
            template,
            refresh,
        } = spec;
        if let Some(auth) = auth {
            let mut flashed = self.take_flash(auth);
            flashed.append(&mut messages);
            messages = flashed;
        }
        let hostname = self.hostname();
        // Before the login nothing is told about the box.
        let notices = match auth {
            Some(_) => self.backend.notices(),
            None => crate::backend::Notices::default(),
        };
        let frame = Frame {
            title,
            hostname: &hostname,
            nav,
            csrf: auth.map(|a| a.session.csrf.as_str()).unwrap_or(""),
            messages: &messages,
            notices: &notices,
            refresh,
        };
        Response::html(status, pages::render(&frame, template, context))
    }
}

/// What the page says after an Apply: "applied" only when everything configured runs;
/// otherwise what does not, and why.
fn applied_message(what: &str, applied: &Applied, extra: &str) -> Message {
    if applied.not_running.is_empty() {
        Message::ok(format!("{what}: {}.{extra}", applied.said))
    } else {
        Message::error(format!(
            "{what}, but not everything runs: {}; {}.{extra}",
            applied.said,
            applied.not_running.join("; ")
        ))
    }
}

mod account;
mod api;
mod candidate;
mod configure;
mod credentials;
mod guard;
mod history;
mod monitor;
mod update;

pub use configure::native_json;
use configure::{keeps_reaching, ConfigExtras};

#[cfg(test)]
mod tests;
