//! The configuration forms and the pasted keepalived.conf: what a change staged through the
//! page becomes, and what a bad one changes (nothing).

use super::*;

#[test]
fn a_weight_set_through_the_form_is_applied_as_keepalived_conf() {
    let mut b = browser();
    b.ready();
    let page = b.get("/config").body;
    assert!(page.contains("real_server 192.168.33.11 80"), "{page}");
    assert!(page.contains("The candidate is the configuration in service"));
    let a = b.submit(
        "/config/edit",
        &[("op", "rs-set"), ("vs", "0"), ("rs", "0"), ("weight", "0")],
    );
    assert_eq!(a.location, "/config", "{}", a.body);
    let page = b.get("/config").body;
    assert!(page.contains("Candidate: virtual_server 192.168.0.100 80: real_server 192.168.33.11 80: weight 1 -&gt; 0"), "{page}");
    assert!(
        page.contains("has changes that are not in service yet"),
        "{page}"
    );
    // Not in service until Apply.
    assert_eq!(b.fake.keepalived_text().unwrap().unwrap(), SEED);
    let a = b.submit("/config/apply", &[]);
    assert_eq!(a.location, "/config", "{}", a.body);
    let text = b.fake.keepalived_text().unwrap().unwrap();
    let k = keepalived::read_text(&text, "x").unwrap().config;
    assert_eq!(k.virtual_servers[0].real_servers[0].weight, 0);
    assert_eq!(k.virtual_servers[0].real_servers[1].weight, 1);
    let page = b.get("/config").body;
    assert!(page.contains("Applied: the balancer reloaded"), "{page}");
}

#[test]
fn a_form_from_an_older_candidate_is_refused() {
    let mut b = browser();
    b.ready();
    let page = b.get("/config").body;
    let old = field(&page, "generation");
    b.submit(
        "/config/edit",
        &[("op", "rs-disable"), ("vs", "0"), ("rs", "1")],
    );
    let csrf = b.csrf.clone();
    let a = b.post(
        "/config/edit",
        &[
            ("csrf", &csrf),
            ("generation", &old),
            ("op", "rs-remove"),
            ("vs", "0"),
            ("rs", "0"),
        ],
    );
    assert_eq!(a.status, 422);
    assert!(
        a.body
            .contains("the candidate changed since this page was made"),
        "{}",
        a.body
    );
    let candidate = field(&b.get("/config").body, "generation");
    assert_ne!(candidate, old);
}

#[test]
fn a_bad_paste_shows_every_error_at_its_line_and_changes_nothing() {
    let mut b = browser();
    b.ready();
    let bad = "virtual_server 10.0.0.1 80 {\r\n  quorum rx\r\n  delay_lop 6\r\n}\r\n";
    let a = b.submit("/config/keepalived", &[("text", bad), ("action", "apply")]);
    assert_eq!(a.status, 422);
    for part in [
        "2 errors; nothing was changed.",
        "<li>keepalived.conf:2:10: quorum: &quot;rx&quot; is not a whole number",
        "<li>keepalived.conf:3:3: unknown keyword &quot;delay_lop&quot; in virtual_server (did you mean &quot;delay_loop&quot;?)</li>",
        "   2 |   quorum rx\n                ^ quorum",
        "   3 |   delay_lop 6\n         ^ unknown keyword",
    ] {
        assert!(a.body.contains(part), "{part:?} missing from\n{}", a.body);
    }
    // The text stays in the editor for fixing.
    assert!(a.body.contains("  delay_lop 6\n"));
    assert!(b.fake.applied.lock().unwrap().is_empty());
    assert_eq!(b.fake.keepalived_text().unwrap().unwrap(), SEED);
}

#[test]
fn a_pasted_config_validates_stages_and_applies() {
    let mut b = browser_with(Fake {
        native: Mutex::new(Some(native_set_up())),
        ..Fake::default()
    });
    b.ready();
    let page = b.get("/status").body;
    assert!(page.contains("<td>192.168.33.11:80</td>"), "{page}");
    let a = b.submit(
        "/config/keepalived",
        &[("text", SEED), ("action", "validate")],
    );
    assert_eq!(a.status, 200);
    assert!(
        a.body
            .contains("Valid: 1 virtual server, 0 VRRP instances."),
        "{}",
        a.body
    );
    assert_eq!(b.fake.keepalived_text().unwrap(), None);
    let a = b.submit("/config/keepalived", &[("text", SEED), ("action", "stage")]);
    assert_eq!(a.location, "/config");
    assert_eq!(b.fake.keepalived_text().unwrap(), None);
    let page = b.get("/config").body;
    assert!(page.contains("not in service yet"));
    assert!(
        page.contains("! Configuration File for keepalived"),
        "comments kept"
    );
    b.submit("/config/apply", &[]);
    assert_eq!(b.fake.keepalived_text().unwrap().unwrap(), SEED);
}

#[test]
fn the_native_settings_keep_the_password_and_name_their_errors() {
    let mut b = browser();
    b.ready();
    let page = b.get("/config").body;
    assert!(
        page.contains("&quot;hostname&quot;: &quot;lb1&quot;"),
        "{page}"
    );
    assert!(!page.contains("password_hash"), "the hash is never shown");
    let a = b.submit(
        "/config/native",
        &[("text", "{\"hostname\": \"lb_1\"}"), ("action", "apply")],
    );
    assert_eq!(a.status, 422);
    assert!(
        a.body
            .contains("<li>hostname: &quot;lb_1&quot; is not a host name"),
        "{}",
        a.body
    );
    let a = b.submit(
        "/config/native",
        &[
            ("text", "{\"admin\": {\"password_hash\": \"x\"}}"),
            ("action", "apply"),
        ],
    );
    assert!(
        a.body
            .contains("<li>admin.password_hash: the password is changed on the password page"),
        "{}",
        a.body
    );
    // Settings that would cut the page off are refused.
    let a = b.submit(
        "/config/native",
        &[("text", "{\"hostname\": \"lb2\"}"), ("action", "apply")],
    );
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(
        a.body.contains(
            "<li>interfaces: 10.1.0.1, the address this page is reached on, would be removed"
        ),
        "{}",
        a.body
    );
    // Without the int address, the seed's NAT real servers have no way out.
    let no_int = NATIVE.replace(
        "{\"role\": \"int\", \"addresses\": [\"192.168.33.20/24\"]},",
        "",
    );
    let a = b.submit("/config/native", &[("text", &no_int), ("action", "apply")]);
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(a.body.contains("keepalived.conf virtual_servers[0].real_servers[0]: real_server: 192.168.33.11 is not reachable through an int address (int has no address)"), "{}", a.body);
    let renamed = NATIVE.replace("lb1", "lb2");
    let a = b.submit("/config/native", &[("text", &renamed), ("action", "apply")]);
    assert_eq!(a.location, "/config", "{}", a.body);
    let native = b.fake.native().unwrap();
    assert_eq!(native.hostname.as_deref(), Some("lb2"));
    assert!(native.admin.password.unwrap().verify(PASSWORD));
}
