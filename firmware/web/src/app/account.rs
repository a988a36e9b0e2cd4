//! Login, logout and the password: the rate limit counted before hashing, one password
//! hash at a time, and the current password for every change.

use std::net::IpAddr;

use config::PasswordHash;
use serde::Serialize;
use serde_json::json;

use super::*;

impl App {
    pub(super) fn login_page(&self, req: &Request, error: Option<String>, status: u16) -> Response {
        let token = match self.random_hex(16) {
            Ok(t) => t,
            Err(e) => return e.response(false),
        };
        #[derive(Serialize)]
        struct View {
            login_token: String,
        }
        let _ = req;
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
            },
        )
        .with_header("Set-Cookie", session::host_cookie(LOGIN_COOKIE, &token))
    }

    /// Checks `password` against the stored hash for `client`, counted by the login
    /// limit before it is hashed, one hash at a time: `Ok` when it is right.
    pub(super) fn check_password(
        &self,
        peer: IpAddr,
        stored: &PasswordHash,
        password: &str,
        now: Instant,
    ) -> Result<(), (u16, String)> {
        if password.chars().count() > MAX_PASSWORD_LEN {
            return Err((
                400,
                format!("a password has at most {MAX_PASSWORD_LEN} characters"),
            ));
        }
        lock(&self.state)
            .limiter
            .begin(peer, now)
            .map_err(|wait| (429, wait.message()))?;
        let ok = {
            let _gate = lock(&self.login_gate);
            stored.verify(password)
        };
        if ok {
            lock(&self.state).limiter.succeeded(peer);
            Ok(())
        } else {
            Err((401, "wrong password".into()))
        }
    }

    /// Logs `peer` in with `password`: the new session's token, or the answer to give.
    pub(super) fn login(
        &self,
        peer: IpAddr,
        password: &str,
        now: Instant,
    ) -> Result<String, (u16, String)> {
        // The page is closed without one (App::closed); this is the same rule again.
        let Some(stored) = self.backend.native().and_then(|c| c.admin.password) else {
            return Err((503, "no admin password is set".into()));
        };
        if let Err((status, why)) = self.check_password(peer, &stored, password, now) {
            if status == 401 {
                audited!(warn, "web: failed login from {peer}");
            }
            return Err((status, why));
        }
        let secrets = (|| {
            Ok::<_, NoRandom>((
                self.random_hex(32)?,
                self.random_hex(16)?,
                self.random_hex(3)?,
            ))
        })();
        let (token, csrf, label) = secrets.map_err(|e| {
            e.response(true);
            (
                500,
                "no random bytes from the kernel; try again".to_string(),
            )
        })?;
        let label = format!("session {label}");
        let now = (self.clock)().max(now);
        lock(&self.state).sessions.create(
            token.clone(),
            Session {
                csrf,
                created: now,
                last_seen: now,
                epoch: session::epoch(Some(&stored)),
                peer,
                label: label.clone(),
                flash: Vec::new(),
            },
        );
        audited!(info, "web: admin logged in from {peer} ({label})");
        Ok(token)
    }

    pub(super) fn login_form(&self, req: &Request, form: Option<&Form>, now: Instant) -> Response {
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
            Ok(token) => {
                Response::see_other("/status").with_header("Set-Cookie", session::cookie(&token))
            }
            Err((500, message)) => Response::text(500, format!("{message}\n")),
            Err((status, message)) => self.login_page(req, Some(message), status),
        }
    }

    pub(super) fn api_login(&self, req: &Request, now: Instant) -> Response {
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
            Ok(token) => {
                let csrf = lock(&self.state)
                    .sessions
                    .get_mut(&token)
                    .map(|s| s.csrf.clone())
                    .unwrap_or_default();
                Response::json(200, &json!({ "csrf": csrf }))
                    .with_header("Set-Cookie", session::cookie(&token))
            }
            Err((status, message)) => api_error(status, message),
        }
    }

    pub(super) fn password_page(
        &self,
        auth: &Auth,
        messages: Vec<Message>,
        status: u16,
    ) -> Response {
        #[derive(Serialize)]
        struct View {
            csrf: String,
            min_len: usize,
        }
        self.page(
            Some(auth),
            Page {
                status,
                title: "Change password",
                nav: Nav::System,
                messages,
                template: pages::PASSWORD,
                refresh: 0,
            },
            &View {
                csrf: auth.session.csrf.clone(),
                min_len: MIN_PASSWORD_LEN,
            },
        )
    }

    /// Checks and stores a new password; the error names what was wrong. The current
    /// password is always needed (and counted like a login); every other session ends.
    pub(super) fn change_password(
        &self,
        auth: &Auth,
        current: Option<&str>,
        new: &str,
        again: Option<&str>,
        now: Instant,
    ) -> Result<(), (u16, String)> {
        let Some(mut native) = self.backend.native() else {
            return Err((
                409,
                "no valid /etc/lvsfw/config.json is in service, so there is nowhere to keep a password; fix the configuration at the console first".into(),
            ));
        };
        let Some(stored) = native.admin.password.clone() else {
            return Err((
                409,
                "no admin password is set: set one at the console".into(),
            ));
        };
        match self.check_password(auth.session.peer, &stored, current.unwrap_or(""), now) {
            Ok(()) => {}
            Err((401, _)) => {
                audited!(
                    warn,
                    "web: {} gave a wrong current password; not changed",
                    auth.who()
                );
                return Err((403, "the current password is wrong".into()));
            }
            Err(other) => return Err(other),
        }
        // The console's rule (config::password), in the page's words.
        match config::password::check_new(new) {
            Ok(()) => {}
            Err(config::password::Refused::TooShort(_)) => {
                return Err((
                    422,
                    format!("the new password needs at least {MIN_PASSWORD_LEN} characters"),
                ))
            }
            Err(config::password::Refused::TooLong(_)) => {
                return Err((
                    422,
                    format!("a password has at most {MAX_PASSWORD_LEN} characters"),
                ))
            }
            Err(why) => return Err((422, why.to_string())),
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
        let epoch = session::epoch(Some(&hash));
        native.admin.password = Some(hash);
        self.backend
            .apply(Change {
                native: Some(native),
                ..Change::default()
            })
            .map_err(|e| (500, format!("the password was not stored: {e}")))?;
        let mut state = lock(&self.state);
        state.sessions.retain_only(&auth.token);
        if let Some(s) = state.sessions.get_mut(&auth.token) {
            s.epoch = epoch;
        }
        drop(state);
        audited!(
            info,
            "web: {} changed the admin password; other sessions ended",
            auth.who()
        );
        Ok(())
    }

    pub(super) fn password_form(&self, auth: &Auth, form: &Form, now: Instant) -> Response {
        let result = self.change_password(
            auth,
            form.get("current"),
            form.get("new").unwrap_or(""),
            Some(form.get("again").unwrap_or("")),
            now,
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

    pub(super) fn api_password(&self, auth: &Auth, req: &Request, now: Instant) -> Response {
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
        match self.change_password(auth, body.current.as_deref(), &body.new, None, now) {
            Ok(()) => Response::json(200, &json!({"changed": true})),
            Err((status, message)) => api_error(status, message),
        }
    }
}
