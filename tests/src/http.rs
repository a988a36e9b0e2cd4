//! A small HTTP/1.1 client for the tests: the appliance's page and API, and chromedriver.
//! Call it from a thread inside a lab namespace ([`crate::Host::in_netns`]). Every read
//! and write has a timeout; bodies come with Content-Length, chunked, or up to close.

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

/// One connection, kept alive across requests.
pub struct Connection {
    stream: TcpStream,
    host: String,
    buf: Vec<u8>,
}

impl Connection {
    pub fn open(addr: SocketAddr, timeout: Duration) -> Result<Connection, Error> {
        let stream = TcpStream::connect_timeout(&addr, timeout)
            .map_err(|e| Error(format!("connecting to {addr}: {e}")))?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            stream,
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
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.host);
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
        let n = self
            .stream
            .read(&mut chunk)
            .map_err(|e| Error(format!("reading: {e}")))?;
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

/// One request on a connection of its own.
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

/// A session on the appliance's API: logged in, with its cookie and CSRF token.
pub struct ApiSession {
    pub addr: SocketAddr,
    pub cookie: String,
    pub csrf: String,
}

impl ApiSession {
    /// Logs in with `password`.
    pub fn login(addr: SocketAddr, password: &str) -> Result<ApiSession, Error> {
        let body = serde_json::json!({ "password": password }).to_string();
        let r = request(
            addr,
            "POST",
            "/api/login",
            &[("Content-Type", "application/json")],
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
            cookie,
            csrf: v["csrf"].as_str().unwrap_or_default().to_string(),
        })
    }

    /// Logs in with the factory password and changes it to `new`.
    pub fn first_login(addr: SocketAddr, new: &str) -> Result<ApiSession, Error> {
        let s = ApiSession::login(addr, "lvsfw")?;
        let body = serde_json::json!({ "new": new }).to_string();
        let r = s.call("POST", "/api/password", body.as_bytes())?;
        if r.status != 200 {
            return Err(Error(format!("password change: {} {}", r.status, r.text())));
        }
        Ok(s)
    }

    pub fn call(&self, method: &str, path: &str, body: &[u8]) -> Result<Response, Error> {
        request(
            self.addr,
            method,
            path,
            &[
                ("Cookie", &self.cookie),
                ("X-CSRF-Token", &self.csrf),
                ("Content-Type", "application/json"),
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
