//! Who may ask before anything is handled: only the box's own names (Host), changes
//! only from this page (Origin or Referer), plain HTTP only a redirect to HTTPS, and
//! nothing while the page is closed (before setup, after a restore that failed).

use std::net::IpAddr;

use super::*;

impl App {
    /// What every request passes before it is looked at: only the box's own names
    /// (Host), HTTPS, a path and method that exist, an open page, and changes only from
    /// this page (Origin or Referer). `Err`: the answer.
    pub(super) fn admit(&self, req: &Request) -> Result<(), Response> {
        let path = req.path();
        let api = is_api(path);
        // DNS rebinding: a page of another site whose name now points here sends its
        // own name as Host. Only the box's names are answered.
        if !self.host_allowed(req) {
            log::warn!(
                "web: {} {path} from {} for Host {:?}: not this box's name; refused",
                req.head.method_text,
                req.peer,
                req.header("host").unwrap_or("")
            );
            let message = "this is not the name of this appliance: use its management address or its host name";
            return Err(refusal(api, 421, message));
        }
        if !req.secure && !self.options.plain_http {
            return Err(guard::redirect_to_https(req));
        }
        let Some(methods) = allowed(path) else {
            return Err(if api {
                api_error(404, format!("no such resource: {path}"))
            } else {
                Response::text(404, format!("no such page: {path}\n"))
            });
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
            return Err(Response::text(
                405,
                format!(
                    "{} is not allowed on {path} (allowed: {})\n",
                    req.head.method_text,
                    allow.join(", ")
                ),
            )
            .with_header("Allow", allow.join(", ")));
        }
        if let Some(why) = self.closed() {
            return Err(self.closed_page(&why, api));
        }
        let post = matches!(req.method(), Method::Post | Method::Put);
        if post && !self.same_origin(req) {
            log::warn!(
                "web: {} {path} from {}: Origin {:?} / Referer {:?} is not this page; refused",
                req.head.method_text,
                req.peer,
                req.header("origin").unwrap_or(""),
                req.header("referer").unwrap_or("")
            );
            let message = "the request did not come from this page (its Origin or Referer is missing or another site's); nothing was changed";
            return Err(refusal(api, 403, message));
        }
        Ok(())
    }

    /// Why the page is closed, if it is: before the first-boot setup (no password
    /// exists, and no default one ever does) or after a restore that failed.
    pub(super) fn closed(&self) -> Option<String> {
        if let Some(why) = self.backend.page_closed() {
            return Some(why);
        }
        match self.backend.native() {
            Some(native) if native.admin.password.is_some() => None,
            Some(_) => Some(
                "This appliance has no admin password yet: finish the first-boot setup at the serial console. Nothing else is served here until then.".into(),
            ),
            None => Some(
                "The configuration in service is not valid, so no admin password can be checked: fix it at the serial console.".into(),
            ),
        }
    }

    pub(super) fn closed_page(&self, why: &str, api: bool) -> Response {
        if api {
            return api_error(503, why);
        }
        self.page(
            None,
            Page {
                status: 503,
                title: "Not open",
                nav: Nav::None,
                messages: vec![Message::note(why)],
                template: pages::EMPTY,
                refresh: 0,
            },
            &json!({}),
        )
    }

    /// Whether the request's Host is one of the box's own names: the address it came
    /// to, a management address, the host name or a name of the served certificate,
    /// with or without a port; or a
    /// loopback address (the page forwarded to the operator's own machine, as
    /// `scripts/run` does). A name another site controls never is.
    pub(super) fn host_allowed(&self, req: &Request) -> bool {
        let Some(host) = req.header("host").and_then(host_name) else {
            return false;
        };
        match host.parse::<IpAddr>() {
            Ok(ip) => {
                ip.is_loopback()
                    || Some(ip) == req.local
                    || self.backend.names().addresses.contains(&ip)
            }
            Err(_) => {
                let names = self.backend.names();
                std::iter::once(&names.hostname)
                    .chain(&names.certificate)
                    .any(|name| !name.is_empty() && host.eq_ignore_ascii_case(name))
            }
        }
    }

    /// Whether a change came from this page: its Origin (or, without one, its Referer)
    /// is this scheme and the Host the request was sent to. A request with neither is
    /// refused too: every browser sends Origin with a POST, and an API client can.
    pub(super) fn same_origin(&self, req: &Request) -> bool {
        let scheme = if req.secure { "https://" } else { "http://" };
        let sent = match (req.header("origin"), req.header("referer")) {
            (Some(origin), _) => origin,
            (None, Some(referer)) => referer,
            (None, None) => return false,
        };
        let Some(rest) = sent.strip_prefix(scheme) else {
            return false;
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host = req.header("host").unwrap_or("");
        let default_port = if req.secure { ":443" } else { ":80" };
        let plain = |a: &str| {
            a.strip_suffix(default_port)
                .unwrap_or(a)
                .to_ascii_lowercase()
        };
        !authority.is_empty() && plain(authority) == plain(host)
    }
}

/// Whether a change carries its session's CSRF token (`sent`: from the X-CSRF-Token
/// header or the form). `Err`: the answer.
pub(super) fn check_csrf(req: &Request, auth: &Auth, sent: &str) -> Result<(), Response> {
    if session::same_secret(sent, &auth.session.csrf) {
        return Ok(());
    }
    let asked = format!("{} {} from {}", req.head.method_text, req.path(), req.peer);
    Err(csrf_refused(&asked, is_api(req.path())))
}

/// The answer to a change without its session's CSRF token (`asked`: what, from whom).
pub(super) fn csrf_refused(asked: &str, api: bool) -> Response {
    log::warn!("web: {asked}: CSRF token missing or wrong; refused");
    let message = "the form is out of date or came from another site (its CSRF token is missing or wrong); nothing was changed; reload the page";
    refusal(api, 403, message)
}

/// Plain HTTP gets only this: the same place over HTTPS (308 keeps the method). The Host
/// was checked: the redirect never leads to another site. No HSTS: on a box with its
/// own self-signed certificate it would take away the browser's way past the warning.
pub(super) fn redirect_to_https(req: &Request) -> Response {
    let host = req.header("host").and_then(host_name).unwrap_or("");
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let query = if req.head.query.is_empty() {
        String::new()
    } else {
        format!("?{}", req.head.query)
    };
    let location = format!("https://{host}{}{query}", req.path());
    Response::text(308, format!("the page is at {location}\n")).with_header("Location", location)
}

/// The host part of a Host header: `10.0.0.1`, `lb1` or `fd00::1` (from `[fd00::1]`),
/// its port cut off; `None` when it is not one.
fn host_name(host: &str) -> Option<&str> {
    let host = host.trim();
    if let Some(rest) = host.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        return (after.is_empty() || port(after.strip_prefix(':')?)).then_some(inside);
    }
    let name = match host.rsplit_once(':') {
        Some((name, p)) if port(p) => name,
        Some(_) => return None,
        None => host,
    };
    (!name.is_empty() && !name.contains(':')).then_some(name)
}

fn port(text: &str) -> bool {
    !text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit())
}
