//! The metrics token (shown once, kept as a digest, reads only) and the certificate an
//! operator installs on the System page.

use super::*;

fn bearer(b: &Browser, method: &str, path: &str, token: &str) -> (u16, String, Option<String>) {
    let auth = format!("Bearer {token}");
    let request = request_from(
        "10.1.0.99",
        method,
        path,
        &[("Host", "10.1.0.1"), ("Authorization", &auth)],
        "",
    );
    let now = *b.clock.lock().unwrap();
    let r = b.app.handle_at(&request, now);
    (
        r.status,
        String::from_utf8_lossy(&r.body).into_owned(),
        r.header("WWW-Authenticate").map(str::to_string),
    )
}

/// The token on the page that made it.
fn shown_token(page: &str) -> String {
    let marker = "only its SHA-256 is kept): ";
    let at = page
        .find(marker)
        .unwrap_or_else(|| panic!("no token on\n{page}"))
        + marker.len();
    page[at..at + 64].to_string()
}

#[test]
fn the_metrics_token_reads_metrics_and_the_api_and_nothing_else() {
    let mut b = browser();
    b.ready();
    b.get("/system");
    let csrf = b.csrf.clone();
    let page = b
        .post("/system/token", &[("csrf", &csrf), ("action", "new")])
        .body;
    let token = shown_token(&page);
    // Kept only as its digest; the page shows it this once.
    let stored = b.fake.native().unwrap().admin.metrics_token_sha256.unwrap();
    assert_ne!(stored, token);
    assert!(!b.get("/system").body.contains(&token));
    let (status, body, _) = bearer(&b, "GET", "/metrics", &token);
    assert_eq!(status, 200);
    assert!(body.contains("lvsfw_check_up{"), "{body}");
    assert_eq!(bearer(&b, "GET", "/api/status", &token).0, 200);
    let (status, body, _) = bearer(&b, "GET", "/api/config", &token);
    assert_eq!(status, 200);
    assert!(!body.contains("password_hash"), "{body}");
    // Reads only: no change, no page.
    for (method, path) in [
        ("PUT", "/api/config"),
        ("POST", "/api/config/save"),
        ("GET", "/config"),
        ("GET", "/system"),
    ] {
        let (status, body, _) = bearer(&b, method, path, &token);
        assert!(
            status == 403 || status == 405,
            "{method} {path}: {status} {body}"
        );
    }
    // A wrong token is refused the Bearer way.
    let (status, _, challenge) = bearer(&b, "GET", "/metrics", &"0".repeat(64));
    assert_eq!(status, 401);
    assert_eq!(challenge.as_deref(), Some("Bearer realm=\"lvsfw\""));
    // A new token replaces the old; removing it ends both.
    let page = b
        .post("/system/token", &[("csrf", &csrf), ("action", "new")])
        .body;
    let newer = shown_token(&page);
    assert_eq!(bearer(&b, "GET", "/metrics", &token).0, 401);
    assert_eq!(bearer(&b, "GET", "/metrics", &newer).0, 200);
    b.post("/system/token", &[("csrf", &csrf), ("action", "remove")]);
    assert_eq!(bearer(&b, "GET", "/metrics", &newer).0, 401);
    assert!(b
        .fake
        .native()
        .unwrap()
        .admin
        .metrics_token_sha256
        .is_none());
}

#[test]
fn an_operators_certificate_is_checked_then_served() {
    let mut b = browser();
    b.ready();
    let page = b.get("/system").body;
    let own = crate::certificate::summary(&own_certificate().chain).unwrap();
    assert!(page.contains(&own.spki_sha256), "{page}");
    assert!(
        page.contains("the box&#39;s own (self-signed)")
            || page.contains("the box's own (self-signed)"),
        "{page}"
    );
    let csrf = b.csrf.clone();
    let theirs =
        crate::certificate::generate("lb1.example", &[], std::time::SystemTime::now()).unwrap();
    let other = crate::certificate::generate("x", &[], std::time::SystemTime::now()).unwrap();
    let a = b.post(
        "/system/certificate",
        &[
            ("csrf", &csrf),
            ("action", "install"),
            ("chain", &theirs.chain),
            ("key", &other.key),
        ],
    );
    assert_eq!(a.status, 422);
    assert!(
        a.body
            .contains("Not installed: the key does not belong to the certificate"),
        "{}",
        a.body
    );
    assert!(b.fake.installed.lock().unwrap().is_none());
    // Pasted in a textarea: CR LF line ends.
    let a = b.post(
        "/system/certificate",
        &[
            ("csrf", &csrf),
            ("action", "install"),
            ("chain", &theirs.chain.replace('\n', "\r\n")),
            ("key", &theirs.key.replace('\n', "\r\n")),
        ],
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let installed = crate::certificate::summary(&theirs.chain).unwrap();
    assert!(a.body.contains(&installed.spki_sha256), "{}", a.body);
    assert!(a.body.contains("installed by an operator"), "{}", a.body);
    let a = b.post("/system/certificate", &[("csrf", &csrf), ("action", "own")]);
    assert!(a.body.contains(&own.spki_sha256), "{}", a.body);
}
