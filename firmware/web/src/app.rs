//! The site: routes, login and sessions, the pages and the JSON API, and the candidate
//! configuration that the forms and the editor change until Apply puts it in service.
//!
//! [`App::handle`] is synchronous and does no I/O of its own beyond the [`Backend`]; the
//! server runs it on the blocking pool. Every change is logged with who made it and
//! what it was. Nothing is half-applied: a change is validated whole before the backend
//! writes anything.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use config::keepalived::{self, Keepalived};
use config::{Config, Issues, PasswordHash};
use ring::rand::{SecureRandom, SystemRandom};
use serde::Serialize;
use serde_json::{json, Value};

use crate::backend::{Backend, Change};
use crate::edit::{vs_name, Edit};
use crate::form::{format_seconds, Form};
use crate::http::{Method, Request, Response};
use crate::pages::{self, Frame, Message, Nav, StatusView};
use crate::server::Handler;
use crate::session::{self, LoginLimiter, Session, SessionLimits, Sessions};

/// The password that logs in while none is set, and that must be changed at once when
/// it is used (the console's login follows the same rule).
pub const FACTORY_PASSWORD: &str = "lvsfw";
pub const MIN_PASSWORD_LEN: usize = 8;
pub const MAX_PASSWORD_LEN: usize = 128;
/// The name a pasted keepalived.conf has in error messages.
const TEXT_NAME: &str = "keepalived.conf";
/// The login form's double-submit cookie (the form carries the same value).
const LOGIN_COOKIE: &str = "lvsfw_login";

#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// PBKDF2 iterations of a new password hash.
    pub hash_iterations: u32,
    pub sessions: SessionLimits,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            hash_iterations: config::password::DEFAULT_ITERATIONS,
            sessions: SessionLimits::default(),
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
    state: Mutex<State>,
    /// One password hash at a time: logins cost a core at most.
    login_gate: Mutex<()>,
    rng: SystemRandom,
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
        | "/config/keepalived.conf" => &[Get, Head],
        "/login" | "/password" => &[Get, Head, Post],
        "/logout"
        | "/reboot"
        | "/config/edit"
        | "/config/apply"
        | "/config/discard"
        | "/config/keepalived"
        | "/config/native"
        | "/config/save"
        | "/api/login"
        | "/api/logout"
        | "/api/password"
        | "/api/config/validate"
        | "/api/config/save" => &[Post],
        "/api/config" => &[Get, Head, Put],
        _ => return None,
    })
}

fn is_api(path: &str) -> bool {
    path.starts_with("/api/") || path == "/metrics"
}

