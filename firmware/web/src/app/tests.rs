//! The site's handlers driven as a browser and an API client would, without a network:
//! routes, login, the forced password change, CSRF, forms, the candidate, the API.

use crate::backend::{BgpNeighborStatus, BgpPrefixStatus, BgpStatus};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use config::keepalived;
use config::Config;

use super::*;
use crate::backend::{Applied, Names, Notices, RealServerStatus, ServiceStatus, Status};
use crate::http::{parse_head, Limits};

const SEED: &str = include_str!("../../../config/testdata/seed-3-1.conf");
const NATIVE: &str = r#"{"hostname": "lb1", "interfaces": [
    {"role": "ext", "addresses": ["192.168.0.101/24", "192.168.0.100/24"]},
    {"role": "int", "addresses": ["192.168.33.20/24"]},
    {"role": "mgmt", "addresses": ["10.1.0.1/24"]}]}"#;

#[derive(Default)]
struct Fake {
    native: Mutex<Option<Config>>,
    text: Mutex<Option<String>>,
    applied: Mutex<Vec<Change>>,
    saved: Mutex<u32>,
    save_works: bool,
    /// What the balancer says does not run after each apply.
    not_running: Mutex<Vec<String>>,
    /// Applied since the last save.
    unsaved: Mutex<bool>,
    closed: Mutex<Option<String>>,
    installed: Mutex<Option<crate::certificate::Pair>>,
    updates: update::FakeUpdates,
    /// `Some`: BGP runs, drained or not.
    drained: Mutex<Option<bool>>,
}

impl Backend for Fake {
    fn status(&self) -> Status {
        Status {
            version: "0.1.0".into(),
            hostname: "lb1".into(),
            services: vec![ServiceStatus {
                name: "TCP 192.168.0.100:80".into(),
                scheduler: "rr".into(),
                real_servers: vec![RealServerStatus {
                    address: "192.168.33.11:80".into(),
                    forward: "Masq".into(),
                    weight: Some(1),
                    health: "up".into(),
                    ..RealServerStatus::default()
                }],
                ..ServiceStatus::default()
            }],
            bgp: self.drained.lock().unwrap().map(|drained| BgpStatus {
                local_as: 65001,
                router_id: "192.168.0.101".into(),
                drained,
                neighbors: vec![BgpNeighborStatus {
                    address: "192.168.0.1".into(),
                    remote_as: 65000,
                    state: "Established".into(),
                    since_ms: 1_000,
                    established_since_ms: Some(1_000),
                    advertised: vec!["192.168.0.100/32".into()],
                    last_notification: Some(
                        "received Cease/<Administrative Shutdown> (6/2)".into(),
                    ),
                    ..BgpNeighborStatus::default()
                }],
                prefixes: vec![BgpPrefixStatus {
                    prefix: "192.168.0.100/32".into(),
                    ready: !drained,
                    why: if drained {
                        "drained".into()
                    } else {
                        "1 virtual server(s) with quorum".into()
                    },
                }],
            }),
            ..Status::default()
        }
    }
    fn native(&self) -> Option<Config> {
        self.native.lock().unwrap().clone()
    }
    fn keepalived_text(&self) -> Result<Option<String>, String> {
        Ok(self.text.lock().unwrap().clone())
    }
    fn apply(&self, change: Change) -> Result<Applied, String> {
        if let Some(n) = &change.native {
            *self.native.lock().unwrap() = Some(n.clone());
        }
        if let Some(t) = &change.keepalived {
            *self.text.lock().unwrap() = Some(t.clone());
        }
        self.applied.lock().unwrap().push(change);
        *self.unsaved.lock().unwrap() = true;
        Ok(Applied {
            said: "the balancer reloaded".into(),
            not_running: self.not_running.lock().unwrap().clone(),
        })
    }
    fn version(&self) -> String {
        "0.1.0-test".into()
    }
    fn notices(&self) -> Notices {
        Notices {
            unsaved: *self.unsaved.lock().unwrap(),
            not_running: self.not_running.lock().unwrap().clone(),
            rollback: None,
        }
    }
    fn save(&self) -> Result<String, String> {
        if self.save_works {
            *self.saved.lock().unwrap() += 1;
            *self.unsaved.lock().unwrap() = false;
            Ok("saved".into())
        } else {
            Err("not available yet".into())
        }
    }
    fn reboot(&self) -> Result<(), String> {
        Ok(())
    }
    fn drain(&self, on: bool, who: &str) -> Result<String, String> {
        let mut drained = self.drained.lock().unwrap();
        if drained.is_none() {
            return Err("this appliance runs no BGP".into());
        }
        *drained = Some(on);
        Ok(format!("drain {on} by {who}"))
    }
    fn log_lines(&self) -> Vec<String> {
        vec!["[    1.000000] balancer: <started>".into()]
    }
    fn log_problems(&self) -> Vec<String> {
        vec!["[    0.500000] balancer: error: VI_1: not running: <why>".into()]
    }
    fn audit_lines(&self) -> Vec<String> {
        vec!["2026-12-05T00:20:30Z page: admin from 10.0.0.9 (<label>) saved".into()]
    }
    fn names(&self) -> Names {
        Names {
            hostname: "lb1".into(),
            addresses: vec!["10.1.0.1".parse().unwrap(), "fd01::1".parse().unwrap()],
            certificate: vec!["lb1.example.com".into()],
        }
    }
    fn page_closed(&self) -> Option<String> {
        self.closed.lock().unwrap().clone()
    }
    fn certificate(&self) -> Result<(String, bool), String> {
        let installed = self.installed.lock().unwrap().clone();
        match installed {
            Some(pair) => Ok((pair.chain, true)),
            None => Ok((own_certificate().chain.clone(), false)),
        }
    }
    fn install_certificate(
        &self,
        pair: Option<crate::certificate::Pair>,
    ) -> Result<String, String> {
        if let Some(pair) = &pair {
            crate::certificate::check(&pair.chain, &pair.key, std::time::SystemTime::now())?;
        }
        *self.installed.lock().unwrap() = pair;
        Ok("Installed.".into())
    }
    fn begin_update(
        &self,
        allow_downgrade: bool,
    ) -> Result<Box<dyn crate::backend::UpdateSink>, String> {
        self.updates.begin(allow_downgrade)
    }
}

