use super::*;

/// A box as the lab sets one up (three NICs with the seed's addresses).
const LAB: &str = r#"{
  "hostname": "lvsfw",
  "interfaces": [
    {"role": "ext", "addresses": ["192.168.0.101/24"]},
    {"role": "int", "addresses": ["192.168.33.20/24"]},
    {"role": "mgmt", "addresses": ["10.0.2.15/24"]}
  ],
  "routes": []
}
"#;
const SEED_3_1: &str = include_str!("../../config/testdata/seed-3-1.conf");

struct Dir {
    _tmp: tempfile::TempDir,
    paths: Paths,
}

fn dir(native: &str) -> Dir {
    let tmp = tempfile::tempdir().unwrap();
    let paths = Paths::under(tmp.path());
    write(&paths.running_json, native).unwrap();
    Dir { _tmp: tmp, paths }
}

fn words(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn file(path: &Path) -> Option<String> {
    read_optional(path).unwrap()
}

#[test]
fn set_changes_the_candidate_only_and_apply_puts_it_in_service() {
    let d = dir(LAB);
    let said = set_interface(
        &d.paths,
        Role::Ext,
        &words(&["192.168.0.101/24", "192.168.0.100/24"]),
    )
    .unwrap();
    assert!(
        said.starts_with("ext: 192.168.0.101/24 192.168.0.100/24\n"),
        "{said}"
    );
    assert_eq!(file(&d.paths.running_json).as_deref(), Some(LAB));
    let shown = diff(&d.paths).unwrap();
    assert!(shown.contains("+        \"192.168.0.100/24\""), "{shown}");
    assert!(
        shown.starts_with("--- running config.json\n+++ candidate config.json\n"),
        "{shown}"
    );

    set_hostname(&d.paths, "lb1").unwrap();
    assert!(validate(&d.paths)
        .unwrap()
        .starts_with("valid: hostname lb1; ext 192.168.0.101/24 192.168.0.100/24, int"));
    let applied = apply(&d.paths).unwrap();
    assert_eq!(applied.hostname.as_deref(), Some("lb1"));
    assert!(
        applied.report.ends_with("(config.json)\n"),
        "{}",
        applied.report
    );
    assert!(!has_candidate(&d.paths));
    let running = config::native::from_json(&file(&d.paths.running_json).unwrap()).unwrap();
    assert_eq!(running.hostname.as_deref(), Some("lb1"));
    assert_eq!(running.interface(Role::Ext).unwrap().addresses.len(), 2);
    assert_eq!(
        diff(&d.paths).unwrap(),
        "no changes: the candidate is the running configuration\n"
    );
    assert_eq!(
        apply(&d.paths).unwrap_err(),
        "nothing to apply: no \"set\" or \"config import\" since the last apply\n"
    );
}

#[test]
fn bad_arguments_change_nothing_and_say_why() {
    let d = dir(LAB);
    let err = set_interface(
        &d.paths,
        Role::Int,
        &words(&[
            "192.168.33.300/24",
            "10.0.0.1",
            "10.1.0.1/24",
            "10.1.0.1/24",
        ]),
    )
    .unwrap_err();
    assert_eq!(
        err,
        "\"192.168.33.300\" is not an IPv4 or IPv6 address\n\
         \"10.0.0.1\": give the prefix length too, e.g. 10.0.0.1/24\n\
         \"10.1.0.1/24\" is given twice\n\
         nothing changed\n"
    );
    // The same address on two interfaces: the whole model's validation refuses it.
    let err = set_interface(&d.paths, Role::Int, &words(&["192.168.0.101/24"])).unwrap_err();
    assert_eq!(
        err,
        "that would make the configuration invalid:\n  \
         interfaces[1].addresses[0]: address 192.168.0.101 is configured twice\nnothing changed\n"
    );
    assert_eq!(
        set_hostname(&d.paths, "lb_1").unwrap_err(),
        "\"lb_1\" is not a host name (letters, digits and '-', dot-separated, at most 64 characters); nothing changed\n"
    );
    assert_eq!(
        set_gateway(&d.paths, "10.0.2").unwrap_err(),
        "\"10.0.2\" is not an IPv4 or IPv6 address (or \"none\"); nothing changed\n"
    );
    assert!(set_gateway(&d.paths, "10.9.9.9").unwrap_err().contains(
        "routes[0].via: gateway 10.9.9.9 is not inside any configured interface address"
    ));
    assert_eq!(
        set_password(&d.paths, "short").unwrap_err(),
        "a password has 8 to 128 characters (5 given); nothing changed\n"
    );
    assert!(!has_candidate(&d.paths));
    assert_eq!(file(&d.paths.running_json).as_deref(), Some(LAB));
}

#[test]
fn a_new_mgmt_address_moves_the_management_address_and_unreachable_routes() {
    let d = dir(
        r#"{"interfaces": [{"role": "mgmt", "addresses": ["10.0.2.15/24"]}],
            "routes": [{"to": "0.0.0.0/0", "via": "10.0.2.2"}],
            "admin": {"management_address": "10.0.2.15"}}"#,
    );
    let said = set_interface(&d.paths, Role::Mgmt, &words(&["10.0.5.1/24"])).unwrap();
    assert_eq!(
        said,
        "management address: 10.0.2.15 -> 10.0.5.1\n\
         route 0.0.0.0/0 via 10.0.2.2 removed: no interface reaches 10.0.2.2 now\n\
         mgmt: 10.0.5.1/24\n\
         candidate changed; \"config diff\" shows it, \"config apply\" puts it in service\n"
    );
    set_gateway(&d.paths, "10.0.5.254").unwrap();
    apply(&d.paths).unwrap();
    let c = config::native::from_json(&file(&d.paths.running_json).unwrap()).unwrap();
    assert_eq!(
        c.admin.management_address,
        Some("10.0.5.1".parse().unwrap())
    );
    assert_eq!(c.routes.len(), 1);
    assert_eq!(c.routes[0].via, "10.0.5.254".parse::<IpAddr>().unwrap());
    set_gateway(&d.paths, "none").unwrap();
    apply(&d.paths).unwrap();
    let c = config::native::from_json(&file(&d.paths.running_json).unwrap()).unwrap();
    assert!(c.routes.is_empty());
}

