use super::*;

/// Types `bytes` in reads of 4 KiB as PID 1 does, and collects every request,
/// finishing each with `Done` at once.
fn run(s: &mut Session, bytes: &[u8], out: &mut String) -> Vec<Request> {
    let mut requests = Vec::new();
    for chunk in bytes.chunks(4096) {
        s.push(chunk);
        while let Some(r) = s.next(out) {
            requests.push(r);
            s.finish(Outcome::Done, out);
        }
    }
    requests
}

fn open() -> (Session, String) {
    let mut out = String::new();
    let s = Session::new(Start::Open, &mut out);
    (s, out)
}

/// What a terminal shows, roughly: escape sequences and carriage returns dropped.
fn screen(out: &str) -> String {
    let mut text = String::new();
    let mut chars = out.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else if c != '\r' {
            text.push(c);
        }
    }
    text
}

#[test]
fn commands_become_requests_and_the_prompt_returns() {
    let (mut s, mut out) = open();
    assert_eq!(screen(&out), PROMPT);
    s.push(b"show status\rhelp\r");
    assert_eq!(
        s.next(&mut out),
        Some(Request::Command(Command::ShowStatus))
    );
    assert!(s.busy());
    assert!(!s.prompt_shown());
    // What was typed meanwhile waits.
    assert_eq!(s.next(&mut out), None);
    s.finish(Outcome::Done, &mut out);
    assert_eq!(s.next(&mut out), Some(Request::Command(Command::Help)));
    s.finish(Outcome::Done, &mut out);
    assert_eq!(screen(&out), "lvsfw> show status\nlvsfw> help\nlvsfw> ");
}

#[test]
fn ctrl_c_stops_a_running_command_and_drops_what_was_typed_before_it() {
    let (mut s, mut out) = open();
    assert_eq!(run(&mut s, b"", &mut out), vec![]);
    s.push(b"ping 10.0.0.1\r");
    assert!(matches!(
        s.next(&mut out),
        Some(Request::Command(Command::Ping(_)))
    ));
    s.push(b"garbage\x03help\r");
    assert_eq!(s.next(&mut out), Some(Request::Interrupt));
    assert_eq!(s.next(&mut out), None, "still busy");
    s.finish(Outcome::Done, &mut out);
    assert_eq!(s.next(&mut out), Some(Request::Command(Command::Help)));
}

#[test]
fn errors_are_shown_and_nothing_is_requested() {
    let (mut s, mut out) = open();
    let requests = run(
        &mut s,
        b"reboto\rshow\rset interface dmz address 1.2.3.4/24\r",
        &mut out,
    );
    assert_eq!(requests, vec![]);
    let shown = screen(&out);
    assert!(
        shown.contains("error: unknown command \"reboto\"; type \"help\" for the list\n"),
        "{shown}"
    );
    assert!(shown.contains("error: usage: show status|vrrp|"), "{shown}");
    assert!(
        shown.contains("error: \"dmz\" is not a NIC role (expected ext, int or mgmt)\n"),
        "{shown}"
    );
    assert!(shown.ends_with(PROMPT));
}

#[test]
fn a_100_kb_line_and_binary_garbage_change_nothing() {
    let (mut s, mut out) = open();
    let mut long = vec![b'x'; 100 * 1024];
    long.push(b'\r');
    assert_eq!(run(&mut s, &long, &mut out), vec![]);
    assert!(screen(&out).contains("error: a line longer than 4096 bytes, ignored\nlvsfw> "));
    // Everything but Enter and ctrl-c, in a fixed pseudo-random order, then Enter.
    let mut garbage = Vec::new();
    let mut x: u32 = 12345;
    for _ in 0..20_000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let b = (x >> 16) as u8;
        if ![b'\r', b'\n', 0x03].contains(&b) {
            garbage.push(b);
        }
    }
    garbage.push(b'\r');
    let requests = run(&mut s, &garbage, &mut out);
    assert!(requests.is_empty(), "{requests:?}");
    assert_eq!(
        run(&mut s, b"\x15show version\r", &mut out),
        vec![Request::Command(Command::ShowVersion)]
    );
}