fn api_error(status: u16, message: impl Into<String>) -> Response {
    Response::json(status, &json!({ "error": message.into() }))
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
            state: Mutex::new(State {
                sessions: Sessions::new(options.sessions),
                limiter: LoginLimiter::default(),
                candidate: None,
                generation: 1,
            }),
            login_gate: Mutex::new(()),
            rng: SystemRandom::new(),
            clock,
        }
    }

    fn random_hex(&self, bytes: usize) -> String {
        let mut buf = vec![0u8; bytes];
        // The kernel's getrandom; it does not fail on Linux after early boot.
        if self.rng.fill(&mut buf).is_err() {
            log::error!("web: no random bytes from the kernel");
        }
        buf.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn hostname(&self) -> String {
        self.backend
            .native()
            .and_then(|c| c.hostname)
            .unwrap_or_else(|| "lvsfw".into())
    }

    pub fn handle_at(&self, req: &Request, now: Instant) -> Response {
        let path = req.path();
        let Some(methods) = allowed(path) else {
            return if is_api(path) {
                api_error(404, format!("no such resource: {path}"))
            } else {
                Response::text(404, format!("no such page: {path}\n"))
            };
        };
        if !methods.contains(&req.method()) {
            let allow: Vec<&str> = methods
                .iter()
                .map(|m| match m {
                    Method::Get => "GET",
                    Method::Head => "HEAD",
                    Method::Post => "POST",
                    Method::Put => "PUT",
                    Method::Other => "",
                })
                .collect();
            return Response::text(
                405,
                format!(
                    "{} is not allowed on {path} (allowed: {})\n",
                    req.head.method_text,
                    allow.join(", ")
                ),
            )
            .with_header("Allow", allow.join(", "));
        }
        let post = matches!(req.method(), Method::Post | Method::Put);
        // Page forms come URL-encoded, the API speaks JSON; anything else is refused
        // before it is looked at.
        let form = if post && !is_api(path) {
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
        if post && is_api(path) && req.content_type() != "application/json"
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

        let Some(auth) = self.authenticate(req, now) else {
            return if is_api(path) {
                api_error(401, "log in first: POST /api/login")
            } else {
                Response::see_other("/login")
            };
        };
        if auth.session.must_change_password
            && !matches!(
                path,
                "/password" | "/logout" | "/api/password" | "/api/logout"
            )
        {
            return if is_api(path) {
                api_error(
                    403,
                    "the factory password must be changed first: POST /api/password",
                )
            } else {
                Response::see_other("/password")
            };
        }
        if post {
            let sent = req
                .header("x-csrf-token")
                .or_else(|| form.as_ref().and_then(|f| f.get("csrf")))
                .unwrap_or("");
            if !session::same_secret(sent, &auth.session.csrf) {
                log::warn!(
                    "web: {} {path} from {}: CSRF token missing or wrong; refused",
                    req.head.method_text,
                    req.peer
                );
                let message = "the form is out of date or came from another site (its CSRF token is missing or wrong); nothing was changed; reload the page";
                return if is_api(path) {
                    api_error(403, message)
                } else {
                    Response::text(403, format!("{message}\n"))
                };
            }
        }
        let form = form.unwrap_or_default();
        match (req.method(), path) {
            (_, "/") => Response::see_other("/status"),
            (_, "/status") => self.status_page(&auth, req),
            (_, "/config") => self.config_page(&auth, ConfigExtras::default(), 200),
            (_, "/log") => self.log_page(&auth),
            (_, "/system") => self.system_page(&auth, Vec::new(), 200),
            (_, "/metrics") => Response::new(
                200,
                "text/plain; version=0.0.4; charset=utf-8",
                crate::metrics::render(&self.backend.status()),
            ),
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
            (Method::Post, "/password") => self.password_form(&auth, &form),
            (_, "/password") => self.password_page(&auth, Vec::new(), 200),
            (Method::Post, "/api/password") => self.api_password(&auth, req),
            (Method::Post, "/reboot") => self.reboot(&auth, &form),
            (Method::Post, "/config/edit") => self.edit(&auth, &form),
            (Method::Post, "/config/apply") => self.apply_candidate(&auth, &form),
            (Method::Post, "/config/discard") => {
                let mut state = lock(&self.state);
                if state.candidate.take().is_some() {
                    state.generation += 1;
                    log::info!("web: {} discarded the candidate", auth.who());
                }
                drop(state);
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
            (_, "/api/status") => Response::json(
                200,
                &serde_json::to_value(self.backend.status()).unwrap_or(Value::Null),
            ),
            (Method::Put, "/api/config") => self.api_put_config(&auth, req),
            (_, "/api/config") => self.api_get_config(),
            (Method::Post, "/api/config/validate") => self.api_validate(req),
            _ => Response::text(404, format!("no such page: {path}\n")),
        }
    }

    fn authenticate(&self, req: &Request, now: Instant) -> Option<Auth> {
        let token = req.cookie(session::COOKIE)?;
        let mut state = lock(&self.state);
        let session = state.sessions.touch(token, now)?.clone();
        Some(Auth {
            token: token.to_string(),
            session,
        })
    }

    fn flash(&self, auth: &Auth, message: Message) {
        if let Some(s) = lock(&self.state).sessions.get_mut(&auth.token) {
            if s.flash.len() < 8 {
                s.flash.push(message);
            }
        }
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
        let frame = Frame {
            title,
            hostname: &hostname,
            nav,
            csrf: auth.map(|a| a.session.csrf.as_str()).unwrap_or(""),
            messages: &messages,
            refresh,
        };
        Response::html(status, pages::render(&frame, template, context))
    }

    // --- login, logout, password ------------------------------------------------------

    fn login_page(&self, _req: &Request, error: Option<String>, status: u16) -> Response {
        let token = self.random_hex(16);
        let factory = self
            .backend
            .native()
            .is_none_or(|c| c.admin.password.is_none());
        #[derive(Serialize)]
        struct View {
            login_token: String,
            factory: bool,
        }
        let messages = error.map(Message::error).into_iter().collect();
        self.page(
            None,
            Page {
                status,
                title: "Log in",
                nav: Nav::None,
                messages,
                template: pages::LOGIN,
                refresh: 0,
            },
            &View {
                login_token: token.clone(),
                factory,
            },
        )
        .with_header(
            "Set-Cookie",
            format!("{LOGIN_COOKIE}={token}; Path=/login; HttpOnly; SameSite=Strict"),
        )
    }

    /// Checks `password` for `peer`: the session's token and whether it must change the
    /// password, or the answer to give.
    fn login(
        &self,
        peer: IpAddr,
        password: &str,
        now: Instant,
    ) -> Result<(String, bool), (u16, String)> {
        if let Err(wait) = lock(&self.state).limiter.check(peer, now) {
            return Err((
                429,
                format!(
                    "too many failed logins from {peer}; try again in {} s",
                    wait.as_secs().max(1)
                ),
            ));
        }
        if password.len() > MAX_PASSWORD_LEN {
            return Err((
                400,
                format!("a password has at most {MAX_PASSWORD_LEN} bytes"),
            ));
        }
        let stored = self.backend.native().and_then(|c| c.admin.password);
        let ok = {
            let _gate = lock(&self.login_gate);
            match &stored {
                Some(hash) => hash.verify(password),
                None => session::same_secret(password, FACTORY_PASSWORD),
            }
        };
        let now = (self.clock)().max(now);
        let mut state = lock(&self.state);
        if !ok {
            state.limiter.failed(peer, now);
            drop(state);
            log::warn!("web: failed login from {peer}");
            return Err((401, "wrong password".into()));
        }
        state.limiter.succeeded(peer);
        let must_change = session::same_secret(password, FACTORY_PASSWORD);
        let token = self.random_hex(32);
        let label = format!("session {}", &self.random_hex(3));
        state.sessions.create(
            token.clone(),
            Session {
                csrf: self.random_hex(16),
                created: now,
                last_seen: now,
                must_change_password: must_change,
                peer,
                label: label.clone(),
                flash: Vec::new(),
            },
        );
        drop(state);
        log::info!(
            "web: admin logged in from {peer} ({label}){}",
            if must_change {
                " with the factory password"
            } else {
                ""
            }
        );
        Ok((token, must_change))
    }

    fn login_form(&self, req: &Request, form: Option<&Form>, now: Instant) -> Response {
        let form = form.cloned().unwrap_or_default();
        let sent = form.get("login_token").unwrap_or("");
        let cookie = req.cookie(LOGIN_COOKIE).unwrap_or("");
        if sent.is_empty() || !session::same_secret(sent, cookie) {
            return self.login_page(
                req,
                Some("the login form was out of date; log in again".into()),
                403,
            );
        }
        let password = form.get("password").unwrap_or("");
        match self.login(req.peer, password, now) {
            Ok((token, must_change)) => {
                Response::see_other(if must_change { "/password" } else { "/status" })
                    .with_header("Set-Cookie", session::cookie(&token))
            }
            Err((status, message)) => self.login_page(req, Some(message), status),
        }
    }

    fn api_login(&self, req: &Request, now: Instant) -> Response {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Body {
            password: String,
        }
        let body: Body = match serde_json::from_slice(&req.body) {
            Ok(b) => b,
            Err(e) => {
                return api_error(
                    400,
                    format!("the body is not {{\"password\": \"...\"}}: {e}"),
                )
            }
        };
        match self.login(req.peer, &body.password, now) {
            Ok((token, must_change)) => {
                let csrf = lock(&self.state)
                    .sessions
                    .get_mut(&token)
                    .map(|s| s.csrf.clone())
                    .unwrap_or_default();
                Response::json(
                    200,
                    &json!({"csrf": csrf, "must_change_password": must_change}),
                )
                .with_header("Set-Cookie", session::cookie(&token))
            }
            Err((status, message)) => api_error(status, message),
        }
    }

    fn password_page(&self, auth: &Auth, messages: Vec<Message>, status: u16) -> Response {
        #[derive(Serialize)]
        struct View {
            csrf: String,
            forced: bool,
            min_len: usize,
        }
        let nav = if auth.session.must_change_password {
            Nav::None
        } else {
            Nav::System
        };
        self.page(
            Some(auth),
            Page {
                status,
                title: "Change password",
                nav,
                messages,
                template: pages::PASSWORD,
                refresh: 0,
            },
            &View {
                csrf: auth.session.csrf.clone(),
                forced: auth.session.must_change_password,
                min_len: MIN_PASSWORD_LEN,
            },
        )
    }

    /// Checks and stores a new password; the error names what was wrong.
    fn change_password(
        &self,
        auth: &Auth,
        current: Option<&str>,
        new: &str,
        again: Option<&str>,
    ) -> Result<(), (u16, String)> {
        let Some(mut native) = self.backend.native() else {
            return Err((
                409,
                "no valid /etc/lvsfw/config.json is in service, so there is nowhere to keep a password; fix the configuration at the console first".into(),
            ));
        };
        if !auth.session.must_change_password {
            let current = current.unwrap_or("");
            let ok = {
                let _gate = lock(&self.login_gate);
                match &native.admin.password {
                    Some(hash) => hash.verify(current),
                    None => session::same_secret(current, FACTORY_PASSWORD),
                }
            };
            if !ok {
                lock(&self.state)
                    .limiter
                    .failed(auth.session.peer, (self.clock)());
                return Err((403, "the current password is wrong".into()));
            }
        }
        if new.chars().count() < MIN_PASSWORD_LEN {
            return Err((
                422,
                format!("the new password needs at least {MIN_PASSWORD_LEN} characters"),
            ));
        }
        if new.len() > MAX_PASSWORD_LEN {
            return Err((
                422,
                format!("a password has at most {MAX_PASSWORD_LEN} bytes"),
            ));
        }
        if new == FACTORY_PASSWORD {
            return Err((
                422,
                "the new password cannot be the factory password".into(),
            ));
        }
        if again.is_some_and(|a| a != new) {
            return Err((422, "the two new passwords differ".into()));
        }
        let mut salt = [0u8; 16];
        self.rng
            .fill(&mut salt)
            .map_err(|_| (500, "no random bytes from the kernel".to_string()))?;
        let hash = {
            let _gate = lock(&self.login_gate);
            PasswordHash::new(new, &salt, self.options.hash_iterations)
        }
        .map_err(|e| (500, e))?;
        native.admin.password = Some(hash);
        self.backend
            .apply(Change {
                native: Some(native),
                keepalived: None,
            })
            .map_err(|e| (500, format!("the password was not stored: {e}")))?;
        let mut state = lock(&self.state);
        state.sessions.retain_only(&auth.token);
        if let Some(s) = state.sessions.get_mut(&auth.token) {
            s.must_change_password = false;
        }
        drop(state);
        log::info!(
            "web: {} changed the admin password; other sessions ended",
            auth.who()
        );
        Ok(())
    }

    fn password_form(&self, auth: &Auth, form: &Form) -> Response {
        let result = self.change_password(
            auth,
            form.get("current"),
            form.get("new").unwrap_or(""),
            Some(form.get("again").unwrap_or("")),
        );
        match result {
            Ok(()) => {
                self.flash(
                    auth,
                    Message::ok("Password changed. Save keeps it across a reboot."),
                );
                Response::see_other("/status")
            }
            Err((status, message)) => {
                let mut auth = Auth {
                    token: auth.token.clone(),
                    session: auth.session.clone(),
                };
                if let Some(s) = lock(&self.state).sessions.get_mut(&auth.token) {
                    auth.session = s.clone();
                }
                self.password_page(&auth, vec![Message::error(message)], status)
            }
        }
    }

    fn api_password(&self, auth: &Auth, req: &Request) -> Response {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Body {
            current: Option<String>,
            new: String,
        }
        let body: Body = match serde_json::from_slice(&req.body) {
            Ok(b) => b,
            Err(e) => {
                return api_error(
                    400,
                    format!("the body is not {{\"current\": \"...\", \"new\": \"...\"}}: {e}"),
                )
            }
        };
        match self.change_password(auth, body.current.as_deref(), &body.new, None) {
            Ok(()) => Response::json(200, &json!({"changed": true})),
            Err((status, message)) => api_error(status, message),
        }
    }

    // --- status, log, system ------------------------------------------------------------

    fn status_page(&self, auth: &Auth, req: &Request) -> Response {
        let status = self.backend.status();
        let refresh = req
            .head
            .query
            .split('&')
            .find_map(|kv| kv.strip_prefix("refresh="))
            .and_then(|v| v.parse::<u32>().ok())
            .map(|s| s.clamp(2, 3600))
            .unwrap_or(0);
        self.page(
            Some(auth),
            Page {
                status: 200,
                title: "Status",
                nav: Nav::Status,
                messages: Vec::new(),
                template: pages::STATUS,
                refresh,
            },
            &StatusView::new(&status, now_ms()),
        )
    }

    fn log_page(&self, auth: &Auth) -> Response {
        #[derive(Serialize)]
        struct View {
            count: usize,
            lines: Vec<String>,
        }
        let lines = self.backend.log_lines();
        self.page(
            Some(auth),
            Page {
                status: 200,
                title: "Log",
                nav: Nav::Log,
                messages: Vec::new(),
                template: pages::LOG,
                refresh: 0,
            },
            &View {
                count: lines.len(),
                lines,
            },
        )
    }

    fn system_page(&self, auth: &Auth, messages: Vec<Message>, status: u16) -> Response {
        #[derive(Serialize)]
        struct View {
            csrf: String,
            version: &'static str,
            hostname: String,
            uptime: String,
            unsaved: bool,
        }
        let uptime = std::fs::read_to_string("/proc/uptime")
            .ok()
            .and_then(|t| t.split('.').next()?.parse::<u64>().ok())
            .map(pages::duration_text)
            .unwrap_or_default();
        self.page(
            Some(auth),
            Page {
                status,
                title: "System",
                nav: Nav::System,
                messages,
                template: pages::SYSTEM,
                refresh: 0,
            },
            &View {
                csrf: auth.session.csrf.clone(),
                version: env!("CARGO_PKG_VERSION"),
                hostname: self.hostname(),
                uptime,
                unsaved: true,
            },
        )
    }

    fn reboot(&self, auth: &Auth, form: &Form) -> Response {
        if form.get("confirm") != Some("yes") {
            return self.system_page(
                auth,
                vec![Message::error("tick the box to confirm the reboot")],
                422,
            );
        }
        log::warn!("web: {} asked for a reboot", auth.who());
        match self.backend.reboot() {
            Ok(()) => self.system_page(
                auth,
                vec![Message::note(
                    "Rebooting. The page comes back when the appliance is up again.",
                )],
                200,
            ),
            Err(e) => self.system_page(auth, vec![Message::error(e)], 500),
        }
    }

    fn save(&self, auth: &Auth, api: bool) -> Response {
        let result = self.backend.save();
        match &result {
            Ok(said) => log::info!("web: {} saved the configuration: {said}", auth.who()),
            Err(e) => log::warn!("web: {} asked to save: {e}", auth.who()),
        }
        if api {
            return match result {
                Ok(said) => Response::json(200, &json!({"saved": true, "message": said})),
                Err(e) => api_error(503, e),
            };
        }
        self.flash(
            auth,
            match result {
                Ok(said) => Message::ok(format!("Saved: {said}")),
                Err(e) => Message::error(format!("Not saved: {e}")),
            },
        );
        Response::see_other("/config")
    }

    // --- configuration -------------------------------------------------------------------

    /// The running keepalived.conf text; empty when there is none.
    fn running_text(&self) -> Result<String, String> {
        Ok(self.backend.keepalived_text()?.unwrap_or_default())
    }

    fn export(&self) -> Response {
        match self.backend.keepalived_text() {
            Ok(text) => Response::new(200, "text/plain; charset=utf-8", text.unwrap_or_default())
                .with_header(
                    "Content-Disposition",
                    "attachment; filename=\"keepalived.conf\"".into(),
                ),
            Err(e) => Response::text(500, format!("{e}\n")),
        }
    }

    /// The candidate's text and generation.
    fn candidate(&self) -> Result<(String, u64, Option<Candidate>), String> {
        let (candidate, generation) = {
            let state = lock(&self.state);
            (state.candidate.clone(), state.generation)
        };
        let text = match &candidate {
            Some(c) => c.text.clone(),
            None => self.running_text()?,
        };
        Ok((text, generation, candidate))
    }

    /// Refuses a form made from another candidate than the current one.
    fn check_generation(&self, form: &Form, generation: u64) -> Result<(), String> {
        match form.get("generation").and_then(|g| g.parse::<u64>().ok()) {
            Some(g) if g == generation => Ok(()),
            _ => Err("the candidate changed since this page was made (another tab or another admin); nothing was changed; here is the current one".into()),
        }
    }

    fn edit(&self, auth: &Auth, form: &Form) -> Response {
        let result = (|| -> Result<String, Vec<String>> {
            let edit = Edit::from_form(form).map_err(|e| vec![e])?;
            let (text, generation, _) = self.candidate().map_err(|e| vec![e])?;
            self.check_generation(form, generation)
                .map_err(|e| vec![e])?;
            let read = keepalived::read_text(&text, TEXT_NAME).map_err(|issues| {
                let mut out = vec![
                    "the candidate keepalived.conf has errors; fix them in the editor first"
                        .to_string(),
                ];
                out.extend(issues.iter().map(|i| i.to_string()));
                out
            })?;
            let mut k = read.config;
            let said = edit.apply(&mut k).map_err(|e| vec![e])?;
            let native = self.backend.native();
            let findings = keepalived::validate(&k, native.as_ref());
            if !findings.is_empty() {
                return Err(findings
                    .iter()
                    .map(|f| format!("{}: {}", f.path, f.message))
                    .collect());
            }
            let new_text = keepalived::to_keepalived_conf(&k);
            let mut state = lock(&self.state);
            if state.generation != generation {
                return Err(vec!["the candidate changed while this edit was checked; nothing was changed; try again".into()]);
            }
            let mut changes = state
                .candidate
                .take()
                .map(|c| c.changes)
                .unwrap_or_default();
            changes.push(format!("{}: {said}", auth.who()));
            state.candidate = Some(Candidate {
                text: new_text,
                changes,
            });
            state.generation += 1;
            Ok(said)
        })();
        match result {
            Ok(said) => {
                log::info!("web: {} changed the candidate: {said}", auth.who());
                self.flash(
                    auth,
                    Message::ok(format!("Candidate: {said}. Apply puts it in service.")),
                );
                Response::see_other("/config")
            }
            Err(errors) => self.config_page(
                auth,
                ConfigExtras {
                    edit_errors: errors,
                    ..ConfigExtras::default()
                },
                422,
            ),
        }
    }

    /// Reads keepalived.conf text and validates it against the native configuration.
    fn check_text(&self, text: &str) -> Result<keepalived::Read, Issues> {
        let read = keepalived::read_text(text, TEXT_NAME)?;
        if let Some(native) = self.backend.native() {
            read.validate_with(&native)?;
        }
        Ok(read)
    }

    /// Puts checked keepalived.conf text in service; what the balancer said.
    fn put_in_service(
        &self,
        auth: &Auth,
        text: &str,
        read: &keepalived::Read,
        how: &str,
    ) -> Result<String, String> {
        let said = self.backend.apply(Change {
            native: None,
            keepalived: Some(text.to_string()),
        })?;
        let mut state = lock(&self.state);
        let changes = state
            .candidate
            .take()
            .map(|c| c.changes)
            .unwrap_or_default();
        state.generation += 1;
        drop(state);
        log::info!(
            "web: {} applied keepalived.conf {how}: {} virtual servers, {} VRRP instances{}",
            auth.who(),
            read.config.virtual_servers.len(),
            read.config.vrrp_instances.len(),
            if changes.is_empty() {
                String::new()
            } else {
                format!(" ({})", changes.join("; "))
            }
        );
        Ok(said)
    }

    fn apply_candidate(&self, auth: &Auth, form: &Form) -> Response {
        let (text, generation, candidate) = match self.candidate() {
            Ok(c) => c,
            Err(e) => return self.config_error(auth, e),
        };
        if let Err(e) = self.check_generation(form, generation) {
            return self.config_error(auth, e);
        }
        if candidate.is_none() {
            self.flash(
                auth,
                Message::note("Nothing to apply: the candidate is what is in service."),
            );
            return Response::see_other("/config");
        }
        let read = match self.check_text(&text) {
            Ok(read) => read,
            Err(issues) => {
                return self.config_page(
                    auth,
                    ConfigExtras {
                        text: Some(text),
                        text_issues: Some(issues),
                        ..ConfigExtras::default()
                    },
                    422,
                )
            }
        };
        match self.put_in_service(auth, &text, &read, "from the candidate") {
            Ok(said) => {
                self.flash(auth, Message::ok(format!("Applied: {said}")));
                Response::see_other("/config")
            }
            Err(e) => self.config_error(auth, format!("not applied: {e}")),
        }
    }

    fn config_error(&self, auth: &Auth, error: String) -> Response {
        self.config_page(
            auth,
            ConfigExtras {
                edit_errors: vec![error],
                ..ConfigExtras::default()
            },
            409,
        )
    }

    fn keepalived_form(&self, auth: &Auth, form: &Form) -> Response {
        let Some(text) = form.get("text") else {
            return self.config_error(auth, "the form has no field \"text\"".into());
        };
        let text = unix_lines(text);
        let action = form.get("action").unwrap_or("validate");
        if !matches!(action, "validate" | "stage" | "apply") {
            return self.config_error(
                auth,
                format!("action: \"{action}\" is not validate, stage or apply"),
            );
        }
        let read = match self.check_text(&text) {
            Ok(read) => read,
            Err(issues) => {
                log::info!(
                    "web: {} pasted a keepalived.conf with {} errors; nothing changed",
                    auth.who(),
                    issues.iter().count()
                );
                return self.config_page(
                    auth,
                    ConfigExtras {
                        text: Some(text),
                        text_issues: Some(issues),
                        ..ConfigExtras::default()
                    },
                    422,
                );
            }
        };
        let summary = format!(
            "{} virtual servers, {} VRRP instances",
            read.config.virtual_servers.len(),
            read.config.vrrp_instances.len()
        );
        let notes: String = read.notes.iter().map(|n| format!(" Note: {n}.")).collect();
        match action {
            "validate" => self.config_page(
                auth,
                ConfigExtras {
                    text: Some(text),
                    text_ok: Some(format!("Valid: {summary}.{notes} Nothing was changed.")),
                    ..ConfigExtras::default()
                },
                200,
            ),
            "stage" => {
                let mut state = lock(&self.state);
                let mut changes = state
                    .candidate
                    .take()
                    .map(|c| c.changes)
                    .unwrap_or_default();
                changes.push(format!("{}: keepalived.conf pasted", auth.who()));
                state.candidate = Some(Candidate { text, changes });
                state.generation += 1;
                drop(state);
                log::info!(
                    "web: {} made a pasted keepalived.conf the candidate ({summary})",
                    auth.who()
                );
                self.flash(auth, Message::ok(format!("Candidate: the pasted keepalived.conf ({summary}).{notes} Apply puts it in service.")));
                Response::see_other("/config")
            }
            _ => match self.put_in_service(auth, &text, &read, "pasted") {
                Ok(said) => {
                    self.flash(auth, Message::ok(format!("Applied: {said}.{notes}")));
                    Response::see_other("/config")
                }
                Err(e) => self.config_error(auth, format!("not applied: {e}")),
            },
        }
    }

    /// A native JSON text checked for the page or the API: the configuration with the
    /// stored password kept, and with `keepalived` as `keepalived` says (the running
    /// one when `keepalived` is `None`).
    fn check_native(&self, text: &str, whole: bool) -> Result<Config, Issues> {
        let mut issues = Issues::default();
        let value: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                let message = e.to_string();
                let message = message
                    .rfind(" at line ")
                    .map(|at| message[..at].to_string())
                    .unwrap_or(message);
                issues.push(format!("{}:{}", e.line(), e.column()), message);
                return Err(issues);
            }
        };
        if value.pointer("/admin/password_hash").is_some() {
            issues.push(
                "admin.password_hash",
                "the password is changed on the password page (or POST /api/password), not here; leave it out and the stored one is kept",
            );
        }
        if !whole && value.get("keepalived").is_some() {
            issues.push(
                "keepalived",
                "keepalived.conf is edited on its own; leave it out here",
            );
        }
        if !issues.is_empty() {
            return Err(issues);
        }
        let mut config = config::native::from_json(text)?;
        config.admin.password = self.backend.native().and_then(|c| c.admin.password);
        if !whole {
            let running = self
                .running_text()
                .map_err(|e| Issues(vec![config::Issue::new(TEXT_NAME, e)]))?;
            let k = keepalived::read_text(&running, TEXT_NAME)
                .map(|r| r.config)
                .unwrap_or_default();
            let findings = keepalived::validate(&k, Some(&config));
            for f in findings {
                issues.push(
                    format!("{TEXT_NAME} {}", f.path),
                    format!("{} (with these interfaces)", f.message),
                );
            }
            if !issues.is_empty() {
                return Err(issues);
            }
            config.keepalived = k;
        }
        Ok(config)
    }

    fn native_form(&self, auth: &Auth, form: &Form, local: Option<IpAddr>) -> Response {
        let Some(text) = form.get("text") else {
            return self.config_error(auth, "the form has no field \"text\"".into());
        };
        let text = unix_lines(text);
        let apply = form.get("action") == Some("apply");
        let config = match self
            .check_native(&text, false)
            .and_then(|c| keeps_reaching(&c, local).map(|()| c))
        {
            Ok(c) => c,
            Err(issues) => {
                return self.config_page(
                    auth,
                    ConfigExtras {
                        native_text: Some(text),
                        native_issues: Some(issues),
                        ..ConfigExtras::default()
                    },
                    422,
                )
            }
        };
        if !apply {
            self.flash(
                auth,
                Message::ok("The native settings are valid. Nothing was changed."),
            );
            return self.config_page(
                auth,
                ConfigExtras {
                    native_text: Some(text),
                    ..ConfigExtras::default()
                },
                200,
            );
        }
        let mut native = config;
        native.keepalived = Keepalived::default();
        match self.backend.apply(Change {
            native: Some(native),
            keepalived: None,
        }) {
            Ok(said) => {
                log::info!("web: {} applied native settings: {said}", auth.who());
                self.flash(
                    auth,
                    Message::ok(format!("Applied the native settings: {said}")),
                );
                Response::see_other("/config")
            }
            Err(e) => self.config_error(auth, format!("not applied: {e}")),
        }
    }

    fn config_page(&self, auth: &Auth, extras: ConfigExtras, status: u16) -> Response {
        let view = match self.config_view(auth, extras) {
            Ok(v) => v,
            Err(e) => {
                return self.page(
                    Some(auth),
                    Page {
                        status: 500,
                        title: "Configuration",
                        nav: Nav::Config,
                        messages: vec![Message::error(e)],
                        template: pages::LOG,
                        refresh: 0,
                    },
                    &json!({"count": 0, "lines": []}),
                )
            }
        };
        self.page(
            Some(auth),
            Page {
                status,
                title: "Configuration",
                nav: Nav::Config,
                messages: Vec::new(),
                template: pages::CONFIG,
                refresh: 0,
            },
            &view,
        )
    }

    fn config_view(&self, auth: &Auth, extras: ConfigExtras) -> Result<ConfigView, String> {
        let (candidate_text, generation, candidate) = self.candidate()?;
        let model = keepalived::read_text(&candidate_text, TEXT_NAME)
            .map(|r| r.config)
            .unwrap_or_default();
        let vrrp_states: Vec<(String, String)> = self
            .backend
            .status()
            .vrrp
            .into_iter()
            .map(|i| (i.name, i.state))
            .collect();
        let text = extras.text.unwrap_or(candidate_text);
        let (text_errors, annotated) = match &extras.text_issues {
            Some(issues) => annotate(&text, issues),
            None => (Vec::new(), Vec::new()),
        };
        let native = self.backend.native();
        let native_text = extras.native_text.unwrap_or_else(|| {
            native
                .as_ref()
                .map(native_json)
                .unwrap_or_else(|| "{}\n".into())
        });
        let native_errors: Vec<ErrorView> = extras
            .native_issues
            .iter()
            .flat_map(|i| i.iter())
            .map(|i| ErrorView {
                location: i.location.clone(),
                message: i.message.clone(),
            })
            .collect();
        Ok(ConfigView {
            csrf: auth.session.csrf.clone(),
            generation,
            pending: candidate.is_some(),
            pending_by: candidate.map(|c| c.changes.join("; ")).unwrap_or_default(),
            edit_errors: extras.edit_errors,
            instances: model
                .vrrp_instances
                .iter()
                .enumerate()
                .map(|(index, i)| InstanceView {
                    index,
                    name: i.name.clone(),
                    state: vrrp_states
                        .iter()
                        .find(|(n, _)| *n == i.name)
                        .map(|(_, s)| s.clone())
                        .unwrap_or_else(|| "not running".into()),
                    interface: i.interface.clone(),
                    vrid: i.vrid,
                    priority: i.priority,
                    vips: i
                        .vips
                        .iter()
                        .enumerate()
                        .map(|(v, vip)| VipView {
                            instance: index,
                            index: v,
                            text: match &vip.dev {
                                Some(dev) => format!("{} dev {dev}", vip.address),
                                None => vip.address.to_string(),
                            },
                        })
                        .collect(),
                })
                .collect(),
            virtual_servers: model
                .virtual_servers
                .iter()
                .enumerate()
                .map(|(index, v)| VsView {
                    index,
                    name: vs_name(v),
                    protocol: v.protocol.keyword(),
                    lb_kind: v.lb_kind.keyword(),
                    delay_loop: format_seconds(v.delay_loop),
                    port: match v.key {
                        keepalived::VsKey::Addr { port, .. } => port,
                        _ => 0,
                    },
                    schedulers: keepalived::SCHEDULERS
                        .iter()
                        .map(|s| SchedulerView {
                            name: s,
                            selected: *s == v.lb_algo,
                        })
                        .collect(),
                    real_servers: v
                        .real_servers
                        .iter()
                        .enumerate()
                        .map(|(r, rs)| {
                            let first = rs.checks.first();
                            RsView {
                                vs: index,
                                index: r,
                                ip: rs.ip.to_string(),
                                port: rs.port,
                                weight: rs.weight,
                                disabled: rs.weight == 0,
                                checks: rs
                                    .checks
                                    .iter()
                                    .map(|c| c.kind.keyword())
                                    .collect::<Vec<_>>()
                                    .join(", "),
                                connect_timeout: first
                                    .map(|c| format_seconds(c.connect_timeout))
                                    .unwrap_or_default(),
                                retry: first.map(|c| c.retry.to_string()).unwrap_or_default(),
                                delay_before_retry: first
                                    .map(|c| format_seconds(c.delay_before_retry))
                                    .unwrap_or_default(),
                            }
                        })
                        .collect(),
                })
                .collect(),
            text,
            text_error_count: text_errors.len(),
            text_errors,
            annotated,
            text_ok: extras.text_ok,
            native_text,
            native_error_count: native_errors.len(),
            native_errors,
        })
    }

    // --- JSON API ---------------------------------------------------------------------

    fn api_get_config(&self) -> Response {
        let running = match self.running_text() {
            Ok(t) => t,
            Err(e) => return api_error(500, e),
        };
        let k = match keepalived::read_text(&running, TEXT_NAME) {
            Ok(read) => read.config,
            Err(issues) => {
                return Response::json(
                    500,
                    &json!({"error": "the keepalived.conf in service has errors", "errors": issues_json(&issues)}),
                )
            }
        };
        let mut config = self.backend.native().unwrap_or_default();
        config.keepalived = k;
        let mut value: Value =
            serde_json::from_str(&config::native::to_json(&config)).unwrap_or(Value::Null);
        strip_password(&mut value);
        Response::json(200, &value)
    }

    fn api_put_config(&self, auth: &Auth, req: &Request) -> Response {
        let Ok(text) = std::str::from_utf8(&req.body) else {
            return api_error(400, "the body is not UTF-8");
        };
        let config = match self
            .check_native(text, true)
            .and_then(|c| keeps_reaching(&c, req.local).map(|()| c))
        {
            Ok(c) => c,
            Err(issues) => {
                return Response::json(
                    422,
                    &json!({"error": "the configuration has errors; nothing was changed", "errors": issues_json(&issues)}),
                )
            }
        };
        let keepalived_text = keepalived::to_keepalived_conf(&config.keepalived);
        let summary = format!(
            "{} virtual servers, {} VRRP instances",
            config.keepalived.virtual_servers.len(),
            config.keepalived.vrrp_instances.len()
        );
        let mut native = config;
        native.keepalived = Keepalived::default();
        match self.backend.apply(Change {
            native: Some(native),
            keepalived: Some(keepalived_text),
        }) {
            Ok(said) => {
                let mut state = lock(&self.state);
                state.candidate = None;
                state.generation += 1;
                drop(state);
                log::info!(
                    "web: {} put a whole configuration through the API ({summary})",
                    auth.who()
                );
                Response::json(200, &json!({"applied": true, "message": said}))
            }
            Err(e) => api_error(500, format!("not applied: {e}")),
        }
    }

    fn api_validate(&self, req: &Request) -> Response {
        let Ok(text) = std::str::from_utf8(&req.body) else {
            return api_error(400, "the body is not UTF-8");
        };
        let result = if req.content_type() == "text/plain" {
            self.check_text(text).map(|read| read.notes)
        } else {
            self.check_native(text, true).map(|_| Vec::new())
        };
        match result {
            Ok(notes) => Response::json(200, &json!({"valid": true, "errors": [], "notes": notes})),
            Err(issues) => Response::json(
                200,
                &json!({"valid": false, "errors": issues_json(&issues)}),
            ),
        }
    }
}