#[test]
fn keepalived_conf_is_checked_against_the_interfaces() {
    let d = dir(LAB);
    // As `config import` does.
    start_candidate(&d.paths).unwrap();
    write(&d.paths.candidate_conf, SEED_3_1).unwrap();
    // 3-1's real servers are behind int (192.168.33.0/24): valid with the factory's.
    assert!(validate(&d.paths)
        .unwrap()
        .ends_with("1 virtual server, 0 VRRP instances\n"));
    write(
        &d.paths.candidate_conf,
        "virtual_server 10.0.0.1 80 {\n  quorum none\n}\n",
    )
    .unwrap();
    let err = validate(&d.paths).unwrap_err();
    assert!(err.starts_with("keepalived.conf:2:"), "{err}");
    assert!(err.ends_with("the candidate is not valid\n"), "{err}");
    let err = apply(&d.paths).unwrap_err();
    assert!(
        err.ends_with(
            "the candidate is not valid; nothing applied, the running configuration is unchanged\n"
        ),
        "{err}"
    );
    assert_eq!(file(&d.paths.running_conf), None);
    write(&d.paths.candidate_conf, SEED_3_1).unwrap();
    let applied = apply(&d.paths).unwrap();
    assert!(
        applied.report.ends_with("(keepalived.conf)\n"),
        "{}",
        applied.report
    );
    assert_eq!(file(&d.paths.running_conf).as_deref(), Some(SEED_3_1));
    let shown = show(&d.paths).unwrap();
    assert!(shown.contains("  ext   192.168.0.101/24\n"), "{shown}");
    assert!(shown.contains("admin password: not set\n"), "{shown}");
    assert!(shown.ends_with(SEED_3_1), "{shown}");
    let exported = export(&d.paths, Secrets::Hidden).unwrap();
    let back = config::native::from_json(&exported).unwrap();
    assert_eq!(back.keepalived.virtual_servers.len(), 1);
}

#[test]
fn an_export_shows_no_password_hash_unless_a_backup_asks_for_it() {
    let d = dir(LAB);
    set_password(&d.paths, "s3cret-pass").unwrap();
    apply(&d.paths).unwrap();
    let plain = export(&d.paths, Secrets::Hidden).unwrap();
    assert!(!plain.contains("pbkdf2"), "{plain}");
    assert!(!plain.contains("password_hash"), "{plain}");
    let backup = export(&d.paths, Secrets::Included).unwrap();
    let back = config::native::from_json(&backup).unwrap();
    assert!(back.admin.password.unwrap().verify("s3cret-pass"));
    // `show config` and the diff never show it either.
    assert!(!show(&d.paths).unwrap().contains("pbkdf2"));
    set_password(&d.paths, "another-pass").unwrap();
    assert!(!diff(&d.paths).unwrap().contains("pbkdf2"));
}