#[test]
fn login_hides_the_password_and_says_when_it_is_wrong() {
    let mut out = String::new();
    let mut s = Session::new(Start::Login, &mut out);
    assert!(screen(&out).ends_with("log in with the admin password\nPassword: "));
    s.push(b"hunter22\r");
    assert_eq!(s.next(&mut out), Some(Request::Login("hunter22".into())));
    assert!(!out.contains("hunter"), "{out:?}");
    s.finish(Outcome::LoginRefused, &mut out);
    assert!(screen(&out)
        .ends_with("Login incorrect\n\nlvsfw console: log in with the admin password\nPassword: "));
    // Commands are not commands before a login: the line is a password attempt.
    s.push(b"reboot\r");
    assert_eq!(s.next(&mut out), Some(Request::Login("reboot".into())));
    s.finish(Outcome::LoginAccepted, &mut out);
    assert!(screen(&out).ends_with(PROMPT));
    // The password typed is not in the history either.
    s.push(b"\x1b[A");
    assert_eq!(s.next(&mut out), None);
    assert!(s.editor.is_empty());
    assert_eq!(run(&mut s, b"logout\r", &mut out), vec![]);
    assert!(screen(&out)
        .ends_with("logged out\n\nlvsfw console: log in with the admin password\nPassword: "));
}

#[test]
fn first_boot_setup_asks_checks_and_hands_over_the_answers() {
    let mut out = String::new();
    let defaults = [
        "10.0.2.15/24".to_string(),
        "none".into(),
        "lvsfw".into(),
        String::new(),
    ];
    let mut s = Session::new(Start::Setup(defaults), &mut out);
    assert!(screen(&out).ends_with("Management address/prefix [10.0.2.15/24]: "));
    s.push(b"10.0.5.300/24\r10.0.5.1/24\r10.0.5.254\rlb1\rs3cret-pass\rs3cret-pass\r");
    let request = s.next(&mut out);
    assert_eq!(
        request,
        Some(Request::Setup(Setup {
            management: "10.0.5.1/24".parse().unwrap(),
            gateway: Some("10.0.5.254".parse().unwrap()),
            hostname: "lb1".into(),
            password: "s3cret-pass".into(),
            vlan: None,
        }))
    );
    let shown = screen(&out);
    assert!(
        shown.contains("error: \"10.0.5.300\" is not an IPv4 or IPv6 address\n"),
        "{shown}"
    );
    assert!(!shown.contains("s3cret"), "{shown}");
    s.finish(Outcome::SetupFailed, &mut out);
    assert!(screen(&out).ends_with("once more:\n\nFirst-boot setup: this appliance has no admin password yet.\nAnswer each question; Enter takes the value in [brackets].\nManagement address/prefix [10.0.2.15/24]: "));
    s.push(b"\r\r\r12345678\r12345678\r");
    assert!(matches!(s.next(&mut out), Some(Request::Setup(_))));
    s.finish(Outcome::Done, &mut out);
    assert!(screen(&out).ends_with(PROMPT));
    assert_eq!(
        run(&mut s, b"status\r", &mut out),
        vec![Request::Command(Command::ShowStatus)]
    );
}

#[test]
fn a_paste_keeps_tabs_and_ends_at_a_dot() {
    let (mut s, mut out) = open();
    s.push(b"config import\rvirtual_server 10.0.0.1 80 {\r\tlb_algo rr\r}\r.\rhelp\r");
    assert_eq!(
        s.next(&mut out),
        Some(Request::Import(
            "virtual_server 10.0.0.1 80 {\n\tlb_algo rr\n}\n".into()
        ))
    );
    assert!(!s.prompt_shown());
    s.finish(Outcome::Done, &mut out);
    assert_eq!(s.next(&mut out), Some(Request::Command(Command::Help)));
    let shown = screen(&out);
    assert!(shown.contains("single \".\" (ctrl-c abandons)\nvirtual_server 10.0.0.1 80 {\n\tlb_algo rr\n}\n.\nlvsfw> help"), "{shown:?}");
    // Pasted lines stay out of the history: up-arrow brings back the command.
    s.finish(Outcome::Done, &mut out);
    s.push(b"\x1b[A");
    s.next(&mut out);
    assert_eq!(s.editor.text(), "help");
}

#[test]
fn a_paste_is_abandoned_by_ctrl_c_or_an_overlong_line() {
    let (mut s, mut out) = open();
    assert_eq!(
        run(&mut s, b"config import\rglobal_defs {\r\x03", &mut out),
        vec![]
    );
    assert!(screen(&out).ends_with("^C\nimport abandoned; nothing changed\nlvsfw> "));
    let mut long = b"config import\r".to_vec();
    long.extend(vec![b'x'; 5000]);
    long.extend(b"\r}\r.\r");
    assert_eq!(run(&mut s, &long, &mut out), vec![]);
    let shown = screen(&out);
    assert!(
        shown.contains("error: a line longer than 4096 bytes; import abandoned, nothing changed\n"),
        "{shown}"
    );
    // The rest of the paste is taken as commands, and refused as such.
    assert!(shown.contains("error: unknown command \"}\""), "{shown}");
}

