//! The configuration: the candidate that forms and the editor change, Apply, the
//! native settings, and the configuration page.

use std::net::IpAddr;

use config::keepalived::{self, Keepalived};
use config::{Config, Issues};
use serde::Serialize;
use serde_json::{json, Value};

use super::*;

impl App {
    /// The running keepalived.conf text; empty when there is none.
    pub(super) fn running_text(&self) -> Result<String, String> {
        Ok(self.backend.keepalived_text()?.unwrap_or_default())
    }

    pub(super) fn export(&self) -> Response {
        match self.backend.keepalived_text() {
            Ok(text) => Response::new(200, "text/plain; charset=utf-8", text.unwrap_or_default())
                .with_header(
                    "Content-Disposition",
                    "attachment; filename=\"keepalived.conf\"".into(),
                ),
            Err(e) => Response::text(500, format!("{e}\n")),
        }
    }

    /// Reads keepalived.conf text and validates it against the native configuration.
    pub(super) fn check_text(&self, text: &str) -> Result<keepalived::Read, Issues> {
        let read = keepalived::read_text(text, TEXT_NAME)?;
        if let Some(native) = self.backend.native() {
            read.validate_with(&native)?;
            // What it binds to, against the box (the runtime says which NIC is missing).
            read.check_bindings(&native, None)?;
        }
        Ok(read)
    }

    /// The configuration page again with the pasted text and its errors (422).
    pub(super) fn text_issues_page(&self, auth: &Auth, text: String, issues: Issues) -> Response {
        self.config_page(
            auth,
            ConfigExtras {
                text: Some(text),
                text_issues: Some(issues),
                ..ConfigExtras::default()
            },
            422,
        )
    }

    pub(super) fn config_error(&self, auth: &Auth, error: String) -> Response {
        self.config_page(
            auth,
            ConfigExtras {
                edit_errors: vec![error],
                ..ConfigExtras::default()
            },
            409,
        )
    }

    pub(super) fn keepalived_form(&self, auth: &Auth, form: &Form) -> Response {
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
                    "web: {} pasted a keepalived.conf with {}; nothing changed",
                    auth.who(),
                    config::count(issues.iter().count(), "error", "errors")
                );
                return self.text_issues_page(auth, text, issues);
            }
        };
        let summary = read.config.summary();
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
                if let Err(e) = self.store_candidate(auth, None, text, "keepalived.conf pasted") {
                    return self.config_error(auth, format!("not staged: {e}"));
                }
                audited!(
                    info,
                    "web: {} made a pasted keepalived.conf the candidate ({summary})",
                    auth.who()
                );
                self.flash(auth, Message::ok(format!("Candidate: the pasted keepalived.conf ({summary}).{notes} Apply puts it in service.")));
                Response::see_other("/config")
            }
            _ => match self.put_in_service(auth, &text, &read, "pasted") {
                Ok(applied) => {
                    self.flash(auth, applied_message("Applied", &applied, &notes));
                    Response::see_other("/config")
                }
                Err(e) => self.config_error(auth, format!("not applied: {e}")),
            },
        }
    }

    /// A native JSON text checked for the page or the API: the configuration with the
    /// stored password kept, and with `keepalived` as `keepalived` says (the running
    /// one when `keepalived` is `None`).
    pub(super) fn check_native(&self, text: &str, whole: bool) -> Result<Config, Issues> {
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

    pub(super) fn native_form(&self, auth: &Auth, form: &Form, local: Option<IpAddr>) -> Response {
        let Some(text) = form.get("text") else {
            return self.config_error(auth, "the form has no field \"text\"".into());
        };
        let text = unix_lines(text);
        let action = form.get("action").unwrap_or("validate");
        let rollback = match action {
            "rollback" => match form
                .get("minutes")
                .and_then(|m| m.trim().parse::<u32>().ok())
                .filter(|m| (1..=60).contains(m))
            {
                Some(m) => Some(m),
                None => {
                    return self.config_error(
                        auth,
                        "minutes: a rollback time is 1 to 60 minutes; nothing applied".into(),
                    )
                }
            },
            _ => None,
        };
        let apply = action == "apply" || rollback.is_some();
        // With a rollback the page may move away: unconfirmed, it comes back by itself.
        let config = match self
            .check_native(&text, false)
            .and_then(|c| match rollback {
                Some(_) => Ok(c),
                None => keeps_reaching(&c, local).map(|()| c),
            }) {
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
            rollback,
            who: format!("page: {}", auth.who()),
        }) {
            Ok(applied) => {
                audited!(
                    info,
                    "web: {} applied native settings: {}",
                    auth.who(),
                    applied.said
                );
                self.flash(
                    auth,
                    applied_message("Applied the native settings", &applied, ""),
                );
                Response::see_other("/config")
            }
            Err(e) => self.config_error(auth, format!("not applied: {e}")),
        }
    }

    pub(super) fn config_page(&self, auth: &Auth, extras: ConfigExtras, status: u16) -> Response {
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
        let vrrp_states = self.backend.vrrp_states();
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
                        .map(|(_, s)| s.to_string())
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
                                    .and_then(|c| c.delay_before_retry_or_default())
                                    .map(format_seconds)
                                    .unwrap_or_default(),
                            }
                        })
                        .collect(),
                })
                .collect(),
            text,
            text_error_count: config::count(text_errors.len(), "error", "errors"),
            text_errors,
            annotated,
            text_ok: extras.text_ok,
            native_text,
            native_error_count: config::count(native_errors.len(), "error", "errors"),
            native_errors,
        })
    }
}

/// The page is not allowed to cut itself off: new native settings must keep the address
/// this request came to (a change of management address is made at the console).
pub(super) fn keeps_reaching(config: &Config, local: Option<IpAddr>) -> Result<(), Issues> {
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
            format!("{local}, the address this page is reached on, would be removed; use \"Apply with automatic rollback\" (and confirm at the new address), or the console"),
        );
    }
    if let Some(m) = config.admin.management_address.filter(|m| *m != local) {
        issues.push(
            "admin.management_address",
            format!("the page would move to {m} and this one ({local}) would stop answering; use \"Apply with automatic rollback\" (and confirm at {m}), or the console"),
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
    config::native::to_text(
        config,
        config::native::Without {
            keepalived: true,
            password_hash: true,
        },
    )
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
pub(super) struct ConfigExtras {
    pub(super) edit_errors: Vec<String>,
    /// The editor's text when it is not the candidate's (a paste with errors).
    pub(super) text: Option<String>,
    pub(super) text_issues: Option<Issues>,
    pub(super) text_ok: Option<String>,
    pub(super) native_text: Option<String>,
    pub(super) native_issues: Option<Issues>,
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
    text_error_count: String,
    annotated: Vec<LineView>,
    text_ok: Option<String>,
    native_text: String,
    native_errors: Vec<ErrorView>,
    native_error_count: String,
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