#[test]
fn show_export_and_diff_never_show_a_vrrp_auth_pass() {
    let d = dir(LAB);
    let seed = format!(
        "{SEED_3_1}\nvrrp_instance VI_1 {{\n interface ext\n virtual_router_id 51\n priority 150\n authentication {{\n  auth_type PASS\n  auth_pass sfjpvrrp\n }}\n virtual_ipaddress {{\n  192.168.0.200/24\n }}\n}}\n"
    );
    start_candidate(&d.paths).unwrap();
    write(&d.paths.candidate_conf, &seed).unwrap();
    apply(&d.paths).unwrap();
    let shown = show(&d.paths).unwrap();
    assert!(!shown.contains("sfjpvrrp"), "{shown}");
    assert!(shown.contains("auth_pass (hidden)"), "{shown}");
    assert!(!export(&d.paths, Secrets::Hidden)
        .unwrap()
        .contains("sfjpvrrp"));
    assert!(export(&d.paths, Secrets::Included)
        .unwrap()
        .contains("sfjpvrrp"));
    start_candidate(&d.paths).unwrap();
    write(
        &d.paths.candidate_conf,
        &seed.replace("sfjpvrrp", "other-pw"),
    )
    .unwrap();
    let changed = diff(&d.paths).unwrap();
    assert!(
        !changed.contains("sfjpvrrp") && !changed.contains("other-pw"),
        "{changed}"
    );
    assert!(changed.contains("a secret changed"), "{changed}");
}

#[test]
fn show_export_and_diff_never_show_a_bgp_password() {
    let d = dir(LAB);
    let with_key = |key: &str| {
        format!(
            "{SEED_3_1}\nbgp {{\n local_as 65002\n neighbor 192.168.0.1 {{\n  remote_as 65001\n  password {key}\n }}\n}}\n"
        )
    };
    start_candidate(&d.paths).unwrap();
    write(&d.paths.candidate_conf, &with_key("Md5-key-one")).unwrap();
    apply(&d.paths).unwrap();
    let shown = show(&d.paths).unwrap();
    assert!(!shown.contains("Md5-key-one"), "{shown}");
    assert!(shown.contains("  password (hidden)\n"), "{shown}");
    let plain = export(&d.paths, Secrets::Hidden).unwrap();
    assert!(!plain.contains("Md5-key-one"), "{plain}");
    let backup = export(&d.paths, Secrets::Included).unwrap();
    assert!(backup.contains("Md5-key-one"), "a backup keeps it");
    start_candidate(&d.paths).unwrap();
    write(&d.paths.candidate_conf, &with_key("Md5-key-two")).unwrap();
    let changed = diff(&d.paths).unwrap();
    assert!(!changed.contains("Md5-key-"), "{changed}");
    assert!(
        changed.contains("a secret changed (a BGP neighbor's password or a VRRP auth_pass"),
        "{changed}"
    );
}