/// The box's own certificate of these tests (made once: key generation is not free).
fn own_certificate() -> &'static crate::certificate::Pair {
    static OWN: std::sync::OnceLock<crate::certificate::Pair> = std::sync::OnceLock::new();
    OWN.get_or_init(|| {
        crate::certificate::generate(
            "lb1",
            &["10.1.0.1".parse().unwrap()],
            std::time::SystemTime::now(),
        )
        .unwrap()
    })
}

/// A browser: a cookie jar and the CSRF token of the last page it saw.
struct Browser {
    app: App,
    fake: Arc<Fake>,
    cookies: HashMap<String, String>,
    csrf: String,
    peer: IpAddr,
    /// What the browser's address bar holds: it sends it as Host, and as Origin with
    /// every form and API change.
    host: String,
    clock: Arc<Mutex<Instant>>,
}

struct Answer {
    status: u16,
    location: String,
    body: String,
}

fn browser_with(fake: Fake) -> Browser {
    let fake = Arc::new(fake);
    let clock = Arc::new(Mutex::new(Instant::now()));
    let c = clock.clone();
    let app = App::with_clock(
        fake.clone(),
        Options {
            hash_iterations: config::password::MIN_ITERATIONS,
            ..Options::default()
        },
        Box::new(move || *c.lock().unwrap()),
    );
    Browser {
        app,
        fake,
        cookies: HashMap::new(),
        csrf: String::new(),
        peer: "10.1.0.50".parse().unwrap(),
        host: "lb1".into(),
        clock,
    }
}

/// The password the console's setup set on the boxes of these tests.
const PASSWORD: &str = "correct horse";

