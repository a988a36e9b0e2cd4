//! The page as an attacker on the management network tries it (issue 14): a box before
//! its setup, sessions that outlive a password change, foreign Host and Origin headers,
//! password guessing in parallel and from many addresses.

use config::PasswordHash;

use super::*;

const CONSOLE_PASSWORD: &str = "set at the console";

fn hash(password: &str) -> PasswordHash {
    hash_with(password, config::password::MIN_ITERATIONS)
}

fn hash_with(password: &str, iterations: u32) -> PasswordHash {
    PasswordHash::new(password, &[9u8; 16], iterations).unwrap()
}

fn native_with(password: Option<PasswordHash>) -> Config {
    let mut native = config::native::from_json(NATIVE).unwrap();
    native.admin.password = password;
    native
}

/// A box whose admin password was set at the console.
fn set_up_box(iterations: u32) -> Browser {
    browser_with(Fake {
        native: Mutex::new(Some(native_with(Some(hash_with(
            CONSOLE_PASSWORD,
            iterations,
        ))))),
        text: Mutex::new(Some(SEED.into())),
        ..Fake::default()
    })
}

/// `POST /api/login` from `peer`, as a script on the box's own origin would send it.
fn api_login(app: &App, peer: &str, password: &str, now: Instant) -> u16 {
    let body = json!({ "password": password }).to_string();
    let request = request_from(
        peer,
        "POST",
        "/api/login",
        &[
            ("Host", "10.1.0.1"),
            ("Origin", "https://10.1.0.1"),
            ("Content-Type", "application/json"),
        ],
        &body,
    );
    app.handle_at(&request, now).status
}

#[test]
fn a_box_before_its_setup_serves_only_the_setup_notice() {
    let mut b = browser_with(Fake {
        native: Mutex::new(Some(native_with(None))),
        ..Fake::default()
    });
    for path in ["/", "/login", "/status", "/config", "/password"] {
        let a = b.get(path);
        assert_eq!(a.status, 503, "{path}: {}", a.body);
        assert!(
            a.body
                .contains("finish the first-boot setup at the serial console"),
            "{path}: {}",
            a.body
        );
        assert!(!a.body.contains("<form"), "{path}: nothing to fill in");
    }
    for path in ["/api/status", "/metrics"] {
        assert_eq!(b.get(path).status, 503, "{path}");
    }
    // No password logs in, the old factory one least of all.
    for password in ["lvsfw", "", "admin"] {
        let a = b.post("/login", &[("login_token", "t"), ("password", password)]);
        assert_ne!(a.status, 303, "{password:?} logged in");
        assert!(!b.cookies.contains_key(session::COOKIE));
        let now = *b.clock.lock().unwrap();
        assert_eq!(api_login(&b.app, "10.1.0.50", password, now), 503);
    }
    assert!(b.fake.applied.lock().unwrap().is_empty());
}

#[test]
fn a_session_from_before_the_setup_cannot_take_over_the_consoles_password() {
    let mut b = browser_with(Fake {
        native: Mutex::new(Some(native_with(None))),
        ..Fake::default()
    });
    // Whoever reached the page first tried the old factory password ...
    let now = *b.clock.lock().unwrap();
    let body = json!({"password": "lvsfw"}).to_string();
    let login = b.app.handle_at(
        &request_from(
            "10.1.0.66",
            "POST",
            "/api/login",
            &[
                ("Host", "lb1"),
                ("Origin", "https://lb1"),
                ("Content-Type", "application/json"),
            ],
            &body,
        ),
        now,
    );
    let cookie = login
        .header("Set-Cookie")
        .and_then(|c| c.split(';').next())
        .unwrap_or("")
        .to_string();
    let csrf = serde_json::from_slice::<Value>(&login.body)
        .ok()
        .and_then(|v| v["csrf"].as_str().map(str::to_string))
        .unwrap_or_default();
    // ... then the operator set the password at the console ...
    *b.fake.native.lock().unwrap() = Some(native_with(Some(hash(CONSOLE_PASSWORD))));
    // ... and that session must not replace it without knowing it.
    let body = json!({"new": "the attacker's now"}).to_string();
    let change = b.app.handle_at(
        &request_from(
            "10.1.0.66",
            "POST",
            "/api/password",
            &[
                ("Host", "lb1"),
                ("Origin", "https://lb1"),
                ("Content-Type", "application/json"),
                ("Cookie", &cookie),
                ("X-CSRF-Token", &csrf),
            ],
            &body,
        ),
        now,
    );
    assert_ne!(
        change.status,
        200,
        "{}",
        String::from_utf8_lossy(&change.body)
    );
    let stored = b.fake.native().unwrap().admin.password.unwrap();
    assert!(stored.verify(CONSOLE_PASSWORD));
    b.peer = "10.1.0.50".parse().unwrap();
    assert_eq!(b.login(CONSOLE_PASSWORD).location, "/status");
}