#[test]
fn setup_sets_mgmt_gateway_hostname_and_password_and_login_checks_it() {
    let d = dir(LAB);
    assert_eq!(
        setup_defaults(&d.paths, Some("lvsfw")),
        [
            "10.0.2.15/24".to_string(),
            "none".into(),
            "lvsfw".into(),
            String::new()
        ]
    );
    assert_eq!(login(&d.paths, "anything"), Login::NoPassword);
    let answers = Setup {
        management: "10.0.5.1/24".parse().unwrap(),
        gateway: Some("10.0.5.254".parse().unwrap()),
        hostname: "lb1".into(),
        password: "s3cret-pass".into(),
        vlan: None,
    };
    assert_eq!(Setup::from_lines(&answers.to_lines()).unwrap(), answers);
    // A candidate left behind is not taken along.
    set_hostname(&d.paths, "other").unwrap();
    let applied = setup(&d.paths, &answers).unwrap();
    assert_eq!(applied.hostname.as_deref(), Some("lb1"));
    assert!(!has_candidate(&d.paths));
    assert_eq!(login(&d.paths, "s3cret-pass"), Login::Accepted);
    assert_eq!(login(&d.paths, "s3cret-pasS"), Login::Refused);
    assert_eq!(
        setup_defaults(&d.paths, Some("lvsfw")),
        [
            "10.0.5.1/24".to_string(),
            "10.0.5.254".into(),
            "lb1".into(),
            String::new()
        ]
    );
    let c = config::native::from_json(&file(&d.paths.running_json).unwrap()).unwrap();
    assert_eq!(
        c.admin.management_address,
        Some("10.0.5.1".parse().unwrap())
    );
    assert_eq!(
        c.interface(Role::Ext).unwrap().addresses,
        vec!["192.168.0.101/24".parse().unwrap()],
        "the rest of the configuration stays"
    );

    // A changed password shows in the diff without its hash.
    set_password(&d.paths, "another-pass").unwrap();
    let shown = diff(&d.paths).unwrap();
    assert!(
        shown.contains("-    \"password_hash\": \"(set)\""),
        "{shown}"
    );
    assert!(
        shown.contains("+    \"password_hash\": \"(changed)\""),
        "{shown}"
    );
    assert!(!shown.contains("pbkdf2"), "{shown}");
}

#[test]
fn saved_configuration_round_trip() {
    let d = dir(LAB);
    let disk = tempfile::NamedTempFile::new().unwrap();
    disk.as_file().set_len(1 << 20).unwrap();
    let store = disk::open_path(disk.path()).unwrap();
    assert_eq!(
        saved::restore(&d.paths, &store).unwrap(),
        saved::Restored::Nothing
    );

    write(&d.paths.running_conf, SEED_3_1).unwrap();
    set_hostname(&d.paths, "lb1").unwrap();
    let said = saved::save(&d.paths, &store, "test").unwrap();
    assert!(
        said.ends_with("note: the candidate is not applied, so it is not saved\n"),
        "{said}"
    );

    // Another boot: the image's files, then the disk's.
    write(&d.paths.running_json, "{}").unwrap();
    std::fs::remove_file(&d.paths.running_conf).unwrap();
    assert_eq!(
        saved::restore(&d.paths, &store).unwrap(),
        saved::Restored::Saved
    );
    assert_eq!(file(&d.paths.running_json).as_deref(), Some(LAB));
    assert_eq!(file(&d.paths.running_conf).as_deref(), Some(SEED_3_1));

    // Saved without keepalived.conf: a file the image brings is removed.
    std::fs::remove_file(&d.paths.running_conf).unwrap();
    saved::save(&d.paths, &store, "test").unwrap();
    write(&d.paths.running_conf, SEED_3_1).unwrap();
    saved::restore(&d.paths, &store).unwrap();
    assert_eq!(file(&d.paths.running_conf), None);

    store.erase().unwrap();
    assert_eq!(
        saved::restore(&d.paths, &store).unwrap(),
        saved::Restored::Nothing
    );
    assert!(saved::decode(
        b"{\"format\":\"lvsfw-saved-9\",\"config.json\":\"{}\",\"keepalived.conf\":null}"
    )
    .unwrap_err()
    .contains("format \"lvsfw-saved-9\""));
}

#[test]
fn password_rules() {
    assert!(check_password("12345678").is_ok());
    assert!(check_password("1234567").is_err());
    assert!(check_password(&"x".repeat(129)).is_err());
    assert_eq!(
        check_password("abc\u{7}defgh").unwrap_err(),
        "a password holds no control characters"
    );
}

#[test]
fn the_running_configuration_is_saved_until_an_apply_and_again_after_a_save() {
    use saved::State;
    let d = dir(LAB);
    assert!(
        matches!(saved::state(&d.paths), State::Unknown(_)),
        "nothing restored yet"
    );
    let disk = tempfile::NamedTempFile::new().unwrap();
    disk.as_file().set_len(1 << 20).unwrap();
    let store = disk::open_path(disk.path()).unwrap();
    // Nothing saved: a reboot brings back the image's files, which run now.
    saved::restore(&d.paths, &store).unwrap();
    assert_eq!(saved::state(&d.paths), State::Saved);
    set_hostname(&d.paths, "lb1").unwrap();
    assert_eq!(
        saved::state(&d.paths),
        State::Saved,
        "a candidate is not running"
    );
    apply(&d.paths).unwrap();
    assert_eq!(saved::state(&d.paths), State::Unsaved);
    saved::save(&d.paths, &store, "test").unwrap();
    assert_eq!(saved::state(&d.paths), State::Saved);
    // Whoever changes the running files (the page writes them itself) is seen.
    write(&d.paths.running_conf, SEED_3_1).unwrap();
    assert_eq!(saved::state(&d.paths), State::Unsaved);
    // The next boot restores the saved record: saved again.
    saved::restore(&d.paths, &store).unwrap();
    assert_eq!(saved::state(&d.paths), State::Saved);
}