/// The running configuration of a box set up at the console: NATIVE and PASSWORD.
fn native_set_up() -> Config {
    let mut native = config::native::from_json(NATIVE).unwrap();
    native.admin.password = Some(
        config::PasswordHash::new(PASSWORD, &[7u8; 16], config::password::MIN_ITERATIONS).unwrap(),
    );
    native
}

fn browser() -> Browser {
    let fake = Fake {
        native: Mutex::new(Some(native_set_up())),
        text: Mutex::new(Some(SEED.into())),
        ..Fake::default()
    };
    browser_with(fake)
}

fn form_body(fields: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

impl Browser {
    fn request(&mut self, method: &str, path: &str, content_type: &str, body: &str) -> Answer {
        let cookies: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.host);
        if matches!(method, "POST" | "PUT") {
            head.push_str(&format!("Origin: https://{}\r\n", self.host));
        }
        if !cookies.is_empty() {
            head.push_str(&format!("Cookie: {}\r\n", cookies.join("; ")));
        }
        if !content_type.is_empty() {
            head.push_str(&format!("Content-Type: {content_type}\r\n"));
        }
        if path.starts_with("/api/") && !self.csrf.is_empty() {
            head.push_str(&format!("X-CSRF-Token: {}\r\n", self.csrf));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let (parsed, _) = parse_head(head.as_bytes(), &Limits::default())
            .unwrap()
            .unwrap();
        let now = *self.clock.lock().unwrap();
        let response = self.app.handle_at(
            &Request {
                head: parsed,
                body: body.as_bytes().to_vec(),
                peer: self.peer,
                local: Some("10.1.0.1".parse().unwrap()),
                secure: true,
            },
            now,
        );
        for (name, value) in &response.headers {
            if *name == "Set-Cookie" {
                let pair = value.split(';').next().unwrap();
                let (k, v) = pair.split_once('=').unwrap();
                if v.is_empty() {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.into(), v.into());
                }
            }
        }
        let body = String::from_utf8(response.body.clone()).unwrap();
        if let Some(at) = body.find("name=\"csrf\" value=\"") {
            let rest = &body[at + 19..];
            self.csrf = rest[..rest.find('"').unwrap()].to_string();
        }
        Answer {
            status: response.status,
            location: response.header("Location").unwrap_or("").to_string(),
            body,
        }
    }

    fn get(&mut self, path: &str) -> Answer {
        self.request("GET", path, "", "")
    }

    fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let body = form_body(fields);
        self.request("POST", path, "application/x-www-form-urlencoded", &body)
    }

    /// A form post with the page's CSRF token and the candidate generation it showed.
    fn submit(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let csrf = self.csrf.clone();
        let page = self.get("/config").body;
        let generation = field(&page, "generation");
        let mut all = vec![("csrf", csrf.as_str()), ("generation", generation.as_str())];
        all.extend_from_slice(fields);
        self.post(path, &all)
    }

    fn login(&mut self, password: &str) -> Answer {
        let page = self.get("/login").body;
        let token = field(&page, "login_token");
        self.post("/login", &[("login_token", &token), ("password", password)])
    }

    /// Logged in with the password set at the console, a page seen (its CSRF token).
    fn ready(&mut self) {
        let a = self.login(PASSWORD);
        assert_eq!(a.location, "/status", "{}", a.body);
        self.get("/status");
    }

    fn advance(&self, d: Duration) {
        *self.clock.lock().unwrap() += d;
    }
}

