//! The other pages and the API: JSON, metrics, the log, sessions, unknown routes, and
//! what an apply says.

use super::*;

#[test]
fn the_api_speaks_json() {
    let mut b = browser();
    let a = b.request(
        "POST",
        "/api/login",
        "application/json",
        &json!({ "password": PASSWORD }).to_string(),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let v: Value = serde_json::from_str(&a.body).unwrap();
    b.csrf = v["csrf"].as_str().unwrap().into();
    let a = b.get("/api/status");
    let v: Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["services"][0]["real_servers"][0]["health"], "up");
    let a = b.get("/api/config");
    let mut whole: Value = serde_json::from_str(&a.body).unwrap();
    assert!(
        whole.pointer("/admin/password_hash").is_none(),
        "{}",
        a.body
    );
    assert_eq!(
        whole["keepalived"]["virtual_servers"][0]["real_servers"][0]["weight"],
        1
    );
    // Validate without changing anything.
    let a = b.request(
        "POST",
        "/api/config/validate",
        "text/plain",
        "vrrp_instance X {\n}\n",
    );
    let v: Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["errors"][0]["location"], "keepalived.conf:1:1");
    // PUT with an error: 422, every error, nothing applied.
    whole["keepalived"]["virtual_servers"][0]["lb_algo"] = "rx".into();
    let a = b.request("PUT", "/api/config", "application/json", &whole.to_string());
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(
        a.body.contains("keepalived.virtual_servers[0].lb_algo"),
        "{}",
        a.body
    );
    let applied = b.fake.applied.lock().unwrap().len();
    whole["keepalived"]["virtual_servers"][0]["lb_algo"] = "wrr".into();
    whole["keepalived"]["virtual_servers"][0]["real_servers"][0]["weight"] = 0.into();
    let a = b.request("PUT", "/api/config", "application/json", &whole.to_string());
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(b.fake.applied.lock().unwrap().len(), applied + 1);
    let text = b.fake.keepalived_text().unwrap().unwrap();
    assert!(text.contains("lb_algo wrr"), "{text}");
    assert!(b
        .fake
        .native()
        .unwrap()
        .admin
        .password
        .unwrap()
        .verify(PASSWORD));
    // Wrong content types and bodies are named.
    assert_eq!(
        b.request("PUT", "/api/config", "text/plain", "{}").status,
        415
    );
    assert_eq!(
        b.request("PUT", "/api/config", "application/json", "{")
            .status,
        422
    );
}

#[test]
fn metrics_log_and_system() {
    let mut b = browser();
    b.ready();
    let a = b.get("/metrics");
    assert_eq!(a.status, 200);
    assert!(
        a.body.contains(
            "lvsfw_check_up{service=\"TCP 192.168.0.100:80\",server=\"192.168.33.11:80\"} 1"
        ),
        "{}",
        a.body
    );
    let a = b.get("/log");
    assert!(a.body.contains("balancer: &lt;started&gt;"), "{}", a.body);
    // The version as the backend gives it, the same as the status page's.
    let a = b.get("/system");
    assert!(a.body.contains("<td>lvsfw 0.1.0-test</td>"), "{}", a.body);
    let csrf = b.csrf.clone();
    let a = b.post("/reboot", &[("csrf", &csrf)]);
    assert_eq!(a.status, 422, "the box must be ticked");
    let a = b.post("/reboot", &[("csrf", &csrf), ("confirm", "yes")]);
    assert!(a.body.contains("Rebooting"), "{}", a.body);
}

#[test]
fn save_says_when_it_is_not_available() {
    let mut b = browser();
    b.ready();
    let csrf = b.csrf.clone();
    let a = b.post("/config/save", &[("csrf", &csrf)]);
    assert_eq!(a.location, "/config");
    let page = b.get("/config").body;
    assert!(page.contains("Not saved: not available yet"), "{page}");
}