/// The page is not allowed to cut itself off: new native settings must keep the address
/// this request came to (a change of management address is made at the console).
fn keeps_reaching(config: &Config, local: Option<IpAddr>) -> Result<(), Issues> {
    let Some(local) = local.filter(|l| !l.is_loopback()) else {
        return Ok(());
    };
    let mut issues = Issues::default();
    let kept = config
        .interfaces
        .iter()
        .flat_map(|i| &i.addresses)
        .any(|p| p.addr == local);
    if !kept {
        issues.push(
            "interfaces",
            format!("{local}, the address this page is reached on, would be removed; change the management address at the console"),
        );
    }
    if let Some(m) = config.admin.management_address.filter(|m| *m != local) {
        issues.push(
            "admin.management_address",
            format!("the page would move to {m} and this one ({local}) would stop answering; do that at the console"),
        );
    }
    if issues.is_empty() {
        Ok(())
    } else {
        Err(issues)
    }
}

/// The native configuration as the editor shows it: without `keepalived` (edited on its
/// own) and without the password hash.
pub fn native_json(config: &Config) -> String {
    let mut value: Value =
        serde_json::from_str(&config::native::to_json(config)).unwrap_or(Value::Null);
    if let Some(object) = value.as_object_mut() {
        object.remove("keepalived");
    }
    strip_password(&mut value);
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}