#[test]
fn set_password_asks_twice_hidden() {
    let (mut s, mut out) = open();
    assert_eq!(
        run(&mut s, b"set password\rnew-pass-1\rnew-pass-2\r", &mut out),
        vec![]
    );
    assert!(screen(&out).contains("error: the two passwords differ; nothing changed\n"));
    assert_eq!(run(&mut s, b"set password\rshort\r", &mut out), vec![]);
    assert!(screen(&out)
        .contains("error: a password has 8 to 128 characters (5 given); nothing changed\n"));
    assert_eq!(
        run(&mut s, b"set password\rnew-pass-1\rnew-pass-1\r", &mut out),
        vec![Request::SetPassword("new-pass-1".into())]
    );
    assert!(!out.contains("new-pass"));
    assert_eq!(run(&mut s, b"set password\r\x03", &mut out), vec![]);
    assert!(screen(&out).ends_with("cancelled; nothing changed\nlvsfw> "));
}

#[test]
fn factory_reset_needs_a_yes() {
    let (mut s, mut out) = open();
    assert_eq!(run(&mut s, b"factory-reset\ry\r", &mut out), vec![]);
    assert!(screen(&out)
        .contains("Type \"yes\" to confirm: y\nfactory reset cancelled; nothing changed\n"));
    s.push(b"factory-reset\ryes\rhelp\r");
    assert_eq!(s.next(&mut out), Some(Request::FactoryReset));
    s.finish(Outcome::Closed, &mut out);
    assert_eq!(s.next(&mut out), None, "nothing more after closing");
    assert!(!s.prompt_shown());
}

#[test]
fn typing_ahead_while_busy_is_bounded() {
    let (mut s, mut out) = open();
    s.push(b"show ipvs\r");
    assert!(s.next(&mut out).is_some());
    s.push(&vec![b'x'; MAX_TYPEAHEAD + 10]);
    let mut out = String::new();
    assert_eq!(s.next(&mut out), None);
    assert_eq!(out, "\r\n(typed ahead too much: 10 bytes dropped)\n");
    s.finish(Outcome::Done, &mut out);
    // What was kept is typed now (PID 1 asks at once): one line too long.
    assert_eq!(s.next(&mut out), None);
    s.push(b"\r");
    assert_eq!(s.next(&mut out), None);
    assert!(screen(&out).ends_with("error: a line longer than 4096 bytes, ignored\nlvsfw> "));
}

#[test]
fn without_login_logout_is_refused() {
    let (mut s, mut out) = open();
    assert_eq!(run(&mut s, b"logout\r", &mut out), vec![]);
    assert!(screen(&out).ends_with("error: this console has no login (lvsfw.nologin)\nlvsfw> "));
}

#[test]
fn a_log_line_redraws_the_line_being_typed() {
    let (mut s, mut out) = open();
    s.push(b"show ver");
    assert_eq!(s.next(&mut out), None);
    assert!(s.typing());
    let mut screen_bytes = out.clone();
    screen_bytes.push_str(s.clear());
    screen_bytes.push_str("[ 1.0] balancer: hello\n");
    screen_bytes.push_str(&s.redraw());
    assert!(screen_bytes.ends_with("[ 1.0] balancer: hello\n\r\x1b[Klvsfw> show ver"));
    s.push(b"sion\r");
    assert!(s.next(&mut out).is_some());
    assert!(!s.typing());
    assert_eq!(s.redraw(), "", "no edit line while a command runs");
}

#[test]
fn tab_completes_only_on_the_command_line() {
    let (mut s, mut out) = open();
    s.push(b"conf\tap\t\r");
    assert_eq!(
        s.next(&mut out),
        Some(Request::Command(Command::ConfigApply))
    );
    let mut out = String::new();
    let mut login = Session::new(Start::Login, &mut out);
    login.push(b"pa\tss\r");
    assert_eq!(login.next(&mut out), Some(Request::Login("pass".into())));
}

