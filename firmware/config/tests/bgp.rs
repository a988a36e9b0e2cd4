//! lvsfw's `bgp` block: read, defaults, and each mistake named at its line and column.

mod common;

use std::time::Duration;

use common::{errors, model, virtual_server};

fn with_bgp(body: &str) -> String {
    format!("{}bgp {{\n{body}\n}}\n", virtual_server(""))
}

#[test]
fn a_whole_block_reads_with_its_defaults() {
    let k = model(&with_bgp(
        " local_as 4200000001\n neighbor 192.0.2.1 {\n  remote_as 65000\n }\n neighbor 2001:db8::1 {\n  remote_as 65000\n  hold_time 9\n  keepalive 3\n  source_ip 2001:db8::2\n }\n announce {\n  10.0.0.1\n  10.0.0.0/24\n }",
    ));
    let b = k.bgp.unwrap();
    assert_eq!(b.local_as, 4_200_000_001);
    assert_eq!(b.graceful_shutdown_time, Duration::from_secs(3));
    assert_eq!(b.quorum, 1);
    assert_eq!(b.neighbors.len(), 2);
    assert_eq!(b.neighbors[0].hold_time, 90);
    assert_eq!(b.neighbors[0].port, 179);
    assert_eq!(b.neighbors[1].keepalive, Some(3));
    assert_eq!(
        b.announce
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["10.0.0.1/32", "10.0.0.0/24"]
    );
}

#[test]
fn the_group_s_connection_sync_reads_and_excludes_keepalived_s_global_one() {
    let k = model(&with_bgp(" local_as 1\n lvs_sync_daemon int id 7"));
    let sync = k.bgp.unwrap().lvs_sync_daemon.unwrap();
    assert_eq!((sync.interface.as_str(), sync.id), ("int", 7));
    let k = model(&with_bgp(" local_as 1\n lvs_sync_daemon ext"));
    assert_eq!(k.bgp.unwrap().lvs_sync_daemon.unwrap().id, 0);
    let both = format!(
        "global_defs {{\n lvs_sync_daemon int VI_1\n}}\n{}",
        with_bgp(" local_as 1\n lvs_sync_daemon int")
    );
    let e = errors(&both);
    assert!(
        e.iter()
            .any(|l| l.contains("lvs_sync_daemon: given in global_defs")),
        "{e:?}"
    );
}

#[test]
fn each_mistake_is_named_where_it_is() {
    let cases: &[(&str, &str)] = &[
        (" router_id 192.0.2.9", "k.conf:5:1: bgp: local_as is missing"),
        (" local_as 0", "k.conf:6:11: local_as: \"0\" is not a whole number from 1 to 4294967295"),
        (" local_as 1\n router_id 2001:db8::1", "k.conf:7:12: router_id: \"2001:db8::1\" is not an IPv4 address"),
        (" local_as 1\n neighbor 192.0.2.1 {\n  hold_time 9\n }", "k.conf:7:2: neighbor: remote_as is missing"),
        (" local_as 1\n neighbor 192.0.2.1 {\n  remote_as 2\n  hold_time 2\n }", "k.conf:9:13: hold_time: 2 is neither 0 nor 3"),
        (" local_as 1\n neighbor 192.0.2.1 {\n  remote_as 2\n  keepalive 31\n }", "k.conf:9:3: keepalive: 31 s is more than a third of hold_time 90 s"),
        (" local_as 1\n neighbor 192.0.2.1 {\n  remote_as 2\n  source_ip 2001:db8::2\n }", "k.conf:9:3: source_ip: 2001:db8::2 is IPv6 and neighbor 192.0.2.1 is IPv4"),
        (" local_as 1\n neighbor 192.0.2.1 {\n  remote_as 2\n }\n neighbor 192.0.2.1 {\n  remote_as 3\n }", "k.conf:10:2: neighbor 192.0.2.1: given twice"),
        (" local_as 1\n announce {\n  10.9.9.9\n }", "k.conf:8:3: announce: 10.9.9.9/32 holds no virtual_server address"),
        (" local_as 1\n announce {\n  10.0.0.1/24\n }", "k.conf:8:3: announce: 10.0.0.1/24 has host bits set (did you mean 10.0.0.0/24?)"),
        (" local_as 1\n announce {\n  10.0.0.1 10.0.0.2\n }", "k.conf:8:12: announce: one prefix a line"),
        (" local_as 1\n announce {\n  10.0.0.300\n }", "k.conf:8:3: announce: \"10.0.0.300\" is not an IPv4 or IPv6 address"),
        (" local_as 1\n neighbour 192.0.2.1 {\n  remote_as 2\n }", "k.conf:7:2: unknown keyword \"neighbour\" in bgp (did you mean \"neighbor\"?)"),
        (" local_as 1\n lvs_sync_daemon", "k.conf:7:2: lvs_sync_daemon: expected INTERFACE [id N] in the bgp block"),
        (" local_as 1\n lvs_sync_daemon int VI_1", "k.conf:7:22: lvs_sync_daemon: expected INTERFACE [id N] in the bgp block"),
        (" local_as 1\n lvs_sync_daemon int id 256", "k.conf:7:25: lvs_sync_daemon: \"256\" is not a sync id (0 to 255)"),
        (" local_as 1\n neighbor 192.0.2.1 {\n  remote_as 2\n }\n announce {\n  2001:db8::1\n }", "neighbor 192.0.2.1: IPv6 prefixes are announced over this IPv4 session: next_hop_v6 is needed"),
    ];
    for (body, expected) in cases {
        let text = with_bgp(body);
        let errors = errors(&text);
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{text}\nexpected {expected:?}, got {errors:#?}"
        );
    }
    let twice = format!("{}bgp {{\n local_as 2\n}}\n", with_bgp(" local_as 1"));
    assert!(errors(&twice)
        .iter()
        .any(|e| e.starts_with("k.conf:8:1: bgp: given twice")));
}