#[test]
fn every_session_ends_when_the_password_changes_anywhere() {
    let mut b = set_up_box(config::password::MIN_ITERATIONS);
    assert_eq!(b.login(CONSOLE_PASSWORD).location, "/status");
    assert_eq!(b.get("/status").status, 200);
    // The console changes the password (`set password`, `config apply`).
    *b.fake.native.lock().unwrap() = Some(native_with(Some(hash("changed at the console"))));
    let a = b.get("/status");
    assert_eq!((a.status, a.location.as_str()), (303, "/login"));
    assert_eq!(b.get("/api/status").status, 401);
    // The new one logs in; changing it on the page needs the current one, always.
    assert_eq!(b.login("changed at the console").location, "/status");
    b.get("/password");
    for current in [None, Some("wrong one")] {
        let mut body = json!({"new": "chosen on the page"});
        if let Some(c) = current {
            body["current"] = c.into();
        }
        let a = b.request(
            "POST",
            "/api/password",
            "application/json",
            &body.to_string(),
        );
        assert_eq!(a.status, 403, "{current:?}: {}", a.body);
    }
    let body = json!({"current": "changed at the console", "new": "chosen on the page"});
    let a = b.request(
        "POST",
        "/api/password",
        "application/json",
        &body.to_string(),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    // The page's own change keeps its session.
    assert_eq!(b.get("/status").status, 200);
}

#[test]
fn only_the_boxs_own_names_reach_the_page() {
    let mut b = set_up_box(config::password::MIN_ITERATIONS);
    for host in [
        "10.1.0.1",
        "10.1.0.1:443",
        "lb1",
        "LB1:8443",
        "127.0.0.1:8443",
        "lb1.example.com",
    ] {
        b.host = host.into();
        assert_eq!(b.get("/login").status, 200, "Host: {host}");
    }
    // DNS rebinding: a name the attacker controls now points at the box.
    for host in [
        "evil.example",
        "evil.example:443",
        "10.1.0.99",
        "lb1.evil.example",
        "example.com",
        "",
    ] {
        b.host = host.into();
        assert_eq!(b.get("/login").status, 421, "Host: {host}");
    }
    b.host = "10.1.0.1".into();
    assert_eq!(b.login(CONSOLE_PASSWORD).location, "/status");
    b.get("/status");
    let csrf = b.csrf.clone();
    // A form posted from another origin, or from none, changes nothing, even with the
    // session's CSRF token.
    for origin in [
        Some("https://evil.example"),
        Some("http://10.1.0.1"),
        Some("null"),
        None,
    ] {
        let mut headers = vec![
            ("Host", "10.1.0.1"),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ];
        if let Some(o) = origin {
            headers.push(("Origin", o));
        }
        let cookie = format!("{}={}", session::COOKIE, b.cookies[session::COOKIE]);
        headers.push(("Cookie", &cookie));
        let body = form_body(&[("csrf", &csrf)]);
        let now = *b.clock.lock().unwrap();
        let a = b.app.handle_at(
            &request_from("10.1.0.50", "POST", "/config/discard", &headers, &body),
            now,
        );
        assert_eq!(a.status, 403, "Origin: {origin:?}");
    }
    // Referer stands in for a missing Origin.
    let cookie = format!("{}={}", session::COOKIE, b.cookies[session::COOKIE]);
    let body = form_body(&[("csrf", &csrf)]);
    let now = *b.clock.lock().unwrap();
    let a = b.app.handle_at(
        &request_from(
            "10.1.0.50",
            "POST",
            "/config/discard",
            &[
                ("Host", "10.1.0.1"),
                ("Referer", "https://10.1.0.1/config"),
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Cookie", &cookie),
            ],
            &body,
        ),
        now,
    );
    assert_eq!(a.status, 303);
}

#[test]
fn parallel_guesses_are_counted_before_they_are_hashed() {
    // A hash slow enough that all guesses are in before the first is answered.
    let b = set_up_box(200_000);
    let now = *b.clock.lock().unwrap();
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let guesses: Vec<_> = (0..8)
            .map(|i| {
                let app = &b.app;
                s.spawn(move || api_login(app, "10.1.0.66", &format!("guess {i}"), now))
            })
            .collect();
        guesses.into_iter().map(|g| g.join().unwrap()).collect()
    });
    let hashed = statuses.iter().filter(|s| **s == 401).count();
    assert_eq!(
        hashed,
        session::FREE_FAILURES as usize + 1,
        "{statuses:?}: the rest must wait"
    );
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 8 - hashed);
}

