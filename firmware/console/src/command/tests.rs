use super::*;

fn ok(line: &str) -> Command {
    match parse(line) {
        Ok(Some(c)) => c,
        other => panic!("{line:?}: {other:?}"),
    }
}

fn err(line: &str) -> String {
    match parse(line) {
        Err(e) => e,
        other => panic!("{line:?} was accepted: {other:?}"),
    }
}

#[test]
fn every_command_with_any_spacing() {
    assert_eq!(parse("   "), Ok(None));
    assert_eq!(ok("help"), Command::Help);
    assert_eq!(ok("  show   status "), Command::ShowStatus);
    assert_eq!(ok("status"), Command::ShowStatus);
    assert_eq!(ok("show vrrp"), Command::ShowVrrp);
    assert_eq!(ok("show ipvs"), Command::ShowIpvs(IpvsColumns::Connections));
    assert_eq!(
        ok("show ipvs --stats"),
        Command::ShowIpvs(IpvsColumns::Stats)
    );
    assert_eq!(ok("show ipvs --rate"), Command::ShowIpvs(IpvsColumns::Rate));
    assert_eq!(ok("show interfaces"), Command::ShowInterfaces);
    assert_eq!(ok("show config"), Command::ShowConfig);
    assert_eq!(ok("show log"), Command::ShowLog);
    assert_eq!(ok("show audit"), Command::ShowAudit);
    assert_eq!(ok("show version"), Command::ShowVersion);
    assert_eq!(ok("show time"), Command::ShowTime);
    assert_eq!(
        ok("set ntp 192.0.2.1 192.0.2.2"),
        Command::SetNtp(vec!["192.0.2.1".into(), "192.0.2.2".into()])
    );
    assert_eq!(ok("set ntp none"), Command::SetNtp(vec!["none".into()]));
    assert_eq!(
        err("set ntp"),
        "usage: set ntp ADDRESS [ADDRESS...] (at most 8) | set ntp none"
    );
    assert_eq!(ok("debug kmsg 500"), Command::DebugKmsg(500));
    assert!(Command::DebugKmsg(1).is_debug());
    assert_eq!(err("debug kmsg 0"), "usage: debug kmsg COUNT (1 to 100000)");
    assert_eq!(
        err("debug kmsg lots"),
        "usage: debug kmsg COUNT (1 to 100000)"
    );
    assert_eq!(ok("show slots"), Command::ShowSlots);
    assert_eq!(ok("show certificate"), Command::ShowCertificate);
    assert_eq!(ok("certificate import"), Command::CertificateImport);
    assert_eq!(ok("certificate own"), Command::CertificateOwn);
    assert_eq!(err("certificate"), "usage: certificate import|own");
    assert_eq!(ok("config discard"), Command::ConfigDiscard);
    assert_eq!(ok("config restore"), Command::ConfigRestore);
    assert_eq!(
        ok("update /dev/vdb"),
        Command::Update {
            file: "/dev/vdb".into(),
            allow_downgrade: false
        }
    );
    assert_eq!(
        ok("update --allow-downgrade /dev/vdb"),
        Command::Update {
            file: "/dev/vdb".into(),
            allow_downgrade: true
        }
    );
    assert_eq!(err("update"), "usage: update [--allow-downgrade] FILE");
    assert_eq!(err("update a b"), "usage: update [--allow-downgrade] FILE");
    assert_eq!(
        err("update --force /dev/vdb"),
        "usage: update [--allow-downgrade] FILE"
    );
    assert_eq!(
        ok("set interface ext address 192.168.0.101/24 192.168.0.100/24"),
        Command::SetInterface {
            role: "ext".into(),
            addresses: vec!["192.168.0.101/24".into(), "192.168.0.100/24".into()]
        }
    );
    assert_eq!(ok("set hostname lb1"), Command::SetHostname("lb1".into()));
    assert_eq!(ok("set password"), Command::SetPassword);
    assert_eq!(ok("set gateway none"), Command::SetGateway("none".into()));
    assert_eq!(
        ok("set gateway 10.0.5.254"),
        Command::SetGateway("10.0.5.254".into())
    );
    assert_eq!(ok("config import"), Command::ConfigImport);
    assert_eq!(ok("config validate"), Command::ConfigValidate);
    assert_eq!(ok("config diff"), Command::ConfigDiff);
    assert_eq!(ok("config apply"), Command::ConfigApply);
    assert_eq!(ok("config save"), Command::ConfigSave);
    assert_eq!(
        ok("config export"),
        Command::ConfigExport {
            with_secrets: false
        }
    );
    assert_eq!(
        ok("config export --with-secrets"),
        Command::ConfigExport { with_secrets: true }
    );
    assert_eq!(
        ok("ping 192.168.33.11"),
        Command::Ping("192.168.33.11".parse().unwrap())
    );
    assert_eq!(
        ok("ping fd00::1"),
        Command::Ping("fd00::1".parse().unwrap())
    );
    assert_eq!(ok("reboot"), Command::Reboot);
    assert_eq!(ok("poweroff"), Command::Poweroff);
    assert_eq!(ok("factory-reset"), Command::FactoryReset);
    assert_eq!(ok("logout"), Command::Logout);
    assert_eq!(ok("exit"), Command::Logout);
}

