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
            &StatusView::new(&status, now_ms()),
        )
    }

    pub(super) fn log_page(&self, auth: &Auth) -> Response {
        #[derive(Serialize)]
        struct View {
            count: usize,
            lines: Vec<String>,
            problems: Vec<String>,
        }
        let lines = self.backend.log_lines();
        let problems = self.backend.log_problems();
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
                version: self.backend.version(),
                hostname: self.hostname(),
                uptime,
                unsaved: self.backend.notices().unsaved,
                token: self
                    .backend
                    .native()
                    .is_some_and(|c| c.admin.metrics_token_sha256.is_some()),
                certificate: self.certificate_view(),
            },
        )
    }

    pub(super) fn reboot(&self, auth: &Auth, form: &Form) -> Response {
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

    pub(super) fn save(&self, auth: &Auth, api: bool) -> Response {
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
}