#[test]
fn apply_refuses_what_the_box_cannot_bind_at_its_line_and_changes_nothing() {
    let native = r#"{"interfaces": [
        {"role": "ext", "addresses": ["192.168.0.101/24"]},
        {"role": "int", "addresses": ["192.168.33.20/24"]}]}"#;
    let d = dir(native);
    write(
        &d.paths.board,
        "name two\nnic ext pci 0000:00:10.0\nnic int pci 0000:00:11.0\n",
    )
    .unwrap();
    let conf = "vrrp_instance VI_INT {\n interface int\n virtual_router_id 52\n unicast_src_ip 192.168.33.99\n}\nvrrp_instance VI_M {\n interface mgmt\n virtual_router_id 53\n}\n";
    write(&d.paths.candidate_conf, conf).unwrap();
    let refused = apply(&d.paths).unwrap_err();
    assert!(
        refused.contains("keepalived.conf:4:2: unicast_src_ip: 192.168.33.99 is not an address of interface int (it has 192.168.33.20/24)"),
        "{refused}"
    );
    assert!(
        refused.contains("keepalived.conf:7:2: interface: this board has no mgmt NIC"),
        "{refused}"
    );
    assert_eq!(file(&d.paths.running_conf), None, "nothing applied");
    assert!(validate(&d.paths).unwrap_err().contains("unicast_src_ip"));
}

#[test]
fn a_factory_new_box_gives_ext_and_int_no_address() {
    for factory in [
        include_str!("../../../board/qemu-x86_64/config.json"),
        include_str!("../../../board/pc-x86_64/config.json"),
    ] {
        let config = config::native::from_json(factory).unwrap();
        assert_eq!(config.interface(Role::Ext), None, "{factory}");
        assert_eq!(config.interface(Role::Int), None, "{factory}");
        assert!(config.routes.is_empty());
        assert!(config.admin.password.is_none());
        assert!(config.interfaces.iter().all(|i| !i.accept_ra));
    }
}

#[test]
fn setup_says_which_roles_stay_down_without_an_address() {
    let d = dir(include_str!("../../../board/qemu-x86_64/config.json"));
    write(
        &d.paths.board,
        "name b\nnic ext pci 0000:00:10.0\nnic int pci 0000:00:11.0\nnic mgmt pci 0000:00:12.0\n",
    )
    .unwrap();
    assert_eq!(
        unaddressed_roles_note(&d.paths),
        "ext and int have no address and stay down until given one: \"set interface ext address A/P\", then \"config apply\"\n"
    );
    set_interface(&d.paths, Role::Ext, &words(&["192.168.0.101/24"])).unwrap();
    apply(&d.paths).unwrap();
    assert_eq!(
        unaddressed_roles_note(&d.paths),
        "int has no address and stays down until given one: \"set interface int address A/P\", then \"config apply\"\n"
    );
}

#[test]
fn a_candidate_older_than_the_running_configuration_is_not_applied() {
    let d = dir(LAB);
    set_password(&d.paths, "console's first").unwrap();
    apply(&d.paths).unwrap();
    // A console starts a change ...
    set_hostname(&d.paths, "lb1").unwrap();
    // ... the page changes the password meanwhile ...
    let mut running = config::native::from_json(&file(&d.paths.running_json).unwrap()).unwrap();
    running.admin.password = Some(hash_password("changed on the page").unwrap());
    write(&d.paths.running_json, &config::native::to_json(&running)).unwrap();
    // ... and the console's apply would put the old password back with its hostname.
    let e = apply(&d.paths).unwrap_err();
    assert!(
        e.starts_with("the running configuration changed since this candidate was started"),
        "{e}"
    );
    let now_running = config::native::from_json(&file(&d.paths.running_json).unwrap()).unwrap();
    assert!(now_running
        .admin
        .password
        .unwrap()
        .verify("changed on the page"));
    assert_eq!(now_running.hostname.as_deref(), Some("lvsfw"));
    // Discarded and made again, it goes in.
    discard(&d.paths).unwrap();
    assert!(!has_candidate(&d.paths));
    set_hostname(&d.paths, "lb1").unwrap();
    apply(&d.paths).unwrap();
    let now_running = config::native::from_json(&file(&d.paths.running_json).unwrap()).unwrap();
    assert!(now_running
        .admin
        .password
        .unwrap()
        .verify("changed on the page"));
    assert_eq!(now_running.hostname.as_deref(), Some("lb1"));
}

