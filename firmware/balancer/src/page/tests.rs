use super::*;

fn native(json: &str) -> Config {
    config::native::from_json(json).unwrap()
}

const THREE: &str = r#"{"interfaces": [
    {"role": "ext", "addresses": ["192.168.0.101/24"]},
    {"role": "int", "addresses": ["192.168.33.20/24"]},
    {"role": "mgmt", "addresses": ["10.1.0.1/24", "fd01::1/64", "fe80::1/64"]}]}"#;

#[test]
fn config_json_keeps_the_password_and_leaves_keepalived_out() {
    let salt = [7u8; 16];
    let mut c = native(THREE);
    c.admin.password = Some(config::PasswordHash::new("pw", &salt, 1000).unwrap());
    c.keepalived
        .virtual_servers
        .push(config::keepalived::VirtualServer::new(
            config::keepalived::VsKey::Fwmark(1),
        ));
    let text = config_file_json(&c);
    assert!(!text.contains("keepalived"), "{text}");
    let back = config::native::from_json(&text).unwrap();
    assert!(back.admin.password.unwrap().verify("pw"));
    assert_eq!(back.interfaces, c.interfaces);
}

#[test]
fn a_tool_says_what_it_said_and_how_it_ended() {
    let sh = Path::new("/bin/sh");
    assert_eq!(
        run_tool(sh, &["-c", "echo saved"], Duration::from_secs(5)).unwrap(),
        "saved"
    );
    assert_eq!(
        run_tool(sh, &["-c", "echo no disk; exit 1"], Duration::from_secs(5)).unwrap_err(),
        "no disk"
    );
    let slow = run_tool(sh, &["-c", "sleep 5"], Duration::from_millis(200)).unwrap_err();
    assert!(slow.ends_with("no answer within 0 s; killed"), "{slow}");
}

#[test]
fn files_are_replaced_together_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.json");
    let b = dir.path().join("b.conf");
    std::fs::write(&a, "old a").unwrap();
    write_files(&[(&a, b"new a"), (&b, b"new b")]).unwrap();
    assert_eq!(std::fs::read_to_string(&a).unwrap(), "new a");
    assert_eq!(std::fs::read_to_string(&b).unwrap(), "new b");
    // The second cannot be written (its directory is a file): the first stays old.
    let blocked = dir.path().join("a.json/x.conf");
    assert!(write_files(&[(&b, b"newer b"), (&blocked, b"x")]).is_err());
    assert_eq!(std::fs::read_to_string(&b).unwrap(), "new b");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 2, "no temporary file left");
}
