//! What reads the page without a password: the metrics token (for Prometheus and
//! scripts: `/metrics` and the JSON API's reads, never a change), and the certificate
//! the page is reached by. Both are set on the System page.

use serde_json::json;

use super::*;
use crate::certificate::{self, Pair};

/// The paths the metrics token reads; everything else needs a session.
const TOKEN_READS: [&str; 3] = ["/metrics", "/api/status", "/api/config"];

/// SHA-256 of `token` in lower-case hex, as the configuration keeps it.
fn token_digest(token: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, token.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl App {
    pub(super) fn metrics(&self) -> Response {
        Response::new(
            200,
            "text/plain; version=0.0.4; charset=utf-8",
            crate::metrics::render(&self.backend.status()),
        )
    }

    pub(super) fn api_status(&self) -> Response {
        Response::json(
            200,
            &serde_json::to_value(self.backend.status()).unwrap_or(Value::Null),
        )
    }

    /// A request with `Authorization: Bearer TOKEN`: the reads of [`TOKEN_READS`] when
    /// the token is the one set on the page.
    pub(super) fn token_request(&self, req: &Request, token: &str) -> Response {
        let stored = self
            .backend
            .native()
            .and_then(|c| c.admin.metrics_token_sha256);
        let valid = stored.is_some_and(|s| session::same_secret(&token_digest(token), &s));
        if !valid {
            log::warn!(
                "web: {} {} from {}: a wrong or no longer valid metrics token; refused",
                req.head.method_text,
                req.path(),
                req.peer
            );
            return api_error(401, "the token is not this box's metrics token")
                .with_header("WWW-Authenticate", "Bearer realm=\"lvsfw\"".into());
        }
        let reads = matches!(req.method(), Method::Get | Method::Head);
        match req.path() {
            "/metrics" if reads => self.metrics(),
            "/api/status" if reads => self.api_status(),
            "/api/config" if reads => self.api_get_config(),
            path => api_error(
                403,
                format!(
                    "the metrics token reads {} only; {} {path} needs a session (POST /api/login)",
                    TOKEN_READS.join(", "),
                    req.head.method_text
                ),
            ),
        }
    }

    /// A new token (shown on this one answer, kept only as its digest), or none.
    pub(super) fn token_form(&self, auth: &Auth, form: &Form) -> Response {
        let Some(mut native) = self.backend.native() else {
            return self.system_page(
                auth,
                vec![Message::error("no valid configuration is in service")],
                409,
            );
        };
        let new = form.get("action") == Some("new");
        let token = if new {
            match self.random_hex(32) {
                Ok(t) => Some(t),
                Err(e) => return e.response(false),
            }
        } else {
            None
        };
        native.admin.metrics_token_sha256 = token.as_deref().map(token_digest);
        if let Err(e) = self.backend.apply(Change {
            native: Some(native),
            ..Change::default()
        }) {
            return self.system_page(auth, vec![Message::error(format!("not changed: {e}"))], 500);
        }
        audited!(
            info,
            "web: {} {} the metrics token",
            auth.who(),
            if new { "made a new" } else { "removed" }
        );
        let mut messages = vec![Message::ok(if new {
            "A new metrics token is in service; the old one no longer works. Save keeps it across a reboot."
        } else {
            "The metrics token is removed: /metrics needs a session again."
        })];
        if let Some(token) = &token {
            messages.push(Message::note(format!(
                "The token, shown this once (copy it now; only its SHA-256 is kept): {token}"
            )));
        }
        self.system_page(auth, messages, 200)
    }

    /// An operator's certificate chain and key (two text fields), or back to the box's own.
    pub(super) fn certificate_form(&self, auth: &Auth, form: &Form) -> Response {
        let pair = if form.get("action") == Some("own") {
            None
        } else {
            Some(Pair {
                chain: unix_lines(form.get("chain").unwrap_or("")),
                key: unix_lines(form.get("key").unwrap_or("")),
            })
        };
        let installing = pair.is_some();
        match self.backend.install_certificate(pair) {
            Ok(said) => {
                audited!(
                    info,
                    "web: {} {}",
                    auth.who(),
                    if installing {
                        "installed a certificate"
                    } else {
                        "went back to the box's own certificate"
                    }
                );
                self.system_page(
                    auth,
                    vec![Message::ok(format!(
                        "{said} New connections get it; Save keeps it across a reboot."
                    ))],
                    200,
                )
            }
            Err(why) => {
                log::warn!("web: {} offered a certificate: refused: {why}", auth.who());
                self.system_page(
                    auth,
                    vec![Message::error(format!("Not installed: {why}"))],
                    422,
                )
            }
        }
    }

    /// The served certificate for the System page.
    pub(super) fn certificate_view(&self) -> Value {
        let described = self
            .backend
            .certificate()
            .and_then(|(chain, installed)| certificate::summary(&chain).map(|s| (s, installed)));
        match described {
            Ok((s, installed)) => json!({
                "error": null,
                "installed": installed,
                "names": s.dns_names.join(", "),
                "sha256": s.sha256,
                "spki": s.spki_sha256,
                "from": status::time::utc(s.not_before * 1000),
                "to": status::time::utc(s.not_after * 1000),
            }),
            Err(e) => json!({ "error": e }),
        }
    }
}