/// The value of the first hidden field called `name` on a page.
fn field(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} on\n{page}"));
    let rest = &page[at + marker.len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

#[test]
fn every_page_but_the_login_needs_a_session() {
    let mut b = browser();
    for path in ["/", "/status", "/config", "/log", "/system", "/password"] {
        let a = b.get(path);
        assert_eq!((a.status, a.location.as_str()), (303, "/login"), "{path}");
    }
    for path in ["/api/status", "/api/config", "/metrics"] {
        let a = b.get(path);
        assert_eq!(a.status, 401, "{path}");
        assert!(a.body.contains("log in first"), "{}", a.body);
    }
    let a = b.post(
        "/config/edit",
        &[("op", "rs-remove"), ("vs", "0"), ("rs", "0")],
    );
    assert_eq!(a.location, "/login");
    assert!(b.fake.applied.lock().unwrap().is_empty());
    let a = b.get("/login");
    assert_eq!(a.status, 200);
    assert!(a.body.contains("id=\"password\""), "{}", a.body);
}

#[test]
fn the_password_is_changed_with_the_current_one() {
    let mut b = browser();
    b.ready();
    let page = b.get("/password");
    assert!(page.body.contains("name=\"current\""), "{}", page.body);
    let csrf = b.csrf.clone();
    for (current, new, again, error) in [
        (PASSWORD, "short", "short", "at least 8 characters"),
        (
            PASSWORD,
            "new horse",
            "new horsE",
            "the two new passwords differ",
        ),
        (
            "wrong",
            "new horse",
            "new horse",
            "the current password is wrong",
        ),
    ] {
        let a = b.post(
            "/password",
            &[
                ("csrf", &csrf),
                ("current", current),
                ("new", new),
                ("again", again),
            ],
        );
        assert!(a.status == 422 || a.status == 403, "{}", a.status);
        assert!(a.body.contains(error), "{error}: {}", a.body);
    }
    assert!(b.fake.applied.lock().unwrap().is_empty());
    let a = b.post(
        "/password",
        &[
            ("csrf", &csrf),
            ("current", PASSWORD),
            ("new", "new horse"),
            ("again", "new horse"),
        ],
    );
    assert_eq!(a.location, "/status");
    let stored = b.fake.native().unwrap().admin.password.unwrap();
    assert!(stored.verify("new horse"));
    let status = b.get("/status");
    assert_eq!(status.status, 200);
    assert!(status.body.contains("Password changed"), "{}", status.body);
    // The old password no longer works; the new one does.
    let mut other = Browser {
        cookies: HashMap::new(),
        ..browser_sharing(&b)
    };
    assert_eq!(other.login(PASSWORD).status, 401);
    assert_eq!(other.login("new horse").location, "/status");
}

/// A second browser on the same appliance.
fn browser_sharing(b: &Browser) -> Browser {
    let fake = Fake {
        native: Mutex::new(b.fake.native()),
        text: Mutex::new(b.fake.keepalived_text().unwrap()),
        ..Fake::default()
    };
    browser_with(fake)
}

#[test]
fn failed_logins_are_rate_limited_per_address() {
    let mut b = browser();
    for _ in 0..session::FREE_FAILURES + 1 {
        let a = b.login("guess");
        assert_eq!(a.status, 401);
        assert!(a.body.contains("wrong password"));
    }
    let a = b.login(PASSWORD);
    assert_eq!(a.status, 429, "{}", a.body);
    assert!(a
        .body
        .contains("too many failed logins from 10.1.0.50; try again in 1 s"));
    b.advance(Duration::from_secs(1));
    assert_eq!(b.login(PASSWORD).location, "/status");
}

#[test]
fn a_stale_login_form_is_refused() {
    let mut b = browser();
    b.get("/login");
    let a = b.post(
        "/login",
        &[("login_token", "forged"), ("password", PASSWORD)],
    );
    assert_eq!(a.status, 403);
    assert!(!b.cookies.contains_key(session::COOKIE));
}

#[test]
fn a_change_without_the_csrf_token_changes_nothing() {
    let mut b = browser();
    b.ready();
    for csrf in ["", "0000"] {
        let a = b.post(
            "/config/edit",
            &[
                ("csrf", csrf),
                ("op", "rs-remove"),
                ("vs", "0"),
                ("rs", "0"),
            ],
        );
        assert_eq!(a.status, 403);
        assert!(a.body.contains("CSRF token"), "{}", a.body);
    }
    // The API takes the token in a header; with the right one an invalid body is only
    // invalid, with a wrong one it is not even read.
    let a = b.request(
        "PUT",
        "/api/config",
        "application/json",
        "{\"hostname\": 1}",
    );
    assert_eq!(a.status, 422);
    b.csrf = "bad".into();
    let a = b.request("PUT", "/api/config", "application/json", "{}");
    assert_eq!(a.status, 403);
    assert!(b.fake.applied.lock().unwrap().is_empty());
}

/// A request as it comes off the wire from `peer`, with the headers given.
fn request_from(
    peer: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Request {
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let (parsed, _) = parse_head(head.as_bytes(), &Limits::default())
        .unwrap()
        .unwrap();
    Request {
        head: parsed,
        body: body.as_bytes().to_vec(),
        peer: peer.parse().unwrap(),
        local: Some("10.1.0.1".parse().unwrap()),
        secure: true,
    }
}

mod attacker;
mod credentials;
mod forms;
mod pages;
mod update;

#[test]
fn a_full_backup_with_the_password_hash_only_after_the_password_again() {
    let mut b = browser();
    b.ready();
    let page = b.get("/system").body;
    assert!(page.contains("action=\"/config/backup\""), "{page}");
    let csrf = b.csrf.clone();
    let a = b.post(
        "/config/backup",
        &[("csrf", &csrf), ("password", "wrong horse")],
    );
    assert_eq!(a.status, 403);
    assert!(
        a.body.contains("No backup: the password is wrong"),
        "{}",
        a.body
    );
    assert!(!a.body.contains("pbkdf2"), "{}", a.body);
    let csrf = b.csrf.clone();
    let a = b.post("/config/backup", &[("csrf", &csrf), ("password", PASSWORD)]);
    assert_eq!(a.status, 200, "{}", a.body);
    let back = config::native::from_json(&a.body).unwrap();
    assert!(back.admin.password.unwrap().verify(PASSWORD));
    assert_eq!(
        back.keepalived.virtual_servers.len(),
        1,
        "keepalived.conf included"
    );
    // Neither the page nor the API's export shows the hash.
    assert!(!b.get("/api/config").body.contains("pbkdf2"));
    assert!(!b.get("/system").body.contains("pbkdf2"));
}

#[test]
fn bgp_shows_on_the_status_page_and_the_system_page_drains() {
    let mut b = browser();
    b.ready();
    // No BGP: no section, no button.
    assert!(!b.get("/status").body.contains("id=\"bgp-neighbors\""));
    assert!(!b.get("/system").body.contains("/system/drain"));
    *b.fake.drained.lock().unwrap() = Some(false);
    let page = b.get("/status").body;
    assert!(
        page.contains("<h2>BGP <small>AS 65001, router id 192.168.0.101</small></h2>"),
        "{page}"
    );
    assert!(page.contains("<td>192.168.0.1</td>"), "{page}");
    assert!(
        page.contains("received Cease/&lt;Administrative Shutdown&gt; (6/2)"),
        "{page}"
    );
    assert!(
        page.contains("<td class=\"announced\">announced</td>"),
        "{page}"
    );
    assert!(!page.contains("bgp-drained"), "{page}");
    let system = b.get("/system").body;
    assert!(system.contains("value=\"on\">Drain</button>"), "{system}");
    let csrf = b.csrf.clone();
    let a = b.post("/system/drain", &[("csrf", &csrf), ("drain", "maybe")]);
    assert_eq!(a.status, 422);
    let a = b.post("/system/drain", &[("csrf", &csrf), ("drain", "on")]);
    assert!(a.body.contains("drain true by page: admin"), "{}", a.body);
    assert!(a.body.contains("End the drain"), "{}", a.body);
    let page = b.get("/status").body;
    assert!(page.contains("id=\"bgp-drained\""), "{page}");
    assert!(
        page.contains("<td class=\"withdrawn\">withdrawn</td><td class=\"wrap\">drained</td>"),
        "{page}"
    );
    let a = b.post("/system/drain", &[("csrf", &csrf), ("drain", "off")]);
    assert!(a.body.contains("drain false by page: admin"), "{}", a.body);
}