fn strip_password(value: &mut Value) {
    if let Some(admin) = value.get_mut("admin").and_then(Value::as_object_mut) {
        admin.remove("password_hash");
        if admin.is_empty() {
            if let Some(object) = value.as_object_mut() {
                object.remove("admin");
            }
        }
    }
}

/// Each issue, and the lines they point at with a caret under the column.
fn annotate(text: &str, issues: &Issues) -> (Vec<ErrorView>, Vec<LineView>) {
    let errors: Vec<ErrorView> = issues
        .iter()
        .map(|i| ErrorView {
            location: i.location.clone(),
            message: i.message.clone(),
        })
        .collect();
    let lines: Vec<&str> = text.lines().collect();
    let mut annotated: Vec<LineView> = Vec::new();
    for issue in issues.iter() {
        // "keepalived.conf:LINE:COL"
        let mut parts = issue.location.rsplitn(3, ':');
        let col = parts.next().and_then(|c| c.parse::<usize>().ok());
        let line = parts.next().and_then(|l| l.parse::<usize>().ok());
        let (Some(line), Some(col)) = (line, col) else {
            continue;
        };
        let Some(source) = lines.get(line.wrapping_sub(1)) else {
            continue;
        };
        let number = format!("{line:>4}");
        let pad = " ".repeat(number.len() + 3 + col.clamp(1, 200) - 1);
        annotated.push(LineView {
            number,
            text: source.chars().take(300).collect(),
            pad,
            message: issue.message.clone(),
        });
    }
    (errors, annotated)
}

