//! The GET request keepalived sends, byte for byte (check_http.c `request_template`):
//!
//! ```text
//! GET <path> HTTP/1.0
//! User-Agent: KeepAliveClient
//! [Connection: close]            (http_protocol 1.0C and 1.1)
//! Host: <virtualhost | ip:port | [ipv6]:port>
//! ```
//!
//! Servers that log or route on these headers see lvsfw exactly as they saw keepalived.

use std::fmt::Write;
use std::net::SocketAddr;

use crate::spec::{HttpCheck, HttpProtocol, Url};

/// The request for one URL of `check`, sent to `connect_to`.
pub fn build(check: &HttpCheck, url: &Url, connect_to: SocketAddr) -> String {
    let version = match check.protocol {
        HttpProtocol::Http10 | HttpProtocol::Http10Close => "1.0",
        HttpProtocol::Http11 => "1.1",
    };
    let mut request = String::with_capacity(96 + url.path.len());
    // Writing to a String cannot fail.
    let _ = write!(
        request,
        "GET {} HTTP/{version}\r\nUser-Agent: KeepAliveClient\r\n",
        url.path
    );
    if check.protocol != HttpProtocol::Http10 {
        request.push_str("Connection: close\r\n");
    }
    match virtualhost(check, url) {
        // A virtualhost is sent as it is, without a port.
        Some(host) => {
            let _ = write!(request, "Host: {host}\r\n\r\n");
        }
        // SocketAddr's Display brackets an IPv6 address, as RFC 2732 wants.
        None => {
            let _ = write!(request, "Host: {connect_to}\r\n\r\n");
        }
    }
    request
}

/// The URL's own virtualhost, else the checker's.
pub fn virtualhost<'a>(check: &'a HttpCheck, url: &'a Url) -> Option<&'a str> {
    url.virtualhost.as_deref().or(check.virtualhost.as_deref())
}

/// The name sent as TLS SNI, if any (check_ssl.c: only with `enable_sni`; `sni_name`, else
/// the URL's virtualhost, else the checker's).
pub fn sni_name<'a>(check: &'a HttpCheck, url: &'a Url) -> Option<&'a str> {
    if !check.enable_sni {
        return None;
    }
    check.sni_name.as_deref().or(virtualhost(check, url))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4() -> SocketAddr {
        "192.168.33.11:80".parse().unwrap()
    }

    #[test]
    fn default_request_is_keepalived_http_1_0_with_ip_and_port_as_host() {
        let check = HttpCheck::new(vec![Url::new("/")]);
        assert_eq!(
            build(&check, &check.urls[0], v4()),
            "GET / HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 192.168.33.11:80\r\n\r\n"
        );
    }

    #[test]
    fn ipv6_host_is_bracketed() {
        let check = HttpCheck::new(vec![Url::new("/index.html")]);
        let to: SocketAddr = "[2001:db8::11]:8080".parse().unwrap();
        assert_eq!(
            build(&check, &check.urls[0], to),
            "GET /index.html HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\n\
             Host: [2001:db8::11]:8080\r\n\r\n"
        );
    }

    #[test]
    fn protocol_1_0c_and_1_1_add_connection_close() {
        let mut check = HttpCheck::new(vec![Url::new("/")]);
        check.protocol = HttpProtocol::Http10Close;
        let request = build(&check, &check.urls[0], v4());
        assert!(request.starts_with("GET / HTTP/1.0\r\n"));
        assert!(request.contains("\r\nConnection: close\r\nHost: "));
        check.protocol = HttpProtocol::Http11;
        let request = build(&check, &check.urls[0], v4());
        assert!(request.starts_with("GET / HTTP/1.1\r\n"));
        assert!(request.contains("\r\nConnection: close\r\nHost: "));
    }

    #[test]
    fn url_virtualhost_wins_over_the_checkers_and_carries_no_port() {
        let mut url = Url::new("/");
        let mut check = HttpCheck::new(vec![url.clone()]);
        check.virtualhost = Some("www.example.com".into());
        assert!(build(&check, &url, v4()).ends_with("\r\nHost: www.example.com\r\n\r\n"));
        url.virtualhost = Some("app.example.com".into());
        assert!(build(&check, &url, v4()).ends_with("\r\nHost: app.example.com\r\n\r\n"));
    }

    #[test]
    fn sni_only_when_enabled_and_sni_name_first() {
        let mut url = Url::new("/");
        url.virtualhost = Some("url.example.com".into());
        let mut check = HttpCheck::new(vec![url.clone()]);
        check.tls = true;
        check.virtualhost = Some("checker.example.com".into());
        assert_eq!(sni_name(&check, &url), None);
        check.enable_sni = true;
        assert_eq!(sni_name(&check, &url), Some("url.example.com"));
        check.sni_name = Some("sni.example.com".into());
        assert_eq!(sni_name(&check, &url), Some("sni.example.com"));
        check.sni_name = None;
        url.virtualhost = None;
        assert_eq!(sni_name(&check, &url), Some("checker.example.com"));
    }
}
