//! Issues 6 and 14: misbehaving clients against the page, over HTTPS and plain HTTP.
//! Each gets a 4xx/503 or a closed connection while the balancer keeps balancing with
//! its memory unchanged; garbage and plain HTTP on 443, a TLS hello on 80 and slow
//! handshakes are cut off; 100 connections from one address do not keep another
//! address from logging in; the page does not answer on the ext side.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use lvsfw_lab::addresses::*;
use lvsfw_lab::http::{self, ApiSession};
use lvsfw_lab::seed::{web_lab, web_lb1_config, MGMT_LB};
use lvsfw_lab::{pinned, ApplianceSpec, Error, Net};

const PASSWORD: &str = "correct horse";

/// A status line's code, or "closed".
fn status_of(answer: &str) -> &str {
    answer
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .unwrap_or("closed")
}

/// The balancer's resident memory as the API reports it, in KiB.
fn rss_kb(api: &ApiSession) -> Result<u64, Error> {
    let status = api.json("/api/status")?;
    status["balancer_rss_kb"]
        .as_u64()
        .ok_or_else(|| Error(format!("no balancer_rss_kb in {status}")))
}

/// Reads what a raw TCP client gets after sending `bytes` (then nothing more) within
/// `limit`: the text, and how long until the server closed.
fn raw_tcp(addr: SocketAddr, bytes: &[u8], limit: Duration) -> Result<(String, Duration), Error> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(limit))?;
    let started = Instant::now();
    let _ = s.write_all(bytes);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    Ok((
        String::from_utf8_lossy(&out).into_owned(),
        started.elapsed(),
    ))
}

