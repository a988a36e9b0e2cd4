//! HTTP/1.1 messages: the request head read by httparse, every part of it bounded, and
//! the responses the handlers build. No I/O here; [`crate::server`] moves the bytes.

use std::net::IpAddr;

/// What a request may be; anything larger is refused before it is buffered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The request line and headers together, in bytes.
    pub max_head: usize,
    /// A request with more header lines is refused (httparse fills a fixed array).
    pub max_headers: usize,
    /// The body, in bytes (a pasted keepalived.conf, form-encoded).
    pub max_body: usize,
    /// A body a handler takes as a stream (an update upload), in bytes: never in memory
    /// whole, so it may be larger than `max_body`.
    pub max_streamed_body: usize,
}

/// The most header lines any request may have; [`Limits::max_headers`] may be lower.
pub const HEADERS_ARRAY: usize = 64;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head: 8 * 1024,
            max_headers: 40,
            max_body: 2 * 1024 * 1024,
            max_streamed_body: 64 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    /// Any other token: routes answer 405.
    Other,
}

impl Method {
    fn from_token(token: &str) -> Method {
        match token {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            _ => Method::Other,
        }
    }
}

/// A request head as parsed, before its body is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub method: Method,
    /// The method as sent, for the log.
    pub method_text: String,
    /// The path without the query, as sent (`/config`).
    pub path: String,
    /// What follows `?`, without it.
    pub query: String,
    /// Names in lower case, in the order sent.
    pub headers: Vec<(String, String)>,
    pub content_length: usize,
    /// HTTP/1.1 without `Connection: close`.
    pub keep_alive: bool,
}

/// A whole request as a handler gets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub head: Head,
    pub body: Vec<u8>,
    pub peer: IpAddr,
    /// The address the request came to (this side of the connection), when known.
    pub local: Option<IpAddr>,
    /// It came over TLS.
    pub secure: bool,
}

impl Request {
    pub fn method(&self) -> Method {
        self.head.method
    }

    pub fn path(&self) -> &str {
        &self.head.path
    }

    /// The first header called `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The media type of the body without parameters, in lower case.
    pub fn content_type(&self) -> String {
        self.header("content-type")
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default()
    }

    /// The value of cookie `name`, if the request carries it.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.head.cookie(name)
    }
}

impl Head {
    /// The value of cookie `name`, if the request carries it.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == "cookie")
            .flat_map(|(_, v)| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }
}

/// Why a request is refused before any handler sees it; the connection is closed after
/// the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub status: u16,
    pub message: String,
}

impl Reject {
    fn new(status: u16, message: impl Into<String>) -> Reject {
        Reject {
            status,
            message: message.into(),
        }
    }

    pub fn response(&self) -> Response {
        Response::text(self.status, format!("{}\n", self.message))
    }

    /// 413: a body of `length` bytes where at most `limit` are taken.
    pub fn too_large(length: usize, limit: usize) -> Reject {
        Reject::new(
            413,
            format!("request body of {length} bytes is larger than {limit} bytes"),
        )
    }
}

