//! The candidate the forms and the editor change and Apply puts in service. On the
//! appliance it is the one the console shares (the backend's [`Candidates`]: a change
//! staged here shows in the console's `config diff` and the other way round); a backend
//! without one (the unit tests', the demo's) leaves it to the page, in memory.

use std::hash::{Hash, Hasher};

use config::keepalived;

use super::*;
use crate::backend::{Candidates, NotApplied};

/// A form's generation for the shared candidate: a digest of what it shows, so that a
/// form made from another candidate (another tab, the console) is refused.
fn generation_of(text: &str, candidate: Option<&Candidate>) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    candidate.map(|c| &c.changes).hash(&mut hasher);
    hasher.finish()
}

impl App {
    fn shared(&self) -> Option<&dyn Candidates> {
        self.backend.candidates()
    }

    /// The candidate's text and generation.
    pub(super) fn candidate(&self) -> Result<(String, u64, Option<Candidate>), String> {
        if let Some(shared) = self.shared() {
            let candidate = shared.pending()?.map(|p| Candidate {
                text: p.keepalived,
                changes: p.changes,
            });
            let text = match &candidate {
                Some(c) => c.text.clone(),
                None => self.running_text()?,
            };
            let generation = generation_of(&text, candidate.as_ref());
            return Ok((text, generation, candidate));
        }
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
    pub(super) fn check_generation(&self, form: &Form, generation: u64) -> Result<(), String> {
        match form.get("generation").and_then(|g| g.parse::<u64>().ok()) {
            Some(g) if g == generation => Ok(()),
            _ => Err("the candidate changed since this page was made (another tab or another admin); nothing was changed; here is the current one".into()),
        }
    }

    /// `text` becomes the candidate's keepalived.conf, if the candidate is still the one
    /// of `generation` (when given); `said` is what changed.
    pub(super) fn store_candidate(
        &self,
        auth: &Auth,
        generation: Option<u64>,
        text: String,
        said: &str,
    ) -> Result<(), String> {
        let raced =
            "the candidate changed while this edit was checked; nothing was changed; try again";
        if let Some(shared) = self.shared() {
            if generation.is_some_and(|g| self.candidate().map(|c| c.1).ok() != Some(g)) {
                return Err(raced.into());
            }
            let who = format!("page: {}", auth.who());
            return shared.stage(&text, &who, said).map(|_| ());
        }
        let mut state = lock(&self.state);
        if generation.is_some_and(|g| g != state.generation) {
            return Err(raced.into());
        }
        let mut changes = state
            .candidate
            .take()
            .map(|c| c.changes)
            .unwrap_or_default();
        changes.push(format!("{}: {said}", auth.who()));
        state.candidate = Some(Candidate { text, changes });
        state.generation += 1;
        Ok(())
    }

    /// The candidate goes; whether there was one. `replaced`: the running configuration
    /// was replaced too, so a form made before is stale whether or not there was one.
    pub(super) fn discard_candidate(&self, replaced: bool) -> Result<bool, String> {
        if let Some(shared) = self.shared() {
            return shared.discard();
        }
        let mut state = lock(&self.state);
        let had = state.candidate.take().is_some();
        if had || replaced {
            state.generation += 1;
        }
        Ok(had)
    }

    pub(super) fn edit(&self, auth: &Auth, form: &Form) -> Response {
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
            self.store_candidate(auth, Some(generation), new_text, &said)
                .map_err(|e| vec![e])?;
            Ok(said)
        })();
        match result {
            Ok(said) => {
                audited!(info, "web: {} changed the candidate: {said}", auth.who());
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

    /// Puts checked keepalived.conf text in service; what the balancer did. With a
    /// shared candidate the text is staged and the whole candidate applied (what the
    /// console staged goes in with it).
    pub(super) fn put_in_service(
        &self,
        auth: &Auth,
        text: &str,
        read: &keepalived::Read,
        how: &str,
    ) -> Result<Applied, String> {
        let who = format!("page: {}", auth.who());
        let (said, changes) = if let Some(shared) = self.shared() {
            shared.stage(text, &who, &format!("keepalived.conf {how}"))?;
            let changes = shared
                .pending()
                .ok()
                .flatten()
                .map(|p| p.changes)
                .unwrap_or_default();
            let said = shared.apply_candidate(&who).map_err(|e| match e {
                NotApplied::Nothing => "nothing to apply".to_string(),
                NotApplied::Refused(why) => why,
            })?;
            (said, changes)
        } else {
            let said = self.backend.apply(Change {
                native: None,
                keepalived: Some(text.to_string()),
                rollback: None,
                who,
            })?;
            let mut state = lock(&self.state);
            let changes = state
                .candidate
                .take()
                .map(|c| c.changes)
                .unwrap_or_default();
            state.generation += 1;
            (said, changes)
        };
        audited!(
            info,
            "web: {} applied keepalived.conf {how}: {}{}",
            auth.who(),
            read.config.summary(),
            if changes.is_empty() {
                String::new()
            } else {
                format!(" ({})", changes.join("; "))
            }
        );
        Ok(said)
    }

    pub(super) fn apply_candidate(&self, auth: &Auth, form: &Form) -> Response {
        let (text, generation, candidate) = match self.candidate() {
            Ok(c) => c,
            Err(e) => return self.config_error(auth, e),
        };
        if let Err(e) = self.check_generation(form, generation) {
            return self.config_error(auth, e);
        }
        let nothing = || {
            self.flash(
                auth,
                Message::note("Nothing to apply: the candidate is what is in service."),
            );
            Response::see_other("/config")
        };
        let Some(candidate) = candidate else {
            return nothing();
        };
        if let Some(shared) = self.shared() {
            // The whole shared candidate, checked by the same rules as the console's
            // `config apply`.
            let who = format!("page: {}", auth.who());
            return match shared.apply_candidate(&who) {
                Ok(applied) => {
                    audited!(
                        info,
                        "web: {} applied the candidate ({})",
                        auth.who(),
                        candidate.changes.join("; ")
                    );
                    self.flash(auth, applied_message("Applied", &applied, ""));
                    Response::see_other("/config")
                }
                Err(NotApplied::Nothing) => nothing(),
                Err(NotApplied::Refused(e)) => {
                    self.config_error(auth, format!("not applied: {}", e.trim_end()))
                }
            };
        }
        let read = match self.check_text(&text) {
            Ok(read) => read,
            Err(issues) => return self.text_issues_page(auth, text, issues),
        };
        match self.put_in_service(auth, &text, &read, "from the candidate") {
            Ok(applied) => {
                self.flash(auth, applied_message("Applied", &applied, ""));
                Response::see_other("/config")
            }
            Err(e) => self.config_error(auth, format!("not applied: {e}")),
        }
    }
}
