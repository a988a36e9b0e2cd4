//! An update uploaded from the System page's form and through the API: who may, what is
//! checked before a byte of the body is taken, and what the page says after.

use std::sync::Arc;

use super::*;
use crate::backend::UpdateSink;

/// What the fake backend saw of uploads: each begin's `allow_downgrade`, the bytes
/// written, and whether one is being written (the backend's lock).
#[derive(Default)]
pub(super) struct FakeUpdates {
    begun: Mutex<Vec<bool>>,
    written: Arc<Mutex<Vec<u8>>>,
    busy: Arc<Mutex<bool>>,
}

impl FakeUpdates {
    pub(super) fn begin(&self, allow_downgrade: bool) -> Result<Box<dyn UpdateSink>, String> {
        let mut busy = self.busy.lock().unwrap();
        if *busy {
            return Err("another update is being written now; nothing changed".into());
        }
        *busy = true;
        self.begun.lock().unwrap().push(allow_downgrade);
        self.written.lock().unwrap().clear();
        Ok(Box::new(FakeSink {
            written: self.written.clone(),
            busy: self.busy.clone(),
        }))
    }
}

/// Takes an "update" that starts with `SIGNED` and ends with `END`.
struct FakeSink {
    written: Arc<Mutex<Vec<u8>>>,
    busy: Arc<Mutex<bool>>,
}

impl Drop for FakeSink {
    fn drop(&mut self) {
        *self.busy.lock().unwrap() = false;
    }
}

