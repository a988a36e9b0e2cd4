use super::*;

fn texts(native: &str, keepalived: Option<&str>) -> Texts {
    Texts {
        native: native.into(),
        keepalived: keepalived.map(str::to_string),
    }
}

/// A keepalived.conf of `servers` real servers, as big configurations look.
fn big_conf(servers: usize, tag: usize) -> String {
    let mut out = format!(
        "# revision {tag}\nvirtual_server 192.168.0.100 80 {{\n  lb_algo rr\n  lb_kind NAT\n"
    );
    for i in 0..servers {
        out.push_str(&format!(
            "  real_server 10.{}.{}.{} 80 {{\n    weight 1\n    HTTP_GET {{\n      url {{\n        path /health\n        status_code 200\n      }}\n      connect_timeout 3\n    }}\n  }}\n",
            i / 65536,
            (i / 256) % 256,
            i % 256
        ));
    }
    out.push_str("}\n");
    out
}

#[test]
fn pack_and_unpack_round_trip_and_compress() {
    let t = texts("{\"hostname\": \"lb1\"}\n", Some(&big_conf(2000, 1)));
    let packed = pack(&t);
    assert_eq!(unpack(&packed).unwrap(), t);
    let raw = t.keepalived.as_ref().unwrap().len();
    assert!(packed.len() * 8 < raw, "{} of {raw}", packed.len());
    assert!(unpack("not base64!").is_err());
    assert!(unpack("aGVsbG8=").is_err());
}

#[test]
fn revisions_are_numbered_bounded_and_found() {
    let mut h = History::default();
    assert!(h.get(1).unwrap_err().contains("history is empty"));
    for i in 0..(MAX_REVISIONS + 5) {
        let rev = h.record(&texts(&format!("{{\"n\": {i}}}"), None), 0, "console", "x");
        assert_eq!(rev, i as u64 + 1);
    }
    assert_eq!(h.revisions.len(), MAX_REVISIONS);
    assert_eq!(h.revisions[0].rev, 6);
    let e = h.get(99_999).unwrap_err();
    assert!(e.contains("revisions 6 to 55"), "{e}");
    assert!(h.get(3).is_err());
    assert_eq!(
        unpack(&h.get(55).unwrap().data).unwrap().native,
        "{\"n\": 54}"
    );
    let listing = h.listing();
    assert!(
        listing
            .lines()
            .nth(1)
            .unwrap()
            .trim_start()
            .starts_with("55 "),
        "{listing}"
    );
    assert!(listing.contains("50 revisions kept"), "{listing}");
}

#[test]
fn fit_drops_the_oldest_and_counts_exactly() {
    let mut h = History::default();
    for i in 0..12 {
        h.record(
            &texts("{}", Some(&big_conf(3000, i))),
            1_700_000_000,
            "console",
            "keepalived.conf: +1 -1 lines",
        );
    }
    #[derive(Serialize)]
    struct Record<'a> {
        config: &'a str,
        history: &'a History,
    }
    let verbatim = big_conf(3000, 99);
    let len = |h: &History| {
        serde_json::to_vec(&Record {
            config: &verbatim,
            history: h,
        })
        .unwrap()
        .len()
    };
    let empty = History {
        next: h.next,
        revisions: Vec::new(),
    };
    let empty_len = len(&empty);
    // Everything fits: nothing dropped.
    let mut all = h.clone();
    assert_eq!(fit(&mut all, len(&h), empty_len), Ok(0));
    assert_eq!(all, h);
    // One byte less: the oldest goes, and the rest fits exactly as counted.
    let mut less = h.clone();
    assert_eq!(fit(&mut less, len(&h) - 1, empty_len), Ok(1));
    assert_eq!(less.revisions[0].rev, 2);
    assert!(len(&less) < len(&h));
    // Half a 2 MiB partition with a big verbatim configuration: at least ten stay.
    let budget = (1 << 20) - 64 * 1024;
    let mut half = h.clone();
    let dropped = fit(&mut half, budget, empty_len).unwrap();
    assert!(len(&half) <= budget);
    println!(
        "verbatim {} bytes, 12 revisions {} bytes, {dropped} dropped to fit {budget}",
        verbatim.len(),
        len(&h) - empty_len
    );
    assert!(half.revisions.len() >= 10, "{}", half.revisions.len());
    // Not even the configuration fits: the history goes, and that is an error.
    let mut none = h.clone();
    assert_eq!(fit(&mut none, empty_len - 1, empty_len), Err(12));
    assert!(none.revisions.is_empty());
    // Exactly the empty record: every revision goes.
    let mut zero = h.clone();
    assert_eq!(fit(&mut zero, empty_len, empty_len), Ok(12));
}

#[test]
fn summaries_say_what_changed() {
    let mut h = History::default();
    let a = texts("{\"hostname\": \"a\"}", Some("x\n"));
    assert_eq!(summary(None, &a, &h), "the first saved revision");
    h.record(&a, 0, "console", "first");
    let b = texts("{\"hostname\": \"b\", \"routes\": []}", Some("x\ny\n"));
    assert_eq!(
        summary(Some(&a), &b, &h),
        "config.json: hostname, routes; keepalived.conf: +1 -0 lines"
    );
    h.record(&b, 0, "console", "second");
    assert_eq!(summary(Some(&b), &b, &h), "no change since revision 2");
    assert_eq!(
        summary(Some(&b), &a, &h),
        "the same as revision 1 (restored)"
    );
}
