//! `Op`'s argument lists both ways, and the drain.

mod op_tests {
    use super::super::*;

    #[test]
    fn the_console_words_go_there_and_back() {
        let ops = [
            Op::Stage {
                change: Change::Interface {
                    role: "ext".into(),
                    addresses: vec!["192.0.2.1/24".into(), "2001:db8::1/64".into()],
                },
                who: CONSOLE.into(),
            },
            Op::Stage {
                change: Change::Hostname("lb1".into()),
                who: CONSOLE.into(),
            },
            Op::Stage {
                change: Change::Ntp(vec!["none".into()]),
                who: CONSOLE.into(),
            },
            Op::Stage {
                change: Change::Import("/run/lvsfw/pasted.conf".into()),
                who: CONSOLE.into(),
            },
            Op::Apply {
                confirm: Confirm::Minutes(5),
                who: CONSOLE.into(),
            },
            Op::Save { who: "page".into() },
            Op::RestoreRevision {
                rev: "3".into(),
                who: CONSOLE.into(),
            },
            Op::Export(Secrets::Included),
            Op::Diff,
            Op::Drain {
                on: true,
                who: CONSOLE.into(),
            },
            Op::Drain {
                on: false,
                who: CONSOLE.into(),
            },
        ];
        for op in ops {
            let args = op.to_args();
            assert_eq!(args[0], "config");
            let words: Vec<&str> = args[1..].iter().map(String::as_str).collect();
            let back = Op::from_args(&words, String::new).unwrap().unwrap();
            assert_eq!(back, op, "{args:?}");
        }
        // The password comes from stdin, never from the arguments.
        let op = Op::Stage {
            change: Change::Password("secret pw".into()),
            who: CONSOLE.into(),
        };
        assert_eq!(op.to_args(), ["config", "set", "password"]);
        let back = Op::from_args(&["set", "password"], || "secret pw\n".into());
        assert_eq!(back, Some(Ok(op)));
        assert!(matches!(
            Op::from_args(&["apply", "confirm", "0"], String::new),
            Some(Err(Error::Invalid(_)))
        ));
        assert_eq!(Op::from_args(&["login"], String::new), None);
    }

    #[test]
    fn a_change_staged_by_one_front_end_is_the_others_candidate() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = Paths::under(tmp.path());
        let seed = include_str!("../../../config/testdata/seed-3-1.conf");
        let page = Op::Stage {
            change: Change::Keepalived {
                text: seed.into(),
                name: "keepalived.conf".into(),
                note: String::new(),
            },
            who: "page: admin".into(),
        };
        execute(&paths, page).unwrap();
        let console = Op::Stage {
            change: Change::Hostname("lb1".into()),
            who: CONSOLE.into(),
        };
        execute(&paths, console).unwrap();
        let p = pending(&paths).unwrap().unwrap();
        assert_eq!(p.texts.keepalived.as_deref(), Some(seed));
        assert_eq!(p.changes.len(), 2, "{:?}", p.changes);
        assert!(p.changes[0].starts_with("page: admin: imported: 1 virtual server"));
        assert_eq!(p.changes[1], "console: hostname: lb1");
        let diff = execute(&paths, Op::Diff).unwrap().said;
        assert!(diff.contains("+virtual_server"), "{diff}");
        assert!(diff.contains("lb1"), "{diff}");
        let applied = execute(
            &paths,
            Op::Apply {
                confirm: Confirm::Never,
                who: "page: admin".into(),
            },
        )
        .unwrap();
        assert!(applied.in_service);
        assert_eq!(pending(&paths).unwrap(), None);
        assert_eq!(
            execute(
                &paths,
                Op::Apply {
                    confirm: Confirm::Default,
                    who: CONSOLE.into()
                }
            ),
            Err(Error::NothingToApply)
        );
    }

    #[test]
    fn a_put_past_the_candidate_keeps_the_consoles_rollback_rule() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = Paths::under(tmp.path());
        let old = r#"{"interfaces": [{"role": "mgmt", "addresses": ["10.10.0.1/24"]}]}"#;
        write(&paths.running_json, old).unwrap();
        // The hostname only: in service, no rollback.
        let mut config = config::native::from_json(old).unwrap();
        config.hostname = Some("lb1".into());
        let put = |config: &Config| Op::Put {
            native: Some(Box::new(config.clone())),
            keepalived: None,
            rollback: None,
            who: "page: admin".into(),
        };
        let report = execute(&paths, put(&config)).unwrap();
        assert!(report.in_service);
        assert_eq!(report.said, "");
        assert!(confirm::pending(&paths).unwrap().is_none());
        let now = config::native::from_json(&running(&paths).unwrap().native).unwrap();
        assert_eq!(now.hostname.as_deref(), Some("lb1"));
        // The mgmt address moved: a rollback is armed, and said.
        config.interfaces[0].addresses = vec!["10.10.0.2/24".parse().unwrap()];
        let report = execute(&paths, put(&config)).unwrap();
        assert!(
            report.said.contains("rolls back by itself"),
            "{}",
            report.said
        );
        assert!(confirm::pending(&paths).unwrap().is_some());
        // While it waits, another change joins it (the console's rule).
        config.hostname = Some("lb2".into());
        execute(&paths, put(&config)).unwrap();
        assert!(confirm::pending(&paths).unwrap().is_some());
        let now = config::native::from_json(&running(&paths).unwrap().native).unwrap();
        assert_eq!(now.hostname.as_deref(), Some("lb2"));
    }
}

mod drain_tests {
    use super::super::*;

    #[test]
    fn drain_leaves_its_file_and_asks_for_a_reload_only_when_it_changes() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = Paths::under(tmp.path());
        std::fs::create_dir_all(paths.drain.parent().unwrap()).unwrap();
        let drain = |on| Op::Drain {
            on,
            who: "page: admin".into(),
        };
        let r = execute(&paths, drain(true)).unwrap();
        assert!(r.in_service);
        assert!(r.said.starts_with("drained by page: admin"), "{}", r.said);
        assert!(paths.drain.exists());
        assert!(!execute(&paths, drain(true)).unwrap().in_service);
        assert!(execute(&paths, drain(false)).unwrap().in_service);
        assert!(!paths.drain.exists());
        assert_eq!(execute(&paths, drain(false)).unwrap().said, "not drained\n");
    }
}