#[test]
fn setup_on_a_two_nic_box_puts_management_on_int_or_a_vlan_of_it() {
    let factory = include_str!("../../../board/qemu-2nic-x86_64/config.json");
    let board = include_str!("../../../board/qemu-2nic-x86_64/board.conf");
    let d = dir(factory);
    write(&d.paths.board, board).unwrap();
    // The factory's management address is int's, and the VLAN question is asked.
    assert_eq!(
        setup_defaults(&d.paths, Some("lvsfw")),
        [
            "10.0.2.15/24".to_string(),
            "none".into(),
            "lvsfw".into(),
            "none".into()
        ]
    );
    let answers = Setup {
        management: "10.0.5.1/24".parse().unwrap(),
        gateway: None,
        hostname: "lb1".into(),
        password: "s3cret-pass".into(),
        vlan: Some(10),
    };
    setup(&d.paths, &answers).unwrap();
    let c = config::native::from_json(&file(&d.paths.running_json).unwrap()).unwrap();
    let mgmt = c.interface(Role::Mgmt).unwrap();
    assert_eq!(
        (mgmt.vlan, mgmt.addresses.clone()),
        (
            Some(config::Vlan {
                id: 10,
                on: Role::Int
            }),
            vec!["10.0.5.1/24".parse().unwrap()]
        )
    );
    assert_eq!(
        c.admin.management_address,
        Some("10.0.5.1".parse().unwrap())
    );
    assert_eq!(setup_defaults(&d.paths, None)[3], "10");
    // Again without the VLAN: the address goes to int, the VLAN role goes.
    let d = dir(factory);
    write(&d.paths.board, board).unwrap();
    setup(
        &d.paths,
        &Setup {
            vlan: None,
            ..answers
        },
    )
    .unwrap();
    let c = config::native::from_json(&file(&d.paths.running_json).unwrap()).unwrap();
    assert!(c.interface(Role::Mgmt).is_none());
    assert_eq!(
        c.interface(Role::Int).unwrap().addresses,
        vec!["10.0.5.1/24".parse().unwrap()]
    );
    assert_eq!(setup_defaults(&d.paths, None)[0], "10.0.5.1/24");
}

#[test]
fn set_ntp_replaces_the_servers_and_none_clears_them() {
    let d = dir(r#"{"interfaces": [{"role": "mgmt", "addresses": ["10.0.2.15/24"]}]}"#);
    assert_eq!(
        set_ntp(&d.paths, &["10.0.2.2", "2001:db8::123"]).unwrap(),
        "NTP servers: 10.0.2.2, 2001:db8::123\n\
         candidate changed; \"config diff\" shows it, \"config apply\" puts it in service\n"
    );
    apply(&d.paths).unwrap();
    let c = config::native::from_json(&file(&d.paths.running_json).unwrap()).unwrap();
    assert_eq!(c.ntp_servers.len(), 2);
    assert_eq!(
        set_ntp(&d.paths, &["pool.ntp.org"]).unwrap_err(),
        "\"pool.ntp.org\" is not an IPv4 or IPv6 address (names are not looked up); nothing changed\n"
    );
    assert!(set_ntp(&d.paths, &["127.0.0.1"])
        .unwrap_err()
        .contains("ntp_servers[0]: 127.0.0.1 cannot be an NTP server"));
    set_ntp(&d.paths, &["none"]).unwrap();
    apply(&d.paths).unwrap();
    let c = config::native::from_json(&file(&d.paths.running_json).unwrap()).unwrap();
    assert!(c.ntp_servers.is_empty());
}