/// What a configuration page shows besides the candidate.
#[derive(Default)]
struct ConfigExtras {
    edit_errors: Vec<String>,
    /// The editor's text when it is not the candidate's (a paste with errors).
    text: Option<String>,
    text_issues: Option<Issues>,
    text_ok: Option<String>,
    native_text: Option<String>,
    native_issues: Option<Issues>,
}

#[derive(Serialize)]
struct ConfigView {
    csrf: String,
    generation: u64,
    pending: bool,
    pending_by: String,
    edit_errors: Vec<String>,
    instances: Vec<InstanceView>,
    virtual_servers: Vec<VsView>,
    text: String,
    text_errors: Vec<ErrorView>,
    text_error_count: usize,
    annotated: Vec<LineView>,
    text_ok: Option<String>,
    native_text: String,
    native_errors: Vec<ErrorView>,
    native_error_count: usize,
}

#[derive(Serialize)]
struct ErrorView {
    location: String,
    message: String,
}

#[derive(Serialize)]
struct LineView {
    number: String,
    text: String,
    pad: String,
    message: String,
}

#[derive(Serialize)]
struct InstanceView {
    index: usize,
    name: String,
    state: String,
    interface: String,
    vrid: u8,
    priority: u8,
    vips: Vec<VipView>,
}

#[derive(Serialize)]
struct VipView {
    instance: usize,
    index: usize,
    text: String,
}

#[derive(Serialize)]
struct VsView {
    index: usize,
    name: String,
    protocol: &'static str,
    lb_kind: &'static str,
    delay_loop: String,
    port: u16,
    schedulers: Vec<SchedulerView>,
    real_servers: Vec<RsView>,
}

#[derive(Serialize)]
struct SchedulerView {
    name: &'static str,
    selected: bool,
}

#[derive(Serialize)]
struct RsView {
    vs: usize,
    index: usize,
    ip: String,
    port: u16,
    weight: u32,
    disabled: bool,
    checks: String,
    connect_timeout: String,
    retry: String,
    delay_before_retry: String,
}

#[cfg(test)]
mod tests;