/// Parses the head at the start of `buf`: `Ok(None)` while it is incomplete (and still
/// within the limits), else the head and how many bytes it took.
pub fn parse_head(buf: &[u8], limits: &Limits) -> Result<Option<(Head, usize)>, Reject> {
    let mut storage = [httparse::EMPTY_HEADER; HEADERS_ARRAY];
    let allowed = limits.max_headers.min(HEADERS_ARRAY);
    let mut request = httparse::Request::new(&mut storage[..allowed]);
    let window = &buf[..buf.len().min(limits.max_head)];
    let used = match request.parse(window) {
        Ok(httparse::Status::Complete(used)) => used,
        Ok(httparse::Status::Partial) if buf.len() >= limits.max_head => {
            return Err(Reject::new(
                431,
                format!("request head larger than {} bytes", limits.max_head),
            ))
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Reject::new(
                431,
                format!("more than {allowed} header lines"),
            ))
        }
        Err(e) => return Err(Reject::new(400, format!("malformed request: {e}"))),
    };
    let method_text = request.method.unwrap_or("").to_string();
    let target = request.path.unwrap_or("");
    let version = request.version.unwrap_or(0);
    if !target.starts_with('/') {
        return Err(Reject::new(
            400,
            format!("malformed request: the target \"{target}\" is not a path"),
        ));
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target.to_string(), String::new()),
    };
    let mut headers = Vec::with_capacity(request.headers.len());
    let mut content_length: Option<usize> = None;
    let mut close = version == 0;
    for h in request.headers.iter() {
        let name = h.name.to_ascii_lowercase();
        let value = std::str::from_utf8(h.value)
            .map_err(|_| {
                Reject::new(
                    400,
                    format!("malformed request: header {name} is not UTF-8"),
                )
            })?
            .trim()
            .to_string();
        match name.as_str() {
            "content-length" => {
                // RFC 9110 8.6: 1*DIGIT. Rust's parse() also takes a leading '+', which
                // another parser on the way may read differently (request smuggling).
                let digits = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
                let n: usize = value.parse().ok().filter(|_| digits).ok_or_else(|| {
                    Reject::new(
                        400,
                        format!("malformed request: Content-Length \"{value}\" is not a number"),
                    )
                })?;
                if content_length.is_some_and(|had| had != n) {
                    return Err(Reject::new(
                        400,
                        "malformed request: two different Content-Length headers",
                    ));
                }
                content_length = Some(n);
            }
            "transfer-encoding" => {
                return Err(Reject::new(
                    501,
                    "Transfer-Encoding is not supported; send Content-Length",
                ))
            }
            "connection" => {
                for token in value.split(',').map(|t| t.trim().to_ascii_lowercase()) {
                    match token.as_str() {
                        "close" => close = true,
                        "keep-alive" if version == 0 => close = false,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        headers.push((name, value));
    }
    let content_length = content_length.unwrap_or(0);
    // Only a streamed body may exceed max_body; the server checks which it is.
    let most = limits.max_body.max(limits.max_streamed_body);
    if content_length > most {
        return Err(Reject::too_large(content_length, most));
    }
    Ok(Some((
        Head {
            method: Method::from_token(&method_text),
            method_text,
            path,
            query,
            headers,
            content_length,
            keep_alive: !close,
        },
        used,
    )))
}

/// A response a handler built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type", content_type.to_string())],
            body: body.into(),
        }
    }

    pub fn html(status: u16, body: String) -> Response {
        Response::new(status, "text/html; charset=utf-8", body)
    }

    pub fn text(status: u16, body: String) -> Response {
        Response::new(status, "text/plain; charset=utf-8", body)
    }

    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        let mut body = serde_json::to_string_pretty(value).unwrap_or_default();
        body.push('\n');
        Response::new(status, "application/json", body)
    }

    /// 303: the browser follows with a GET (after a form's POST).
    pub fn see_other(location: &str) -> Response {
        let mut r = Response::text(303, format!("see {location}\n"));
        r.headers.push(("Location", location.to_string()));
        r
    }

    pub fn with_header(mut self, name: &'static str, value: String) -> Response {
        self.headers.push((name, value));
        self
    }

    /// The value of header `name` as set by the handler.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Status line and headers; a HEAD answer is the same head with no body after it.
    pub fn encode_head(&self, keep_alive: bool) -> Vec<u8> {
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (name, value) in &self.headers {
            // Handlers never put line breaks in values; refuse to send one anyway.
            let value: String = value.chars().filter(|c| *c != '\r' && *c != '\n').collect();
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        head.push_str(SECURITY_HEADERS);
        head.push_str(if keep_alive {
            "Connection: keep-alive\r\n\r\n"
        } else {
            "Connection: close\r\n\r\n"
        });
        head.into_bytes()
    }
}

/// On every answer: nothing cached, nothing framed, no scripts run, forms post only here.
const SECURITY_HEADERS: &str = "Cache-Control: no-store\r\n\
X-Content-Type-Options: nosniff\r\n\
X-Frame-Options: DENY\r\n\
Referrer-Policy: same-origin\r\n\
Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'\r\n";

pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        303 => "See Other",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Option<(Head, usize)>, Reject> {
        parse_head(text.as_bytes(), &Limits::default())
    }

    #[test]
    fn a_complete_head_with_query_cookies_and_body_length() {
        let text = "POST /config/edit?x=1 HTTP/1.1\r\nHost: lb\r\nCookie: a=1; lvsfw_session=abc\r\nContent-Length: 5\r\n\r\nhello";
        let (head, used) = parse(text).unwrap().unwrap();
        assert_eq!(used, text.len() - 5);
        assert_eq!(head.method, Method::Post);
        assert_eq!(head.path, "/config/edit");
        assert_eq!(head.query, "x=1");
        assert_eq!(head.content_length, 5);
        assert!(head.keep_alive);
        let request = Request {
            head,
            body: b"hello".to_vec(),
            peer: "10.0.0.1".parse().unwrap(),
            local: None,
            secure: true,
        };
        assert_eq!(request.cookie("lvsfw_session"), Some("abc"));
        assert_eq!(request.cookie("a"), Some("1"));
        assert_eq!(request.cookie("b"), None);
        assert_eq!(request.header("host"), Some("lb"));
    }

    #[test]
    fn an_incomplete_head_waits_for_more() {
        assert_eq!(parse("GET / HTTP/1.1\r\nHost: x\r\n").unwrap(), None);
        assert_eq!(parse("GE").unwrap(), None);
    }

    #[test]
    fn http_1_0_and_connection_close_end_the_connection() {
        let (head, _) = parse("GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert!(!head.keep_alive);
        let (head, _) = parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!head.keep_alive);
        let (head, _) = parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(head.keep_alive);
    }

    #[test]
    fn malformed_heads_are_400_and_say_why() {
        for bad in [
            "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
            "GET / HTTP/9.9\r\n\r\n",
            "\x00\x01\x02 / HTTP/1.1\r\n\r\n",
            "GET http://x/ HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nContent-Length: ten\r\n\r\n",
            "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            // Digits only (RFC 9110 8.6): a sign or spaces inside are not a length.
            "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 0x5\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 5 5\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: \r\n\r\n",
        ] {
            let reject = parse(bad).unwrap_err();
            assert_eq!(reject.status, 400, "{bad:?}: {reject:?}");
            assert!(
                reject.message.starts_with("malformed request"),
                "{reject:?}"
            );
        }
    }

    #[test]
    fn limits_are_enforced_before_anything_is_buffered() {
        let limits = Limits::default();
        let long = format!("GET /{} HTTP/1.1\r\n", "a".repeat(limits.max_head));
        assert_eq!(parse(&long).unwrap_err().status, 431);
        let flood: String = (0..100).map(|i| format!("X-{i}: y\r\n")).collect();
        let reject = parse(&format!("GET / HTTP/1.1\r\n{flood}\r\n")).unwrap_err();
        assert_eq!(reject.status, 431);
        assert_eq!(reject.message, "more than 40 header lines");
        // The head alone caps a body at what a stream may take; the server holds a body
        // that is not streamed to max_body (server tests).
        let big = format!(
            "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            limits.max_streamed_body + 1
        );
        assert_eq!(parse(&big).unwrap_err().status, 413);
        let chunked = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(parse(chunked).unwrap_err().status, 501);
    }

    #[test]
    fn unknown_methods_reach_the_router_as_other() {
        let (head, _) = parse("BREW /pot HTTP/1.1\r\n\r\n").unwrap().unwrap();
        assert_eq!(head.method, Method::Other);
        assert_eq!(head.method_text, "BREW");
    }

    #[test]
    fn responses_carry_length_and_the_security_headers() {
        let r = Response::see_other("/status");
        let head = String::from_utf8(r.encode_head(false)).unwrap();
        assert!(head.starts_with("HTTP/1.1 303 See Other\r\n"), "{head}");
        assert!(head.contains("Location: /status\r\n"));
        assert!(head.contains("Content-Length: 12\r\n"));
        assert!(head.contains("Cache-Control: no-store\r\n"));
        assert!(head.contains("X-Frame-Options: DENY\r\n"));
        assert!(head.ends_with("Connection: close\r\n\r\n"));
        let sneaky = Response::see_other("/x\r\nSet-Cookie: a=b");
        let head = String::from_utf8(sneaky.encode_head(true)).unwrap();
        assert!(head.contains("Location: /xSet-Cookie: a=b\r\n"), "{head}");
    }
}