#[test]
fn guesses_from_one_ipv6_network_count_together() {
    let b = set_up_box(config::password::MIN_ITERATIONS);
    let now = *b.clock.lock().unwrap();
    // One host picks a new address of its /64 for every guess.
    let statuses: Vec<u16> = (1..=8)
        .map(|i| api_login(&b.app, &format!("fd01::{i:x}"), "guess", now))
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        4,
        "{statuses:?}"
    );
    // Another network is not held up.
    assert_eq!(api_login(&b.app, "fd02::1", "guess", now), 401);
}

#[test]
fn guesses_from_many_addresses_share_one_budget() {
    let b = set_up_box(config::password::MIN_ITERATIONS);
    let now = *b.clock.lock().unwrap();
    let statuses: Vec<u16> = (1..=40)
        .map(|i| {
            api_login(
                &b.app,
                &format!("10.1.{}.{}", i / 200, i % 200 + 1),
                "guess",
                now,
            )
        })
        .collect();
    let hashed = statuses.iter().filter(|s| **s == 401).count();
    assert!(hashed < 40, "every address hashed: {statuses:?}");
    assert_eq!(hashed, session::GLOBAL_BURST as usize, "{statuses:?}");
    // The budget comes back with time.
    let later = now + session::GLOBAL_EVERY;
    assert_eq!(api_login(&b.app, "10.1.9.9", "guess", later), 401);
}

#[test]
fn the_password_form_obeys_the_login_limit() {
    let mut b = set_up_box(config::password::MIN_ITERATIONS);
    assert_eq!(b.login(CONSOLE_PASSWORD).location, "/status");
    b.get("/status");
    let statuses: Vec<u16> = (0..8)
        .map(|i| {
            let body = json!({"current": format!("guess {i}"), "new": "chosen on the page"});
            b.request(
                "POST",
                "/api/password",
                "application/json",
                &body.to_string(),
            )
            .status
        })
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 403).count(),
        session::FREE_FAILURES as usize + 1,
        "{statuses:?}"
    );
    assert_eq!(statuses.last(), Some(&429));
}