#[test]
fn the_native_json_carries_the_block_by_its_keywords() {
    let k = model(&with_bgp(
        " local_as 65001\n neighbor 192.0.2.1 {\n  remote_as 65000\n }\n announce {\n  10.0.0.1\n }",
    ));
    let config = config::Config {
        keepalived: k,
        ..config::Config::default()
    };
    let json = config::native::to_json(&config);
    assert!(json.contains("\"local_as\": 65001"), "{json}");
    assert!(json.contains("\"neighbor\": ["), "{json}");
    assert!(json.contains("\"10.0.0.1/32\""), "{json}");
    let bad = json.replace("\"remote_as\": 65000", "\"remote_as\": 0");
    let issues = config::native::from_json(&bad).unwrap_err().to_string();
    assert!(issues.contains("keepalived.bgp.neighbor[0]"), "{issues}");
    assert!(issues.contains("remote_as 0 is reserved"), "{issues}");
}

#[test]
fn bfd_reads_alone_or_with_keepalived_timers_and_each_mistake_is_named() {
    use config::keepalived::BgpBfd;
    let k = model(&with_bgp(
        " local_as 65001\n neighbor 192.0.2.1 {\n  remote_as 65000\n  bfd\n }\n neighbor 192.0.2.2 {\n  remote_as 65000\n  bfd {\n   min_rx 300\n   min_tx 200\n   idle_tx 2000\n   multiplier 3\n   passive\n  }\n }",
    ));
    let b = k.bgp.unwrap();
    // keepalived's defaults (keepalived/include/bfd.h).
    assert_eq!(
        b.neighbors[0].bfd,
        Some(BgpBfd {
            min_rx: 10,
            min_tx: 10,
            idle_tx: 1000,
            multiplier: 5,
            passive: false
        })
    );
    assert_eq!(
        b.neighbors[1].bfd,
        Some(BgpBfd {
            min_rx: 300,
            min_tx: 200,
            idle_tx: 2000,
            multiplier: 3,
            passive: true
        })
    );
    let cases: &[(&str, &str)] = &[
        (" local_as 1\n neighbor 192.0.2.1 {\n  remote_as 2\n  bfd {\n   min_rx 0\n  }\n }", "k.conf:10:11: min_rx: \"0\" is not a whole number from 1 to 10000"),
        (" local_as 1\n neighbor 192.0.2.1 {\n  remote_as 2\n  bfd {\n   idle_tx 500\n  }\n }", "k.conf:10:12: idle_tx: \"500\" is not a whole number from 1000 to 10000"),
        (" local_as 1\n neighbor 192.0.2.1 {\n  remote_as 2\n  bfd {\n   multiplier 256\n  }\n }", "k.conf:10:15: multiplier: \"256\" is not a whole number from 1 to 255"),
        (" local_as 1\n neighbor 192.0.2.1 {\n  remote_as 2\n  bfd {\n   ttl 255\n  }\n }", "k.conf:10:4: bfd: ttl: single hop only, TTL 255 sent and required (RFC 5881 §5)"),
        (" local_as 1\n neighbor 192.0.2.1 {\n  remote_as 2\n  bfd {\n   mintx 5\n  }\n }", "k.conf:10:4: unknown keyword \"mintx\" in bfd (did you mean \"min_tx\"?)"),
        (" local_as 1\n neighbor 192.0.2.1 {\n  remote_as 2\n  bfd on\n }", "k.conf:9:7: bfd: takes no value"),
    ];
    for (body, expected) in cases {
        let text = with_bgp(body);
        let errors = errors(&text);
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{text}\nexpected {expected:?}, got {errors:#?}"
        );
    }
    // The native JSON is validated too: keepalived's ranges.
    let k = model(&with_bgp(
        " local_as 65001\n neighbor 192.0.2.1 {\n  remote_as 65000\n  bfd {\n   min_rx 300\n  }\n }",
    ));
    let config = config::Config {
        keepalived: k,
        ..config::Config::default()
    };
    let json = config::native::to_json(&config);
    assert!(json.contains("\"min_rx\": 300"), "{json}");
    let bad = json.replace("\"min_rx\": 300", "\"min_rx\": 0");
    let issues = config::native::from_json(&bad).unwrap_err().to_string();
    assert!(
        issues.contains("min_rx: 0 ms is not from 1 to 10000 ms"),
        "{issues}"
    );
}