#[test]
fn the_older_commands_still_work() {
    assert_eq!(ok("debug   kill-balancer"), Command::KillBalancer);
    assert_eq!(ok("debug freeze-balancer"), Command::FreezeBalancer);
    assert_eq!(
        ok("ipvs list --stats"),
        Command::Ipvs(vec!["list".into(), "--stats".into()])
    );
    assert_eq!(ok("ipvs summary"), Command::Ipvs(vec!["summary".into()]));
    assert_eq!(
        ok("debug cat /proc/net/ip_vs"),
        Command::DebugCat("/proc/net/ip_vs".into())
    );
    assert_eq!(
        ok("debug run /sbin/ipvsadm -R < /tmp/rules"),
        Command::DebugRun {
            argv: vec!["/sbin/ipvsadm".into(), "-R".into()],
            stdin: Some("/tmp/rules".into())
        }
    );
    assert_eq!(
        ok("debug run /sbin/ipvsadm -Ln"),
        Command::DebugRun {
            argv: vec!["/sbin/ipvsadm".into(), "-Ln".into()],
            stdin: None
        }
    );
}

#[test]
fn wrong_arguments_say_how_it_is_used() {
    assert_eq!(
        err("show"),
        "usage: show status|vrrp|ipvs [--stats|--rate]|interfaces|config|log|version|time|slots|certificate"
    );
    assert_eq!(err("show ipvs --fast"), "usage: show ipvs [--stats|--rate]");
    assert_eq!(
        err("set interface ext"),
        "usage: set interface ROLE address A/P [A/P...]"
    );
    assert_eq!(
        err("set interface ext address"),
        "usage: set interface ROLE address A/P [A/P...]"
    );
    assert_eq!(
        err("set interface dmz address 10.0.0.1/24"),
        "\"dmz\" is not a NIC role (expected ext, int or mgmt)"
    );
    assert_eq!(err("set hostname"), "usage: set hostname NAME");
    assert_eq!(err("set hostname a b"), "usage: set hostname NAME");
    assert_eq!(err("set gateway"), "usage: set gateway ADDRESS|none");
    assert_eq!(
        err("set password hunter2"),
        "usage: set password (the password is asked for, hidden)"
    );
    assert_eq!(
        err("config"),
        "usage: config import|validate|diff [REV]|apply [confirm MINUTES]|confirm|save|export [--with-secrets]|discard|history|restore [REV]"
    );
    assert_eq!(
        err("config apply confirm 0"),
        "\"0\" is not a number of minutes from 1 to 60; nothing applied"
    );
    assert_eq!(
        err("config apply confirm"),
        "usage: config apply | config apply confirm MINUTES"
    );
    assert_eq!(
        parse("config apply confirm 5"),
        Ok(Some(Command::ConfigApplyConfirm(5)))
    );
    assert_eq!(
        parse("config restore abc"),
        Ok(Some(Command::ConfigRestoreRevision("abc".into())))
    );
    assert_eq!(err("ping"), "usage: ping ADDRESS");
    assert_eq!(
        err("ping 192.168.0.300"),
        "\"192.168.0.300\" is not an IPv4 or IPv6 address"
    );
    assert_eq!(err("reboot now"), "usage: reboot (no arguments)");
    assert_eq!(
        err("ipvs lst"),
        "usage: ipvs list [--stats|--rate] | ipvs summary"
    );
    assert_eq!(err("debug cat"), "usage: debug cat FILE");
    assert_eq!(
        err("debug run < /tmp/rules"),
        "usage: debug run PROGRAM [ARGS...] [< FILE]"
    );
    assert_eq!(
        err("debug run a < b c"),
        "usage: debug run PROGRAM [ARGS...] [< FILE]"
    );
}

