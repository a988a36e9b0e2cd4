//! Login, logout and the password: the factory password's forced change, the rate
//! limit, and one password hash at a time.

use std::net::IpAddr;

use config::PasswordHash;
use ring::rand::SecureRandom;
use serde::Serialize;
use serde_json::json;

use super::*;

impl App {
    pub(super) fn login_page(
        &self,
        _req: &Request,
        error: Option<String>,
        status: u16,
    ) -> Response {
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
    pub(super) fn login(
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
            Ok((token, must_change)) => {
                Response::see_other(if must_change { "/password" } else { "/status" })
                    .with_header("Set-Cookie", session::cookie(&token))
            }
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

    pub(super) fn password_page(
        &self,
        auth: &Auth,
        messages: Vec<Message>,
        status: u16,
    ) -> Response {
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
    pub(super) fn change_password(
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

    pub(super) fn password_form(&self, auth: &Auth, form: &Form) -> Response {
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

    pub(super) fn api_password(&self, auth: &Auth, req: &Request) -> Response {
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
}
