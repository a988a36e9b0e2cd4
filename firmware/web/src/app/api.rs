//! The JSON API: the whole configuration as the native JSON, and validation.

use config::keepalived::{self, Keepalived};
use serde_json::json;

use super::*;

impl App {
    pub(super) fn api_get_config(&self) -> Response {
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
        let value = config::native::to_value(
            &config,
            config::native::Without {
                keepalived: false,
                password_hash: true,
            },
        );
        Response::json(200, &value)
    }

    pub(super) fn api_put_config(&self, auth: &Auth, req: &Request) -> Response {
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
        let summary = config.keepalived.summary();
        let mut native = config;
        native.keepalived = Keepalived::default();
        match self.backend.apply(Change {
            native: Some(native),
            keepalived: Some(keepalived_text),
            ..Change::default()
        }) {
            Ok(applied) => {
                // A whole configuration replaces whatever was staged.
                if let Err(e) = self.discard_candidate(true) {
                    log::warn!("web: the candidate after a whole configuration: {e}");
                }
                audited!(
                    info,
                    "web: {} put a whole configuration through the API ({summary})",
                    auth.who()
                );
                Response::json(
                    200,
                    &json!({
                        "applied": true,
                        "all_running": applied.not_running.is_empty(),
                        "message": applied.said,
                        "not_running": applied.not_running,
                    }),
                )
            }
            Err(e) => api_error(500, format!("not applied: {e}")),
        }
    }

    pub(super) fn api_validate(&self, req: &Request) -> Response {
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