/// A key long enough to be unmistakable in any text it must not be in.
const KEY: &str = "Xy7-tcp-md5-secret";

#[test]
fn a_neighbor_s_tcp_md5_password_reads_and_is_never_shown() {
    let text = with_bgp(&format!(
        " local_as 65001\n neighbor 192.0.2.1 {{\n  remote_as 65000\n  password {KEY}\n }}\n neighbor 192.0.2.2 {{\n  remote_as 65000\n  password \"with space\"\n }}"
    ));
    let k = model(&text);
    let b = k.bgp.clone().unwrap();
    assert_eq!(b.neighbors[0].password.as_ref().unwrap().reveal(), KEY);
    assert_eq!(
        b.neighbors[1].password.as_ref().unwrap().reveal(),
        "with space"
    );
    // Debug (what a log line of the model or a plan would print) hides it.
    let debug = format!("{b:?}");
    assert!(!debug.contains(KEY), "{debug}");
    assert!(debug.contains("Md5Password(hidden)"), "{debug}");
    // keepalived.conf is the file itself: it keeps the key, and reads back the same.
    let exported = config::keepalived::to_keepalived_conf(&k);
    assert!(
        exported.contains(&format!("password {KEY}\n")),
        "{exported}"
    );
    assert!(exported.contains("password \"with space\"\n"), "{exported}");
    assert_eq!(model(&exported).bgp, k.bgp);
    // What people read: `show config`'s text and the export without secrets.
    let shown = config::keepalived::hide_secrets(&text);
    assert!(!shown.contains(KEY), "{shown}");
    assert!(!shown.contains("with space"), "{shown}");
    assert!(shown.contains("password (hidden)"), "{shown}");
    let mut config = config::Config {
        keepalived: k,
        ..config::Config::default()
    };
    let json = config::native::to_json(&config);
    assert!(json.contains(KEY), "a backup keeps it: {json}");
    config.hide_secrets();
    let json = config::native::to_json(&config);
    assert!(!json.contains(KEY), "{json}");
    assert!(!json.contains("password"), "{json}");
}

#[test]
fn a_wrong_password_is_named_where_it_is_without_the_key() {
    let long = "k".repeat(81);
    let cases: Vec<(String, &str)> = vec![
        (
            format!("  password {long}"),
            "k.conf:9:12: password: is 81 bytes long; the kernel takes at most 80 (TCP_MD5SIG_MAXKEYLEN)",
        ),
        (
            "  password".into(),
            "k.conf:9:3: password: expected the TCP-MD5 key (1 to 80 characters)",
        ),
        (
            format!("  password {KEY} {KEY}"),
            "k.conf:9:3: password: expected the TCP-MD5 key",
        ),
        (
            "  password \"\"".into(),
            "k.conf:9:12: password: is empty (1 to 80 characters)",
        ),
        (
            "  password \"tab\there\"".into(),
            "k.conf:9:12: password: character 4 is not printable ASCII",
        ),
    ];
    for (line, expected) in &cases {
        let text = with_bgp(&format!(
            " local_as 1\n neighbor 192.0.2.1 {{\n  remote_as 2\n{line}\n }}"
        ));
        let errors = errors(&text);
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{text}\nexpected {expected:?}, got {errors:#?}"
        );
        let all = errors.join("\n");
        assert!(!all.contains(KEY) && !all.contains(&long), "{all}");
    }
    // 80 bytes is the most the kernel takes, and is taken.
    let text = with_bgp(&format!(
        " local_as 1\n neighbor 192.0.2.1 {{\n  remote_as 2\n  password {}\n }}",
        "k".repeat(80)
    ));
    let k = model(&text);
    assert_eq!(
        k.bgp.unwrap().neighbors[0]
            .password
            .as_ref()
            .unwrap()
            .reveal()
            .len(),
        80
    );
    // The native JSON is checked the same way, and says so without the key.
    let bad = format!("{{\"address\": \"192.0.2.1\", \"remote_as\": 2, \"password\": \"{long}\"}}");
    let e = serde_json::from_str::<config::keepalived::BgpNeighbor>(&bad)
        .unwrap_err()
        .to_string();
    assert!(e.contains("password: is 81 bytes long"), "{e}");
    assert!(!e.contains(&long), "{e}");
}
