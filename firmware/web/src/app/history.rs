//! The configuration history and commit-confirmed on the page: the backend does the
//! work (the same operations as the console's `config history`, `config diff REV`,
//! `config restore REV` and `config confirm`).

use serde_json::json;

use super::*;

impl App {
    pub(super) fn confirm_change(&self, auth: &Auth) -> Response {
        let who = format!("page: {}", auth.who());
        self.flash(
            auth,
            match self.backend.confirm(&who) {
                Ok(said) => Message::ok(said.trim_end().to_string()),
                Err(e) => Message::error(e.trim_end().to_string()),
            },
        );
        Response::see_other("/config")
    }

    pub(super) fn restore_revision(&self, auth: &Auth, form: &Form) -> Response {
        let text = form.get("rev").unwrap_or("").trim().to_string();
        let Ok(rev) = text.parse::<u64>() else {
            return self.history_view(
                auth,
                &text,
                vec![Message::error(format!(
                    "\"{}\" is not a revision number (the list above has them); nothing changed",
                    text.chars().take(20).collect::<String>()
                ))],
                None,
                422,
            );
        };
        let who = format!("page: {}", auth.who());
        match self.backend.restore_revision(rev, &who) {
            Ok(applied) => {
                log::info!(
                    "web: {} restored revision {rev}: {}",
                    auth.who(),
                    applied.said
                );
                self.flash(auth, applied_message("Restored", &applied, ""));
                Response::see_other("/config/history")
            }
            Err(e) => self.history_view(
                auth,
                &text,
                vec![Message::error(e.trim_end().to_string())],
                None,
                409,
            ),
        }
    }

    pub(super) fn history_page(&self, auth: &Auth, req: &Request) -> Response {
        let rev = req
            .head
            .query
            .split('&')
            .find_map(|kv| kv.strip_prefix("rev=").map(str::to_string))
            .unwrap_or_default();
        if rev.is_empty() {
            return self.history_view(auth, "", Vec::new(), None, 200);
        }
        match rev.parse::<u64>() {
            Ok(n) => match self.backend.history_diff(n) {
                Ok(diff) => self.history_view(auth, &rev, Vec::new(), Some(diff), 200),
                Err(e) => self.history_view(
                    auth,
                    &rev,
                    vec![Message::error(e.trim_end().to_string())],
                    None,
                    404,
                ),
            },
            Err(_) => self.history_view(
                auth,
                "",
                vec![Message::error(
                    "rev: not a revision number (the list has them)".to_string(),
                )],
                None,
                422,
            ),
        }
    }

    fn history_view(
        &self,
        auth: &Auth,
        rev: &str,
        messages: Vec<Message>,
        diff: Option<String>,
        status: u16,
    ) -> Response {
        let (listing, mut messages) = match self.backend.history() {
            Ok(l) => (l, messages),
            Err(e) => {
                let mut m = messages;
                m.push(Message::error(e));
                (String::new(), m)
            }
        };
        messages.retain(|m| !m.text.is_empty());
        self.page(
            Some(auth),
            Page {
                status,
                title: "Configuration history",
                nav: Nav::Config,
                messages,
                template: pages::HISTORY,
                refresh: 0,
            },
            &json!({
                "csrf": auth.session.csrf,
                "listing": listing,
                "rev": rev.chars().filter(char::is_ascii_digit).take(20).collect::<String>(),
                "diff": diff,
            }),
        )
    }
}