#[test]
fn bad_clients_get_4xx_or_closed_over_https_and_the_balancer_keeps_serving() -> Result<(), Error> {
    let (mut lab, client, admin) = web_lab("webabuse")?;
    let other = lab.add_host("admin2", Net::Mgmt, "10.10.0.51/24", None)?;
    let config = web_lb1_config(Some(&http::admin_json(PASSWORD)));
    let mut lb1 = lab.boot(ApplianceSpec {
        name: "lb1".into(),
        config_json: Some(config),
        files: vec![(
            "etc/lvsfw/keepalived.conf".into(),
            SEED_3_1.as_bytes().to_vec(),
        )],
        mgmt: true,
        ..ApplianceSpec::default()
    })?;
    lb1.wait_for("balancer: interfaces up", Duration::from_secs(60))?;
    lb1.console.wait_anywhere(
        &format!("web: listening on https://{MGMT_LB}:443 on mgmt"),
        Duration::from_secs(30),
    )?;
    lb1.console
        .wait_anywhere("IPVS: 3 changes applied", Duration::from_secs(30))?;
    until(&client, Duration::from_secs(20), 10, alternating)?;
    let (pin, _) = lb1.certificate()?;
    let tls = SocketAddr::new(MGMT_LB.parse().unwrap(), 443);
    let plain = SocketAddr::new(MGMT_LB.parse().unwrap(), 80);
    let api = admin.in_netns(|| ApiSession::login(tls, &pin, PASSWORD))??;
    let before = admin.in_netns(|| rss_kb(&api))??;

    // --- Bad HTTP inside TLS: one answer each, then the connection is closed. --------
    let flood: String = (0..200).map(|i| format!("X-Flood-{i}: y\r\n")).collect();
    let host = format!("Host: {MGMT_LB}\r\n");
    let cases: Vec<(&str, Vec<u8>, &[&str])> = vec![
        ("truncated, then closed", b"GET /status HTTP/1.1\r\nHo".to_vec(), &["closed"]),
        ("a 20 KB path", format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(20_000)).into_bytes(), &["431"]),
        ("a 100 MB body announced", format!("POST /config/keepalived HTTP/1.1\r\n{host}Content-Length: 100000000\r\n\r\n").into_bytes(), &["413"]),
        ("a 1 MB body without a session", format!("POST /config/keepalived HTTP/1.1\r\n{host}Content-Length: 1000000\r\n\r\n").into_bytes(), &["401"]),
        ("an unknown method", format!("BREW /status HTTP/1.1\r\n{host}Connection: close\r\n\r\n").into_bytes(), &["405"]),
        ("a known method on the wrong path", format!("PUT /status HTTP/1.1\r\n{host}Content-Length: 0\r\nConnection: close\r\n\r\n").into_bytes(), &["405"]),
        ("200 header lines", format!("GET /status HTTP/1.1\r\n{flood}\r\n").into_bytes(), &["431"]),
        ("binary garbage", (0..=255u8).cycle().take(3000).collect(), &["400"]),
        ("chunked upload", b"POST /api/config HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n".to_vec(), &["501"]),
        ("Content-Length with a sign", format!("POST /api/login HTTP/1.1\r\n{host}Content-Length: +5\r\n\r\n").into_bytes(), &["400"]),
        ("a foreign Host", b"GET /login HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n".to_vec(), &["421"]),
        ("no session", format!("GET /api/config HTTP/1.1\r\n{host}Connection: close\r\n\r\n").into_bytes(), &["401"]),
        ("a forged session", format!("POST /config/apply HTTP/1.1\r\n{host}Origin: https://{MGMT_LB}\r\nCookie: __Host-lvsfw_session=00\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\nConnection: close\r\n\r\na=b").into_bytes(), &["303"]),
        ("a form from another origin", format!("POST /config/apply HTTP/1.1\r\n{host}Origin: https://evil.example\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\nConnection: close\r\n\r\na=b").into_bytes(), &["403"]),
    ];
    for (what, bytes, want) in &cases {
        let answer =
            admin.in_netns(|| pinned::raw(tls, &pin, bytes, Duration::from_secs(20)))??;
        let got = status_of(&answer);
        eprintln!("{what}: {got}");
        assert!(want.contains(&got), "{what}: {got}\n{answer}");
    }

    // --- Not TLS on 443, TLS on 80, and handshakes that never finish. ----------------
    for (what, addr, bytes) in [
        (
            "plain HTTP to 443",
            tls,
            format!("GET /status HTTP/1.1\r\n{host}\r\n").into_bytes(),
        ),
        (
            "garbage to 443",
            tls,
            (0..=255u8).cycle().take(3000).collect::<Vec<u8>>(),
        ),
        (
            "a TLS hello to 80",
            plain,
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec(),
        ),
        (
            "half a TLS hello, then nothing",
            tls,
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec(),
        ),
        ("a connection that says nothing", tls, Vec::new()),
    ] {
        let (answer, took) =
            admin.in_netns(|| raw_tcp(addr, &bytes, Duration::from_secs(30)))??;
        eprintln!(
            "{what}: {} after {} ms",
            status_of(&answer),
            took.as_millis()
        );
        if addr == plain {
            assert_eq!(status_of(&answer), "400", "{what}: {answer}");
        } else {
            assert!(
                !answer.contains("HTTP/1.1"),
                "{what}: an HTTP answer on 443: {answer}"
            );
        }
        assert!(took < Duration::from_secs(25), "{what}: open for {took:?}");
    }

    // A slow client inside TLS: a header line a second; the head must be in within 10 s.
    let slow = admin.in_netns(|| -> Result<(String, Duration), Error> {
        use std::io::{Read, Write};
        let mut s = pinned::connect(tls, &pin, Duration::from_secs(30))?;
        s.sock.set_read_timeout(Some(Duration::from_millis(100)))?;
        let started = Instant::now();
        let _ = s.write_all(b"GET /status HTTP/1.1\r\n");
        let mut out = Vec::new();
        for i in 0..30 {
            let _ = s.write_all(format!("X-Slow-{i}: y\r\n").as_bytes());
            let mut buf = [0u8; 4096];
            let deadline = Instant::now() + Duration::from_secs(1);
            while Instant::now() < deadline {
                match s.read(&mut buf) {
                    Ok(0) => return Ok((String::from_utf8_lossy(&out).into(), started.elapsed())),
                    Ok(n) => out.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                        return Ok((String::from_utf8_lossy(&out).into(), started.elapsed()))
                    }
                    Err(_) => {}
                }
            }
        }
        Ok((String::from_utf8_lossy(&out).into(), started.elapsed()))
    })??;
    eprintln!(
        "slow client: {} after {} ms",
        status_of(&slow.0),
        slow.1.as_millis()
    );
    assert_eq!(status_of(&slow.0), "408", "{}", slow.0);

    // --- 100 connections from one address, held open; another address logs in. ------
    let held = admin.in_netns(|| -> Result<Vec<std::net::TcpStream>, Error> {
        let mut held = Vec::new();
        for _ in 0..100 {
            held.push(std::net::TcpStream::connect_timeout(
                &tls,
                Duration::from_secs(5),
            )?);
        }
        Ok(held)
    })??;
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let other_api = other.in_netns(|| ApiSession::login(tls, &pin, PASSWORD))??;
    let status = other.in_netns(|| other_api.json("/api/status"))??;
    eprintln!(
        "with 100 connections from 10.10.0.50 open, 10.10.0.51 logged in and read the status in {} ms",
        started.elapsed().as_millis()
    );
    assert!(status["services"].is_array(), "{status}");
    let closed = admin.in_netns(|| {
        use std::io::Read;
        held.into_iter()
            .filter(|s| {
                let mut s = s;
                let _ = s.set_read_timeout(Some(Duration::from_millis(50)));
                matches!(s.read(&mut [0u8; 1]), Ok(0))
            })
            .count()
    })?;
    eprintln!("of the 100: {closed} closed at once (8 are kept per address)");
    assert!(closed >= 90, "{closed}");

    // --- Still serving: the page, the API, and the virtual service. ------------------
    std::thread::sleep(Duration::from_secs(1));
    let after = admin.in_netns(|| rss_kb(&api))??;
    let metrics = admin.in_netns(|| api.call("GET", "/metrics", b""))??.text();
    for line in [
        "lvsfw_ipvs_server_weight{service=\"TCP 192.168.0.100:80\",server=\"192.168.33.11:80\"} 1",
        "lvsfw_check_up{service=\"TCP 192.168.0.100:80\",server=\"192.168.33.12:80\"} 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} missing from\n{metrics}"
        );
    }
    eprintln!("balancer memory: {before} KiB before, {after} KiB after");
    assert!(
        after < before + 16 * 1024,
        "memory grew from {before} to {after} KiB"
    );
    until(&client, Duration::from_secs(20), 10, alternating)?;
    let console = lb1.console.text();
    assert!(!console.contains("balancer exited"), "the balancer died");
    assert!(!console.contains("panicked"), "a panic");

    // Not on ext: the ext address refuses 443 and 80, and so does the management
    // address reached through ext (the listeners are bound to the mgmt NIC).
    client.run(&["ip", "route", "add", "10.10.0.0/24", "via", LB1_EXT])?;
    let ext = |port| SocketAddr::new(LB1_EXT.parse().unwrap(), port);
    let reached = client.in_netns(|| {
        [ext(443), ext(80), tls, plain].map(|a| {
            std::net::TcpStream::connect_timeout(&a, Duration::from_secs(3))
                .map(|_| "connected".to_string())
                .unwrap_or_else(|e| e.to_string())
        })
    })?;
    eprintln!("from ext: {reached:?}");
    for r in &reached {
        assert_ne!(
            r, "connected",
            "the page answers on the ext side: {reached:?}"
        );
    }
    Ok(())
}