#[test]
fn sessions_end_when_idle_and_at_logout() {
    let mut b = browser();
    b.ready();
    assert_eq!(b.get("/status").status, 200);
    b.advance(SessionLimits::default().idle);
    assert_eq!(b.get("/status").location, "/login");
    assert_eq!(b.login(PASSWORD).location, "/status");
    b.get("/status");
    let csrf = b.csrf.clone();
    let a = b.post("/logout", &[("csrf", &csrf)]);
    assert_eq!(a.location, "/login");
    assert!(!b.cookies.contains_key(session::COOKIE));
    assert_eq!(b.get("/status").location, "/login");
}

#[test]
fn unknown_routes_methods_and_bodies_are_refused_clearly() {
    let mut b = browser();
    b.ready();
    let a = b.get("/nope");
    assert_eq!(a.status, 404);
    let a = b.request("DELETE", "/config", "", "");
    assert_eq!(a.status, 405);
    assert_eq!(
        a.body,
        "DELETE is not allowed on /config (allowed: GET, HEAD)\n"
    );
    let a = b.request("POST", "/config/edit", "text/plain", "op=x");
    assert_eq!(a.status, 415);
    let a = b.request(
        "POST",
        "/config/edit",
        "application/x-www-form-urlencoded",
        "a=%FF",
    );
    assert_eq!(a.status, 400);
    assert_eq!(a.body, "form field \"a\" is not valid UTF-8\n");
}

#[test]
fn an_apply_says_what_does_not_run_and_every_page_keeps_saying_it_until_it_runs() {
    let mut b = browser();
    b.ready();
    // Something was applied and not saved.
    *b.fake.unsaved.lock().unwrap() = true;
    assert!(b.get("/status").body.contains("id=\"unsaved\""));
    *b.fake.unsaved.lock().unwrap() = false;
    assert!(!b.get("/status").body.contains("id=\"unsaved\""), "saved");
    *b.fake.not_running.lock().unwrap() =
        vec!["VRRP VI_INT: not running: VRRP socket on int: Address not available".into()];
    let a = b.submit("/config/keepalived", &[("text", SEED), ("action", "apply")]);
    assert_eq!(a.location, "/config", "{}", a.body);
    let page = b.get("/config").body;
    assert!(
        page.contains("class=\"msg error\">Applied, but not everything runs: the balancer reloaded; VRRP VI_INT: not running: VRRP socket on int: Address not available"),
        "{page}"
    );
    for path in ["/status", "/config", "/log", "/system"] {
        let page = b.get(path).body;
        assert!(page.contains("id=\"not-running\""), "{path}: {page}");
        assert!(
            page.contains("<li>VRRP VI_INT: not running: VRRP socket on int"),
            "{path}"
        );
        assert!(page.contains("id=\"unsaved\""), "{path}: no unsaved banner");
    }
    // Once it runs and is saved, no page says anything.
    b.fake.not_running.lock().unwrap().clear();
    let csrf = b.csrf.clone();
    b.post("/config/save", &[("csrf", &csrf)]);
    *b.fake.unsaved.lock().unwrap() = false;
    for path in ["/status", "/config"] {
        let page = b.get(path).body;
        assert!(!page.contains("id=\"not-running\""), "{path}");
        assert!(!page.contains("id=\"unsaved\""), "{path}");
    }
    // Nothing of it before the login.
    *b.fake.unsaved.lock().unwrap() = true;
    let mut stranger = browser_with(Fake::default());
    *stranger.fake.unsaved.lock().unwrap() = true;
    assert!(!stranger.get("/login").body.contains("id=\"unsaved\""));
}

#[test]
fn errors_and_warnings_stay_on_the_log_page() {
    let mut b = browser();
    b.ready();
    let page = b.get("/log").body;
    let problems = page
        .find("error: VI_1: not running: &lt;why&gt;")
        .expect(&page);
    let recent = page.find("balancer: &lt;started&gt;").expect(&page);
    assert!(problems < recent, "errors first: {page}");
    // The audit trail comes first, escaped like every line.
    let audit = page
        .find("page: admin from 10.0.0.9 (&lt;label&gt;) saved")
        .expect(&page);
    assert!(audit < problems, "the audit trail first: {page}");
}