#[test]
fn the_login_page_says_nothing_about_the_password() {
    let mut a = set_up_box(config::password::MIN_ITERATIONS);
    let mut b = browser();
    let (pa, pb) = (a.get("/login"), b.get("/login"));
    let strip = |page: &str| {
        let token = field(page, "login_token");
        page.replace(&token, "TOKEN")
    };
    assert_eq!(pa.status, 200);
    for text in ["factory", "No password", "not set"] {
        assert!(!pa.body.contains(text), "{text}: {}", pa.body);
    }
    // A box without a password shows the setup notice instead (nothing to log in to);
    // if it showed a login page, that page would have to be the same.
    if pb.status == 200 {
        assert_eq!(strip(&pa.body), strip(&pb.body));
    }
    assert!(pb.status == 200 || pb.status == 503, "{}", pb.status);
}

/// The kernel's random source failing (it does not after early boot, but a token made
/// without it would be guessable).
struct Broken;

impl Random for Broken {
    fn fill(&self, _: &mut [u8]) -> Result<(), NoRandom> {
        Err(NoRandom)
    }
}

#[test]
fn without_random_bytes_nothing_secret_is_made() {
    let mut b = set_up_box(config::password::MIN_ITERATIONS);
    let page = b.get("/login");
    let token = field(&page.body, "login_token");
    b.app.set_random(Box::new(Broken));
    assert_eq!(b.get("/login").status, 500);
    let a = b.post(
        "/login",
        &[("login_token", &token), ("password", CONSOLE_PASSWORD)],
    );
    assert_eq!(a.status, 500, "{}", a.body);
    assert!(!b.cookies.contains_key(session::COOKIE), "no session");
    let now = *b.clock.lock().unwrap();
    assert_eq!(api_login(&b.app, "10.1.0.50", CONSOLE_PASSWORD, now), 500);
}

#[test]
fn only_a_session_may_send_a_large_body() {
    let mut b = set_up_box(config::password::MIN_ITERATIONS);
    let head = |cookie: &str| {
        let text = format!(
            "POST /config/keepalived HTTP/1.1\r\nHost: lb1\r\nCookie: {cookie}\r\nContent-Length: 1000000\r\n\r\n"
        );
        parse_head(text.as_bytes(), &Limits::default())
            .unwrap()
            .unwrap()
            .0
    };
    let stranger = head(&format!("{}=0000", session::COOKIE));
    assert_eq!(b.app.admits_large_body(&stranger).unwrap_err().status, 401);
    assert_eq!(b.login(CONSOLE_PASSWORD).location, "/status");
    let session = head(&format!(
        "{}={}",
        session::COOKIE,
        b.cookies[session::COOKIE]
    ));
    assert!(b.app.admits_large_body(&session).is_ok());
}

#[test]
fn plain_http_gets_only_a_redirect_to_the_same_place() {
    let b = set_up_box(config::password::MIN_ITERATIONS);
    let now = *b.clock.lock().unwrap();
    for (host, path, location) in [
        (
            "10.1.0.1",
            "/status?refresh=5",
            "https://10.1.0.1/status?refresh=5",
        ),
        ("lb1:80", "/", "https://lb1/"),
        ("[fd01::1]:80", "/login", "https://[fd01::1]/login"),
    ] {
        let mut request = request_from("10.1.0.50", "GET", path, &[("Host", host)], "");
        request.secure = false;
        let a = b.app.handle_at(&request, now);
        assert_eq!(
            (a.status, a.header("Location")),
            (308, Some(location)),
            "{host}"
        );
    }
    // A form posted over plain HTTP is not taken either; a foreign name is not sent on.
    let mut post = request_from(
        "10.1.0.50",
        "POST",
        "/api/login",
        &[("Host", "10.1.0.1"), ("Content-Type", "application/json")],
        "{\"password\": \"set at the console\"}",
    );
    post.secure = false;
    let a = b.app.handle_at(&post, now);
    assert_eq!(a.status, 308);
    assert!(a.header("Set-Cookie").is_none());
    let mut foreign = request_from("10.1.0.50", "GET", "/", &[("Host", "evil.example")], "");
    foreign.secure = false;
    assert_eq!(b.app.handle_at(&foreign, now).status, 421);
}
