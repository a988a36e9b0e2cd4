use super::*;
use paths::write_atomic;

fn pending(deadline: u64) -> Pending {
    Pending {
        native: "{}\n".into(),
        keepalived: None,
        deadline,
        minutes: 1,
        who: "console".into(),
        why: "rollback asked for".into(),
    }
}

#[test]
fn the_timer_counts_down_to_due() {
    let p = pending(160);
    assert_eq!(p.timer(100), Timer::Left(60));
    assert_eq!(p.timer(159), Timer::Left(1));
    assert_eq!(p.timer(160), Timer::Due);
    assert_eq!(p.timer(10_000), Timer::Due);
    assert!(
        p.describe(100).contains("in 1 min unless confirmed"),
        "{}",
        p.describe(100)
    );
    assert!(p.describe(135).contains("in 25 s"), "{}", p.describe(135));
}

#[test]
fn minutes_are_1_to_60() {
    assert_eq!(parse_minutes("1"), Ok(1));
    assert_eq!(parse_minutes("60"), Ok(60));
    for bad in ["0", "61", "abc", "-1", ""] {
        assert!(parse_minutes(bad).is_err(), "{bad}");
    }
}

fn config(json: &str) -> Config {
    config::native::from_json(json).unwrap()
}

#[test]
fn what_needs_a_confirmation_by_default() {
    let base = r#"{"interfaces": [{"role": "mgmt", "addresses": ["10.0.0.2/24"]},
        {"role": "int", "addresses": ["10.1.0.2/24"]}],
        "routes": [{"to": "0.0.0.0/0", "via": "10.0.0.1"}]}"#;
    let old = config(base);
    assert_eq!(required(&old, &old), None);
    let hostname = config(&base.replacen('{', r#"{"hostname": "lb9", "#, 1));
    assert_eq!(required(&old, &hostname), None);
    let int = config(&base.replace("10.1.0.2/24", "10.1.0.3/24"));
    assert_eq!(required(&old, &int), None);
    let mgmt = config(&base.replace("10.0.0.2/24", "10.0.0.3/24"));
    assert!(required(&old, &mgmt).unwrap().contains("mgmt interface"));
    let gateway = config(&base.replace("10.0.0.1\"", "10.0.0.9\""));
    assert!(required(&old, &gateway)
        .unwrap()
        .contains("default gateway"));
    // Nothing reached before, nothing to lose: a first mgmt address, a first gateway.
    let bare = config(r#"{"interfaces": [{"role": "int", "addresses": ["10.1.0.2/24"]}]}"#);
    assert_eq!(required(&bare, &old), None);
}

#[test]
fn a_change_while_one_is_pending_joins_it() {
    let tmp = tempfile::tempdir().unwrap();
    let paths = Paths::under(tmp.path());
    write_atomic(&paths.running_json, b"{\"hostname\": \"first\"}\n", true).unwrap();
    let first = arm_for(&paths, Some(2), None, None, "console")
        .unwrap()
        .unwrap();
    write_atomic(&paths.running_json, b"{\"hostname\": \"second\"}\n", true).unwrap();
    let joined = arm_for(&paths, Some(5), None, None, "page")
        .unwrap()
        .unwrap();
    assert_eq!(joined, first, "the first deadline and texts stay");
    assert_eq!(super::pending(&paths).unwrap(), Some(first.clone()));
    roll_back_if_due(&paths, first.deadline).unwrap().unwrap();
    assert_eq!(
        std::fs::read_to_string(&paths.running_json).unwrap(),
        "{\"hostname\": \"first\"}\n"
    );
    assert_eq!(arm_for(&paths, None, None, None, "console").unwrap(), None);
}

#[test]
fn arm_confirm_and_roll_back() {
    let tmp = tempfile::tempdir().unwrap();
    let paths = Paths::under(tmp.path());
    write_atomic(&paths.running_json, b"{\"hostname\": \"old\"}\n", true).unwrap();
    assert_eq!(super::pending(&paths).unwrap(), None);
    assert!(confirm(&paths, "test")
        .unwrap_err()
        .contains("nothing to confirm"));

    // Armed: the texts before the change are kept; a second change is refused.
    let p = arm(&paths, 1, "console", "rollback asked for").unwrap();
    assert_eq!(p.native, "{\"hostname\": \"old\"}\n");
    assert!(arm(&paths, 1, "page", "x")
        .unwrap_err()
        .contains("refused while a change waits"));
    assert!(refuse_while_pending(&paths, "config save").is_err());
    write_atomic(&paths.running_json, b"{\"hostname\": \"new\"}\n", true).unwrap();
    write_atomic(&paths.running_conf, b"virtual_server_group g {\n}\n", true).unwrap();

    // Not due yet: nothing happens.
    assert_eq!(roll_back_if_due(&paths, p.deadline - 1).unwrap(), None);
    assert!(paths.rollback.exists());
    // Due: the old texts are back, keepalived.conf (there was none) is gone.
    let said = roll_back_if_due(&paths, p.deadline).unwrap().unwrap();
    assert!(said.contains("not confirmed within 1 min"), "{said}");
    assert_eq!(
        std::fs::read_to_string(&paths.running_json).unwrap(),
        "{\"hostname\": \"old\"}\n"
    );
    assert!(!paths.running_conf.exists());
    assert!(!paths.rollback.exists());
    assert_eq!(roll_back_if_due(&paths, p.deadline + 100).unwrap(), None);

    // Confirmed: the change stays and the rollback never comes.
    let p = arm(&paths, 5, "console", "rollback asked for").unwrap();
    write_atomic(&paths.running_json, b"{\"hostname\": \"kept\"}\n", true).unwrap();
    assert!(confirm(&paths, "test").unwrap().starts_with("confirmed"));
    assert_eq!(roll_back_if_due(&paths, p.deadline + 1).unwrap(), None);
    assert_eq!(
        std::fs::read_to_string(&paths.running_json).unwrap(),
        "{\"hostname\": \"kept\"}\n"
    );
    assert!(arm(&paths, 0, "console", "x").is_err());
    assert!(arm(&paths, 61, "console", "x").is_err());
}
