//! The status, log and system pages; reboot and save.

use serde::Serialize;
use serde_json::{json, Value};

use super::*;

impl App {
    pub(super) fn status_page(&self, auth: &Auth, req: &Request) -> Response {
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
            &self.status_view(&status),
        )
    }

    /// The status with the last hour's charts, when the backend keeps them.
    fn status_view(&self, status: &crate::Status) -> StatusView {
        let now = now_ms();
        let view = StatusView::new(status, now);
        match self.backend.charts() {
            Some(history) => {
                let history = history.lock().unwrap_or_else(|p| p.into_inner());
                view.with_history(&history, now)
            }
            None => view,
        }
    }

    pub(super) fn log_page(&self, auth: &Auth) -> Response {
        #[derive(Serialize)]
        struct View {
            count: usize,
            lines: Vec<String>,
            problems: Vec<String>,
            audit: Vec<String>,
        }
        let lines = self.backend.log_lines();
        let problems = self.backend.log_problems();
        let audit = self.backend.audit_lines();
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
                problems,
                audit,
            },
        )
    }

    pub(super) fn system_page(&self, auth: &Auth, messages: Vec<Message>, status: u16) -> Response {
        #[derive(Serialize)]
        struct View {
            csrf: String,
            version: String,
            hostname: String,
            uptime: String,
            unsaved: bool,
            token: bool,
            certificate: Value,
            /// The BGP speaker runs: the drain form shows, saying whether it is drained.
            bgp: bool,
            drained: bool,
        }
        let bgp = self.backend.status().bgp;
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
                version: self.backend.version(),
                hostname: self.hostname(),
                uptime,
                unsaved: self.backend.notices().unsaved,
                token: self
                    .backend
                    .native()
                    .is_some_and(|c| c.admin.metrics_token_sha256.is_some()),
                certificate: self.certificate_view(),
                bgp: bgp.is_some(),
                drained: bgp.is_some_and(|b| b.drained),
            },
        )
    }

    /// The System page's Drain / End drain button (the console's `drain`, `drain off`).
    pub(super) fn drain(&self, auth: &Auth, form: &Form) -> Response {
        let on = match form.get("drain") {
            Some("on") => true,
            Some("off") => false,
            _ => return self.system_page(auth, vec![Message::error("drain: on or off")], 422),
        };
        audited!(
            warn,
            "web: {} asked for drain {}",
            auth.who(),
            if on { "on" } else { "off" }
        );
        match self.backend.drain(on, &format!("page: {}", auth.who())) {
            Ok(said) => self.system_page(auth, vec![Message::ok(said)], 200),
            Err(e) => self.system_page(auth, vec![Message::error(e)], 500),
        }
    }

    /// A full backup: the configuration in service as one native JSON document, the
    /// admin password's hash included, as a download, only after the password is given
    /// again (counted like a login): a hash can be cracked offline, so it never shows on a
    /// page or in an export without this.
    pub(super) fn backup(&self, auth: &Auth, form: &Form, now: Instant) -> Response {
        let refuse = |this: &Self, status: u16, why: String| {
            this.system_page(
                auth,
                vec![Message::error(format!("No backup: {why}"))],
                status,
            )
        };
        let Some(mut config) = self.backend.native() else {
            return refuse(self, 409, "no valid configuration is in service".into());
        };
        let Some(stored) = config.admin.password.clone() else {
            return refuse(self, 409, "no admin password is set".into());
        };
        match self.check_password(
            auth.session.peer,
            &stored,
            form.get("password").unwrap_or(""),
            now,
        ) {
            Ok(()) => {}
            Err((401, _)) => {
                log::warn!(
                    "web: {} asked for a full backup with a wrong password",
                    auth.who()
                );
                return refuse(self, 403, "the password is wrong".into());
            }
            Err((status, why)) => return refuse(self, status, why),
        }
        match self.backend.keepalived_text() {
            Ok(Some(text)) => match config::keepalived::read_text(&text, "keepalived.conf") {
                Ok(read) => config.keepalived = read.config,
                Err(e) => return refuse(self, 500, format!("keepalived.conf in service: {e}")),
            },
            Ok(None) => {}
            Err(e) => return refuse(self, 500, e),
        }
        audited!(
            warn,
            "web: {} downloaded a full backup (the password hash included)",
            auth.who()
        );
        let name = format!("lvsfw-{}-backup.json", self.hostname());
        Response::new(200, "application/json", config::native::to_json(&config))
            .with_header(
                "Content-Disposition",
                format!("attachment; filename=\"{name}\""),
            )
            .with_header("Cache-Control", "no-store".into())
    }

    pub(super) fn reboot(&self, auth: &Auth, form: &Form) -> Response {
        if form.get("confirm") != Some("yes") {
            return self.system_page(
                auth,
                vec![Message::error("tick the box to confirm the reboot")],
                422,
            );
        }
        audited!(warn, "web: {} asked for a reboot", auth.who());
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

    pub(super) fn save(&self, auth: &Auth, api: bool) -> Response {
        let result = self.backend.save_by(&format!("page: {}", auth.who()));
        match &result {
            Ok(said) => audited!(info, "web: {} saved the configuration: {said}", auth.who()),
            Err(e) => audited!(warn, "web: {} asked to save: {e}", auth.who()),
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
}