impl UpdateSink for FakeSink {
    fn push(&mut self, bytes: &[u8]) -> Result<(), String> {
        let mut written = self.written.lock().unwrap();
        written.extend_from_slice(bytes);
        let n = written.len().min(6);
        if written[..n] != b"SIGNED"[..n] {
            return Err("not an update signed by a key this firmware trusts".into());
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<String, String> {
        let written = self.written.lock().unwrap();
        if !written.ends_with(b"END") || written.len() < 9 {
            return Err("truncated: the update is shorter than its header says".into());
        }
        Ok(format!(
            "slot B now holds version 2 ({} bytes).\n",
            written.len()
        ))
    }
}

const BOUNDARY: &str = "----WebKitFormBoundaryUpLoAd";

/// The System page's form as chromium sends it: csrf, the checkbox if ticked, the file.
fn form(csrf: &str, allow_downgrade: bool, file: &[u8]) -> Vec<u8> {
    let mut b =
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n");
    if allow_downgrade {
        b.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"allow_downgrade\"\r\n\r\nyes\r\n"
        ));
    }
    b.push_str(&format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"update\"; filename=\"lvsfw.update\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    ));
    let mut body = b.into_bytes();
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

fn multipart_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

impl Browser {
    /// A request whose body is streamed as the server does: the handler decides on the
    /// head, then gets the body in pieces of `piece` bytes. `headers` add to or replace
    /// the browser's own (an empty value drops one).
    fn stream(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        piece: usize,
    ) -> Answer {
        let cookies: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let mut all: Vec<(String, String)> = vec![
            ("Host".into(), self.host.clone()),
            ("Origin".into(), format!("https://{}", self.host)),
            ("Cookie".into(), cookies.join("; ")),
        ];
        if path.starts_with("/api/") {
            all.push(("X-CSRF-Token".into(), self.csrf.clone()));
        }
        for (name, value) in headers {
            all.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            all.push((name.to_string(), value.to_string()));
        }
        all.retain(|(_, v)| !v.is_empty());
        let pairs: Vec<(&str, &str)> = all.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let mut request = request_from("10.1.0.50", method, path, &pairs, "");
        request.head.content_length = body.len();
        let response = match self.app.streams_body(&request) {
            None => panic!("{method} {path} is not streamed"),
            Some(Err(refused)) => refused,
            Some(Ok(mut sink)) => {
                let mut refused = None;
                for chunk in body.chunks(piece.max(1)) {
                    if let Err(r) = sink.push(chunk) {
                        refused = Some(r);
                        break;
                    }
                }
                refused.unwrap_or_else(|| sink.finish())
            }
        };
        Answer {
            status: response.status,
            location: response.header("Location").unwrap_or("").to_string(),
            body: String::from_utf8_lossy(&response.body).into_owned(),
        }
    }

    fn upload_form(&mut self, allow_downgrade: bool, file: &[u8], piece: usize) -> Answer {
        let body = form(&self.csrf.clone(), allow_downgrade, file);
        let content_type = multipart_type();
        self.stream(
            "POST",
            "/system/update",
            &[("Content-Type", &content_type)],
            &body,
            piece,
        )
    }
}

fn begun(b: &Browser) -> Vec<bool> {
    b.fake.updates.begun.lock().unwrap().clone()
}

#[test]
fn the_system_page_uploads_an_update_and_says_what_was_written() {
    let mut b = browser();
    b.ready();
    let page = b.get("/system").body;
    assert!(page.contains("action=\"/system/update\" enctype=\"multipart/form-data\""));
    let file = b"SIGNED\r\n--fake-boundary\r\n payload END";
    for piece in [1, 7, 1 << 20] {
        b.get("/system");
        let a = b.upload_form(false, file, piece);
        assert_eq!(
            (a.status, a.location.as_str()),
            (303, "/system"),
            "{}",
            a.body
        );
        assert_eq!(*b.fake.updates.written.lock().unwrap(), file.to_vec());
        let page = b.get("/system").body;
        assert!(
            page.contains("Update written. slot B now holds version 2 (37 bytes)."),
            "{page}"
        );
    }
    assert_eq!(begun(&b), [false, false, false]);
    b.get("/system");
    b.upload_form(true, file, 100);
    assert_eq!(
        begun(&b).last(),
        Some(&true),
        "the checkbox allows a downgrade"
    );
}

#[test]
fn a_refused_update_is_said_on_the_page_and_frees_the_lock() {
    let mut b = browser();
    b.ready();
    b.get("/system");
    let a = b.upload_form(false, b"UNSIGNED update END", 4);
    assert_eq!(a.status, 303, "{}", a.body);
    let page = b.get("/system").body;
    assert!(
        page.contains(
            "The update was not installed: not an update signed by a key this firmware trusts"
        ),
        "{page}"
    );
    let a = b.upload_form(false, b"SIGNED but cut", 4);
    assert_eq!(a.status, 303);
    let page = b.get("/system").body;
    assert!(
        page.contains("The update was not installed: truncated"),
        "{page}"
    );
    let a = b.upload_form(false, b"", 4);
    assert_eq!(a.status, 303);
    let page = b.get("/system").body;
    assert!(page.contains("The update was not installed: the update file is empty"));
    // A form cut off before its end, and one without the file part.
    let mut cut = form(&b.csrf.clone(), false, b"SIGNED xyz END");
    cut.truncate(cut.len() - 8);
    let content_type = multipart_type();
    let headers = [("Content-Type", content_type.as_str())];
    b.stream("POST", "/system/update", &headers, &cut, 64);
    let page = b.get("/system").body;
    assert!(page.contains("ended before its last part"), "{page}");
    assert!(
        !*b.fake.updates.busy.lock().unwrap(),
        "every refusal let go of the lock"
    );
}

#[test]
fn nobody_but_a_logged_in_page_or_api_client_reaches_the_backend() {
    let mut b = browser();
    let body = form("", false, b"SIGNED x END");
    let content_type = multipart_type();
    let multipart = ("Content-Type", content_type.as_str());
    // No session.
    let a = b.stream("POST", "/system/update", &[multipart], &body, 64);
    assert_eq!((a.status, a.location.as_str()), (303, "/login"));
    let octets = ("Content-Type", "application/octet-stream");
    let a = b.stream("PUT", "/api/update", &[octets], b"SIGNED x END", 64);
    assert_eq!(a.status, 401, "{}", a.body);

    b.ready();
    b.get("/system");
    let csrf = b.csrf.clone();
    let good = form(&csrf, false, b"SIGNED x END");
    // Method, headers, body, the answer's status.
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a [u8], u16);
    let cases: Vec<Case> = vec![
        // Another site's form, and no Origin at all.
        (
            "POST",
            vec![multipart, ("Origin", "https://evil.example")],
            &good,
            403,
        ),
        (
            "POST",
            vec![multipart, ("Origin", ""), ("Referer", "")],
            &good,
            403,
        ),
        // DNS rebinding.
        (
            "POST",
            vec![multipart, ("Host", "evil.example")],
            &good,
            421,
        ),
        // The metrics token never changes anything.
        (
            "PUT",
            vec![octets, ("Authorization", "Bearer abc")],
            b"SIGNED x END",
            403,
        ),
        // Not a form upload / not octets.
        (
            "POST",
            vec![("Content-Type", "application/x-www-form-urlencoded")],
            &good,
            415,
        ),
        (
            "PUT",
            vec![("Content-Type", "application/json")],
            b"{}",
            415,
        ),
        // The API without its CSRF header.
        (
            "PUT",
            vec![octets, ("X-CSRF-Token", "")],
            b"SIGNED x END",
            403,
        ),
        (
            "PUT",
            vec![octets, ("X-CSRF-Token", "0000")],
            b"SIGNED x END",
            403,
        ),
    ];
    for (method, headers, body, status) in cases {
        let path = if method == "PUT" {
            "/api/update"
        } else {
            "/system/update"
        };
        let a = b.stream(method, path, &headers, body, 64);
        assert_eq!(a.status, status, "{method} {headers:?}: {}", a.body);
    }
    // The form with a wrong CSRF field: refused before the file's first byte is written.
    let forged = form("0123456789abcdef", false, b"SIGNED x END");
    let a = b.stream("POST", "/system/update", &[multipart], &forged, 3);
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(begun(&b).is_empty(), "nothing reached the backend");
    assert!(b.fake.updates.written.lock().unwrap().is_empty());

    // Closed page: nothing, even with a session.
    *b.fake.closed.lock().unwrap() = Some("a restore failed".into());
    let a = b.stream("PUT", "/api/update", &[octets], b"SIGNED x END", 64);
    assert_eq!(a.status, 503);
    assert!(begun(&b).is_empty());
}

#[test]
fn the_api_uploads_one_update_at_a_time() {
    let mut b = browser();
    b.ready();
    b.get("/api/status");
    let octets = ("Content-Type", "application/octet-stream");
    let a = b.stream("PUT", "/api/update", &[octets], b"SIGNED api END", 5);
    assert_eq!(a.status, 200, "{}", a.body);
    let said: Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(
        said["installed"],
        "slot B now holds version 2 (14 bytes).\n"
    );
    let a = b.stream(
        "PUT",
        "/api/update?allow_downgrade=yes",
        &[octets],
        b"SIGNED x END",
        5,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(begun(&b), [false, true]);
    let a = b.stream(
        "PUT",
        "/api/update?allow_downgrade=maybe",
        &[octets],
        b"SIGNED x END",
        5,
    );
    assert_eq!(a.status, 400);
    assert!(a.body.contains("allow_downgrade must be yes"), "{}", a.body);
    let a = b.stream("PUT", "/api/update", &[octets], b"NOPE", 5);
    assert_eq!(a.status, 422);
    assert!(a.body.contains("not an update signed"), "{}", a.body);

    // While one upload is being written, another is refused and the first goes on.
    let first = b.fake.updates.begin(false).unwrap();
    let a = b.stream("PUT", "/api/update", &[octets], b"SIGNED x END", 5);
    assert_eq!(a.status, 409, "{}", a.body);
    assert!(
        a.body.contains("another update is being written"),
        "{}",
        a.body
    );
    drop(first);
    // GET, and the form's path with PUT: not allowed.
    assert_eq!(b.get("/api/update").status, 405);
    assert_eq!(b.get("/system/update").status, 405);
}
