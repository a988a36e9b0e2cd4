//! A small HTTP/1.1 client for the tests: the appliance's page and API (over HTTPS, its
//! certificate pinned: [`crate::pinned`]), and chromedriver (plain, on loopback). Call it
//! from a thread inside a lab namespace ([`crate::Host::in_netns`]). Every read and
//! write has a timeout; bodies come with Content-Length, chunked, or up to close.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::command::Error;

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<crate::pinned::TlsStream>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// One connection, kept alive across requests.
pub struct Connection {
    stream: Stream,
    host: String,
    buf: Vec<u8>,
}

impl Connection {
    /// Plain HTTP (chromedriver; the page's redirect).
    pub fn open(addr: SocketAddr, timeout: Duration) -> Result<Connection, Error> {
        let stream = TcpStream::connect_timeout(&addr, timeout)
            .map_err(|e| Error(format!("connecting to {addr}: {e}")))?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            stream: Stream::Plain(stream),
            host: addr.to_string(),
            buf: Vec::new(),
        })
    }

    /// HTTPS to a server whose key is `pin` (its handshake done when this returns).
    pub fn open_tls(addr: SocketAddr, pin: &str, timeout: Duration) -> Result<Connection, Error> {
        let stream = crate::pinned::connect(addr, pin, timeout)?;
        Ok(Connection {
            stream: Stream::Tls(Box::new(stream)),
            host: addr.to_string(),
            buf: Vec::new(),
        })
    }

    /// Sends one request and reads its answer.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response, Error> {
        // A test may give its own Host (a foreign name, as a rebinding page sends).
        let mut head = format!("{method} {path} HTTP/1.1\r\n");
        if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
            head.push_str(&format!("Host: {}\r\n", self.host));
        }
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if !body.is_empty() || matches!(method, "POST" | "PUT") {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body);
        self.stream
            .write_all(&bytes)
            .map_err(|e| Error(format!("{method} {path}: sending: {e}")))?;
        self.read_response(method == "HEAD")
            .map_err(|e| Error(format!("{method} {path}: {e}")))
    }

    fn fill(&mut self) -> Result<usize, Error> {
        let mut chunk = [0u8; 16384];
        let n = match self.stream.read(&mut chunk) {
            Ok(n) => n,
            // A TLS peer that closes without close_notify: the end, as over plain TCP.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(Error(format!("reading: {e}"))),
        };
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    fn read_response(&mut self, head_only: bool) -> Result<Response, Error> {
        let end = loop {
            if let Some(at) = find(&self.buf, b"\r\n\r\n") {
                break at;
            }
            if self.fill()? == 0 {
                return Err(Error(format!(
                    "the connection closed before a whole answer ({} bytes)",
                    self.buf.len()
                )));
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        self.buf.drain(..end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Error(format!("not an HTTP answer: {status_line:?}")))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect();
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let body = if head_only {
            Vec::new()
        } else if let Some(len) = get("content-length").and_then(|l| l.parse::<usize>().ok()) {
            while self.buf.len() < len {
                if self.fill()? == 0 {
                    return Err(Error("the body was cut short".into()));
                }
            }
            self.buf.drain(..len).collect()
        } else if get("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
            self.read_chunked()?
        } else {
            while self.fill()? > 0 {}
            std::mem::take(&mut self.buf)
        };
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    fn read_chunked(&mut self) -> Result<Vec<u8>, Error> {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(at) = find(&self.buf, b"\r\n") {
                    break at;
                }
                if self.fill()? == 0 {
                    return Err(Error("a chunk was cut short".into()));
                }
            };
            let size_text = String::from_utf8_lossy(&self.buf[..line_end]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| Error(format!("bad chunk size {size_text:?}")))?;
            self.buf.drain(..line_end + 2);
            while self.buf.len() < size + 2 {
                if self.fill()? == 0 {
                    return Err(Error("a chunk was cut short".into()));
                }
            }
            body.extend(self.buf.drain(..size));
            self.buf.drain(..2);
            if size == 0 {
                return Ok(body);
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// One plain-HTTP request on a connection of its own.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Response, Error> {
    let mut c = Connection::open(addr, Duration::from_secs(30))?;
    let mut all = vec![("Connection", "close")];
    all.extend_from_slice(headers);
    c.request(method, path, &all, body)
}

/// One HTTPS request on a connection of its own, to the server whose key is `pin`.
pub fn request_tls(
    addr: SocketAddr,
    pin: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Response, Error> {
    let mut c = Connection::open_tls(addr, pin, Duration::from_secs(60))?;
    let mut all = vec![("Connection", "close")];
    all.extend_from_slice(headers);
    c.request(method, path, &all, body)
}

/// Sends raw bytes on a new connection, closes its sending side, and reads until the
/// server closes the connection (or `limit` passes): what a misbehaving client gets back.
pub fn raw(addr: SocketAddr, bytes: &[u8], limit: Duration) -> Result<String, Error> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| Error(format!("connecting to {addr}: {e}")))?;
    stream.set_read_timeout(Some(limit))?;
    stream.set_write_timeout(Some(limit))?;
    // The server may answer and close before all of a large request is sent.
    let _ = stream.write_all(bytes);
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// A session on the appliance's API over HTTPS: logged in, with its cookie and CSRF
/// token; every change says it comes from the page's own origin, as a browser does.
pub struct ApiSession {
    pub addr: SocketAddr,
    pub pin: String,
    pub cookie: String,
    pub csrf: String,
}

impl ApiSession {
    /// The Origin of the page at `addr`, as a browser sends it.
    pub fn origin(addr: SocketAddr) -> String {
        format!("https://{addr}")
    }

    /// Logs in with `password` to the page whose key is `pin`.
    pub fn login(addr: SocketAddr, pin: &str, password: &str) -> Result<ApiSession, Error> {
        let body = serde_json::json!({ "password": password }).to_string();
        let origin = Self::origin(addr);
        let r = request_tls(
            addr,
            pin,
            "POST",
            "/api/login",
            &[("Content-Type", "application/json"), ("Origin", &origin)],
            body.as_bytes(),
        )?;
        if r.status != 200 {
            return Err(Error(format!("login: {} {}", r.status, r.text())));
        }
        let cookie = r
            .header("Set-Cookie")
            .and_then(|c| c.split(';').next())
            .ok_or_else(|| Error("login: no cookie".into()))?
            .to_string();
        let v: serde_json::Value =
            serde_json::from_slice(&r.body).map_err(|e| Error(format!("login: {e}")))?;
        Ok(ApiSession {
            addr,
            pin: pin.to_string(),
            cookie,
            csrf: v["csrf"].as_str().unwrap_or_default().to_string(),
        })
    }

    pub fn call(&self, method: &str, path: &str, body: &[u8]) -> Result<Response, Error> {
        let origin = Self::origin(self.addr);
        request_tls(
            self.addr,
            &self.pin,
            method,
            path,
            &[
                ("Cookie", &self.cookie),
                ("X-CSRF-Token", &self.csrf),
                ("Content-Type", "application/json"),
                ("Origin", &origin),
            ],
            body,
        )
    }

    /// `GET path` as JSON.
    pub fn json(&self, path: &str) -> Result<serde_json::Value, Error> {
        let r = self.call("GET", path, b"")?;
        if r.status != 200 {
            return Err(Error(format!("GET {path}: {} {}", r.status, r.text())));
        }
        serde_json::from_slice(&r.body).map_err(|e| Error(format!("GET {path}: {e}")))
    }
}

/// `"admin": {...}` of a lab box's config.json whose password is `password` (hashed
/// with the fewest PBKDF2 rounds the model takes, so that a login under emulation is
/// quick), to put in after the other settings.
pub fn admin_json(password: &str) -> String {
    let hash = config::PasswordHash::new(password, &[42u8; 16], config::password::MIN_ITERATIONS)
        .expect("a password hash");
    format!(r#""admin": {{"password_hash": "{hash}"}}"#)
}