#[test]
fn the_prompt_says_when_what_runs_is_not_saved() {
    let (mut s, mut out) = open();
    s.push(b"config apply\r");
    assert_eq!(
        s.next(&mut out),
        Some(Request::Command(Command::ConfigApply))
    );
    s.set_unsaved(true);
    s.finish(Outcome::Done, &mut out);
    s.push(b"config save\r");
    assert_eq!(
        s.next(&mut out),
        Some(Request::Command(Command::ConfigSave))
    );
    s.set_unsaved(false);
    s.finish(Outcome::Done, &mut out);
    assert_eq!(
        screen(&out),
        "lvsfw> config apply\n(unsaved) lvsfw> config save\nlvsfw> "
    );
}

#[test]
fn debug_commands_need_lvsfw_debug() {
    let (mut s, mut out) = open();
    for line in [
        "debug cat /etc/lvsfw/config.json",
        "debug kill-balancer",
        "debug freeze-balancer",
        "debug run /bin/sh",
    ] {
        s.push(format!("{line}\r").as_bytes());
        assert_eq!(s.next(&mut out), None, "{line} was let through");
    }
    assert_eq!(
        screen(&out)
            .matches("error: debug commands need lvsfw.debug on the kernel command line")
            .count(),
        4
    );
    s.allow_debug(true);
    s.push(b"debug cat /proc/net/ip_vs\r");
    assert_eq!(
        s.next(&mut out),
        Some(Request::Command(Command::DebugCat(
            "/proc/net/ip_vs".into()
        )))
    );
}

#[test]
fn only_a_restore_that_said_so_opens_setup_or_the_login() {
    let defaults = || {
        [
            "10.0.2.15/24".to_string(),
            "none".into(),
            "lvsfw".into(),
            String::new(),
        ]
    };
    assert_eq!(Start::after_restore(Some(0), defaults), Start::Login);
    assert_eq!(
        Start::after_restore(Some(3), defaults),
        Start::Setup(defaults())
    );
    // Could not read the disk, did not finish in time, crashed: never setup, which
    // would save the factory configuration over what is on the disk.
    for code in [Some(4), None, Some(1), Some(101)] {
        assert_eq!(
            Start::after_restore(code, defaults),
            Start::Recovery,
            "{code:?}"
        );
    }
}

#[test]
fn the_recovery_prompt_takes_only_what_gets_the_configuration_back() {
    let mut out = String::new();
    let mut s = Session::new(Start::Recovery, &mut out);
    assert!(screen(&out).ends_with(RECOVERY_PROMPT), "{out}");
    assert!(screen(&out).contains("The saved configuration could not be read"));
    for line in [
        "show config",
        "config save",
        "set password",
        "config import",
    ] {
        s.push(format!("{line}\r").as_bytes());
        assert_eq!(s.next(&mut out), None, "{line}");
    }
    assert!(screen(&out).contains("error: not now: the saved configuration could not be read"));
    s.push(b"factory-reset\rno\r");
    assert_eq!(s.next(&mut out), None);
    assert!(
        screen(&out).ends_with(&format!(
            "factory reset cancelled; nothing changed\n{RECOVERY_PROMPT}"
        )),
        "{}",
        screen(&out)
    );
    s.push(b"config restore\r");
    assert_eq!(
        s.next(&mut out),
        Some(Request::Command(Command::ConfigRestore))
    );
    // It failed again: the recovery prompt; then it worked: the login.
    s.finish(Outcome::Recovery, &mut out);
    assert!(screen(&out).ends_with(RECOVERY_PROMPT));
    s.push(b"config restore\r");
    assert!(s.next(&mut out).is_some());
    s.finish(Outcome::Login, &mut out);
    assert!(screen(&out).ends_with("Password: "), "{}", screen(&out));
}

#[test]
fn a_pasted_key_is_not_echoed() {
    let (mut s, mut out) = open();
    s.push(b"certificate import\r");
    assert_eq!(s.next(&mut out), None);
    // A paste shaped like a certificate and its key (not a real one: the key's body is a
    // marker the screen must never show).
    let key = "PRIVATE KEY";
    let pasted = format!("-----BEGIN CERTIFICATE-----\rMIIBcert\r-----END CERTIFICATE-----\r-----BEGIN {key}-----\rSECRETKEYBYTES\r-----END {key}-----\r.\r");
    s.push(pasted.as_bytes());
    let request = s.next(&mut out);
    assert!(!out.contains("SECRETKEYBYTES"), "{out}");
    assert!(screen(&out).contains(&format!("-----END {key}-----")));
    match request {
        Some(Request::ImportCertificate(text)) => assert!(text.contains("SECRETKEYBYTES\n")),
        other => panic!("{other:?}"),
    }
}