#[test]
fn unknown_input_is_named_and_cut_short() {
    assert_eq!(
        err("reboto now"),
        "unknown command \"reboto now\"; type \"help\" for the list"
    );
    assert_eq!(
        err("\x1b[A\x07"),
        "unknown command \"?[A?\"; type \"help\" for the list"
    );
    let long = "x".repeat(1000);
    assert_eq!(
        err(&long),
        format!(
            "unknown command \"{}...\"; type \"help\" for the list",
            "x".repeat(40)
        )
    );
    let many = vec!["w"; 100].join(" ");
    assert_eq!(err(&many), "more than 64 words; no command takes that many");
}

#[test]
fn help_lists_every_command_word() {
    let text = help();
    fn walk(nodes: &[Node], text: &str) {
        for n in nodes {
            assert!(text.contains(n.word), "{} missing from help", n.word);
            walk(n.next, text);
        }
    }
    walk(WORDS, &text);
    assert!(text.contains("debug kill-balancer"));
}

#[test]
fn every_completion_parses_or_asks_for_arguments() {
    // Each leaf of the word tree is a command, or the start of one that wants
    // arguments: parse never calls it unknown.
    fn walk(nodes: &[Node], before: &str) {
        for n in nodes {
            let line = format!("{before}{}", n.word);
            if n.next.is_empty() {
                if let Err(e) = parse(&line) {
                    assert!(!e.starts_with("unknown command"), "{line}: {e}");
                }
            }
            walk(n.next, &format!("{line} "));
        }
    }
    walk(WORDS, "");
}

#[test]
fn tab_completes_command_words() {
    assert_eq!(complete("sh"), vec!["show"]);
    assert_eq!(complete("s"), vec!["show", "set", "status"]);
    assert_eq!(complete("show i"), vec!["ipvs", "interfaces"]);
    assert_eq!(complete("show ipvs --s"), vec!["--stats"]);
    assert_eq!(complete("config a"), vec!["apply"]);
    assert_eq!(complete("set interface "), vec!["ext", "int", "mgmt"]);
    assert_eq!(complete("set interface mgmt a"), vec!["address"]);
    assert_eq!(complete("set  interface  e"), vec!["ext"]);
    assert!(complete("nosuch ").is_empty());
    assert!(complete("ping 10.").is_empty());
    assert_eq!(complete("").len(), WORDS.len());
}

#[test]
fn completion_through_the_editor() {
    let mut e = crate::Editor::new("lvsfw> ");
    for &k in b"sh\tip\t--st\t" {
        e.feed(k, &complete);
    }
    assert_eq!(e.text(), "show ipvs --stats ");
    let line = e.feed(b'\r', &complete).0;
    assert_eq!(line, Some(crate::Input::Line("show ipvs --stats ".into())));
    assert_eq!(
        ok("show ipvs --stats "),
        Command::ShowIpvs(IpvsColumns::Stats)
    );
}

#[test]
fn every_debug_command_is_marked_as_one() {
    for line in [
        "debug cat /etc/lvsfw/config.json",
        "debug kill-balancer",
        "debug freeze-balancer",
        "debug run /bin/sh",
    ] {
        assert!(ok(line).is_debug(), "{line}");
    }
    for line in ["show config", "config export", "ipvs list", "show log"] {
        assert!(!ok(line).is_debug(), "{line}");
    }
}
